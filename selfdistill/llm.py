"""The optional model backend: lesson proposals from the Messages API, within hard limits.

Used only when the user enabled it and a key is present (the caller decides). Any failure gives
`ok=False` and the caller falls back to heuristics; nothing here raises for a model problem.

Limits, all enforced here:
- input: bounded and redacted (llm_prompt.py), at most MAX_CALLS_PER_RUN calls per run;
- output: explicit max_tokens, forced tool answer validated item by item against
  schemas/llm_output.schema.json; items citing evidence that was not in the input are dropped;
  a model that refuses a forced tool is asked once more without forcing (JSON text is parsed);
- time: a per-attempt timeout and one deadline for the whole run (timeout_s x (max_retries+1)),
  retries included, enforced by a watchdog as well: the SDK's timeout bounds each read only;
- retries: only for errors worth retrying (429, 408, 409, 5xx, connection, timeout), with
  backoff that honours retry-after but never outlives the deadline. The SDK's own retry loop
  is switched off because its wait after a retry-after header is unbounded;
- money: every attempt is priced (tokens x the model's price) against a per-run and a per-day
  budget. The day's ledger (state_dir/llm-ledger.json) is charged the worst case before the
  call, under a file lock, and settled to the real usage after it, so concurrent runs cannot
  overspend together. The stable start of each request is cached (see build_request): cache
  writes and reads are priced at their own rates, and the worst case assumes every input token
  is a cache write, the dearest kind;
- a circuit breaker (state_dir/llm-breaker.json): after BREAKER_THRESHOLD failed runs in a row,
  no call is made for BREAKER_COOLDOWN_S; the next run after that is a trial.

`anthropic` takes ~1.8 s to import: it is imported only when a call is really made.
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import random
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from selfdistill import llm_prompt
from selfdistill.logs import log_error
from selfdistill.model import Lesson, SessionReport

if TYPE_CHECKING:
    import anthropic
    from anthropic.types import Message
    from jsonschema.protocols import Validator

MAX_CALLS_PER_RUN = 3  # batches of sessions; a failed call ends the run
BREAKER_THRESHOLD = 3
BREAKER_COOLDOWN_S = 30 * 60
LEDGER_DAYS_KEPT = 31
LOCK_TIMEOUT_S = 10.0
MIN_ATTEMPT_S = 0.2  # an attempt with less time than this left cannot succeed: stop instead
OVERRUN_GRACE_S = 0.5  # beyond the deadline, before an attempt is abandoned (see within())
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 8.0
# Tokens from characters, for the worst-case estimate before a call. English and JSON average
# 3.5-4 characters a token; a lower figure overestimates, which is the safe side for a budget.
CHARS_PER_TOKEN = 3.0
RETRYABLE_STATUS = frozenset({408, 409, 429})

# USD per million tokens (input, output), matched on the longest prefix of the model name.
# From the published price list; unknown models get the dearest known price so a cap still holds.
PRICES: dict[str, tuple[float, float]] = {
    "claude-fable-5": (10.0, 50.0),
    "claude-mythos-5": (10.0, 50.0),
    "claude-opus-5-5": (4.0, 20.0),
    "claude-opus-5": (5.0, 25.0),
    "claude-opus-4-5": (5.0, 25.0),
    "claude-opus-4-6": (5.0, 25.0),
    "claude-opus-4-7": (5.0, 25.0),
    "claude-opus-4-8": (5.0, 25.0),
    "claude-opus-4": (15.0, 75.0),
    "claude-3-opus": (15.0, 75.0),
    "claude-sonnet-5": (2.0, 10.0),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-3-7-sonnet": (3.0, 15.0),
    "claude-3-5-sonnet": (3.0, 15.0),
    "claude-haiku-5-5": (0.5, 2.5),  # the long-prompt rate: the higher of its two
    "claude-haiku-4-5": (1.0, 5.0),
    "claude-3-5-haiku": (0.8, 4.0),
    "claude-3-haiku": (0.25, 1.25),
}
DEFAULT_PRICE = (15.0, 75.0)
CACHE_WRITE_FACTOR = 1.25  # 5-minute cache writes cost 1.25x the input price
CACHE_READ_FACTOR = 0.1  # cache hits cost at most 0.1x (less on some models: safe side)


@dataclass(frozen=True)
class LLMSettings:
    model: str
    api_key: str
    base_url: str | None
    max_tokens: int
    timeout_s: float  # per attempt; the whole run gets timeout_s * (max_retries + 1)
    max_retries: int
    run_budget_usd: float
    day_budget_usd: float


@dataclass(frozen=True)
class LLMOutcome:
    ok: bool  # False -> the caller falls back to heuristics
    items: tuple[dict[str, Any], ...]  # validated lesson proposals
    error: str | None
    calls: int  # requests sent, retries included
    input_tokens: int  # all input tokens, cached ones included
    output_tokens: int
    cost_usd: float
    rejected_items: int = 0  # proposals dropped: invalid, or citing evidence not given
    # Sessions with signals that the model did not see: the input is bounded, so with many new
    # sessions the ones with fewest failures are left out. The caller may keep them for next run.
    sessions_omitted: tuple[str, ...] = ()
    cache_write_tokens: int = 0  # of input_tokens: written to the prompt cache
    cache_read_tokens: int = 0  # of input_tokens: read from it


@dataclass(frozen=True)
class Usage:
    calls: int = 0
    input_tokens: int = 0  # all of them: cache writes and reads included
    output_tokens: int = 0
    cost_usd: float = 0.0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0

    def plus(self, other: Usage) -> Usage:
        return Usage(
            self.calls + other.calls,
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cost_usd + other.cost_usd,
            self.cache_write_tokens + other.cache_write_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
        )


@dataclass(frozen=True)
class CallResult:
    message: Message | None
    usage: Usage
    error: str | None


@dataclass(frozen=True)
class Limits:
    """What one run may still spend: the settings plus its deadline and the clock."""

    settings: LLMSettings
    state_dir: Path
    deadline: float  # time.monotonic() value
    clock: Callable[[], float]


def propose_lessons(
    reports: Sequence[SessionReport],
    existing: Sequence[Lesson],
    settings: LLMSettings,
    state_dir: Path,
    *,
    clock: Callable[[], float] = time.time,
) -> LLMOutcome:
    """Lesson proposals for these sessions; `ok=False` means: use the heuristics instead."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    opened_until = breaker_open_until(state_dir, clock())
    if opened_until is not None:
        return failed(f"circuit breaker open until {iso(opened_until)}", Usage())
    blocks = llm_prompt.session_blocks(reports)
    if not blocks:  # nothing to learn from: no call, and no failure either
        return succeeded((), None, Usage(), 0, ())
    batches = llm_prompt.pack(blocks, llm_prompt.BATCH_CHAR_BUDGET, MAX_CALLS_PER_RUN)
    deadline = time.monotonic() + settings.timeout_s * (settings.max_retries + 1)
    try:
        limits = Limits(settings, state_dir, deadline, clock)
        outcome = run_batches(batches, [block.session_id for block in blocks], existing, limits)
    except Exception as err:  # whatever breaks here, the run goes on with the heuristics
        log_error("llm: model backend failed", traceback.format_exc())
        outcome = failed(f"model backend error: {type(err).__name__}", Usage(calls=1))
    if outcome.calls:  # a refusal before any call says nothing about the service
        record_run(state_dir, outcome.ok, clock())
    return outcome


