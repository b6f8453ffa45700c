"""The one boundary where errors become messages: one line on stderr, exit 1, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SELFDISTILL = Path(sys.executable).parent / "selfdistill"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SELFDISTILL), *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    "args",
    [
        ("bogus",),
        ("run", "--bogus"),
        ("run", "--limit", "minus one"),
        ("run", "--project", "/no/such/project"),
        ("lessons", "frob"),
        ("lessons", "list", "--project", "/no/such/project"),
        ("rollback", "--project", "/no/such/project"),
        ("signals", "/no/such/transcript.jsonl"),
    ],
)
def test_bad_usage_is_one_line_and_exit_1(args: tuple[str, ...]) -> None:
    done = cli(*args)
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("selfdistill: "), done.stderr
    assert "Traceback" not in done.stderr


def test_no_arguments_prints_the_help() -> None:
    done = cli()
    assert done.returncode == 0
    assert "Commands:" in done.stdout and done.stderr == ""


@pytest.mark.parametrize("args", [("status",), ("run", "--dry-run"), ("install",), ("doctor",)])
def test_a_relative_state_home_is_one_line_and_creates_nothing(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    (tmp_path / ".git").mkdir()
    done = subprocess.run(
        [str(SELFDISTILL), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "SELFDISTILL_HOME": "relhome"},
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        "selfdistill: SELFDISTILL_HOME must be an absolute path, not 'relhome' "
        "(hooks and commands run in different folders)\n"
    )
    assert [path.name for path in tmp_path.iterdir()] == [".git"]
