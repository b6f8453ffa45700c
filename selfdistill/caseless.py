"""Case-blind searches that run at the speed of case-sensitive ones.

With re.IGNORECASE, every position of every search folds case. The judge and the failure
categories search each prompt or error with dozens of such patterns, so they compile each one
again in lower case, case-sensitive, and search the lowercased text once lowered: the same
matches in a little over half the time.
"""

from __future__ import annotations

import re

_ESCAPE_OR_TEXT = re.compile(r"\\.|[^\\]+", re.S)


def caseless(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """`pattern` (compiled with re.IGNORECASE) for text already lowercased."""
    if not pattern.flags & re.I:
        raise ValueError(f"not a case-blind pattern: {pattern.pattern[:60]!r}")
    # Escapes keep their case: \W is not \w.
    source = _ESCAPE_OR_TEXT.sub(
        lambda part: part[0] if part[0].startswith("\\") else part[0].lower(), pattern.pattern
    )
    return re.compile(source, pattern.flags & ~re.I)
