"""Real processes for the adversarial suites: hook runs, CLI runs, transcripts, scans."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.support.transcripts import Step, write_transcript

SCRIPT = Path(sys.executable).parent / "selfdistill"


def hook_env(project: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "CLAUDE_PROJECT_DIR": str(project), "SELFDISTILL_AUTORUN": "0"}
    return {**env, **(extra or {})}


def run_hook(
    event: str, payload: Any, project: Path, extra: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """One real hook process; it must exit 0 and print nothing, whatever happens."""
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    done = subprocess.run(
        [str(SCRIPT), "hook", event],
        input=data,
        capture_output=True,
        env=hook_env(project, extra),
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b""), done
    return done


def cli(
    *args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=120,
        check=False,
    )


def git(root: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    done = subprocess.run(
        ["git", *args], cwd=root, env=env, capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout


def make_repo(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    (root / "README.md").write_text("demo\n")
    git(root, "add", "README.md")
    git(root, "commit", "-q", "-m", "start")
    return root


def enable_llm(project: Path, url: str) -> None:
    (project / ".claude").mkdir(exist_ok=True)
    settings = {"llm": {"enabled": True, "baseUrl": url, "timeoutSeconds": 30, "maxRetries": 0}}
    (project / ".claude" / "selfdistill.json").write_text(json.dumps(settings))


def transcript(path: Path, session: str, prompt: str, steps: Sequence[Step], cwd: str) -> Path:
    """A Claude Code transcript: the prompt, then per step a Bash tool use and its result."""
    return write_transcript(path, session, steps, cwd=cwd, prompt=prompt)


def files_under(*roots: Path) -> Iterator[Path]:
    for root in roots:
        if root.is_file():
            yield root
        for dirpath, _, filenames in os.walk(root):
            for name in filenames:
                yield Path(dirpath) / name


def find_in(needles: Iterable[str], blobs: Mapping[str, bytes]) -> dict[str, list[str]]:
    """needle -> the names of the blobs that hold it (as UTF-8 or as a JSON-escaped string)."""
    found: dict[str, list[str]] = {}
    for needle in needles:
        forms = {needle.encode(), json.dumps(needle)[1:-1].encode()}
        hits = [name for name, blob in blobs.items() if any(form in blob for form in forms)]
        if hits:
            found[needle] = hits
    return found


def read_all(*roots: Path) -> dict[str, bytes]:
    return {str(path): path.read_bytes() for path in files_under(*roots) if path.exists()}
