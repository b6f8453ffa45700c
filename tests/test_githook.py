"""The git post-commit hook: chaining, restoring, core.hooksPath, worktrees; with real commits."""

from __future__ import annotations

import os
import shlex
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from selfdistill import git, githook
from tests.test_git import commit_file, git_identity, make_repo, run

__all__ = ["git_identity"]  # the autouse fixture, imported to apply here too

FOREIGN = b"""#!/bin/sh
# the user's own hook
printf '%s|' "$@" > "$(dirname "$0")/../foreign-ran"
cat >> "$(dirname "$0")/../foreign-ran"
exit 1
"""


def recorder(tmp_path: Path, sleep: int = 0) -> tuple[str, Path]:
    """A stand-in for `selfdistill` recording its arguments and cwd: (quoted command, log)."""
    folder = tmp_path / "bin dir"
    folder.mkdir(exist_ok=True)
    log = tmp_path / "recorded"
    script = folder / "selfdistill"
    script.write_text(
        f"#!/bin/sh\necho $$ > {shlex.quote(str(log))}.pid\nsleep {sleep}\n"
        f'echo "$* in $(pwd)" >> {shlex.quote(str(log))}\n'
    )
    script.chmod(0o755)
    return shlex.quote(str(script)), log


def wait_for(path: Path, seconds: float = 10) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().endswith("\n"):
            return path.read_text()
        time.sleep(0.02)
    pytest.fail(f"{path} never appeared")


def add_foreign_hook(hooks: Path, content: bytes = FOREIGN, mode: int = 0o750) -> Path:
    hooks.mkdir(parents=True, exist_ok=True)
    hook = hooks / "post-commit"
    hook.write_bytes(content)
    hook.chmod(mode)
    return hook


def test_install_into_an_empty_hooks_dir_then_commit_runs_selfdistill(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "my repo")
    command, log = recorder(tmp_path)
    change = githook.install_git_hook(git.hooks_dir(repo), command)
    assert change == githook.GitHookChange(repo / ".git/hooks/post-commit", "installed", None)
    assert os.access(change.hook, os.X_OK)
    commit_file(repo, "a.txt", "a\n", "First")
    assert wait_for(log) == f"hook GitCommit in {repo}\n"


