"""What `selfdistill report` shows, gathered from a project's state into one frozen record.

Sources, all read-only (nothing is created):
- run manifests (state.runs/<id>.json): the runs, and the signals of the transcripts each analysed
  (`sessionSignals`, one item per transcript). A transcript that grew is analysed again as a
  whole, so its counts from its latest run replace earlier ones. A session may have several
  transcripts (a subagent's is its own file under its parent's session id): its signals are the
  sum of theirs, and it is counted once, on the day its first transcript started. A resumed
  session repeats its parent's entries: the run counted their signals only in the transcript
  that held them first (the item's `copies` are the ones left out), so the counts add up as
  they stand.
- when no manifest carries session signals (runs older than that field), the observation store:
  tool errors and interruptions per day from the hooks' outcomes, the only signals it records,
  on the day they happened; a session counts once, on the day of its first observation.
- the lesson store: each lesson, its evidence and the verdicts of later sessions; the evidence's
  excerpts are read back from the transcripts the manifests name (a bounded number of them).
Unreadable manifests are skipped, like `status` does: a report is what people look at when
something seems wrong.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selfdistill.efficacy import HELPED, HURT
from selfdistill.lessons import (
    awaits_approval,
    project_policy,
    read_lessons,
    shown_status,
    supporting_sessions,
)
from selfdistill.model import Lesson
from selfdistill.paths import ProjectState
from selfdistill.runs import load_archive, load_runs, session_items, transcript_key
from selfdistill.signals import analyze
from selfdistill.store import iter_observations

# The signals charted over time, in the order shown: failures first, then the good news.
CHARTED = (
    "tool_error",
    "test_failure",
    "interruption",
    "rejection",
    "correction",
    "approval",
    "recovery",
    "success",
)
FAILURES = ("tool_error", "test_failure", "interruption", "rejection", "correction")
# What the observation store can say about a day (hook outcomes), by the signal it stands for.
OUTCOME_SIGNALS = {"error": "tool_error", "interrupted": "interruption"}
UNDATED = "undated"
MAX_EXCERPT_FILES = 40  # transcripts re-read for evidence excerpts: a report stays quick


@dataclass(frozen=True)
class SignalDay:
    """One day (UTC): the sessions that began on it, and signals in CHARTED order (from runs,
    those of the sessions that began on it; from observations, those that happened on it)."""

    day: str  # YYYY-MM-DD, or UNDATED
    sessions: int
    counts: tuple[int, ...]

    def count(self, kind: str) -> int:
        return self.counts[CHARTED.index(kind)]

    def failures_per_session(self) -> float:
        """The day's failure signals per session: the trend a working tool bends down."""
        return sum(self.count(kind) for kind in FAILURES) / max(self.sessions, 1)


@dataclass(frozen=True)
class RunRow:
    id: str
    started_at: str
    trigger: str
    mode: str
    sessions: int
    skipped: int
    lessons_generated: int
    lessons_new: int
    lessons_activated: int
    lessons_retired: int
    helped: int
    hurt: int
    errors: tuple[str, ...]
    cost_usd: float
    signals: tuple[int, ...]  # this run's sessions' signals, in CHARTED order


@dataclass(frozen=True)
class EvidenceRow:
    session_id: str
    signal: str  # the signal kind behind it, efficacy:helped / efficacy:hurt for verdicts
    uuid: str | None
    excerpt: str | None = None  # the signal's redacted excerpt, read back from its transcript


@dataclass(frozen=True)
class LessonRow:
    id: str
    status: str
    kind: str
    trigger: str
    action: str
    signal: str
    source: str
    confidence: float
    sessions_seen: int
    supporting_sessions: int
    evidence: tuple[EvidenceRow, ...]
    created_at: str
    published_at: str | None
    helped: int
    hurt: int
    verdict: str  # see verdict_of
    retire_reason: str | None
    hold_reason: str | None
    awaiting: bool = False  # review mode: a candidate with enough evidence, waiting for the user


