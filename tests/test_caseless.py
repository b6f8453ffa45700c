"""caseless(): the same matches over lowercased text, with escapes left as they were."""

from __future__ import annotations

import re

import pytest

from selfdistill.caseless import caseless

PATTERNS = [
    r"\bI meant\b(?! to (?:ask|say)\b)",
    r"^\W*(?:STILL|again)\s*[!.,:?]",
    r"\bNo Such File\b|\bEACCES\b",
    r"[A-Z]{2,}\d+\S*\B",
    r"(?<![.\w])Timeout(?:\b|Error)",
]
TEXTS = [
    "I MEANT the other one",
    "i meant to ask: why?",
    "STILL !",
    "  again, it fails",
    "ls: no such file or directory",
    "Error: EACCES: permission denied",
    "useAccessibility.ts",
    "ABC123xyz and TS2307:",
    "NodeJS.Timeout | null",
    "TimeoutError: 2000ms",
    "Не работает",  # noqa: RUF001
]


@pytest.mark.parametrize("source", PATTERNS)
def test_a_caseless_pattern_finds_what_the_case_blind_one_finds(source):
    blind = re.compile(source, re.I | re.M)
    lowered = caseless(blind)
    assert not lowered.flags & re.I and lowered.flags & re.M
    for text in TEXTS:
        expected = blind.search(text)
        found = lowered.search(text.lower())
        assert bool(found) == bool(expected), (source, text)
        assert not found or found.span() == expected.span()  # type: ignore[union-attr]


def test_a_case_sensitive_pattern_is_refused():
    with pytest.raises(ValueError, match="not a case-blind pattern"):
        caseless(re.compile(r"\b(?:NOT|NEVER)\b"))