def test_second_install_is_a_no_op_and_a_new_command_updates(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    hooks = git.hooks_dir(repo)
    add_foreign_hook(hooks)
    githook.install_git_hook(hooks, "/old/selfdistill")
    before = (hooks / "post-commit").read_bytes()
    again = githook.install_git_hook(hooks, "/old/selfdistill")
    assert again.action == "unchanged" and again.legacy == "post-commit.legacy"
    assert (hooks / "post-commit").read_bytes() == before
    moved = githook.install_git_hook(hooks, "/new/selfdistill")
    assert moved.action == "updated" and moved.legacy == "post-commit.legacy"
    assert "/new/selfdistill hook GitCommit" in (hooks / "post-commit").read_text()
    assert sorted(p.name for p in hooks.iterdir() if "sample" not in p.name) == [
        "post-commit",
        "post-commit.legacy",
    ]


def test_a_foreign_hook_runs_first_with_its_args_and_stdin_and_its_failure_shows(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "repo")
    hooks = git.hooks_dir(repo)
    add_foreign_hook(hooks)
    command, log = recorder(tmp_path)
    change = githook.install_git_hook(hooks, command)
    assert change.legacy == "post-commit.legacy"
    assert (hooks / "post-commit.legacy").read_bytes() == FOREIGN

    # A real commit: both hooks run, and the commit is recorded whatever the hooks say.
    commit_file(repo, "a.txt", "a\n", "First")
    assert run(repo, "log", "--format=%s").strip() == "First"
    assert (repo / ".git" / "foreign-ran").exists()
    assert wait_for(log) == f"hook GitCommit in {repo}\n"

    # Run directly: the foreign hook gets the same arguments and stdin; its exit 1 is ours too.
    done = subprocess.run(
        [str(hooks / "post-commit"), "one", "two words"],
        cwd=repo,
        input=b"from stdin",
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert (repo / ".git" / "foreign-ran").read_bytes() == b"one|two words|from stdin"


def test_the_combined_status_is_zero_when_the_foreign_hook_succeeds(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    hooks = git.hooks_dir(repo)
    add_foreign_hook(hooks, FOREIGN.replace(b"exit 1", b"exit 0"))
    githook.install_git_hook(hooks, "/nonexistent/selfdistill")  # ours failing is never seen
    done = subprocess.run([str(hooks / "post-commit")], cwd=repo, capture_output=True, timeout=30)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")


def test_a_non_executable_foreign_hook_stays_skipped_like_git_would(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    hooks = git.hooks_dir(repo)
    add_foreign_hook(hooks, mode=0o644)
    githook.install_git_hook(hooks, "/nonexistent/selfdistill")
    done = subprocess.run([str(hooks / "post-commit")], cwd=repo, capture_output=True, timeout=30)
    assert done.returncode == 0
    assert not (repo / ".git" / "foreign-ran").exists()


def test_an_existing_legacy_file_is_never_overwritten(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    hooks = git.hooks_dir(repo)
    # Another tool (pre-commit does this) already keeps a backup under the usual name.
    (hooks / "post-commit.legacy").write_bytes(b"#!/bin/sh\nexit 0\n# older backup\n")
    add_foreign_hook(hooks)
    change = githook.install_git_hook(hooks, "/x/selfdistill")
    assert change.legacy == "post-commit.legacy.1"
    assert (hooks / "post-commit.legacy").read_bytes() == b"#!/bin/sh\nexit 0\n# older backup\n"
    assert (hooks / "post-commit.legacy.1").read_bytes() == FOREIGN
    done = subprocess.run([str(hooks / "post-commit")], cwd=repo, capture_output=True, timeout=30)
    assert done.returncode == 1  # it is the chained .legacy.1 (exit 1) that ran

    restored = githook.uninstall_git_hook(hooks)
    assert restored.action == "restored" and restored.legacy == "post-commit.legacy.1"
    assert (hooks / "post-commit").read_bytes() == FOREIGN
    assert (hooks / "post-commit.legacy").read_bytes() == b"#!/bin/sh\nexit 0\n# older backup\n"
    assert not (hooks / "post-commit.legacy.1").exists()


def test_uninstall_restores_the_foreign_hook_with_its_bytes_and_mode(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    hooks = git.hooks_dir(repo)
    content = FOREIGN + b"# \xff not even utf-8\r\n"
    hook = add_foreign_hook(hooks, content, mode=0o701)
    githook.install_git_hook(hooks, "/x/selfdistill")
    assert githook.uninstall_git_hook(hooks).action == "restored"
    assert hook.read_bytes() == content
    assert stat.S_IMODE(hook.stat().st_mode) == 0o701
    assert not (hooks / "post-commit.legacy").exists()
    # Idempotent: the hook there now is the user's, left alone.
    assert githook.uninstall_git_hook(hooks).action == "foreign"
    assert hook.read_bytes() == content


def test_uninstall_without_a_chained_hook_removes_ours(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    hooks = git.hooks_dir(repo)
    githook.install_git_hook(hooks, "/x/selfdistill")
    assert githook.uninstall_git_hook(hooks).action == "removed"
    assert not (hooks / "post-commit").exists()
    assert githook.uninstall_git_hook(hooks).action == "absent"


def test_core_hooks_path_is_honoured(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    run(repo, "config", "core.hooksPath", ".githooks")
    command, log = recorder(tmp_path)
    (repo / "sub").mkdir()
    change = githook.install_git_hook(git.hooks_dir(repo / "sub"), command)
    assert change.hook == repo / ".githooks" / "post-commit"
    assert not (repo / ".git" / "hooks" / "post-commit").exists()
    commit_file(repo, "a.txt", "a\n", "First")
    assert wait_for(log) == f"hook GitCommit in {repo}\n"


def test_a_worktree_uses_the_common_hooks_and_runs_at_its_own_top(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    commit_file(repo, "a.txt", "a\n", "First")
    worktree = tmp_path / "work tree"
    run(repo, "worktree", "add", "-q", "-b", "side", str(worktree))
    command, log = recorder(tmp_path)
    change = githook.install_git_hook(git.hooks_dir(worktree), command)
    assert change.hook == repo / ".git" / "hooks" / "post-commit"
    commit_file(worktree, "b.txt", "b\n", "In the worktree")
    assert wait_for(log) == f"hook GitCommit in {worktree}\n"


def test_a_slow_selfdistill_never_holds_up_the_commit(tmp_path: Path) -> None:
    # git (or an IDE reading git's output through a pipe) must not wait for our part.
    repo = make_repo(tmp_path / "repo")
    command, log = recorder(tmp_path, sleep=60)
    githook.install_git_hook(git.hooks_dir(repo), command)
    (repo / "a.txt").write_text("a\n")
    run(repo, "add", "a.txt")
    try:
        subprocess.run(
            ["git", "commit", "-q", "-m", "x"],
            cwd=repo,
            capture_output=True,
            timeout=20,
            check=True,
        )
    finally:
        pid_file = Path(f"{log}.pid")
        if wait_for(pid_file):
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
