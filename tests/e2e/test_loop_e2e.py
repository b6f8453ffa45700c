"""The whole loop with the real Claude Code: sessions fail the same way and recover, selfdistill
distills and publishes the lesson, the next session's request to the model carries it, the user's
CLAUDE.md text stays byte-identical, rollback takes the lesson out again; a lesson that does not
prevent its failure is retired; and a correction the user typed in two sessions is published,
then counted against its lesson when the user has to make it again."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support import scenarios
from tests.support.claude_cli import run_claude
from tests.support.fake_api import bash, body_text, text

USER_TEXT = b"# Calc\r\n\r\nOur own notes: keep functions small.\r\n"
BEGIN, END = b"<!-- selfdistill:begin -->", b"<!-- selfdistill:end -->"
# Automatic runs from the Stop hook are switched off so that each test runs the distiller itself,
# at known points; test_autorun_e2e covers the automatic path.
MANUAL = {"SELFDISTILL_AUTORUN": "0"}


def selfdistill(*args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "selfdistill"
    done = subprocess.run([str(script), *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def run_json(project: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(
        selfdistill("run", "--project", str(project), "--json").stdout
    )
    return manifest


def lessons_json(project: Path) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = json.loads(
        selfdistill("lessons", "list", "--project", str(project), "--json").stdout
    )
    return listed


def outside_block(data: bytes) -> bytes:
    if BEGIN not in data:
        return data
    head, rest = data.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    # a block that ends the file ends its last line: that line ending came with it
    return head + (b"" if tail in (b"\n", b"\r\n") else tail)


def failing_session(project: Path, fake_api: Any) -> None:
    scenario = scenarios.tests_fail_then_pass_another_way(project)
    api = fake_api(scenario.script)
    run = run_claude(project, scenario.prompt, api, env={**scenario.env, **MANUAL})
    assert run.returncode == 0, run


def learn_the_lesson(project: Path, fake_api: Any) -> dict[str, Any]:
    """Two sessions that fail with pytest and recover with unittest, each followed by a run."""
    (project / "CLAUDE.md").write_bytes(USER_TEXT)
    selfdistill("install", "--project", str(project))
    failing_session(project, fake_api)
    first = run_json(project)
    assert first["sessionsProcessed"] == 1
    assert b"unittest" not in (project / "CLAUDE.md").read_bytes()  # one session is not enough
    failing_session(project, fake_api)
    second = run_json(project)
    assert second["sessionsProcessed"] == 1
    active = [lesson for lesson in lessons_json(project) if lesson["status"] == "active"]
    assert len(active) == 1, active
    return active[0]


def test_a_recurring_failure_becomes_a_lesson_the_next_session_reads(project, fake_api):
    lesson = learn_the_lesson(project, fake_api)
    claude_md = (project / "CLAUDE.md").read_bytes()
    assert b"python3 -m unittest discover -s tests" in claude_md
    assert outside_block(claude_md) == USER_TEXT

    scenario = scenarios.plain_success(project)
    api = fake_api(scenario.script)
    run = run_claude(project, scenario.prompt, api, env=MANUAL)
    assert run.returncode == 0, run
    assert "python3 -m unittest discover -s tests" in body_text(api.main_requests[0])
    assert lesson["action"] in body_text(api.main_requests[0])

    selfdistill("rollback", "--last", "--project", str(project))
    assert (project / "CLAUDE.md").read_bytes().replace(BEGIN, b"").count(b"unittest") == 0
    assert outside_block((project / "CLAUDE.md").read_bytes()) == USER_TEXT


def test_a_lesson_that_does_not_prevent_its_failure_is_retired(project, fake_api):
    lesson = learn_the_lesson(project, fake_api)
    for _ in range(2):  # the agent keeps failing the same way despite the lesson
        failing_session(project, fake_api)
        run_json(project)
    after = {item["id"]: item for item in lessons_json(project)}[lesson["id"]]
    assert after["status"] == "retired", after
    assert after["hurt"] >= 2
    status = json.loads(selfdistill("status", "--project", str(project), "--json").stdout)
    assert status["lessonsByStatus"].get("retired") == 1
    assert status["lessonsHurt"] >= 2
    # with no lesson left active, the block is gone: the user's file, byte for byte
    assert (project / "CLAUDE.md").read_bytes() == USER_TEXT


RULE = "No, keep the helpers in calc/__init__.py, never in a new module."


def corrected_session(project: Path, fake_api: Any, said: str) -> None:
    """The agent proposes a new module; the user, in the same session, corrects it."""
    api = fake_api(
        [
            bash("ls calc", "Look at the package"),
            text("I will put sub() in a new module, calc/helpers.py."),
            text("You're right, sub() goes in calc/__init__.py."),
        ]
    )
    first = run_claude(project, "Add a sub() helper.", api, env=MANUAL)
    assert first.returncode == 0, first
    again = run_claude(project, said, api, env=MANUAL, resume=first.session_id)
    assert again.returncode == 0, again


def test_a_correction_made_in_two_sessions_is_published_and_judged_when_made_again(
    project, fake_api
):
    (project / "CLAUDE.md").write_bytes(USER_TEXT)
    selfdistill("install", "--project", str(project))
    for _ in range(2):
        corrected_session(project, fake_api, RULE)
        run_json(project)
    [lesson] = [x for x in lessons_json(project) if x["status"] == "active"]
    assert lesson["signal"] == "correction" and "calc/__init__.py" in lesson["action"]
    assert b"never in a new module" in (project / "CLAUDE.md").read_bytes()

    # The lesson is in the next session's context; the user still has to say it again.
    corrected_session(project, fake_api, "No, the helpers stay in calc/__init__.py, no new module")
    assert run_json(project)["efficacy"] == {"helped": 0, "hurt": 1}
    after = {x["id"]: x for x in lessons_json(project)}[lesson["id"]]
    assert after["hurt"] == 1 and after["confidence"] < lesson["confidence"]
    assert outside_block((project / "CLAUDE.md").read_bytes()) == USER_TEXT
