"""A whole run over real transcript files: lessons, watermarks, manifests, dry runs, locks."""

from __future__ import annotations

import gzip
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import filelock
import pytest

from selfdistill import config, distill, heuristics, lessons
from selfdistill.commands.run import summary
from selfdistill.distill import Mark, Plan, Progress, RunOptions, Skip, Target, Watermarks
from selfdistill.errors import FatalError
from selfdistill.model import SessionReport
from selfdistill.paths import ProjectState
from selfdistill.schemas import validate
from selfdistill.signals import analyze
from tests.support.transcripts import Step, unreadable_transcripts, write_transcript

REPO = Path(__file__).resolve().parents[1]

# --- transcripts in Claude Code's format (tests/support/transcripts.py) --------------------------

TREE: list[Step] = [
    ("tree src -L 2", False, "Exit code 127\n(eval):1: command not found: tree"),
    ("find src -type f", True, "src/a.py"),
]
VERCEL: list[Step] = [
    (
        "vercel --prod",
        False,
        'Error: Command `vercel deploy` requires confirmation. Use option "--yes"',
    ),
    ("vercel --prod --yes", True, "Deployed"),
]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)
    return root


def sessions(tmp_path: Path, steps: Sequence[Step], count: int, prefix: str = "s") -> list[Path]:
    return [
        write_transcript(tmp_path / "t" / f"{prefix}{n}.jsonl", f"{prefix}{n}", steps)
        for n in range(count)
    ]


def run(project: Path, *paths: Path, **options: Any) -> dict[str, Any]:
    manifest = distill.run(RunOptions(project=project, transcripts=tuple(paths), **options))
    assert manifest is not None
    return manifest


def tree_of(*roots: Path) -> dict[str, tuple[int, float]]:
    seen: dict[str, tuple[int, float]] = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                info = os.lstat(os.path.join(dirpath, name))
                seen[os.path.join(dirpath, name)] = (info.st_size, info.st_mtime)
    return seen


# --- runs ----------------------------------------------------------------------------------------


def test_two_sessions_make_an_active_grounded_lesson(project: Path, tmp_path: Path) -> None:
    manifest = run(project, *sessions(tmp_path, TREE, 2))
    validate("manifest", manifest)
    assert manifest["sessionsProcessed"] == 2
    assert manifest["analysisMode"] == "heuristic"
    [stored] = lessons.read_lessons(distill.project_state(project))
    assert stored.status == "active"
    assert stored.sessions_seen == 2
    assert stored.text() == (
        "Using `tree`: it is not installed here (command not found: tree); use `find` instead"
    )
    assert {e.session_id for e in stored.evidence} == {"s0", "s1"}
    state = distill.project_state(project)
    saved = json.loads((state.runs / f"{manifest['id']}.json").read_text())
    assert saved == manifest


def test_one_session_is_only_a_candidate(project: Path, tmp_path: Path) -> None:
    run(project, *sessions(tmp_path, VERCEL, 1))
    [stored] = lessons.read_lessons(distill.project_state(project))
    assert stored.status == "candidate"
    assert "`vercel --prod --yes`" in stored.action


def test_a_fix_s_evidence_names_the_entry_its_recovery_signal_names(
    project: Path, tmp_path: Path
) -> None:
    [path] = sessions(tmp_path, VERCEL, 1)
    run(project, path)
    [stored] = lessons.read_lessons(distill.project_state(project))
    found = {(s.kind, s.uuid) for s in analyze(path).signals}
    evidence = {(e.signal, e.uuid) for e in stored.evidence}
    assert evidence == {("tool_error", "s0-0002"), ("recovery", "s0-0004")}
    assert evidence <= found


REJECTED = "The user doesn't want to proceed with this tool use. The tool use was rejected."
ASK_FIRST = (
    "Before running `dev` with npm, pnpm, yarn or bun: ask the user first; they have stopped it "
    "before"
)


def rejecting(tmp_path: Path, session: str, command: str, reason: str = "") -> Path:
    said = f" To tell you how to proceed, the user said:\n{reason}" if reason else ""
    return write_transcript(
        tmp_path / f"{session}.jsonl", session, [(command, False, REJECTED + said)]
    )


def test_the_dev_server_stopped_in_two_sessions_is_an_active_preference(
    project: Path, tmp_path: Path
) -> None:
    run(project, rejecting(tmp_path, "s0", "pnpm dev"), rejecting(tmp_path, "s1", "pnpm dev &"))
    [stored] = lessons.read_lessons(distill.project_state(project))
    assert (stored.kind, stored.status, stored.sessions_seen) == ("preference", "active", 2)
    assert stored.text() == ASK_FIRST


def test_the_dev_server_stopped_in_one_session_is_a_candidate(
    project: Path, tmp_path: Path
) -> None:
    run(project, rejecting(tmp_path, "s0", "pnpm dev"))
    [stored] = lessons.read_lessons(distill.project_state(project))
    assert (stored.status, stored.sessions_seen, stored.text()) == ("candidate", 1, ASK_FIRST)


def test_a_rejection_with_a_reason_keeps_the_reason_lesson(project: Path, tmp_path: Path) -> None:
    reason = "the dev server is already running in my terminal"
    run(project, rejecting(tmp_path, "s0", "pnpm dev", reason))
    [stored] = lessons.read_lessons(distill.project_state(project))
    said = f'the user rejected it once, saying: "{reason}"'
    assert stored.text() == f"Before running `dev` with npm, pnpm, yarn or bun: {said}"


