"""Figures for the install side: what our git hook adds to a commit, commit_info, install itself.

    .venv/bin/python bench/bench_install.py [COMMITS]

Everything happens in a temporary directory with its own HOME and SELFDISTILL_HOME. The git hook
runs the real `selfdistill hook GitCommit` of this environment (in the background, as installed).
"""

from __future__ import annotations

import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from selfdistill import git, githook, install

IDENTITY = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}


def timed(action: Callable[[], object], runs: int) -> float:
    """Median wall time of `action`, in milliseconds."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def commit_timer(repo: Path) -> Callable[[], object]:
    counter = iter(range(10**9))

    def commit() -> None:
        name = f"f{next(counter)}.txt"
        (repo / name).write_text(name)
        subprocess.run(["git", "add", name], cwd=repo, check=True)
        subprocess.run(["git", "commit", "-q", "-m", name], cwd=repo, check=True)

    return commit


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ.update(IDENTITY, HOME=str(root), SELFDISTILL_HOME=str(root / "state"))
        repo = root / "repo"
        repo.mkdir()
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        commit = commit_timer(repo)
        commit()

        bare = timed(commit, runs)
        hooks = git.hooks_dir(repo)
        githook.install_git_hook(hooks, shlex.join(install.selfdistill_argv()))
        ours = timed(commit, runs)
        githook.uninstall_git_hook(hooks)
        (hooks / "post-commit").write_text("#!/bin/sh\nexit 0\n")
        (hooks / "post-commit").chmod(0o755)
        githook.install_git_hook(hooks, shlex.join(install.selfdistill_argv()))
        chained = timed(commit, runs)
        info = timed(lambda: git.commit_info(repo), runs)
        installing = timed(lambda: install.install(repo), runs)  # already installed: a no-op
        time.sleep(1)  # let the last background hooks finish before the directory goes

    print(f"git commit, no hook:            {bare:7.1f} ms (median of {runs})")
    print(f"git commit, selfdistill hook:   {ours:7.1f} ms  ratio {ours / bare:.2f}")
    print(f"git commit, chained to a hook:  {chained:7.1f} ms  ratio {chained / bare:.2f}")
    print(f"git.commit_info:                {info:7.1f} ms")
    print(f"selfdistill install (no-op):    {installing:7.1f} ms (in process)")


if __name__ == "__main__":
    main()
