"""Signals read from transcripts the real Claude Code wrote, against the scripted API stand-in."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from selfdistill.model import SessionReport
from selfdistill.signals import analyze
from tests.support import scenarios
from tests.support.claude_cli import ClaudeRun, run_claude
from tests.support.scenarios import Scenario


def _record(
    project: Path, fake_api: Callable[..., Any], make: Callable[[Path], Scenario]
) -> tuple[SessionReport, ClaudeRun]:
    scenario = make(project)
    api = fake_api(scenario.script)
    run = run_claude(project, scenario.prompt, api, env=scenario.env)
    assert run.returncode == 0, run
    return analyze(run.transcript), run


def test_a_failing_command_then_another_that_passes_is_an_error_and_a_recovery(project, fake_api):
    report, run = _record(project, fake_api, scenarios.tests_fail_then_pass_another_way)

    assert report.session_id == run.session_id
    [error] = [s for s in report.signals if s.kind == "tool_error"]
    assert error.subject == scenarios.PYTEST_COMMAND
    assert error.category == "command_not_found"
    assert error.exit_code == 1
    assert "No module named pytest" in (error.detail or "")
    [recovery] = [s for s in report.signals if s.kind == "recovery"]
    assert recovery.related_uuid == error.uuid
    assert recovery.detail == scenarios.UNITTEST_COMMAND
    assert not [s for s in report.signals if s.kind in ("interruption", "rejection")]
    assert report.outcome in ("positive", "mixed")


def test_an_edit_that_did_not_match_then_did_is_recovered(project, fake_api):
    report, _ = _record(project, fake_api, scenarios.edit_mismatch_then_fix)

    [error] = [s for s in report.signals if s.kind == "tool_error"]
    assert error.category == "edit_mismatch"
    assert error.tool_name == "Edit"
    [recovery] = [s for s in report.signals if s.kind == "recovery"]
    assert recovery.related_uuid == error.uuid


def test_passing_tests_and_a_commit_after_changes_are_successes(project, fake_api):
    report, _ = _record(project, fake_api, scenarios.change_check_commit)

    successes = [s for s in report.signals if s.kind == "success"]
    assert [(s.category, s.subject) for s in successes] == [
        ("test", scenarios.UNITTEST_COMMAND),
        ("commit", scenarios.COMMIT_COMMAND),
    ]
    assert all(s.tool_use_id for s in successes)
    assert report.outcome == "positive"


def test_a_passing_check_with_no_change_before_it_is_no_success(project, fake_api):
    report, _ = _record(project, fake_api, scenarios.plain_success)

    assert not [s for s in report.signals if s.kind == "success"]
    assert report.outcome == "neutral"


def test_the_same_failure_three_times_is_a_repeated_failure(project, fake_api):
    report, _ = _record(project, fake_api, scenarios.repeated_failure)

    errors = [s for s in report.signals if s.kind == "tool_error"]
    assert len(errors) == 3
    assert {e.subject for e in errors} == {scenarios.MISSING_SCRIPT_COMMAND}
    assert [s.kind for s in report.signals].count("repeated_failure") == 1
    assert not [s for s in report.signals if s.kind == "recovery"]
    assert report.outcome == "negative"
