"""Run the real Claude Code CLI offline, in `-p` mode, against a FakeAnthropic.

Claude Code keeps its files under $HOME (~/.claude.json, ~/.claude/projects/<project>/<id>.jsonl),
so this always uses the HOME of the current environment, which the autouse fixture in
tests/conftest.py points at a temporary directory, and refuses to run with the real one.
"""

from __future__ import annotations

import json
import os
import pwd
import shlex
import signal
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_api import FakeAnthropic

DEFAULT_BINARY = Path(__file__).resolve().parents[2] / ".cache/claude-code/node_modules/.bin/claude"

# Inherited variables that would point Claude Code elsewhere than the fake API and the temp HOME,
# or make it believe it runs nested inside another Claude Code session.
_SCRUBBED = (
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_MODEL",
    "ANTHROPIC_SMALL_FAST_MODEL",
    "ANTHROPIC_DEFAULT_HAIKU_MODEL",
    "ANTHROPIC_DEFAULT_SONNET_MODEL",
    "ANTHROPIC_DEFAULT_OPUS_MODEL",
    "CLAUDE_CONFIG_DIR",
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
    "CLAUDE_CODE_USE_FOUNDRY",
    "CLAUDE_CODE_ENTRYPOINT",
    "CLAUDE_CODE_SSE_PORT",
    "CLAUDE_PROJECT_DIR",
    "CLAUDECODE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
)


@dataclass(frozen=True)
class ClaudeRun:
    """The outcome of one `claude -p` run."""

    returncode: int
    stdout: str
    stderr: str
    session_id: str
    transcripts: tuple[Path, ...]
    seconds: float

    @property
    def transcript(self) -> Path:
        """The main session transcript (not a subagent's); fails the test when there is none."""
        for path in self.transcripts:
            if path.stem == self.session_id:
                return path
        pytest.fail(f"no transcript for session {self.session_id}: {self.transcripts}\n{self}")


def claude_binary() -> Path:
    """SELFDISTILL_CLAUDE_BIN, else the copy tests/run.sh installs; skip (fail on CI) if neither."""
    explicit = os.environ.get("SELFDISTILL_CLAUDE_BIN")
    for candidate in (Path(explicit) if explicit else None, DEFAULT_BINARY):
        if candidate is not None and os.access(candidate, os.X_OK):
            return candidate
    reason = f"Claude Code binary not found (SELFDISTILL_CLAUDE_BIN={explicit!r}, {DEFAULT_BINARY})"
    if os.environ.get("CI"):
        pytest.fail(reason + ": CI must run the end-to-end tests (see tests/run.sh)")
    pytest.skip(reason)


def checked_home(value: str | None) -> Path:
    """`value` as the HOME Claude Code will use, unless it is the user's real one."""
    home = Path(value or "")
    real = Path(pwd.getpwuid(os.getuid()).pw_dir)
    if not home.is_absolute() or home.resolve() == real.resolve():
        raise RuntimeError(f"refusing to run Claude Code with the real HOME ({value!r})")
    return home


def offline_env(api: FakeAnthropic, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The current environment plus `extra`, pointed at the fake API, with no other traffic."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env.update(extra or {})
    home = checked_home(env.get("HOME"))
    env.update(
        # Its scratch files (task output, sockets) go under the temporary HOME, not /tmp/claude-UID.
        CLAUDE_CODE_TMPDIR=str(home / ".claude-tmp"),
        ANTHROPIC_BASE_URL=api.base_url,
        ANTHROPIC_API_KEY="sk-ant-fake-key-for-tests",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_AUTOUPDATER="1",
        DISABLE_TELEMETRY="1",
        DISABLE_ERROR_REPORTING="1",
        NO_PROXY="127.0.0.1,localhost",
    )
    return env


def transcripts_of(session_id: str, home: Path) -> tuple[Path, ...]:
    """The session's transcript and its subagents' ones, under ~/.claude/projects/."""
    projects = home / ".claude" / "projects"
    found = set(projects.glob(f"*/{session_id}.jsonl")) | set(
        projects.glob(f"*/{session_id}/**/*.jsonl")
    )
    return tuple(sorted(found))


def run_claude(
    project: Path,
    prompt: str,
    api: FakeAnthropic,
    *,
    allowed_tools: Sequence[str] = ("Bash", "Read", "Edit", "Write"),
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    resume: str | None = None,
    extra_args: Sequence[str] = (),
) -> ClaudeRun:
    """Run `claude -p PROMPT` in `project` until it exits; a new session unless `resume` is an id.

    The session id is chosen here (--session-id) so the transcript is known without guessing;
    a resumed session keeps its id.
    """
    session_id = resume or str(uuid.uuid4())
    session_args = ["--resume", resume] if resume else ["--session-id", session_id]
    command = [
        str(claude_binary()),
        "-p",
        prompt,
        "--allowedTools",
        " ".join(allowed_tools),
        *session_args,
        *extra_args,
    ]
    full_env = offline_env(api, env)
    Path(full_env["CLAUDE_CODE_TMPDIR"]).mkdir(exist_ok=True)
    started = time.monotonic()
    stdout, stderr, returncode = _run(command, Path(project), full_env, timeout)
    seconds = time.monotonic() - started
    home = Path(full_env["HOME"])
    return ClaudeRun(
        returncode, stdout, stderr, session_id, transcripts_of(session_id, home), seconds
    )


def _run(
    command: list[str], cwd: Path, env: dict[str, str], timeout: float
) -> tuple[str, str, int]:
    """Run in a new process group, so a timeout also ends the tools and hooks Claude Code runs."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(f"claude timed out after {timeout}s\nstdout:\n{stdout}\nstderr:\n{stderr}")
    return stdout, stderr, process.returncode


# --- reading what Claude Code wrote ------------------------------------------------------------

HOOK_EVENTS = ("SessionStart", "UserPromptSubmit", "PostToolUse", "PostToolUseFailure", "Stop")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """A transcript or hook log: one JSON object per non-blank line."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def content_blocks(entries: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """Every content block of type `kind` (tool_use, tool_result, text) in transcript messages."""
    blocks: list[dict[str, Any]] = []
    for entry in entries:
        content = (entry.get("message") or {}).get("content")
        if isinstance(content, list):
            blocks.extend(b for b in content if isinstance(b, dict) and b.get("type") == kind)
    return blocks


def log_hooks(project: Path, log: Path, events: Sequence[str] = HOOK_EVENTS) -> None:
    """Project hooks, written by hand, that append each payload as one JSON line to `log`.

    Replaces `project/.claude/settings.json`: for tests of Claude Code itself, not of install.
    """
    quoted = shlex.quote(str(log))
    entry = {"hooks": [{"type": "command", "command": f"cat >> {quoted} && echo >> {quoted}"}]}
    # Tool events filter on the tool name ("*": all); the others take no matcher.
    hooks = {e: [dict(entry, matcher="*") if "ToolUse" in e else entry] for e in events}
    (project / ".claude").mkdir(exist_ok=True)
    (project / ".claude" / "settings.json").write_text(json.dumps({"hooks": hooks}))
