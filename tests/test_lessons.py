"""Lesson ids, similarity, deterministic merging, and the lesson store under concurrency."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from selfdistill import lessons
from selfdistill.errors import StateError
from selfdistill.model import Evidence, Lesson
from selfdistill.paths import ProjectState

NOW = "2026-01-01T00:00:00Z"
LATER = "2026-01-02T00:00:00Z"


def make(
    trigger: str = "Running `python3 -m pytest`",
    action: str = "it fails here (No module named pytest); run `python3 -m unittest` instead",
    session: str = "s1",
    uuid: str = "u1",
    kind: str = "pitfall",
    confidence: float = 0.6,
) -> Lesson:
    return lessons.new_lesson(
        kind,
        trigger,
        action,
        evidence=(Evidence(session, uuid, signal="recovery"),),
        signal="recovery",
        confidence=confidence,
        now=NOW,
    )


POLICY = lessons.Policy(min_sessions=2, threshold=0.6)


# --- ids and similarity --------------------------------------------------------------------------


def test_id_is_stable_under_rewording_of_stopwords_and_order() -> None:
    a = lessons.lesson_id("fact", "Using `tree`", "`tree` is not installed here; use `find`")
    b = lessons.lesson_id("fact", "When using `tree`", "use `find`: `tree` is not installed")
    assert a == b
    assert len(a) == 10


def test_id_changes_with_kind_substance_and_polarity() -> None:
    base = lessons.lesson_id("fact", "Using `tree`", "use `find`")
    assert lessons.lesson_id("pitfall", "Using `tree`", "use `find`") != base
    assert lessons.lesson_id("fact", "Using `tree`", "use `ls`") != base
    assert lessons.lesson_id("fact", "Using `tree`", "do not use `find`") != base


def test_reworded_lesson_is_similar_and_different_commands_are_not() -> None:
    original = make()
    reworded = make(
        action="fails in this repo with No module named pytest, so run tests via "
        "`python3 -m unittest` instead"
    )
    other = make(
        trigger="Running `npm test`",
        action="it fails here (No module named pytest); run `npm ci` instead",
    )
    assert lessons.similarity(original, reworded) >= 0.6
    assert lessons.similarity(original, other) == 0.0


# --- merging -------------------------------------------------------------------------------------


def test_reworded_candidate_adds_evidence_instead_of_a_duplicate() -> None:
    first = lessons.merge([], [make()], POLICY, NOW)
    reworded = make(
        action="fails in this repo with No module named pytest, so run tests via "
        "`python3 -m unittest` instead",
        session="s2",
        uuid="u2",
    )
    second = lessons.merge(first.lessons, [reworded], POLICY, LATER)
    assert len(second.lessons) == 1
    assert second.outcomes[0].outcome == "merged"
    assert (first.created, second.created) == ((first.lessons[0].id,), ())
    merged = second.lessons[0]
    assert merged.id == first.lessons[0].id
    assert merged.sessions_seen == 2
    assert {e.session_id for e in merged.evidence} == {"s1", "s2"}


def test_a_lesson_two_candidates_make_is_created_once() -> None:
    # Per candidate, the second merges into the lesson the first made; the store gained one.
    result = lessons.merge([], [make(session="s1"), make(session="s2", uuid="u2")], POLICY, NOW)
    assert [o.outcome for o in result.outcomes] == ["new", "merged"]
    assert result.created == (result.lessons[0].id,)


def test_evidence_counts_once_per_session() -> None:
    stored = lessons.merge([], [make(uuid="u1")], POLICY, NOW).lessons
    again = lessons.merge(stored, [make(uuid="u9"), make(uuid="u1")], POLICY, LATER)
    assert again.lessons[0].sessions_seen == 1
    assert again.lessons[0].status == "candidate"


def test_an_entry_a_resumed_session_repeats_counts_once() -> None:
    # A resumed session repeats its parent's entries, same uuids, under its own session id.
    parent, resumed = make(session="parent", uuid="u1"), make(session="resumed", uuid="u1")
    for together in ([parent, resumed], [resumed, parent]):
        [lesson] = lessons.merge([], together, POLICY, NOW).lessons
        assert lesson.sessions_seen == 1
        assert lesson.status == "candidate"
    stored = lessons.merge([], [parent], POLICY, NOW).lessons
    again = lessons.merge(stored, [resumed], POLICY, LATER)
    assert again.outcomes[0].outcome == "unchanged"
    assert {e.session_id for e in again.lessons[0].evidence} == {"parent"}  # the first one
    own = lessons.merge(stored, [make(session="resumed", uuid="u2")], POLICY, LATER)
    assert own.lessons[0].sessions_seen == 2  # its own entries are its own evidence


def test_same_evidence_again_changes_nothing() -> None:
    stored = lessons.merge([], [make()], POLICY, NOW).lessons
    again = lessons.merge(stored, [make()], POLICY, LATER)
    assert again.lessons == stored
    assert again.outcomes[0].outcome == "unchanged"
    assert not again.changed


def test_min_sessions_promotes_candidate_to_active() -> None:
    one = lessons.merge([], [make(session="s1")], POLICY, NOW)
    assert one.lessons[0].status == "candidate"
    two = lessons.merge(one.lessons, [make(session="s2", uuid="u2")], POLICY, LATER)
    assert two.lessons[0].status == "active"
    assert two.activated == (two.lessons[0].id,)
    assert two.lessons[0].confidence > one.lessons[0].confidence


def test_min_sessions_is_configurable() -> None:
    strict = lessons.Policy(min_sessions=3, threshold=0.6)
    both = [make(session="s1"), make(session="s2", uuid="u2")]
    assert lessons.merge([], both, strict, NOW).lessons[0].status == "candidate"
    loose = lessons.Policy(min_sessions=1, threshold=0.6)
    assert lessons.merge([], [make()], loose, NOW).lessons[0].status == "active"


def test_review_mode_keeps_candidates_waiting() -> None:
    review = lessons.Policy(min_sessions=2, threshold=0.6, review=True)
    both = [make(session="s1"), make(session="s2", uuid="u2")]
    result = lessons.merge([], both, review, NOW)
    assert result.lessons[0].status == "candidate"
    assert result.lessons[0].sessions_seen == 2


def test_only_a_reviewed_candidate_with_enough_sessions_awaits_approval() -> None:
    review = lessons.Policy(min_sessions=2, threshold=0.6, review=True)
    both = [make(session="s1"), make(session="s2", uuid="u2")]
    [waiting] = lessons.merge([], both, review, NOW).lessons
    assert lessons.awaits_approval(waiting, review)
    [early] = lessons.merge([], [make()], review, NOW).lessons  # one session: more evidence first
    assert early.status == "candidate" and not lessons.awaits_approval(early, review)
    assert not lessons.awaits_approval(waiting, POLICY)  # auto mode: nothing waits for the user
    [active] = lessons.merge([], both, POLICY, NOW).lessons
    assert active.status == "active" and not lessons.awaits_approval(active, review)
    [held] = lessons.merge([], both, review, NOW, guard=lambda lesson: "no").lessons
    assert held.status == "held" and not lessons.awaits_approval(held, review)
    approved = lessons.set_status(waiting, "active", LATER)
    assert not lessons.awaits_approval(approved, review)


def test_the_policy_follows_the_configuration() -> None:
    from selfdistill.config import Config

    policy = lessons.policy_for(Config(min_sessions=3, merge_threshold=0.7, mode="review"))
    assert policy == lessons.Policy(min_sessions=3, threshold=0.7, review=True)
    assert lessons.policy_for(Config()) == lessons.Policy(min_sessions=2, threshold=0.6)


def test_guard_holds_a_lesson_instead_of_activating_it() -> None:
    both = [make(session="s1"), make(session="s2", uuid="u2")]
    result = lessons.merge([], both, POLICY, NOW, guard=lambda lesson: "looks like a secret")
    assert result.lessons[0].status == "held"
    assert result.lessons[0].hold_reason == "looks like a secret"
    assert result.activated == ()


def test_contradiction_holds_both_sides() -> None:
    use = make(trigger="Running the tests", action="use `pytest -x`", session="s1")
    avoid = make(trigger="Running the tests", action="do not use `pytest -x`", session="s2")
    stored = lessons.merge([], [use], POLICY, NOW).lessons
    result = lessons.merge(stored, [avoid], POLICY, LATER)
    assert result.outcomes[0].outcome == "contradiction"
    statuses = {lesson.id: lesson.status for lesson in result.lessons}
    assert statuses == {use.id: "held", avoid.id: "held"}
    assert all("contradicts" in (lesson.hold_reason or "") for lesson in result.lessons)


def test_rejected_lesson_is_remembered() -> None:
    stored = lessons.merge([], [make()], POLICY, NOW).lessons
    rejected = (lessons.set_status(stored[0], "rejected", NOW),)
    again = lessons.merge(
        rejected, [make(session="s2", uuid="u2"), make(session="s3")], POLICY, LATER
    )
    assert len(again.lessons) == 1
    assert again.lessons[0].status == "rejected"
    assert [o.outcome for o in again.outcomes] == ["rejected", "rejected"]


def test_merge_is_deterministic_whatever_the_candidate_order() -> None:
    items = [
        make(session="s1"),
        make(trigger="Using `tree`", action="`tree` is not installed; use `find`", session="s2"),
        make(action="fails (No module named pytest); run `python3 -m unittest`", session="s3"),
    ]
    forward = lessons.merge([], items, POLICY, NOW).lessons
    backward = lessons.merge([], list(reversed(items)), POLICY, NOW).lessons
    assert sorted(forward, key=lambda x: x.id) == sorted(backward, key=lambda x: x.id)


def test_find_by_prefix() -> None:
    stored = lessons.merge(
        [], [make(), make(trigger="Using `tree`", action="use `find`")], POLICY, NOW
    )
    one = stored.lessons[0]
    assert lessons.find(stored.lessons, one.id[:6]) == one
    assert lessons.find(stored.lessons, "") is None  # ambiguous
    assert lessons.find(stored.lessons, "zzzz") is None


# --- the store -----------------------------------------------------------------------------------


def state_for(tmp_path: Path) -> ProjectState:
    return ProjectState.for_project(tmp_path / "project", home=tmp_path / "state")


def test_store_roundtrip_is_schema_valid(tmp_path: Path) -> None:
    state = state_for(tmp_path)
    lesson = make()
    lessons.update_lessons(state, lambda current: (*current, lesson))
    data = json.loads(state.lessons.read_text())
    assert data["version"] == 1
    assert data["lessons"][0]["id"] == lesson.id
    assert data["lessons"][0]["sessionsSeen"] == 1
    assert lessons.read_lessons(state) == (lesson,)


def test_reading_a_missing_store_creates_nothing(tmp_path: Path) -> None:
    state = state_for(tmp_path)
    assert lessons.read_lessons(state) == ()
    assert not (tmp_path / "state").exists()


def test_corrupt_store_is_a_clear_error(tmp_path: Path) -> None:
    state = state_for(tmp_path)
    state.root.mkdir(parents=True)
    state.lessons.write_text('{"version": 1, "lessons": [{"id": "nope"}]}')
    with pytest.raises(StateError, match=r"lessons\[0\]"):
        lessons.read_lessons(state)


WORKER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from selfdistill import lessons
    from selfdistill.model import Evidence
    from selfdistill.paths import ProjectState

    state = ProjectState.for_project(Path(sys.argv[1]), home=Path(sys.argv[2]))
    worker = sys.argv[3]
    for n in range(int(sys.argv[4])):
        lesson = lessons.new_lesson(
            "fact", f"Using `tool{worker}x{n}`", f"`tool{worker}x{n}` needs flag `--w{worker}n{n}`",
            evidence=(Evidence(f"s{worker}", f"u{n}"),), signal="recovery", confidence=0.5,
            now="2026-01-01T00:00:00Z",
        )
        lessons.update_lessons(state, lambda current, lesson=lesson: (*current, lesson))
    """
)


