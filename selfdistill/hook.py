"""The hook hot path (not built yet). Standard library only."""


def main(argv: list[str]) -> int:
    return 0