def test_a_call_cancelled_with_a_rejected_one_does_not_count(project: Path, tmp_path: Path) -> None:
    from tests.data.transcripts.builder import Transcript

    t = Transcript(session="s1")  # entry uuids u0001...: none shared with s0's
    edit, dev = t.edit("/work/project/src/App.vue", "a", "b"), t.bash("pnpm dev")
    t.result(edit, REJECTED, error=True)
    t.result(dev, "The user doesn't want to take this action right now. STOP.", error=True)
    run(project, rejecting(tmp_path, "s0", "pnpm dev"), t.write(tmp_path / "s1.jsonl"))
    found = {x.text(): x for x in lessons.read_lessons(distill.project_state(project))}
    assert found[ASK_FIRST].sessions_seen == 1 and found[ASK_FIRST].status == "candidate"
    assert found[ASK_FIRST].evidence[0].session_id == "s0"
    assert "Before changing `src/App.vue`: ask the user first; they have stopped it before" in found


def test_rerun_over_the_same_data_adds_nothing(project: Path, tmp_path: Path) -> None:
    paths = sessions(tmp_path, TREE, 2) + sessions(tmp_path, VERCEL, 1, prefix="v")
    first = run(project, *paths)
    state = distill.project_state(project)
    before = state.lessons.read_bytes()
    second = run(project, *paths)
    assert first["lessonsNew"] == 2
    # found again, but each already stored with this evidence: proposed, merged, nothing changed
    assert (second["lessonsGenerated"], second["lessonsNew"], second["lessonsMerged"]) == (2, 0, 2)
    assert second["lessonsActivated"] == 0
    assert state.lessons.read_bytes() == before


def test_appended_transcript_is_reanalysed_without_double_counting(
    project: Path, tmp_path: Path
) -> None:
    [path] = sessions(tmp_path, TREE, 1)
    run(project, path)
    write_transcript(path, "s0", [*TREE, *VERCEL])  # the session went on
    run(project, path)
    stored = {x.trigger: x for x in lessons.read_lessons(distill.project_state(project))}
    assert stored["Using `tree`"].sessions_seen == 1
    assert "Running `vercel --prod`" in stored


def resume(
    parent: Path,
    path: Path,
    session: str,
    steps: Sequence[Step] = (),
    day: str = "2026-01-01",
    keep_ids: bool = False,
) -> Path:
    """A resumed session as Claude Code writes it: its parent's entries again, same uuids and
    times, under the new session id (`keep_ids`: under the parent's, as it sometimes leaves
    them), then its own, from midnight of `day`."""
    copied = [json.loads(line) for line in parent.read_text().splitlines()]
    if not keep_ids:
        copied = [{**entry, "sessionId": session} for entry in copied]
    own = write_transcript(path, session, steps, day=day).read_text()
    path.write_text("".join(json.dumps(entry) + "\n" for entry in copied) + own)
    return path


def test_a_resumed_session_is_judged_by_what_it_did_not_by_its_parents_copies(
    project: Path, tmp_path: Path
) -> None:
    assert run(project, *sessions(tmp_path, TREE, 2))["published"]
    later = write_transcript(tmp_path / "later.jsonl", "late", TREE, day="2099-01-01")
    assert run(project, later)["efficacy"] == {"helped": 0, "hurt": 1}
    # resumed: `late`'s entries again (its failure too, dated after publication), then `ls`
    resumed = resume(later, tmp_path / "r.jsonl", "r", [("ls", True, "a.py")], day="2099-01-02")
    assert run(project, resumed)["efficacy"] == {"helped": 0, "hurt": 0}
    [judged] = lessons.read_lessons(distill.project_state(project))
    assert (judged.hurt, judged.status) == (1, "active")
    # what a resumed session does itself counts: here `tree` fails in it again
    again = resume(later, tmp_path / "r2.jsonl", "r2", TREE, day="2099-01-03")
    assert run(project, again)["efficacy"] == {"helped": 0, "hurt": 1}


def test_a_resumed_session_of_a_parent_without_signals_is_known_by_its_first_entry(
    project: Path, tmp_path: Path
) -> None:
    assert run(project, *sessions(tmp_path, TREE, 2))["published"]
    later = write_transcript(
        tmp_path / "ok.jsonl", "ok", [("tree src", True, "src")], day="2099-01-01"
    )
    assert run(project, later)["efficacy"] == {"helped": 1, "hurt": 0}
    # resumed: `ok`'s entries again, its passing `tree` too (no signal names them), then `ls`
    resumed = resume(later, tmp_path / "r.jsonl", "r", [("ls", True, "a.py")], day="2099-01-02")
    manifest = run(project, resumed)
    assert manifest["efficacy"] == {"helped": 0, "hurt": 0}
    [item] = manifest["sessionSignals"]
    assert item["rootUuid"] == analyze(later).root_uuid is not None
    [judged] = lessons.read_lessons(distill.project_state(project))
    assert (judged.helped, judged.hurt) == (1, 0)


