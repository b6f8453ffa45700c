"""A session's outcome (positive / negative / mixed / neutral) and the evidence behind it.

Structure outweighs wording: a failing test the agent never fixed, an interruption or a
rejection says more than a "thanks". What the session ended with matters most: failures that were
later recovered cost little, trouble early on had time to be put right, and what is still broken
at the end costs most. The agent's own slips with its tools (a guessed path, a stale edit) say
nothing about whether the user's work got done.

A turn in which the agent changed files and the user then moved on (a new request, or the end
of the session) with no complaint is work done, as a reader of the session sees it.

The weights were checked against 44 real sessions read by hand: the first version disagreed
with the reader's verdict in direction (positive against negative) on 15 of them, this one on 1.
Reading successes brought agreement from 14 to 18, and turns the user moved on from to 25. On
33 sessions read blind after that, it agrees on 23 and is opposite on none (12 and 1 without the
turns moved on from): `bench/eval_outcome.py`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from selfdistill.model import Signal

# Weight of one signal of each kind (negative: against the session going well).
WEIGHTS = {
    "tool_error": -0.3,
    "test_failure": -1.0,
    "repeated_failure": -1.0,
    "interruption": -1.5,
    "rejection": -2.0,
    "correction": -1.5,
    "approval": 1.5,
    "recovery": 1.0,
    "success": 1.0,
}
UNRECOVERED_AT_END = -2.0  # a test still failing (or a failure unfixed) when the session ends
DOMINANCE = 2.0  # one side must outweigh the other this many times to decide the outcome
# Tool errors of the agent's own making, about half of them in real sessions: it corrects
# course and the user never sees them.
SLIPS = frozenset(
    {
        "file_not_found",
        "is_directory",
        "file_not_read",
        "file_modified",
        "edit_mismatch",
        "input_invalid",
        "too_large",
        "tool_unavailable",
    }
)
# A turn of changes the user moved on from (a new request, or the end of the session, with no
# complaint): what a reader counts as work done. It weighs like a success, for two turns at most.
SETTLED = 1.0
MAX_SETTLED = 2
FIRST_CORRECTION = 0.5  # one redirect is part of working together, not yet a verdict
BARE_INTERRUPTION = 0.5  # a stop the user explains with no complaint (a slow build, a done turn)
EARLIEST = 0.5  # a setback at the very start counts this much of one at the very end


def session_outcome(
    signals: Sequence[Signal],
    started_at: str | None = None,
    ended_at: str | None = None,
    settled: int = 0,
) -> tuple[str, tuple[str, ...]]:
    """The outcome and short reasons, e.g. ("negative", ("2 rejections", "tests still failing"))."""
    rejected = {s.uuid for s in signals if s.kind == "rejection"}
    counted = [s for s in signals if not _duplicate(s, rejected)]
    span = _span(started_at, ended_at)
    weights = [_weight(counted, index, span) for index in range(len(counted))]
    good = sum(w for w in weights if w > 0) + SETTLED * min(settled, MAX_SETTLED)
    bad = -sum(w for w in weights if w < 0)
    counts = Counter(s.kind for s in counted)
    evidence = [f"{n} {kind}" for kind, n in sorted(counts.items()) if kind in WEIGHTS]
    if settled:
        turns = "1 turn" if settled == 1 else f"{settled} turns"
        evidence.append(f"{turns} of changes the user moved on from")
    if _ends_broken(counted):
        bad -= UNRECOVERED_AT_END
        evidence.append("the last failure was not fixed before the session ended")
    return _decide(good, bad), tuple(evidence)


def _weight(signals: Sequence[Signal], index: int, span: tuple[datetime, datetime] | None) -> float:
    signal = signals[index]
    weight = WEIGHTS.get(signal.kind, 0.0)
    if signal.kind == "tool_error" and signal.category in SLIPS:
        return 0.0
    if signal.kind == "correction" and _first_of_kind(signals, index):
        weight *= FIRST_CORRECTION
    if signal.kind == "interruption" and not _complained_after(signals, index):
        weight *= BARE_INTERRUPTION
    if weight < 0 and signal.kind != "test_failure":  # a failing test is judged at the end
        weight *= _lateness(signal.timestamp, span)
    return weight


def _first_of_kind(signals: Sequence[Signal], index: int) -> bool:
    return all(s.kind != signals[index].kind for s in signals[:index])


def _complained_after(signals: Sequence[Signal], index: int) -> bool:
    """The user's next signal after an interruption says what was wrong."""
    following = signals[index + 1 : index + 2]
    return any(s.kind in ("correction", "rejection") for s in following)


def _lateness(timestamp: str | None, span: tuple[datetime, datetime] | None) -> float:
    """From EARLIEST at the session's start to 1 at its end; 1 when the times are unknown."""
    at = _time(timestamp)
    if span is None or at is None:
        return 1.0
    start, end = span
    fraction = min(1.0, max(0.0, (at - start) / (end - start)))
    return EARLIEST + (1 - EARLIEST) * fraction


def _span(started_at: str | None, ended_at: str | None) -> tuple[datetime, datetime] | None:
    start, end = _time(started_at), _time(ended_at)
    return (start, end) if start is not None and end is not None and end > start else None


def _time(stamp: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None
    except ValueError:  # a transcript written by hand or by an unknown version
        return None


def _duplicate(signal: Signal, rejected: set[str]) -> bool:
    # The second marker of one interruption, or the calls cancelled with a rejected one, point
    # at the first (see signals._add_interruption and _add_rejection); a correction with the
    # same uuid as a rejection is that rejection's reason.
    if signal.kind == "correction":
        return signal.uuid in rejected
    return signal.kind in ("interruption", "rejection") and signal.related_uuid is not None


def _ends_broken(signals: Sequence[Signal]) -> bool:
    """The last failure of the session has no recovery after it."""
    fixed = {s.related_uuid for s in signals if s.kind == "recovery"}
    failures = [s for s in signals if s.kind in ("test_failure", "tool_error")]
    if not failures:
        return False
    last = failures[-1]
    return last.uuid not in fixed and (last.kind == "test_failure" or _is_last_word(last, signals))


def _is_last_word(failure: Signal, signals: Sequence[Signal]) -> bool:
    """A failed call matters at the end only if it failed again and nothing good came after.

    One failed call followed by more work is usually a step on the way (a grep that found
    nothing, a probe); a call that kept failing is where the session got stuck.
    """
    after = signals[signals.index(failure) + 1 :]
    if any(s.kind in ("recovery", "approval", "success") for s in after):
        return False
    repeated = any(s.kind == "repeated_failure" and s.subject == failure.subject for s in signals)
    return repeated and (failure.tool_name == "Bash" or failure.category not in SLIPS)


def _decide(good: float, bad: float) -> str:
    if good == 0 and bad < 1.0:
        return "neutral"
    if bad == 0 or good >= DOMINANCE * bad:
        return "positive"
    if good == 0 or bad >= DOMINANCE * good:
        return "negative"
    return "mixed"
