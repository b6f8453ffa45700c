"""The per-project observation store: append-only JSONL segments under one file lock.

Standard library only (hook hot path). Layout, under ProjectState.observations:
    obs-000001.jsonl, obs-000002.jsonl, ...   one observation per line, oldest segment first
An observation's id is "<segment>:<offset>", the byte position where its line starts, so ids are
unique and stable. Every append holds an exclusive flock on state.store_lock: the same lock that
`filelock.FileLock(state.store_lock)` takes, so the distiller can guard reads with either.

Rotation: once the active segment reaches the segment size, the next append starts a new one.
Cap: when a new segment starts and the store holds more than the cap, the oldest segments go;
how many observations were lost is kept in dropped.json (and logged), never lost silently.
Readers skip torn or invalid lines (and log them); nothing here is fatal to the hook.
A hook waits a few seconds at most for the lock: past that its observation is counted as lost
(and logged) rather than keeping the agent waiting. Hold the lock briefly when reading.
"""

from __future__ import annotations

import fcntl
import os
import time

from selfdistill import jsonfast, paths
from selfdistill.capture import encode, now_iso
from selfdistill.logs import log_error

TYPE_CHECKING = False  # importing typing costs milliseconds on every hook run
if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
    from types import TracebackType
    from typing import Any, NamedTuple

    from selfdistill.paths import ProjectState

SEGMENT_BYTES = 8 * 1024 * 1024
CAP_BYTES = 128 * 1024 * 1024
SEGMENT_ENV = "SELFDISTILL_SEGMENT_BYTES"
CAP_ENV = "SELFDISTILL_STORE_CAP_BYTES"
# A hook waits at most this long for the lock (Claude Code kills hooks after their timeout, 10 s
# in our registration); past it the observation is given up and counted as lost.
APPEND_WAIT_SECONDS = 5.0
APPEND_WAIT_ENV = "SELFDISTILL_LOCK_WAIT_SECONDS"
PREFIX, SUFFIX = "obs-", ".jsonl"


if TYPE_CHECKING:

    class Watermark(NamedTuple):
        """A position in the store: just after the last processed record."""

        segment: int
        offset: int

else:  # the same tuple at run time, without importing typing or collections on the hot path

    class Watermark(tuple):  # a plain tuple with names, as NamedTuple's are
        """A position in the store: just after the last processed record."""

        __slots__ = ()
        _fields = ("segment", "offset")

        def __new__(cls, segment, offset):
            return tuple.__new__(cls, (segment, offset))

        segment = property(lambda self: self[0], doc="segment number")
        offset = property(lambda self: self[1], doc="byte offset in the segment")

        def _asdict(self):
            return {"segment": self[0], "offset": self[1]}

        def __repr__(self):
            return f"Watermark(segment={self[0]!r}, offset={self[1]!r})"

        def __getnewargs__(self):
            return tuple(self)


