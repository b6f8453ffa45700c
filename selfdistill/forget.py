"""Forget a project: remove everything selfdistill keeps for it, and nothing of the project's.

The state directory (observations, lessons, runs, journal, install record, locks) is first renamed
aside under the run lock and the store lock, so a hook appending at that moment either lands before
the rename (and goes with it) or starts a fresh, empty state afterwards; it is never half-deleted.
Then the renamed directory is deleted. CLAUDE.md and skills are project files: left as they are.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import filelock

from selfdistill import store
from selfdistill.errors import StateError, UserError
from selfdistill.paths import ProjectState

TOMBSTONE_PREFIX = ".forget-"


@dataclass(frozen=True)
class Forgotten:
    project: str
    state_dir: str
    removed: bool  # False: nothing was stored for the project
    files: int  # files deleted


def count_files(root: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(root))


def forget(state: ProjectState) -> Forgotten:
    """Delete the project's state directory; UserError while a distillation is running."""
    if not state.root.is_dir():
        return Forgotten(str(state.project), str(state.root), False, 0)
    tombstone = state.root.with_name(f"{TOMBSTONE_PREFIX}{state.root.name}-{secrets.token_hex(4)}")
    try:
        run_lock = filelock.FileLock(str(state.run_lock), timeout=0, mode=0o600)
        with run_lock, store.store_lock(state, wait=10):
            files = count_files(state.root)
            os.rename(state.root, tombstone)
    except filelock.Timeout:
        raise UserError(
            "a distillation is running for this project; run `selfdistill forget` again when "
            "it has finished (see `selfdistill status`)"
        ) from None
    except store.StoreBusy:
        raise UserError("the observation store stayed busy; try again in a moment") from None
    except OSError as error:
        raise StateError(f"cannot remove {state.root}: {error.strerror or error}") from None
    remove_tree(tombstone)
    return Forgotten(str(state.project), str(state.root), True, files)


def remove_tree(root: Path) -> None:
    try:
        shutil.rmtree(root)
    except OSError as error:
        raise StateError(
            f"the state was set aside as {root} but could not be deleted: "
            f"{error.strerror or error}; delete that directory by hand"
        ) from None
