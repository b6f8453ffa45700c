"""Per-run journal of what was written back, and rollback.

`<journal>/<run id>.json` lists, per file a run changed, what our part of it was before and after:
the CLAUDE.md block (not the whole file, so a rollback keeps the user's later edits outside it)
or the whole SKILL.md. Bytes are stored as text with surrogate escapes, so nothing is lost even
when a file is not valid UTF-8.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from selfdistill import claudemd, skills
from selfdistill.atomic import (
    MAX_ATTEMPTS,
    cannot_write,
    read_bytes,
    remove_if_unchanged,
    replace_if_unchanged,
    write_atomic,
)
from selfdistill.errors import StateError, UserError
from selfdistill.paths import ProjectState
from selfdistill.runs import folded_away

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}$")
LOCK_TIMEOUT = 30.0
# Journal ids of writes that follow a decision (`lessons approve/reject`, a rollback): they
# mirror the lesson store, so undoing one would only bring back what the user decided against.
DECISION_PREFIX = "decision-"


@dataclass(frozen=True)
class Entry:
    """One change a run made. kind: "claude_md" (before/after are the block) or "skill"."""

    kind: str
    path: str
    before: str | None
    after: str | None
    separator: str = ""  # claude_md: bytes added before a new block, taken away with it
    trailer: str = ""  # claude_md: line ending added after a block that ended the file
    # claude_md: the end of the user's last line when a separator was added after it (up to
    # claudemd.TAIL_BYTES). The separator is ours only right after it: after a line the user
    # added below it since, that line ending is theirs.
    tail: str | None = None
    created_file: bool = False
    deleted_file: bool = False  # claude_md: taking the block out left nothing, so the file went
    lesson: str | None = None  # skill: the lesson it was written for
    name: str | None = None  # skill: its name


@dataclass(frozen=True)
class Origin:
    """How the block in a file came in: what held its place before (None: nothing, it was
    appended), and what we added with it: a separator, a trailer, the file itself."""

    before: bytes | None
    separator: bytes
    trailer: bytes
    created_file: bool
    tail: bytes | None = None  # see Entry.tail


@dataclass(frozen=True)
class RollbackResult:
    run_id: str
    restored: tuple[str, ...]
    kept: tuple[tuple[str, str], ...]  # (path, why it was left as it is)
    lessons: tuple[str, ...] = ()  # the lessons the run had put in, which the rollback took out


def encode(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8", "surrogateescape")


def decode(text: str | None) -> bytes | None:
    return None if text is None else text.encode("utf-8", "surrogateescape")


def registry_path(state: ProjectState) -> Path:
    # Starts with a dot: no run id can, so it never shows up as a run.
    return state.journal / ".skills.json"


@contextlib.contextmanager
def locked(state: ProjectState) -> Iterator[None]:
    """One publish or rollback at a time per project."""
    state.journal.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock = FileLock(str(state.journal / ".lock"), timeout=LOCK_TIMEOUT, mode=0o600)
    try:
        lock.acquire()
    except Timeout as error:
        raise StateError(f"another publish or rollback holds {lock.lock_file}") from error
    try:
        yield
    finally:
        lock.release()


def run_path(state: ProjectState, run_id: str) -> Path:
    if not RUN_ID.match(run_id):
        raise UserError(f"not a run id: {run_id!r}")
    return state.journal / f"{run_id}.json"


def _load(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_bytes())
    except (OSError, ValueError) as error:
        raise StateError(f"cannot read the journal {path}: {error}") from error
    return data


def _save(path: Path, record: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(record, indent=1).encode("utf-8"), mode=0o600)


def record(state: ProjectState, run_id: str, entry: Entry) -> None:
    """Add one change to the run's journal (created on its first change)."""
    path = run_path(state, run_id)
    fresh: dict[str, Any] = {"run": run_id, "at": time.time_ns(), "entries": []}
    current = _load(path) if path.exists() else fresh
    current["entries"].append(asdict(entry))
    _save(path, current)


