"""Lessons: stable ids, normalised text, similarity, deterministic merging, and the lesson store.

Merging is ACE-style: a new candidate that says the same thing as a stored lesson adds evidence to
it instead of becoming a duplicate. "The same thing" means the same canonical key (identical id),
the same missing tool (see `missing_tool`), the same hook rule (`hook_rule`) or a similarity above
the configured threshold, with deterministic tie-breaks. Evidence counts once per session, and a
transcript entry once (a resumed session repeats its parent's entries). Opposite advice about the
same thing is a contradiction: both sides are held, never published.
A candidate matching a rejected lesson stays rejected: the user said no once, that is remembered.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from selfdistill.atomic import write_atomic
from selfdistill.config import Config, load_config
from selfdistill.errors import StateError
from selfdistill.model import Evidence, Lesson
from selfdistill.paths import ProjectState
from selfdistill.schemas import validate

STORE_VERSION = 1
LOCK_TIMEOUT_S = 60.0
MAX_EVIDENCE_PER_SESSION = 3
EFFICACY_PREFIX = "efficacy:"  # evidence recorded by efficacy.py: a verdict, not support

STOPWORD_TEXT = (
    "a an the and or but of to in on at by for from with without into onto over under as is "
    "are was were be been being it its this that these those there here then than so such when "
    "while if else before after first again also just only very can could should would will "
    "may might must you your we our i me my they them their he she his her do does did done "
    "use using used run runs running ran instead same any some all each every please project "
    "repo repository one time times"
)
STOPWORDS = frozenset(STOPWORD_TEXT.split())
NEGATIONS = frozenset({"not", "never", "avoid", "dont", "don't", "no", "stop", "without"})
TOKEN = re.compile(r"[a-z0-9][a-z0-9_./@:+=-]*")
CODE = re.compile(r"`([^`]+)`")


# --- text ----------------------------------------------------------------------------------------


def stem(token: str) -> str:
    """A light, deterministic stem so that plural/verb forms of the same word meet."""
    for suffix in ("ing", "ed", "es", "s"):
        if len(token) > len(suffix) + 3 and token.endswith(suffix) and not token.endswith("ss"):
            return token[: -len(suffix)]
    return token


def tokens(text: str) -> frozenset[str]:
    """Key tokens: lowercase words and code-ish tokens, stopwords and negations removed, stemmed."""
    found = set()
    for raw in TOKEN.findall(text.lower().replace("n't", "nt")):
        token = raw.strip(".:-=/")
        if token and token not in STOPWORDS and token not in NEGATIONS and token != "dont":
            found.add(stem(token))
    return frozenset(found)


def negative(text: str) -> bool:
    """Does the advice say not to do something? (for contradiction detection)"""
    words = set(re.findall(r"[a-z']+", text.lower()))
    return bool(words & NEGATIONS) or "don't" in text.lower()


def normalized(text: str) -> str:
    return " ".join(sorted(tokens(text)))


def lesson_key(kind: str, trigger: str, action: str) -> str:
    """The canonical key: kind plus the sorted key tokens of trigger and action (polarity kept)."""
    polarity = "neg" if negative(action) else "pos"
    return f"{kind}|{polarity}|{normalized(trigger + ' ' + action)}"


def lesson_id(kind: str, trigger: str, action: str) -> str:
    return hashlib.sha256(lesson_key(kind, trigger, action).encode("utf-8")).hexdigest()[:10]


def similarity(a: Lesson, b: Lesson) -> float:
    """0..1: token Jaccard of trigger+action, or difflib on the normalised text, the higher.

    Code spans (commands, paths) must agree, in the trigger and in the action: two lessons about
    different commands are not the same lesson however much prose they share.
    """
    for part_a, part_b in ((a.trigger, b.trigger), (a.action, b.action)):
        code_a, code_b = code_spans(part_a), code_spans(part_b)
        if code_a and code_b and not code_a & code_b:
            return 0.0
    ta = tokens(a.trigger + " " + a.action)
    tb = tokens(b.trigger + " " + b.action)
    if not ta or not tb:
        return 0.0
    jaccard = len(ta & tb) / len(ta | tb)
    ratio = difflib.SequenceMatcher(None, " ".join(sorted(ta)), " ".join(sorted(tb))).ratio()
    return max(jaccard, ratio)


def code_spans(text: str) -> frozenset[str]:
    return frozenset(span.strip().lower() for span in CODE.findall(text))


def missing_tool(lesson: Lesson) -> str | None:
    """The tool a "not installed here" fact is about (`tree`), else None.

    Such facts are one lesson per tool, whatever alternative each session found: "`tree` is not
    installed; use `find`" and "...; use `ls`" say the same thing about this project.
    """
    if lesson.kind != "fact" or not (lesson.target or "").endswith("|not-installed"):
        return None
    spans = code_spans(lesson.trigger)
    return next(iter(spans)) if len(spans) == 1 else None


def new_lesson(
    kind: str,
    trigger: str,
    action: str,
    *,
    evidence: Iterable[Evidence],
    signal: str,
    confidence: float,
    now: str,
    scope: str = "project",
    steps: tuple[str, ...] = (),
    source: str = "heuristic",
    target: str | None = None,
) -> Lesson:
    """A candidate with its id derived from its content and its evidence counted per session."""
    kept = cap_evidence(evidence)
    return Lesson(
        id=lesson_id(kind, trigger, action),
        kind=kind,
        trigger=trigger.strip(),
        action=action.strip(),
        scope=scope,
        signal=signal,
        confidence=round(min(max(confidence, 0.0), 1.0), 3),
        evidence=kept,
        steps=steps,
        sessions_seen=len(supporting_sessions(kept)),
        source=source,
        created_at=now,
        updated_at=now,
        target=target,
    )


# --- evidence ------------------------------------------------------------------------------------


def cap_evidence(items: Iterable[Evidence]) -> tuple[Evidence, ...]:
    """Deduplicated, each transcript entry once, at most a few items per session, in first-seen
    order."""
    seen: set[Evidence] = set()
    per_session: dict[str, int] = {}
    kept: list[Evidence] = []
    for item in distinct_entries(items):
        if item in seen or per_session.get(item.session_id, 0) >= MAX_EVIDENCE_PER_SESSION:
            continue
        seen.add(item)
        per_session[item.session_id] = per_session.get(item.session_id, 0) + 1
        kept.append(item)
    return tuple(kept)


def distinct_entries(items: Iterable[Evidence]) -> list[Evidence]:
    """Evidence with each transcript entry (uuid) under the first session it was seen in only.

    A resumed Claude Code session repeats its parent's entries, same uuids, under a new session
    id: one event seen twice must not count as two sessions.
    """
    owner: dict[str, str] = {}
    kept: list[Evidence] = []
    for item in items:
        if item.uuid is not None:
            first = owner.setdefault(item.uuid, item.session_id)
            if first != item.session_id:
                continue
        kept.append(item)
    return kept


def supporting_sessions(evidence: Iterable[Evidence]) -> frozenset[str]:
    """Sessions whose signals support the lesson (efficacy verdicts are not support)."""
    return frozenset(
        e.session_id
        for e in distinct_entries(evidence)
        if not (e.signal or "").startswith(EFFICACY_PREFIX)
    )


def sessions_of(lesson: Lesson) -> frozenset[str]:
    return supporting_sessions(lesson.evidence)


def boosted(confidence: float, sessions: int) -> float:
    """More independent sessions make a lesson more credible, never certain."""
    return round(min(0.95, 1 - (1 - confidence) * (0.75 ** max(sessions - 1, 0))), 3)


# --- merging -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MergeOutcome:
    lesson_id: str  # the stored lesson the candidate ended up in
    outcome: str  # new | merged | unchanged | rejected | contradiction


@dataclass(frozen=True)
class MergeResult:
    lessons: tuple[Lesson, ...]
    outcomes: tuple[MergeOutcome, ...]  # one per candidate, in candidate order
    activated: tuple[str, ...]  # ids that became active in this merge
    # ids this merge added to the store: what a run reports as new. Per candidate, only the first
    # of several that land in one new lesson is "new" (the others merge into it).
    created: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return any(o.outcome != "unchanged" for o in self.outcomes) or bool(self.activated)


@dataclass(frozen=True)
class Policy:
    min_sessions: int = 2
    threshold: float = 0.6
    review: bool = False  # in review mode, nothing becomes active without `lessons approve`


Guard = Callable[[Lesson], "str | None"]


def best_match(candidate: Lesson, stored: Sequence[Lesson], threshold: float) -> Lesson | None:
    """The stored lesson this candidate says again: same id, else the most similar one (the same
    missing tool's or hook rule's fact is as similar as can be).

    Ties go to the lesson with more sessions, then the older one, then the smaller id.
    """
    for lesson in stored:
        if lesson.id == candidate.id:
            return lesson
    scored = [(match_score(candidate, lesson), lesson) for lesson in stored]
    scored = [(score, lesson) for score, lesson in scored if score >= threshold]
    if not scored:
        return None
    scored.sort(key=lambda pair: (-pair[0], -pair[1].sessions_seen, pair[1].created_at, pair[1].id))
    return scored[0][1]


def match_score(candidate: Lesson, lesson: Lesson) -> float:
    tool = missing_tool(candidate)
    if tool is not None and missing_tool(lesson) == tool:
        return 1.0
    if hook_rule(candidate) is not None and hook_rule(candidate) == hook_rule(lesson):
        return 1.0
    return similarity(candidate, lesson)


def hook_rule(lesson: Lesson) -> str | None:
    """The rule of the user's a hook enforces, for a fact about it: one lesson per rule, whatever
    file each session ran into it with (its target, `<rule>|hook-rule`, see heuristics.py)."""
    target = lesson.target or ""
    return target if lesson.kind == "fact" and target.endswith("|hook-rule") else None


def contradicts(a: Lesson, b: Lesson) -> bool:
    return negative(a.action) != negative(b.action)


def absorb(lesson: Lesson, candidate: Lesson, now: str) -> Lesson:
    """`lesson` with the candidate's evidence added; unchanged (same object) if it adds nothing."""
    evidence = cap_evidence(lesson.evidence + candidate.evidence)
    if evidence == lesson.evidence:
        return lesson
    sessions = len(supporting_sessions(evidence))
    return replace(
        lesson,
        # a lesson that targets nothing (it cites several failures) says what a candidate about
        # one failure says, if the two merged: that failure measures it from now on
        target=lesson.target or candidate.target,
        evidence=evidence,
        sessions_seen=sessions,
        # once measured to fail (hurt), more sightings of the failure do not restore trust
        confidence=lesson.confidence
        if lesson.hurt
        else boosted(max(lesson.confidence, candidate.confidence), sessions),
        updated_at=now,
    )


