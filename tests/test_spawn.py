"""The detached distiller: it outlives the hook, runs in its own session, one per project."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import filelock
import pytest

from selfdistill import spawn
from selfdistill.paths import ProjectState

SCRIPT = Path(sys.executable).parent / "selfdistill"

# Stands in for the distiller: waits, then says who it is, who its parent is and what it was given.
CHILD = textwrap.dedent(
    """
    import json, os, sys, time
    time.sleep(float(sys.argv[2]))
    facts = {
        "pid": os.getpid(), "sid": os.getsid(0), "pgid": os.getpgid(0),
        "parent_now": os.getppid(), "finished": time.time(),
        "internal": os.environ.get("SELFDISTILL_INTERNAL"), "stdin": sys.stdin.read(),
        "cwd": os.getcwd(),
    }
    print("child says hello")
    with open(sys.argv[1] + ".tmp", "w") as out:
        json.dump(facts, out)
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    """
)

# Stands in for the hook process: spawns the child, reports its own ids, exits at once.
PARENT = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    from selfdistill.paths import ProjectState
    from selfdistill.spawn import maybe_spawn
    state = ProjectState.for_project(Path(sys.argv[1]))
    verdict = maybe_spawn(state, [sys.executable, sys.argv[2], sys.argv[3], sys.argv[4]])
    print(json.dumps({"pid": os.getpid(), "sid": os.getsid(0), "verdict": verdict,
                      "exited": time.time()}), flush=True)
    if sys.argv[5:] == ["kill-group"]:  # what a CLI does to its hooks' leftovers when it exits
        import signal
        os.killpg(os.getpgid(0), signal.SIGKILL)
    """
)


@pytest.fixture
def state(tmp_path: Path) -> ProjectState:
    project = tmp_path / "project"
    project.mkdir()
    return ProjectState.for_project(project)


def wait_for(path: Path, seconds: float = 30) -> dict[str, object]:
    deadline = time.time() + seconds
    while not path.exists():
        assert time.time() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    facts: dict[str, object] = json.loads(path.read_text())
    return facts


def spawn_from_a_parent(
    state: ProjectState, tmp_path: Path, sleep: float, *extra: str
) -> tuple[dict[str, Any], Path, float]:
    child, out = tmp_path / "child.py", tmp_path / "child.json"
    child.write_text(CHILD)
    started = time.time()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            PARENT,
            str(state.project),
            str(child),
            str(out),
            str(sleep),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,  # its own group, so that killing the group spares pytest
        check=False,
    )
    return json.loads(done.stdout), out, time.time() - started


def test_the_distiller_is_detached_and_outlives_the_hook(
    state: ProjectState, tmp_path: Path
) -> None:
    parent, out, took = spawn_from_a_parent(state, tmp_path, sleep=2.0)
    assert parent["verdict"] == "spawned"
    assert not out.exists()  # the parent came back before the child was done
    assert took < 2.0
    child = wait_for(out)
    assert child["sid"] == child["pid"] == child["pgid"]  # its own session and process group
    assert child["sid"] != parent["sid"]
    assert child["parent_now"] != parent["pid"]  # the parent was gone by then
    assert float(child["finished"]) > parent["exited"]  # type: ignore[arg-type]
    assert child["internal"] == "1"  # its own work is never captured
    assert child["stdin"] == ""
    assert child["cwd"] == str(state.project)
    assert "child says hello" in spawn.log_path(state).read_text()
    assert state.spawn_stamp.exists()


def test_the_distiller_survives_its_parent_group_being_killed(
    state: ProjectState, tmp_path: Path
) -> None:
    parent, out, _ = spawn_from_a_parent(state, tmp_path, 1.0, "kill-group")
    assert parent["verdict"] == "spawned"
    child = wait_for(out)
    assert child["parent_now"] != parent["pid"]


def test_a_running_distiller_gets_a_pending_note_instead(
    state: ProjectState, tmp_path: Path
) -> None:
    state.root.mkdir(parents=True)
    with filelock.FileLock(str(state.run_lock)):
        assert spawn.run_lock_held(state)
        parent, out, _ = spawn_from_a_parent(state, tmp_path, sleep=0)
    assert parent["verdict"] == "pending"
    assert spawn.pending_path(state).exists()
    time.sleep(0.5)
    assert not out.exists()
    assert not spawn.run_lock_held(state)


def test_spawns_are_debounced(
    state: ProjectState, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(spawn.DEBOUNCE_ENV, "60")
    argv = [sys.executable, "-c", "pass"]
    assert spawn.maybe_spawn(state, argv) == "spawned"
    assert not spawn.pending_path(state).exists()
    assert spawn.maybe_spawn(state, argv) == "debounced"
    assert spawn.pending_path(state).exists()
    monkeypatch.setenv(spawn.DEBOUNCE_ENV, "0")
    assert spawn.maybe_spawn(state, argv) == "spawned"


@pytest.mark.parametrize("event", ["Stop", "SessionEnd"])
def test_stop_and_session_end_start_the_distiller_and_return(
    state: ProjectState, event: str
) -> None:
    env = {**os.environ, "CLAUDE_PROJECT_DIR": str(state.project)}
    payload = json.dumps({"session_id": "s1", "transcript_path": "/nowhere/s1.jsonl"}).encode()
    done = subprocess.run(
        [str(SCRIPT), "hook", event], input=payload, capture_output=True, env=env, timeout=60
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    assert state.spawn_stamp.exists()
    assert spawn.log_path(state).exists()  # the real `selfdistill run` writes there


@pytest.mark.parametrize(("event", "autorun"), [("UserPromptSubmit", "1"), ("Stop", "0")])
def test_other_events_or_autorun_off_spawn_nothing(
    state: ProjectState, event: str, autorun: str
) -> None:
    env = {**os.environ, "CLAUDE_PROJECT_DIR": str(state.project), "SELFDISTILL_AUTORUN": autorun}
    done = subprocess.run(
        [str(SCRIPT), "hook", event], input=b"{}", capture_output=True, env=env, timeout=60
    )
    assert done.returncode == 0
    assert state.observations.is_dir()  # recorded all the same
    assert not state.spawn_stamp.exists()
