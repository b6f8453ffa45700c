"""Build small Claude Code transcripts in the shape the real CLI writes (2.x by default).

t = Transcript()
t.prompt("run the tests")
call = t.bash("python3 -m pytest")
t.result(call, "Exit code 1\\n/usr/bin/python3: No module named pytest", error=True)
t.write(tmp_path / "s.jsonl")
"""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path
from typing import Any

REJECTED = (
    "The user doesn't want to proceed with this tool use. The tool use was rejected (eg. if it "
    "was a file edit, the new_string was NOT written to the file). STOP what you are doing and "
    "wait for the user to tell you how to proceed."
)
REJECTED_WITH_REASON = (
    "The user doesn't want to proceed with this tool use. The tool use was rejected (eg. if it "
    "was a file edit, the new_string was NOT written to the file). To tell you how to proceed, "
    "the user said:\n"
)
INTERRUPTED = "[Request interrupted by user]"
INTERRUPTED_TOOL = "[Request interrupted by user for tool use]"


class Transcript:
    def __init__(self, session: str = "sess-1", version: str = "2.1.0", sidechain: bool = False):
        self.session = session
        self.version = version
        self.sidechain = sidechain
        self.records: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._last: str | None = None

    def _entry(self, kind: str, message: dict[str, Any], **extra: Any) -> str:
        uuid = f"u{next(self._ids):04d}"
        record = {
            "parentUuid": self._last,
            "isSidechain": self.sidechain,
            "userType": "external",
            "cwd": "/work/project",
            "sessionId": self.session,
            "version": self.version,
            "type": kind,
            "message": message,
            "uuid": uuid,
            "timestamp": f"2026-01-01T00:00:{len(self.records) % 60:02d}.000Z",
        }
        record.update(extra)
        self.records.append(record)
        self._last = uuid
        return uuid

    def prompt(self, text: str, **extra: Any) -> str:
        return self._entry("user", {"role": "user", "content": text}, **extra)

    def say(self, text: str) -> str:
        return self._entry(
            "assistant", {"role": "assistant", "content": [{"type": "text", "text": text}]}
        )

    def think(self, text: str) -> str:
        """A thinking block, written as its own entry like the CLI does (signature shortened)."""
        block = {"type": "thinking", "thinking": text, "signature": "EqQBCkYIBxgCKkA"}
        return self._entry("assistant", {"role": "assistant", "content": [block]})

    def call(self, name: str, text: str = "", **tool_input: Any) -> str:
        tool_id = f"toolu_{next(self._ids):04d}"
        content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        content.append({"type": "tool_use", "id": tool_id, "name": name, "input": tool_input})
        self._entry("assistant", {"role": "assistant", "content": content})
        return tool_id

    def bash(self, command: str, text: str = "") -> str:
        return self.call("Bash", text, command=command, description="run it")

    def edit(self, path: str, old: str, new: str) -> str:
        return self.call("Edit", file_path=path, old_string=old, new_string=new)

    def result(self, tool_id: str, content: Any, error: bool = False, **extra: Any) -> str:
        block = {"type": "tool_result", "tool_use_id": tool_id, "content": content}
        if error:
            block["is_error"] = True
        if "toolUseResult" not in extra:
            extra["toolUseResult"] = f"Error: {content}" if error else {"stdout": str(content)}
        return self._entry("user", {"role": "user", "content": [block]}, **extra)

    def raw(self, record: dict[str, Any]) -> None:
        self.records.append(record)

    def lines(self) -> list[str]:
        return [json.dumps(record) for record in self.records]

    def write(self, path: Path, gz: bool = False, tail: bytes = b"") -> Path:
        data = ("\n".join(self.lines()) + "\n").encode() + tail
        path.write_bytes(gzip.compress(data) if gz else data)
        return path
