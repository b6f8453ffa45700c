"""`selfdistill mcp`, driven by the MCP SDK's own stdio client against the real console script."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters

from selfdistill import lessons
from selfdistill.model import Evidence
from selfdistill.paths import ProjectState
from selfdistill.schemas import validate
from tests.data.transcripts.builder import Transcript

SELFDISTILL = Path(sys.executable).parent / "selfdistill"
MANIFEST_KEYS = {
    "id",
    "startedAt",
    "completedAt",
    "dryRun",
    "analysisMode",
    "sessionsProcessed",
    "sessionsSkipped",
    "lessonsGenerated",
    "lessons",
}

Session = Callable[[Client], Awaitable[Any]]


def with_server(project: Path, session: Session) -> Any:
    """Start `selfdistill mcp --project PROJECT` and run `session` against it."""
    # The stdio client passes only a few variables on; the test's state home must reach the server,
    # and PYTHONPATH too (conftest): the server must run this checkout's code, as the CLI does.
    names = ("SELFDISTILL_HOME", "HOME", "PYTHONPATH")
    env = {name: os.environ[name] for name in names}
    server = StdioServerParameters(
        command=str(SELFDISTILL), args=["mcp", "--project", str(project)], env=env
    )

    async def main() -> Any:
        async with Client(server) as client:
            return await session(client)

    return anyio.run(main)


def cli_json(*args: str) -> Any:
    done = subprocess.run(
        [str(SELFDISTILL), *args, "--json"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def seed_lessons(project: Path) -> list[str]:
    """Two candidate lessons in the project's store, as a run would leave them."""
    now = "2026-01-01T00:00:00.00Z"
    made = [
        lessons.new_lesson(
            "pitfall",
            "running this project's tests",
            "use `python3 -m unittest discover -s tests`; pytest is not installed",
            evidence=[Evidence("session-a", "uuid-1"), Evidence("session-b", "uuid-2")],
            signal="test_failure",
            confidence=0.8,
            now=now,
        ),
        lessons.new_lesson(
            "fact",
            "building the docs",
            "run `make docs` from the repository root",
            evidence=[Evidence("session-c", "uuid-3")],
            signal="correction",
            confidence=0.6,
            now=now,
        ),
    ]
    lessons.update_lessons(ProjectState.for_project(project), lambda current: tuple(made))
    return [lesson.id for lesson in made]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "my project"
    (root / ".git").mkdir(parents=True)  # a project root for find_project_root; no commits needed
    return root


def test_tools_are_listed_with_their_annotations(project: Path) -> None:
    async def session(client: Client) -> Any:
        return (await client.list_tools()).tools

    tools = {tool.name: tool for tool in with_server(project, session)}

    assert set(tools) == {
        "run_self_distill",
        "self_distill_status",
        "list_lessons",
        "show_lesson",
        "approve_lesson",
        "reject_lesson",
    }
    run = tools["run_self_distill"]
    assert set(run.input_schema["properties"]) == {"dryRun", "limit", "model"}
    assert run.annotations is not None
    assert run.annotations.destructive_hint is True and run.annotations.read_only_hint is False
    for name in ("self_distill_status", "list_lessons", "show_lesson"):
        annotations = tools[name].annotations
        assert annotations is not None and annotations.read_only_hint is True, name
    assert tools["show_lesson"].input_schema["required"] == ["id"]


def test_a_dry_run_returns_the_manifest_and_persists_nothing(project: Path) -> None:
    async def session(client: Client) -> Any:
        dry = await client.call_tool("run_self_distill", {"dryRun": True, "limit": 5})
        bad = await client.call_tool("run_self_distill", {"limit": -1})
        return dry, bad

    dry, bad = with_server(project, session)

    assert not dry.is_error, dry.content
    manifest = dry.structured_content
    assert set(manifest) >= MANIFEST_KEYS
    assert manifest["dryRun"] is True and manifest["analysisMode"] == "heuristic"
    assert manifest["sessionsProcessed"] == 0 and manifest["lessons"] == []
    assert json.loads(dry.content[0].text) == manifest  # the same data for text-only clients
    # The same shape as `selfdistill run --dry-run --json`.
    assert set(cli_json("run", "--dry-run", "--project", str(project))) == set(manifest)
    assert not ProjectState.for_project(project).root.exists()
    assert bad.is_error and "limit must be 0 or more" in bad.content[0].text


def record_session(project: Path) -> None:
    """A hand-made session (tests fail with pytest, pass with unittest), recorded by the real hook
    as Claude Code would report it."""
    transcript = Transcript(session="sess-mcp")
    transcript.prompt("run the tests")
    failed = transcript.bash("python3 -m pytest -q")
    transcript.result(failed, "Exit code 1\n/usr/bin/python3: No module named pytest", error=True)
    passed = transcript.bash("python3 -m unittest discover -s tests")
    transcript.result(passed, "Ran 2 tests in 0.001s\n\nOK")
    transcript.say("The tests pass with unittest.")
    path = transcript.write(project.parent / "sess-mcp.jsonl")
    payload = {
        "session_id": "sess-mcp",
        "transcript_path": str(path),
        "cwd": str(project),
        "hook_event_name": "UserPromptSubmit",
        "prompt": "run the tests",
    }
    subprocess.run(
        [str(SELFDISTILL), "hook", "UserPromptSubmit"],
        input=json.dumps(payload),
        text=True,
        check=True,
        timeout=60,
    )


