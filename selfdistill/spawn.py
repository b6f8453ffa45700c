"""Start a distillation fully detached from the hook that asked for it.

Standard library only (hook hot path). `claude -p` kills its hooks' background work when it exits,
so the distiller gets its own session (and process group), no inherited descriptors and no
terminal; the hook returns at once. At most one distiller runs per project: when one is running,
or one was started moments ago, a `pending` file asks it to run again when it is done.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from pathlib import Path

from selfdistill.paths import ProjectState
from selfdistill.store import APPEND_WAIT_SECONDS, StoreBusy, store_lock

DEBOUNCE_SECONDS = 5.0
DEBOUNCE_ENV = "SELFDISTILL_DEBOUNCE_SECONDS"
INTERNAL_ENV = "SELFDISTILL_INTERNAL"


def pending_path(state: ProjectState) -> Path:
    return state.root / "pending"


def log_path(state: ProjectState) -> Path:
    return state.root / "distiller.log"


def run_lock_held(state: ProjectState) -> bool:
    """Whether a distiller holds state.run_lock (probed with a non-blocking flock)."""
    try:
        fd = os.open(state.run_lock, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also releases the probe's own lock
    return False


def debounce_seconds() -> float:
    try:
        return max(0.0, float(os.environ.get(DEBOUNCE_ENV, DEBOUNCE_SECONDS)))
    except ValueError:
        return DEBOUNCE_SECONDS


def _touch(path: Path) -> None:
    path.touch(mode=0o600)
    os.utime(path)


def _claim(state: ProjectState) -> str | None:
    """Under the store lock, so two Stop hooks at once cannot both decide to spawn."""
    try:
        with store_lock(state, APPEND_WAIT_SECONDS):
            return _decide(state)
    except StoreBusy:  # someone holds the store for long: leave a note rather than wait
        _touch(pending_path(state))
        return "pending"


def _decide(state: ProjectState) -> str | None:
    """None: go ahead (the stamp is touched); else why not."""
    if run_lock_held(state):
        _touch(pending_path(state))
        return "pending"
    try:
        age = time.time() - state.spawn_stamp.stat().st_mtime
    except FileNotFoundError:
        age = float("inf")
    if age < debounce_seconds():
        _touch(pending_path(state))
        return "debounced"
    _touch(state.spawn_stamp)
    return None


def default_argv(state: ProjectState) -> list[str]:
    return [sys.executable, "-m", "selfdistill", "run", "--project", str(state.project)]


def maybe_spawn(state: ProjectState, argv: list[str] | None = None) -> str:
    """Start the distiller unless one runs or has just started.

    Returns "spawned", "pending" (one is running) or "debounced" (one started moments ago).
    """
    refused = _claim(state)
    if refused:
        return refused
    import subprocess  # only Stop/SessionEnd pay for it

    log_fd = os.open(log_path(state), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        subprocess.Popen(
            argv or default_argv(state),
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            cwd=state.project if state.project.is_dir() else state.root,
            env={**os.environ, INTERNAL_ENV: "1"},
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(log_fd)
    return "spawned"
