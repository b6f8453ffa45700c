"""Console entry point. `selfdistill hook` runs on every tool call, so it must not pay for click,
jsonschema or anthropic: it is dispatched here before anything heavy is imported."""

import sys


def main() -> None:
    argv = sys.argv[1:]
    if argv[:1] == ["hook"] and not {"-h", "--help"} & set(argv):
        from selfdistill.hook import main as hook_main

        sys.exit(hook_main(argv[1:]))
    from selfdistill.cli import main as cli_main

    cli_main()
