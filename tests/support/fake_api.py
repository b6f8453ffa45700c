"""A scripted, local stand-in for the Anthropic Messages API, to drive the real Claude Code offline.

The agent loop's requests (see `is_agent_request`) are answered from a SCRIPT, one item per
request: text, one or more tool_use blocks, or a scripted HTTP error. Every other request (a side
query such as a title or a summary, a quota probe) gets a short text, and so does the agent loop
once the script is used up ("Done.", end_turn), so a session always ends. Every request is
recorded, so a test can assert exactly what the agent was sent.

    with FakeAnthropic([bash("echo hi > out.txt"), text("Done.")]) as api:
        run_claude(project, "make a file", api)
        assert tool_results(api.main_requests[1])[0]["is_error"] is False

Measured with Claude Code 2.1.330 in `-p` mode: it sends only `POST /v1/messages?beta=true` with
`stream: true` (one per agent turn; no count_tokens, no title request, no HEAD probe), puts the
session id in the `X-Claude-Code-Session-Id` header, and sends CLAUDE.md and the skill list inside
`messages` (as system-reminder text blocks and a `role: "system"` message). Other paths are still
answered sensibly (count_tokens, HEAD/GET /) and recorded, in case other versions ask for them.
A subagent (the Agent tool) sends its own tool-bearing requests, which take script items too, in
arrival order; it may run in the background, interleaved with the main loop, so keep the Agent
tool out of scripts that need a fixed order.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TypeAlias

JsonObject = dict[str, Any]


# --- the script ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolCall:
    """One tool_use block: a Claude Code tool name and its input."""

    name: str
    input: Mapping[str, Any]


@dataclass(frozen=True)
class Turn:
    """One scripted assistant reply: optional text, then zero or more tool calls (run in order)."""

    text: str = ""
    calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True)
class ErrorTurn:
    """Answer one request with an HTTP error (e.g. 429 rate limit, 529 overloaded, 500).

    Clients retry these: each retry consumes the next turn of the script. `retry=False` sends
    `x-should-retry: false`, which the Anthropic SDKs obey.
    """

    status: int = 529
    error_type: str = "overloaded_error"
    message: str = "scripted error"
    retry: bool = True


ScriptItem: TypeAlias = "Turn | ErrorTurn"


def text(message: str) -> Turn:
    return Turn(text=message)


def tool(name: str, **tool_input: Any) -> Turn:
    return Turn(calls=(ToolCall(name, dict(tool_input)),))


def bash(command: str, description: str = "") -> Turn:
    return tool("Bash", command=command, description=description or command[:60])


def edit(path: str, old: str, new: str) -> Turn:
    """An Edit call; `path` must be absolute for Claude Code to accept it."""
    return tool("Edit", file_path=path, old_string=old, new_string=new)


def write(path: str, content: str) -> Turn:
    """A Write call; `path` must be absolute for Claude Code to accept it."""
    return tool("Write", file_path=path, content=content)


def read(path: str) -> Turn:
    return tool("Read", file_path=path)


def together(*turns: Turn) -> Turn:
    """One reply holding every text and tool call of `turns` (parallel tool calls)."""
    return Turn(
        text="\n".join(t.text for t in turns if t.text),
        calls=tuple(call for t in turns for call in t.calls),
    )


# --- reading what the agent was sent -----------------------------------------------------------


def is_agent_request(body: JsonObject) -> bool:
    """The main agent loop (or a subagent): a request that offers tools and wants a real answer.

    Side queries (titles, summaries, quota probes, selfdistill's own LLM calls) offer no tools, or
    ask for a single token.
    """
    return bool(body.get("tools")) and int(body.get("max_tokens") or 0) > 1


def any_request(body: JsonObject) -> bool:
    """Script every request, e.g. to test an LLM client that sends no tools."""
    return True


def _texts(content: Any) -> Iterator[str]:
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for block in content:
            if isinstance(block, dict):
                yield from _texts(block.get("text"))
                yield from _texts(block.get("content"))
                if "input" in block:
                    yield json.dumps(block["input"])


def body_text(body: JsonObject) -> str:
    """All the text of a request (system prompt and messages), to search for what the agent saw."""
    parts = list(_texts(body.get("system")))
    for message in body.get("messages") or []:
        parts.extend(_texts(message.get("content")))
    return "\n".join(parts)


def tool_results(body: JsonObject) -> list[JsonObject]:
    """The tool_result blocks of a request's last message: what the previous tool calls returned."""
    messages = body.get("messages") or []
    content = messages[-1].get("content") if messages else None
    if not isinstance(content, list):
        return []
    return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]


# --- the server ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One HTTP request as received; `body` is the parsed JSON (None when absent or not JSON)."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: JsonObject | None
    scripted: bool = False


@dataclass
class _State:
    """What the handler threads share; every access holds `lock`."""

    script: tuple[ScriptItem, ...]
    is_main: Callable[[JsonObject], bool]
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: list[Request] = field(default_factory=list)
    position: int = 0
    ids: Iterator[int] = field(default_factory=itertools.count)

    def record(self, request: Request) -> tuple[ScriptItem | None, int]:
        """Record a request; for a scripted one, take the next script item (None: past the end)."""
        with self.lock:
            self.requests.append(request)
            item = None
            if request.scripted and self.position < len(self.script):
                item = self.script[self.position]
                self.position += 1
            return item, next(self.ids)