def alternative_support(candidates: Sequence[Lesson]) -> dict[str, int]:
    """Lesson id -> the sessions that support it over all of this merge's candidates."""
    evidence: dict[str, list[Evidence]] = {}
    for candidate in candidates:
        evidence.setdefault(candidate.id, []).extend(candidate.evidence)
    return {key: len(supporting_sessions(cap_evidence(items))) for key, items in evidence.items()}


def with_alternative(
    lesson: Lesson, was: Lesson, candidate: Lesson, support: int, now: str
) -> Lesson:
    """A missing tool's fact says the alternative with more evidence: the candidate's, when this
    merge has it from more sessions than the stored lesson (`was`) had in all.

    The id stays (the lesson is still about that tool). New words must pass the guard, and in
    review mode the user, again: an active lesson goes back to candidate for `promote`.
    """
    tool = missing_tool(candidate)
    if (
        tool is None
        or tool != missing_tool(was)
        or candidate.action == was.action
        or was.status not in ("candidate", "active")
        or support <= len(sessions_of(was))
    ):
        return lesson
    return replace(
        lesson,
        trigger=candidate.trigger,
        action=candidate.action,
        status="candidate",
        updated_at=now,
    )


def promote(lesson: Lesson, policy: Policy, guard: Guard | None, now: str) -> Lesson:
    """candidate -> active once it has evidence from enough sessions and the guard lets it pass."""
    if lesson.status != "candidate" or lesson.sessions_seen < policy.min_sessions:
        return lesson
    reason = guard(lesson) if guard is not None else None
    if reason:
        return replace(lesson, status="held", hold_reason=reason, updated_at=now)
    if policy.review:
        return lesson
    return replace(lesson, status="active", updated_at=now)


