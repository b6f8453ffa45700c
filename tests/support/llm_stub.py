"""A scripted stand-in for the Messages API on 127.0.0.1: drives the real anthropic SDK offline.

Each POST is answered by the next scripted Reply (the last one repeats); every request body is
kept for the test to inspect. Small on purpose: non-streaming JSON answers only.

Prompt caching is checked as the API checks it: `cache_control` must be `{"type": "ephemeral"}`
(with an optional ttl) on at most four blocks, else the answer is a 400. A reply made with
`cached_reply` reports the usage a caching API would (see LLMStub.cache_usage).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None  # a dict is sent as JSON, a str as it is
    headers: tuple[tuple[str, str], ...] = ()
    delay_s: float = 0.0  # wait this long before answering (for timeouts)
    trickle_s: float = 0.0  # send the body one byte at a time, this long apart (slow readers)
    counted: bool = False  # the usage is worked out from the request (see LLMStub.cache_usage)


def message_body(
    content: list[dict[str, Any]], stop_reason: str, usage: dict[str, int]
) -> dict[str, Any]:
    return {
        "id": "msg_stub",
        "type": "message",
        "role": "assistant",
        "model": "stub",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage,
    }


def usage(
    input_tokens: int, output_tokens: int, cache_write: int, cache_read: int
) -> dict[str, int]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": cache_write,
        "cache_read_input_tokens": cache_read,
    }


def tool_reply(
    answer: Any,
    *,
    input_tokens: int = 1000,
    output_tokens: int = 100,
    cache_write: int = 0,
    cache_read: int = 0,
    name: str = "record_lessons",
) -> Reply:
    """The model calling the answer tool with `answer` as its input."""
    block = {"type": "tool_use", "id": "toolu_stub", "name": name, "input": answer}
    spent = usage(input_tokens, output_tokens, cache_write, cache_read)
    return Reply(body=message_body([block], "tool_use", spent))


def cached_reply(answer: Any, *, output_tokens: int = 100) -> Reply:
    """The answer tool called, with the usage a caching API would report for the request."""
    return replace(tool_reply(answer, output_tokens=output_tokens), counted=True)


def text_reply(text: str, *, input_tokens: int = 1000, output_tokens: int = 100) -> Reply:
    block = {"type": "text", "text": text}
    return Reply(body=message_body([block], "end_turn", usage(input_tokens, output_tokens, 0, 0)))


MAX_BREAKPOINTS = 4  # the API's limit on blocks with cache_control in one request
CACHE_MARKS = [{"type": "ephemeral"}, *({"type": "ephemeral", "ttl": t} for t in ("5m", "1h"))]
CHARS_PER_TOKEN = 4  # the stub's tokenizer: about right for English and JSON


def prefix_blocks(body: dict[str, Any]) -> list[Any]:
    """The request's blocks in the order the API caches them: tools, system, then messages."""
    system = body.get("system", [])
    blocks: list[Any] = [*body.get("tools", []), *([system] if isinstance(system, str) else system)]
    for message in body.get("messages", []):
        content = message.get("content", [])
        blocks.extend([content] if isinstance(content, str) else content)
    return blocks


def user_text(body: dict[str, Any]) -> str:
    """The text of the request's first user message, its blocks joined as the model reads them."""
    content = body["messages"][0]["content"]
    return content if isinstance(content, str) else "".join(block["text"] for block in content)


def marked(block: Any) -> bool:
    return isinstance(block, dict) and "cache_control" in block


def cache_error(body: dict[str, Any]) -> str | None:
    """What the API would refuse about the request's cache breakpoints, if anything."""
    marks = [block["cache_control"] for block in prefix_blocks(body) if marked(block)]
    if len(marks) > MAX_BREAKPOINTS:
        return f"a maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided"
    wrong = [mark for mark in marks if mark not in CACHE_MARKS]
    return f"cache_control: invalid value {wrong[0]!r}" if wrong else None


def error_reply(
    status: int, kind: str, headers: tuple[tuple[str, str], ...] = (), message: str = ""
) -> Reply:
    body = {"type": "error", "error": {"type": kind, "message": message or f"stub {kind}"}}
    return Reply(status=status, body=body, headers=headers)


class LLMStub:
    """`with LLMStub(reply, ...) as stub:` serves on stub.url until the block ends."""

    def __init__(self, *replies: Reply) -> None:
        assert replies, "script at least one reply"
        self.replies = replies
        self.requests: list[dict[str, Any]] = []
        self.raw: list[bytes] = []
        self.usages: list[dict[str, int]] = []  # what each counted reply reported
        self.cached: set[str] = set()  # the prefixes a caching API would hold
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> LLMStub:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()  # releases handlers still sleeping on a delayed reply
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _next(self, raw: bytes) -> Reply:
        with self._lock:
            self.raw.append(raw)
            try:
                request = json.loads(raw)
            except ValueError:
                request = {}
            self.requests.append(request)
            reply = self.replies[min(len(self.raw), len(self.replies)) - 1]
            refused = cache_error(request)
            if refused:
                return error_reply(400, "invalid_request_error", message=refused)
            if reply.counted:
                spent = {**reply.body["usage"], **self.cache_usage(request)}
                self.usages.append(spent)
                return replace(reply, body={**reply.body, "usage": spent})
            return reply

    def cache_usage(self, request: dict[str, Any]) -> dict[str, int]:
        """Input tokens as a caching API counts them (the lock is held).

        The longest prefix ending at a breakpoint that an earlier request wrote is read; the rest
        up to the last breakpoint is written; what follows is plain input. No minimum length.
        """
        blocks = prefix_blocks(request)
        texts = [json.dumps(block, sort_keys=True) for block in blocks]
        ends = [n + 1 for n, block in enumerate(blocks) if marked(block)]
        hit = max((end for end in ends if "".join(texts[:end]) in self.cached), default=0)
        last = max(ends, default=0)
        self.cached.update("".join(texts[:end]) for end in ends)

        def tokens(part: list[str]) -> int:
            return sum(len(block) for block in part) // CHARS_PER_TOKEN

        return {
            "cache_read_input_tokens": tokens(texts[:hit]),
            "cache_creation_input_tokens": tokens(texts[hit:last]),
            "input_tokens": tokens(texts[last:]),
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                try:
                    self.answer()
                except (OSError, ValueError):  # the client gave up (a timeout under test)
                    self.close_connection = True

            def answer(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                reply = stub._next(raw)
                if reply.delay_s and stub._stop.wait(reply.delay_s):
                    self.close_connection = True
                    return
                body = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                data = body.encode("utf-8")
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in reply.headers:
                    self.send_header(name, value)
                self.end_headers()
                pieces = [data[i : i + 1] for i in range(len(data))] if reply.trickle_s else [data]
                for piece in pieces:
                    if reply.trickle_s and stub._stop.wait(reply.trickle_s):
                        self.close_connection = True
                        return
                    self.wfile.write(piece)
                    self.wfile.flush()

            def log_message(self, *_: Any) -> None:
                pass

        return Handler
