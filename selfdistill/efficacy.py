"""Does a published lesson help? Later sessions decide, not the lesson's author.

A lesson that targets a failure carries that failure's signature (`Lesson.target`, e.g.
`python3 -m pytest|not-installed`; `Read docs/spec.md|too-large` for a file too large to read at
once, `<the hook's rule>|hook-rule`, `agent reviewer|missing`, `<what was stopped>|rejected` for
an ask-first preference, `<key words>|corrected` for what the user corrected). Every session that
starts after the lesson was published is judged once for it, by what it did after that moment (a
resumed session repeats its parent's entries, old timestamps and all):
- hurt: the targeted failure happened again, or the user made the same correction again, with
  the lesson in the agent's context;
- helped: the session did the kind of work the lesson is about (ran the same program, read the
  same file) and the failure did not recur;
- otherwise the session says nothing about the lesson (nothing marks a session that needed a
  hook's rule, a missing tool or a correction and did without, so those lessons are only ever
  hurt).
A lesson whose failure keeps recurring is demoted (lower confidence, so it yields its place in the
CLAUDE.md budget) and then retired, which takes it out of CLAUDE.md at the next publish.
Measured this way, a lesson is kept only while the evidence says it is worth its context.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from selfdistill.heuristics import (
    CORRECTED,
    CORRECTION_WORDS,
    HOOK_RULE,
    MISSING,
    REJECTED,
    TOO_LARGE,
    clean_command,
    correction_target,
    failure_of,
    program,
    project_path,
    rejected_command,
    rejection_signature,
    tool_fact,
)
from selfdistill.lessons import tokens
from selfdistill.model import Evidence, Lesson, SessionReport, Signal, Use

HELPED = "efficacy:helped"
HURT = "efficacy:hurt"


@dataclass(frozen=True)
class Policy:
    retire_after: int = 2  # recurrences after publishing that retire a lesson
    demote_factor: float = 0.5  # confidence multiplier at each recurrence


def signal_target(signal: Signal, cwd: str | None = None) -> str | None:
    """The target a lesson about this signal would carry: `<program>|<cause class>` for an
    environment failure of a command, the fact's, the rejection's or the correction's target
    (see heuristics.py; `cwd` makes their paths relative), else None."""
    if signal.kind == "rejection":
        return rejection_signature(signal, cwd)
    if signal.kind == "correction":
        return correction_target(signal.detail)
    fact = tool_fact(signal, cwd, now="")
    if fact is not None:
        return fact.target
    failure = failure_of(signal)
    if failure is None:
        return None
    return f"{program(failure.command)}|{failure.cause_class}"


def did_the_work(report: SessionReport, target: str) -> bool:
    """Did the session do what the lesson is about, so that its failure could have come back?"""
    subject, _, cause = target.rpartition("|")
    tail = "|" + cause
    if tail == TOO_LARGE:
        path = subject.removeprefix("Read ")
        return any(project_path(read.subject, report.cwd) == path for read in report.reads)
    if tail == REJECTED:
        return any(f"running {rejected_command(c.subject)}" == subject for c in report.commands)
    if tail in (HOOK_RULE, MISSING, CORRECTED):
        return False
    return ran_program(report, subject)


def judged_by(target: str | None) -> str:
    """What decides a lesson's verdicts, in words (`lessons show`)."""
    if target is None:
        return "nothing: it targets no one failure, so it is not measured"
    subject, _, cause = target.rpartition("|")
    tail = "|" + cause
    if tail == TOO_LARGE:
        path = subject.removeprefix("Read ")
        return f"reading `{path}` whole again counts against it; reading it in parts, for it"
    if tail == REJECTED:
        return f"{subject} being stopped again counts against it; running it unstopped, for it"
    if tail == HOOK_RULE:
        return f"the hook blocking again ({subject}) counts against it"
    if tail == MISSING:
        kind, _, name = subject.partition(" ")
        what = {"agent": f"the subagent `{name}`", "mcp": f"the MCP server `{name}`"}
        return f"{what.get(kind, f'`{subject}`')} missing again counts against it"
    if tail == CORRECTED:
        return f"the same correction again (words: {', '.join(subject.split())}) counts against it"
    return f"`{subject}` failing again ({cause}) counts against it; running it without that, for it"