def awaits_approval(lesson: Lesson, policy: Policy) -> bool:
    """Whether the lesson waits for the user's `lessons approve`: the one case in which `promote`
    leaves a candidate with enough evidence a candidate. One the guard refuses is held instead,
    so it never waits (approving it would be refused anyway)."""
    return (
        policy.review
        and lesson.status == "candidate"
        and lesson.sessions_seen >= policy.min_sessions
    )


def shown_status(status: str, awaiting: bool) -> str:
    """The status people see (`lessons`, `report`, the summary of `run`): "awaiting" stands in for
    "candidate" where the user's decision is all that is missing (`awaits_approval`)."""
    return "awaiting" if awaiting else status


def policy_for(config: Config) -> Policy:
    """The policy a project's configuration sets: merging, and deciding what awaits approval,
    must read it the same way."""
    return Policy(config.min_sessions, config.merge_threshold, config.mode == "review")


def project_policy(state: ProjectState) -> Policy:
    """The policy of the project's own configuration (its mode and minSessions say which
    candidates await approval); ConfigError when the configuration is invalid."""
    return policy_for(load_config(state.project))


def hold(lesson: Lesson, reason: str, now: str) -> Lesson:
    if lesson.status in ("rejected", "retired", "held"):
        return lesson
    return replace(lesson, status="held", hold_reason=reason, updated_at=now)