def failed(error: str, usage: Usage, rejected: int = 0) -> LLMOutcome:
    return outcome_of(False, (), error, usage, rejected, ())


def succeeded(
    items: Sequence[dict[str, Any]],
    error: str | None,
    usage: Usage,
    rejected: int,
    omitted: Sequence[str],
) -> LLMOutcome:
    return outcome_of(True, items, error, usage, rejected, omitted)


def outcome_of(
    ok: bool,
    items: Sequence[dict[str, Any]],
    error: str | None,
    usage: Usage,
    rejected: int,
    omitted: Sequence[str],
) -> LLMOutcome:
    return LLMOutcome(
        ok=ok,
        items=tuple(items),
        error=error,
        calls=usage.calls,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cost_usd=usage.cost_usd,
        rejected_items=rejected,
        sessions_omitted=tuple(omitted),
        cache_write_tokens=usage.cache_write_tokens,
        cache_read_tokens=usage.cache_read_tokens,
    )


def run_batches(
    batches: Sequence[Sequence[llm_prompt.SessionBlock]],
    sessions: Sequence[str],
    existing: Sequence[Lesson],
    limits: Limits,
) -> LLMOutcome:
    """One call per batch; later batches see earlier proposals, so they merge instead of repeat."""
    import anthropic

    schema = output_schema()
    validator = item_validator(schema)
    known = llm_prompt.known_lessons(existing)
    items: list[dict[str, Any]] = []
    usage, rejected, error = Usage(), 0, None
    sent: list[str] = []
    client = anthropic.Anthropic(
        api_key=limits.settings.api_key,
        base_url=limits.settings.base_url,
        timeout=limits.settings.timeout_s,
        max_retries=0,  # retries are ours, bounded by the deadline (see the module docstring)
    )
    try:
        for blocks in batches:
            message = llm_prompt.user_message(blocks, known, [as_known(item) for item in items])
            request = build_request(limits.settings, message, schema)
            result = call(client, request, limits, usage.cost_usd)
            usage = usage.plus(result.usage)
            error = result.error or answer_error(result.message)
            if error:
                break
            assert result.message is not None
            evidence = frozenset().union(*(block.evidence for block in blocks))
            kept, dropped = accept(result.message, evidence, validator)
            if kept is None:
                error = "malformed model answer"
                break
            items.extend(kept)
            rejected += dropped
            sent.extend(block.session_id for block in blocks)
    finally:
        client.close()
    if error and not sent:
        return failed(error, usage, rejected)
    answered = set(sent)
    omitted = [session for session in sessions if session not in answered]
    return succeeded(items, error, usage, rejected, omitted)


