"""selfdistill.git against real repositories in temporary directories."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from selfdistill import git
from selfdistill.errors import FatalError

IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
}


@pytest.fixture(autouse=True)
def git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    # The temporary HOME has no git config; commits need a name.
    for name, value in IDENTITY.items():
        monkeypatch.setenv(name, value)


def run(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    run(path, "init", "-q", "-b", "main")
    return path


def commit_file(repo: Path, name: str, content: str, message: str) -> str:
    (repo / name).parent.mkdir(parents=True, exist_ok=True)
    (repo / name).write_text(content)
    run(repo, "add", name)
    run(repo, "commit", "-q", "-m", message)
    return run(repo, "rev-parse", "HEAD").strip()


def test_commit_info_of_a_root_commit_lists_its_files(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    sha = commit_file(repo, "dir with space/a.txt", "a\n", "Add a\n\nWith a body line.")
    info = git.commit_info(repo)
    assert info == git.CommitInfo(
        sha, "Add a\n\nWith a body line.", ("dir with space/a.txt",), None
    )


def test_commit_info_of_a_revert_names_the_reverted_commit(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    commit_file(repo, "a.txt", "a\n", "Add a")
    bad = commit_file(repo, "b.txt", "b\n", "Add b")
    run(repo, "revert", "--no-edit", "HEAD")
    info = git.commit_info(repo)
    assert info.reverts == bad
    assert info.files == ("b.txt",)
    assert git.commit_info(repo, "HEAD~1").reverts is None


def test_commit_info_of_a_merge_lists_what_it_brought_in(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    commit_file(repo, "base.txt", "base\n", "Base")
    run(repo, "checkout", "-q", "-b", "topic")
    commit_file(repo, "topic.txt", "t\n", "Topic")
    run(repo, "checkout", "-q", "main")
    commit_file(repo, "main.txt", "m\n", "Main")
    run(repo, "merge", "-q", "--no-edit", "topic")
    info = git.commit_info(repo)
    assert info.files == ("topic.txt",)
    assert info.message.startswith("Merge branch 'topic'")


def test_commit_info_ignores_the_git_variables_a_hook_receives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Inside a git hook GIT_DIR / GIT_INDEX_FILE may name the repository git is committing to;
    # a call naming another repository must still read that other one.
    repo = make_repo(tmp_path / "repo")
    other = make_repo(tmp_path / "other")
    sha = commit_file(repo, "a.txt", "a\n", "In repo")
    commit_file(other, "b.txt", "b\n", "In other")
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(other / ".git" / "index"))
    assert git.commit_info(repo).sha == sha


def test_commit_info_of_an_unknown_revision_is_a_fatal_error(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    with pytest.raises(FatalError, match="git show"):
        git.commit_info(repo)  # no commit yet


def test_repo_root_from_a_subdirectory_and_outside_a_repository(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "sub" / "deeper").mkdir(parents=True)
    assert git.repo_root(repo / "sub" / "deeper") == repo
    (tmp_path / "plain").mkdir()
    assert git.repo_root(tmp_path / "plain") is None
    with pytest.raises(FatalError, match="not a directory"):
        git.repo_root(tmp_path / "missing")


def test_hooks_dir_default_hooks_path_and_worktree(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    commit_file(repo, "a.txt", "a\n", "A")
    (repo / "sub").mkdir()
    assert git.hooks_dir(repo / "sub") == repo / ".git" / "hooks"

    # A linked worktree runs the hooks of the common directory.
    run(repo, "worktree", "add", "-q", str(tmp_path / "wt"))
    assert git.hooks_dir(tmp_path / "wt") == repo / ".git" / "hooks"

    # core.hooksPath: relative paths are relative to the top of the work tree, from anywhere in it.
    run(repo, "config", "core.hooksPath", "githooks")
    assert git.hooks_dir(repo / "sub") == repo / "githooks"
    run(repo, "config", "core.hooksPath", str(tmp_path / "shared hooks"))
    assert git.hooks_dir(repo) == tmp_path / "shared hooks"