def order_key(lesson: Lesson) -> tuple[str, str, str, float, str]:
    """Candidates are folded in content order, so the input order never changes the result."""
    evidence = repr(sorted(lesson.evidence, key=repr))
    return (lesson.id, lesson.trigger, lesson.action, -lesson.confidence, evidence)


def merge(
    stored: Sequence[Lesson],
    candidates: Sequence[Lesson],
    policy: Policy,
    now: str,
    guard: Guard | None = None,
) -> MergeResult:
    """Fold candidates into the store, deterministically (candidates are taken in id order)."""
    by_id: dict[str, Lesson] = {lesson.id: lesson for lesson in stored}
    order = [lesson.id for lesson in stored]
    outcomes: dict[int, MergeOutcome] = {}
    ranked = sorted(range(len(candidates)), key=lambda i: order_key(candidates[i]))
    support = alternative_support(candidates)
    for index in ranked:
        candidate = candidates[index]
        match = best_match(candidate, list(by_id.values()), policy.threshold)
        if match is None:
            by_id[candidate.id] = candidate
            order.append(candidate.id)
            outcomes[index] = MergeOutcome(candidate.id, "new")
        elif match.status == "rejected":
            outcomes[index] = MergeOutcome(match.id, "rejected")
        elif match.id != candidate.id and contradicts(match, candidate):
            reason = f"contradicts lesson {match.id}"
            held = replace(candidate, status="held", hold_reason=reason)
            if candidate.id not in by_id:
                order.append(candidate.id)
            by_id[candidate.id] = held
            by_id[match.id] = hold(match, f"contradicts lesson {candidate.id}", now)
            outcomes[index] = MergeOutcome(candidate.id, "contradiction")
        else:
            absorbed = absorb(match, candidate, now)
            updated = with_alternative(absorbed, match, candidate, support[candidate.id], now)
            by_id[match.id] = updated
            outcomes[index] = MergeOutcome(match.id, "unchanged" if updated is match else "merged")
    before = {lesson.id: lesson.status for lesson in stored}
    final = tuple(promote(by_id[i], policy, guard, now) for i in order)
    activated = tuple(
        lesson.id
        for lesson in final
        if lesson.status == "active" and before.get(lesson.id) != "active"
    )
    created = tuple(i for i in order if i not in before)
    return MergeResult(
        final, tuple(outcomes[i] for i in range(len(candidates))), activated, created
    )


