"""Atomic file writes: a temporary file in the same directory, fsync, then os.replace.

A reader (Claude Code, an editor, another selfdistill) sees either the old file or the new one,
never half of it. Standard library only, so any module may use it.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

# Bounded: if the file keeps changing under us this many times, somebody is busy with it.
MAX_ATTEMPTS = 5


def real_target(path: Path) -> Path:
    """Where a write to `path` must land: through symlinks (CLAUDE.md -> AGENTS.md stays a link)."""
    return Path(os.path.realpath(path))


def read_bytes(path: Path) -> bytes | None:
    """The file's bytes, or None when it does not exist."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _new_file_mode() -> int:
    # The mode a plain open() would give a new file: 0o666 minus the umask (read without changing).
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
    """Replace `path` with `data` atomically, keeping the existing file's mode (or `mode`)."""
    target = real_target(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        try:
            mode = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            mode = _new_file_mode()
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_dir(target.parent)


def remove_stale_temps(path: Path) -> None:
    """Delete the temporary files a killed writer of `path` left beside it (`.NAME.*.tmp`).

    Only while holding the lock that all writers of `path` take: a live writer's file would go too.
    """
    import glob  # only publishing pays for it

    for temp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            temp.unlink()


def replace_if_unchanged(path: Path, expected: bytes | None, data: bytes) -> bool:
    """Write `data` only if the file still holds `expected` (None: still absent).

    False means someone changed it since it was read: the caller re-reads and recomputes. A tiny
    window between this check and the rename remains; it is the best a plain file system offers.
    """
    if read_bytes(real_target(path)) != expected:
        return False
    write_atomic(path, data)
    return True


def remove_if_unchanged(path: Path, expected: bytes) -> bool:
    """Delete the file only if it still holds exactly `expected`."""
    if read_bytes(path) != expected:
        return False
    path.unlink()
    _fsync_dir(path.parent)
    return True


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not every platform lets a directory be opened.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