def test_a_resumed_session_began_when_its_parent_ended() -> None:
    def report(file: str, root: str, start: str, end: str) -> SessionReport:
        return SessionReport(
            file, file, (), "neutral", started_at=start, ended_at=end, root_uuid=root
        )

    child = report("c", "u1", "2099-01-01T00:00:00Z", "2099-01-03T00:00:00Z")
    seen = {
        "c": distill.Seen(child.ended_at, "u1"),
        "p": distill.Seen("2099-01-02T00:00:00Z", "u1"),  # its parent, ended first
        "g": distill.Seen("2099-01-04T00:00:00Z", "u1"),  # resumed it in turn, later
        "x": distill.Seen("2099-01-02T12:00:00Z", "u2"),  # began otherwise: unrelated
    }
    own = distill.without_copies(child, {}, seen)
    assert own.started_at == "2099-01-02T00:00:00Z"
    assert distill.without_copies(replace(child, root_uuid="u3"), {}, seen) == replace(
        child, root_uuid="u3"
    )


def test_a_resumed_session_is_no_new_evidence_for_its_parents_entries(
    project: Path, tmp_path: Path
) -> None:
    [parent] = sessions(tmp_path, TREE, 1)
    manifest = run(project, parent, resume(parent, tmp_path / "t" / "r.jsonl", "r"))
    assert manifest["sessionsProcessed"] == 2
    [stored] = lessons.read_lessons(distill.project_state(project))
    assert (stored.status, stored.sessions_seen) == ("candidate", 1)
    assert {e.session_id for e in stored.evidence} == {"s0"}  # the session analysed first


def test_a_resumed_session_that_fails_again_on_its_own_counts(
    project: Path, tmp_path: Path
) -> None:
    [parent] = sessions(tmp_path, TREE, 1)
    run(project, parent, resume(parent, tmp_path / "t" / "r.jsonl", "r", TREE))
    [stored] = lessons.read_lessons(distill.project_state(project))
    assert (stored.status, stored.sessions_seen) == ("active", 2)


def test_dry_run_persists_nothing_at_all(project: Path, tmp_path: Path) -> None:
    paths = sessions(tmp_path, TREE, 2)
    home = Path(os.environ["SELFDISTILL_HOME"])
    before = tree_of(home.parent, project)
    manifest = run(project, *paths, dry_run=True)
    assert tree_of(home.parent, project) == before
    assert not home.exists()
    assert manifest["dryRun"] is True
    assert manifest["lessonsGenerated"] == 1  # one lesson, from two sessions
    assert manifest["lessons"][0]["status"] == "active"  # what a real run would do


def test_dry_run_after_a_real_run_changes_nothing(project: Path, tmp_path: Path) -> None:
    paths = sessions(tmp_path, TREE, 1)
    run(project, *paths)
    home = Path(os.environ["SELFDISTILL_HOME"])
    before = tree_of(home, project)
    run(project, *sessions(tmp_path, TREE, 2, prefix="x"), dry_run=True)
    assert tree_of(home, project) == before


def test_limit_processes_at_most_n_and_says_why_the_rest_waits(
    project: Path, tmp_path: Path
) -> None:
    manifest = run(project, *sessions(tmp_path, TREE, 3), limit=1)
    assert manifest["sessionsProcessed"] == 1
    assert manifest["sessionsSkipped"] == 2
    assert {s["reason"] for s in manifest["skipped"]} == {"over-limit"}


