"""`selfdistill run` through the real command line: exit codes, JSON only on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from selfdistill.schemas import validate
from tests.support.transcripts import write_transcript
from tests.test_distill import TREE

REPO = Path(__file__).resolve().parents[1]


def selfdistill(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "selfdistill", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def make_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    return project


def test_json_prints_only_the_manifest(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    paths = [write_transcript(tmp_path / f"s{n}.jsonl", f"s{n}", TREE) for n in range(2)]
    args = [a for p in paths for a in ("--transcript", str(p))]
    done = selfdistill("run", "--json", *args, cwd=project)
    assert done.returncode == 0, done.stderr
    manifest = json.loads(done.stdout)
    validate("manifest", manifest)
    assert manifest["sessionsProcessed"] == 2
    assert manifest["lessons"][0]["trigger"] == "Using `tree`"
    assert manifest["logPaths"] == [str(p) for p in paths]


def test_dry_run_json_prints_the_manifest_too(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    path = write_transcript(tmp_path / "s.jsonl", "s", TREE)
    done = selfdistill("run", "--dry-run", "--json", "--transcript", str(path), cwd=project)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["dryRun"] is True
    assert not Path(os.environ["SELFDISTILL_HOME"]).exists()


def test_text_output_summarises(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    path = write_transcript(tmp_path / "s.jsonl", "s", TREE)
    done = selfdistill("run", "--project", str(project), "--transcript", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "1 session(s) analysed" in done.stdout
    assert "Using `tree`" in done.stdout


def test_nothing_new_is_a_quiet_success(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    done = selfdistill("run", "--json", cwd=project)
    assert done.returncode == 0, done.stderr
    manifest = json.loads(done.stdout)
    assert manifest["sessionsProcessed"] == 0 and manifest["lessons"] == []


def test_bad_arguments_are_one_line_errors(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    for args in (["--limit", "-1"], ["--transcript", str(tmp_path / "nope.jsonl")]):
        done = selfdistill("run", *args, cwd=project)
        assert done.returncode == 1
        assert done.stdout == ""
        assert "Traceback" not in done.stderr


def test_invalid_config_is_a_one_line_error(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    (project / ".claude").mkdir()
    (project / ".claude" / "selfdistill.json").write_text('{"minSessions": "two"}')
    done = selfdistill("run", cwd=project)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert "minSessions" in done.stderr


def test_help() -> None:
    done = selfdistill("run", "--help", cwd=REPO)
    assert done.returncode == 0
    assert "--dry-run" in done.stdout and "--transcript" in done.stdout


def test_a_claude_md_it_will_not_write_fails_the_run_until_mended(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    mine = b"# Notes\n<!-- selfdistill:begin -->\nwhere does this end?\n"
    (project / "CLAUDE.md").write_bytes(mine)
    paths = [write_transcript(tmp_path / f"s{n}.jsonl", f"s{n}", TREE) for n in range(2)]
    args = [a for p in paths for a in ("--transcript", str(p))]
    done = selfdistill("run", "--json", *args, cwd=project)
    assert done.returncode == 1  # the lesson is active, but the agent would never see it
    assert "will not guess" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert any("will not guess" in e for e in json.loads(done.stdout)["errors"])
    assert (project / "CLAUDE.md").read_bytes() == mine
    (project / "CLAUDE.md").write_bytes(b"# Notes\n")  # mended by hand
    done = selfdistill("run", cwd=project)  # nothing new to read, but the lesson is still owed
    assert done.returncode == 0, done.stderr
    assert b"`find`" in (project / "CLAUDE.md").read_bytes()


def review_project(tmp_path: Path, mode: str) -> Path:
    project = make_project(tmp_path)
    (project / ".claude").mkdir()
    (project / ".claude" / "selfdistill.json").write_text(json.dumps({"mode": mode}))
    return project


def run_text(project: Path, *paths: Path) -> str:
    done = selfdistill("run", *[a for p in paths for a in ("--transcript", str(p))], cwd=project)
    assert done.returncode == 0, done.stderr
    return done.stdout


AWAITS = (
    "  1 lesson awaits your approval (marked in 'selfdistill lessons'): "
    "'selfdistill lessons approve ID' (or 'reject ID')"
)


def row(summary: str) -> tuple[str, str]:
    """The id and the status the summary shows for the lesson about `tree` (one line only)."""
    [line] = [line for line in summary.splitlines() if "Using `tree`" in line]
    lesson_id, status = line.split()[:2]
    return lesson_id, status


def test_summary_says_when_lessons_await_approval(tmp_path: Path) -> None:
    project = review_project(tmp_path, "review")
    paths = [write_transcript(tmp_path / f"s{n}.jsonl", f"s{n}", TREE) for n in range(2)]
    first = run_text(project, paths[0])  # one session: not enough evidence to ask the user yet
    assert "approval" not in first
    assert [row(first)[1]] == ["candidate"]
    second = run_text(project, paths[1])
    assert second.splitlines()[-1] == AWAITS
    lesson_id, status = row(second)
    assert status == "awaiting"  # as 'selfdistill lessons' shows it, not the stored "candidate"
    later = selfdistill("run", "--json", cwd=project)  # nothing new: the lesson still waits
    manifest = json.loads(later.stdout)
    validate("manifest", manifest)
    assert manifest["awaitingApproval"] == 1 and manifest["lessons"] == []
    listed = selfdistill("lessons", cwd=project).stdout
    assert listed.startswith(f"{lesson_id}  awaiting ")
    assert selfdistill("lessons", "approve", lesson_id, cwd=project).returncode == 0
    after = selfdistill("run", "--json", cwd=project)
    assert json.loads(after.stdout)["awaitingApproval"] == 0
    assert "approval" not in run_text(project)


def test_summary_in_auto_mode_never_asks_for_approval(tmp_path: Path) -> None:
    project = review_project(tmp_path, "auto")
    paths = [write_transcript(tmp_path / f"s{n}.jsonl", f"s{n}", TREE) for n in range(2)]
    text = run_text(project, *paths)
    assert "1 activated" in text and "approval" not in text
    manifest = json.loads(selfdistill("run", "--json", cwd=project).stdout)
    assert manifest["awaitingApproval"] == 0
