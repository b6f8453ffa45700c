"""Several real Claude Code sessions of one project at once, each ending with its Stop hook starting
a distiller: every event is stored once, and the lesson counts each session once."""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from selfdistill.paths import ProjectState
from selfdistill.store import iter_observations
from tests.e2e.test_autorun_e2e import selfdistill, settled_status
from tests.support import scenarios
from tests.support.claude_cli import ClaudeRun, run_claude

SESSIONS = 4


def test_parallel_sessions_lose_and_duplicate_nothing(project: Path, fake_api) -> None:
    selfdistill("install", "--project", str(project), "--no-git")
    plays = [scenarios.tests_fail_then_pass_another_way(project) for _ in range(SESSIONS)]
    apis = [fake_api(play.script) for play in plays]  # one stand-in each: scripts must not mix

    def session(index: int) -> ClaudeRun:
        return run_claude(project, plays[index].prompt, apis[index], env=plays[index].env)

    with ThreadPoolExecutor(SESSIONS) as pool:
        runs = list(pool.map(session, range(SESSIONS)))

    assert all(run.returncode == 0 for run in runs), runs
    settled_status(project)
    records = [record for _, record in iter_observations(ProjectState.for_project(project))]
    assert len({record["id"] for record in records}) == len(records)
    per_session = Counter(
        (record["session_id"], record["event"], record.get("outcome")) for record in records
    )
    for run in runs:
        assert per_session[(run.session_id, "UserPromptSubmit", None)] == 1
        assert per_session[(run.session_id, "PostToolUseFailure", "error")] == 1
        assert per_session[(run.session_id, "PostToolUse", "ok")] == 1
    lessons = json.loads(selfdistill("lessons", "list", "--project", str(project), "--json").stdout)
    assert [(x["status"], x["sessionsSeen"]) for x in lessons] == [("active", SESSIONS)]
