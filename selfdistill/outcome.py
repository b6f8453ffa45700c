"""A session's outcome (positive / negative / mixed / neutral) and the evidence behind it.

Structure outweighs wording: a failing test the agent never fixed, an interruption or a
rejection says more than a "thanks". Failures that were later recovered cost little; what is
still broken at the end of the session costs most.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

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
}
UNRECOVERED_AT_END = -2.0  # a test still failing (or a failure unfixed) when the session ends
DOMINANCE = 2.0  # one side must outweigh the other this many times to decide the outcome


def session_outcome(signals: Sequence[Signal]) -> tuple[str, tuple[str, ...]]:
    """The outcome and short reasons, e.g. ("negative", ("2 rejections", "tests still failing"))."""
    rejected = {s.uuid for s in signals if s.kind == "rejection"}
    counted = [s for s in signals if not _duplicate(s, rejected)]
    counts = Counter(s.kind for s in counted)
    good = sum(WEIGHTS[k] * n for k, n in counts.items() if WEIGHTS.get(k, 0) > 0)
    bad = -sum(WEIGHTS[k] * n for k, n in counts.items() if WEIGHTS.get(k, 0) < 0)
    evidence = [f"{n} {kind}" for kind, n in sorted(counts.items()) if kind in WEIGHTS]
    if _ends_broken(counted):
        bad -= UNRECOVERED_AT_END
        evidence.append("the last failure was not fixed before the session ended")
    return _decide(good, bad), tuple(evidence)


def _duplicate(signal: Signal, rejected: set[str]) -> bool:
    # The second marker of one interruption points at the first (see signals._add_interruption);
    # a correction with the same uuid as a rejection is that rejection's reason.
    if signal.kind == "correction":
        return signal.uuid in rejected
    return signal.kind == "interruption" and signal.related_uuid is not None


def _ends_broken(signals: Sequence[Signal]) -> bool:
    """The last failure of the session has no recovery after it."""
    fixed = {s.related_uuid for s in signals if s.kind == "recovery"}
    failures = [s for s in signals if s.kind in ("test_failure", "tool_error")]
    if not failures:
        return False
    last = failures[-1]
    return last.uuid not in fixed and (last.kind == "test_failure" or _is_last_word(last, signals))


def _is_last_word(failure: Signal, signals: Sequence[Signal]) -> bool:
    """A tool error matters at the end only if nothing good came after it."""
    after = signals[signals.index(failure) + 1 :]
    return not any(s.kind in ("recovery", "approval") for s in after) and failure.category in (
        "command_failed",
        "timeout",
    )


def _decide(good: float, bad: float) -> str:
    if good == 0 and bad < 1.0:
        return "neutral"
    if bad == 0 or good >= DOMINANCE * bad:
        return "positive"
    if good == 0 or bad >= DOMINANCE * good:
        return "negative"
    return "mixed"
