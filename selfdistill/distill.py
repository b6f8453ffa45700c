"""One self-distillation run: new data -> reports -> candidate lessons -> the store -> publish.

Order matters for correctness:
1. what is new: observations after the saved watermark name the transcripts to (re)analyse; a
   transcript whose size and mtime are unchanged since it was analysed adds nothing;
2. analysis of each transcript (failures are recorded, never fatal to the others);
3. lessons from the model when enabled and keyed, else (or on any model failure) the heuristics;
4. the lesson store, read-modify-written under its lock;
5. only then the watermarks, so data is marked processed only after its analysis succeeded;
6. the manifest, always (with `errors` when something failed), except in a dry run.
A dry run does all the analysis and merging in memory and persists nothing at all.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from selfdistill import efficacy, guard, heuristics, journal, lessons, spawn, store
from selfdistill import publish as publisher
from selfdistill.atomic import write_atomic
from selfdistill.config import Config, PublishConfig, load_config
from selfdistill.errors import NO_KEY_ERROR, PUBLISH_ERROR, FatalError, StateError, UserError
from selfdistill.logs import log_error
from selfdistill.model import Evidence, Lesson, SessionReport
from selfdistill.paths import ProjectState, find_project_root, state_home
from selfdistill.redact import redact_text
from selfdistill.runs import load_archive, load_runs, session_items, write_manifest
from selfdistill.schemas import validate
from selfdistill.signals import NO_UUID, analyze
from selfdistill.transcript import iter_entries

if TYPE_CHECKING:
    import filelock

WATERMARK_VERSION = 1
NO_ENTRIES = "no Claude Code entries could be read"
MANUAL_WAIT_S = 60.0  # a manual run waits this long for a run in progress


# --- inputs and records --------------------------------------------------------------------------


@dataclass(frozen=True)
class RunOptions:
    project: Path
    dry_run: bool = False
    limit: int | None = None
    model: str | None = None
    transcripts: tuple[Path, ...] = ()
    spawned: bool = False  # started detached by the Stop hook (SELFDISTILL_INTERNAL=1)
    wait_s: float = MANUAL_WAIT_S
    # Told (transcripts analysed, transcripts to analyse) as the run goes: progress.py draws it.
    on_progress: Callable[[int, int], None] | None = field(default=None, compare=False, repr=False)


class Mark(NamedTuple):
    """Where the observation store was read up to (mirrors store.Watermark)."""

    segment: int
    offset: int


@dataclass(frozen=True)
class Progress:
    """How far one transcript was analysed: its size and mtime at the time."""

    size: int
    mtime: float


@dataclass(frozen=True)
class Watermarks:
    observations: Mark | None = None
    transcripts: dict[str, Progress] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    """A transcript to analyse, with the observations that named it."""

    path: str
    first_index: int  # position of its first observation in this batch (-1: given on the CLI)
    observation_ids: tuple[str, ...] = ()
    failures: tuple[tuple[str, str, str], ...] = ()  # (session id, command, observation id)
    cwd: str | None = None


@dataclass(frozen=True)
class Skip:
    path: str
    reason: str  # missing | unreadable | ignored | over-limit | analysis-failed | no-entries
    detail: str = ""
    first_index: int = -1


@dataclass(frozen=True)
class Plan:
    targets: tuple[Target, ...]
    skipped: tuple[Skip, ...]
    marks: tuple[Mark, ...]  # the watermark after each observation read, in order
    since: Mark | None
    observations: int
    reverts: tuple[str, ...] = ()  # commit shas reverted by commits seen in this batch
    commit_sessions: dict[str, str] = field(default_factory=dict)  # sha -> session id


class Analysed(NamedTuple):
    target: Target
    report: SessionReport
    progress: Progress  # the transcript's size and mtime before it was read
    steps: tuple[heuristics.Step, ...]  # its Bash timeline, read only when a failure needs it


@dataclass(frozen=True)
class Analysis:
    reports: tuple[Analysed, ...]
    failed: tuple[Skip, ...]
    unread: tuple[Skip, ...] = ()  # read, but not one Claude Code entry in them: no session


@dataclass(frozen=True)
class Proposal:
    candidates: tuple[Lesson, ...]
    mode: str  # heuristic | llm
    errors: tuple[str, ...] = ()
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


def project_state(project: Path) -> ProjectState:
    return ProjectState.for_project(find_project_root(project))


# --- watermarks ----------------------------------------------------------------------------------


def read_watermarks(state: ProjectState) -> Watermarks:
    try:
        data = json.loads(state.watermarks.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Watermarks()
    except (OSError, ValueError) as error:
        raise StateError(f"cannot read watermarks {state.watermarks}: {error}") from error
    mark = data.get("observations")
    return Watermarks(
        Mark(int(mark["segment"]), int(mark["offset"])) if mark else None,
        {
            path: Progress(int(item["size"]), float(item["mtime"]))
            for path, item in data.get("transcripts", {}).items()
        },
    )


def write_watermarks(state: ProjectState, marks: Watermarks) -> None:
    data = {
        "version": WATERMARK_VERSION,
        "observations": marks.observations._asdict() if marks.observations else None,
        "transcripts": {
            path: {"size": p.size, "mtime": p.mtime}
            for path, p in sorted(marks.transcripts.items())
        },
    }
    write_atomic(state.watermarks, (json.dumps(data, indent=1) + "\n").encode("utf-8"), mode=0o600)


def progress_of(path: str) -> Progress | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return Progress(info.st_size, info.st_mtime)


# --- 1. what is new ------------------------------------------------------------------------------


def iter_new_observations(
    state: ProjectState, since: Mark | None
) -> Iterator[tuple[Mark, dict[str, Any]]]:
    if not state.observations.exists():  # nothing recorded (and reading must create nothing)
        return
    start = store.Watermark(*since) if since is not None else None
    for mark, record in store.iter_observations(state, start):
        yield Mark(int(mark[0]), int(mark[1])), record


def ignored(patterns: Sequence[str], *paths: str | None) -> bool:
    expanded = [os.path.expanduser(p) for p in patterns]
    return any(path and fnmatch.fnmatch(path, pattern) for path in paths for pattern in expanded)


def plan_from_observations(state: ProjectState, marks: Watermarks, config: Config) -> Plan:
    """The transcripts named by observations after the watermark, in first-seen order."""
    found: dict[str, dict[str, Any]] = {}
    seen_marks: list[Mark] = []
    reverts: list[str] = []
    commit_sessions: dict[str, str] = {}
    for index, (mark, record) in enumerate(iter_new_observations(state, marks.observations)):
        seen_marks.append(mark)
        commit = record.get("commit")
        if isinstance(commit, dict):
            reverts.extend(str(sha) for sha in commit.get("reverts") or ())
            if commit.get("sha") and record.get("session_id"):
                commit_sessions[str(commit["sha"])] = str(record["session_id"])
        path = record.get("transcript_path")
        if not isinstance(path, str) or not path:
            continue
        entry = found.setdefault(
            path, {"first": index, "ids": [], "failures": [], "cwd": record.get("cwd")}
        )
        if record.get("id"):
            entry["ids"].append(str(record["id"]))
        command = (record.get("tool_input") or {}).get("command")
        if record.get("outcome") == "error" and isinstance(command, str) and record.get("id"):
            entry["failures"].append((str(record.get("session_id")), command, str(record["id"])))
    targets = [
        Target(path, e["first"], tuple(e["ids"]), tuple(e["failures"]), e["cwd"])
        for path, e in found.items()
    ]
    if any(sha not in commit_sessions for sha in reverts):
        commit_sessions = {**commit_sessions_before(state, marks.observations), **commit_sessions}
    return select(
        targets,
        marks,
        config,
        tuple(seen_marks),
        marks.observations,
        tuple(reverts),
        commit_sessions,
    )


def commit_sessions_before(state: ProjectState, until: Mark | None) -> dict[str, str]:
    """sha -> session of the commits recorded before `until` (read only when a revert needs it)."""
    found: dict[str, str] = {}
    if until is None:
        return found
    for mark, record in iter_new_observations(state, None):
        if mark > until:
            break
        commit = record.get("commit")
        if isinstance(commit, dict) and commit.get("sha") and record.get("session_id"):
            found[str(commit["sha"])] = str(record["session_id"])
    return found


def plan_from_paths(paths: Sequence[Path], marks: Watermarks, config: Config) -> Plan:
    """Transcripts named on the command line: analysed even when unchanged (the user asked)."""
    targets = [Target(os.path.abspath(p), -1) for p in dict.fromkeys(paths)]
    return select(targets, Watermarks(), config, (), marks.observations, (), {})


def select(
    targets: Sequence[Target],
    marks: Watermarks,
    config: Config,
    seen: tuple[Mark, ...],
    since: Mark | None,
    reverts: tuple[str, ...],
    commit_sessions: dict[str, str],
) -> Plan:
    kept: list[Target] = []
    skipped: list[Skip] = []
    for target in targets:
        now = progress_of(target.path)
        if ignored(config.ignore_paths, target.path, target.cwd):
            skipped.append(Skip(target.path, "ignored", "", target.first_index))
        elif now is None:
            skipped.append(Skip(target.path, "missing", "", target.first_index))
        elif not os.access(target.path, os.R_OK):
            skipped.append(Skip(target.path, "unreadable", "", target.first_index))
        elif marks.transcripts.get(target.path) != now:
            kept.append(target)
    return Plan(tuple(kept), tuple(skipped), seen, since, len(seen), reverts, commit_sessions)


def apply_limit(plan: Plan, limit: int) -> Plan:
    over = tuple(
        Skip(t.path, "over-limit", f"--limit {limit}", t.first_index) for t in plan.targets[limit:]
    )
    return replace(plan, targets=plan.targets[:limit], skipped=plan.skipped + over)


# --- 2. analysis ---------------------------------------------------------------------------------


def analyze_targets(
    targets: Sequence[Target],
    on_progress: Callable[[int, int], None] | None = None,
    keep_open: bool = False,
    project: str | None = None,
) -> Analysis:
    done: list[Analysed] = []
    failed: list[Skip] = []
    unread: list[Skip] = []
    for index, target in enumerate(targets):
        if on_progress is not None:
            on_progress(index, len(targets))
        before = progress_of(target.path)
        try:
            report = analyze(Path(target.path), keep_open)
            steps: tuple[heuristics.Step, ...] = ()
            if heuristics.needs_timeline(report):
                steps = tuple(heuristics.timeline(iter_entries(Path(target.path))))
        except Exception as error:  # one bad transcript must not stop the others
            log_error(f"run: analysis of {target.path} failed", repr(error), project)
            failed.append(
                Skip(target.path, "analysis-failed", trim(repr(error)), target.first_index)
            )
            continue
        if report.entries == 0:  # corrupt, empty or not a transcript: no session was read
            unread.append(Skip(target.path, "no-entries", NO_ENTRIES, target.first_index))
        elif before is not None:
            done.append(Analysed(target, report, before, steps))
    if on_progress is not None and targets:
        on_progress(len(targets), len(targets))
    return Analysis(tuple(done), tuple(failed), tuple(unread))


Owners = dict[str, str]  # a signal's entry uuid -> the transcript that held it first


def signal_owners(runs: Iterable[dict[str, Any]]) -> Owners:
    """Which transcript first held each entry with signals, from the stored manifests (oldest
    first). Items older than `uuids` name no entries: a resumed session's copies of theirs
    still count, as they did. A manifest is the user's file: anything odd in it is passed over."""
    owners: Owners = {}
    for item in session_items(runs):
        file = item.get("file")
        uuids = item.get("uuids") if isinstance(file, str) else None
        for uuid in uuids if isinstance(uuids, list) else ():
            owners.setdefault(str(uuid), str(file))
    return owners


