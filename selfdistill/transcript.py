"""Streaming reader for Claude Code transcripts (`.jsonl` / `.jsonl.gz`, any version).

One line at a time: memory follows the largest line, never the file. Each line becomes a small
frozen `Entry` that keeps only what the analysis needs; long texts keep a head and a tail.
Lines that are truncated, not JSON, not an object, or of an entry type we do not know are
skipped and counted, never fatal: the format changes between Claude Code versions.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, NamedTuple

from selfdistill.privacy import strip_private

# Long texts keep this much of their start and end: error lines sit at both ends of an output.
HEAD_CHARS = 4000
TAIL_CHARS = 4000
THINKING_CHARS = 600  # the agent states its reading of a prompt in its first sentences
GZIP_MAGIC = b"\x1f\x8b"
# A line longer than this is read in pieces and its long strings are cut while reading.
LINE_LIMIT = 4 * 1024 * 1024
SHRINK_KEEP = 64 * 1024  # bytes kept at each end of a long string in such a line
# An odd run of backslashes at the end, or an unfinished \uXXXX, preceded by whole pairs.
PARTIAL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*(\\(?:u[0-9a-fA-F]{0,3})?)$")
# Entry types that carry conversation; any other type is read only for its metadata.
CONVERSATION_TYPES = frozenset({"user", "assistant", "system", "summary"})
SCALAR_TYPES = (str, int, float, bool)
EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class ToolUse:
    id: str
    name: str
    input: dict[str, Any]  # strings in it are bounded like every other text


@dataclass(frozen=True)
class ToolResult:
    tool_use_id: str
    is_error: bool
    text: str  # bounded: head + marker + tail


class Entry(NamedTuple):
    """What the rest of selfdistill needs from one transcript line.

    A NamedTuple rather than a frozen dataclass: one is built per line, and a tuple is several
    times cheaper to build than a frozen dataclass with this many fields.
    """

    type: str
    uuid: str | None = None
    parent_uuid: str | None = None
    session_id: str | None = None
    timestamp: str | None = None
    is_sidechain: bool = False
    is_meta: bool = False
    is_compact_summary: bool = False
    cwd: str | None = None
    version: str | None = None
    role: str | None = None
    subtype: str | None = None  # system entries: compact_boundary, api_error, ...
    agent_id: str | None = None
    texts: tuple[str, ...] = ()  # text blocks (or the whole string content), bounded
    # The head of the agent's first thinking block: how it read the prompt ("The user is right").
    thinking: str = ""
    tool_uses: tuple[ToolUse, ...] = ()
    tool_results: tuple[ToolResult, ...] = ()
    # toolUseResult: its scalar fields (exit code, interrupted, filePath...) and bounded strings.
    tool_use_result: Mapping[str, Any] = EMPTY
    line_number: int = 0

    @property
    def text(self) -> str:
        return "\n".join(self.texts)


@dataclass
class ReadCounts:
    """Counts filled while reading (the one mutable record: the caller owns it)."""

    lines: int = 0
    entries: int = 0
    skipped: int = 0  # not JSON, truncated, not an object
    unknown: int = 0  # entry types this reader does not know


def bound(text: str, head: int = HEAD_CHARS, tail: int = TAIL_CHARS) -> str:
    """Keep the start and the end of a long text, with a marker saying how much was cut."""
    if len(text) <= head + tail + 64:
        return text
    cut = len(text) - head - tail
    return f"{text[:head]}\n[... {cut} characters cut ...]\n{text[-tail:]}"


def open_transcript(path: Path) -> IO[bytes]:
    """Open plain or gzipped by content, not by name: people rename files."""
    raw = path.open("rb")
    magic = raw.read(2)
    raw.seek(0)
    if magic == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def iter_entries(path: Path, counts: ReadCounts | None = None) -> Iterator[Entry]:
    """Yield the entries of one transcript, streaming. Bad lines are skipped and counted."""
    tally = counts if counts is not None else ReadCounts()
    with open_transcript(path) as stream:
        for number, line in enumerate(_lines(stream), start=1):
            tally.lines += 1
            record = _parse(line)
            if record is None:
                tally.skipped += 1
                continue
            entry = to_entry(record, number)
            if entry is None:
                tally.unknown += 1
                continue
            tally.entries += 1
            yield entry


def _lines(stream: IO[bytes]) -> Iterator[bytes]:
    """Lines of the stream; a gzip file cut short ends the iteration instead of raising.

    A line longer than LINE_LIMIT (a 50 MB tool output) is never held whole: it is copied
    chunk by chunk with its long string values cut to their head and tail (see _Shrinker).
    """
    try:
        while line := stream.readline(LINE_LIMIT):
            if len(line) < LINE_LIMIT or line.endswith(b"\n"):
                yield line
            else:
                yield _shrunk_line(line, stream)
    except (EOFError, OSError, zlib.error):  # a cut or corrupt gzip stream ends the reading
        return


def _shrunk_line(start: bytes, stream: IO[bytes]) -> bytes:
    shrinker = _Shrinker()
    chunk = start
    while chunk:
        shrinker.feed(chunk)
        if chunk.endswith(b"\n"):
            break
        chunk = stream.readline(LINE_LIMIT)
    return shrinker.result()


class _Shrinker:
    """Copies one over-long JSON line, keeping only the head and tail of each long string.

    The one mutable helper of this module, private to `_shrunk_line`. Inside a string it looks
    only for the closing quote (a quote after an even run of backslashes, counted across chunk
    boundaries), so it works in large slices, and what it writes stays valid JSON.
    """

    def __init__(self) -> None:
        self.out = bytearray()
        self.head = bytearray()
        self.tail = bytearray()
        self.cut = 0
        self.in_string = False
        self.backslashes = 0  # backslashes ending the current string's bytes so far

    def feed(self, chunk: bytes) -> None:
        pos = 0
        while pos < len(chunk):
            if self.in_string:
                pos = self._feed_string(chunk, pos)
                continue
            quote = chunk.find(b'"', pos)
            if quote < 0:
                self.out += chunk[pos:]
                return
            self.out += chunk[pos : quote + 1]
            self.in_string, self.backslashes, pos = True, 0, quote + 1

    def _feed_string(self, chunk: bytes, pos: int) -> int:
        search = pos
        while (quote := chunk.find(b'"', search)) >= 0:  # memchr-fast; escaped ones are skipped
            run = _backslashes_before(chunk, quote, pos)
            if run == quote - pos:  # the run reaches back into the previous chunk's bytes
                run += self.backslashes
            if run % 2 == 0:  # not escaped: the string ends here
                self._add(chunk[pos:quote])
                self._close()
                return quote + 1
            search = quote + 1
        self._add(chunk[pos:])
        return len(chunk)

    def _add(self, data: bytes) -> None:
        if not data:
            return
        run = _backslashes_before(data, len(data), 0)
        self.backslashes = self.backslashes + run if run == len(data) else run
        room = SHRINK_KEEP - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        self.tail += data
        if len(self.tail) > 2 * SHRINK_KEEP:
            drop = len(self.tail) - SHRINK_KEEP
            del self.tail[:drop]
            self.cut += drop

    def _close(self) -> None:
        if self.cut:
            # Cut ends must not split an escape: trim the head's last one if it is partial and
            # drop what a cut escape leaves at the tail's start (a backslash or a bare quote).
            head = _whole_escapes(bytes(self.head))
            marker = b"\\n[... %d bytes cut ...]\\n" % self.cut
            self.out += head + marker + bytes(self.tail).lstrip(b'\\"') + b'"'
        else:
            self.out += self.head + self.tail + b'"'
        self.head, self.tail, self.cut, self.in_string = bytearray(), bytearray(), 0, False

    def result(self) -> bytes:
        if self.in_string:  # the line ended inside a string: it was truncated anyway
            self._close()
        return bytes(self.out)


def _backslashes_before(data: bytes, end: int, start: int) -> int:
    """How many backslashes come right before data[end], not looking before data[start]."""
    count = 0
    while end - count > start and data[end - count - 1] == 0x5C:
        count += 1
    return count


def _whole_escapes(head: bytes) -> bytes:
    """The head without a half escape at its end (a lone backslash, or \\u with < 4 digits)."""
    partial = PARTIAL_ESCAPE.search(head)
    return head[: partial.start(1)] if partial else head


def _parse(line: bytes) -> dict[str, Any] | None:
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except ValueError:  # JSONDecodeError and invalid UTF-8 alike
        try:
            record = json.loads(line.decode("utf-8", errors="replace"))
        except ValueError:
            return None
    return record if isinstance(record, dict) else None


def to_entry(record: dict[str, Any], line_number: int = 0) -> Entry | None:
    """The Entry for one parsed line, or None for an entry type we do not read."""
    kind = record.get("type")
    if not isinstance(kind, str) or kind not in CONVERSATION_TYPES:  # a list would not hash
        return None
    message = record.get("message")
    message = message if isinstance(message, dict) else {}
    texts, thinking, uses, results = _content(message.get("content", record.get("content")))
    if kind == "summary" and isinstance(record.get("summary"), str):
        texts = (bound(record["summary"]),)
    # One pass for the string fields: cheaper than checking each field's type on its own.
    strs = {key: value for key, value in record.items() if type(value) is str}
    return Entry(
        type=str(kind),
        uuid=strs.get("uuid") or strs.get("leafUuid"),
        parent_uuid=strs.get("parentUuid"),
        session_id=strs.get("sessionId") or strs.get("session_id"),
        timestamp=strs.get("timestamp"),
        is_sidechain=record.get("isSidechain") is True,
        is_meta=record.get("isMeta") is True,
        is_compact_summary=record.get("isCompactSummary") is True,
        cwd=strs.get("cwd"),
        version=strs.get("version"),
        role=_str(message.get("role")),
        subtype=strs.get("subtype"),
        agent_id=strs.get("agentId"),
        texts=texts,
        thinking=thinking,
        tool_uses=uses,
        tool_results=results,
        tool_use_result=_tool_use_result(record.get("toolUseResult")),
        line_number=line_number,
    )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _content(
    content: Any,
) -> tuple[tuple[str, ...], str, tuple[ToolUse, ...], tuple[ToolResult, ...]]:
    # `<private>` spans go before anything is cut or read: they never reach signals or lessons
    if isinstance(content, str):
        return (bound(strip_private(content)),), "", (), ()
    if not isinstance(content, list):
        return (), "", (), ()
    texts: list[str] = []
    thinking = ""
    uses: list[ToolUse] = []
    results: list[ToolResult] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            texts.append(bound(strip_private(block["text"])))
        elif kind == "thinking" and not thinking and isinstance(block.get("thinking"), str):
            # Cut first: a private span cut open runs to the end of the head and still goes.
            thinking = strip_private(block["thinking"][:THINKING_CHARS])
        elif kind == "tool_use":
            uses.append(_tool_use(block))
        elif kind == "tool_result":
            results.append(_tool_result(block))
    return tuple(texts), thinking, tuple(uses), tuple(results)


def _tool_use(block: dict[str, Any]) -> ToolUse:
    raw_input = block.get("input")
    return ToolUse(
        id=str(block.get("id") or ""),
        name=str(block.get("name") or ""),
        input=_bounded_mapping(raw_input) if isinstance(raw_input, dict) else {},
    )


def _tool_result(block: dict[str, Any]) -> ToolResult:
    return ToolResult(
        tool_use_id=str(block.get("tool_use_id") or ""),
        is_error=block.get("is_error") is True,
        text=bound(result_text(block.get("content"))),
    )


def result_text(content: Any) -> str:
    """The text of a tool_result's content (a string, or a list of text/image blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            block["text"]
            for block in content
            if isinstance(block, dict) and isinstance(block.get("text"), str)
        ]
        return "\n".join(parts)
    return ""


def _bounded_mapping(value: dict[str, Any]) -> dict[str, Any]:
    """Scalars and bounded strings of a mapping, one level deep (enough for tool inputs)."""
    kept: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, str):
            kept[key] = bound(item, 2000, 1000)
        elif isinstance(item, SCALAR_TYPES) or item is None:
            kept[key] = item
        elif isinstance(item, list) and len(item) <= 50:
            kept[key] = [_bounded_mapping(x) if isinstance(x, dict) else x for x in item][:50]
    return kept


def _tool_use_result(value: Any) -> dict[str, Any]:
    """toolUseResult is a string (errors) or an object whose shape depends on the tool."""
    if isinstance(value, str):
        return {"text": bound(value)}
    if isinstance(value, dict):
        return {
            key: bound(item) if isinstance(item, str) else item
            for key, item in value.items()
            if isinstance(item, SCALAR_TYPES) or item is None
        }
    return {}
