"""Session outcomes: structure (failures, interruptions, rejections) outweighs wording."""

from __future__ import annotations

from typing import Any

from selfdistill.model import Signal
from selfdistill.outcome import session_outcome


def sig(kind: str, uuid: str, **fields: Any) -> Signal:
    return Signal(kind=kind, file="f", session_id="s", uuid=uuid, excerpt=kind, **fields)


def test_no_signals_is_neutral():
    assert session_outcome(()) == ("neutral", ())


def test_a_lone_recovered_tool_error_is_positive():
    outcome, evidence = session_outcome(
        [sig("tool_error", "a", category="file_not_found"), sig("recovery", "b", related_uuid="a")]
    )
    assert outcome == "positive"
    assert "1 recovery" in evidence and "1 tool_error" in evidence


def test_tests_still_failing_at_the_end_are_negative_even_after_thanks():
    outcome, evidence = session_outcome(
        [
            sig("approval", "a"),
            sig("tool_error", "b", category="command_failed"),
            sig("test_failure", "b"),
        ]
    )
    assert outcome == "negative"
    assert any("not fixed" in reason for reason in evidence)


def test_a_rejection_and_an_interruption_outweigh_one_approval():
    outcome, _ = session_outcome(
        [sig("rejection", "a"), sig("interruption", "b"), sig("approval", "c")]
    )
    assert outcome == "negative"


def test_good_and_bad_in_balance_is_mixed():
    outcome, _ = session_outcome(
        [sig("correction", "a"), sig("approval", "b"), sig("recovery", "c")]
    )
    assert outcome == "mixed"


def test_an_interruption_written_twice_counts_once():
    once = session_outcome([sig("interruption", "a"), sig("approval", "c"), sig("approval", "d")])
    twice = session_outcome(
        [
            sig("interruption", "a"),
            sig("interruption", "b", related_uuid="a"),
            sig("approval", "c"),
            sig("approval", "d"),
        ]
    )
    assert once == twice


def test_a_rejection_s_reason_is_not_counted_again_as_a_correction():
    alone = session_outcome([sig("rejection", "a"), sig("approval", "b"), sig("approval", "c")])
    with_reason = session_outcome(
        [sig("rejection", "a"), sig("correction", "a"), sig("approval", "b"), sig("approval", "c")]
    )
    assert alone == with_reason