def claim_entries(reports: Iterable[SessionReport], owners: Mapping[str, str]) -> Owners:
    """`owners` and this run's entries: each owned by the first transcript holding it, stored
    or analysed earlier in this run (a stand-in uuid, a line number, is nobody's copy)."""
    known = dict(owners)
    for report in reports:
        for signal in report.signals:
            if not signal.uuid.startswith(NO_UUID):
                known.setdefault(signal.uuid, report.file)
    return known


@dataclass(frozen=True)
class Seen:
    """A transcript analysed by an earlier run or this one: when it ended, how it began."""

    ended_at: str | None
    root_uuid: str | None


def seen_transcripts(
    runs: Iterable[dict[str, Any]], reports: Iterable[SessionReport]
) -> dict[str, Seen]:
    """transcript -> how it was seen last, from the stored manifests and this run."""
    seen: dict[str, Seen] = {}
    for item in session_items(runs):
        ended, root = item.get("endedAt"), item.get("rootUuid")
        seen[str(item.get("file"))] = Seen(
            ended if isinstance(ended, str) else None, root if isinstance(root, str) else None
        )
    seen.update((r.file, Seen(r.ended_at, r.root_uuid)) for r in reports)
    return seen


def without_copies(
    report: SessionReport, owners: Mapping[str, str], seen: Mapping[str, Seen]
) -> SessionReport:
    """What a transcript did itself, for efficacy: a resumed session's transcript begins with
    copies of its parent's entries, which are not its own failures, runs or reads.

    Its parents: the transcripts that hold its signals' entries first, and those that began with
    the same entry and ended before it. Signals on their entries are copies; so is anything not
    later than their end (a copied command holds no signal to know it by). The session itself
    began, with the CLAUDE.md of that moment, when they had ended."""
    parents = {
        owners[s.uuid] for s in report.signals if owners.get(s.uuid, report.file) != report.file
    } | resumed_from(report, seen)
    if not parents:
        return report
    own = replace(
        report,
        signals=tuple(s for s in report.signals if owners.get(s.uuid, report.file) == report.file),
    )
    ends = [(moment, p) for p in parents if (moment := efficacy.parse_time(ended(seen, p)))]
    if not ends:
        return own
    moment, parent = max(ends)
    return replace(efficacy.later_than(own, moment), started_at=ended(seen, parent))


