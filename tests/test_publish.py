"""Publishing: which lesson goes where, the gate as the last door, journaling, concurrency."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from selfdistill import atomic, claudemd, publish
from selfdistill.config import PublishConfig
from selfdistill.model import Lesson
from selfdistill.paths import ProjectState
from tests.test_guard import PLANTED


@pytest.fixture
def state(tmp_path: Path) -> ProjectState:
    project = tmp_path / "project"
    project.mkdir()
    return ProjectState.for_project(project)


def active(ident: str, action: str = "", steps: tuple[str, ...] = (), **extra: object) -> Lesson:
    fields: dict[str, object] = {
        "kind": "procedure" if steps else "fact",
        "trigger": f"working on {ident}",
        "action": action or f"remember rule {ident}",
        "steps": steps,
        "status": "active",
    }
    fields.update(extra)
    return Lesson(id=ident, **fields)  # type: ignore[arg-type]


def everything_written(project: Path) -> str:
    return "\n".join(
        path.read_text(errors="replace") for path in sorted(project.rglob("*")) if path.is_file()
    )


def test_each_lesson_goes_to_its_place(state: ProjectState) -> None:
    lessons = [active("line"), active("proc", steps=("build it", "test it"))]
    result = publish.publish(state, lessons, "run-1")
    block = (state.project / "CLAUDE.md").read_text()
    skill = state.project / ".claude/skills/working-on-proc/SKILL.md"
    assert "remember rule line" in block and "remember rule proc" not in block
    assert "1. build it" in skill.read_text()
    assert sorted(result.changed) == sorted([str(state.project / "CLAUDE.md"), str(skill)])
    assert result.skipped == ()


def test_only_active_lessons_are_published(state: ProjectState) -> None:
    lessons = [active(f"s-{status}", status=status) for status in ("candidate", "held", "rejected")]
    publish.publish(state, [*lessons, active("yes")], "run-1")
    block = (state.project / "CLAUDE.md").read_text()
    assert "remember rule yes" in block and "s-candidate" not in block and "s-held" not in block


def test_no_planted_instruction_reaches_the_project(state: ProjectState) -> None:
    lessons = [active(f"bad{n}", action=text) for n, text in enumerate(PLANTED)]
    lessons += [active(f"badstep{n}", steps=("ok", text)) for n, text in enumerate(PLANTED)]
    result = publish.publish(state, [*lessons, active("good")], "run-1")
    assert {ident for ident, _ in result.skipped} == {lesson.id for lesson in lessons}
    assert all(reason.startswith("held by the safety gate") for _, reason in result.skipped)
    written = everything_written(state.project)
    assert "remember rule good" in written
    assert not any(text in written for text in PLANTED)
    assert "bad" not in written


def test_previous_set_is_replaced(state: ProjectState) -> None:
    publish.publish(state, [active("a"), active("b")], "run-1")
    publish.publish(state, [active("b"), active("c")], "run-2")
    block = (state.project / "CLAUDE.md").read_text()
    assert "rule a" not in block and "rule b" in block and "rule c" in block


def test_journal_records_before_and_after(state: ProjectState) -> None:
    (state.project / "CLAUDE.md").write_text("mine\n")
    publish.publish(state, [active("a"), active("p", steps=("x", "y"))], "run-1")
    record = json.loads((state.journal / "run-1.json").read_text())
    kinds = {entry["kind"]: entry for entry in record["entries"]}
    assert kinds["claude_md"]["before"] is None
    assert "remember rule a" in kinds["claude_md"]["after"]
    assert kinds["skill"]["before"] is None and "1. x" in kinds["skill"]["after"]
    assert kinds["skill"]["lesson"] == "p"


def test_concurrent_edit_is_merged_not_lost(
    state: ProjectState, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = state.project / "CLAUDE.md"
    path.write_bytes(b"first\n")
    real_render = claudemd.render
    calls: list[int] = []

    def render_while_the_user_types(*args: object, **kwargs: object) -> claudemd.Rendered:
        # An editor saves the file between our read and our write, once.
        if not calls:
            path.write_bytes(b"first\nsecond, typed meanwhile\n")
        calls.append(1)
        return real_render(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(claudemd, "render", render_while_the_user_types)
    result = publish.publish(state, [active("a")], "run-1")
    data = path.read_bytes()
    assert data.startswith(b"first\nsecond, typed meanwhile\n" + claudemd.BEGIN)
    assert len(calls) == 2 and result.changed == (str(path),)


def test_gives_up_when_the_file_never_settles(
    state: ProjectState, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = state.project / "CLAUDE.md"
    path.write_bytes(b"0\n")
    real_render = claudemd.render
    counter = iter(range(1, 100))

    def always_changing(*args: object, **kwargs: object) -> claudemd.Rendered:
        path.write_bytes(f"{next(counter)}\n".encode())
        return real_render(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(claudemd, "render", always_changing)
    result = publish.publish(state, [active("a")], "run-1")
    assert result.changed == ()
    assert "kept changing" in result.skipped[0][1]
    assert claudemd.BEGIN not in path.read_bytes()


def test_result_is_immutable(state: ProjectState) -> None:
    result = publish.publish(state, [active("a")], "run-1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.changed = ()  # type: ignore[misc]


def test_over_budget_lessons_are_reported(state: ProjectState) -> None:
    lessons = [active(f"l{n:03d}", action="word " * 30) for n in range(80)]
    result = publish.publish(state, lessons, "run-1")
    left_out = [ident for ident, reason in result.skipped if "size budget" in reason]
    assert left_out
    block = (state.project / "CLAUDE.md").read_bytes()
    assert len(block) <= claudemd.MAX_BLOCK_BYTES + 10


def test_the_block_budget_follows_the_configuration(state: ProjectState) -> None:
    lessons = [active(f"l{n}") for n in range(5)]
    result = publish.publish(state, lessons, "run-1", PublishConfig(max_block_lines=2))
    block = claudemd.split((state.project / "CLAUDE.md").read_bytes()).region or b""
    assert len(claudemd.block_ids(block)) == 2 and b"3 more lesson(s) left out" in block
    assert len([ident for ident, reason in result.skipped if "size budget" in reason]) == 3
    publish.publish(state, lessons, "run-2", PublishConfig(max_block_bytes=400))
    assert len((state.project / "CLAUDE.md").read_bytes()) <= 400


def test_procedures_are_lines_when_skills_are_off(state: ProjectState) -> None:
    lessons = [active("line"), active("proc", steps=("build it", "test it"))]
    publish.publish(state, lessons, "run-1")
    publish.publish(state, lessons, "run-2", PublishConfig(skills=False))
    block = (state.project / "CLAUDE.md").read_text()
    assert "remember rule line" in block and "remember rule proc" in block
    assert not (state.project / ".claude/skills/working-on-proc").exists()  # taken out again


def test_with_claude_md_off_the_block_shows_no_lesson(state: ProjectState) -> None:
    (state.project / "CLAUDE.md").write_text("# Mine\n")
    off = PublishConfig(claude_md=False)
    result = publish.publish(state, [active("line")], "run-1", off)
    assert (state.project / "CLAUDE.md").read_text() == "# Mine\n"  # no block: left alone
    assert result.skipped == (("line", "publishing to CLAUDE.md is off (publish.claudeMd)"),)
    publish.publish(state, [active("line")], "run-2")
    publish.publish(state, [active("line")], "run-3", off)  # turned off later: taken out
    assert "remember rule line" not in (state.project / "CLAUDE.md").read_text()


def test_a_read_only_claude_md_is_left_alone_with_a_message(state: ProjectState) -> None:
    path = state.project / "CLAUDE.md"
    path.write_bytes(b"# Read-only notes\n")
    path.chmod(0o444)  # the mode is checked, not tried: as root, a write would go through
    result = publish.publish(state, [active("a")], "run-1")
    assert path.read_bytes() == b"# Read-only notes\n" and path.stat().st_mode & 0o777 == 0o444
    assert result.errors == (
        f"cannot write {path}: it is read-only (no write permission); left alone",
    )
    assert result.changed == () and result.skipped == (("a", result.errors[0]),)
    path.chmod(0o644)
    assert publish.publish(state, [active("a")], "run-2").changed == (str(path),)


def test_a_read_only_skill_is_left_alone_with_a_message(state: ProjectState) -> None:
    publish.publish(state, [active("p", steps=("one", "two"))], "run-1")
    skill = state.project / ".claude/skills/working-on-p/SKILL.md"
    first = skill.read_bytes()
    skill.chmod(0o444)
    result = publish.publish(state, [], "run-2")
    assert skill.read_bytes() == first
    assert result.errors == (
        f"cannot write {skill}: it is read-only (no write permission); left alone",
    )
    skill.chmod(0o644)
    publish.publish(state, [], "run-3")  # still ours: taken out once it may be written
    assert not skill.exists()


@pytest.mark.parametrize(
    ("call", "code", "reason"),
    [
        ("mkstemp", errno.EACCES, "the folder is not writable (permission denied)"),
        ("mkstemp", errno.EROFS, "the folder is not writable (read-only file system)"),
        ("replace", errno.EPERM, "the file cannot be replaced (operation not permitted)"),
        ("_fill", errno.ENOSPC, "the disk is full (no space left on device)"),
    ],
)
def test_a_write_failure_names_the_file_and_why(
    state: ProjectState, monkeypatch: pytest.MonkeyPatch, call: str, code: int, reason: str
) -> None:
    path = state.project / "CLAUDE.md"
    path.write_bytes(b"mine\n")
    module: Any = {"mkstemp": tempfile, "replace": os, "_fill": atomic}[call]
    real = getattr(module, call)

    def fail_in_the_project(*args: Any, **kwargs: Any) -> Any:
        seen = repr((args, kwargs))
        if str(state.project) not in seen and "selfdistill:begin" not in seen:
            return real(*args, **kwargs)  # selfdistill's own state is written as usual
        # What the system says names our temporary file, not the user's.
        raise OSError(code, os.strerror(code), str(state.project / ".CLAUDE.md.lc84otay.tmp"))

    monkeypatch.setattr(module, call, fail_in_the_project)
    result = publish.publish(state, [active("a")], "run-1")
    monkeypatch.undo()
    assert result.errors == (f"cannot write {path}: {reason}",)
    assert path.read_bytes() == b"mine\n"
    assert [p.name for p in state.project.iterdir()] == ["CLAUDE.md"]  # no temporary file left


@pytest.mark.e2e
def test_the_real_claude_code_reads_what_was_published(tmp_path: Path) -> None:
    """The point of publishing: the next session's agent is sent the block and the skill."""
    from tests.support.claude_cli import claude_binary, run_claude
    from tests.support.fake_api import FakeAnthropic, body_text, text
    from tests.support.scenarios import make_project

    claude_binary()  # skips when the binary is not installed
    project = make_project(tmp_path / "proj")
    (project / "CLAUDE.md").write_text("# Project notes\nUse four spaces.\n")
    state = ProjectState.for_project(project)
    lessons = [
        active("fact1", action="use `python3 -m unittest discover -s tests` for the tests"),
        active("proc1", trigger="releasing calc", steps=("bump the version", "tag it")),
    ]
    publish.publish(state, lessons, "run-1")
    with FakeAnthropic([text("ok")]) as api:
        done = run_claude(project, "hello", api)
    assert done.returncode == 0, done.stderr
    seen = body_text(api.main_requests[0])
    assert "Use four spaces." in seen
    assert "python3 -m unittest discover -s tests" in seen  # the CLAUDE.md block
    assert "releasing-calc" in seen and "Use when releasing calc" in seen  # the skill listing