def test_failed_analysis_is_reported_and_not_marked_processed(
    project: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "t" / "broken.jsonl"
    bad.mkdir(parents=True)  # a directory: reading it fails
    [good] = sessions(tmp_path, TREE, 1)
    manifest = run(project, good, bad)
    assert manifest["sessionsProcessed"] == 1
    assert [s["reason"] for s in manifest["skipped"]] == ["analysis-failed"]
    assert manifest["errors"]
    marks = distill.read_watermarks(distill.project_state(project))
    assert str(good) in marks.transcripts
    assert str(bad) not in marks.transcripts


def test_a_transcript_with_no_readable_entry_is_skipped_not_processed(
    project: Path, tmp_path: Path
) -> None:
    bad = unreadable_transcripts(tmp_path)
    [good] = sessions(tmp_path, TREE, 1)
    whole = gzip.compress(good.read_bytes())
    (tmp_path / "cut.jsonl.gz").write_bytes(whole[: len(whole) * 3 // 4])  # some lines survive
    paths = [*bad, good, tmp_path / "cut.jsonl.gz"]
    manifest = run(project, *paths, dry_run=True)
    validate("manifest", manifest)
    assert manifest["sessionsProcessed"] == 2
    assert manifest["sessionsSkipped"] == len(bad)
    assert manifest["skipped"] == [
        {"path": str(path), "reason": "no-entries", "detail": distill.NO_ENTRIES} for path in bad
    ]
    assert manifest["errors"] == []


def test_manifest_is_written_even_when_the_run_fails(project: Path, tmp_path: Path) -> None:
    state = distill.project_state(project)
    state.root.mkdir(parents=True)
    state.lessons.write_text("{broken")
    with pytest.raises(FatalError, match="not valid JSON"):
        run(project, *sessions(tmp_path, TREE, 1))
    [path] = state.runs.glob("*.json")
    manifest = json.loads(path.read_text())
    validate("manifest", manifest)
    assert manifest["completedAt"] and manifest["errors"]
    assert not state.watermarks.exists()  # nothing marked processed


def test_rejected_lesson_is_not_proposed_again(project: Path, tmp_path: Path) -> None:
    run(project, *sessions(tmp_path, TREE, 1))
    state = distill.project_state(project)
    assert len(lessons.read_lessons(state)) == 1
    lessons.update_lessons(
        state, lambda cur: tuple(lessons.set_status(x, "rejected", "t") for x in cur)
    )
    manifest = run(project, *sessions(tmp_path, TREE, 3, prefix="again"))
    assert manifest["sessionsProcessed"] == 3
    assert manifest["lessons"] == [] and manifest["lessonsGenerated"] == 0
    [after] = lessons.read_lessons(state)
    assert after.status == "rejected"


def test_turning_claude_md_off_takes_the_block_out_at_the_next_run(
    project: Path, tmp_path: Path
) -> None:
    (project / "CLAUDE.md").write_bytes(b"# Mine\n")
    assert run(project, *sessions(tmp_path, TREE, 2))["published"]
    (project / ".claude").mkdir()
    (project / ".claude" / "selfdistill.json").write_text('{"publish": {"claudeMd": false}}')
    manifest = run(project)  # nothing new to read, no lesson changed
    assert manifest["published"] == [str(project / "CLAUDE.md")]
    assert (project / "CLAUDE.md").read_bytes() == b"# Mine\n"
    assert run(project)["published"] == []  # once out, runs leave the file alone


def test_a_run_that_deletes_the_claude_md_it_created_says_removed(
    project: Path, tmp_path: Path
) -> None:
    assert run(project, *sessions(tmp_path, TREE, 2))["published"]  # CLAUDE.md created
    (project / ".claude").mkdir()
    (project / ".claude" / "selfdistill.json").write_text('{"publish": {"claudeMd": false}}')
    manifest = run(project)
    assert not (project / "CLAUDE.md").exists()
    assert f"  removed {project / 'CLAUDE.md'}" in summary(manifest).splitlines()


def test_in_review_mode_a_run_shows_the_approved_lessons_once_claude_md_is_on_again(
    project: Path, tmp_path: Path
) -> None:
    from selfdistill.commands.lessons import decide

    config_file = project / ".claude" / "selfdistill.json"
    config_file.parent.mkdir()
    config_file.write_text('{"mode": "review", "publish": {"claudeMd": false}}')
    run(project, *sessions(tmp_path, TREE, 2))
    [stored] = lessons.read_lessons(distill.project_state(project))
    decide(distill.project_state(project), stored.id, "active")
    assert not (project / "CLAUDE.md").exists()  # approved while CLAUDE.md was off
    config_file.write_text('{"mode": "review"}')
    assert run(project)["published"] == [str(project / "CLAUDE.md")]
    assert stored.id in (project / "CLAUDE.md").read_text()


def test_review_mode_waits_for_approval(project: Path, tmp_path: Path) -> None:
    (project / ".claude").mkdir()
    (project / ".claude" / "selfdistill.json").write_text('{"mode": "review"}')
    manifest = run(project, *sessions(tmp_path, TREE, 2))
    assert manifest["lessonsActivated"] == 0
    assert manifest["published"] == []
    [stored] = lessons.read_lessons(distill.project_state(project))
    assert stored.status == "candidate" and stored.sessions_seen == 2
    [row] = manifest["lessons"]
    assert (row["id"], row["status"], row["awaitingApproval"]) == (stored.id, "candidate", True)
    assert manifest["awaitingApproval"] == 1
    assert f"  {stored.id} awaiting  2s Using `tree`: " in summary(manifest)


def test_a_lesson_found_in_several_sessions_is_one_row_of_the_manifest(
    project: Path, tmp_path: Path
) -> None:
    # `tree` missing in three sessions: two found `find` instead, one `ls`. Three candidates, two
    # of their own ids, one lesson about `tree`.
    [other] = sessions(tmp_path, [TREE[0], ("ls -R src", True, "src:\na.py")], 1, prefix="l")
    manifest = run(project, other, *sessions(tmp_path, TREE, 2))
    validate("manifest", manifest)
    [stored] = lessons.read_lessons(distill.project_state(project))
    [row] = manifest["lessons"]
    assert (row["id"], row["outcome"], row["status"]) == (stored.id, "new", "active")
    assert row["sessions"] == ["l0", "s0", "s1"] and row["sessionsSeen"] == 3
    assert row["awaitingApproval"] is False  # auto mode: published, not waiting
    counts = ("lessonsGenerated", "lessonsNew", "lessonsMerged", "lessonsActivated")
    assert [manifest[key] for key in counts] == [1, 1, 0, 1]
    assert summary(manifest).count("Using `tree`") == 1
    again = run(project, *sessions(tmp_path, TREE, 2, prefix="x"))
    [row] = again["lessons"]
    assert (row["id"], row["outcome"], row["sessions"]) == (stored.id, "merged", ["x0", "x1"])
    assert [again[key] for key in counts] == [1, 0, 1, 0]


# --- watermarks: the pure part -------------------------------------------------------------------


def plan(targets: list[str], skipped: list[Skip], count: int) -> Plan:
    return Plan(
        targets=tuple(Target(path, index) for index, path in enumerate(targets)),
        skipped=tuple(skipped),
        marks=tuple(Mark(1, 100 * (n + 1)) for n in range(count)),
        since=Mark(1, 0),
        observations=count,
    )


def test_watermark_stops_before_the_first_deferred_transcript() -> None:
    deferred = plan(["a"], [Skip("b", "over-limit", "", 2), Skip("c", "missing", "", 3)], 5)
    analysed = distill.Analysis((), ())
    assert distill.next_marks(deferred, analysed, Watermarks()).observations == Mark(1, 200)
    done = plan(["a"], [Skip("c", "missing", "", 3)], 5)
    assert distill.next_marks(done, analysed, Watermarks()).observations == Mark(1, 500)
    failed = distill.Analysis((), (Skip("a", "analysis-failed", "", 0),))
    assert distill.next_marks(done, failed, Watermarks()).observations == Mark(1, 0)


def test_unchanged_transcripts_are_not_selected_again(tmp_path: Path) -> None:
    [path] = sessions(tmp_path, TREE, 1)
    progress = distill.progress_of(str(path))
    assert progress is not None
    settings = config.load_config(None)
    seen = Watermarks(None, {str(path): progress})
    chosen = distill.select([Target(str(path), 0)], seen, settings, (), None, (), {})
    assert chosen.targets == ()
    grown = Watermarks(None, {str(path): Progress(progress.size - 1, progress.mtime)})
    assert distill.select([Target(str(path), 0)], grown, settings, (), None, (), {}).targets


def test_ignored_paths_are_skipped(tmp_path: Path) -> None:
    [path] = sessions(tmp_path, TREE, 1)
    settings = config.Config(ignore_paths=(str(tmp_path / "t" / "*"),))
    chosen = distill.select([Target(str(path), 0)], Watermarks(), settings, (), None, (), {})
    assert [s.reason for s in chosen.skipped] == ["ignored"]


# --- locks and concurrency (real processes) ------------------------------------------------------


def cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[str]:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "selfdistill", *args],
        env=full_env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_concurrent_runs_never_corrupt_the_store_nor_lose_lessons(
    project: Path, tmp_path: Path
) -> None:
    groups = [
        sessions(
            tmp_path,
            [
                (f"tool{g} src", False, f"command not found: tool{g}"),
                ("find src -type f", True, "ok"),
            ],
            2,
            prefix=f"g{g}-",
        )
        for g in range(4)
    ]
    procs = [
        cli("run", "--project", str(project), *[a for p in paths for a in ("--transcript", str(p))])
        for paths in groups
    ]
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    assert all(code == 0 for code, _ in results), results
    stored = lessons.read_lessons(distill.project_state(project))
    assert sorted(x.trigger for x in stored) == [f"Using `tool{g}`" for g in range(4)]
    assert all(x.status == "active" for x in stored)
    state = distill.project_state(project)
    assert len(list(state.runs.glob("*.json"))) == 4


def test_hook_spawned_run_leaves_a_note_when_a_run_holds_the_lock(project: Path) -> None:
    state: ProjectState = distill.project_state(project)
    state.root.mkdir(parents=True)
    with filelock.FileLock(str(state.run_lock), timeout=0):
        umask = os.umask(0o022)  # the note is the user's alone even so
        try:
            spawned = cli("run", "--project", str(project), env={"SELFDISTILL_INTERNAL": "1"})
        finally:
            os.umask(umask)
        assert spawned.wait(timeout=60) == 0
        assert stat.S_IMODE((state.root / "pending").stat().st_mode) == 0o600
        manual = cli("run", "--project", str(project), "--wait", "1")
        started = time.monotonic()
        assert manual.wait(timeout=60) == 1
        assert "in progress" in (manual.stderr.read() if manual.stderr else "")
        assert time.monotonic() - started < 30
    assert not list(state.runs.glob("*.json")) if state.runs.exists() else True


# --- the model backend (real SDK against the local HTTP stand-in) --------------------------------


def enable_llm(project: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / ".claude").mkdir(exist_ok=True)
    settings = {"llm": {"enabled": True, "baseUrl": url, "timeoutSeconds": 30, "maxRetries": 0}}
    (project / ".claude" / "selfdistill.json").write_text(json.dumps(settings))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")


def proposal(session: str, uuid: str) -> dict[str, Any]:
    return {
        "kind": "fact",
        "trigger": "Listing a directory tree",
        "action": "`tree` is missing on this machine; use `find DIR -type f`",
        "scope": "project",
        "confidence": 0.8,
        "evidence": [{"session_id": session, "uuid": uuid}],
    }


def test_model_lessons_are_used_when_enabled(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.llm_stub import LLMStub, tool_reply

    paths = sessions(tmp_path, TREE, 2)
    # the failing tool result is the third entry of each transcript
    answer = {"lessons": [proposal("s0", "s0-0002"), proposal("s1", "s1-0002")]}
    with LLMStub(tool_reply(answer, cache_write=700, cache_read=300)) as stub:
        enable_llm(project, stub.url, monkeypatch)
        manifest = run(project, *paths)
    assert manifest["analysisMode"] == "llm", manifest["errors"]
    assert manifest["llmCalls"] == 1 and manifest["costUsd"] > 0
    assert (manifest["inputTokens"], manifest["cacheWriteTokens"], manifest["cacheReadTokens"]) == (
        2000, 700, 300,
    )  # fmt: skip
    [stored] = lessons.read_lessons(distill.project_state(project))
    assert stored.source == "llm"
    assert stored.sessions_seen == 2 and stored.status == "active"
    # judged later by the failure it cites, as the heuristic lesson about it would be
    assert stored.target == "tree|not-installed"


def test_model_failure_falls_back_to_heuristics(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.llm_stub import LLMStub, error_reply

    with LLMStub(error_reply(500, "api_error")) as stub:
        enable_llm(project, stub.url, monkeypatch)
        manifest = run(project, *sessions(tmp_path, TREE, 2))
    assert manifest["analysisMode"] == "heuristic"
    assert any(error.startswith("model:") for error in manifest["errors"])
    [stored] = lessons.read_lessons(distill.project_state(project))
    assert stored.source == "heuristic" and stored.trigger == "Using `tree`"


def test_an_empty_model_answer_is_an_answer(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.llm_stub import LLMStub, tool_reply

    with LLMStub(tool_reply({"lessons": []})) as stub:
        enable_llm(project, stub.url, monkeypatch)
        manifest = run(project, *sessions(tmp_path, TREE, 2))
    assert manifest["analysisMode"] == "llm"
    assert manifest["lessons"] == [] and manifest["errors"] == []


def test_a_prompt_the_model_reads_as_a_correction_is_stored_as_one(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.data.transcripts.builder import Transcript
    from tests.support.llm_stub import LLMStub, tool_reply, user_text

    t = Transcript()
    t.prompt("add the discount banner")
    t.result(t.edit("/proj/banner.vue", "<Banner/>", "<Banner v-if='sale'/>"), "updated")
    t.say("Done: the banner shows during a sale.")
    plain = t.prompt("one banner per page")  # no rule labels it
    t.say("Looking for the second banner.")
    path = t.write(tmp_path / "s.jsonl")
    answer = {"lessons": [{**proposal("sess-1", plain), "kind": "preference"}]}
    with LLMStub(tool_reply(answer)) as stub:
        enable_llm(project, stub.url, monkeypatch)
        manifest = run(project, path)
    assert manifest["analysisMode"] == "llm", manifest["errors"]
    assert "one banner per page" in user_text(stub.requests[0])
    [stored] = lessons.read_lessons(distill.project_state(project))
    assert stored.signal == "correction"
    assert [(e.uuid, e.signal) for e in stored.evidence] == [(plain, "correction")]
    assert stored.target == f"banner page per{heuristics.CORRECTED}"


def cited_in(tmp_path: Path, name: str, steps: Sequence[Step]) -> dict[str, distill.Cited]:
    return distill.citable([analyze(write_transcript(tmp_path / f"{name}.jsonl", name, steps))])


def model_item(*uuids: str) -> dict[str, Any]:
    return {**proposal("s", "x"), "evidence": [{"session_id": "s", "uuid": u} for u in uuids]}


def test_a_model_lesson_is_measured_by_the_one_failure_it_cites(tmp_path: Path) -> None:
    cited = {
        **cited_in(tmp_path, "a", TREE),  # `tree` fails (a-0002)
        **cited_in(tmp_path, "b", VERCEL),  # `vercel --prod` fails (b-0002), then `--yes` works
    }
    assert cited["a-0002"].target == "tree|not-installed"
    vercel = cited["b-0002"].target
    assert vercel is not None and vercel.startswith("vercel|")
    fix = next(uuid for uuid, c in cited.items() if c.kind == "recovery")  # `--yes` worked

    def target(*uuids: str) -> str | None:
        made = distill.lesson_from_item(model_item(*uuids), cited, "now")
        assert made is not None
        return made.target

    assert target("b-0002", fix) == vercel  # the failure and what fixed it
    assert target("a-0002", "b-0002") is None  # two different failures: no one to watch
    assert target(fix) is None  # nothing failed


def test_a_model_lesson_from_a_rejections_reason_is_measured_as_the_rejection(
    tmp_path: Path,
) -> None:
    from tests.data.transcripts.builder import REJECTED_WITH_REASON, Transcript

    t = Transcript()
    t.prompt("deploy it")
    call = t.bash("npm run deploy")
    stop = t.result(call, REJECTED_WITH_REASON + "ask me before deploying, it costs money", True)
    cited = distill.citable([analyze(t.write(tmp_path / "r.jsonl"))])
    assert cited[stop].kind == "rejection"
    assert cited[stop].target == heuristics.rejection_signature(
        next(s for s in analyze(tmp_path / "r.jsonl").signals if s.kind == "rejection"), None
    )
    assert (cited[stop].target or "").endswith(heuristics.REJECTED)


def test_no_key_means_heuristics_even_when_enabled(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    enable_llm(project, "http://127.0.0.1:9", monkeypatch)
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    manifest = run(project, *sessions(tmp_path, TREE, 1))
    assert manifest["analysisMode"] == "heuristic" and manifest["llmCalls"] == 0
    assert manifest["errors"] == []  # consent in config without a key: doctor says it, not runs
    asked = run(project, *sessions(tmp_path, TREE, 1), model="claude-x", dry_run=True)
    assert (asked["analysisMode"], asked["llmCalls"]) == ("heuristic", 0)
    assert asked["errors"] == ["model claude-x not used: ANTHROPIC_API_KEY is not set"]


def test_a_stop_hook_note_left_during_a_run_triggers_one_more_run(
    project: Path, tmp_path: Path
) -> None:
    state = distill.project_state(project)
    state.root.mkdir(parents=True)
    pending = state.root / "pending"
    pending.touch()
    later = time.time() + 60  # as if a Stop hook had left it while the run was going
    os.utime(pending, (later, later))
    run(project, *sessions(tmp_path, TREE, 1))
    assert len(list(state.runs.glob("*.json"))) == 2
    assert not pending.exists()
    run(project, *sessions(tmp_path, TREE, 1))
    assert len(list(state.runs.glob("*.json"))) == 3  # the note was consumed once


# --- driven by the observation store (what the hooks recorded) -----------------------------------


def observe(project: Path, transcript: Path, session: str, **fields: Any) -> str:
    from selfdistill import store

    state = distill.project_state(project)
    store.ensure_state(state)
    record = {
        "ts": "2026-01-01T00:00:00Z",
        "event": "PostToolUse",
        "session_id": session,
        "transcript_path": str(transcript),
        "cwd": str(project),
        **fields,
    }
    return store.append(state, record)


def run_new(project: Path, **options: Any) -> dict[str, Any]:
    manifest = distill.run(RunOptions(project=project, **options))
    assert manifest is not None
    return manifest


def test_observations_name_the_transcripts_and_a_rerun_adds_nothing(
    project: Path, tmp_path: Path
) -> None:
    paths = sessions(tmp_path, TREE, 2)
    for n, path in enumerate(paths):
        observe(project, path, f"s{n}")
        observe(project, path, f"s{n}", event="Stop")
    first = run_new(project)
    assert first["observationsRead"] == 4
    assert first["sessionsProcessed"] == 2 and first["lessonsActivated"] == 1
    state = distill.project_state(project)
    before = state.lessons.read_bytes()
    second = run_new(project)
    assert second["observationsRead"] == 0 and second["sessionsProcessed"] == 0
    assert state.lessons.read_bytes() == before


def test_a_session_that_goes_on_is_reanalysed_and_counted_once(
    project: Path, tmp_path: Path
) -> None:
    [path] = sessions(tmp_path, TREE, 1)
    observe(project, path, "s0")
    run_new(project)
    write_transcript(path, "s0", [*TREE, *VERCEL])
    observe(project, path, "s0", event="Stop")
    again = run_new(project)
    assert again["sessionsProcessed"] == 1
    stored = {x.trigger: x for x in lessons.read_lessons(distill.project_state(project))}
    assert stored["Using `tree`"].sessions_seen == 1
    assert "Running `vercel --prod`" in stored


def test_limit_leaves_the_rest_for_the_next_runs(project: Path, tmp_path: Path) -> None:
    paths = sessions(tmp_path, TREE, 3)
    for n, path in enumerate(paths):
        observe(project, path, f"s{n}")
    processed = [run_new(project, limit=1)["sessionsProcessed"] for _ in range(4)]
    assert processed == [1, 1, 1, 0]
    [stored] = lessons.read_lessons(distill.project_state(project))
    assert stored.sessions_seen == 3


def test_a_failed_analysis_keeps_its_observations_for_the_next_run(
    project: Path, tmp_path: Path
) -> None:
    [good] = sessions(tmp_path, TREE, 1)
    bad = tmp_path / "t" / "broken.jsonl"
    bad.mkdir()
    observe(project, good, "s0")
    observe(project, bad, "s1")
    first = run_new(project)
    assert first["sessionsProcessed"] == 1 and first["errors"]
    bad.rmdir()
    write_transcript(bad, "s1", TREE)  # readable now
    second = run_new(project)
    assert second["logPaths"] == [str(bad)]
    [stored] = lessons.read_lessons(distill.project_state(project))
    assert stored.sessions_seen == 2 and stored.status == "active"


def test_missing_transcripts_are_skipped_once_with_the_reason(
    project: Path, tmp_path: Path
) -> None:
    observe(project, tmp_path / "gone.jsonl", "s9")
    first = run_new(project)
    assert [s["reason"] for s in first["skipped"]] == ["missing"]
    assert run_new(project)["skipped"] == []


def test_failure_observations_become_evidence(project: Path, tmp_path: Path) -> None:
    [path] = sessions(tmp_path, TREE, 1)
    obs_id = observe(
        project,
        path,
        "s0",
        event="PostToolUseFailure",
        tool_name="Bash",
        outcome="error",
        tool_input={"command": "tree src -L 2"},
        error="command not found: tree",
    )
    manifest = run_new(project)
    assert manifest["sessionsProcessed"] == 1, manifest
    [stored] = lessons.read_lessons(distill.project_state(project))
    assert obs_id in {e.observation_id for e in stored.evidence}


def test_a_reverted_commit_counts_against_lessons_from_its_session(
    project: Path, tmp_path: Path
) -> None:
    paths = sessions(tmp_path, TREE, 2)
    for n, path in enumerate(paths):
        observe(project, path, f"s{n}")
    run_new(project)
    observe(project, paths[0], "s0", event="GitCommit", commit={"sha": "abc123", "reverts": []})
    observe(
        project, paths[1], "s5", event="GitCommit", commit={"sha": "def456", "reverts": ["abc123"]}
    )
    run_new(project)
    [stored] = lessons.read_lessons(distill.project_state(project))
    assert stored.hurt == 1


def test_dry_run_over_observations_persists_nothing(project: Path, tmp_path: Path) -> None:
    paths = sessions(tmp_path, TREE, 2)
    for n, path in enumerate(paths):
        observe(project, path, f"s{n}")
    home = Path(os.environ["SELFDISTILL_HOME"])
    before = tree_of(home, project)
    manifest = run_new(project, dry_run=True)
    assert manifest["sessionsProcessed"] == 2 and manifest["lessonsActivated"] == 1
    assert tree_of(home, project) == before
    assert run_new(project)["sessionsProcessed"] == 2  # the real run still sees it all as new


def test_a_revert_finds_a_commit_recorded_in_an_earlier_run(project: Path, tmp_path: Path) -> None:
    paths = sessions(tmp_path, TREE, 2)
    observe(project, paths[0], "s0", event="GitCommit", commit={"sha": "abc123", "reverts": []})
    for n, path in enumerate(paths):
        observe(project, path, f"s{n}")
    run_new(project)
    observe(
        project, paths[1], "s7", event="GitCommit", commit={"sha": "fff", "reverts": ["abc123"]}
    )
    run_new(project)
    [stored] = lessons.read_lessons(distill.project_state(project))
    assert stored.hurt == 1


def test_a_fact_about_a_file_too_large_to_read_is_judged_by_later_reads(
    project: Path, tmp_path: Path
) -> None:
    big = "File content (31000 tokens) exceeds maximum allowed tokens (25000)."
    spec = [("Read /proj/docs/spec.md", False, big)]
    assert run(project, *sessions(tmp_path, spec, 2))["published"]
    state = distill.project_state(project)
    [published] = lessons.read_lessons(state)
    assert published.target == "Read docs/spec.md|too-large"
    in_parts = [("Read /proj/docs/spec.md", True, "1\tSpec")]
    read = write_transcript(tmp_path / "read.jsonl", "read", in_parts, day="2099-01-01")
    assert run(project, read)["efficacy"] == {"helped": 1, "hurt": 0}
    whole = write_transcript(tmp_path / "whole.jsonl", "whole", spec, day="2099-01-02")
    assert run(project, whole)["efficacy"] == {"helped": 0, "hurt": 1}
    [judged] = lessons.read_lessons(state)
    assert (judged.helped, judged.hurt) == (1, 1)


def correction_session(tmp_path: Path, name: str, day: str, said: str) -> Path:
    from tests.data.transcripts.builder import Transcript

    t = Transcript(session=name)
    t.prompt("set up the project")
    t.result(t.bash("npm install"), "added 12 packages")
    t.say("Installed the dependencies with npm.")
    t.prompt(said)
    t.say("You're right, switching to pnpm.")
    for record in t.records:  # each session its own day and entries (same uuids: a resume)
        record["timestamp"] = record["timestamp"].replace("2026-01-01", day)
        record["uuid"] = f"{name}-{record['uuid']}"
        record["parentUuid"] = record["parentUuid"] and f"{name}-{record['parentUuid']}"
    return t.write(tmp_path / f"{name}.jsonl")


def test_a_correction_lesson_is_judged_by_whether_the_user_makes_it_again(
    project: Path, tmp_path: Path
) -> None:
    rule = "No, always use pnpm in this repo, never npm: the lockfile is pnpm-lock.yaml."
    first = [correction_session(tmp_path, f"c{i}", f"2026-01-0{i + 1}", rule) for i in range(2)]
    assert run(project, *first)["published"]
    state = distill.project_state(project)
    [published] = lessons.read_lessons(state)
    assert published.signal == "correction" and published.status == "active"
    other = correction_session(tmp_path, "c8", "2099-01-01", "no, the port should be 8080")
    assert run(project, other)["efficacy"] == {"helped": 0, "hurt": 0}
    said = "no, pnpm not npm, the lockfile is pnpm-lock.yaml"
    again = correction_session(tmp_path, "c9", "2099-01-02", said)
    assert run(project, again)["efficacy"] == {"helped": 0, "hurt": 1}
    judged = next(x for x in lessons.read_lessons(state) if x.id == published.id)
    assert judged.hurt == 1 and judged.confidence < published.confidence


def test_published_lessons_are_judged_by_later_sessions(project: Path, tmp_path: Path) -> None:
    first = run(project, *sessions(tmp_path, TREE, 2))
    assert first["published"], "the publisher wrote the lesson"
    state = distill.project_state(project)
    [published] = lessons.read_lessons(state)
    assert published.published_at and published.target == "tree|not-installed"
    later = write_transcript(tmp_path / "later.jsonl", "late", TREE, day="2099-01-01")
    manifest = run(project, later)
    assert manifest["efficacy"] == {"helped": 0, "hurt": 1}
    [judged] = lessons.read_lessons(state)
    assert judged.hurt == 1 and judged.confidence < published.confidence
    assert judged.sessions_seen == 3  # the failure happened again: that is support too
    again = run(project, later)
    assert again["efficacy"] == {"helped": 0, "hurt": 0}  # each session judged once