def as_known(item: dict[str, Any]) -> dict[str, str]:
    return llm_prompt.known_lesson(item["kind"], item["trigger"], item["action"], "proposed")


def build_request(
    settings: LLMSettings, message: tuple[str, str], schema: dict[str, Any]
) -> dict[str, Any]:
    """Stable text first, with a cache breakpoint after each stable part; the sessions after it.

    The API caches the request up to a breakpoint, in the order tools, system, messages. The
    tool and system prompt are the same for every run: a run within five minutes of another
    reads them from the cache even when the stored lessons changed in between. The stored
    lessons (the first part of the message) are the same for every call of a run. A prefix below
    the model's minimum cacheable length (512 to 4096 tokens) is simply not cached, at no extra
    cost. The default 5-minute cache only: its writes cost CACHE_WRITE_FACTOR, which the
    estimate before a call relies on (a 1-hour cache costs more to write).
    """
    stable, varying = message
    return {
        "model": settings.model,
        "max_tokens": settings.max_tokens,
        "system": [
            {
                "type": "text",
                "text": llm_prompt.SYSTEM_PROMPT,
                "cache_control": {"type": "ephemeral"},
            }
        ],
        "tools": [llm_prompt.tool_definition(schema)],
        "tool_choice": {"type": "tool", "name": llm_prompt.TOOL_NAME},
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": stable, "cache_control": {"type": "ephemeral"}},
                    {"type": "text", "text": varying},
                ],
            }
        ],
    }


# --- one call, with retries ------------------------------------------------------------------


