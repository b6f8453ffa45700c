"""`selfdistill status`: the contract fields from real state files, and the command itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import filelock
import pytest

from selfdistill import lessons, store
from selfdistill.model import Evidence, Lesson
from selfdistill.paths import ProjectState
from selfdistill.status import format_status, project_status

SCRIPT = Path(sys.executable).parent / "selfdistill"
CONTRACT = {
    "lastRunId",
    "lastRunAt",
    "totalRuns",
    "totalLessons",
    "activeLessons",
    "observations",
    "running",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)
    return root


def lesson_about(tool: str) -> Lesson:
    return lessons.new_lesson(
        "fact",
        f"Using `{tool}`",
        f"it is not installed here; do without `{tool}`",
        evidence=(Evidence("s1", "u1", signal="tool_error"),),
        signal="tool_error",
        confidence=0.6,
        now="2026-01-01T00:00:00Z",
    )


def write_run(
    state: ProjectState, run_id: str, started: str, completed: str | None, **extra: object
) -> None:
    state.runs.mkdir(parents=True, exist_ok=True)
    manifest = {"id": run_id, "startedAt": started, **extra}
    if completed:
        manifest["completedAt"] = completed
    (state.runs / f"{run_id}.json").write_text(json.dumps(manifest))


def test_nothing_ran_yet_gives_zeros_and_nulls(project: Path) -> None:
    status = project_status(ProjectState.for_project(project))
    assert set(status) >= CONTRACT
    assert status["lastRunId"] is None and status["lastRunAt"] is None
    assert (status["totalRuns"], status["totalLessons"], status["activeLessons"]) == (0, 0, 0)
    assert (status["observations"], status["droppedObservations"], status["running"]) == (
        0,
        0,
        False,
    )
    assert "lastError" not in status


def test_runs_lessons_observations_and_losses_are_counted(project: Path) -> None:
    state = ProjectState.for_project(project)
    write_run(state, "r2", "2026-01-02T00:00:00Z", "2026-01-02T00:00:05Z")
    write_run(
        state, "r1", "2026-01-01T00:00:00Z", "2026-01-01T00:00:05Z", errors=["model timed out"]
    )
    write_run(state, "r3", "2026-01-03T00:00:00Z", "2026-01-03T00:01:00Z")
    (state.runs / "broken.json").write_text("{not json")
    stored = [
        replace(lesson_about(tool), status=status)
        for tool, status in (("tree", "active"), ("fd", "candidate"), ("rg", "active"))
    ]
    state.lessons.write_text(lessons.dump_store(stored))
    for i in range(4):
        store.append(state, {"v": 1, "ts": "t", "event": "E", "session_id": str(i)})
    (state.root / "dropped.json").write_text(json.dumps({"droppedObservations": 17}))
    status = project_status(state)
    assert status["lastRunId"] == "r3"
    assert status["lastRunAt"] == "2026-01-03T00:01:00Z"
    assert status["totalRuns"] == 3
    assert (status["totalLessons"], status["activeLessons"]) == (3, 2)
    assert status["observations"] == 4
    assert status["droppedObservations"] == 17
    assert status["lastError"] == "model timed out"
    assert status["project"] == str(project)
    assert status["stateDir"] == str(state.root)


def test_running_follows_the_run_lock(project: Path) -> None:
    state = ProjectState.for_project(project)
    write_run(state, "r1", "2026-01-01T00:00:00Z", None)
    with filelock.FileLock(str(state.run_lock)):
        running = project_status(state)
    stopped = project_status(state)
    assert running["running"] is True and "lastRunIncomplete" not in running
    assert stopped["running"] is False and stopped["lastRunIncomplete"] is True
    assert stopped["lastRunAt"] == "2026-01-01T00:00:00Z"


def status_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), "status", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=dict(os.environ),
        timeout=60,
    )


def test_status_command_json_and_text(project: Path) -> None:
    state = ProjectState.for_project(project)
    store.append(state, {"v": 1, "ts": "t", "event": "E"})
    sub = project / "src"
    sub.mkdir()
    as_json = status_cli("--json", cwd=sub)  # the project is found from a subdirectory
    assert as_json.returncode == 0, as_json.stderr
    status = json.loads(as_json.stdout)
    assert set(status) >= CONTRACT
    assert status["observations"] == 1 and status["project"] == str(project)
    text = status_cli("--project", str(project), cwd=project.parent)
    assert text.returncode == 0
    assert "observations:  1" in text.stdout and "runs:          0" in text.stdout


def test_status_of_a_missing_directory_is_a_user_error(tmp_path: Path) -> None:
    done = status_cli("--project", str(tmp_path / "nope"), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout == "" and "does not exist" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_broken_lesson_store_is_the_same_error_as_in_lessons(project: Path) -> None:
    state = ProjectState.for_project(project)
    store.append(state, {"v": 1, "ts": "t", "event": "E"})
    state.lessons.write_text("{garbage\n")
    status = status_cli("--json", "--project", str(project), cwd=project)
    listed = subprocess.run(
        [str(SCRIPT), "lessons", "--project", str(project)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (status.returncode, status.stdout) == (1, "")
    assert status.stderr.startswith(f"selfdistill: lesson store {state.lessons} is not valid JSON")
    assert len(status.stderr.splitlines()) == 1 and status.stderr == listed.stderr


def test_a_lesson_store_not_in_utf8_is_a_one_line_error(project: Path) -> None:
    state = ProjectState.for_project(project)
    store.append(state, {"v": 1, "ts": "t", "event": "E"})
    state.lessons.write_bytes(b'{"version": 1, "lessons": ["caf\xe9"]}')
    done = status_cli("--project", str(project), cwd=project)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"selfdistill: lesson store {state.lessons} is not UTF-8 text (byte 31)\n"


def seen_in(tool: str, sessions: int, status: str = "candidate") -> Lesson:
    evidence = [Evidence(f"s{n}", f"u{n}", signal="tool_error") for n in range(sessions)]
    lesson = replace(lesson_about(tool), evidence=tuple(evidence), sessions_seen=sessions)
    return replace(lesson, status=status)


def configured(project: Path, mode: str) -> ProjectState:
    """A project in `mode` with one lesson of each kind that could be mistaken for awaiting."""
    (project / ".claude").mkdir(exist_ok=True)
    (project / ".claude" / "selfdistill.json").write_text(json.dumps({"mode": mode}))
    state = ProjectState.for_project(project)
    stored = [
        seen_in("tree", 2),  # enough evidence: only the user's decision is missing
        seen_in("fd", 1),  # not enough evidence yet
        seen_in("rg", 2, "held"),  # the safety gate refused it
        seen_in("jq", 3, "active"),
    ]
    store.append(state, {"v": 1, "ts": "t", "event": "E"})
    state.lessons.write_text(lessons.dump_store(stored))
    return state


def test_review_mode_counts_the_lessons_awaiting_approval(project: Path) -> None:
    state = configured(project, "review")
    status = project_status(state)
    assert status["awaitingApproval"] == 1
    assert status["lessonsByStatus"] == {"active": 1, "candidate": 2, "held": 1}
    assert (
        "lessons:       4 (1 active, 2 candidate, 1 held); later sessions: 0 helped, 0 recurred; "
        "1 awaiting your approval (see 'selfdistill lessons')"
    ) in format_status(status).splitlines()
    (project / ".claude" / "selfdistill.json").write_text('{"mode": "review", "minSessions": 3}')
    assert project_status(state)["awaitingApproval"] == 0  # minSessions is the project's own


def test_auto_mode_counts_none_awaiting(project: Path) -> None:
    status = project_status(configured(project, "auto"))
    assert status["awaitingApproval"] == 0
    assert "approval" not in format_status(status)


def test_the_command_counts_awaiting_until_approved(project: Path) -> None:
    configured(project, "review")
    as_json = status_cli("--json", "--project", str(project), cwd=project)
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["awaitingApproval"] == 1
    assert "1 awaiting your approval" in status_cli(cwd=project).stdout
    approve = subprocess.run(
        [str(SCRIPT), "lessons", "approve", seen_in("tree", 2).id, "--project", str(project)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert approve.returncode == 0, approve.stderr
    after = json.loads(status_cli("--json", cwd=project).stdout)
    assert (after["awaitingApproval"], after["activeLessons"]) == (0, 2)
    assert "awaiting" not in status_cli(cwd=project).stdout
