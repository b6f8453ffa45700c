"""Our git post-commit hook: install it (chaining any hook already there) and remove it again.

A hook that is not ours is never edited or deleted: it is moved aside under a name nobody uses yet
(`post-commit.legacy`, else `post-commit.legacy.N`), our script remembers that name and runs it
first, and uninstall moves it back (same file, so the same bytes and mode).
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from selfdistill.atomic import write_atomic
from selfdistill.errors import FatalError
from selfdistill.resources import data_path

HOOK_NAME = "post-commit"
MARKER = "selfdistill-hook-id: 7c1e4b2a-selfdistill-post-commit"
_LEGACY_LINE = re.compile(r"^legacy_name=(.*)$", re.MULTILINE)
_HOOK_MODE = 0o755


@dataclass(frozen=True)
class GitHookChange:
    """What install or uninstall did to one hooks directory."""

    hook: Path
    action: str  # installed | updated | unchanged | removed | restored | absent | foreign | kept
    legacy: str | None = None  # the chained hook's file name, when there is one
    users: tuple[Path, ...] = ()  # kept: the other projects whose commits still run it


def render_hook(command: str, legacy: str | None) -> str:
    """Our hook script: `command` is the shell-quoted selfdistill invocation."""
    template = data_path("hooks", HOOK_NAME).read_text(encoding="utf-8")
    return template.replace("@LEGACY_NAME@", shlex.quote(legacy or "")).replace(
        "@SELFDISTILL@", command
    )


def is_ours(path: Path) -> bool:
    try:
        return MARKER in path.read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, IsADirectoryError):
        return False


def chained_name(path: Path) -> str | None:
    """The legacy hook name our script at `path` remembers, or None."""
    found = _LEGACY_LINE.search(path.read_text(encoding="utf-8", errors="replace"))
    if not found:
        return None
    words = shlex.split(found.group(1))
    return words[0] if words and words[0] else None


def install_git_hook(hooks: Path, command: str) -> GitHookChange:
    hook = hooks / HOOK_NAME
    try:
        hooks.mkdir(parents=True, exist_ok=True)
        if is_ours(hook):
            return _refresh(hook, command)
        legacy = _move_aside(hook) if os.path.lexists(hook) else None
        write_atomic(hook, render_hook(command, legacy).encode(), _HOOK_MODE)
    except OSError as error:
        raise FatalError(f"cannot install the git hook in {hooks}: {error}") from error
    return GitHookChange(hook, "installed", legacy)


def uninstall_git_hook(hooks: Path) -> GitHookChange:
    hook = hooks / HOOK_NAME
    if not os.path.lexists(hook):
        return GitHookChange(hook, "absent")
    if not is_ours(hook):
        return GitHookChange(hook, "foreign")
    legacy = chained_name(hook)
    try:
        if legacy and os.path.lexists(hooks / legacy):
            os.replace(hooks / legacy, hook)  # the user's own file again: bytes, mode, inode
            return GitHookChange(hook, "restored", legacy)
        hook.unlink()
    except OSError as error:
        raise FatalError(f"cannot remove the git hook {hook}: {error}") from error
    return GitHookChange(hook, "removed")


def _refresh(hook: Path, command: str) -> GitHookChange:
    """Ours already: rewritten only if the command or the template changed, so a second
    install is a no-op."""
    legacy = chained_name(hook)
    wanted = render_hook(command, legacy)
    if hook.read_text(encoding="utf-8", errors="replace") == wanted:
        return GitHookChange(hook, "unchanged", legacy)
    write_atomic(hook, wanted.encode(), _HOOK_MODE)
    return GitHookChange(hook, "updated", legacy)


def _move_aside(hook: Path) -> str:
    """Give the foreign hook a fresh `.legacy` name without ever replacing an existing file."""
    for index in range(1000):
        name = f"{HOOK_NAME}.legacy" + (f".{index}" if index else "")
        target = hook.with_name(name)
        if os.path.lexists(target):
            continue
        try:
            # A hard link fails when the name is taken, so no earlier backup can be overwritten;
            # our script then replaces the original name atomically, so a hook is always there.
            os.link(hook, target, follow_symlinks=False)
        except FileExistsError:
            continue
        except OSError:  # no hard links on this file system: a plain rename, checked just above
            os.rename(hook, target)
        return name
    raise FatalError(f"too many {HOOK_NAME}.legacy files in {hook.parent}")
