"""Many sessions of one project at once: parallel hooks, Stop hooks that each start a distiller,
and a manual `run` in the middle. Nothing lost, duplicated or torn.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from selfdistill import claudemd, lessons
from selfdistill.paths import ProjectState
from selfdistill.store import iter_observations
from tests.adversarial.conftest import LONG
from tests.adversarial.harness import SCRIPT, cli, hook_env, make_repo
from tests.adversarial.harness import transcript as write_transcript

SESSIONS = 24 if LONG else 8
EVENTS_PER_SESSION = 25 if LONG else 10


PARALLEL = 64


def start_hook(event: str, payload: dict[str, Any], env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [str(SCRIPT), "hook", event], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    assert process.stdin is not None
    process.stdin.write(json.dumps(payload).encode())
    process.stdin.close()
    return process


def finish(process: subprocess.Popen[bytes]) -> tuple[int, bytes, bytes]:
    assert process.stdout is not None and process.stderr is not None
    out, err = process.stdout.read(), process.stderr.read()  # a hook prints nothing: no deadlock
    process.stdout.close()
    process.stderr.close()
    return process.wait(timeout=60), out, err


def wait_idle(project: Path, seconds: float = 60) -> None:
    """Until no distiller runs and none is owed (spawned ones are detached from the test)."""
    deadline = time.monotonic() + seconds
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = json.loads(cli("status", "--project", str(project), "--json").stdout)
        if not status["running"] and not status.get("pending"):
            return
        time.sleep(0.2)
    raise AssertionError(f"distillers still running: {status}")


def test_parallel_sessions_stop_hooks_and_a_manual_run(tmp_path: Path, figures: Any) -> None:
    project = make_repo(tmp_path / "project")
    (project / "CLAUDE.md").write_text("# mine\n")
    steps = [("tree src", False, "Exit code 127\ncommand not found: tree"), ("find src", True, "a")]
    env = hook_env(project, {"SELFDISTILL_AUTORUN": "1", "SELFDISTILL_DEBOUNCE_SECONDS": "0"})
    manual = subprocess.Popen(
        [str(SCRIPT), "run", "--project", str(project), "--json", "--wait", "60"],
        env=hook_env(project), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    running: list[subprocess.Popen[bytes]] = []
    outcomes: list[tuple[int, bytes, bytes]] = []
    started = 0
    for number in range(SESSIONS):
        session = f"par{number:03d}"
        path = write_transcript(
            tmp_path / "t" / f"{session}.jsonl", session, "go", steps, str(project)
        )
        base = {"session_id": session, "transcript_path": str(path), "cwd": str(project)}
        tool = {**base, "tool_name": "Bash"}
        events: list[tuple[str, dict[str, Any]]] = [
            ("PostToolUse", {**tool, "tool_input": {"command": f"echo {session}-{n}"}})
            for n in range(EVENTS_PER_SESSION)
        ]
        events.append(("Stop", {**base, "stop_hook_active": False}))
        for event, payload in events:
            running.append(start_hook(event, payload, env))
            started += 1
            if len(running) >= PARALLEL:  # as many at once as the machine's file limits allow
                outcomes.append(finish(running.pop(0)))
    outcomes += [finish(process) for process in running]
    manual_json, manual_err = manual.communicate(timeout=120)
    assert manual.returncode == 0, manual_err
    assert json.loads(manual_json)["completedAt"]
    assert all(outcome == (0, b"", b"") for outcome in outcomes)
    wait_idle(project)
    final = cli("run", "--project", str(project), "--json", env=hook_env(project))
    assert final.returncode == 0, final.stderr
    state = ProjectState.for_project(project)
    stored = [record for _, record in iter_observations(state)]
    commands = [r["tool_input"]["command"] for r in stored if r["event"] == "PostToolUse"]
    sent = SESSIONS * EVENTS_PER_SESSION
    stops = sum(1 for r in stored if r["event"] == "Stop")
    learned = lessons.read_lessons(state)
    data = (project / "CLAUDE.md").read_bytes()
    parts = claudemd.split(data)
    runs = list(state.runs.glob("*.json"))
    figures(
        "concurrency",
        hook_processes=started,
        runs=len(runs),
        losses=sent - len(set(commands)),
        duplicates=len(commands) - len(set(commands)),
        duplicate_lessons=len(learned) - len({(x.trigger, x.action) for x in learned}),
    )
    assert len(commands) == len(set(commands)) == sent
    assert stops == SESSIONS
    assert len(learned) == len({(x.trigger, x.action) for x in learned}) == 1
    [lesson] = learned
    assert lesson.sessions_seen == SESSIONS  # every session counted once, none twice
    assert parts.prefix == b"# mine\n" and parts.region is not None
    assert data.count(b"`find`") == 1
    assert all(json.loads(path.read_text())["completedAt"] for path in runs)
