"""Capture, end to end: `selfdistill install` in a project, a real Claude Code session there, and
the session's prompt, tool calls, failures and Stop found in selfdistill's observation store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from selfdistill import schemas
from selfdistill.paths import ProjectState
from selfdistill.store import iter_observations
from tests.support import scenarios
from tests.support.claude_cli import run_claude


def selfdistill(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed console script of this environment, as a user would run it."""
    script = Path(sys.executable).parent / "selfdistill"
    return subprocess.run([str(script), *args], capture_output=True, text=True, timeout=60)


def install(project: Path) -> None:
    installed = selfdistill("install", "--project", str(project), "--no-git")
    assert installed.returncode == 0, installed.stderr


def stored(project: Path) -> list[dict[str, Any]]:
    """Every stored observation of the project, oldest first, each checked against its schema."""
    records = [record for _, record in iter_observations(ProjectState.for_project(project))]
    for record in records:
        assert schemas.errors("observation", record) == [], record
    return records


def tool_calls(records: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(tool, outcome, command or file) of each recorded tool call."""
    calls = [r for r in records if "tool_name" in r]
    return [(r["tool_name"], r["outcome"], _target(r["tool_input"])) for r in calls]


def _target(tool_input: dict[str, Any]) -> str:
    return str(tool_input.get("command") or tool_input.get("file_path"))


def test_a_real_session_lands_in_the_store(project, fake_api):
    install(project)
    scenario = scenarios.tests_fail_then_pass_another_way(project)
    api = fake_api(scenario.script)

    run = run_claude(project, scenario.prompt, api, env=scenario.env)

    assert run.returncode == 0, run
    assert run.stdout.strip() == scenario.answer  # the hooks print nothing anyone would see
    records = stored(project)
    assert {r["session_id"] for r in records} == {run.session_id}
    assert {r["transcript_path"] for r in records} == {str(run.transcript)}
    events = [r["event"] for r in records]
    # SessionEnd hooks get a short time limit at exit; on a loaded machine one may be cut off.
    assert events[:5] == [
        "SessionStart",
        "UserPromptSubmit",
        "PostToolUseFailure",
        "PostToolUse",
        "Stop",
    ]
    assert events[5:] in ([], ["SessionEnd"])
    by_event = {r["event"]: r for r in records}
    assert by_event["UserPromptSubmit"]["prompt"] == scenario.prompt
    assert tool_calls(records) == [
        ("Bash", "error", scenarios.PYTEST_COMMAND),
        ("Bash", "ok", scenarios.UNITTEST_COMMAND),
    ]
    failure = by_event["PostToolUseFailure"]
    assert failure["exit_code"] == 1
    assert "No module named pytest" in failure["error"]
    assert by_event["Stop"]["last_message"] == scenario.answer


def test_sessions_are_stored_apart_and_only_hooked_failures_appear(project, fake_api):
    install(project)
    first = scenarios.repeated_failure(project)
    second = scenarios.edit_mismatch_then_fix(project)
    api = fake_api(first.script + second.script)

    one = run_claude(project, first.prompt, api, env=first.env)
    two = run_claude(project, second.prompt, api, env=second.env)

    records = stored(project)
    mine = [r for r in records if r["session_id"] == one.session_id]
    assert tool_calls(mine) == [("Bash", "error", scenarios.MISSING_SCRIPT_COMMAND)] * 3
    assert len([r for r in mine if r["event"] == "PostToolUseFailure"]) == first.hook_failures
    # The refused Edit never reaches a hook (only the transcript has it); the good one does.
    theirs = [r for r in records if r["session_id"] == two.session_id]
    assert records == mine + theirs
    assert tool_calls(theirs) == [("Edit", "ok", str(project / scenarios.SOURCE))]
