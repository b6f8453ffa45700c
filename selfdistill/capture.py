"""Turn one hook payload into one observation record (see schemas/observation.schema.json).

Standard library only (hook hot path). Pure functions: the payload comes in as parsed JSON (or
whatever could be salvaged), the record goes out as a plain dict without its `id`, which the
store assigns when it knows where the line lands.

Every string is redacted before it is cut, so a cut can never leave half a secret that no longer
matches its pattern. Huge strings are first narrowed to a window (limit + MARGIN) so redaction
stays cheap; a secret longer than MARGIN does not exist in practice.
"""

from __future__ import annotations

import time

from selfdistill.jsonfast import dumps
from selfdistill.privacy import strip_private
from selfdistill.redact import redact_field, redact_text

TYPE_CHECKING = False  # importing typing costs milliseconds on every hook run
if TYPE_CHECKING:
    from typing import Any

VERSION = 1
MAX_LINE_BYTES = 64 * 1024
MARGIN = 8192

# Per-field limits in characters, at scale 1.0 (shrunk when a record would not fit in a line).
LIMITS = {
    "prompt": 8000,
    "last_message": 4000,
    "error": 4000,
    "output": 2000,
    "detail": 1000,
    "tool_input": 2000,  # each string inside tool_input
    "ident": 4096,  # session_id, paths, names
    "commit": 4000,  # a commit message
}
MAX_NOTES = 50  # entries in `truncated`; beyond that the note goes on the top-level field
MAX_ITEMS = 100  # keys of an object / items of a list kept inside tool_input
MAX_DEPTH = 8
MAX_NODES = 2000

TOOL_EVENTS = frozenset({"PostToolUse", "PostToolUseFailure"})
# Tools whose response is file content, not output worth showing the distiller.
FILE_TOOLS = frozenset({"Read", "Write", "Edit", "MultiEdit", "NotebookEdit", "NotebookRead"})
DETAIL_FIELDS = {
    "SessionStart": "source",
    "SessionEnd": "reason",
    "PreCompact": "trigger",
    "Notification": "message",
}
EXIT_CODE_PREFIX = "Exit code "


def now_iso() -> str:
    stamp = time.time()
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp))
    return f"{whole}.{int(stamp % 1 * 1000):03d}Z"


def _size(text: str) -> int:
    return len(text.encode("utf-8", "replace"))


def _json_size(value: Any) -> int:
    """Size of `value` as json.dumps(value, default=str) writes it: an original size to note."""
    return _size(dumps(value, separators=(", ", ": "), default=str))


