"""kill -9 at random points: the distiller while it publishes, hook processes while they append.

Distiller: each round adds two sessions with a new missing tool (so the CLAUDE.md block must
change), starts a real `selfdistill run`, kills it with SIGKILL after a random delay spread over a
run's length, then checks: CLAUDE.md is exactly the old file or the file a complete run writes,
the user's bytes around the block are intact, the state files parse, and the next run completes
the work (the new lesson is published).
Hooks: many hook processes append large observations; a random share are killed mid-write. Every
hook that exited 0 (acknowledged) must have its observation in the store, and the store must read.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from selfdistill import claudemd, lessons
from selfdistill.paths import ProjectState
from selfdistill.store import iter_observations
from tests.adversarial.conftest import LONG
from tests.adversarial.harness import SCRIPT, cli, hook_env, make_repo
from tests.adversarial.harness import transcript as write_transcript

USER_HEAD = b"# My project\r\n\r\nHand-written notes \xff\xfe stay byte for byte.\n\n"
USER_TAIL = b"\n## After the block\nmore user text without a final newline"
ROUNDS, LONG_ROUNDS = 12, 60
HOOKS, LONG_HOOKS = 60, 400
long_only = pytest.mark.skipif(not LONG, reason="long variant: set SELFDISTILL_LONG_TESTS=1")


def sessions_for(root: Path, project: Path, round_number: int) -> list[Path]:
    tool = f"tool{round_number}x"
    steps = [
        (f"{tool} src", False, f"Exit code 127\n{tool}: command not found"),
        ("find src", True, "a"),
    ]
    return [
        write_transcript(
            root / f"r{round_number}s{n}.jsonl", f"r{round_number}s{n}", "go", steps, str(project)
        )
        for n in range(2)
    ]


def start_run(project: Path, paths: list[Path]) -> subprocess.Popen[bytes]:
    args = [str(SCRIPT), "run", "--project", str(project), "--json"]
    for path in paths:
        args += ["--transcript", str(path)]
    return subprocess.Popen(
        args, env=hook_env(project), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def complete_run(project: Path, paths: list[Path]) -> dict[str, Any]:
    args = ["run", "--project", str(project), "--json"]
    for path in paths:
        args += ["--transcript", str(path)]
    done = cli(*args, env=hook_env(project))
    assert done.returncode == 0, done.stderr
    manifest: dict[str, Any] = json.loads(done.stdout)
    return manifest


def user_bytes_intact(data: bytes) -> bool:
    """The user's bytes, once the block (and the line endings added around it) is taken out."""
    claudemd.split(data)  # raises on a torn block
    user = USER_HEAD + USER_TAIL
    eols = (b"", b"\n", b"\r\n")
    return any(claudemd.remove(data, sep, end) == user for sep in eols for end in eols)


def block_matches_lessons(data: bytes, state: ProjectState) -> bool:
    """The work is complete: the block is exactly what the stored active lessons render to
    (within its size budget, so a long loop is judged the same way as a short one)."""
    active = [x for x in lessons.read_lessons(state) if x.status == "active" and not x.steps]
    expected = claudemd.render(active, claudemd.line_ending(data)).region
    return claudemd.split(data).region == expected


def strays(project: Path) -> list[str]:
    return sorted(
        str(path.relative_to(project))
        for path in project.rglob("*")
        if path.is_file() and ".git" not in path.parts and path.name.endswith(".tmp")
    )


def test_killing_the_distiller_mid_publish_keeps_old_or_new(tmp_path: Path, figures: Any) -> None:
    distiller_kill_loop(tmp_path, figures, ROUNDS)


@pytest.mark.slow
@long_only
def test_killing_the_distiller_many_times(tmp_path: Path, figures: Any) -> None:
    distiller_kill_loop(tmp_path, figures, LONG_ROUNDS)


def distiller_kill_loop(tmp_path: Path, figures: Any, rounds: int) -> None:
    project = make_repo(tmp_path / "project")
    claude_md = project / "CLAUDE.md"
    claude_md.write_bytes(USER_HEAD + USER_TAIL)
    transcripts = Path(os.environ["HOME"]) / "t"
    rng = random.Random(20261121)
    state = ProjectState.for_project(project)
    started = time.monotonic()
    complete_run(project, sessions_for(transcripts, project, 0))  # warm: a block exists
    span = time.monotonic() - started
    killed = corrupt = not_old_or_new = unfinished = published_before_kill = 0
    for number in range(1, rounds + 1):
        paths = sessions_for(transcripts, project, number)
        before = claude_md.read_bytes()
        process = start_run(project, paths)
        time.sleep(rng.uniform(span * 0.2, span * 1.5))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed += 1
        process.communicate(timeout=60)
        after_kill = claude_md.read_bytes()
        try:
            intact = user_bytes_intact(after_kill)
            lessons.read_lessons(state)
        except Exception:
            intact = False
        corrupt += not intact
        complete_run(project, paths)
        final = claude_md.read_bytes()
        not_old_or_new += after_kill not in (before, final)
        published_before_kill += after_kill != before
        unfinished += not block_matches_lessons(final, state)
        assert user_bytes_intact(final)
    status = cli("status", "--project", str(project), "--json")
    assert status.returncode == 0, status.stderr
    figures(
        "crash-distiller",
        rounds=rounds,
        killed=killed,
        published_before_kill=published_before_kill,
        corruptions=corrupt,
        not_old_or_new=not_old_or_new,
        work_not_completed=unfinished,
        stray_temp_files=len(strays(project)),
    )
    assert (corrupt, not_old_or_new, unfinished) == (0, 0, 0)
    assert killed >= 1  # some kills really happened mid-run
    assert strays(project) == []