def test_concurrent_writers_never_corrupt_or_lose_updates(tmp_path: Path) -> None:
    workers, each = 4, 15
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    args = [str(tmp_path / "project"), str(tmp_path / "state")]
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, *args, str(w), str(each)], env=env)
        for w in range(workers)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0] * workers
    stored = lessons.read_lessons(state_for(tmp_path))
    assert len(stored) == workers * each
    assert len({lesson.id for lesson in stored}) == workers * each


def test_lessons_about_different_tools_never_merge_even_with_the_same_fix() -> None:
    a = make(trigger="Using `tool0`", action="`tool0` is not installed here; use `find` instead")
    b = make(trigger="Using `tool1`", action="`tool1` is not installed here; use `find` instead")
    assert lessons.similarity(a, b) == 0.0
    assert len(lessons.merge([], [a, b], POLICY, NOW).lessons) == 2


def fact(trigger: str, action: str, session: str, target: str, signal: str) -> Lesson:
    """A heuristic fact with one piece of evidence from `session` and the target it watches."""
    return lessons.new_lesson(
        "fact",
        trigger,
        action,
        evidence=(Evidence(session, f"{session}-u", signal=signal),),
        signal=signal,
        confidence=0.6,
        now=NOW,
        target=target,
    )


def missing(alternative: str, session: str, tool: str = "tree") -> Lesson:
    """A fact about a missing tool, as heuristics.recovery_lesson makes it."""
    action = f"it is not installed here (command not found: {tool}); use `{alternative}` instead"
    return fact(f"Using `{tool}`", action, session, f"{tool}|not-installed", "recovery")