def call(
    client: anthropic.Anthropic, request: dict[str, Any], limits: Limits, run_spent: float
) -> CallResult:
    """Attempts until an answer, a final error, the budget or the deadline; every attempt priced."""
    import anthropic

    settings = limits.settings
    estimate = estimate_cost(request, settings.model)
    usage = Usage()
    for attempt in range(settings.max_retries + 1):
        left = limits.deadline - time.monotonic()
        if left < MIN_ATTEMPT_S:
            return CallResult(None, usage, "model call deadline reached")
        if run_spent + usage.cost_usd + estimate > settings.run_budget_usd:
            return CallResult(None, usage, "run budget reached")
        day = utc_day(limits.clock())
        if not charge(limits.state_dir, day, estimate, settings.day_budget_usd):
            return CallResult(None, usage, "daily budget reached")
        create = functools.partial(
            client.messages.create, **request, timeout=min(settings.timeout_s, left)
        )
        try:
            message = within(left + OVERRUN_GRACE_S, create)
        except Overran:  # no time is left for a retry
            spent = input_cost(request, settings.model)
            settle(limits.state_dir, day, spent - estimate, Usage(1, 0, 0, spent))
            return CallResult(None, usage.plus(Usage(1, 0, 0, spent)), "model call timed out")
        except anthropic.APIError as err:
            # A timed-out request may still have been processed and billed: charge its input.
            spent = input_cost(request, settings.model) if timed_out(err) else 0.0
            settle(limits.state_dir, day, spent - estimate, Usage(1, 0, 0, spent))
            usage = usage.plus(Usage(1, 0, 0, spent))
            wait = retry_wait(err, attempt)
            if forcing_refused(err, request):  # the prompt asks for the tool; text is parsed too
                request, wait = {**request, "tool_choice": {"type": "auto"}}, 0.0
            last = attempt == settings.max_retries
            if last or wait is None or time.monotonic() + wait + MIN_ATTEMPT_S > limits.deadline:
                return CallResult(None, usage, describe(err))
            time.sleep(wait)
            continue
        except Exception as err:  # a 200 whose body is no message (a proxy, an SDK mismatch)
            unknown = Usage(1, 0, 0, estimate)  # what it cost is unknown: keep the worst case
            settle(limits.state_dir, day, 0.0, unknown)
            return CallResult(None, usage.plus(unknown), f"unreadable answer: {type(err).__name__}")
        billed = priced(message, settings.model, estimate)
        settle(limits.state_dir, day, billed.cost_usd - estimate, billed)
        return CallResult(message, usage.plus(billed), None)
    return CallResult(None, usage, "model call failed")  # not reached: the last attempt returns


class Overran(Exception):
    """An attempt outlived the deadline and was abandoned."""


def within(seconds: float, work: Callable[[], Message]) -> Message:
    """work() in a daemon thread, waited for at most `seconds`, else Overran.

    The SDK's timeout bounds each network read, not the whole answer: a server that trickles
    its bytes could hold the run for ever. The abandoned thread dies with the process (the
    distiller is short-lived) or when run_batches closes the client under it.
    """
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = work()
        except BaseException as err:  # handed to the caller's thread as it is
            box["error"] = err

    thread = threading.Thread(target=run, name="selfdistill-llm-call", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise Overran()
    if "error" in box:
        raise box["error"]
    message: Message = box["value"]
    return message


def forcing_refused(err: Exception, request: dict[str, Any]) -> bool:
    """A 400 about tool_choice: some models (with thinking always on) refuse a forced tool."""
    import anthropic

    return (
        isinstance(err, anthropic.BadRequestError)
        and "tool_choice" in str(err)
        and request["tool_choice"]["type"] != "auto"
    )


def timed_out(err: Exception) -> bool:
    import anthropic

    return isinstance(err, anthropic.APITimeoutError)


def retry_wait(err: Exception, attempt: int) -> float | None:
    """Seconds to wait before retrying, or None when a retry cannot help (400, 401, 404...)."""
    import anthropic

    if isinstance(err, anthropic.APIStatusError):
        hint = err.response.headers.get("x-should-retry")
        if hint == "false" or (
            hint != "true" and err.status_code not in RETRYABLE_STATUS and err.status_code < 500
        ):
            return None
        asked = retry_after(err.response.headers)
        if asked is not None:
            return asked
    elif not isinstance(err, anthropic.APIConnectionError):  # timeouts are connection errors
        return None
    backoff = min(BACKOFF_FIRST_S * 2.0**attempt, BACKOFF_MAX_S)
    return backoff * (1 - 0.25 * random.random())  # jitter: concurrent runs do not align


def retry_after(headers: Any) -> float | None:
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            return max(0.0, float(headers.get(name)) * scale)
        except (TypeError, ValueError):
            continue
    return None


def describe(err: Exception) -> str:
    import anthropic

    if isinstance(err, anthropic.APITimeoutError):
        return "model call timed out"
    if isinstance(err, anthropic.APIStatusError):
        return f"model call failed: HTTP {err.status_code}"
    if isinstance(err, anthropic.APIConnectionError):
        return "model unreachable"
    return f"model call failed: {type(err).__name__}"


# --- the answer --------------------------------------------------------------------------------


def answer_error(message: Message | None) -> str | None:
    if message is None:
        return "no answer"
    if message.stop_reason == "refusal":
        return "the model refused"
    return None


def answer_items(message: Message) -> list[Any] | None:
    """The proposed items: the tool input, else JSON in the text; None when there is neither."""
    content = getattr(message, "content", None)
    if not isinstance(content, list):
        return None
    for block in content:
        if getattr(block, "type", None) == "tool_use" and block.name == llm_prompt.TOOL_NAME:
            lessons = block.input.get("lessons") if isinstance(block.input, dict) else None
            return lessons if isinstance(lessons, list) else None
    text = "".join(block.text for block in content if getattr(block, "type", None) == "text")
    return items_from_text(text)


def items_from_text(text: str) -> list[Any] | None:
    """`{"lessons": [...]}` in text; from a cut-off answer, the items that are complete."""
    start = text.find("{")
    try:
        whole = json.loads(text[start : text.rfind("}") + 1]) if start >= 0 else None
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, dict):
        lessons = whole.get("lessons")
        return lessons if isinstance(lessons, list) else None
    return salvage(text)