def _content_blocks(turn: Turn, serial: int) -> list[JsonObject]:
    blocks: list[JsonObject] = [{"type": "text", "text": turn.text}] if turn.text else []
    for k, call in enumerate(turn.calls):
        tool_id = f"toolu_fake{serial:04d}{k:02d}"
        blocks.append({"type": "tool_use", "id": tool_id, "name": call.name, "input": call.input})
    return blocks or [{"type": "text", "text": "Done."}]


def _message(turn: Turn, model: str, serial: int) -> JsonObject:
    return {
        "id": f"msg_fake{serial:06d}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": _content_blocks(turn, serial),
        "stop_reason": "tool_use" if turn.calls else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 10},
    }


def _stream_events(message: JsonObject) -> Iterator[tuple[str, JsonObject]]:
    """The server-sent events of one message; tool input arrives as input_json_delta."""
    start = dict(message, content=[], stop_reason=None)
    start["usage"] = {"input_tokens": 10, "output_tokens": 1}
    yield "message_start", {"type": "message_start", "message": start}
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            empty: JsonObject = {"type": "text", "text": ""}
            delta: JsonObject = {"type": "text_delta", "text": block["text"]}
        else:
            empty = dict(block, input={})
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        yield (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": index,
                "content_block": empty,
            },
        )
        yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
            "usage": {"output_tokens": 10},
        },
    )
    yield "message_stop", {"type": "message_stop"}


def _parse(raw: bytes) -> JsonObject | None:
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: every request is recorded in FakeAnthropic.requests instead."""

    def _send_json(self, status: int, payload: JsonObject, headers: Mapping[str, str] = {}) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _record(self, body: JsonObject | None, scripted: bool) -> tuple[ScriptItem | None, int]:
        request = Request(self.command, self.path, dict(self.headers.items()), body, scripted)
        return self.server.state.record(request)

    def do_HEAD(self) -> None:
        self._record(None, False)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self._record(None, False)
        self._send_json(200, {})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = _parse(self.rfile.read(length))
        route = self.path.split("?", 1)[0].rstrip("/")
        if route == "/v1/messages" and body is not None:
            self._answer_messages(body)
        elif route == "/v1/messages/count_tokens":
            self._record(body, False)
            self._send_json(200, {"input_tokens": len(json.dumps(body)) // 4})
        else:
            self._record(body, False)
            error = {"type": "not_found_error", "message": f"fake API: no route {self.path}"}
            self._send_json(404, {"type": "error", "error": error})

    def _answer_messages(self, body: JsonObject) -> None:
        scripted = self.server.state.is_main(body)
        item, serial = self._record(body, scripted)
        if isinstance(item, ErrorTurn):
            self._send_error(item)
            return
        if item is None:
            item = text("Done.")
        message = _message(item, str(body.get("model") or "claude-fake"), serial)
        if body.get("stream"):
            self._send_stream(message)
        else:
            self._send_json(200, message)

    def _send_error(self, item: ErrorTurn) -> None:
        headers = {"x-should-retry": "true" if item.retry else "false", "retry-after": "0"}
        error = {"type": item.error_type, "message": item.message}
        self._send_json(item.status, {"type": "error", "error": error}, headers)

    def _send_stream(self, message: JsonObject) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        # No Content-Length: the stream ends when the connection closes.
        self.send_header("Connection", "close")
        self.end_headers()
        for event, data in _stream_events(message):
            self.wfile.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: _State) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


class FakeAnthropic:
    """The scripted Messages API on 127.0.0.1 (a free port), running while the `with` block runs."""

    def __init__(
        self,
        script: Sequence[ScriptItem] = (),
        *,
        is_main: Callable[[JsonObject], bool] = is_agent_request,
    ) -> None:
        self._state = _State(tuple(script), is_main)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FakeAnthropic:
        self._server = _Server(self._state)
        # A short poll interval: shutdown() waits for it, once per test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    @property
    def base_url(self) -> str:
        """For ANTHROPIC_BASE_URL (no trailing slash, no /v1: clients add the path)."""
        if self._server is None:
            raise RuntimeError("FakeAnthropic is not running: use it as a context manager")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def requests(self) -> tuple[Request, ...]:
        """Every request received so far, in arrival order."""
        with self._state.lock:
            return tuple(self._state.requests)

    @property
    def main_requests(self) -> tuple[JsonObject, ...]:
        """The bodies of the scripted (agent loop) requests, in order."""
        return tuple(r.body for r in self.requests if r.scripted and r.body is not None)

    @property
    def side_requests(self) -> tuple[Request, ...]:
        """Everything else that arrived: side queries, probes, unknown paths."""
        return tuple(r for r in self.requests if not r.scripted)

    @property
    def remaining(self) -> int:
        """Script items not yet used; 0 once the agent consumed the whole script."""
        with self._state.lock:
            return len(self._state.script) - self._state.position