def runs(state: ProjectState) -> list[dict[str, Any]]:
    """Every journaled run, oldest first."""
    if not state.journal.is_dir():
        return []
    found = [_load(path) for path in state.journal.glob("*.json") if not path.name.startswith(".")]
    return sorted(found, key=lambda item: (item.get("at", 0), item.get("run", "")))


def _pick(state: ProjectState, run_id: str | None) -> tuple[Path, dict[str, Any]]:
    if run_id is None:
        pending = _undoable(state)
        if not pending:
            raise UserError(f"nothing to roll back: {_why_nothing(state)}")
        run_id = pending[-1]
    if run_id.startswith(DECISION_PREFIX):
        raise UserError(
            f"{run_id} wrote your decision on a lesson, not a run; decide again with "
            "`selfdistill lessons approve ID` or `selfdistill lessons reject ID`"
        )
    path = run_path(state, run_id)
    if not path.exists():
        if (state.runs / f"{run_id}.json").exists():
            raise UserError(f"run {run_id} wrote nothing back; nothing to roll back")
        if folded_away(state, run_id):
            raise UserError(
                f"no run {run_id} wrote anything back here: a run that did keeps its journal "
                "(older runs that wrote nothing are only counted, in the runs archive)"
            )
        raise UserError(f"unknown run id {run_id!r}; {_recent(state)}")
    current = _load(path)
    if current.get("rolledBackAt"):
        raise UserError(f"run {run_id} was already rolled back")
    return path, current


def _undoable(state: ProjectState) -> list[str]:
    """The ids of the runs that wrote something and can still be rolled back, oldest first."""
    return [
        str(item["run"])
        for item in runs(state)
        if item["entries"]
        and not item.get("rolledBackAt")
        and not str(item["run"]).startswith(DECISION_PREFIX)
    ]


def _recent(state: ProjectState, shown: int = 3) -> str:
    """The runs one can roll back, newest last, for a message."""
    ids = _undoable(state)
    if not ids:
        return _why_nothing(state)
    last = f"the last {shown} " if len(ids) > shown else ""
    return f"{last}runs that wrote here and can be rolled back: " + ", ".join(ids[-shown:])


def _why_nothing(state: ProjectState) -> str:
    """Why no run can be rolled back, for a message."""
    wrote = [item for item in runs(state) if item["entries"]]
    if any(str(item["run"]).startswith(DECISION_PREFIX) for item in wrote):
        return (
            "what is left came from your decisions (`selfdistill lessons approve` or `reject`), "
            "not from a run; decide again to change it (`lessons reject ID` takes a lesson out)"
        )
    if wrote:
        return "every run that wrote to this project has been rolled back"
    return "no run has written to this project"