def parse_time(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def started_after(report: SessionReport, published: datetime) -> bool:
    """Did the session start with the lesson in CLAUDE.md (read when a session starts)?"""
    started = parse_time(report.started_at or report.ended_at)
    return started is not None and started > published


def ran_program(report: SessionReport, name: str) -> bool:
    for command in report.commands:
        cleaned = clean_command(command.subject)
        if cleaned is not None and program(cleaned) == name:
            return True
    return False


@dataclass(frozen=True)
class Since:
    """What a session did after a lesson was published, and the targets its failures carry
    there: worked out once per session and publication time, not once per lesson judged (a
    tool's failure builds the lesson it would make to find its target)."""

    report: SessionReport
    failures: frozenset[str]


def later_than(report: SessionReport, moment: datetime) -> SessionReport:
    """The report with only the signals, commands and reads after `moment` (undated ones kept)."""

    def later(stamp: str | None) -> bool:
        when = parse_time(stamp)
        return when is None or when > moment

    def uses(items: tuple[Use, ...]) -> tuple[Use, ...]:
        return tuple(item for item in items if later(item.timestamp))

    signals = tuple(signal for signal in report.signals if later(signal.timestamp))
    return replace(
        report, signals=signals, commands=uses(report.commands), reads=uses(report.reads)
    )


def since(report: SessionReport, published: datetime) -> Since:
    after = later_than(report, published)
    found = (signal_target(signal, report.cwd) for signal in after.signals)
    return Since(after, frozenset(target for target in found if target is not None))


def corrected_again(target: str, report: SessionReport) -> bool:
    """Did the user make this correction again: a correction sharing at least half of its key
    words, and two at least? (Users rephrase; the same words in a new request are no
    correction, and the judge only labels corrections.)"""
    words = frozenset(target.removesuffix(CORRECTED).split())
    enough = max(2, (len(words) + 1) // 2)
    return any(
        len(words & (tokens(signal.detail or "") - CORRECTION_WORDS)) >= enough
        for signal in report.signals
        if signal.kind == "correction"
    )


def verdict(lesson: Lesson, report: SessionReport, after: Since | None = None) -> str | None:
    """HELPED, HURT, or None when the session says nothing about this lesson.

    `after`: `since(report, published)`, when the caller judges several lessons by one session."""
    published = parse_time(lesson.published_at)
    target = lesson.target
    if target is None or published is None or not started_after(report, published):
        return None
    after = since(report, published) if after is None else after
    if target in after.failures:
        return HURT
    if target.endswith(CORRECTED) and corrected_again(target, after.report):
        return HURT
    if did_the_work(after.report, target):
        return HELPED
    return None


def judged_sessions(lesson: Lesson) -> frozenset[str]:
    return frozenset(item.session_id for item in lesson.evidence if item.signal in (HELPED, HURT))


def record(lesson: Lesson, report: SessionReport, outcome: str, policy: Policy, now: str) -> Lesson:
    evidence = (*lesson.evidence, Evidence(report.session_id, signal=outcome))
    if outcome == HELPED:
        return replace(lesson, evidence=evidence, helped=lesson.helped + 1, updated_at=now)
    hurt = lesson.hurt + 1
    updated = replace(
        lesson,
        evidence=evidence,
        hurt=hurt,
        confidence=round(lesson.confidence * policy.demote_factor, 3),
        updated_at=now,
    )
    if hurt >= policy.retire_after and hurt > lesson.helped:
        what = (
            "the user made the same correction again"
            if (lesson.target or "").endswith(CORRECTED)
            else "the failure it targets recurred"
        )
        reason = f"{what} in {hurt} sessions after it was published"
        return replace(updated, status="retired", retire_reason=reason)
    return updated


def assess(
    lessons: Sequence[Lesson], reports: Iterable[SessionReport], policy: Policy, now: str
) -> list[Lesson]:
    """The lessons with each new session's verdict counted once; only active lessons are judged."""
    current = list(lessons)
    for report in reports:
        views: dict[datetime, Since] = {}
        for index, lesson in enumerate(current):
            if lesson.status != "active" or report.session_id in judged_sessions(lesson):
                continue
            published = parse_time(lesson.published_at)
            if published is not None and published not in views:
                views[published] = since(report, published)
            outcome = verdict(lesson, report, views.get(published) if published else None)
            if outcome is not None:
                current[index] = record(lesson, report, outcome, policy, now)
    return current