def _env_int(name: str, default: int) -> int:
    try:
        value = int(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if value > 0 else default


def _env_seconds(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if value >= 0 else default


class StoreBusy(TimeoutError):
    """The store lock stayed held longer than the caller could wait."""


DROPPED = "dropped.json"
LOST = "lost-on-busy-lock"


def dropped_path(state: ProjectState) -> Path:
    return state.root / DROPPED


def lost_path(state: ProjectState) -> Path:
    """One byte appended per observation given up on a busy lock: counting needs no lock."""
    return state.root / LOST


def ensure_state(state: ProjectState) -> None:
    """Create the state directories (0700) and, the first time, project.json."""
    observations, meta_file = state.file(paths.OBSERVATIONS), state.file(paths.META)
    if os.path.isdir(observations) and os.path.exists(meta_file):
        return
    projects = os.path.dirname(state.root_dir)
    home = os.path.dirname(projects)
    os.makedirs(home, 0o700, exist_ok=True)  # SELFDISTILL_HOME's parents may not exist yet
    for directory in (projects, state.root_dir, observations):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:  # contextlib.suppress would cost the hook its import
            continue
    meta = {"project": state.project_dir, "createdAt": now_iso()}
    try:
        fd = os.open(meta_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    text = jsonfast.dumps(meta, ensure_ascii=False, separators=(", ", ": "))
    try:
        os.write(fd, (text + "\n").encode("utf-8", "replace"))
    finally:
        os.close(fd)


def _flock(fd: int, wait: float | None) -> None:
    """Exclusive flock; with `wait`, polled (backing off) and StoreBusy once it has passed."""
    if wait is None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return
    deadline, pause = time.monotonic() + wait, 0.001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise StoreBusy(f"store lock held for more than {wait} s") from None
            time.sleep(pause)
            pause = min(pause * 2, 0.05)


class store_lock:  # a class named like the function it replaced: `with store_lock(state):`
    """Hold the store's exclusive lock (fcntl.flock on state.store_lock).

    Without `wait` it waits as long as it takes; with it, StoreBusy after `wait` seconds.
    A class rather than a contextlib generator: contextlib costs the hook milliseconds to import.
    """

    def __init__(self, state: ProjectState, wait: float | None = None) -> None:
        self.state, self.wait, self.fd = state, wait, -1

    def __enter__(self) -> None:
        ensure_state(self.state)
        self.fd = os.open(self.state.file(paths.STORE_LOCK), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _flock(self.fd, self.wait)
        except BaseException:
            os.close(self.fd)
            raise

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        os.close(self.fd)  # closing the descriptor releases the flock


def _segment_files(state: ProjectState) -> list[tuple[int, str]]:
    """(number, path) of every segment, oldest first, as strings."""
    found: list[tuple[int, str]] = []
    directory = state.file(paths.OBSERVATIONS)
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    for name in names:
        number = name[len(PREFIX) : -len(SUFFIX)]
        if name.startswith(PREFIX) and name.endswith(SUFFIX) and number.isdigit():
            found.append((int(number), os.path.join(directory, name)))
    return sorted(found)


def segments(state: ProjectState) -> list[tuple[int, Path]]:
    """(number, path) of every segment, oldest first."""
    from pathlib import Path

    return [(number, Path(path)) for number, path in _segment_files(state)]


def _segment_file(state: ProjectState, number: int) -> str:
    return os.path.join(state.file(paths.OBSERVATIONS), f"{PREFIX}{number:06d}{SUFFIX}")


def segment_path(state: ProjectState, number: int) -> Path:
    from pathlib import Path

    return Path(_segment_file(state, number))


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def _active_segment(state: ProjectState) -> int:
    """The segment to append to, starting a new one (and applying the cap) when full."""
    existing = _segment_files(state)
    if not existing:
        return 1
    number, path = existing[-1]
    if _size(path) < _env_int(SEGMENT_ENV, SEGMENT_BYTES):
        return number
    _apply_cap(state, existing)
    return number + 1


def _apply_cap(state: ProjectState, existing: list[tuple[int, str]]) -> None:
    """Drop the oldest segments while the store is over the cap; record what was lost."""
    sizes = [_size(path) for _, path in existing]
    total, cap = sum(sizes), _env_int(CAP_ENV, CAP_BYTES)
    lost = dropped_segments = 0
    for (_, path), size in zip(existing, sizes, strict=True):
        if total <= cap:
            break
        try:
            with open(path, "rb") as segment:
                lost += segment.read().count(b"\n")
            os.unlink(path)
        except OSError as error:
            log_error(f"observation store: cannot drop {path}", repr(error), state.project_dir)
            break
        total -= size
        dropped_segments += 1
    if dropped_segments:
        _record_loss(state, lost, dropped_segments)


def _record_loss(state: ProjectState, lost: int, dropped_segments: int) -> None:
    before = _read_dropped_file(state)
    info = {
        "droppedObservations": before.get("droppedObservations", 0) + lost,
        "droppedSegments": before.get("droppedSegments", 0) + dropped_segments,
        "lastDroppedAt": now_iso(),
    }
    tmp = dropped_path(state).with_suffix(f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(jsonfast.dumps(info, separators=(", ", ": ")) + "\n")
    os.replace(tmp, dropped_path(state))
    log_error(
        f"observation store: over the size cap, dropped {lost} observations "
        f"({dropped_segments} oldest segments)",
        project=state.project_dir,
    )


def _read_dropped_file(state: ProjectState) -> dict[str, int]:
    try:
        data = jsonfast.loads(dropped_path(state).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, int) and not isinstance(v, bool)}


def read_dropped(state: ProjectState) -> dict[str, int]:
    """What was lost so far: {droppedObservations, droppedSegments, lostOnBusyLock}.

    droppedObservations counts both the cap's drops and the observations given up on a busy lock.
    """
    counts = _read_dropped_file(state)
    try:
        busy = lost_path(state).stat().st_size
    except OSError:
        busy = 0
    if busy:
        counts["lostOnBusyLock"] = busy
        counts["droppedObservations"] = counts.get("droppedObservations", 0) + busy
    return counts


def _write_all(fd: int, data: bytes) -> None:
    """One os.write in practice; a short write (disk full, signal) continues where it stopped."""
    while data:
        written = os.write(fd, data)
        data = data[written:]


def append(state: ProjectState, record: dict[str, Any]) -> str:
    """Append one observation (given without id) and return its id.

    A hook must never hang the agent: if the lock stays busy too long, the observation is given
    up, counted (see lost_path) and logged, and StoreBusy is raised.
    """
    wait = _env_seconds(APPEND_WAIT_ENV, APPEND_WAIT_SECONDS)
    try:
        return _append_locked(state, record, wait)
    except StoreBusy:
        fd = os.open(state.file(LOST), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, b".")
        finally:
            os.close(fd)
        log_error(
            f"observation store: lock busy for {wait} s,"
            f" one {record.get('event')} observation lost",
            project=state.project_dir,
        )
        raise


def _append_locked(state: ProjectState, record: dict[str, Any], wait: float) -> str:
    with store_lock(state, wait):
        number = _active_segment(state)
        fd = os.open(_segment_file(state, number), os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            # a writer killed mid-line left a torn line: end it, so ours starts clean
            torn = size > 0 and os.pread(fd, 1, size - 1) != b"\n"
            offset = size + 1 if torn else size
            obs_id = f"{number}:{offset}"
            line = encode({"v": record.get("v", 1), "id": obs_id, **record})
            _write_all(fd, (b"\n" if torn else b"") + line)
        finally:
            os.close(fd)
    return obs_id


def _parse(line: bytes, where: str, state: ProjectState) -> dict[str, Any] | None:
    try:
        record = jsonfast.loads(line.decode("utf-8"))
    except (ValueError, RecursionError):
        record = None
    if isinstance(record, dict):
        return record
    log_error(
        f"observation store: skipped an invalid line at {where}",
        repr(line[:200]),
        state.project_dir,
    )
    return None


def iter_observations(
    state: ProjectState, since: Watermark | None = None
) -> Iterator[tuple[Watermark, dict[str, Any]]]:
    """Each stored record after `since`, with the position just after it, oldest first.

    A last line still being written (no newline yet) is left for the next reader.
    """
    for number, path in segments(state):
        if since is not None and number < since.segment:
            continue
        offset = since.offset if since is not None and number == since.segment else 0
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            continue  # dropped by the cap meanwhile
        with handle:
            handle.seek(offset)
            for line in handle:
                if not line.endswith(b"\n"):
                    break
                start, offset = offset, offset + len(line)
                if line.strip():
                    record = _parse(line, f"{path.name}:{start}", state)
                    if record is not None:
                        yield Watermark(number, offset), record


def count_observations(state: ProjectState) -> int:
    """How many observations the store holds (complete, non-blank lines)."""
    total = 0
    for _, path in segments(state):
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        total += sum(1 for line in data.split(b"\n")[:-1] if line.strip())
    return total
