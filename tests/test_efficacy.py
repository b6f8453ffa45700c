"""Efficacy: later sessions decide whether a published lesson helped, hurt, or said nothing."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from selfdistill.efficacy import (
    HELPED,
    HURT,
    Policy,
    assess,
    judged_by,
    signal_target,
    verdict,
)
from selfdistill.heuristics import CORRECTED, correction_lesson, correction_target
from selfdistill.model import Lesson, SessionReport, Signal, Use

PUBLISHED = "2026-11-01T10:00:00Z"
TARGET = "python3 -m pytest|not-installed"


def failing_pytest(session: str) -> Signal:
    return Signal(
        kind="tool_error",
        file="t.jsonl",
        session_id=session,
        uuid=f"{session}-u1",
        excerpt="No module named pytest",
        tool_name="Bash",
        subject="python3 -m pytest -q",
        detail="Exit code 1\n/usr/bin/python3: No module named pytest",
        category="command_failed",
        exit_code=1,
    )


def report(
    session: str, started: str, signals: tuple[Signal, ...], commands: tuple[str, ...]
) -> SessionReport:
    return SessionReport(
        file="t.jsonl",
        session_id=session,
        signals=signals,
        outcome="neutral",
        started_at=started,
        commands=tuple(Use(command) for command in commands),
    )


def lesson(**changes: Any) -> Lesson:
    base = Lesson(
        id="abc",
        kind="fact",
        trigger="Using `python3 -m pytest`",
        action="use `python3 -m unittest discover -s tests` instead",
        status="active",
        confidence=0.8,
        published_at=PUBLISHED,
        target=TARGET,
    )
    return replace(base, **changes)


def test_signature_of_a_missing_runner() -> None:
    assert signal_target(failing_pytest("s")) == TARGET


def test_recurrence_after_publication_hurts() -> None:
    later = report("s2", "2026-11-02T09:00:00Z", (failing_pytest("s2"),), ("python3 -m pytest",))
    assert verdict(lesson(), later) == HURT


def test_same_program_without_the_failure_helps() -> None:
    later = report("s2", "2026-11-02T09:00:00Z", (), ("python3 -m pytest tests/test_calc.py",))
    assert verdict(lesson(), later) == HELPED


def test_sessions_before_publication_or_unrelated_say_nothing() -> None:
    before = report("s0", "2026-10-30T09:00:00Z", (failing_pytest("s0"),), ("python3 -m pytest",))
    unrelated = report("s3", "2026-11-03T09:00:00Z", (), ("ls", "git status"))
    assert verdict(lesson(), before) is None
    assert verdict(lesson(), unrelated) is None
    assert verdict(lesson(published_at=None), unrelated) is None


def test_each_session_counts_once_and_repeated_recurrence_retires() -> None:
    policy = Policy(retire_after=2)
    first = report("s2", "2026-11-02T09:00:00Z", (failing_pytest("s2"),), ())
    second = report("s3", "2026-11-03T09:00:00Z", (failing_pytest("s3"),), ())
    once = assess([lesson()], [first, first], policy, "now")[0]
    assert (once.hurt, once.status) == (1, "active")
    assert once.confidence < lesson().confidence  # demoted
    again = assess([once], [first, second], policy, "now")[0]
    assert (again.hurt, again.status) == (2, "retired")
    assert again.retire_reason and "recurred in 2 sessions" in again.retire_reason


def test_a_lesson_that_helps_is_kept_despite_one_recurrence() -> None:
    policy = Policy(retire_after=2)
    helped = [
        report(f"h{i}", f"2026-11-0{i + 2}T09:00:00Z", (), ("python3 -m pytest",)) for i in range(3)
    ]
    hurt = [
        report(f"x{i}", "2026-11-08T09:00:00Z", (failing_pytest(f"x{i}"),), ()) for i in range(2)
    ]
    result = assess([lesson()], [*helped, *hurt], policy, "now")[0]
    assert (result.helped, result.hurt, result.status) == (3, 2, "active")


def test_only_active_lessons_are_judged() -> None:
    later = report("s2", "2026-11-02T09:00:00Z", (failing_pytest("s2"),), ())
    retired = lesson(status="candidate")
    assert assess([retired], [later], Policy(), "now") == [retired]


def tool_error(session: str, tool: str, subject: str, error: str, category: str) -> Signal:
    return Signal(
        kind="tool_error",
        file="t.jsonl",
        session_id=session,
        uuid=f"{session}-t",
        excerpt=error,
        tool_name=tool,
        subject=subject,
        detail=error,
        category=category,
    )


def later(
    signals: tuple[Signal, ...] = (), commands: tuple[str, ...] = (), reads: tuple[str, ...] = ()
) -> SessionReport:
    session = report("s2", "2026-11-02T09:00:00Z", signals, commands)
    return replace(session, cwd="/proj", reads=tuple(Use(path) for path in reads))


TOO_BIG = "File content (31000 tokens) exceeds maximum allowed tokens (25000)."


def test_a_file_too_large_to_read_hurts_when_read_whole_again_and_helps_when_read_in_parts() -> (
    None
):
    fact = lesson(target="Read docs/spec.md|too-large")
    again = tool_error("s2", "Read", "/proj/docs/spec.md", TOO_BIG, "too_large")
    other = tool_error("s2", "Read", "/proj/docs/other.md", TOO_BIG, "too_large")
    assert verdict(fact, later((again,), reads=("/proj/docs/spec.md",))) == HURT
    assert verdict(fact, later((other,), reads=("/proj/docs/spec.md",))) == HELPED
    assert verdict(fact, later(reads=("/proj/docs/other.md",))) is None


def test_a_hook_rule_hurts_whichever_file_it_stops_and_never_counts_as_helped() -> None:
    rule = lesson(target="file too large: # lines (limit: # lines)|hook-rule")
    said = "PreToolUse:Read hook error: [guard.py]: File too large: 803 lines (limit: 500 lines)"
    blocked = tool_error("s2", "Read", "/proj/notes/big.md", said, "hook_blocked")
    assert verdict(rule, later((blocked,))) == HURT
    assert verdict(rule, later(reads=("/proj/notes/big.md",))) is None


def test_a_missing_subagent_hurts_only_when_asked_for_again() -> None:
    fact = lesson(target="agent code-reviewer|missing")
    said = "Agent type 'code-reviewer' not found. Available agents: general-purpose"
    again = tool_error("s2", "Task", "code-reviewer: review", said, "tool_unavailable")
    elsewhere = tool_error(
        "s2", "Task", "planner: plan", said.replace("code-", ""), "tool_unavailable"
    )
    assert verdict(fact, later((again,))) == HURT
    assert verdict(fact, later((elsewhere,))) is None


def test_an_ask_first_preference_hurts_when_stopped_again_and_helps_when_run_unstopped() -> None:
    ask = lesson(kind="preference", target="running `dev` with npm, pnpm, yarn or bun|rejected")
    stopped = Signal(
        "rejection", "t.jsonl", "s2", "s2-r", "", tool_name="Bash", subject="npm run dev"
    )
    assert verdict(ask, later((stopped,), commands=("npm run dev",))) == HURT
    assert verdict(ask, later(commands=("cd web && pnpm dev",))) == HELPED
    assert verdict(ask, later(commands=("pnpm build",))) is None


def test_a_resumed_session_is_judged_only_by_what_it_did_after_publication() -> None:
    # Resuming copies the parent's entries with their old timestamps into the new transcript.
    copied = replace(failing_pytest("s2"), timestamp="2026-10-31T09:00:00Z")
    fresh = replace(failing_pytest("s2"), timestamp="2026-11-02T09:05:00Z")
    resumed = report("s2", "2026-11-02T09:00:00Z", (copied,), ())
    assert verdict(lesson(), resumed) is None
    assert verdict(lesson(), replace(resumed, signals=(copied, fresh))) == HURT
    old_run = (Use("python3 -m pytest", "2026-10-31T09:01:00Z"),)
    assert verdict(lesson(), replace(resumed, commands=old_run)) is None
    new_run = (Use("python3 -m pytest", "2026-11-02T09:06:00Z"),)
    assert verdict(lesson(), replace(resumed, commands=new_run)) == HELPED


def correction(text: str, session: str = "s2") -> Signal:
    return Signal("correction", "t.jsonl", session, f"{session}-c", text[:300], detail=text)


PLANS = "the location of the plans should be in .claude/plans, not .claude/brains/plans/."


def test_a_correction_lesson_hurts_when_the_user_makes_the_same_correction_again() -> None:
    made = correction_lesson(correction(PLANS, "s1"), "2026-11-01T09:00:00Z")
    assert made is not None and made.target is not None
    assert made.target.endswith(CORRECTED)
    typed = lesson(kind="preference", target=made.target)
    again = correction("no, the plans go in .claude/plans, not under brains")
    elsewhere = correction("no, the tests should live in tests/unit")
    assert verdict(typed, later((again,))) == HURT
    assert verdict(typed, later((elsewhere,))) is None
    # The same words in a prompt no one judged a correction are a new request, not a relapse.
    asked = replace(again, kind="approval")
    assert verdict(typed, later((asked,), commands=("ls .claude/plans",))) is None


def test_a_correction_repeated_in_two_sessions_retires_its_lesson_with_that_reason() -> None:
    made = correction_lesson(correction(PLANS, "s1"), "2026-11-01T09:00:00Z")
    assert made is not None
    typed = lesson(kind="preference", target=made.target)
    sessions = [
        report(name, f"2026-11-0{day}T09:00:00Z", (correction(PLANS, name),), ())
        for name, day in (("s2", 2), ("s3", 3))
    ]
    result = assess([typed], sessions, Policy(retire_after=2), "now")[0]
    assert (result.hurt, result.status) == (2, "retired")
    assert result.retire_reason and "same correction again in 2 sessions" in result.retire_reason


def test_a_correction_target_needs_a_few_key_words_not_a_whole_page() -> None:
    assert correction_target("no") is None
    assert correction_target(" ".join(f"word{i}" for i in range(40))) is None
    assert correction_target("use pnpm, not npm") == f"npm pnpm{CORRECTED}"


def test_words_of_any_correction_do_not_make_two_corrections_one() -> None:
    target = correction_target("Always run the tests before you commit anything.")
    assert target == f"commit test{CORRECTED}"
    rule = lesson(kind="preference", target=target)
    other = correction("no, that is still wrong, fix it again, something is not working")
    assert verdict(rule, later((other,))) is None
    assert (
        verdict(rule, later((correction("you did not run the tests before the commit"),))) == HURT
    )


@pytest.mark.parametrize(
    ("target", "said"),
    [
        (None, "not measured"),
        (TARGET, "`python3 -m pytest` failing again (not-installed) counts against it"),
        ("Read docs/spec.md|too-large", "reading `docs/spec.md` whole again"),
        ("agent code-reviewer|missing", "the subagent `code-reviewer` missing again"),
        ("mcp github|missing", "the MCP server `github` missing again"),
        ("/deploy|missing", "`/deploy` missing again"),
        ("running `jq`|rejected", "running `jq` being stopped again"),
        ("file too large: # lines|hook-rule", "the hook blocking again (file too large"),
        (f"npm pnpm{CORRECTED}", "the same correction again (words: npm, pnpm)"),
    ],
)
def test_what_judges_a_lesson_is_said_in_words(target: str | None, said: str) -> None:
    assert said in judged_by(target)