def test_killing_hooks_mid_append_loses_no_acknowledged_observation(
    tmp_path: Path, figures: Any
) -> None:
    hook_kill_loop(tmp_path, figures, HOOKS)


@pytest.mark.slow
@long_only
def test_killing_many_hooks(tmp_path: Path, figures: Any) -> None:
    hook_kill_loop(tmp_path, figures, LONG_HOOKS)


def hook_kill_loop(tmp_path: Path, figures: Any, hooks: int) -> None:
    project = make_repo(tmp_path / "project")
    rng = random.Random(7)
    env = hook_env(project)
    running: list[tuple[str, subprocess.Popen[bytes]]] = []
    acknowledged: set[str] = set()
    killed = 0
    for number in range(hooks):
        session = f"hookkill-{number:05d}"
        body = {
            "session_id": session,
            "cwd": str(project),
            "hook_event_name": "PostToolUse",
            "tool_name": "Bash",
            "tool_input": {"command": "x" * rng.randint(10, 1500)},
            "tool_response": {"stdout": "y" * rng.randint(10, 60000), "stderr": ""},
        }
        process = subprocess.Popen(
            [str(SCRIPT), "hook", "PostToolUse"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        assert process.stdin is not None
        process.stdin.write(json.dumps(body).encode())
        process.stdin.close()
        running.append((session, process))
        if len(running) >= 8:
            victim_session, victim = running.pop(rng.randrange(len(running)))
            time.sleep(rng.uniform(0.0, 0.03))
            if victim.poll() is None:
                victim.send_signal(signal.SIGKILL)
                killed += 1
            if victim.wait(timeout=60) == 0:
                acknowledged.add(victim_session)
    for session, process in running:
        if process.wait(timeout=60) == 0:
            acknowledged.add(session)
    stored = [record for _, record in iter_observations(ProjectState.for_project(project))]
    sessions = [record.get("session_id") for record in stored]
    lost = acknowledged - set(sessions)
    duplicated = len(sessions) - len(set(sessions))
    figures(
        "crash-hooks",
        hooks=hooks,
        killed=killed,
        acknowledged=len(acknowledged),
        losses=len(lost),
        duplicates=duplicated,
    )
    assert not lost and not duplicated
    assert killed > 0 and acknowledged
    status = cli("status", "--project", str(project), "--json")
    assert status.returncode == 0 and json.loads(status.stdout)["observations"] >= len(acknowledged)


KILL_AT_PUBLISH = """
import os, signal, sys
import selfdistill.distill as distill
def die(*_args, **_kwargs):
    os.kill(os.getpid(), signal.SIGKILL)  # the lessons are stored, nothing is written back yet
distill.publish = die
sys.argv = ["selfdistill", *sys.argv[1:]]
from selfdistill.cli import main
main()
"""


def test_a_kill_between_storing_and_publishing_is_finished_by_the_next_run(
    tmp_path: Path, figures: Any
) -> None:
    project = make_repo(tmp_path / "project")
    (project / "CLAUDE.md").write_bytes(USER_HEAD + USER_TAIL)
    paths = sessions_for(Path(os.environ["HOME"]) / "t", project, 1)
    args = ["run", "--project", str(project)]
    for path in paths:
        args += ["--transcript", str(path)]
    killed = subprocess.run(
        [sys.executable, "-c", KILL_AT_PUBLISH, *args], env=hook_env(project), check=False
    )
    assert killed.returncode == -signal.SIGKILL
    assert lessons.read_lessons(ProjectState.for_project(project))  # stored before the kill
    assert (project / "CLAUDE.md").read_bytes() == USER_HEAD + USER_TAIL
    complete_run(project, paths)  # nothing new to learn: only the owed publish is left
    final = (project / "CLAUDE.md").read_bytes()
    figures(
        "crash-distiller",
        kill_before_publish=1,
        kill_before_publish_unfinished=int(b"tool1x" not in final),
    )
    assert b"tool1x" in final and user_bytes_intact(final)


KILL_AT_RENAME = """
import os, signal, sys
real_replace = os.replace
def replace(source, target, *args, **kwargs):
    if str(target).endswith("CLAUDE.md"):  # the new CLAUDE.md is written, not yet in place
        os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(source, target, *args, **kwargs)
os.replace = replace
sys.argv = ["selfdistill", *sys.argv[1:]]
from selfdistill.cli import main
main()
"""


def test_a_kill_mid_write_leaves_the_old_file_and_no_litter(tmp_path: Path, figures: Any) -> None:
    project = make_repo(tmp_path / "project")
    (project / "CLAUDE.md").write_bytes(USER_HEAD + USER_TAIL)
    paths = sessions_for(Path(os.environ["HOME"]) / "t", project, 2)
    args = ["run", "--project", str(project)]
    for path in paths:
        args += ["--transcript", str(path)]
    killed = subprocess.run(
        [sys.executable, "-c", KILL_AT_RENAME, *args], env=hook_env(project), check=False
    )
    assert killed.returncode == -signal.SIGKILL
    assert (project / "CLAUDE.md").read_bytes() == USER_HEAD + USER_TAIL  # the old version
    assert strays(project)  # the killed writer's temporary file
    complete_run(project, paths)
    final = (project / "CLAUDE.md").read_bytes()
    figures("crash-distiller", kill_mid_write=1, kill_mid_write_litter=len(strays(project)))
    assert strays(project) == []
    assert b"tool2x" in final and user_bytes_intact(final)
