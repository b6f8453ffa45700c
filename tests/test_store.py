"""The observation store: ids, watermarks, rotation, the size cap, torn lines, the shared lock,
and hundreds of real hook processes appending at once."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import filelock
import pytest

from selfdistill import store
from selfdistill.paths import ProjectState, log_file
from selfdistill.store import Watermark, count_observations, iter_observations

SCRIPT = Path(sys.executable).parent / "selfdistill"


@pytest.fixture
def state(tmp_path: Path) -> ProjectState:
    return ProjectState.for_project(tmp_path / "project")


def add(state: ProjectState, n: int, start: int = 0, pad: int = 0) -> list[str]:
    ids = []
    for i in range(start, start + n):
        record = {"v": 1, "ts": "t", "event": "E", "session_id": str(i), "prompt": "p" * pad}
        ids.append(store.append(state, record))
    return ids


def sessions(state: ProjectState, since: Watermark | None = None) -> list[str]:
    return [record["session_id"] for _, record in iter_observations(state, since)]


def test_ids_are_segment_and_byte_offset_of_each_line(state: ProjectState) -> None:
    ids = add(state, 3)
    data = (state.observations / "obs-000001.jsonl").read_bytes()
    ends = [i + 1 for i, byte in enumerate(data) if byte == ord("\n")]
    starts = [0, *ends[:-1]]
    assert ids == [f"1:{offset}" for offset in starts]
    assert [json.loads(line)["id"] for line in data.splitlines()] == ids
    assert json.loads(state.meta.read_text())["project"] == str(state.project)


def test_watermark_resumes_after_the_last_record_read(state: ProjectState) -> None:
    add(state, 3)
    marks = [mark for mark, _ in iter_observations(state)]
    assert sessions(state, marks[1]) == ["2"]
    add(state, 2, start=3)
    assert sessions(state, marks[-1]) == ["3", "4"]
    assert sessions(state, None) == ["0", "1", "2", "3", "4"]
    assert count_observations(state) == 5


def test_segments_rotate_and_watermarks_cross_them(
    state: ProjectState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(store.SEGMENT_ENV, "1000")
    add(state, 40, pad=100)
    numbers = [number for number, _ in store.segments(state)]
    assert len(numbers) > 3 and numbers == list(range(1, len(numbers) + 1))
    for _, path in store.segments(state)[:-1]:
        assert 1000 <= path.stat().st_size < 1000 + 400  # a segment fills up, then the next starts
    marks = [mark for mark, _ in iter_observations(state)]
    middle = marks[17]
    assert sessions(state, middle) == [str(i) for i in range(18, 40)]
    assert sessions(state) == [str(i) for i in range(40)]


def test_the_cap_drops_oldest_segments_and_records_the_loss(
    state: ProjectState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(store.SEGMENT_ENV, "1000")
    monkeypatch.setenv(store.CAP_ENV, "3000")
    umask = os.umask(0o022)  # the record of the loss is the user's alone even so
    try:
        add(state, 60, pad=100)
    finally:
        os.umask(umask)
    kept = sessions(state)
    dropped = store.read_dropped(state)["droppedObservations"]
    assert dropped > 0
    assert stat.S_IMODE(store.dropped_path(state).stat().st_mode) == 0o600
    assert dropped + len(kept) == 60
    assert kept == [str(i) for i in range(dropped, 60)]  # the oldest went, in order
    assert sum(path.stat().st_size for _, path in store.segments(state)) <= 3000 + 1400
    assert "dropped" in log_file().read_text()
    # a watermark into a dropped segment resumes at the oldest record still there
    assert sessions(state, Watermark(1, 50)) == kept


def test_a_torn_line_is_ended_skipped_and_logged(state: ProjectState) -> None:
    add(state, 1)
    with (state.observations / "obs-000001.jsonl").open("ab") as segment:
        segment.write(b'{"v": 1, "id": "1:999", "event": "cut off by a cra')  # writer died here
    assert sessions(state) == ["0"]  # an unfinished last line is left alone
    [second] = add(state, 1, start=1)
    assert sessions(state) == ["0", "1"]
    data = (state.observations / "obs-000001.jsonl").read_bytes()
    assert data[int(second.split(":")[1]) :].startswith(b'{"v":1,"id":"' + second.encode())
    assert "invalid line" in log_file().read_text()


def test_files_are_private(state: ProjectState) -> None:
    add(state, 1)
    for directory in (state.root, state.observations):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for path in (state.observations / "obs-000001.jsonl", state.store_lock, state.meta):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_store_lock_and_filelock_exclude_each_other(state: ProjectState) -> None:
    with store.store_lock(state), pytest.raises(filelock.Timeout):
        filelock.FileLock(str(state.store_lock)).acquire(timeout=0.2)


def test_a_hook_waits_while_the_distiller_holds_the_lock_with_filelock(state: ProjectState) -> None:
    project = state.project
    project.mkdir(parents=True)
    store.ensure_state(state)
    env = {**os.environ, "CLAUDE_PROJECT_DIR": str(project)}
    with filelock.FileLock(str(state.store_lock)):
        hook = subprocess.Popen(
            [str(SCRIPT), "hook", "UserPromptSubmit"],
            stdin=subprocess.PIPE,
            env=env,
        )
        assert hook.stdin is not None
        hook.stdin.write(b'{"session_id": "waiting", "prompt": "hi"}')
        hook.stdin.close()
        time.sleep(1.0)
        assert hook.poll() is None  # blocked on the lock
        assert count_observations(state) == 0
    assert hook.wait(timeout=30) == 0
    assert sessions(state) == ["waiting"]


def test_hundreds_of_parallel_hooks_each_append_exactly_once(
    state: ProjectState, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = state.project
    project.mkdir(parents=True)
    total = 300
    env = {**os.environ, "CLAUDE_PROJECT_DIR": str(project), store.SEGMENT_ENV: "20000"}
    env[store.APPEND_WAIT_ENV] = "120"  # on a slow machine, waiting is fine here: none may be lost
    running: list[subprocess.Popen[bytes]] = []
    for i in range(total):
        body = {
            "session_id": f"s-{i}",
            "tool_name": "Bash",
            "tool_input": {"command": "x" * (i % 500)},
        }
        hook = subprocess.Popen(
            [str(SCRIPT), "hook", "PostToolUse"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        assert hook.stdin is not None
        hook.stdin.write(json.dumps(body).encode())
        hook.stdin.close()
        running.append(hook)
    assert all(hook.wait(timeout=300) == 0 for hook in running)
    lines = [
        line for _, path in store.segments(state) for line in path.read_bytes().split(b"\n")[:-1]
    ]
    parsed = [json.loads(line) for line in lines]  # every line is whole, valid JSON
    assert sorted(record["session_id"] for record in parsed) == sorted(
        f"s-{i}" for i in range(total)
    )
    assert len({record["id"] for record in parsed}) == total
    assert len(store.segments(state)) > 1  # rotation happened under contention
    for number, path in store.segments(state):  # every id is where its line really starts
        data = path.read_bytes()
        offset = 0
        for line in data.split(b"\n")[:-1]:
            assert json.loads(line)["id"] == f"{number}:{offset}"
            offset += len(line) + 1


def test_a_home_whose_parents_do_not_exist_yet_is_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SELFDISTILL_HOME", str(tmp_path / "a" / "b" / "home"))
    state = ProjectState.for_project(tmp_path / "project")
    add(state, 1)
    assert sessions(state) == ["0"]
    assert stat.S_IMODE((tmp_path / "a" / "b" / "home").stat().st_mode) == 0o700


def test_a_hook_gives_up_on_a_lock_held_too_long_and_the_loss_is_counted(
    state: ProjectState,
) -> None:
    project = state.project
    project.mkdir(parents=True)
    store.ensure_state(state)
    env = {**os.environ, "CLAUDE_PROJECT_DIR": str(project), store.APPEND_WAIT_ENV: "0.3"}
    with filelock.FileLock(str(state.store_lock)):
        started = time.monotonic()
        done = subprocess.run(
            [str(SCRIPT), "hook", "UserPromptSubmit"],
            input=b'{"prompt": "hi"}',
            capture_output=True,
            env=env,
            timeout=30,
            check=False,
        )
        waited = time.monotonic() - started
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    assert waited < 10  # it gave up instead of hanging the agent
    assert count_observations(state) == 0
    assert store.read_dropped(state)["droppedObservations"] == 1
    assert "lock busy" in log_file().read_text()


def test_a_watermark_is_the_named_tuple_it_always_was() -> None:
    mark = Watermark(3, 120)
    segment, offset = mark
    assert (segment, offset) == (mark.segment, mark.offset) == (3, 120)
    assert mark == (3, 120) and mark < Watermark(3, 121) < Watermark(4, 0)
    assert mark._asdict() == {"segment": 3, "offset": 120}
    assert repr(mark) == "Watermark(segment=3, offset=120)"
    assert Watermark(*json.loads(json.dumps(mark))) == mark
    assert len({mark, Watermark(3, 120)}) == 1
    with pytest.raises(AttributeError):
        mark.segment = 4  # type: ignore[misc]


def test_the_store_lock_is_released_when_its_block_fails(state: ProjectState) -> None:
    with pytest.raises(RuntimeError), store.store_lock(state):
        raise RuntimeError("inside the lock")
    with store.store_lock(state, wait=0.5):  # free again at once
        pass
    with store.store_lock(state), pytest.raises(store.StoreBusy):  # flock is per descriptor
        store.store_lock(state, wait=0.1).__enter__()


def test_the_append_path_loads_no_pathlib_json_or_contextlib(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from selfdistill import store\n"
        "from selfdistill.paths import ProjectState\n"
        f"state = ProjectState.for_project({str(tmp_path / 'p')!r})\n"
        "store.append(state, {'v': 1, 'ts': 't', 'event': 'E'})\n"
        "print(sorted({'pathlib', 'json', 'contextlib', 'collections'} & set(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    assert count_observations(ProjectState.for_project(tmp_path / "p")) == 1
