"""A full disk and a read-only project: clear messages, nothing corrupted, work resumes later.

Where the platform lets the test mount (root on Linux), the state home and the project sit on
tiny tmpfs mounts that really fill up, and the read-only project is a read-only bind mount (root
ignores file modes, so chmod would prove nothing). Elsewhere those tests skip and the injected
write failure (ENOSPC raised by the writer in a real subprocess) still runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from selfdistill import claudemd
from selfdistill.paths import ProjectState
from selfdistill.store import iter_observations
from tests.adversarial.harness import cli, hook_env, make_repo, run_hook
from tests.adversarial.harness import transcript as write_transcript

USER = b"# Notes\nmine, byte for byte\n"


def _mount(*args: str) -> bool:
    if sys.platform != "linux" or os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", *args], capture_output=True, check=False)
    return done.returncode == 0


@contextlib.contextmanager
def tiny_disk(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    if not _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)):
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[Path]:
    if not _mount("--bind", str(path), str(path)):
        pytest.skip("cannot bind-mount here")
    try:
        if not _mount("-o", "remount,bind,ro", str(path)):
            pytest.skip("cannot remount read-only here")
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path) -> None:
    """Fill the file system holding `directory` to the last block."""
    with contextlib.suppress(OSError), (directory / "ballast").open("wb") as handle:
        while True:
            handle.write(b"\0" * 4096)
            handle.flush()


def sessions(project: Path, count: int = 2) -> list[Path]:
    steps = [("tree src", False, "Exit code 127\ncommand not found: tree"), ("find src", True, "a")]
    root = Path(os.environ["HOME"]) / "t"
    return [
        write_transcript(root / f"d{n}.jsonl", f"d{n}", "go", steps, str(project))
        for n in range(count)
    ]


def run_args(project: Path, paths: list[Path]) -> list[str]:
    args = ["run", "--project", str(project), "--json"]
    for path in paths:
        args += ["--transcript", str(path)]
    return args


def one_line_error(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("selfdistill: "), done.stderr
    assert "Traceback" not in done.stderr


def test_a_full_state_disk_loses_no_stored_data_and_recovers(tmp_path: Path, figures: Any) -> None:
    project = make_repo(tmp_path / "project")
    (project / "CLAUDE.md").write_bytes(USER)
    with tiny_disk(Path(os.environ["SELFDISTILL_HOME"]), "256k") as home:
        for n in range(5):
            run_hook(
                "PostToolUse",
                {"session_id": f"before{n}", "cwd": str(project), "tool_name": "Bash"},
                project,
            )
        fill(home)
        for n in range(20):  # the agent goes on; the hook stays silent and exits 0
            payload = {"session_id": f"full{n}", "cwd": str(project), "tool_name": "Bash",
                       "tool_response": {"stdout": "z" * 5000}}  # fmt: skip
            run_hook("PostToolUse", payload, project)
        paths = sessions(project)
        full = cli(*run_args(project, paths), env=hook_env(project))
        stored = [
            r.get("session_id") for _, r in iter_observations(ProjectState.for_project(project))
        ]
        assert [f"before{n}" for n in range(5)] == stored[:5]
        assert (project / "CLAUDE.md").read_bytes().startswith(USER)
        claudemd.split((project / "CLAUDE.md").read_bytes())
        (home / "ballast").unlink()
        again = cli(*run_args(project, paths), env=hook_env(project))
    figures("disk-full", hooks=25, runs=2, corruptions=0, first_run_exit=full.returncode)
    if full.returncode != 0:
        one_line_error(full)
    assert again.returncode == 0, again.stderr
    assert b"`find`" in (project / "CLAUDE.md").read_bytes()


def test_a_full_project_disk_leaves_claude_md_whole(tmp_path: Path, figures: Any) -> None:
    with tiny_disk(tmp_path / "project", "128k") as project:
        make_repo(project)
        (project / "CLAUDE.md").write_bytes(USER)
        fill(project)
        done = cli(*run_args(project, sessions(project)), env=hook_env(project))
        data = (project / "CLAUDE.md").read_bytes()
        temps = [p.name for p in project.iterdir() if p.name.endswith(".tmp")]
        figures(
            "disk-full", project_runs=1, claude_md_corrupt=int(data != USER), temp_files=len(temps)
        )
        assert data == USER  # old version, whole
        assert temps == []
        if done.returncode != 0:
            one_line_error(done)
        else:
            assert json.loads(done.stdout)["errors"], "a failed publish must be reported"


def test_a_read_only_project_is_reported_and_left_alone(tmp_path: Path, figures: Any) -> None:
    project = make_repo(tmp_path / "project")
    (project / "CLAUDE.md").write_bytes(USER)
    paths = sessions(project)
    with read_only(project):
        run_hook("Stop", {"session_id": "ro", "cwd": str(project)}, project)
        done = cli(*run_args(project, paths), env=hook_env(project))
        assert (project / "CLAUDE.md").read_bytes() == USER
    figures("read-only-project", runs=1, corruptions=0)
    if done.returncode != 0:
        one_line_error(done)
    else:
        errors = json.loads(done.stdout)["errors"]
        assert any("publish" in e for e in errors), errors
    after = cli(*run_args(project, paths), env=hook_env(project))
    assert after.returncode == 0, after.stderr
    assert b"`find`" in (project / "CLAUDE.md").read_bytes()  # the next run completes the work


INJECT = """
import errno, os, sys
from selfdistill import atomic
real = atomic.write_atomic
def failing(path, data, mode=None):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
atomic.write_atomic = failing
import selfdistill.publish, selfdistill.distill, selfdistill.lessons
for module in (selfdistill.publish, selfdistill.distill, selfdistill.lessons):
    if hasattr(module, "write_atomic"):
        module.write_atomic = failing
sys.argv = ["selfdistill", *sys.argv[1:]]
from selfdistill.cli import main
main()
"""


def test_an_injected_write_failure_is_one_line_and_corrupts_nothing(
    tmp_path: Path, figures: Any
) -> None:
    project = make_repo(tmp_path / "project")
    (project / "CLAUDE.md").write_bytes(USER)
    done = subprocess.run(
        [sys.executable, "-c", INJECT, *run_args(project, sessions(project))],
        capture_output=True, text=True, env=hook_env(project), timeout=120, check=False,
    )  # fmt: skip
    figures("disk-full", injected_runs=1)
    one_line_error(done)
    assert "No space left" in done.stderr
    assert (project / "CLAUDE.md").read_bytes() == USER
    after = cli(*run_args(project, sessions(project)), env=hook_env(project))
    assert after.returncode == 0, after.stderr
