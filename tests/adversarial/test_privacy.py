"""Privacy: state files are the user's alone, opting out works, `forget` deletes a project."""

from __future__ import annotations

import json
import os
import pty
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import filelock
import pytest

from selfdistill import privacy, signals
from selfdistill.paths import ProjectState
from selfdistill.store import iter_observations
from tests.adversarial.harness import (
    cli,
    enable_llm,
    files_under,
    git,
    hook_env,
    make_repo,
    run_hook,
)
from tests.adversarial.harness import transcript as write_transcript
from tests.support.llm_stub import LLMStub, tool_reply

# Runs `selfdistill` with the forget command registered, whether or not cli.py lists it yet.
FORGET_CLI = """
import sys
from selfdistill.cli import cli, main
from selfdistill.commands import forget
cli.add_command(forget.command)
main(sys.argv[1:])
"""


def forget_cli(*args: str, stdin: Any = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", FORGET_CLI, "forget", *args],
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def populated(tmp_path: Path) -> tuple[Path, ProjectState]:
    """A project with observations, lessons, a run manifest, a journal and a published block."""
    project = make_repo(tmp_path / "project")
    assert cli("install", "--project", str(project)).returncode == 0
    (project / "CLAUDE.md").write_text("# mine\n")
    steps = [("tree src", False, "Exit code 127\ncommand not found: tree"), ("find src", True, "a")]
    paths = []
    for n in range(2):
        path = write_transcript(
            tmp_path / "t" / f"p{n}.jsonl", f"p{n}", "<private>x</private> go", steps, str(project)
        )
        run_hook(
            "Stop",
            {"session_id": f"p{n}", "transcript_path": str(path), "cwd": str(project)},
            project,
        )
        paths.append(path)
    done = cli("run", "--project", str(project), env=hook_env(project))
    assert done.returncode == 0, done.stderr
    assert b"`find`" in (project / "CLAUDE.md").read_bytes()
    return project, ProjectState.for_project(project)


def loose_modes(home: Path) -> list[str]:
    """What under `home` another user could read or enter: a file not 0600, a folder not 0700."""
    loose = []
    for folder, _dirs, files in os.walk(home):
        wanted = [(Path(folder), 0o700)] + [(Path(folder) / name, 0o600) for name in files]
        loose += [
            f"{oct(mode)} {path}"
            for path, want in wanted
            if (mode := stat.S_IMODE(path.lstat().st_mode)) != want
        ]
    return loose


def test_state_files_are_readable_only_by_the_user_whatever_the_umask(
    tmp_path: Path, figures: Any
) -> None:
    """Under umask 022, which would leave new files readable by everyone: install, hooks, a git
    commit, a heuristic run that publishes, a run with the model, then a rollback."""
    before = os.umask(0o022)
    try:
        project, state = populated(tmp_path)
        git(project, "commit", "-q", "--allow-empty", "-m", "later")  # the post-commit hook
        with LLMStub(tool_reply({"lessons": []})) as stub:
            enable_llm(project, stub.url)
            env = {"ANTHROPIC_API_KEY": "test-key", **hook_env(project)}
            args = ("run", "--project", str(project), "--transcript", str(tmp_path / "t/p0.jsonl"))
            done = cli(*args, env=env)
        assert done.returncode == 0, done.stderr
        assert cli("rollback", "--project", str(project)).returncode == 0
    finally:
        os.umask(before)
    home = Path(os.environ["SELFDISTILL_HOME"])
    paths = list(files_under(home))
    loose = loose_modes(home)
    figures("privacy-modes", files_checked=len(paths), readable_by_others=len(loose))
    made = {path.relative_to(home).as_posix() for path in paths}
    for name in ("git-hooks.json", "llm/llm-ledger.json", "llm/llm-ledger.lock"):
        assert name in made, sorted(made)
    for path in (state.lessons, state.lessons_lock, state.watermarks, state.run_lock):
        assert path.is_file(), path
    assert any(state.runs.glob("*.json")) and any(state.journal.glob("*.json"))
    assert loose == [], "\n".join(loose)


@pytest.mark.parametrize("variable", ["SELFDISTILL_DISABLE", "SELFDISTILL_INTERNAL"])
def test_an_opted_out_or_nested_session_records_nothing(
    tmp_path: Path, variable: str, figures: Any
) -> None:
    project = make_repo(tmp_path / "project")
    for event in ("UserPromptSubmit", "PostToolUse", "Stop"):
        payload = {"session_id": "quiet", "cwd": str(project), "prompt": "hello"}
        run_hook(event, payload, project, {variable: "1"})
    figures("privacy-opt-out", events=3)
    assert not Path(os.environ["SELFDISTILL_HOME"]).exists()


def test_the_model_backend_is_not_a_claude_code_session(tmp_path: Path) -> None:
    """The distiller calls the Messages API over HTTP: no Claude Code, so no hook, no capture."""
    source = (Path(__file__).resolve().parents[2] / "selfdistill" / "llm.py").read_text()
    assert "subprocess" not in source and "claude -p" not in source


def test_private_spans_never_reach_signals(tmp_path: Path) -> None:
    path = write_transcript(
        tmp_path / "t.jsonl",
        "s",
        "no, wrong: use pnpm <private>my card is 4111 1111 1111 1111</private> not npm",
        [("npm test", False, "Exit code 1\n<private>kept? no</private> boom")],
        "/p",
    )
    report = signals.analyze(path)
    excerpts = " ".join(signal.excerpt for signal in report.signals)
    assert "4111" not in excerpts
    assert (
        privacy.strip_private("a <PRIVATE>b\nc</private> d <private>e") == "a [PRIVATE] d [PRIVATE]"
    )


def test_ignore_patterns_match_a_project_and_everything_under_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (Path(os.environ["SELFDISTILL_HOME"])).mkdir(parents=True)
    (Path(os.environ["SELFDISTILL_HOME"]) / "ignore").write_text("# clients\n/work/client-*\n")
    monkeypatch.setenv("SELFDISTILL_IGNORE", f"~/secret{os.pathsep}/srv/x")
    patterns = privacy.ignore_patterns()
    assert privacy.ignored("/work/client-a/src", patterns)
    assert privacy.ignored(os.path.expanduser("~/secret/notes"), patterns)
    assert not privacy.ignored("/work/clientele", patterns)
    assert not privacy.ignored("/srv/xy", patterns)


def test_private_spans_in_a_prompt_are_not_stored(tmp_path: Path) -> None:
    project = make_repo(tmp_path / "project")
    prompt = "deploy it <private>the vault code is 7731-alpha</private> please"
    run_hook(
        "UserPromptSubmit", {"session_id": "s", "cwd": str(project), "prompt": prompt}, project
    )
    [record] = [r for _, r in iter_observations(ProjectState.for_project(project))]
    assert "7731-alpha" not in json.dumps(record) and "please" in record["prompt"]


def test_an_ignored_project_is_not_captured(tmp_path: Path) -> None:
    project = make_repo(tmp_path / "project")
    run_hook("UserPromptSubmit", {"session_id": "s", "cwd": str(project), "prompt": "x"}, project,
             {"SELFDISTILL_IGNORE": str(project)})  # fmt: skip
    assert not ProjectState.for_project(project).root.exists()


# --- forget --------------------------------------------------------------------------------------


def test_forget_removes_the_projects_state_and_nothing_else(tmp_path: Path, figures: Any) -> None:
    project, state = populated(tmp_path)
    other, other_state = populated(tmp_path / "other")
    project_files = {p: p.read_bytes() for p in files_under(project) if ".git" not in p.parts}
    done = forget_cli("--project", str(project), "--yes", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["removed"] is True and result["files"] > 3
    assert not state.root.exists()
    assert other_state.root.is_dir()  # another project's data stays
    assert {
        p: p.read_bytes() for p in files_under(project) if ".git" not in p.parts
    } == project_files
    leftovers = [p.name for p in state.root.parent.iterdir() if p.name.startswith(".forget-")]
    assert leftovers == []
    status = cli("status", "--project", str(project), "--json")
    assert json.loads(status.stdout)["observations"] == 0
    again = forget_cli("--project", str(project), "--yes")
    assert again.returncode == 0 and "Nothing stored" in again.stdout
    figures("privacy-forget", projects=2, files_removed=result["files"], other_project_touched=0)
    assert other.exists()


def test_forget_without_yes_off_a_terminal_refuses(tmp_path: Path) -> None:
    _, state = populated(tmp_path)
    done = forget_cli("--project", str(state.project))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "selfdistill: forget deletes this project's selfdistill data: confirm with --yes"
    ]
    assert state.root.is_dir()


@pytest.mark.parametrize(("answer", "removed"), [("y", True), ("n", False)])
def test_forget_on_a_terminal_asks(tmp_path: Path, answer: str, removed: bool) -> None:
    _, state = populated(tmp_path)
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-c", FORGET_CLI, "forget", "--project", str(state.project)],
        stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    os.close(slave)
    time.sleep(0.5)
    os.write(master, f"{answer}\n".encode())
    _, err = process.communicate(timeout=60)
    os.close(master)
    assert process.returncode == (0 if removed else 1), err
    assert state.root.exists() is not removed


def test_forget_refuses_while_a_run_holds_the_lock(tmp_path: Path) -> None:
    _, state = populated(tmp_path)
    with filelock.FileLock(str(state.run_lock), timeout=0):
        done = forget_cli("--project", str(state.project), "--yes")
    assert done.returncode == 1 and "distillation is running" in done.stderr
    assert state.root.is_dir()
