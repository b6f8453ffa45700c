"""Keeping things out of capture: `<private>...</private>` spans and ignored paths.

Standard library only, and cheap when there is nothing to do (hook hot path): no `re` or `fnmatch`
import unless a text holds `<private` or an ignore pattern exists.

- `strip_private(text)`: every `<private>...</private>` span (any case, across lines; an unclosed
  one runs to the end of the text) becomes `[PRIVATE]`.
- `ignored(path)`: whether `path` (a project directory or a cwd) matches an ignore pattern, from
  SELFDISTILL_IGNORE (patterns separated by os.pathsep) or `$SELFDISTILL_HOME/ignore` (one
  pattern a line, `#` comments). A pattern is a glob on the absolute path; a pattern also covers
  everything under the directories it matches. `~` is expanded.
"""

from __future__ import annotations

import os

PRIVATE_MARK = "[PRIVATE]"
IGNORE_ENV = "SELFDISTILL_IGNORE"
IGNORE_FILE = "ignore"
_PRIVATE = r"(?is)<private>.*?(?:</private>|\Z)"


def strip_private(text: str) -> str:
    if "<private" not in text.lower():
        return text
    import re

    return re.sub(_PRIVATE, PRIVATE_MARK, text)


def ignore_patterns(home: str | None = None) -> list[str]:
    """The patterns from the environment and from the ignore file, `~` expanded."""
    found = [p for p in os.environ.get(IGNORE_ENV, "").split(os.pathsep) if p.strip()]
    base = home if home is not None else _state_home()
    try:
        with open(os.path.join(base, IGNORE_FILE), encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        lines = []
    found += [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return [os.path.expanduser(pattern.strip()) for pattern in found]


def ignored(path: str, patterns: list[str] | None = None) -> bool:
    """Whether `path` or a directory above it matches one of the patterns."""
    chosen = ignore_patterns() if patterns is None else patterns
    if not chosen or not path:
        return False
    from fnmatch import fnmatchcase

    path = os.path.abspath(path)
    candidates = [path]
    while os.path.dirname(candidates[-1]) != candidates[-1]:
        candidates.append(os.path.dirname(candidates[-1]))
    return any(
        fnmatchcase(candidate, pattern.rstrip("/") or "/")
        for pattern in chosen
        for candidate in candidates
    )


def _state_home() -> str:
    from selfdistill.paths import state_home_dir

    return state_home_dir()