def test_facts_about_one_missing_tool_merge_keeping_the_alternative_with_more_sessions() -> None:
    finds = [missing("find", "s1"), missing("find", "s2")]
    for items in ([*finds, missing("ls", "s3")], [missing("ls", "s3"), *finds]):
        [lesson] = lessons.merge([], items, POLICY, NOW).lessons
        assert lesson.action.endswith("use `find` instead")
        assert lesson.sessions_seen == 3
    lss = [missing("ls", "s3"), missing("ls", "s4"), missing("ls", "s5")]
    [lesson] = lessons.merge([], [*finds, *lss], POLICY, NOW).lessons
    assert lesson.action.endswith("use `ls` instead")
    other = lessons.merge(
        [], [missing("find", "s1"), missing("find", "s2", tool="bun")], POLICY, NOW
    )
    assert len(other.lessons) == 2


def test_new_words_for_a_missing_tool_are_checked_again() -> None:
    stored = lessons.merge([], [missing("find", "s1"), missing("find", "s2")], POLICY, NOW).lessons
    assert stored[0].status == "active"
    lss = [missing("ls", "s3"), missing("ls", "s4"), missing("ls", "s5")]
    review = lessons.Policy(min_sessions=2, threshold=0.6, review=True)
    [waiting] = lessons.merge(stored, lss, review, LATER).lessons
    assert (waiting.id, waiting.status) == (stored[0].id, "candidate")  # the user approves anew
    assert waiting.action.endswith("use `ls` instead")
    [held] = lessons.merge(stored, lss, POLICY, LATER, guard=lambda x: "no").lessons
    assert held.status == "held"