def rollback_run(state: ProjectState, run_id: str | None) -> RollbackResult:
    """Undo one run's changes (the last one that wrote anything when run_id is None)."""
    with locked(state):
        path, current = _pick(state, run_id)
        restored: list[str] = []
        kept: list[tuple[str, str]] = []
        registry = skills.load_registry(registry_path(state))
        for raw in reversed(current["entries"]):
            entry = Entry(**raw)
            if entry.kind == "skill":
                problem, registry = _undo_skill(entry, registry)
            else:
                problem = _undo_block(entry)
            if problem:
                kept.append((entry.path, problem))
            elif entry.path not in restored:
                restored.append(entry.path)
        skills.save_registry(registry_path(state), registry)
        current["rolledBackAt"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        current["rollback"] = {"restored": restored, "kept": [list(item) for item in kept]}
        _save(path, current)
        added = _lessons_added([Entry(**raw) for raw in current["entries"]])
        return RollbackResult(str(current["run"]), tuple(restored), tuple(kept), added)


def _lessons_added(entries: list[Entry]) -> tuple[str, ...]:
    """The lessons a run put in: lines new in its CLAUDE.md block, skills it created."""
    added: list[str] = []
    for entry in entries:
        if entry.kind == "skill" and entry.before is None and entry.lesson:
            added.append(entry.lesson)
        elif entry.kind == "claude_md":
            before = claudemd.block_ids(decode(entry.before) or b"")
            added += [x for x in claudemd.block_ids(decode(entry.after) or b"") if x not in before]
    return tuple(dict.fromkeys(added))


def rollback(state: ProjectState, run_id: str | None) -> tuple[str, ...]:
    """Undo a run; the paths restored."""
    return rollback_run(state, run_id).restored


def block_origin(state: ProjectState, path: str) -> Origin | None:
    """How the block now in `path` came in, read back from the journal, newest entry first.

    None when the journal does not say: the block was taken out since (by a publish or by a
    rollback), so the one there now is the user's, or selfdistill never wrote to the file.
    """
    trailer = b""
    oldest: Entry | None = None
    for run in reversed(runs(state)):
        undone = bool(run.get("rolledBackAt"))
        for entry in (Entry(**raw) for raw in reversed(run["entries"])):
            if entry.kind != "claude_md" or entry.path != path:
                continue
            if (entry.after is None and not undone) or (entry.before is None and undone):
                return None
            trailer = trailer or (decode(entry.trailer) or b"")  # the newest one added is there
            if entry.before is None:
                separator = decode(entry.separator) or b""
                return Origin(None, separator, trailer, entry.created_file, decode(entry.tail))
            oldest = entry
    if oldest is None:
        return None
    return Origin(decode(oldest.before), b"", trailer, False)  # markers the user had placed


def _undo_block(entry: Entry) -> str | None:
    path = Path(entry.path)
    for _ in range(MAX_ATTEMPTS):
        data = read_bytes(path)
        if data is None and not entry.deleted_file:
            return "the file is gone; nothing to restore into"
        try:
            if entry.after is not None and claudemd.split(data or b"").region is None:
                # The block this run wrote was taken out since (no lesson was left active): what
                # it held before is no more wanted now than what it put in.
                return "its block was taken out since; nothing of this run's to undo"
            new = claudemd.restore(
                data or b"",
                decode(entry.before),
                decode(entry.separator) or b"",
                decode(entry.trailer) or b"",
                decode(entry.tail),
            )
            if _put(path, data, new, entry.created_file):
                return None
        except claudemd.MalformedBlock as error:
            return str(error)
        except OSError as error:
            return str(cannot_write(path, error))
    return "the file kept changing while restoring it"


def _put(path: Path, data: bytes | None, new: bytes, created_file: bool) -> bool:
    """Write `new` over `data`, or delete a file we created left empty; False: it changed."""
    if created_file and not new:
        return data is None or remove_if_unchanged(path, data)
    return new == data or replace_if_unchanged(path, data, new)


def _undo_skill(entry: Entry, registry: skills.Registry) -> tuple[str | None, skills.Registry]:
    path = Path(entry.path)
    after, before = decode(entry.after), decode(entry.before)
    current = read_bytes(path)
    if current != after:
        return ("gone since that run" if current is None else "changed since that run"), registry
    try:
        done = _put_skill(path, before, after)
    except OSError as error:
        return str(cannot_write(path, error)), registry
    if not done:
        return "changed while restoring it", registry
    owned = dict(registry.owned)
    name = entry.name or path.parent.name
    if before is None:
        owned.pop(name, None)
    else:
        owned[name] = skills.Owned(entry.lesson or "", skills.digest(before))
    return None, skills.Registry(owned, registry.released)


def _put_skill(path: Path, before: bytes | None, after: bytes | None) -> bool:
    if after is None:
        return before is None or replace_if_unchanged(path, None, before)
    if before is None:
        done = remove_if_unchanged(path, after)
        with contextlib.suppress(OSError):
            path.parent.rmdir()  # only if empty: anything else in it is not ours to delete
        return done
    return replace_if_unchanged(path, after, before)
