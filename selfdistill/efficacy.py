"""Does a published lesson help? Later sessions decide, not the lesson's author.

A lesson that targets a failure carries that failure's signature (`Lesson.target`, e.g.
`python3 -m pytest|not-installed`; `Read docs/spec.md|too-large` for a file too large to read at
once, `<the hook's rule>|hook-rule`, `agent reviewer|missing`, `<what was stopped>|rejected` for
an ask-first preference). Every session that starts after the lesson was published is judged once
for it:
- hurt: the targeted failure happened again, with the lesson in the agent's context;
- helped: the session did the kind of work the lesson is about (ran the same program, read the
  same file) and the failure did not recur;
- otherwise the session says nothing about the lesson (nothing marks a session that needed a
  hook's rule or a missing tool and did without, so those lessons are only ever hurt).
A lesson whose failure keeps recurring is demoted (lower confidence, so it yields its place in the
CLAUDE.md budget) and then retired, which takes it out of CLAUDE.md at the next publish.
Measured this way, a lesson is kept only while the evidence says it is worth its context.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from selfdistill.heuristics import (
    HOOK_RULE,
    MISSING,
    REJECTED,
    TOO_LARGE,
    clean_command,
    failure_of,
    program,
    project_path,
    rejected_command,
    rejection_signature,
    tool_fact,
)
from selfdistill.model import Evidence, Lesson, SessionReport, Signal

HELPED = "efficacy:helped"
HURT = "efficacy:hurt"


@dataclass(frozen=True)
class Policy:
    retire_after: int = 2  # recurrences after publishing that retire a lesson
    demote_factor: float = 0.5  # confidence multiplier at each recurrence


def failure_signature(signal: Signal, cwd: str | None = None) -> str | None:
    """The target a lesson about this signal would carry: `<program>|<cause class>` for an
    environment failure of a command, the fact's or the rejection's target (see heuristics.py;
    `cwd` makes their paths relative), else None."""
    if signal.kind == "rejection":
        return rejection_signature(signal, cwd)
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
        return any(project_path(read, report.cwd) == path for read in report.reads)
    if tail == REJECTED:
        return any(f"running {rejected_command(c)}" == subject for c in report.commands)
    if tail in (HOOK_RULE, MISSING):
        return False
    return ran_program(report, subject)


def parse_time(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def after_publication(lesson: Lesson, report: SessionReport) -> bool:
    published = parse_time(lesson.published_at)
    started = parse_time(report.started_at or report.ended_at)
    return published is not None and started is not None and started > published


def ran_program(report: SessionReport, name: str) -> bool:
    for command in report.commands:
        cleaned = clean_command(command)
        if cleaned is not None and program(cleaned) == name:
            return True
    return False


def recurred(report: SessionReport) -> frozenset[str]:
    """The targets the session's failures would carry: worked out once per session, not once
    per lesson judged (a tool's failure builds the lesson it would make to find its target)."""
    found = (failure_signature(signal, report.cwd) for signal in report.signals)
    return frozenset(target for target in found if target is not None)


def verdict(
    lesson: Lesson, report: SessionReport, failures: frozenset[str] | None = None
) -> str | None:
    """HELPED, HURT, or None when the session says nothing about this lesson.

    `failures`: `recurred(report)`, when the caller judges several lessons by one session."""
    if lesson.target is None or not after_publication(lesson, report):
        return None
    if lesson.target in (recurred(report) if failures is None else failures):
        return HURT
    if did_the_work(report, lesson.target):
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
        reason = f"the failure it targets recurred in {hurt} sessions after it was published"
        return replace(updated, status="retired", retire_reason=reason)
    return updated


def assess(
    lessons: Sequence[Lesson], reports: Iterable[SessionReport], policy: Policy, now: str
) -> list[Lesson]:
    """The lessons with each new session's verdict counted once; only active lessons are judged."""
    current = list(lessons)
    for report in reports:
        failures: frozenset[str] | None = None
        for index, lesson in enumerate(current):
            if lesson.status != "active" or report.session_id in judged_sessions(lesson):
                continue
            failures = recurred(report) if failures is None else failures
            outcome = verdict(lesson, report, failures)
            if outcome is not None:
                current[index] = record(lesson, report, outcome, policy, now)
    return current
