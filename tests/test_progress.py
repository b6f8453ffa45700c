"""Progress of `selfdistill run`: on a terminal's stderr, silent anywhere else or with --json."""

from __future__ import annotations

import io
import os
import select
import subprocess
import sys
from pathlib import Path

from selfdistill import distill, progress
from selfdistill.distill import Target
from tests.support.transcripts import write_transcript
from tests.test_distill import TREE

REPO = Path(__file__).resolve().parents[1]


def test_no_callback_unless_a_terminal_and_not_quiet() -> None:
    assert progress.for_terminal(io.StringIO()) is None
    primary, secondary = os.openpty()
    try:
        with os.fdopen(secondary, "w", closefd=False) as tty:
            assert isinstance(progress.for_terminal(tty), progress.TerminalProgress)
            assert progress.for_terminal(tty, quiet=True) is None
    finally:
        os.close(primary)
        os.close(secondary)


def test_draws_on_one_line_then_clears_it() -> None:
    out = io.StringIO()
    draw = progress.TerminalProgress(out)
    for done in range(3):
        draw(done, 2)
    draw(0, 0)  # nothing to do: nothing drawn
    erase = progress.ERASE_LINE
    expected = f"{erase}analysing 1/2 transcripts...{erase}analysing 2/2 transcripts...{erase}"
    assert out.getvalue() == expected
    assert "\n" not in out.getvalue()


def test_the_distiller_reports_each_transcript(tmp_path: Path) -> None:
    paths = [write_transcript(tmp_path / f"s{n}.jsonl", f"s{n}", TREE) for n in range(3)]
    calls: list[tuple[int, int]] = []
    targets = [Target(str(path), -1) for path in paths]
    targets.append(Target(str(tmp_path / "gone.jsonl"), -1))  # a failure still counts as done
    analysis = distill.analyze_targets(targets, lambda done, total: calls.append((done, total)))
    assert len(analysis.reports) == 3 and len(analysis.failed) == 1
    assert calls == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    assert distill.analyze_targets([], lambda d, t: calls.append((d, t))).reports == ()
    assert len(calls) == 5


def run_on_a_terminal(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    """`selfdistill run ARGS`, its stderr a pseudo-terminal: (exit code, stdout, what it drew)."""
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True, exist_ok=True)
    paths = [write_transcript(tmp_path / f"s{n}.jsonl", f"s{n}", TREE) for n in range(2)]
    named = [a for p in paths for a in ("--transcript", str(p))]
    primary, secondary = os.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "selfdistill", "run", *named, *args],
            cwd=project,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.PIPE,
            stderr=secondary,
            text=True,
        )
        os.close(secondary)
        stdout, _ = process.communicate(timeout=120)
        drawn = b""
        while select.select([primary], [], [], 0.5)[0]:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # the other side closed: all is read
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(primary)
    return process.returncode, stdout, drawn.decode()


def test_run_draws_progress_on_a_terminal(tmp_path: Path) -> None:
    code, stdout, drawn = run_on_a_terminal(tmp_path)
    assert code == 0
    assert "analysing 1/2 transcripts..." in drawn and "analysing 2/2 transcripts..." in drawn
    assert drawn.endswith(progress.ERASE_LINE)  # cleared: the summary starts on a clean line
    assert "analysing" not in stdout and "2 session(s) analysed" in stdout


def test_run_json_stays_quiet_on_a_terminal(tmp_path: Path) -> None:
    code, stdout, drawn = run_on_a_terminal(tmp_path, "--json")
    assert code == 0 and stdout.startswith("{")
    assert drawn == ""


def test_run_stays_quiet_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    path = write_transcript(tmp_path / "s.jsonl", "s", TREE)
    done = subprocess.run(
        [sys.executable, "-m", "selfdistill", "run", "--transcript", str(path)],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
