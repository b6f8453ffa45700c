"""Atomic file writes: a temporary file in the same directory, fsync, then os.replace.

A reader (Claude Code, an editor, another selfdistill) sees either the old file or the new one,
never half of it. Standard library only, so any module may use it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

# Bounded: if the file keeps changing under us this many times, somebody is busy with it.
MAX_ATTEMPTS = 5
# Failures that come from where a file sits, not from what is written.
_DENIED = (errno.EACCES, errno.EPERM, errno.EROFS)
_FULL = (errno.ENOSPC, errno.EDQUOT)


class CannotWrite(OSError):
    """A file that could not be written, said of that file: never of our temporary file."""

    def __init__(self, path: Path, reason: str, code: int | None = None) -> None:
        self.message = f"cannot write {path}: {reason}"
        super().__init__(code, self.message)

    def __str__(self) -> str:
        return self.message


def _reason(error: OSError, in_folder: bool) -> str:
    """Why, in words about the user's file; the system's own words follow in parentheses."""
    words = (error.strerror or str(error)).lower()
    if error.errno in _DENIED:
        where = "the folder is not writable" if in_folder else "the file cannot be replaced"
        return f"{where} ({words})"
    if error.errno in _FULL:
        return f"the disk is full ({words})"
    return words


def cannot_write(path: Path, error: OSError) -> CannotWrite:
    """`error`, raised while writing `path`, as a one-line message that names `path`."""
    if isinstance(error, CannotWrite):
        return error
    return CannotWrite(path, _reason(error, in_folder=False), error.errno)


def check_writable(path: Path) -> None:
    """Refuse a file its owner made read-only: a rename would replace it all the same.

    The mode bits are read, not tried: root may write anything, and would.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    if not mode & stat.S_IWUSR:
        raise CannotWrite(path, "it is read-only (no write permission); left alone")


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
    if mode is None:
        try:
            mode = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            mode = _new_file_mode()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as error:  # the temporary file is ours: say what it means for the user's
        raise CannotWrite(target, _reason(error, in_folder=True), error.errno) from error
    try:
        _fill(fd, data)
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(error, OSError):
            raise cannot_write(target, error) from error
        raise
    _fsync_dir(target.parent)


def _fill(fd: int, data: bytes) -> None:
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


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
    check_writable(real_target(path))
    write_atomic(path, data)
    return True


def remove_if_unchanged(path: Path, expected: bytes) -> bool:
    """Delete the file only if it still holds exactly `expected` (and may be written)."""
    if read_bytes(path) != expected:
        return False
    check_writable(path)
    try:
        path.unlink()
    except OSError as error:  # deleting is up to the folder, as creating the temporary file is
        raise CannotWrite(path, _reason(error, in_folder=True), error.errno) from error
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
