"""Real processes for the adversarial suites: hook runs, CLI runs, transcripts, scans."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

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


Step = tuple[str, bool, str]  # command, succeeded, output


def transcript(path: Path, session: str, prompt: str, steps: Sequence[Step], cwd: str) -> Path:
    """A Claude Code transcript: the prompt, then per step a Bash tool use and its result.

    Entry uuids are `<session>-<n>`; a step's result is entry 2 + 2 * step index.
    """
    lines: list[dict[str, Any]] = []

    def add(entry: dict[str, Any]) -> None:
        uuid = f"{session}-{len(lines):04d}"
        parent = lines[-1]["uuid"] if lines else None
        entry.update(
            uuid=uuid,
            parentUuid=parent,
            sessionId=session,
            cwd=cwd,
            version="2.1.0",
            timestamp=f"2026-01-01T00:{len(lines) // 60 % 60:02d}:{len(lines) % 60:02d}Z",
            isSidechain=False,
            userType="external",
        )
        lines.append(entry)

    add({"type": "user", "message": {"role": "user", "content": prompt}})
    for index, (command, ok, output) in enumerate(steps):
        tool_id = f"toolu_{session}_{index}"
        use = {"type": "tool_use", "id": tool_id, "name": "Bash", "input": {"command": command}}
        add({"type": "assistant", "message": {"role": "assistant", "content": [use]}})
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_id, "content": output}
        if not ok:
            result["is_error"] = True
        add({"type": "user", "message": {"role": "user", "content": [result]}})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


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
