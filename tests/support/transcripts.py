"""Small Claude Code transcripts for tests: a prompt, then tool uses and their results (Bash,
unless a step's command reads `Read /path`)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

Step = tuple[str, bool, str]  # command (or `Read /path`), succeeded, output


def write_transcript(
    path: Path,
    session: str,
    steps: Sequence[Step],
    cwd: str = "/proj",
    day: str = "2026-01-01",
    prompt: str = "please build it",
    parent: str | None = None,
) -> Path:
    """Entry uuids are `<session>-<n>` (a step's result is entry 2 + 2 * step index), each entry a
    second after the one before it, from midnight of `day`.

    `parent`: a subagent's transcript, as Claude Code writes one (`agent-*.jsonl`): its entries
    carry the parent session's id and are marked as a sidechain."""
    lines: list[dict[str, Any]] = []

    def add(entry: dict[str, Any]) -> None:
        entry.update(
            uuid=f"{session}-{len(lines):04d}",
            parentUuid=lines[-1]["uuid"] if lines else None,
            sessionId=parent or session,
            cwd=cwd,
            version="2.1.0",
            timestamp=f"{day}T00:{len(lines) // 60 % 60:02d}:{len(lines) % 60:02d}Z",
            isSidechain=parent is not None,
            userType="external",
        )
        lines.append(entry)

    add({"type": "user", "message": {"role": "user", "content": prompt}})
    for index, (command, ok, output) in enumerate(steps):
        tool_id = f"toolu_{session}_{index}"
        name, _, read = command.partition(" ")
        if name == "Read":
            use = {"type": "tool_use", "id": tool_id, "name": name, "input": {"file_path": read}}
        else:
            use = {"type": "tool_use", "id": tool_id, "name": "Bash", "input": {"command": command}}
        add({"type": "assistant", "message": {"role": "assistant", "content": [use]}})
        result = {
            "type": "tool_result",
            "tool_use_id": tool_id,
            "content": output,
            "is_error": not ok,
        }
        add({"type": "user", "message": {"role": "user", "content": [result]}})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def unreadable_transcripts(folder: Path) -> list[Path]:
    """Files named like transcripts in which not one Claude Code entry can be read."""
    files = {
        "random.jsonl.gz": b"\x1f\x8b" + os.urandom(3000),
        "binary.jsonl": os.urandom(3000),
        "empty.jsonl": b"",
        "array.jsonl": b"[1,2,3]\n",
        "text.jsonl": b"hello, not JSON at all\n",
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return [folder / name for name in files]
