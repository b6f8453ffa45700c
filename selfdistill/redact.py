"""Secret redaction (placeholder until the capture work lands). Standard library only."""


def redact_text(text: str) -> str:
    return text
