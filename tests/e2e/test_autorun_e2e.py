"""The automatic path: a real Claude Code session ends, its Stop hook starts a detached distiller,
and that run processes the session without anyone calling `selfdistill run`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.support import scenarios
from tests.support.claude_cli import run_claude


def selfdistill(*args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "selfdistill"
    done = subprocess.run([str(script), *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def settled_status(project: Path, timeout: float = 90) -> dict[str, Any]:
    """Status once a run completed and nothing is running or queued any more."""
    deadline = time.monotonic() + timeout
    while True:
        status: dict[str, Any] = json.loads(
            selfdistill("status", "--project", str(project), "--json").stdout
        )
        if status["totalRuns"] and not status["running"] and not status["pending"]:
            return status
        assert time.monotonic() < deadline, f"no settled automatic run: {status}"
        time.sleep(0.5)


def test_the_stop_hook_distills_the_session_in_the_background(project: Path, fake_api) -> None:
    selfdistill("install", "--project", str(project), "--no-git")
    scenario = scenarios.tests_fail_then_pass_another_way(project)
    api = fake_api(scenario.script)

    run = run_claude(project, scenario.prompt, api, env=scenario.env)

    assert run.returncode == 0, run
    status = settled_status(project)
    runs = sorted((Path(status["stateDir"]) / "runs").glob("*.json"))
    manifests = [json.loads(path.read_text()) for path in runs]
    assert all(m["trigger"] == "hook" for m in manifests), manifests
    assert sum(m["sessionsProcessed"] for m in manifests) == 1
    assert not [m for m in manifests if m["errors"]], manifests
    assert (
        status["totalLessons"] == 1
    )  # the pytest -> unittest candidate, waiting for a 2nd session
