"""Which projects use which git hooks folder.

One hooks folder can serve many projects: a global `core.hooksPath`, or the worktrees of one
repository. So uninstalling from one project must leave the hook in place while other projects
still use it, and the hook, which fires in every repository that uses the folder, must record
commits only in the projects where selfdistill was installed.

The record is `git-hooks.json` in SELFDISTILL_HOME: `{"hooks": {"<folder>": ["<project>", ...]}}`.
Paths are stored resolved (symlinks followed), since git and the shell may name the same place
differently. Changes are made under a file lock and written atomically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from selfdistill.atomic import write_atomic
from selfdistill.errors import FatalError
from selfdistill.paths import state_home_dir

FILE_NAME = "git-hooks.json"
LOCK_WAIT_S = 10

Users = dict[str, list[str]]


def record_path() -> Path:
    return Path(state_home_dir()) / FILE_NAME


@contextmanager
def changing() -> Iterator[Users]:
    """The record, to change under its lock; written back (atomically) if it changed.

    Callers change the hook file inside the same block, so that two installs or uninstalls
    running at once never see each other's half-done work.
    """
    with _locked():
        users = _read()
        before = {folder: list(listed) for folder, listed in users.items()}
        yield users
        if users != before:
            _write(users)


def add(users: Users, hooks: Path, project: Path) -> None:
    """Note that `project`'s commits go through the hook in `hooks`."""
    listed = users.setdefault(_key(hooks), [])
    if _key(project) not in listed:
        listed.append(_key(project))


def remove(
    users: Users, hooks: Path, project: Path, still_uses: Callable[[Path], bool]
) -> tuple[Path, ...]:
    """Take `project` off `hooks`' list; return the other projects that `still_uses` keeps.

    Projects that no longer use the folder (deleted, or moved to another hooks path) are dropped
    from the record on the way, so a stale entry never keeps a hook alive.
    """
    folder, leaving = _key(hooks), _key(project)
    others = [p for p in users.get(folder, []) if p != leaving and still_uses(Path(p))]
    if others:
        users[folder] = others
    else:
        users.pop(folder, None)
    return tuple(Path(p) for p in others)


def folders_of(project: Path) -> tuple[Path, ...]:
    """The hooks folders whose list holds `project`: where install put a git hook for it."""
    wanted = _key(project)
    return tuple(Path(folder) for folder, listed in _read().items() if wanted in listed)


def is_registered(project: str) -> bool:
    """Whether any hooks folder lists `project` (read by the git hook: standard library only)."""
    try:
        users = _read()
    except FatalError:  # a broken record lists nobody; install or doctor say what is wrong
        return False
    wanted = _key(project)
    return any(wanted in listed for listed in users.values())


def records_commits(project: str) -> bool:
    """Whether the git hook should record a commit made in `project`.

    Yes when the project is on a list, and also when its Claude Code settings run selfdistill's
    hooks: a new worktree of an installed repository carries the tracked settings file, and its
    sessions are recorded, so its commits belong with them.
    """
    if is_registered(project):
        return True
    from selfdistill import settings  # only now: most commits are answered by the list

    path = Path(project) / ".claude" / "settings.json"
    try:
        return settings.has_ours(settings.parse(path.read_text(encoding="utf-8"), path))
    except (OSError, UnicodeDecodeError, FatalError):
        return False


def _key(path: Path | str) -> str:
    return os.path.realpath(path)


def _read() -> Users:
    try:
        raw = json.loads(record_path().read_text(encoding="utf-8")).get("hooks", {})
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, AttributeError) as error:
        raise FatalError(f"cannot read {record_path()}: {error}; fix or delete it") from error
    if not isinstance(raw, dict):
        raise FatalError(f"{record_path()} is not a record of git hook users; fix or delete it")
    return {str(k): [str(p) for p in v] for k, v in raw.items() if isinstance(v, list)}


def _write(users: Users) -> None:
    body = json.dumps({"hooks": users}, indent=2, sort_keys=True) + "\n"
    try:
        write_atomic(record_path(), body.encode("utf-8"), mode=0o600)
    except OSError as error:
        raise FatalError(f"cannot write {record_path()}: {error.strerror}") from error


@contextmanager
def _locked() -> Iterator[None]:
    import filelock  # here: the git hook imports this module only for is_registered

    path = record_path()
    lock = filelock.FileLock(f"{path}.lock", timeout=LOCK_WAIT_S, mode=0o600)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock.acquire()
    except filelock.Timeout as error:
        raise FatalError(f"{path} is locked by another selfdistill; try again") from error
    except OSError as error:
        raise FatalError(f"cannot lock {path}: {error.strerror}") from error
    try:
        yield
    finally:
        lock.release()