def salvage(text: str) -> list[Any] | None:
    key = text.find('"lessons"')
    position = text.find("[", key) + 1 if key >= 0 else 0
    if position <= 0:
        return None
    decoder = json.JSONDecoder()
    found: list[Any] = []
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        try:
            item, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            break
        found.append(item)
    return found or None


def accept(
    message: Message, evidence: frozenset[tuple[str, str]], validator: Validator
) -> tuple[list[dict[str, Any]] | None, int]:
    """(kept items, dropped count); kept is None when the answer holds no list at all."""
    proposed = answer_items(message)
    if proposed is None:
        return None, 0
    kept = [normalized(item) for item in proposed if valid(item, evidence, validator)]
    return kept, len(proposed) - len(kept)


def valid(item: Any, evidence: frozenset[tuple[str, str]], validator: Validator) -> bool:
    if not validator.is_valid(item):
        return False
    cited = {(e["session_id"], e["uuid"]) for e in item["evidence"]}
    return cited <= evidence  # an item citing what it was not given is made up: drop it whole


def normalized(item: dict[str, Any]) -> dict[str, Any]:
    """Only the fields of the schema, strings trimmed, evidence deduplicated in order. A trigger
    and an action are one line each, as every listing and CLAUDE.md show them."""
    cited = dict.fromkeys((e["session_id"], e["uuid"]) for e in item["evidence"])
    out: dict[str, Any] = {
        "kind": item["kind"],
        "trigger": " ".join(item["trigger"].split()),
        "action": " ".join(item["action"].split()),
        "scope": item["scope"],
        "confidence": float(item["confidence"]),
        "evidence": [{"session_id": s, "uuid": u} for s, u in cited],
    }
    if item.get("steps"):
        out["steps"] = [step.strip() for step in item["steps"]]
    if item.get("rationale"):
        out["rationale"] = item["rationale"].strip()
    return out


def output_schema() -> dict[str, Any]:
    """schemas/llm_output.schema.json, checked against its metaschema by the shared loader."""
    from selfdistill import schemas

    loaded = schemas.validator("llm_output").schema
    assert isinstance(loaded, dict)  # the file is an object schema
    return loaded


