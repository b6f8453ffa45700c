"""`selfdistill signals` as a user runs it: a real subprocess, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.data.transcripts.builder import REJECTED, Transcript
from tests.support.transcripts import unreadable_transcripts


def run(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "selfdistill", "signals", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _session(tmp_path: Path, name: str = "s.jsonl", gz: bool = False) -> Path:
    t = Transcript(session=name.split(".")[0])
    t.prompt("run the tests")
    call = t.bash("pytest")
    t.result(call, "Exit code 4\nERROR: file or directory not found: tests/", error=True)
    call = t.edit("/p/a.py", "a", "b")
    t.result(call, REJECTED, error=True)
    return t.write(tmp_path / name, gz=gz)


def test_json_prints_one_object_per_signal_and_nothing_else(tmp_path):
    path = _session(tmp_path)
    done = run(path, "--json")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["kind"] for r in rows] == ["tool_error", "rejection"]
    for row in rows:
        assert row["file"] == str(path) and row["session_id"] == "s"
        assert row["uuid"] and len(row["excerpt"]) <= 300
    assert rows[0]["exit_code"] == 4 and rows[0]["subject"] == "pytest"


def test_the_default_view_is_a_readable_summary(tmp_path):
    done = run(_session(tmp_path))
    assert done.returncode == 0
    assert "outcome: negative" in done.stdout
    assert "1 tool_error" in done.stdout and "1 rejection" in done.stdout
    assert "- rejection:" in done.stdout


def test_directories_are_searched_for_transcripts(tmp_path):
    nested = tmp_path / "projects" / "deep"
    nested.mkdir(parents=True)
    _session(nested, "a.jsonl")
    _session(nested, "b.jsonl.gz", gz=True)
    (nested / "notes.txt").write_text("not a transcript")
    done = run(tmp_path / "projects", "--json")
    assert done.returncode == 0
    assert {json.loads(line)["session_id"] for line in done.stdout.splitlines()} == {"a", "b"}


def test_a_bad_path_is_a_one_line_error_and_exit_1(tmp_path):
    done = run(tmp_path / "missing.jsonl")
    assert done.returncode == 1
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "missing.jsonl" in done.stderr


def test_no_path_is_a_usage_error():
    done = run()
    assert done.returncode != 0 and "Traceback" not in done.stderr


def test_an_unreadable_transcript_is_a_one_line_error(tmp_path):
    path = _session(tmp_path)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("this user reads files whatever their mode (root)")
        done = run(path)
        assert done.returncode == 1 and "cannot read" in done.stderr
        assert "Traceback" not in done.stderr
    finally:
        path.chmod(0o644)


def test_a_file_with_no_readable_entry_is_said_on_stderr(tmp_path):
    for path in unreadable_transcripts(tmp_path):
        for args in ((path,), (path, "--json")):
            done = run(*args)
            assert (done.returncode, done.stdout) == (0, ""), done
            assert done.stderr == (
                f"selfdistill: no Claude Code entries could be read from {path}\n"
            )


def test_a_directory_without_transcripts_is_a_one_line_error(tmp_path):
    empty = tmp_path / "emptydir"
    (empty / "sub").mkdir(parents=True)
    (empty / "notes.txt").write_text("not a transcript")
    done = run(empty)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"selfdistill: no Claude Code transcripts (.jsonl, .jsonl.gz) under {empty}\n"
    )