def test_every_lesson_field_is_in_the_schema() -> None:
    """Whoever adds a field to Lesson must add it to schemas/lesson.schema.json (camelCase)."""
    import dataclasses

    from selfdistill.schemas import validator

    schema = validator("lesson").schema
    assert isinstance(schema, dict)
    properties = schema["properties"]
    for field in dataclasses.fields(Lesson):
        assert lessons.camel(field.name) in properties, field.name


def hook_fact(path: str, lines: int, session: str, rule: str = "file too large") -> Lesson:
    """A fact about a hook's rule, as heuristics.blocked_file_lesson makes it."""
    said = f"{rule.capitalize()}: {lines} lines (limit: 500 lines)"
    action = (
        f"a hook in this project blocks some ({said}), `{path}` for one; follow what the hook "
        "says, or ask the user"
    )
    target = f"{rule}: # lines (limit: # lines)|hook-rule"
    return fact("Reading files", action, session, target, "tool_error")


def test_facts_about_one_hook_rule_merge_whatever_file_each_session_ran_into() -> None:
    facts = [hook_fact("plans/main.md", 1043, "s1"), hook_fact("notes/flow.md", 603, "s2")]
    [lesson] = lessons.merge([], facts, POLICY, NOW).lessons
    assert (lesson.sessions_seen, lesson.status) == (2, "active")
    other = hook_fact("notes/flow.md", 603, "s2", rule="file too long")
    assert len(lessons.merge([], [facts[0], other], POLICY, NOW).lessons) == 2