class _Cutter:
    """Redacts and cuts strings at a scale, noting each original size in `truncated`."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.truncated: dict[str, int] = {}
        self.nodes = MAX_NODES

    def note(self, path: str, size: int) -> None:
        if len(self.truncated) >= MAX_NOTES and path not in self.truncated:
            path = path.split(".", 1)[0]
        self.truncated.setdefault(path, size)

    def limit(self, field: str) -> int:
        return max(64, int(LIMITS[field] * self.scale))

    def text(self, path: str, value: str, field: str, tail: bool = False, key: str = "") -> str:
        limit = self.limit(field)
        window = limit + MARGIN
        # `<private>` spans are never stored: stripped before the cut, which could split a span
        # and leave its content without the opening tag.
        value = strip_private(value)
        narrowed = value if len(value) <= window else (value[-window:] if tail else value[:window])
        clean = redact_field(key, narrowed) if key else redact_text(narrowed)
        if len(value) <= limit and len(clean) <= limit:
            return clean
        self.note(path, _size(value))
        if tail:
            return "…" + clean[-limit:]
        return clean[:limit] + "…"

    def both_ends(self, path: str, value: str, field: str) -> str:
        """Head and tail: an error's first line names it, its end usually says why."""
        limit = self.limit(field)
        value = strip_private(value)
        if len(value) <= limit:
            return redact_text(value)
        head = self.text(path, value[: limit // 4], field)
        tail = self.text(path, value, field, tail=True)[-(limit - len(head)) :]
        self.note(path, _size(value))
        return f"{head}\n…\n{tail}"

    def tree(self, path: str, value: Any, key: str = "", depth: int = 0) -> Any:
        """tool_input: strings redacted (with their key as context) and cut, size bounded."""
        self.nodes -= 1
        if self.nodes < 0 or depth > MAX_DEPTH:
            self.note(path, _json_size(value))
            return "…"
        if isinstance(value, str):
            return self.text(path, value, "tool_input", key=key)
        if isinstance(value, bool) or value is None or isinstance(value, int):
            return value
        if isinstance(value, float):
            return value if value == value and abs(value) != float("inf") else str(value)
        if isinstance(value, dict):
            items = list(value.items())
            if len(items) > MAX_ITEMS:
                self.note(path, _json_size(value))
            return {
                str(k): self.tree(f"{path}.{k}", v, str(k), depth + 1) for k, v in items[:MAX_ITEMS]
            }
        if isinstance(value, list):
            if len(value) > MAX_ITEMS:
                self.note(path, _json_size(value))
            return [
                self.tree(f"{path}.{i}", v, key, depth + 1) for i, v in enumerate(value[:MAX_ITEMS])
            ]
        return self.text(path, str(value), "tool_input", key=key)


def _string(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _blocks_text(value: Any) -> str | None:
    """Text of a string or of a list of content blocks ({type: text, text: ...})."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        texts = [b["text"] for b in value if isinstance(b, dict) and isinstance(b.get("text"), str)]
        return "\n".join(texts) if texts else None
    return None


def response_text(tool_name: str | None, response: Any) -> str | None:
    """What a tool printed: stdout and stderr for commands, the text of other responses."""
    if tool_name in FILE_TOOLS:
        return None
    if not isinstance(response, dict):
        return _blocks_text(response)
    streams = [response.get(k) for k in ("stdout", "stderr")]
    printed = "\n".join(s for s in streams if isinstance(s, str) and s)
    if printed:
        return printed
    for key in ("output", "result", "content", "message", "error", "text"):
        text = _blocks_text(response.get(key))
        if text:
            return text
    return None


def _leading_int(text: str) -> int | None:
    """The integer (`-?` and decimal digits, as regex `-?\\d+`) that `text` starts with."""
    sign = 1 if text.startswith("-") else 0
    end = sign
    while end < len(text) and text[end].isdecimal():
        end += 1
    return int(text[:end]) if end > sign else None


def _exit_code(error: str | None, response: Any) -> int | None:
    if error and error.startswith(EXIT_CODE_PREFIX):
        code = _leading_int(error[len(EXIT_CODE_PREFIX) :])
        if code is not None:
            return code
    if isinstance(response, dict):
        for key in ("exitCode", "exit_code", "returncode"):
            code = response.get(key)
            if isinstance(code, int) and not isinstance(code, bool):
                return code
    return None


def _put(record: dict[str, Any], key: str, value: Any) -> None:
    if value is not None and value != "" and value != {}:
        record[key] = value


def _tool_fields(record: dict[str, Any], event: str, payload: dict[str, Any], cut: _Cutter) -> None:
    tool_name = _string(payload.get("tool_name"))
    _put(record, "tool_name", tool_name and cut.text("tool_name", tool_name, "ident"))
    tool_use_id = _string(payload.get("tool_use_id"))
    _put(record, "tool_use_id", tool_use_id and cut.text("tool_use_id", tool_use_id, "ident"))
    if "tool_input" in payload:
        raw = payload["tool_input"]
        _put(
            record,
            "tool_input",
            cut.tree("tool_input", raw if isinstance(raw, dict) else {"value": raw}),
        )
    if event not in TOOL_EVENTS or not payload:
        return
    response = payload.get("tool_response")
    error = _string(payload.get("error"))
    if event == "PostToolUseFailure":
        record["outcome"] = "interrupted" if _truthy(payload.get("is_interrupt")) else "error"
    else:
        interrupted = isinstance(response, dict) and _truthy(response.get("interrupted"))
        record["outcome"] = "interrupted" if interrupted else "ok"
    _put(record, "error", error and cut.both_ends("error", error, "error"))
    _put(record, "exit_code", _exit_code(error, response))
    duration = payload.get("duration_ms")
    if (
        isinstance(duration, (int, float))
        and not isinstance(duration, bool)
        and duration == duration
    ):
        record["duration_ms"] = int(min(max(duration, 0), 1e12))
    printed = response_text(tool_name, response) or error
    _put(record, "output", printed and cut.text("output", printed, "output", tail=True))


def _commit(commit: dict[str, Any], cut: _Cutter) -> dict[str, Any]:
    """{sha, message, files, reverts} of a GitCommit, message redacted and cut."""
    files = [str(f) for f in commit.get("files") or ()]
    if len(files) > MAX_ITEMS * 2:
        cut.note("commit.files", len(files))
    clean: dict[str, Any] = {
        "sha": str(commit.get("sha") or ""),
        "message": cut.text("commit.message", str(commit.get("message") or ""), "commit"),
        "files": [cut.text("commit.files", f, "ident") for f in files[: MAX_ITEMS * 2]],
    }
    if commit.get("reverts"):
        clean["reverts"] = str(commit["reverts"])
    return clean


def build(
    event: str,
    payload: dict[str, Any],
    invalid: str | None = None,
    ts: str | None = None,
    scale: float = 1.0,
    commit: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The observation for one event, without `id`. `payload` may be empty (e.g. GitCommit)."""
    cut = _Cutter(scale)
    record: dict[str, Any] = {"v": VERSION, "ts": ts or now_iso(), "event": event}
    for name in ("session_id", "transcript_path", "cwd"):
        value = _string(payload.get(name))
        _put(record, name, value and cut.text(name, value, "ident"))
    _tool_fields(record, event, payload, cut)
    prompt = _string(payload.get("prompt")) if event == "UserPromptSubmit" else None
    _put(record, "prompt", prompt and cut.text("prompt", prompt, "prompt"))
    last = _string(payload.get("last_assistant_message"))
    _put(record, "last_message", last and cut.text("last_message", last, "last_message"))
    detail = _string(payload.get(DETAIL_FIELDS.get(event, "message")))
    _put(record, "detail", detail and cut.text("detail", detail, "detail"))
    if commit is not None:
        record["commit"] = _commit(commit, cut)
    _put(record, "truncated", cut.truncated)
    _put(record, "invalid", invalid)
    return record


def encode(record: dict[str, Any]) -> bytes:
    """One JSONL line. Lone surrogates (from broken input) become '?' instead of failing."""
    text = dumps(record, ensure_ascii=False)
    return (text + "\n").encode("utf-8", "replace")


def fit(
    event: str,
    payload: dict[str, Any],
    invalid: str | None = None,
    commit: dict[str, Any] | None = None,
    max_bytes: int = MAX_LINE_BYTES - 256,
) -> dict[str, Any]:
    """build(), shrunk until its line fits in max_bytes (room is left for the id)."""
    ts = now_iso()
    for scale in (1.0, 0.25, 0.05):
        record = build(event, payload, invalid, ts, scale, commit)
        if len(encode(record)) <= max_bytes:
            return record
    sizes = {key: _size(dumps(value, separators=(", ", ": "))) for key, value in record.items()}
    dropped: dict[str, int] = {}
    for key in ("tool_input", "prompt", "last_message", "output", "error", "detail", "commit"):
        if key in record and len(encode(record)) > max_bytes:
            record.pop(key)
            dropped[key] = sizes[key]
    record["truncated"] = dropped  # per-path notes may be what made it too large
    return record