def set_status(lesson: Lesson, status: str, now: str) -> Lesson:
    """A user decision (approve/reject): it overrides the evidence threshold and any hold."""
    return replace(lesson, status=status, hold_reason=None, updated_at=now)


def find(lessons: Sequence[Lesson], prefix: str) -> Lesson | None:
    """The lesson whose id starts with `prefix`; None if none or several match."""
    matches = [lesson for lesson in lessons if lesson.id.startswith(prefix.strip().lower())]
    return matches[0] if len(matches) == 1 else None


# --- records <-> JSON ----------------------------------------------------------------------------


def camel(name: str) -> str:
    """Lesson fields are stored in camelCase, like every record selfdistill writes."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def evidence_to_dict(item: Evidence) -> dict[str, Any]:
    data: dict[str, Any] = {"sessionId": item.session_id}
    if item.uuid:
        data["uuid"] = item.uuid
    if item.observation_id:
        data["observationId"] = item.observation_id
    if item.signal:
        data["signal"] = item.signal
    return data


def to_dict(lesson: Lesson) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, value in dataclasses.asdict(lesson).items():
        if name == "evidence":
            value = [evidence_to_dict(item) for item in lesson.evidence]
        elif name == "steps":
            value = list(lesson.steps)
        data[camel(name)] = value
    return data


def from_dict(data: dict[str, Any]) -> Lesson:
    evidence = tuple(
        Evidence(
            session_id=item["sessionId"],
            uuid=item.get("uuid"),
            observation_id=item.get("observationId"),
            signal=item.get("signal"),
        )
        for item in data.get("evidence", ())
    )
    names = {camel(field.name): field.name for field in dataclasses.fields(Lesson)}
    values = {names[key]: value for key, value in data.items() if key in names}
    values["evidence"] = evidence
    values["steps"] = tuple(data.get("steps", ()))
    return Lesson(**values)


# --- the store file ------------------------------------------------------------------------------


def parse_store(text: str, path: Path) -> tuple[Lesson, ...]:
    try:
        data = json.loads(text)
    except ValueError as error:
        raise StateError(f"lesson store {path} is not valid JSON: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("lessons"), list):
        raise StateError(f"lesson store {path}: expected {{'version': 1, 'lessons': [...]}}")
    lessons = []
    for index, item in enumerate(data["lessons"]):
        validate("lesson", item, what=f"lesson store {path}: lessons[{index}]")
        lessons.append(from_dict(item))
    return tuple(lessons)


def read_lessons(state: ProjectState) -> tuple[Lesson, ...]:
    """The stored lessons (empty when there is no store yet). Creates nothing."""
    try:
        text = state.lessons.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ()
    except OSError as error:
        raise StateError(f"cannot read lesson store {state.lessons}: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise StateError(
            f"lesson store {state.lessons} is not UTF-8 text (byte {error.start})"
        ) from error
    return parse_store(text, state.lessons)


def dump_store(lessons: Sequence[Lesson]) -> str:
    records = [to_dict(lesson) for lesson in lessons]
    for index, record in enumerate(records):
        validate("lesson", record, what=f"lesson {lessons[index].id}")
    return json.dumps({"version": STORE_VERSION, "lessons": records}, indent=1) + "\n"


def update_lessons(
    state: ProjectState,
    change: Callable[[tuple[Lesson, ...]], tuple[Lesson, ...]],
) -> tuple[Lesson, ...]:
    """Read-modify-write under the store lock: concurrent runs never lose each other's updates."""
    import filelock  # ~75 ms: only paid by commands that write lessons

    from selfdistill.store import ensure_state

    ensure_state(state)  # 0700 directories: the state is the user's alone
    lock = filelock.FileLock(str(state.lessons_lock), timeout=LOCK_TIMEOUT_S, mode=0o600)
    try:
        with lock:
            current = read_lessons(state)
            updated = change(current)
            if updated != current:
                write_atomic(state.lessons, dump_store(updated).encode("utf-8"), mode=0o600)
            return updated
    except filelock.Timeout as error:
        raise StateError(f"the lesson store {state.lessons} stayed locked; try again") from error