def resumed_from(report: SessionReport, seen: Mapping[str, Seen]) -> set[str]:
    """The other transcripts that began with the entry this one began with, and ended first."""
    end = efficacy.parse_time(report.ended_at)
    if report.root_uuid is None or end is None:
        return set()
    return {
        file
        for file, other in seen.items()
        if file != report.file
        and other.root_uuid == report.root_uuid
        and (other_end := efficacy.parse_time(other.ended_at)) is not None
        and other_end < end
    }


def ended(seen: Mapping[str, Seen], file: str) -> str | None:
    known = seen.get(file)
    return known.ended_at if known else None


def signal_counts(report: SessionReport, owners: Mapping[str, str]) -> dict[str, Any]:
    """One transcript's signals by kind, for the manifest (what `selfdistill report` charts).

    A resumed session's transcript starts with copies of its parent's entries, uuids and all:
    signals on an entry another transcript held first go to `copies`, not `counts`, so that
    summing `counts` counts each entry once. `uuids` names the entries `counts` holds."""
    counts: dict[str, int] = {}
    copies: dict[str, int] = {}
    owned: dict[str, None] = {}  # ordered, without repeats
    for signal in report.signals:
        copied = owners.get(signal.uuid, report.file) != report.file
        tally = copies if copied else counts
        tally[signal.kind] = tally.get(signal.kind, 0) + 1
        if not copied and not signal.uuid.startswith(NO_UUID):
            owned[signal.uuid] = None
    data: dict[str, Any] = {
        "sessionId": report.session_id,
        "file": report.file,
        "outcome": report.outcome,
    }
    if report.started_at:
        data["startedAt"] = report.started_at
    if report.ended_at:
        data["endedAt"] = report.ended_at
    if report.root_uuid:
        data["rootUuid"] = report.root_uuid
    extra = {"copies": copies} if copies else {}
    return {**data, "counts": counts, **extra, "uuids": list(owned)}