def test_a_dry_run_analyses_what_the_hooks_recorded(project: Path) -> None:
    record_session(project)

    async def session(client: Client) -> Any:
        return await client.call_tool("run_self_distill", {"dryRun": True})

    result = with_server(project, session)

    manifest = result.structured_content
    assert manifest["sessionsProcessed"] == 1, manifest
    cli = cli_json("run", "--dry-run", "--project", str(project))
    assert cli["sessionsProcessed"] == 1
    assert manifest["lessons"], manifest  # the failure and its recovery give a lesson
    assert manifest["lessons"] == cli["lessons"]  # the same analysis as the CLI's
    validate("manifest", manifest)
    assert [row["awaitingApproval"] for row in manifest["lessons"]] == [False]  # one session


def test_a_real_run_writes_its_manifest(project: Path) -> None:
    async def session(client: Client) -> Any:
        return await client.call_tool("run_self_distill", {"dryRun": False})

    result = with_server(project, session)

    assert not result.is_error, result.content
    manifest = result.structured_content
    assert manifest["dryRun"] is False
    written = ProjectState.for_project(project).runs / f"{manifest['id']}.json"
    assert json.loads(written.read_text()) == manifest


def test_status_is_the_same_as_status_json(project: Path) -> None:
    async def session(client: Client) -> Any:
        await client.call_tool("run_self_distill", {"dryRun": False})
        return await client.call_tool("self_distill_status", {})

    result = with_server(project, session)

    assert not result.is_error, result.content
    status = result.structured_content
    assert status["totalRuns"] == 1 and status["running"] is False
    expected = cli_json("status", "--project", str(project))
    assert status == expected


def test_lessons_can_be_listed_shown_approved_and_rejected(project: Path) -> None:
    first, second = seed_lessons(project)

    async def session(client: Client) -> Any:
        listed = await client.call_tool("list_lessons", {})
        shown = await client.call_tool("show_lesson", {"id": first[:6]})
        unknown = await client.call_tool("show_lesson", {"id": "zzzzzz"})
        approved = await client.call_tool("approve_lesson", {"id": first})
        rejected = await client.call_tool("reject_lesson", {"id": second})
        after = await client.call_tool("list_lessons", {})
        return listed, shown, unknown, approved, rejected, after

    listed, shown, unknown, approved, rejected, after = with_server(project, session)

    assert [x["id"] for x in listed.structured_content["result"]] == [first, second]
    assert shown.structured_content["id"] == first
    assert unknown.is_error and "no lesson with id 'zzzzzz'" in unknown.content[0].text
    assert not approved.is_error, approved.content
    assert approved.structured_content["lesson"]["status"] == "active"
    assert rejected.structured_content["lesson"]["status"] == "rejected"
    statuses = {x["id"]: x["status"] for x in after.structured_content["result"]}
    assert statuses == {first: "active", second: "rejected"}
    # The same store the CLI reads.
    assert (
        cli_json("lessons", "list", "--project", str(project))
        == (after.structured_content["result"])
    )
    published = approved.structured_content["published"]
    assert published, "approving a lesson publishes it"
    claude_md = project / "CLAUDE.md"
    assert "python3 -m unittest discover -s tests" in claude_md.read_text()


def test_without_the_mcp_package_it_says_how_to_install_it(tmp_path: Path) -> None:
    # The SDK made unimportable, as in an installation without the extra.
    code = (
        "import sys; sys.modules['mcp'] = None; sys.modules['mcp_types'] = None; "
        "sys.argv = ['selfdistill', 'mcp']; from selfdistill.entry import main; main()"
    )

    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "selfdistill: the MCP server needs the 'mcp' package (version 2): "
        f"{shlex.quote(sys.executable)} -m pip install 'mcp>=2'"  # into selfdistill's Python
    ]


def test_a_missing_project_is_a_user_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(SELFDISTILL), "mcp", "--project", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )

    assert done.returncode == 1 and "no such project directory" in done.stderr


def test_review_mode_lessons_awaiting_approval_are_marked(project: Path) -> None:
    (project / ".claude").mkdir()
    (project / ".claude" / "selfdistill.json").write_text('{"mode": "review"}')
    first, second = seed_lessons(project)  # from two sessions, and from one

    async def session(client: Client) -> Any:
        listed = await client.call_tool("list_lessons", {})
        shown = await client.call_tool("show_lesson", {"id": first})
        status = await client.call_tool("self_distill_status", {})
        await client.call_tool("approve_lesson", {"id": first})
        after = await client.call_tool("self_distill_status", {})
        return listed, shown, status, after

    listed, shown, status, after = with_server(project, session)

    awaiting = {x["id"]: x["awaitingApproval"] for x in listed.structured_content["result"]}
    assert awaiting == {first: True, second: False}
    assert shown.structured_content["awaitingApproval"] is True
    assert status.structured_content["awaitingApproval"] == 1
    assert after.structured_content["awaitingApproval"] == 0
    assert after.structured_content == cli_json("status", "--project", str(project))
