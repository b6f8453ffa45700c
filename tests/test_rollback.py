"""Rollback: a run's block and skills come back; the user's later edits outside stay."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from selfdistill import claudemd, distill, journal, lessons
from selfdistill.claudemd import BEGIN
from selfdistill.config import PublishConfig
from selfdistill.errors import UserError
from selfdistill.model import Lesson
from selfdistill.paths import ProjectState
from selfdistill.publish import publish


@pytest.fixture
def state(tmp_path: Path) -> ProjectState:
    project = tmp_path / "project"
    project.mkdir()
    return ProjectState.for_project(project)


def active(ident: str, steps: tuple[str, ...] = ()) -> Lesson:
    return Lesson(
        id=ident,
        kind="procedure" if steps else "fact",
        trigger=f"working on {ident}",
        action=f"remember rule {ident}",
        steps=steps,
        status="active",
    )


def claude_md(state: ProjectState) -> Path:
    return state.project / "CLAUDE.md"


def test_rollback_of_the_only_run_restores_the_file_exactly(state: ProjectState) -> None:
    original = b"# Mine\r\nno newline at the end"
    claude_md(state).write_bytes(original)
    publish(state, [active("a")], "run-1")
    assert journal.rollback(state, None) == (str(claude_md(state)),)
    assert claude_md(state).read_bytes() == original


def test_rollback_of_a_created_file_removes_it(state: ProjectState) -> None:
    publish(state, [active("a")], "run-1")
    journal.rollback(state, None)
    assert not claude_md(state).exists()


def test_rollback_last_restores_the_previous_block(state: ProjectState) -> None:
    claude_md(state).write_bytes(b"top\n")
    publish(state, [active("a")], "run-1")
    after_first = claude_md(state).read_bytes()
    publish(state, [active("b")], "run-2")
    journal.rollback(state, None)
    assert claude_md(state).read_bytes() == after_first
    journal.rollback(state, None)  # --last now means run-1
    assert claude_md(state).read_bytes() == b"top\n"


def test_rollback_keeps_later_user_edits_outside_the_block(state: ProjectState) -> None:
    claude_md(state).write_bytes(b"top\n")
    publish(state, [active("a")], "run-1")
    publish(state, [active("b")], "run-2")
    data = claude_md(state).read_bytes()
    claude_md(state).write_bytes(b"# new title\n" + data + b"written later\n")
    journal.rollback(state, "run-2")
    data = claude_md(state).read_bytes()
    assert data.startswith(b"# new title\ntop\n" + BEGIN)
    assert data.endswith(b"written later\n")
    assert b"remember rule a" in data and b"remember rule b" not in data


def test_rollback_of_a_named_older_run(state: ProjectState) -> None:
    publish(state, [active("a")], "run-1")
    publish(state, [active("a"), active("b")], "run-2")
    journal.rollback(state, "run-1")
    assert not claude_md(state).exists() or BEGIN not in claude_md(state).read_bytes()
    with pytest.raises(UserError, match="already rolled back"):
        journal.rollback(state, "run-1")


def test_rollback_brings_back_the_users_words_inside_the_block(state: ProjectState) -> None:
    publish(state, [active("a")], "run-1")
    edited = claude_md(state).read_bytes().replace(b"remember rule a", b"my own words")
    claude_md(state).write_bytes(edited)
    publish(state, [active("a")], "run-2")
    journal.rollback(state, "run-2")
    assert claude_md(state).read_bytes() == edited


def test_rollback_removes_created_skills_and_restores_changed_ones(state: ProjectState) -> None:
    publish(state, [active("p", ("one", "two"))], "run-1")
    path = state.project / ".claude/skills/working-on-p/SKILL.md"
    first = path.read_bytes()
    publish(state, [active("p", ("one", "two", "three"))], "run-2")
    journal.rollback(state, "run-2")
    assert path.read_bytes() == first
    journal.rollback(state, "run-1")
    assert not path.parent.exists()
    # ownership follows: a new publish may create it again under the same name
    publish(state, [active("p", ("one", "two"))], "run-3")
    assert path.read_bytes() == first


def test_rollback_restores_a_removed_skill_as_ours(state: ProjectState) -> None:
    publish(state, [active("p", ("one", "two"))], "run-1")
    path = state.project / ".claude/skills/working-on-p/SKILL.md"
    first = path.read_bytes()
    publish(state, [], "run-2")
    assert not path.exists()
    journal.rollback(state, "run-2")
    assert path.read_bytes() == first
    publish(state, [], "run-3")  # still ours: removed again when the lesson is gone
    assert not path.exists()


def test_rollback_leaves_a_skill_edited_since(state: ProjectState) -> None:
    publish(state, [active("p", ("one", "two"))], "run-1")
    path = state.project / ".claude/skills/working-on-p/SKILL.md"
    path.write_bytes(path.read_bytes() + b"user addition\n")
    result = journal.rollback_run(state, "run-1")
    assert path.read_bytes().endswith(b"user addition\n")
    assert result.kept == ((str(path), "changed since that run"),)


def test_unknown_run_and_nothing_to_roll_back(state: ProjectState) -> None:
    with pytest.raises(UserError, match="nothing to roll back"):
        journal.rollback(state, None)
    with pytest.raises(UserError, match="unknown run id"):
        journal.rollback(state, "no-such-run")
    with pytest.raises(UserError, match="not a run id"):
        journal.rollback(state, "../escape")


def test_runs_that_wrote_nothing_are_not_journaled(state: ProjectState) -> None:
    publish(state, [active("a")], "run-1")
    publish(state, [active("a")], "run-2")
    assert [run["run"] for run in journal.runs(state)] == ["run-1"]
    with pytest.raises(UserError, match=r"runs that wrote here and can be rolled back: run-1$"):
        journal.rollback(state, "run-9")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "selfdistill", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=False,
    )


A, B, C = "aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc"


def run_publishes(state: ProjectState, run_id: str, *lessons_in: Lesson) -> None:
    """What a run does: store the lessons, then write back the active ones."""
    lessons.update_lessons(state, lambda current: lessons_in)
    distill.publish(state, lessons_in, run_id, PublishConfig())


def block(state: ProjectState) -> tuple[str, ...]:
    return claudemd.block_ids(claudemd.split(claude_md(state).read_bytes()).region or b"")


def test_cli_rollback(state: ProjectState) -> None:
    (state.project / ".git").mkdir()  # the project root is found from the working directory
    claude_md(state).write_bytes(b"top\n")
    run_publishes(state, "run-1", active(A))
    run_publishes(state, "run-2", active(A), active(B))
    done = cli("rollback", "run-2", "--json", cwd=state.project)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "runId": "run-2",
        "restored": [str(claude_md(state))],
        "kept": [],
        "held": [B],
    }
    done = cli("rollback", "--last", "--project", str(state.project), cwd=state.project.parent)
    assert done.returncode == 0 and "Rolled back run run-1" in done.stdout
    assert f"held {A}" in done.stdout
    assert claude_md(state).read_bytes() == b"top\n"


def test_what_a_rollback_took_out_stays_out(state: ProjectState) -> None:
    claude_md(state).write_bytes(b"top\n")
    run_publishes(state, "run-1", active(A))
    distill.rollback(state, "run-1")
    [held] = lessons.read_lessons(state)
    assert held.status == "held" and "rolled back" in (held.hold_reason or "")
    distill.publish(state, lessons.read_lessons(state), "run-2", PublishConfig())  # the next run
    assert claude_md(state).read_bytes() == b"top\n"


def test_rolling_back_an_older_run_keeps_a_later_run_s_lessons(state: ProjectState) -> None:
    claude_md(state).write_bytes(b"top\n")
    run_publishes(state, "run-1", active(A))
    run_publishes(state, "run-2", active(A), active(B))
    _, held = distill.rollback(state, "run-1")
    assert held == (A,) and block(state) == (B,)
    assert claude_md(state).read_bytes().startswith(b"top\n" + BEGIN)


def test_a_decision_is_not_rolled_back_and_a_rejected_lesson_stays_out(
    state: ProjectState,
) -> None:
    claude_md(state).write_bytes(b"top\n")
    run_publishes(state, "run-1", active(A), active(B))
    lessons.update_lessons(
        state,
        lambda current: tuple(replace(x, status="rejected") if x.id == A else x for x in current),
    )
    distill.publish(
        state, lessons.read_lessons(state), journal.DECISION_PREFIX + "r1", PublishConfig()
    )
    assert block(state) == (B,)
    with pytest.raises(UserError, match="decide again"):
        distill.rollback(state, journal.DECISION_PREFIX + "r1")
    result, held = distill.rollback(state, None)  # --last: the run, not the decision after it
    assert (result.run_id, held) == ("run-1", (B,))
    assert claude_md(state).read_bytes() == b"top\n"  # A, rejected, did not come back
    with pytest.raises(UserError, match=r"left came from your decisions .* not from a run"):
        distill.rollback(state, None)


def test_with_every_run_rolled_back_there_is_nothing_left_to_roll_back(
    state: ProjectState,
) -> None:
    run_publishes(state, "run-1", active(A))
    distill.rollback(state, None)
    with pytest.raises(UserError, match="every run that wrote to this project has been rolled"):
        distill.rollback(state, None)
    with pytest.raises(UserError, match=r"unknown run id 'run-9'; every run that wrote"):
        distill.rollback(state, "run-9")
    for n in range(2, 6):
        run_publishes(state, f"run-{n}", active(f"{n:010d}"))
    with pytest.raises(UserError, match=r"the last 3 runs that wrote .*: run-3, run-4, run-5$"):
        distill.rollback(state, "run-9")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("rollback", "--last"), "nothing to roll back"),
        (("rollback", "nope"), "unknown run id"),
        (("rollback", "x", "--last"), "not both"),
    ],
)
def test_cli_errors_are_one_line(state: ProjectState, args: tuple[str, ...], message: str) -> None:
    done = cli(*args, "--project", str(state.project), cwd=state.project)
    assert done.returncode == 1
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert done.stdout == ""


def test_approve_then_reject_in_review_mode_gives_back_the_file(tmp_path: Path) -> None:
    from tests.test_lessons_cli import listed, seeded
    from tests.test_run_cli import selfdistill

    project = seeded(tmp_path)
    (project / ".claude").mkdir(exist_ok=True)
    (project / ".claude/selfdistill.json").write_text('{"mode": "review"}')
    for original in (b"# Notes\r\nno final newline", None):
        if original is not None:
            (project / "CLAUDE.md").write_bytes(original)
        ident = str(listed(project)[0]["id"])
        assert selfdistill("lessons", "approve", ident, cwd=project).returncode == 0
        assert BEGIN in (project / "CLAUDE.md").read_bytes()
        assert selfdistill("rollback", "--last", cwd=project).returncode == 1  # a decision
        done = selfdistill("lessons", "reject", ident, cwd=project)
        assert done.returncode == 0, done.stderr
        if original is None:
            assert not (project / "CLAUDE.md").exists()  # selfdistill made it: it goes
            assert f"  removed {project / 'CLAUDE.md'}" in done.stdout
        else:
            assert f"  updated {project / 'CLAUDE.md'}" in done.stdout
            assert (project / "CLAUDE.md").read_bytes() == original
            (project / "CLAUDE.md").unlink()


@pytest.mark.parametrize("original", [b"top", None])
def test_rolling_back_the_removal_puts_the_block_back(
    state: ProjectState, original: bytes | None
) -> None:
    if original is not None:
        claude_md(state).write_bytes(original)
    publish(state, [active("a")], "run-1")
    with_block = claude_md(state).read_bytes()
    publish(state, [], "run-2")
    journal.rollback(state, "run-2")
    assert claude_md(state).read_bytes() == with_block
    publish(state, [], "run-3")  # and taken out again, as the first time
    if original is None:
        assert not claude_md(state).exists()
    else:
        assert claude_md(state).read_bytes() == original


def test_a_line_appended_after_the_block_stays_after_a_rollback(state: ProjectState) -> None:
    claude_md(state).write_bytes(b"# RB\n")
    publish(state, [active("a")], "run-1")
    with claude_md(state).open("ab") as handle:  # `echo "user line" >> CLAUDE.md`
        handle.write(b"user line between runs\n")
    journal.rollback(state, "run-1")
    assert claude_md(state).read_bytes() == b"# RB\nuser line between runs\n"


def test_a_read_only_claude_md_is_not_rolled_back(state: ProjectState) -> None:
    claude_md(state).write_bytes(b"top\n")
    publish(state, [active("a")], "run-1")
    data = claude_md(state).read_bytes()
    claude_md(state).chmod(0o444)
    result = journal.rollback_run(state, "run-1")
    assert claude_md(state).read_bytes() == data
    path = str(claude_md(state))
    assert result.kept == (
        (path, f"cannot write {path}: it is read-only (no write permission); left alone"),
    )


def reject_all(state: ProjectState, decision: str) -> None:
    rejected = tuple(replace(x, status="rejected") for x in lessons.read_lessons(state))
    lessons.update_lessons(state, lambda current: rejected)
    distill.publish(state, rejected, journal.DECISION_PREFIX + decision, PublishConfig())


@pytest.mark.parametrize("original", [b"# T\n", b"# T\r\nno final newline", b""])
def test_rolling_back_a_run_after_its_lessons_were_rejected_brings_none_back(
    state: ProjectState, original: bytes
) -> None:
    if original:
        claude_md(state).write_bytes(original)
    run_publishes(state, "run-1", active(A))
    run_publishes(state, "run-2", active(A), active(B))
    reject_all(state, "d1")
    assert claude_md(state).read_bytes() == original if original else not claude_md(state).exists()
    distill.rollback(state, "run-2")  # it had put B in: the block it restores holds A, rejected
    assert claude_md(state).read_bytes() == original if original else not claude_md(state).exists()
    # and a lesson active again later is appended as on the first time, then taken out exactly
    run_publishes(state, "run-3", active(C))
    assert block(state) == (C,)
    reject_all(state, "d2")
    assert claude_md(state).read_bytes() == original if original else not claude_md(state).exists()


def test_rollback_of_a_skill_gone_since_says_so(state: ProjectState) -> None:
    publish(state, [active("p", ("one", "two"))], "run-1")
    path = state.project / ".claude/skills/working-on-p/SKILL.md"
    path.unlink()
    result = journal.rollback_run(state, "run-1")
    assert result.kept == ((str(path), "gone since that run"),)


def test_a_line_added_above_the_block_keeps_its_line_ending_when_the_block_goes(
    state: ProjectState,
) -> None:
    claude_md(state).write_bytes(b"# T")  # no final newline: one is added before the block
    run_publishes(state, "run-1", active(A))
    data = claude_md(state).read_bytes()
    at = data.index(BEGIN)
    claude_md(state).write_bytes(data[:at] + b"added by me\n" + data[at:])
    reject_all(state, "d1")
    assert claude_md(state).read_bytes() == b"# T\nadded by me\n"


def test_a_block_moved_by_a_rollback_leaves_the_user_s_line_ending(state: ProjectState) -> None:
    claude_md(state).write_bytes(b"# T")
    run_publishes(state, "run-1", active(A))
    with claude_md(state).open("ab") as notes:
        notes.write(b"mine\n")  # after the block
    retired = (replace(active(A), status="retired"),)
    lessons.update_lessons(state, lambda current: retired)
    distill.publish(state, retired, "run-2", PublishConfig())  # the last lesson retired
    assert claude_md(state).read_bytes() == b"# T\nmine\n"
    distill.rollback(state, "run-2")  # the block comes back at the end, then goes again
    assert claude_md(state).read_bytes() == b"# T\nmine\n"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ((b"# T", b"# new top\n# T"), b"# new top\n# T"),  # a line added at the top
        ((b"# T\r\nsee the notes", b"# Title\r\nsee the notes"), b"# Title\r\nsee the notes"),
    ],
)
def test_an_edit_above_the_last_line_gives_back_a_file_without_a_final_newline(
    state: ProjectState, edit: tuple[bytes, bytes], expected: bytes
) -> None:
    original, edited = edit
    claude_md(state).write_bytes(original)  # no final newline: one is added before the block
    run_publishes(state, "run-1", active(A))
    data = claude_md(state).read_bytes()
    claude_md(state).write_bytes(edited + data[len(original) :])
    reject_all(state, "d1")
    assert claude_md(state).read_bytes() == expected