def total_counts(sessions: Sequence[dict[str, Any]]) -> dict[str, int]:
    """The run's signals by kind: copies of entries already counted are left out."""
    totals: dict[str, int] = {}
    for session in sessions:
        for kind, count in session["counts"].items():
            totals[kind] = totals.get(kind, 0) + count
    return totals


def trim(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- 3. candidate lessons ------------------------------------------------------------------------


def heuristic_proposal(analysis: Analysis, now: str) -> Proposal:
    found = [
        (item, lesson)
        for item in analysis.reports
        for lesson in heuristics.lessons_from_report(item.report, now, item.steps)
    ]
    # A resumed session repeats its parent's entries (same uuids): they stay the evidence of the
    # session analysed first, and a lesson resting on nothing else adds nothing.
    kept = set(lessons.distinct_entries(e for _, lesson in found for e in lesson.evidence))
    candidates: list[Lesson] = []
    for item, lesson in found:
        evidence = tuple(e for e in lesson.evidence if e in kept)
        if evidence:
            lesson = replace(lesson, evidence=evidence)
            candidates.append(with_observations(lesson, item.target, item.report))
    return Proposal(tuple(candidates), "heuristic")


def with_observations(lesson: Lesson, target: Target, report: SessionReport) -> Lesson:
    """Add the ids of the observations that recorded this lesson's failures, when hooks ran."""
    by_uuid = {signal.uuid: signal for signal in report.signals}
    failed = {
        (item.session_id, heuristics.clean_command(by_uuid[item.uuid].subject))
        for item in lesson.evidence
        if item.uuid in by_uuid and item.signal != "recovery"
    }
    extra = tuple(
        Evidence(session_id, observation_id=observation_id, signal="observation")
        for session_id, command, observation_id in target.failures
        if (session_id, heuristics.clean_command(command)) in failed
    )
    if not extra:
        return lesson
    return replace(lesson, evidence=lessons.cap_evidence(lesson.evidence + extra))


def wants_model(config: Config, model: str | None) -> bool:
    """The run will ask the model: a key, and the user's consent in config or --model."""
    return bool(os.environ.get("ANTHROPIC_API_KEY")) and (config.llm.enabled or bool(model))


def llm_proposal(
    analysis: Analysis,
    existing: Sequence[Lesson],
    config: Config,
    model: str | None,
    state: ProjectState,
    dry_run: bool,
    now: str,
) -> Proposal | None:
    """The model's lessons, or a failed Proposal (errors set, no candidates) to fall back from."""
    if model and not os.environ.get("ANTHROPIC_API_KEY"):
        # Asked for by name, so say why it was not used (`doctor` covers a consent in config).
        return Proposal((), "heuristic", (f"model {model} not used: {NO_KEY_ERROR}",))
    if not wants_model(config, model):
        return None
    key = os.environ["ANTHROPIC_API_KEY"]
    try:
        from selfdistill import llm
    except ImportError as error:
        return Proposal((), "heuristic", (f"model backend unavailable: {error}",))
    settings = llm.LLMSettings(
        model=model or config.llm.model,
        api_key=key,
        base_url=config.llm.base_url,
        max_tokens=config.llm.max_tokens,
        timeout_s=config.llm.timeout_s,
        max_retries=config.llm.max_retries,
        run_budget_usd=config.llm.run_budget_usd,
        day_budget_usd=config.llm.day_budget_usd,
    )
    reports = [item.report for item in analysis.reports]
    # The day budget and the circuit breaker belong to the user's key, not to one project.
    budget_dir = state_home() / "llm"
    if dry_run:  # a dry run persists nothing, yet today's spend and the breaker still apply
        import shutil
        import tempfile

        with tempfile.TemporaryDirectory(prefix="selfdistill-dry-") as scratch:
            for name in ("llm-ledger.json", "llm-breaker.json"):
                if (budget_dir / name).is_file():
                    shutil.copyfile(budget_dir / name, Path(scratch) / name)
            outcome = llm.propose_lessons(reports, existing, settings, Path(scratch))
    else:
        outcome = llm.propose_lessons(reports, existing, settings, budget_dir)
    usage = (
        outcome.calls,
        outcome.input_tokens,
        outcome.output_tokens,
        outcome.cost_usd,
        outcome.cache_write_tokens,
        outcome.cache_read_tokens,
    )
    if not outcome.ok:
        return Proposal((), "heuristic", (f"model: {outcome.error}",), *usage)
    cited = citable(reports)
    items = tuple(lesson_from_item(item, cited, now) for item in outcome.items)
    return Proposal(tuple(i for i in items if i is not None), "llm", (), *usage)


WENT_WELL = frozenset({"recovery", "success", "approval", "commit"})


class Cited(NamedTuple):
    """What an item of the model's evidence points at: its signal's kind, and the target a
    lesson drawn from it would carry (efficacy.py)."""

    kind: str
    target: str | None


def citable(reports: Sequence[SessionReport]) -> dict[str, Cited]:
    """What each entry the model may cite is: its signal's kind and the target a lesson drawn from
    it would carry. The model is told to cite an open prompt only when it reads it as a
    correction. An entry's first signal says what it is: a rejection's reason is also a
    correction, on the same entry, but a lesson from it is about what was stopped."""
    cited: dict[str, Cited] = {}
    for report in reports:
        for s in report.signals:
            cited.setdefault(s.uuid, Cited(s.kind, efficacy.signal_target(s, report.cwd)))
        for p in report.open_prompts:
            cited.setdefault(p.uuid, Cited("correction", heuristics.correction_target(p.excerpt)))
    return cited


def lesson_from_item(item: dict[str, Any], cited: dict[str, Cited], now: str) -> Lesson | None:
    evidence = tuple(
        Evidence(e["session_id"], e.get("uuid"), signal=signal_of(cited, e.get("uuid")))
        for e in item.get("evidence", ())
        if e.get("session_id")
    )
    if not evidence:
        return None
    # A lesson drawn from one failure (or correction), however many times it was seen, is judged
    # by whether that comes back; one drawn from several different ones, or from one that would
    # carry no target, is not measured. What went well (a fix, a passing check) is no failure.
    targets = {
        cited[e.uuid].target if e.uuid in cited else None
        for e in evidence
        if e.signal not in WENT_WELL
    }
    # The model's words are untrusted: a secret it recalls or invents must not reach the store,
    # the manifest or CLAUDE.md, even though its input was redacted.
    return lessons.new_lesson(
        item["kind"],
        redact_text(item["trigger"]),
        redact_text(item["action"]),
        evidence=evidence,
        signal=next((e.signal for e in evidence if e.signal), "llm"),
        confidence=float(item.get("confidence", 0.5)),
        now=now,
        scope=item.get("scope", "project"),
        steps=tuple(redact_text(step) for step in item.get("steps") or ()),
        source="llm",
        target=targets.pop() if len(targets) == 1 else None,  # None when it holds None
    )


def signal_of(cited: dict[str, Cited], uuid: str | None) -> str | None:
    found = cited.get(uuid or "")
    return found.kind if found else None


def propose(
    analysis: Analysis,
    existing: Sequence[Lesson],
    config: Config,
    options: RunOptions,
    state: ProjectState,
    now: str,
) -> Proposal:
    model = llm_proposal(analysis, existing, config, options.model, state, options.dry_run, now)
    if model is not None and model.mode == "llm":
        return model
    fallback = heuristic_proposal(analysis, now)
    if model is None:
        return fallback
    return replace(
        fallback,
        errors=model.errors,
        calls=model.calls,
        input_tokens=model.input_tokens,
        output_tokens=model.output_tokens,
        cost_usd=model.cost_usd,
        cache_write_tokens=model.cache_write_tokens,
        cache_read_tokens=model.cache_read_tokens,
    )


# --- 4. the store --------------------------------------------------------------------------------


def load_guard() -> lessons.Guard:
    return guard.check_lesson


def mark_reverts(stored: Sequence[Lesson], reverted_sessions: set[str], now: str) -> list[Lesson]:
    """A commit of a session was reverted later: negative evidence for lessons from that session."""
    if not reverted_sessions:
        return list(stored)
    return [
        replace(lesson, hurt=lesson.hurt + 1, updated_at=now)
        if lessons.sessions_of(lesson) & reverted_sessions
        else lesson
        for lesson in stored
    ]


def fold(
    stored: Sequence[Lesson],
    proposal: Proposal,
    config: Config,
    reverted: set[str],
    reports: Sequence[SessionReport],
    now: str,
) -> lessons.MergeResult:
    """The new store: published lessons judged by the new sessions first, then the candidates."""
    policy = lessons.policy_for(config)
    judged = efficacy.assess(mark_reverts(stored, reverted, now), reports, efficacy.Policy(), now)
    return lessons.merge(judged, proposal.candidates, policy, now, load_guard())


def record_efficacy(tally: Tally, before: Sequence[Lesson], after: Sequence[Lesson]) -> None:
    tally.helped = sum(x.helped for x in after) - sum(x.helped for x in before)
    tally.hurt = sum(x.hurt for x in after) - sum(x.hurt for x in before)
    was_retired = {x.id for x in before if x.status == "retired"}
    tally.retired = sum(x.status == "retired" and x.id not in was_retired for x in after)


# --- 5. publish ----------------------------------------------------------------------------------


def active_view(items: Sequence[Lesson]) -> tuple[tuple[str, str, str], ...]:
    return tuple(sorted((x.id, x.trigger, x.action) for x in items if x.status == "active"))


def publish(
    state: ProjectState, items: Sequence[Lesson], run_id: str, options: PublishConfig
) -> publisher.PublishResult:
    """Write the active lessons back (CLAUDE.md block, skills), as `options` (publish.*) say.

    Lessons published for the first time get `publishedAt`: from then on, later sessions say
    whether they help (efficacy.py).
    """
    active = [lesson for lesson in items if lesson.status == "active"]
    result = publisher.publish(state, active, run_id, options)
    held_back = {lesson_id for lesson_id, _ in result.skipped}
    shown = {lesson.id for lesson in active if lesson.id not in held_back}
    stamp_published(state, shown, utc_now())
    return result


def stamp_published(state: ProjectState, ids: set[str], now: str) -> None:
    def change(current: tuple[Lesson, ...]) -> tuple[Lesson, ...]:
        return tuple(
            replace(x, published_at=now)
            if x.id in ids and x.status == "active" and x.published_at is None
            else x
            for x in current
        )

    if ids:
        lessons.update_lessons(state, change)


def rollback(
    state: ProjectState, run_id: str | None
) -> tuple[journal.RollbackResult, tuple[str, ...]]:
    """Undo what a run wrote back, and keep it out: the active lessons it had put in are held
    (approving one publishes it again); returns them too. When the block restored no longer
    shows what the store has active (a later run's lessons, a lesson rejected since), it is
    written again from the store."""
    result = journal.rollback_run(state, run_id)
    reason = f"rolled back with run {result.run_id}; approve it to publish it again"
    now = utc_now()
    held: list[str] = []

    def change(current: tuple[Lesson, ...]) -> tuple[Lesson, ...]:
        held[:] = [x.id for x in current if x.id in result.lessons and x.status == "active"]
        return tuple(lessons.hold(x, reason, now) if x.id in held else x for x in current)

    final = lessons.update_lessons(state, change) if result.lessons else lessons.read_lessons(state)
    options = load_config(state.project).publish
    if not publisher.block_shows(state, final, options):
        publish(state, final, journal.DECISION_PREFIX + new_run_id(), options)
    return result, tuple(held)


# --- the run -------------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the manifest reports, filled in as the run goes (the run's one mutable record)."""

    errors: list[str] = field(default_factory=list)
    processed: int = 0
    skipped: list[Skip] = field(default_factory=list)
    observations: int = 0
    generated: int = 0
    new: int = 0
    merged: int = 0
    activated: int = 0
    helped: int = 0  # efficacy verdicts this run
    hurt: int = 0
    retired: int = 0
    awaiting: int = 0  # lessons in the store after the run that wait for `lessons approve`
    lessons: list[dict[str, Any]] = field(default_factory=list)
    log_paths: list[str] = field(default_factory=list)
    session_signals: list[dict[str, Any]] = field(default_factory=list)  # per transcript
    published: list[str] = field(default_factory=list)
    mode: str = "heuristic"
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0


def plan_for(options: RunOptions, state: ProjectState, marks: Watermarks, config: Config) -> Plan:
    if options.transcripts:  # named by the user: all of them, unless --limit says otherwise
        plan = plan_from_paths(options.transcripts, marks, config)
        return apply_limit(plan, options.limit) if options.limit is not None else plan
    plan = plan_from_observations(state, marks, config)
    limit = options.limit if options.limit is not None else config.max_sessions_per_run
    return apply_limit(plan, limit)


def next_marks(plan: Plan, analysis: Analysis, marks: Watermarks) -> Watermarks:
    """Advance past what is accounted for; stop before the first deferred or failed transcript."""
    transcripts = dict(marks.transcripts)
    for item in analysis.reports:
        transcripts[item.target.path] = item.progress
    if not plan.marks:
        return Watermarks(marks.observations, transcripts)
    deferred = [
        s.first_index
        for s in (*plan.skipped, *analysis.failed)
        if s.reason in ("over-limit", "analysis-failed") and s.first_index >= 0
    ]
    stop = min(deferred, default=len(plan.marks))
    observation_mark = plan.marks[stop - 1] if stop > 0 else plan.since
    return Watermarks(observation_mark, transcripts)


def record_lessons(
    tally: Tally, proposal: Proposal, result: lessons.MergeResult, config: Config
) -> None:
    """One row per lesson the run's candidates went into, in first-seen order: the same fact
    found in four sessions is four candidates but one lesson, shown and counted once.

    A candidate that matched a lesson the user rejected goes nowhere (the user said no once, and
    the lesson stays as it was), so it has no row and is not counted: it was not proposed again.
    """
    policy = lessons.policy_for(config)
    final = {lesson.id: lesson for lesson in result.lessons}
    groups: dict[str, list[Lesson]] = {}
    for candidate, outcome in zip(proposal.candidates, result.outcomes, strict=True):
        if outcome.outcome != "rejected":
            groups.setdefault(outcome.lesson_id, []).append(candidate)
    tally.lessons = [
        lesson_row(final[lesson_id], found, lesson_id in result.created, policy)
        for lesson_id, found in groups.items()
    ]
    tally.generated = len(tally.lessons)
    tally.new = sum(row["outcome"] == "new" for row in tally.lessons)
    tally.merged = tally.generated - tally.new
    tally.activated = len(result.activated)


def lesson_row(
    stored: Lesson, found: Sequence[Lesson], new: bool, policy: lessons.Policy
) -> dict[str, Any]:
    """A manifest row: the lesson as stored after the run, and the candidates that went into it.

    "merged" means the lesson was stored before this run, whether or not its candidates added
    evidence it lacked (a rerun over the same transcripts adds none)."""
    return {
        "id": stored.id,
        "kind": stored.kind,
        "signal": next((c.signal for c in found if c.signal), "unknown"),
        "trigger": stored.trigger,
        "action": stored.action,
        "confidence": stored.confidence,
        "status": stored.status,
        "sessionsSeen": stored.sessions_seen,
        "outcome": "new" if new else "merged",
        "sessions": sorted({session for c in found for session in lessons.sessions_of(c)}),
        "awaitingApproval": lessons.awaits_approval(stored, policy),
    }


def record_awaiting(tally: Tally, items: Sequence[Lesson], config: Config) -> None:
    """Counted over the whole store, not this run's candidates: a lesson that reached
    minSessions in an earlier run still waits for the user."""
    policy = lessons.policy_for(config)
    tally.awaiting = sum(lessons.awaits_approval(x, policy) for x in items)


def reverted_sessions(plan: Plan) -> set[str]:
    return {plan.commit_sessions[sha] for sha in plan.reverts if sha in plan.commit_sessions}


def execute(
    options: RunOptions, state: ProjectState, config: Config, tally: Tally, run_id: str
) -> None:
    """Steps 1-5. Raises on failure; whatever was tallied so far goes into the manifest."""
    marks = read_watermarks(state)
    plan = plan_for(options, state, marks, config)
    tally.observations = plan.observations
    tally.skipped.extend(plan.skipped)
    # Open prompts are for the model's eyes only: not read when it will not be asked.
    wanted = wants_model(config, options.model)
    analysis = analyze_targets(plan.targets, options.on_progress, wanted, state.project_dir)
    earlier = [load_archive(state).as_run(), *load_runs(state)]  # what earlier runs analysed
    owners = claim_entries((item.report for item in analysis.reports), signal_owners(earlier))
    seen = seen_transcripts(earlier, (item.report for item in analysis.reports))
    tally.session_signals = [signal_counts(item.report, owners) for item in analysis.reports]
    tally.skipped.extend(analysis.failed + analysis.unread)
    tally.errors.extend(f"{s.path}: {s.detail}" for s in analysis.failed)
    tally.processed = len(analysis.reports)
    tally.log_paths = [item.target.path for item in analysis.reports]
    now = utc_now()
    existing = lessons.read_lessons(state)
    proposal = propose(analysis, existing, config, options, state, now)
    tally.mode, tally.calls, tally.cost_usd = proposal.mode, proposal.calls, proposal.cost_usd
    tally.input_tokens, tally.output_tokens = proposal.input_tokens, proposal.output_tokens
    tally.cache_write_tokens = proposal.cache_write_tokens
    tally.cache_read_tokens = proposal.cache_read_tokens
    tally.errors.extend(proposal.errors)
    reverted = reverted_sessions(plan)
    reports = [without_copies(item.report, owners, seen) for item in analysis.reports]
    if options.dry_run:
        preview = fold(existing, proposal, config, reverted, reports, now)
        record_lessons(tally, proposal, preview, config)
        record_efficacy(tally, existing, preview.lessons)
        record_awaiting(tally, preview.lessons, config)
        return
    merged: list[tuple[lessons.MergeResult, bool]] = []

    def change(current: tuple[Lesson, ...]) -> tuple[Lesson, ...]:
        result = fold(current, proposal, config, reverted, reports, now)
        record_efficacy(tally, current, result.lessons)
        merged[:] = [(result, active_view(result.lessons) != active_view(current))]
        return result.lessons

    # Noted before the lessons change, cleared once published: a run killed in between, or a
    # publish that failed (read-only project, full disk), leaves it for the next run to finish.
    owed = publish_owed_path(state)
    was_owed = owed.exists()
    owed.touch(mode=0o600)
    final = lessons.update_lessons(state, change)
    result, active_changed = merged[0]
    record_lessons(tally, proposal, result, config)
    record_awaiting(tally, final, config)
    write_watermarks(state, next_marks(plan, analysis, marks))
    # The block may show other lessons than the active ones though none changed: a target was
    # turned off or on in the config, or the block was edited by hand. In review mode too: only
    # lessons the user approved are active, and one retired since must come out.
    due = active_changed or was_owed or not publisher.block_shows(state, final, config.publish)
    if not due:
        owed.unlink(missing_ok=True)
        return
    try:
        written = publish(state, final, run_id, config.publish)
    except Exception as error:  # the lessons are stored; the next run publishes them
        log_error(f"run {run_id}: publishing failed", repr(error), state.project_dir)
        tally.errors.append(f"{PUBLISH_ERROR}{error}")
        return
    tally.published = list(written.changed)
    tally.errors.extend(f"{PUBLISH_ERROR}{error}" for error in written.errors)
    if not written.errors:  # a refused CLAUDE.md is still owed its lessons once it is mended
        owed.unlink(missing_ok=True)


def publish_owed_path(state: ProjectState) -> Path:
    """Present while stored lessons may not be written back yet."""
    return state.root / "publish.owed"


def manifest(
    run_id: str, options: RunOptions, started: str, tally: Tally, elapsed_ms: int
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": run_id,
        "project": str(find_project_root(options.project)),
        "startedAt": started,
        "completedAt": utc_now(),
        "dryRun": options.dry_run,
        "analysisMode": tally.mode,
        "trigger": "hook" if options.spawned else "manual",
        "sessionsProcessed": tally.processed,
        "sessionsSkipped": len(tally.skipped),
        "skipped": [
            {"path": s.path, "reason": s.reason, **({"detail": s.detail} if s.detail else {})}
            for s in tally.skipped
        ],
        "observationsRead": tally.observations,
        "lessonsGenerated": tally.generated,
        "lessonsNew": tally.new,
        "lessonsMerged": tally.merged,
        "lessonsActivated": tally.activated,
        "lessonsRetired": tally.retired,
        "awaitingApproval": tally.awaiting,
        "efficacy": {"helped": tally.helped, "hurt": tally.hurt},
        "logPaths": tally.log_paths,
        "signals": total_counts(tally.session_signals),
        "sessionSignals": tally.session_signals,
        "lessons": tally.lessons,
        "published": tally.published,
        "durationMs": elapsed_ms,
        "costUsd": round(tally.cost_usd, 6),
        "inputTokens": tally.input_tokens,
        "outputTokens": tally.output_tokens,
        "cacheWriteTokens": tally.cache_write_tokens,
        "cacheReadTokens": tally.cache_read_tokens,
        "llmCalls": tally.calls,
        "errors": tally.errors,
    }
    validate("manifest", data, what="run manifest")
    return data


def run_once(options: RunOptions, state: ProjectState, config: Config) -> dict[str, Any]:
    """One run with its manifest; the manifest is written even when the run fails."""
    run_id, started, clock = new_run_id(), utc_now(), time.monotonic()
    tally = Tally()
    failure: BaseException | None = None
    try:
        execute(options, state, config, tally, run_id)
    except Exception as error:  # recorded in the manifest, then re-raised as a message
        log_error(f"run {run_id} failed", repr(error), state.project_dir)
        tally.errors.append(str(error) if isinstance(error, FatalError) else repr(error))
        failure = error
    data = manifest(run_id, options, started, tally, int((time.monotonic() - clock) * 1000))
    if not options.dry_run:
        write_manifest(state, data)
    if failure is not None:
        detail = f"; manifest {state.runs / (run_id + '.json')}" if not options.dry_run else ""
        raise FatalError(f"run failed: {tally.errors[-1]}{detail}") from failure
    return data


def pending_path(state: ProjectState) -> Path:
    return state.root / "pending"


def outlive_debounce(state: ProjectState) -> None:
    """Sleep until the Stop hooks stop debouncing against the stamp of the spawn that started us."""
    try:
        left = state.spawn_stamp.stat().st_mtime + spawn.debounce_seconds() - time.time()
    except OSError:
        return
    time.sleep(min(max(0.0, left), spawn.DEBOUNCE_SECONDS * 12) + NOTE_SLACK_S / 10)


def note_left(state: ProjectState, since: float) -> bool:
    """Whether a hook asked for another run; read under the store lock, which hooks hold while
    they decide between spawning and leaving a note, so no decision falls between two looks."""
    with store.store_lock(state):
        return pending_since(state, since)


def pending_since(state: ProjectState, started: float) -> bool:
    try:
        return pending_path(state).stat().st_mtime >= started
    except OSError:
        return False


def run(options: RunOptions) -> dict[str, Any] | None:
    """A run under the project's run lock. None: a spawned run found another one running."""
    if options.limit is not None and options.limit < 0:
        raise UserError("--limit must be 0 or more")
    state = project_state(options.project)
    config = load_config(state.project)
    if options.dry_run:  # no lock either: taking it would create state
        return run_once(options, state, config)
    import filelock

    store.ensure_state(state)  # 0700 directories: the state is the user's alone
    wait = 0 if options.spawned else options.wait_s
    lock = filelock.FileLock(str(state.run_lock), timeout=wait, mode=0o600)
    try:
        lock.acquire()
    except filelock.Timeout:
        if options.spawned:
            pending_path(state).touch(mode=0o600)
            return None
        raise UserError("a run is in progress for this project; try again when it ends") from None
    started = time.time() - NOTE_SLACK_S
    if pending_path(state).exists() and not pending_since(state, started):
        pending_path(state).unlink(missing_ok=True)  # an older note: this run covers it
    first = run_released(options, state, config, lock)
    # A Stop hook that finds the lock taken, or a distiller started moments ago (debounce), leaves
    # a note instead of a distiller; the holder may be past its last look at the note by then. So
    # whoever releases the lock looks again and runs once more if it can take the lock (if it
    # cannot, the new holder will look in turn). A spawned distiller first outlives the debounce
    # window: a hook debounced inside it counts on someone alive to read its note.
    for _ in range(MAX_EXTRA_RUNS):
        if options.spawned:
            outlive_debounce(state)
        if not note_left(state, started) or not take(lock):
            break
        started = time.time() - NOTE_SLACK_S
        pending_path(state).unlink(missing_ok=True)  # this run covers what the note asked for
        # its failure is in its own manifest and the log; the run asked for succeeded
        with contextlib.suppress(FatalError):
            run_released(replace(options, transcripts=()), state, config, lock)
    return first


MAX_EXTRA_RUNS = 5
# File times come from a coarse kernel clock, a few ms behind time.time(): a note left just after
# a run started can look older than the run. Counting it as new costs at most one empty run.
NOTE_SLACK_S = 1.0


def take(lock: filelock.BaseFileLock) -> bool:
    import filelock

    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        return False
    return True


def run_released(
    options: RunOptions, state: ProjectState, config: Config, lock: filelock.BaseFileLock
) -> dict[str, Any]:
    """run_once, with the run lock (held on entry) released when it ends."""
    try:
        return run_once(options, state, config)
    finally:
        lock.release()
