"""Capture, end to end: `selfdistill install` in a project, a real Claude Code session there, and
the session's prompt, tool calls, failures and Stop found in selfdistill's observation store."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from selfdistill.paths import ProjectState
from tests.support import scenarios
from tests.support.claude_cli import run_claude


def selfdistill(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed console script of this environment, as a user would run it."""
    script = Path(sys.executable).parent / "selfdistill"
    return subprocess.run([str(script), *args], capture_output=True, text=True, timeout=60)


def get(record: Any, name: str) -> Any:
    """A field of an observation, whether the store yields mappings or records."""
    return record.get(name) if isinstance(record, Mapping) else getattr(record, name, None)


def stored_observations(project: Path) -> list[Any]:
    # Imported here so that, until the store exists, only these tests fail, with a clear error.
    from selfdistill.store import iter_observations

    return list(iter_observations(ProjectState.for_project(project)))


def test_a_real_session_lands_in_the_store(project, fake_api):
    installed = selfdistill("install", "--project", str(project), "--no-git")
    assert installed.returncode == 0, installed.stderr
    scenario = scenarios.tests_fail_then_pass_another_way(project)
    api = fake_api(scenario.script)

    run = run_claude(project, scenario.prompt, api, env=scenario.env)

    assert run.returncode == 0, run
    # The hooks print nothing the agent or user would see.
    assert run.stdout.strip() == scenario.answer
    observations = stored_observations(project)
    assert {get(o, "session_id") for o in observations} == {run.session_id}
    events = [get(o, "event") for o in observations]
    prompts = [get(o, "prompt") for o in observations if get(o, "event") == "UserPromptSubmit"]
    assert prompts == [scenario.prompt]
    tool_calls = [
        (get(o, "tool_name"), get(o, "outcome")) for o in observations if get(o, "tool_name")
    ]
    assert tool_calls == [("Bash", "error"), ("Bash", "ok")]
    assert "Stop" in events
    assert events.index("UserPromptSubmit") < events.index("Stop")


def test_a_second_session_is_stored_apart_and_nothing_is_lost(project, fake_api):
    assert selfdistill("install", "--project", str(project), "--no-git").returncode == 0
    first = scenarios.repeated_failure(project)
    second = scenarios.edit_mismatch_then_fix(project)
    api = fake_api(first.script + second.script)

    one = run_claude(project, first.prompt, api, env=first.env)
    two = run_claude(project, second.prompt, api, env=second.env)

    observations = stored_observations(project)
    by_session: dict[str, list[Any]] = {}
    for o in observations:
        by_session.setdefault(get(o, "session_id"), []).append(o)
    assert set(by_session) == {one.session_id, two.session_id}
    failures = [o for o in by_session[one.session_id] if get(o, "outcome") == "error"]
    assert len(failures) == first.hook_failures == 3
    # The refused Edit never reaches a hook (only the transcript has it); the good one does.
    edits = [get(o, "outcome") for o in by_session[two.session_id] if get(o, "tool_name") == "Edit"]
    assert edits == ["ok"]
