"""A `claude -p` that a session's tool call starts is not the user's session: not captured."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from selfdistill.paths import ProjectState
from selfdistill.store import iter_observations
from tests.support.claude_cli import claude_binary, run_claude
from tests.support.fake_api import bash, text


def test_a_nested_claude_run_is_not_captured(project: Path, fake_api) -> None:
    script = Path(sys.executable).parent / "selfdistill"
    subprocess.run([str(script), "install", "--project", str(project), "--no-git"], check=True)
    nested = f"{claude_binary()} -p 'inner prompt' --allowedTools Bash"
    api = fake_api([bash(nested, "Run a nested Claude Code"), text("inner done"), text("outer")])

    run = run_claude(project, "outer prompt", api, env={"SELFDISTILL_AUTORUN": "0"})

    assert run.returncode == 0, run
    assert api.remaining == 0  # the inner session really ran and used its turn
    records = [record for _, record in iter_observations(ProjectState.for_project(project))]
    assert {record.get("session_id") for record in records} == {run.session_id}
    prompts = [r["prompt"] for r in records if r.get("event") == "UserPromptSubmit"]
    assert prompts == ["outer prompt"]
