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
    if "<" not in text or "<private" not in text.lower():  # most texts: no lowercased copy
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


def nested_claude_run(env: dict[str, str] | None = None, proc: str = "/proc") -> bool:
    """Whether the Claude Code running this hook was itself started inside another one (a `claude
    -p` run from a tool call, a script or an agent harness): such runs are not the user's sessions.

    Claude Code gives its hooks CLAUDE_PID; a nested one has another process of the same program
    among its ancestors. Linux only (/proc); elsewhere nothing counts as nested.
    """
    pid = (env if env is not None else os.environ).get("CLAUDE_PID", "")
    if not pid.isdigit():
        return False
    program, parent = _comm_and_parent(proc, pid)
    for _ in range(64):  # bounded: a loop in /proc data must not hang the hook
        if program is None or parent in (None, "0", "1"):
            return False
        name, parent_of_parent = _comm_and_parent(proc, parent or "")
        if name == program:
            return True
        parent = parent_of_parent
    return False


def _comm_and_parent(proc: str, pid: str) -> tuple[str | None, str | None]:
    """A process's command name and parent pid, from /proc/PID/stat: `pid (comm) state ppid`."""
    try:
        with open(os.path.join(proc, pid, "stat"), encoding="utf-8", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return None, None
    start, end = stat.find("("), stat.rfind(")")
    fields = stat[end + 2 :].split()
    if start < 0 or end < start or len(fields) < 2:
        return None, None
    return stat[start + 1 : end], fields[1]