@dataclass(frozen=True)
class Report:
    project: str
    state_dir: str
    generated_at: str
    signal_source: str  # "runs", "observations" or "none"
    days: tuple[SignalDay, ...]
    runs: tuple[RunRow, ...]  # the runs whose manifests are kept (see runs.py)
    runs_archived: int  # older runs, folded into the archive: counted, not listed
    sessions_analysed: int  # distinct sessions, however many runs or transcripts (see analysed)
    lessons: tuple[LessonRow, ...]
    observations: int

    def totals(self) -> tuple[int, ...]:
        return tuple(sum(day.counts[i] for day in self.days) for i in range(len(CHARTED)))

    def to_json(self) -> dict[str, Any]:
        return report_json(self)


# --- helpers on loose JSON -----------------------------------------------------------------------


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _str(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _counts(value: Any) -> tuple[int, ...]:
    data = value if isinstance(value, dict) else {}
    return tuple(_int(data.get(kind)) for kind in CHARTED)


def _add(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...]:
    return tuple(x + y for x, y in zip(a, b, strict=True))


def day_of(stamp: Any) -> str:
    """The UTC day of an ISO 8601 stamp as selfdistill and Claude Code write them."""
    text = _str(stamp)
    if len(text) >= 10 and text[4] == "-" and text[7] == "-" and text[:4].isdigit():
        return text[:10]
    return UNDATED


# --- signals over time ---------------------------------------------------------------------------


Sessions = dict[str, list[dict[str, Any]]]  # session id -> its transcripts' latest items


def latest_transcripts(runs: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """transcript -> its counts from the latest run that analysed it (runs come oldest first).

    Keyed by the file, not the session id: a subagent's transcript carries its parent's session
    id, and keyed by that, one transcript's counts would replace the other's.
    """
    found: dict[str, dict[str, Any]] = {}
    for item in session_items(runs):
        if isinstance(item.get("sessionId"), str):
            found[transcript_key(item)] = item
    return found


def latest_sessions(runs: Iterable[dict[str, Any]]) -> Sessions:
    """session id -> the latest counts of each of its transcripts (its own, its subagents')."""
    found: Sessions = {}
    for item in latest_transcripts(runs).values():
        found.setdefault(item["sessionId"], []).append(item)
    return found


def session_day(items: Iterable[dict[str, Any]]) -> str:
    """The day a session started: its earliest transcript's (a subagent may start past midnight)."""
    days = [day_of(item.get("startedAt")) for item in items]
    return min((day for day in days if day != UNDATED), default=UNDATED)


def days_from_sessions(sessions: Iterable[Sequence[dict[str, Any]]]) -> tuple[SignalDay, ...]:
    by_day: dict[str, tuple[int, tuple[int, ...]]] = {}
    for items in sessions:
        day = session_day(items)
        count, counts = by_day.get(day, (0, (0,) * len(CHARTED)))
        for item in items:
            counts = _add(counts, _counts(item.get("counts")))
        by_day[day] = (count + 1, counts)
    return tuple(SignalDay(day, n, counts) for day, (n, counts) in sorted(by_day.items()))


def days_from_observations(records: Iterable[dict[str, Any]]) -> tuple[SignalDay, ...]:
    """Tool errors and interruptions per day as the hooks saw them, on the day they happened.

    A session counts once, on the day of its first observation: one that runs past midnight is
    not a session on each day, so the days' sessions add up to the distinct sessions.
    """
    began: dict[str, str] = {}  # session id -> the day it began
    counts: dict[str, list[int]] = {}
    for record in records:
        day = day_of(record.get("ts"))
        row = counts.setdefault(day, [0] * len(CHARTED))
        session = record.get("session_id")
        if isinstance(session, str):  # min: a dated day before UNDATED, like session_day
            began[session] = min(began.get(session, day), day)
        kind = OUTCOME_SIGNALS.get(_str(record.get("outcome")))
        if kind is not None:
            row[CHARTED.index(kind)] += 1
    sessions = Counter(began.values())
    return tuple(SignalDay(day, sessions[day], tuple(counts[day])) for day in sorted(counts))


def signal_days(sessions: Sessions, state: ProjectState) -> tuple[str, tuple[SignalDay, ...]]:
    if sessions:
        return "runs", days_from_sessions(sessions.values())
    if not state.observations.exists():  # reading must create nothing
        return "none", ()
    days = days_from_observations(record for _, record in iter_observations(state))
    return ("observations", days) if days else ("none", ())


def analysed(runs: Sequence[dict[str, Any]], sessions: Sessions) -> int:
    """How many distinct sessions the runs analysed: a session analysed again (its transcript
    grew) or with several transcripts counts once. A run older than `sessionSignals` does not
    say which sessions it analysed, so its `sessionsProcessed` is added as it stands.
    """
    unnamed = sum(_int(run.get("sessionsProcessed")) for run in runs if "sessionSignals" not in run)
    return len(sessions) + unnamed


# --- runs and lessons ----------------------------------------------------------------------------


def run_row(run: dict[str, Any]) -> RunRow:
    efficacy = _dict(run.get("efficacy"))
    signals = (0,) * len(CHARTED)
    for item in _list(run.get("sessionSignals")):
        if isinstance(item, dict):
            signals = _add(signals, _counts(item.get("counts")))
    errors = _list(run.get("errors"))
    cost = run.get("costUsd")
    return RunRow(
        id=_str(run.get("id")),
        started_at=_str(run.get("startedAt")),
        trigger=_str(run.get("trigger"), "manual"),
        mode=_str(run.get("analysisMode"), "heuristic"),
        sessions=_int(run.get("sessionsProcessed")),
        skipped=_int(run.get("sessionsSkipped")),
        lessons_generated=_int(run.get("lessonsGenerated")),
        lessons_new=_int(run.get("lessonsNew")),
        lessons_activated=_int(run.get("lessonsActivated")),
        lessons_retired=_int(run.get("lessonsRetired")),
        helped=_int(efficacy.get("helped")),
        hurt=_int(efficacy.get("hurt")),
        errors=tuple(str(error) for error in errors),
        cost_usd=float(cost) if isinstance(cost, (int, float)) else 0.0,
        signals=signals,
    )


def verdict_of(lesson: Lesson) -> str:
    """Whether the lesson helped, in one word: what later sessions said since it was published.

    unpublished: never written back, nothing to measure; unmeasured: published, but no later
    session did the work it is about; helping / recurring / mixed: the verdicts so far.
    """
    if lesson.published_at is None and lesson.helped == lesson.hurt == 0:
        return "unpublished"
    if lesson.helped == lesson.hurt == 0:
        return "unmeasured"
    if lesson.hurt == 0:
        return "helping"
    if lesson.helped == 0:
        return "recurring"
    return "mixed"


def lesson_row(
    lesson: Lesson, excerpts: Mapping[tuple[str, str], str], awaiting: bool = False
) -> LessonRow:
    return LessonRow(
        id=lesson.id,
        status=lesson.status,
        kind=lesson.kind,
        trigger=lesson.trigger,
        action=lesson.action,
        signal=lesson.signal,
        source=lesson.source,
        confidence=lesson.confidence,
        sessions_seen=lesson.sessions_seen,
        supporting_sessions=len(supporting_sessions(lesson.evidence)),
        evidence=tuple(
            EvidenceRow(
                item.session_id,
                item.signal or "unknown",
                item.uuid,
                excerpts.get((item.session_id, item.uuid or "")),
            )
            for item in lesson.evidence
        ),
        created_at=lesson.created_at,
        published_at=lesson.published_at,
        helped=lesson.helped,
        hurt=lesson.hurt,
        verdict=verdict_of(lesson),
        retire_reason=lesson.retire_reason,
        hold_reason=lesson.hold_reason,
        awaiting=awaiting,
    )


STATUS_ORDER = ("active", "candidate", "held", "retired", "rejected")


def lesson_order(lesson: Lesson) -> tuple[int, float, str]:
    rank = STATUS_ORDER.index(lesson.status) if lesson.status in STATUS_ORDER else len(STATUS_ORDER)
    return rank, -lesson.confidence, lesson.id


def evidence_excerpts(
    stored: Sequence[Lesson], sessions: Mapping[str, Sequence[dict[str, Any]]], limit: int
) -> dict[tuple[str, str], str]:
    """(session id, uuid) -> excerpt for the lessons' evidence, re-read from the transcripts.

    Manifests keep counts, not text: the text stays in the user's transcripts, read back here
    (at most `limit` of them, first the ones the first lessons cite). Evidence names its session,
    not its transcript, so every transcript of the session is looked in (a subagent's too). A
    transcript gone or unreadable just leaves its evidence without an excerpt.
    """
    wanted: dict[str, set[str]] = {}
    for lesson in stored:
        for item in lesson.evidence:
            if not item.uuid:
                continue
            for file in transcript_files(sessions.get(item.session_id, ())):
                if file in wanted or len(wanted) < limit:
                    wanted.setdefault(file, set()).add(item.uuid)
    found: dict[tuple[str, str], str] = {}
    for file, uuids in wanted.items():
        try:
            signals = analyze(Path(file)).signals
        except Exception:  # a moved or broken transcript must not cost the report
            continue
        for signal in signals:
            if signal.uuid in uuids:
                found.setdefault((signal.session_id, signal.uuid), signal.excerpt)
    return found


def transcript_files(items: Iterable[dict[str, Any]]) -> list[str]:
    return [file for file in (_str(item.get("file")) for item in items) if file]


def gather(
    state: ProjectState, generated_at: str, excerpt_files: int = MAX_EXCERPT_FILES
) -> Report:
    """The report for one project (`generated_at` is the caller's clock: this reads only).

    `excerpt_files`: how many transcripts may be re-read for the evidence's excerpts (0: none).
    """
    from selfdistill.store import count_observations

    runs = [run for run in load_runs(state) if run.get("dryRun") is not True]
    archive = load_archive(state)  # runs too old to keep: their count and latest signals
    sessions = latest_sessions([archive.as_run(), *runs])
    source, days = signal_days(sessions, state)
    stored = sorted(read_lessons(state), key=lesson_order)
    excerpts = evidence_excerpts(stored, sessions, excerpt_files)
    policy = project_policy(state)
    return Report(
        project=str(state.project),
        state_dir=str(state.root),
        generated_at=generated_at,
        signal_source=source,
        days=days,
        runs=tuple(run_row(run) for run in runs),
        runs_archived=archive.runs,
        sessions_analysed=analysed(runs, sessions) + archive.unnamed_sessions,
        lessons=tuple(
            lesson_row(lesson, excerpts, awaits_approval(lesson, policy)) for lesson in stored
        ),
        observations=count_observations(state),
    )


# --- JSON and plain text -------------------------------------------------------------------------


def _kinds(counts: Sequence[int]) -> dict[str, int]:
    return dict(zip(CHARTED, counts, strict=True))


def report_json(report: Report) -> dict[str, Any]:
    return {
        "project": report.project,
        "stateDir": report.state_dir,
        "generatedAt": report.generated_at,
        "signalSource": report.signal_source,
        "observations": report.observations,
        "sessionsAnalysed": report.sessions_analysed,
        "runsArchived": report.runs_archived,
        "signalTotals": _kinds(report.totals()),
        "signalsByDay": [
            {"day": d.day, "sessions": d.sessions, "counts": _kinds(d.counts)} for d in report.days
        ],
        "runs": [
            {
                "id": r.id,
                "startedAt": r.started_at,
                "trigger": r.trigger,
                "analysisMode": r.mode,
                "sessionsProcessed": r.sessions,
                "sessionsSkipped": r.skipped,
                "lessonsGenerated": r.lessons_generated,
                "lessonsNew": r.lessons_new,
                "lessonsActivated": r.lessons_activated,
                "lessonsRetired": r.lessons_retired,
                "efficacy": {"helped": r.helped, "hurt": r.hurt},
                "errors": list(r.errors),
                "costUsd": r.cost_usd,
                "signals": _kinds(r.signals),
            }
            for r in report.runs
        ],
        "lessons": [lesson_json(x) for x in report.lessons],
    }


def lesson_json(row: LessonRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.status,
        "awaitingApproval": row.awaiting,
        "kind": row.kind,
        "trigger": row.trigger,
        "action": row.action,
        "signal": row.signal,
        "source": row.source,
        "confidence": row.confidence,
        "sessionsSeen": row.sessions_seen,
        "supportingSessions": row.supporting_sessions,
        "evidence": [
            {
                "sessionId": e.session_id,
                "signal": e.signal,
                **({"uuid": e.uuid} if e.uuid else {}),
                **({"excerpt": e.excerpt} if e.excerpt else {}),
            }
            for e in row.evidence
        ],
        "createdAt": row.created_at,
        "publishedAt": row.published_at,
        "helped": row.helped,
        "hurt": row.hurt,
        "verdict": row.verdict,
        "retireReason": row.retire_reason,
        "holdReason": row.hold_reason,
    }


def is_verdict(row: EvidenceRow) -> bool:
    return row.signal in (HELPED, HURT)


def format_text(report: Report) -> str:
    """The terminal summary: totals, the last days, every lesson with its verdict."""
    runs = report.runs
    sessions = sum(day.sessions for day in report.days)
    last = f" (last {runs[-1].id}, {report.sessions_analysed} session(s) analysed)" if runs else ""
    lines = [
        f"project:  {report.project}",
        f"runs:     {len(runs) + report.runs_archived}{last}",
        f"signals:  {signal_line(report.totals())}"
        + (f" over {sessions} session(s), from {report.signal_source}" if report.days else ""),
    ]
    for day in report.days[-7:]:
        lines.append(f"  {day.day}  {day.sessions:>3} session(s)  {signal_line(day.counts)}")
    helped = sum(x.helped for x in report.lessons)
    hurt = sum(x.hurt for x in report.lessons)
    lines.append(
        f"lessons:  {len(report.lessons)}; later sessions: {helped} helped, {hurt} recurred"
    )
    for row in report.lessons:
        status = shown_status(row.status, row.awaiting)
        lines.append(
            f"  {row.id[:10]} {status:<9} {row.verdict:<11} +{row.helped}/-{row.hurt} "
            f"{row.supporting_sessions}s  {one_line(row.trigger)}: {one_line(row.action)}"
        )
        reason = row.retire_reason or row.hold_reason
        if reason:
            lines.append(f"  {'':10} why: {one_line(reason)}")
    waiting = sum(row.awaiting for row in report.lessons)
    if waiting:
        lines.append(
            f"  {waiting} awaiting your approval: 'selfdistill lessons approve ID' (or 'reject ID')"
        )
    return "\n".join(lines)


def signal_line(counts: Sequence[int]) -> str:
    shown = [f"{n} {kind.replace('_', ' ')}" for kind, n in zip(CHARTED, counts, strict=True) if n]
    return ", ".join(shown) or "none"


def one_line(text: str, limit: int = 120) -> str:
    """Lesson text on one terminal line: no control characters (it may come from tool output)."""
    flat = "".join(ch if ch.isprintable() else " " for ch in text)
    flat = " ".join(flat.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
