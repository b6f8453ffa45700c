"""The one module that runs git. Standard library only: `commit_info` runs from the git hook.

Every call names its repository explicitly (`git -C DIR`). Variables that git exports to hooks
(GIT_DIR, GIT_INDEX_FILE, ...) would override that and point at another repository, so they are
removed from the environment of our git calls.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from selfdistill.errors import FatalError

# Variables that make git look somewhere other than the directory we name with -C.
_LOCATING_VARIABLES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
)

# `git revert` writes "This reverts commit <sha>." (", reversing ..." for merges).
_REVERTS = re.compile(r"^This reverts commit ([0-9a-f]{7,64})\b", re.MULTILINE)

NOT_A_REPOSITORY = "not a git repository"


class GitMissing(FatalError):
    """No git command on PATH: callers that can do without it catch this one."""


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    message: str
    files: tuple[str, ...]
    reverts: str | None


@dataclass(frozen=True)
class GitResult:
    returncode: int
    stdout: str
    stderr: str


def run_git(cwd: Path, *args: str) -> GitResult:
    """Run `git -C cwd args...`; a missing git binary is a FatalError, a failing command is not."""
    env = {k: v for k, v in os.environ.items() if k not in _LOCATING_VARIABLES}
    try:
        done = subprocess.run(
            ["git", "-C", str(cwd), *args],
            capture_output=True,
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except FileNotFoundError as missing:
        raise GitMissing("git is not installed (no 'git' command on PATH)") from missing
    return GitResult(
        done.returncode,
        done.stdout.decode("utf-8", "replace"),
        done.stderr.decode("utf-8", "replace"),
    )


def git_output(cwd: Path, *args: str) -> str:
    """stdout of a git command that must succeed; its failure becomes a one-line FatalError."""
    result = run_git(cwd, *args)
    if result.returncode != 0:
        raise FatalError(f"git {' '.join(args)} failed in {cwd}: {_first_line(result.stderr)}")
    return result.stdout


def repo_root(path: Path) -> Path | None:
    """The top of the work tree holding `path`, or None when `path` is not in a git work tree."""
    if not path.is_dir():
        raise FatalError(f"not a directory: {path}")
    result = run_git(path, "rev-parse", "--show-toplevel")
    if result.returncode == 0:
        return Path(result.stdout.rstrip("\n"))
    if NOT_A_REPOSITORY in result.stderr or "must be run in a work tree" in result.stderr:
        return None
    raise FatalError(f"git cannot read the repository at {path}: {_first_line(result.stderr)}")


def hooks_dir(path: Path) -> Path:
    """The directory git runs hooks from for the repository at `path`, absolute.

    `rev-parse --git-path hooks` already honours core.hooksPath and, in a linked worktree, points
    to the common directory; its answer is relative to the directory git ran in.
    """
    answer = git_output(path, "rev-parse", "--git-path", "hooks").rstrip("\n")
    return Path(os.path.normpath(os.path.join(os.path.abspath(path), answer)))


def commit_info(repo: Path, rev: str = "HEAD") -> CommitInfo:
    """sha, full message, changed files (against the first parent) and the commit it reverts."""
    header = git_output(repo, "show", "--no-patch", "--format=%H%x00%P%x00%B", rev, "--")
    sha, parents, message = header.split("\0", 2)
    # Against the first parent, so a merge lists what it brought in; a root commit has none.
    base = parents.split()[:1] or ["--root"]
    names = git_output(repo, "diff-tree", "-r", "--no-commit-id", "--name-only", "-z", *base, sha)
    message = message.rstrip("\n")
    reverted = _REVERTS.search(message)
    return CommitInfo(
        sha=sha,
        message=message,
        files=tuple(name for name in names.split("\0") if name),
        reverts=reverted.group(1) if reverted else None,
    )


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "(no message)"
