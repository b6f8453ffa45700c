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
        [
            sig("rejection", "a"),
            sig("interruption", "b"),
            sig("correction", "c"),
            sig("approval", "d"),
        ]
    )
    assert outcome == "negative"


def test_good_and_bad_in_balance_is_mixed():
    outcome, _ = session_outcome(
        [sig("correction", "a"), sig("correction", "b"), sig("approval", "c"), sig("recovery", "d")]
    )
    assert outcome == "mixed"


def test_one_redirect_then_approval_is_positive():
    outcome, _ = session_outcome(
        [sig("correction", "a"), sig("approval", "b"), sig("recovery", "c")]
    )
    assert outcome == "positive"


def test_the_agent_s_own_slips_with_its_tools_cost_nothing():
    slips = [
        sig("tool_error", str(k), category=c)
        for k, c in enumerate(("file_not_found", "is_directory", "edit_mismatch", "too_large"))
    ]
    assert session_outcome([*slips, sig("approval", "z")])[0] == "positive"
    failed = [sig("tool_error", str(k), category="command_failed") for k in range(5)]
    assert session_outcome([*failed, sig("approval", "z")])[0] == "mixed"


def test_a_command_that_failed_once_near_the_end_is_a_step_not_where_the_session_stuck():
    failed = {"subject": "npm run build", "tool_name": "Bash"}
    once = [sig("approval", "a"), sig("tool_error", "b", category="command_failed", **failed)]
    outcome, evidence = session_outcome(once)
    assert outcome == "positive" and not any("not fixed" in e for e in evidence)
    again = [
        sig("approval", "a"),
        sig("tool_error", "b", category="file_not_found", **failed),
        sig("repeated_failure", "b", **failed),
        sig("tool_error", "c", category="file_not_found", **failed),
    ]
    assert any("not fixed" in e for e in session_outcome(again)[1])
    read = {"subject": "/p/missing.md", "tool_name": "Read"}
    slips = [
        sig("approval", "a"),
        sig("tool_error", "b", category="file_not_found", **read),
        sig("repeated_failure", "b", **read),
    ]
    assert not any("not fixed" in e for e in session_outcome(slips)[1])  # a Read, twice


def test_an_interruption_with_no_complaint_after_it_counts_half():
    bare = [sig("interruption", "a"), sig("approval", "b")]  # 0.75 against 1.5
    explained = [sig("interruption", "a"), sig("correction", "b"), sig("approval", "c")]
    assert session_outcome(bare)[0] == "positive"
    assert session_outcome(explained)[0] == "mixed"  # 1.5 + 0.75 against 1.5


def test_trouble_early_in_a_session_weighs_less_than_trouble_at_its_end():
    start, end = "2026-01-01T10:00:00Z", "2026-01-01T12:00:00Z"
    early = sig("rejection", "a", timestamp="2026-01-01T10:01:00Z")  # weighs about 1.0
    late = sig("rejection", "a", timestamp="2026-01-01T11:59:00Z")  # weighs about 2.0
    praise = [sig("approval", "b"), sig("approval", "c")]  # 3.0
    assert session_outcome([early, *praise], start, end)[0] == "positive"
    assert session_outcome([late, *praise], start, end)[0] == "mixed"
    assert session_outcome([early, *praise])[0] == "mixed"  # no times known: full weight


def test_a_check_that_passed_after_changes_makes_a_quiet_session_positive():
    assert session_outcome([sig("success", "a", category="build")])[0] == "positive"
    failed = {"subject": "python3 scripts/seed.py", "tool_name": "Bash"}
    stuck = [
        sig("tool_error", "b", category="command_failed", **failed),
        sig("repeated_failure", "b", **failed),
    ]
    assert any("not fixed" in e for e in session_outcome(stuck)[1])
    moved_on = [*stuck, sig("success", "c", category="commit")]
    assert not any("not fixed" in e for e in session_outcome(moved_on)[1])


def test_changes_the_user_moved_on_from_weigh_like_successes_for_two_turns_at_most():
    assert session_outcome((), settled=1) == (
        "positive",
        ("1 turn of changes the user moved on from",),
    )
    redirected = [sig("correction", "a"), sig("correction", "b")]  # 0.75 + 1.5
    assert session_outcome(redirected, settled=1)[0] == "negative"
    assert session_outcome(redirected, settled=2)[0] == "mixed"
    assert session_outcome(redirected, settled=9)[0] == "mixed"  # counted as two