def item_validator(schema: dict[str, Any]) -> Validator:
    """Validates one proposal: items are judged one by one, so one bad item costs only itself."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema["properties"]["lessons"]["items"])


# --- money -------------------------------------------------------------------------------------


def price(model: str) -> tuple[float, float]:
    matches = [prefix for prefix in PRICES if model.startswith(prefix)]
    return PRICES[max(matches, key=len)] if matches else DEFAULT_PRICE


def request_tokens(request: dict[str, Any]) -> int:
    return int(len(json.dumps(request, ensure_ascii=False)) / CHARS_PER_TOKEN) + 1


def input_cost(request: dict[str, Any], model: str) -> float:
    """The input at the cache-write rate, the dearest an input token can be."""
    return request_tokens(request) * price(model)[0] * CACHE_WRITE_FACTOR / 1e6


def estimate_cost(request: dict[str, Any], model: str) -> float:
    """The most one attempt can cost: its whole input, and max_tokens of output."""
    output_tokens = int(request["max_tokens"])
    return input_cost(request, model) + output_tokens * price(model)[1] / 1e6


def priced(message: Message, model: str, estimate: float) -> Usage:
    """What the answer cost from its usage; the estimate when it reports none.

    The API's input_tokens counts only the tokens after the last cache breakpoint: the
    request's input is the sum of the three counts, each at its own rate.
    """
    usage = getattr(message, "usage", None)
    if usage is None or not isinstance(usage.input_tokens, int):
        return Usage(1, 0, 0, estimate)
    written = usage.cache_creation_input_tokens or 0
    read = usage.cache_read_input_tokens or 0
    per_in, per_out = price(model)
    cost = (
        usage.input_tokens * per_in
        + written * per_in * CACHE_WRITE_FACTOR
        + read * per_in * CACHE_READ_FACTOR
        + usage.output_tokens * per_out
    ) / 1e6
    return Usage(1, usage.input_tokens + written + read, usage.output_tokens, cost, written, read)


def utc_day(now: float) -> str:
    return datetime.datetime.fromtimestamp(now, tz=datetime.timezone.utc).date().isoformat()


def iso(now: float) -> str:
    moment = datetime.datetime.fromtimestamp(now, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def ledger_path(state_dir: Path) -> Path:
    return state_dir / "llm-ledger.json"


def ledger_days(state_dir: Path) -> dict[str, dict[str, Any]]:
    """{UTC day: {cost_usd, calls, input_tokens, output_tokens}}; unreadable parts are skipped."""
    days = read_json(ledger_path(state_dir)).get("days")
    if not isinstance(days, dict):
        return {}
    return {str(day): entry for day, entry in days.items() if isinstance(entry, dict)}


def spent_on(state_dir: Path, day: str) -> float:
    """What that UTC day's calls cost (reservations of calls in flight included)."""
    return float(ledger_days(state_dir).get(day, {}).get("cost_usd", 0.0))


def charge(state_dir: Path, day: str, amount: float, limit: float) -> bool:
    """Reserves `amount` for the day; False, with nothing charged, if it would pass `limit`."""
    return update_ledger(state_dir, day, amount, Usage(), limit)


def settle(state_dir: Path, day: str, correction: float, usage: Usage) -> None:
    """Replaces the reservation by what the attempt really cost, and counts its tokens."""
    update_ledger(state_dir, day, correction, usage, None)


def update_ledger(
    state_dir: Path, day: str, amount: float, usage: Usage, limit: float | None
) -> bool:
    import filelock

    lock = filelock.FileLock(str(state_dir / "llm-ledger.lock"), timeout=LOCK_TIMEOUT_S, mode=0o600)
    with lock:
        days = ledger_days(state_dir)
        entry = dict(days.get(day, {}))
        spent = float(entry.get("cost_usd", 0.0))
        if limit is not None and spent + amount > limit:
            return False
        entry["cost_usd"] = round(max(0.0, spent + amount), 8)
        for key, value in (
            ("calls", usage.calls),
            ("input_tokens", usage.input_tokens),
            ("output_tokens", usage.output_tokens),
        ):
            entry[key] = int(entry.get(key, 0)) + value
        kept = dict(sorted({**days, day: entry}.items())[-LEDGER_DAYS_KEPT:])
        write_json(ledger_path(state_dir), {"version": 1, "days": kept})
    return True


# --- the circuit breaker -----------------------------------------------------------------------


def breaker_path(state_dir: Path) -> Path:
    return state_dir / "llm-breaker.json"


def breaker_open_until(state_dir: Path, now: float) -> float | None:
    state = read_json(breaker_path(state_dir))
    until = state.get("open_until")
    return float(until) if isinstance(until, (int, float)) and until > now else None


def record_run(state_dir: Path, ok: bool, now: float) -> None:
    """Success closes the breaker; the Nth failure in a row (or a failed trial) opens it."""
    failures = 0 if ok else int(read_json(breaker_path(state_dir)).get("failures", 0)) + 1
    state: dict[str, Any] = {"failures": failures}
    if failures >= BREAKER_THRESHOLD:
        state["open_until"] = now + BREAKER_COOLDOWN_S
    write_json(breaker_path(state_dir), state)


# --- files -------------------------------------------------------------------------------------


def read_json(path: Path) -> dict[str, Any]:
    """The object in the file; {} when it is missing or unreadable (a fresh start, not a crash)."""
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def write_json(path: Path, value: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(value, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
