"""`selfdistill hook EVENT`: the hot path that every registered hook runs.

Standard library only: it runs on every tool call. Always returns 0 and prints nothing, whatever
arrives on stdin: what can be recorded is recorded, every problem goes to the log.

It must cost little more than starting the interpreter (bench/hook_latency.py): so nothing here
imports json, re, pathlib, dataclasses or typing on the way of an ordinary event (see
tests/test_hook.py); paths are os.path strings and JSON goes through selfdistill.jsonfast.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # importing typing costs milliseconds on every hook run
if TYPE_CHECKING:
    from typing import Any

MAX_STDIN_BYTES = 64 * 1024 * 1024
STDIN_IDLE_SECONDS = 5.0
SPAWN_EVENTS = frozenset({"Stop", "SessionEnd"})
AUTORUN_ENV = "SELFDISTILL_AUTORUN"  # "0": record only, distill when asked (`selfdistill run`)
NO_STDIN_EVENTS = frozenset({"GitCommit"})  # run by git: stdin may be a terminal, never a payload
SALVAGED = ("session_id", "transcript_path", "cwd", "hook_event_name", "tool_name", "tool_use_id")


def _disabled() -> bool:
    return any(
        os.environ.get(name, "") not in ("", "0")
        for name in ("SELFDISTILL_DISABLE", "SELFDISTILL_INTERNAL")
    )


def _nested() -> bool:
    """A Claude Code run started inside another one: not the user's session (privacy.py)."""
    if "CLAUDE_PID" not in os.environ:
        return False
    from selfdistill.privacy import nested_claude_run

    return nested_claude_run()


def read_stdin() -> tuple[bytes, str | None]:
    """All of stdin, up to a cap; gives up when the writer goes quiet without closing it."""
    try:
        fd = sys.stdin.fileno() if sys.stdin is not None else 0
        if os.isatty(fd):
            return b"", None
    except (OSError, ValueError):
        return b"", "no stdin"
    chunks: list[bytes] = []
    try:
        return _read_all(fd, chunks)
    except OSError as error:  # closed or unreadable: record the event with what arrived
        return b"".join(chunks), f"stdin unreadable: {error.strerror or repr(error)}"


def _read_all(fd: int, chunks: list[bytes]) -> tuple[bytes, str | None]:
    """Reads without blocking while data is there (Claude Code has usually written and closed the
    pipe by the time we run), so `select` is imported only when we do have to wait."""
    was_blocking = os.get_blocking(fd)
    os.set_blocking(fd, False)
    try:
        size = 0
        while size <= MAX_STDIN_BYTES:
            try:
                chunk = os.read(fd, 1 << 20)
            except BlockingIOError:
                if not _wait_for_input(fd):
                    return b"".join(chunks), "stdin stayed open without data"
                continue
            if not chunk:
                return b"".join(chunks), None
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)[:MAX_STDIN_BYTES], f"payload over {MAX_STDIN_BYTES} bytes, cut"
    finally:
        os.set_blocking(fd, was_blocking)  # the descriptor may be shared: leave it as it was


def _wait_for_input(fd: int) -> bool:
    """Whether `fd` became readable within STDIN_IDLE_SECONDS."""
    import select  # only when the writer is slower than our start-up

    ready, _, _ = select.select([fd], [], [], STDIN_IDLE_SECONDS)
    return bool(ready)


def salvage(text: str) -> dict[str, Any]:
    """Top-level string fields found by pattern in a payload json could not parse."""
    import json  # only for broken payloads
    import re

    found: dict[str, Any] = {}
    head = text[: 256 * 1024]
    for name in SALVAGED:
        match = re.search(rf'"{name}"\s*:\s*"((?:[^"\\]|\\.){{0,4096}})"', head)
        if match:
            try:
                found[name] = json.loads(f'"{match.group(1)}"')
            except ValueError:
                found[name] = match.group(1)
    return found


def parse(raw: bytes, problem: str | None) -> tuple[dict[str, Any], str | None]:
    """The payload as an object, and a short reason when it could not be read whole."""
    if not raw.strip():
        return {}, problem or ("empty payload" if not raw else "blank payload")
    from selfdistill.jsonfast import loads

    text = raw.decode("utf-8", "replace")
    if problem:
        return salvage(text), problem
    try:
        payload = loads(text)
    except RecursionError:
        return salvage(text), "payload nested too deeply"
    except ValueError as error:
        return salvage(text), f"not JSON: {str(error)[:120]}"
    if not isinstance(payload, dict):
        return {}, f"payload is a JSON {type(payload).__name__}, not an object"
    return payload, None


def project_dir(payload: dict[str, Any]) -> str:
    """CLAUDE_PROJECT_DIR, else the project holding the payload's cwd, else the process cwd's."""
    from selfdistill.paths import find_root_dir

    explicit = os.environ.get("CLAUDE_PROJECT_DIR")
    if explicit and os.path.isabs(explicit):
        return explicit
    cwd = payload.get("cwd")
    if isinstance(cwd, str) and os.path.isabs(cwd) and os.path.isdir(cwd):
        return find_root_dir(cwd)
    return find_root_dir(os.getcwd())


def commit_fields() -> dict[str, Any]:
    """sha, message, files, reverts of HEAD in the current repository (git hook's cwd)."""
    from pathlib import Path

    from selfdistill.git import commit_info  # only here: the git module is not on the hot path

    info = commit_info(Path.cwd())
    return {
        "sha": info.sha,
        "message": info.message,
        "files": list(info.files),
        "reverts": info.reverts,
    }


def ignored_here(project: str, cwd: Any) -> bool:
    from selfdistill.privacy import ignore_patterns, ignored

    patterns = ignore_patterns()
    if not patterns:
        return False
    return ignored(project, patterns) or (isinstance(cwd, str) and ignored(cwd, patterns))


def record_event(event: str, raw: bytes, problem: str | None) -> None:
    from selfdistill import capture, store
    from selfdistill.paths import ProjectState

    payload, invalid = parse(raw, problem)
    project = project_dir(payload)
    if ignored_here(project, payload.get("cwd")):
        return  # kept out of capture by the user (SELFDISTILL_IGNORE or the ignore file)
    event = event or str(payload.get("hook_event_name") or "") or "unknown"
    commit = None
    if event == "GitCommit":
        from selfdistill.hookusers import records_commits

        if not records_commits(project):
            return  # a shared hooks folder fires in every repository; this one never installed us
        try:
            commit = commit_fields()
        except Exception as error:  # record the commit event even when git cannot tell more
            invalid = f"commit info unavailable: {error!r}"[:200]
    state = ProjectState.for_project(project)
    try:
        store.append(state, capture.fit(event, payload, invalid, commit))
    except store.StoreBusy:
        return  # counted and logged by the store; the agent goes on
    if event in SPAWN_EVENTS and os.environ.get(AUTORUN_ENV, "1") != "0":
        from selfdistill.spawn import maybe_spawn

        maybe_spawn(state)


def main(argv: list[str]) -> int:
    """Always 0, never a byte on stdout or stderr."""
    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    sys.stdout = sys.stderr = devnull
    try:
        if _disabled() or _nested():
            return 0
        event = argv[0][:100] if argv else ""
        raw, problem = (b"", None) if event in NO_STDIN_EVENTS else read_stdin()
        record_event(event, raw, problem)
    except BaseException:  # the agent must never see our failure, not even an interrupt
        import traceback

        from selfdistill.logs import log_error

        log_error(f"hook {argv[:1]} failed", traceback.format_exc())
    return 0
