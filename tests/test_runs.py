"""Run manifests beyond KEEP_RUNS are folded into the archive: counted and charted the same."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from selfdistill import journal, report, runs, status
from selfdistill.errors import UserError
from tests.support.transcripts import Step
from tests.test_distill import TREE, VERCEL, resume
from tests.test_report import NOW, run, session, state_of
from tests.test_run_cli import make_project


def four_runs(tmp_path: Path) -> Path:
    """Four real runs, one transcript analysed twice (it grew in between)."""
    project = make_project(tmp_path)
    grown: list[Step] = [*TREE, ("ls", True, "src")]
    run(project, session(tmp_path, "a", TREE, "2026-01-01"))
    run(project, session(tmp_path, "b", TREE, "2026-01-02"))
    run(project, session(tmp_path, "c", VERCEL, "2026-01-02"))
    run(project, session(tmp_path, "a", grown, "2026-01-01"))
    return project


def seen(project: Path) -> dict[str, Any]:
    gathered_report = report.gather(state_of(project), NOW)
    gathered = report.report_json(gathered_report)
    kept = ("signalTotals", "signalsByDay", "sessionsAnalysed")
    return {
        **{key: gathered[key] for key in kept},
        # "runs:     4 (last <id>, 3 session(s) analysed)", without the id of the last one
        "runs": re.sub(r"last \S+", "last", report.format_text(gathered_report).splitlines()[1]),
        "totalRuns": status.project_status(state_of(project))["totalRuns"],
    }


def test_folded_runs_are_counted_and_charted_as_if_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    everything = seen(four_runs(tmp_path / "kept"))
    monkeypatch.setattr(runs, "KEEP_RUNS", 2)
    project = four_runs(tmp_path / "folded")
    state = state_of(project)
    assert len(list(state.runs.glob("*.json"))) == 2
    archive = runs.load_archive(state)
    assert archive.runs == 2
    assert [item["sessionId"] for item in archive.session_signals] == ["a", "b"]
    assert seen(project) == everything
    assert everything["totalRuns"] == 4 and everything["runs"].startswith("runs:     4 ")


def test_a_resumed_session_whose_parents_run_was_folded_counts_its_copies_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "KEEP_RUNS", 1)
    project = make_project(tmp_path)
    parent = session(tmp_path, "p", TREE, "2026-01-01")
    run(project, parent)
    run(project, session(tmp_path, "o", VERCEL, "2026-01-02"))  # p's manifest is folded
    assert runs.load_archive(state_of(project)).runs == 1
    manifest = run(project, resume(parent, tmp_path / "t" / "r.jsonl", "r", VERCEL[:1]))
    [item] = manifest["sessionSignals"]
    assert item["copies"] == {"tool_error": 1}  # p's, copied


def first_run(folder: Path) -> Path:
    """The manifest of the run that started first (ids of runs in one second sort at random)."""
    return min(folder.glob("*.json"), key=lambda p: (json.loads(p.read_text())["startedAt"], p))


def test_a_fold_cut_short_before_deleting_counts_each_run_once(tmp_path: Path) -> None:
    project = four_runs(tmp_path)
    state = state_of(project)
    oldest = first_run(state.runs)
    saved = tmp_path / "saved.json"
    shutil.copyfile(oldest, saved)
    runs.fold_old_runs(state, keep=3)
    assert not oldest.exists() and runs.load_archive(state).runs == 1
    shutil.copyfile(saved, oldest)  # as if the run was killed between archive and delete
    assert status.project_status(state)["totalRuns"] == 4  # readers know it is folded
    assert "runs:     4 " in report.format_text(report.gather(state, NOW))
    runs.fold_old_runs(state, keep=3)
    assert not oldest.exists() and runs.load_archive(state).runs == 1
    assert status.project_status(state)["totalRuns"] == 4


def test_an_unreadable_manifest_is_folded_as_a_run_and_an_odd_archive_as_none(
    tmp_path: Path,
) -> None:
    project = four_runs(tmp_path)
    state = state_of(project)
    oldest = first_run(state.runs)
    oldest.write_text("{ not json")
    runs.fold_old_runs(state, keep=3)
    assert runs.load_archive(state).runs == 1
    assert status.project_status(state)["totalRuns"] == 4
    runs.archive_path(state).write_text(json.dumps({"runs": "many", "sessionSignals": [1]}))
    assert runs.load_archive(state) == runs.Archive()


def test_a_folded_run_older_than_session_signals_still_counts_its_sessions(
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path)
    state = state_of(project)
    run(project, session(tmp_path, "a", TREE, "2026-01-01"))
    (state.runs / "20250101T000000Z-000000.json").write_text(
        json.dumps({"id": "old", "startedAt": "2025-01-01T00:00:00Z", "sessionsProcessed": 2})
    )
    assert report.gather(state, NOW).sessions_analysed == 3
    runs.fold_old_runs(state, keep=1)
    assert runs.load_archive(state).unnamed_sessions == 2
    assert report.gather(state, NOW).sessions_analysed == 3


def test_a_fold_that_fails_leaves_the_run_done_and_says_so_in_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(state: Any, keep: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(runs, "fold_old_runs", broken)
    project = make_project(tmp_path)
    manifest = run(project, session(tmp_path, "a", TREE, "2026-01-01"))
    assert manifest["errors"] == []
    assert (state_of(project).runs / f"{manifest['id']}.json").exists()
    log = next(Path(os.environ["SELFDISTILL_HOME"]).rglob("selfdistill.log"))
    assert "folding old run manifests failed" in log.read_text()


def test_rolling_back_a_folded_run_says_whether_it_wrote_anything(tmp_path: Path) -> None:
    project = four_runs(tmp_path)
    state = state_of(project)
    ids = [m["id"] for m in runs.load_runs(state)]
    wrote = [run_id for run_id in ids if journal.run_path(state, run_id).exists()]
    assert wrote and ids[0] not in wrote  # the first run found a candidate and wrote nothing
    runs.fold_old_runs(state, keep=2)
    assert ids[0] not in [m["id"] for m in runs.load_runs(state)]
    with pytest.raises(UserError, match=r"no run \S+ wrote anything back here"):
        journal.rollback_run(state, ids[0])
    with pytest.raises(UserError, match="unknown run id"):
        journal.rollback_run(state, "99991231T000000Z-ffffff")  # newer than any run kept
    assert journal.rollback_run(state, wrote[0]).run_id == wrote[0]  # its journal is kept
