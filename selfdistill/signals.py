"""Signals from one Claude Code transcript: failures, interruptions, rejections, what the user
said about the work, failures that were later fixed, and checks that passed after a change.

One pass over the streamed entries. State kept while walking is bounded: tool calls waiting for
their result (removed when it arrives), the latest failure per intent (capped), and the context
the judge needs. Every signal names the entry (uuid) it came from.
"""

from __future__ import annotations

import re
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from selfdistill import judge as judging
from selfdistill.caseless import caseless
from selfdistill.intent import ERROR_WORDS, FILE_TOOLS, Attempt, fixes, shows_success, verified
from selfdistill.model import SessionReport, Signal, Use
from selfdistill.outcome import session_outcome
from selfdistill.redact import clip
from selfdistill.testout import clean, read_test_output
from selfdistill.transcript import Entry, ReadCounts, ToolResult, ToolUse, bound, iter_entries

EXCERPT_CHARS = 300
DETAIL_CHARS = 500
SUBJECT_CHARS = 300
ERROR_SUBJECT_CHARS = 120  # of a failed call's subject, in its excerpt
RECENT_ACTIONS = 12  # the agent's latest tool calls the judge may compare a prompt with
MAX_OPEN_PROMPTS = 20  # per transcript: the model backend reads only a few per session anyway
MAX_PENDING = 1000  # tool calls awaiting their result; the oldest are forgotten
MAX_OPEN_FAILURES = 200  # failures remembered for recovery; the oldest are forgotten
REPEAT_THRESHOLD = 2  # the same failure this many times in a row is a repeated failure
# A signal's stand-in uuid when its entry has none (its line number): another transcript's line
# of that number is another entry, so such a signal is never taken for a copy of it.
NO_UUID = "line-"

REJECTION_PREFIXES = (
    "The user doesn't want to proceed with this tool use",
    "The user doesn't want to take this action right now",
)
USER_SAID = "the user said:"
INTERRUPTED_TOOL = "Interrupted by user"  # what some tools (TodoWrite) return when stopped
# A file tool's error says what went wrong in its first line; what follows quotes the file or
# the edit ("String: ... timeout: 5000 ..."), which must not pick the category.
FIRST_LINE_TOOLS = FILE_TOOLS | {"Read"}

# (category, pattern) in order: the first that matches names the failure.
CATEGORIES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "hook_blocked",
        re.compile(
            r"hook (?:error|blocked|denied)|blocked by (?:a |the )?\w*\s*hook"
            r"|Pre\w*ToolUse:\w+ hook",
            re.I,
        ),
    ),
    (
        "permission",
        re.compile(
            r"Permission (?:for|to) .{0,80}(?:denied|has been denied)"
            r"|permission denied|requires approval|don't ask mode|\bEACCES\b"
            r"|Operation not permitted|not allowed to|haven't granted it yet"
            r"|(?:do not|don't) have permission",
            re.I,
        ),
    ),
    # Not a type or a call in a listing: "NodeJS.Timeout", "setTimeout(".
    ("timeout", re.compile(r"timed out|(?<![.\w])timeout(?:\b|Error)|ETIMEDOUT", re.I)),
    (
        "edit_mismatch",
        re.compile(
            r"String to replace not found|Found \d+ matches of the string"
            r"|old_string (?:not found|is not unique)|No changes to make",
            re.I,
        ),
    ),
    ("file_not_read", re.compile(r"File has not been read yet", re.I)),
    ("file_modified", re.compile(r"modified since (?:it was )?read|unexpectedly modified", re.I)),
    ("is_directory", re.compile(r"EISDIR|Is a directory", re.I)),
    (
        "file_not_found",
        re.compile(
            r"File does not exist|No such file or directory|ENOENT"
            r"|Directory does not exist|cannot access|Path does not exist",
            re.I,
        ),
    ),
    (
        "command_not_found",
        re.compile(
            # Not tsc's "error TS2307: Cannot find module './Card.vue'": a compile error.
            r"command not found|is not recognized as|No module named"
            r"|(?<!TS2307: )Cannot find module|executable file not found",
            re.I,
        ),
    ),
    (
        "tool_unavailable",
        re.compile(
            r"No such tool available|Unknown slash command|Unknown tool"
            r"|Server \"?\S+\"? not found|Agent type '[^']+' not found",
            re.I,
        ),
    ),
    # A file or an answer too big to read whole: the input was fine.
    ("too_large", re.compile(r"exceeds maximum allowed (?:tokens|size)", re.I)),
    (
        "input_invalid",
        re.compile(
            r"InputValidationError|Invalid tool parameters|exceeds maximum"
            r"|too large|is required but|validation failed",
            re.I,
        ),
    ),
    (
        "network",
        re.compile(
            r"ECONNREFUSED|ENOTFOUND|Could not resolve host|Connection refused"
            r"|network error|fetch failed",
            re.I,
        ),
    ),
)
# Searched over the lowercased output (every category pattern is case-blind).
CATEGORY_SCANS = tuple((name, caseless(pattern)) for name, pattern in CATEGORIES)
EXIT_CODE = re.compile(r"^\s*(?:Error: )?Exit code (-?\d+)")
TRACEBACK = "Traceback (most recent call last)"
RAISED = re.compile(r"[\w.]*(?:Error|Exception|Exit|Interrupt)\b")  # a traceback's last line
CODE_FRAME = re.compile(r"\d*\s*[|│╭╰]")  # "12 | from x import y", a rich frame's border
# Warnings and notices that tools print before the real error ("npm warn ...", astro's "If you
# see the error ... in your build output"): quoted only when nothing else was said.
NOTICE = re.compile(
    r"^(?:\S+ )?(?:npm |pnpm |yarn )?warn(?:ing)?\b|^<w>|^\(node:\d+\)|DeprecationWarning"
    r"|trace-deprecation|If you see the error|^⚡|^INFO\b|\s-\s+warning\b|^\d+:\d+\s+Warning:"
    r"|Reading inline script metadata",  # uv, before a hook script's own message
    re.I,
)
WEAK_ERROR_WORDS = re.compile(r"invalid|missing|warning|not |no ", re.I)
MAX_COMMANDS = 2000  # per session: bounds memory on very long sessions


@dataclass(frozen=True)
class OpenFailure:
    """A failure a later call of the same intent may fix."""

    signal: Signal
    attempt: Attempt
    seen_at: int  # tool calls issued when it came back: calls issued before ran alongside it


@dataclass
class AgentTurn:
    """What the agent said and did since the user's last prompt (the judge's context)."""

    last_text: str = ""
    last_uuid: str | None = None  # the agent's entry the user's next words answer
    acted: bool = False
    tools_failed: bool = False
    after_interruption: bool = False
    after_rejection: bool = False
    changed: bool = False  # the agent changed files in this turn
    actions: list[Attempt] = field(default_factory=list)

    def context(self) -> judging.PromptContext:
        return judging.PromptContext(
            last_assistant_text=self.last_text,
            agent_acted=self.acted,
            claimed_success=self.acted and judging.claims_success(self.last_text),
            asked_question=self.acted and judging.asks_question(self.last_text),
            made_offer=self.acted and judging.makes_offer(self.last_text),
            last_tools_failed=self.tools_failed,
            after_interruption=self.after_interruption,
            after_rejection=self.after_rejection,
            recent_actions=" ".join(f"{a.name} {a.subject}" for a in self.actions),
        )


@dataclass(frozen=True)
class TypedPrompt:
    """A prompt whose verdict waits for the start of the agent's answer to it."""

    entry: Entry
    text: str
    context: judging.PromptContext
    answers_uuid: str | None  # the agent's entry the prompt answers
    after_work: bool = False  # the agent changed files in the turn before, unstopped
    reading: str = ""  # the head of the agent's thinking about the prompt, when kept
    at: int = 0  # where its signal goes in walk.signals: signals stay in the order of entries


@dataclass
class Walk:
    """State of one pass over a transcript (private to `analyze`)."""

    file: str
    keep_open: bool = False  # keep open prompts (only the model backend reads them)
    signals: list[Signal] = field(default_factory=list)
    sessions: Counter[str] = field(default_factory=Counter)
    pending: dict[str, Attempt] = field(default_factory=dict)
    open_failures: OrderedDict[str, OpenFailure] = field(default_factory=OrderedDict)
    calls: int = 0  # tool calls issued so far
    changed: bool = False  # the agent changed files since its last check passed
    streaks: dict[str, tuple[str, int]] = field(default_factory=dict)
    turn: AgentTurn = field(default_factory=lambda: AgentTurn())
    last_interruption: Signal | None = None  # the user's last stop: an interruption or a rejection
    awaiting: TypedPrompt | None = None
    commands: list[Use] = field(default_factory=list)  # Bash commands run, for efficacy
    reads: list[Use] = field(default_factory=list)  # files read, for efficacy
    open_prompts: list[Signal] = field(default_factory=list)  # see SessionReport.open_prompts
    cwd: str | None = None
    version: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    root_uuid: str | None = None  # see SessionReport.root_uuid
    settled: int = 0  # turns of work the user moved on from


def analyze(path: Path, keep_open: bool = False) -> SessionReport:
    """Read one transcript and report its signals and outcome.

    `keep_open`: also keep the prompts no cue labelled (SessionReport.open_prompts). Only the
    model backend reads them, and redacting each costs time, so a run asks for them only when
    it will consult the model.
    """
    walk = Walk(file=str(path), keep_open=keep_open)
    counts = ReadCounts()
    for entry in iter_entries(path, counts):
        _note_metadata(walk, entry)
        _visit(walk, entry)
    _judge_prompt(walk, reply="")
    if _unstopped_work(walk.turn):
        walk.settled += 1
    session_id = walk.sessions.most_common(1)[0][0] if walk.sessions else path.stem
    signals = tuple(replace(s, session_id=session_id) for s in walk.signals)
    open_prompts = tuple(replace(s, session_id=session_id) for s in walk.open_prompts)
    outcome, evidence = session_outcome(signals, walk.started_at, walk.ended_at, walk.settled)
    return SessionReport(
        file=str(path),
        session_id=session_id,
        signals=signals,
        outcome=outcome,
        evidence=evidence,
        cwd=walk.cwd,
        started_at=walk.started_at,
        ended_at=walk.ended_at,
        root_uuid=walk.root_uuid,
        entries=counts.entries,
        version=walk.version,
        commands=tuple(walk.commands),
        reads=tuple(walk.reads),
        open_prompts=open_prompts,
    )


def analyze_many(paths: Iterable[Path]) -> Iterator[SessionReport]:
    for path in paths:
        yield analyze(path)


def _note_metadata(walk: Walk, entry: Entry) -> None:
    if entry.session_id and entry.type in ("user", "assistant"):
        walk.sessions[entry.session_id] += 1
    walk.cwd = walk.cwd or entry.cwd
    walk.version = entry.version or walk.version
    if entry.timestamp:
        walk.started_at = walk.started_at or entry.timestamp
        walk.ended_at = entry.timestamp
    if walk.root_uuid is None and entry.type == "user" and not entry.is_sidechain:
        walk.root_uuid = entry.uuid


def _visit(walk: Walk, entry: Entry) -> None:
    if entry.type == "assistant":
        _visit_assistant(walk, entry)
    elif entry.type == "user":
        for result in entry.tool_results:
            _visit_result(walk, entry, result)
        if not entry.tool_results:
            _visit_user_text(walk, entry)


# ---- the agent's turn ----


def _visit_assistant(walk: Walk, entry: Entry) -> None:
    walk.last_interruption = None  # the agent went on: a later marker is a new interruption
    uses = entry.tool_uses
    attempts = [_attempt(use, entry.uuid or "", walk.calls + k) for k, use in enumerate(uses)]
    walk.calls += len(uses)
    for use, attempt in zip(entry.tool_uses, attempts, strict=True):
        walk.pending[use.id] = attempt
        if use.name == "Bash" and len(walk.commands) < MAX_COMMANDS:
            walk.commands.append(Use(attempt.subject, entry.timestamp))
        elif use.name == "Read" and len(walk.reads) < MAX_COMMANDS:
            walk.reads.append(Use(attempt.subject, entry.timestamp))
    while len(walk.pending) > MAX_PENDING:  # calls whose result never came (a killed session)
        del walk.pending[next(iter(walk.pending))]
    if entry.is_sidechain:
        return  # a subagent's words are not what the user answers
    if walk.awaiting is not None and entry.thinking and not walk.awaiting.reading:
        walk.awaiting = replace(walk.awaiting, reading=entry.thinking)
    said = entry.text.strip()
    # The verdict waits for the agent's first words, not its first call: an answer that opens
    # with a tool call (a todo list, a read) says "You're right, ..." after it. On the labelled
    # transcript prompts, 49 of 145 corrections were answered by a call first; 6 of those open
    # their first words with such a concession, and 1 of the 426 other prompts does.
    if said:
        _judge_prompt(walk, reply=said)
    turn = walk.turn
    turn.acted = True
    turn.last_uuid = entry.uuid or turn.last_uuid
    turn.last_text = said or turn.last_text
    if attempts:
        turn.actions = (turn.actions + attempts)[-RECENT_ACTIONS:]


def _attempt(use: ToolUse, uuid: str, issued: int) -> Attempt:
    return Attempt(use.name, _subject(use), uuid, issued, use.input)


def _subject(use: ToolUse) -> str:
    data = use.input
    agent = data.get("subagent_type")
    if isinstance(agent, str) and agent:  # Task / Agent: which subagent, and what for
        return f"{agent}: {data.get('description') or ''}"[:SUBJECT_CHARS]
    for key in (
        "command",
        "file_path",
        "notebook_path",
        "path",
        "url",
        "pattern",
        "query",
        "description",
        "skill",
        "prompt",
        "shell_id",  # KillShell, BashOutput
        "server",  # MCP resource tools
    ):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:SUBJECT_CHARS]
    return use.name


# ---- tool results ----


def _visit_result(walk: Walk, entry: Entry, result: ToolResult) -> None:
    attempt = walk.pending.pop(result.tool_use_id, None) or Attempt("", "", "")
    text = result.text
    if text.lstrip().startswith(judging.INTERRUPT_MARKER) or (
        result.is_error
        and (f"\n{judging.INTERRUPT_MARKER}" in text[:400] or text.strip() == INTERRUPTED_TOOL)
    ):
        _add_interruption(walk, entry, attempt.subject, result.tool_use_id, attempt.name)
    elif result.is_error and text.lstrip().startswith(REJECTION_PREFIXES):
        _add_rejection(walk, entry, result, attempt)
    elif result.is_error:
        _add_failure(walk, entry, result, attempt)
    else:
        _visit_success(walk, entry, result, attempt)


def _add_interruption(
    walk: Walk, entry: Entry, subject: str, tool_use_id: str | None, tool: str | None
) -> None:
    # The marker often appears twice (in the tool result, then as a user line): the second
    # points at the first, so the outcome counts one interruption.
    previous = walk.last_interruption
    signal = _signal(
        walk,
        entry,
        "interruption",
        f"interrupted while running `{subject}`" if subject else "the user interrupted the agent",
        subject=subject or None,
        tool_use_id=tool_use_id or None,
        tool_name=tool or None,
        related_uuid=previous.uuid if previous else None,
    )
    walk.last_interruption = signal
    walk.turn.after_interruption = True


def _add_rejection(walk: Walk, entry: Entry, result: ToolResult, attempt: Attempt) -> None:
    reason = _rejection_reason(result.text)
    # Rejecting one of several calls cancels the others ("... take this action right now"): one
    # decision of the user's, so those point at the first, as does the marker line after it.
    previous = walk.last_interruption
    sibling = previous is not None and result.text.lstrip().startswith(REJECTION_PREFIXES[1])
    excerpt = f"rejected `{attempt.subject}`" + (f": {reason}" if reason else "")
    walk.last_interruption = _signal(
        walk,
        entry,
        "rejection",
        excerpt,
        subject=attempt.subject or None,
        detail=reason,
        tool_name=attempt.name or None,
        tool_use_id=result.tool_use_id,
        related_uuid=previous.uuid if sibling and previous else None,
    )
    if reason:  # what the user typed with a rejection is an explicit correction
        _signal(
            walk,
            entry,
            "correction",
            reason,
            subject=attempt.subject or None,
            detail=reason,
            tool_use_id=result.tool_use_id,
            confidence=0.95,
        )
    walk.turn.after_rejection = True
    walk.turn.acted = True


def _rejection_reason(text: str) -> str | None:
    at = text.find(USER_SAID)
    if at < 0:
        return None
    reason = text[at + len(USER_SAID) :].strip()
    return reason or None


def _add_failure(walk: Walk, entry: Entry, result: ToolResult, attempt: Attempt) -> None:
    walk.last_interruption = None
    text = result.text
    exit_code = _exit_code(text, entry)
    category = _category(text, exit_code, attempt.name)
    line = error_line(text)
    failure = _signal(
        walk,
        entry,
        "tool_error",
        # A long command would leave no room for its error in the excerpt.
        f"`{clip(attempt.subject, ERROR_SUBJECT_CHARS)}` failed: {line}"
        if attempt.subject
        else line,
        category=category,
        subject=attempt.subject or None,
        detail=line,
        exit_code=exit_code,
        tool_name=attempt.name or None,
        tool_use_id=result.tool_use_id,
    )
    if attempt.name == "Bash":
        _maybe_test_failure(walk, entry, result, attempt, only_failed=True)
    _remember_failure(walk, attempt, failure, line)
    walk.turn.tools_failed = True


def _visit_success(walk: Walk, entry: Entry, result: ToolResult, attempt: Attempt) -> None:
    walk.last_interruption = None
    if attempt.name == "Bash":
        run = _maybe_test_failure(walk, entry, result, attempt, only_failed=True)
        if run is not None:  # tests failed although the command exited 0 (e.g. piped to tail)
            return
    recovered = _maybe_recovery(walk, entry, result, attempt)
    if attempt.name in FILE_TOOLS:
        walk.changed = walk.turn.changed = True
    elif recovered:  # a check that passes after failing counts once, as the recovery
        walk.changed = walk.changed and attempt.name != "Bash"
    elif walk.changed:
        _maybe_success(walk, entry, result, attempt)


def _maybe_recovery(walk: Walk, entry: Entry, result: ToolResult, attempt: Attempt) -> bool:
    if not (walk.open_failures or walk.streaks) or not attempt.intent:
        return False
    waiting = attempt.intent in walk.open_failures or attempt.intent in walk.streaks
    if not waiting or not shows_success(attempt, result.text):
        return False
    walk.streaks.pop(attempt.intent, None)
    failure = walk.open_failures.get(attempt.intent)
    if failure is None or not fixes(failure.attempt, failure.seen_at, attempt):
        return False
    del walk.open_failures[attempt.intent]
    _add_recovery(walk, entry, attempt, failure.signal)
    return True


def _maybe_success(walk: Walk, entry: Entry, result: ToolResult, attempt: Attempt) -> None:
    """A check that passed, or a commit, after the agent changed files: the work holds up."""
    shown = verified(attempt, result.text)
    if shown is None:
        return
    walk.changed = False
    what = "committed" if shown == "commit" else "passed"
    _signal(
        walk,
        entry,
        "success",
        f"`{clip(attempt.subject, ERROR_SUBJECT_CHARS)}` {what} after the agent's changes",
        category=shown,
        subject=attempt.subject or None,
        tool_name=attempt.name,
        tool_use_id=result.tool_use_id,
    )


def _maybe_test_failure(
    walk: Walk, entry: Entry, result: ToolResult, attempt: Attempt, only_failed: bool
) -> Signal | None:
    run = read_test_output(result.text, failures_only=only_failed)
    if run is None or (only_failed and not run.failed):
        return None
    detail = run.summary + (f" (first: {run.first_failure})" if run.first_failure else "")
    signal = _signal(
        walk,
        entry,
        "test_failure",
        f"`{attempt.subject}`: {detail}",
        category=run.runner,
        subject=attempt.subject or None,
        detail=detail,
        exit_code=_exit_code(result.text, entry),
        tool_name=attempt.name or None,
        tool_use_id=result.tool_use_id,
    )
    _remember_failure(walk, attempt, signal, run.summary)
    return signal


def _remember_failure(walk: Walk, attempt: Attempt, failure: Signal, line: str) -> None:
    if not attempt.intent:
        return
    key = re.sub(r"\d+", "N", line)[:120]
    previous_key, count = walk.streaks.get(attempt.intent, ("", 0))
    count = count + 1 if previous_key == key else 1
    walk.streaks[attempt.intent] = (key, count)
    if count == REPEAT_THRESHOLD:
        _signal_like(walk, failure, "repeated_failure", f"failed {count} times in a row: {line}")
    if attempt.intent not in walk.open_failures:  # keep the first: the one a fix answers
        walk.open_failures[attempt.intent] = OpenFailure(failure, attempt, walk.calls)
    while len(walk.open_failures) > MAX_OPEN_FAILURES:
        walk.open_failures.popitem(last=False)


def _add_recovery(walk: Walk, entry: Entry, attempt: Attempt, failure: Signal) -> None:
    excerpt = (
        f"`{failure.subject}` failed ({failure.detail}); then `{attempt.subject}` succeeded"
        if failure.subject != attempt.subject
        else f"`{attempt.subject}` succeeded after failing ({failure.detail})"
    )
    _signal(
        walk,
        entry,
        "recovery",
        excerpt,
        category=failure.category,
        subject=attempt.subject or None,
        detail=attempt.subject or None,
        related_uuid=failure.uuid,
        tool_name=attempt.name or None,
    )


def _exit_code(text: str, entry: Entry) -> int | None:
    found = EXIT_CODE.match(text)
    if found:
        return int(found.group(1))
    code = entry.tool_use_result.get("exitCode", entry.tool_use_result.get("returnCode"))
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def _category(text: str, exit_code: int | None, tool: str) -> str:
    head = text.lstrip().split("\n", 1)[0] if tool in FIRST_LINE_TOOLS else text
    window = bound(head, 1500, 1500).lower()
    for name, pattern in CATEGORY_SCANS:
        if pattern.search(window):
            return name
    return "command_failed" if exit_code is not None or tool == "Bash" else "other"


def error_line(text: str) -> str:
    """The line of an error output most worth quoting: the first that names an error.

    Not a warning or a notice printed before it, not a code frame, and for a Python traceback
    its last line ("ModuleNotFoundError: No module named 'yaml'"), not its header.
    """
    plain = clean(text.replace("<tool_use_error>", "").replace("</tool_use_error>", ""))
    lines = [ln.strip() for ln in plain.splitlines()]
    lines = [
        ln
        for ln in lines
        if re.search(r"[A-Za-z]{2}", ln)
        and not EXIT_CODE.match(ln)
        and not ln.startswith(">")
        and not CODE_FRAME.match(ln)
    ]
    if TRACEBACK in plain:
        raised = [ln for ln in lines if RAISED.match(ln)]
        if raised:
            return raised[-1][:200]
    said = [ln for ln in lines if not NOTICE.search(ln)] or lines
    chosen = next(
        (ln for ln in said if ERROR_WORDS.search(ln)),
        next((ln for ln in said if WEAK_ERROR_WORDS.search(ln)), said[0] if said else ""),
    )
    return chosen[:200] or "(no error text)"


# ---- what the user typed ----


def _visit_user_text(walk: Walk, entry: Entry) -> None:
    text = entry.text
    if not entry.is_sidechain and judging.is_interruption_text(text):
        _judge_prompt(walk, reply="")
        _add_interruption(walk, entry, "", None, None)
        return
    prompt = judging.typed_prompt(entry)
    if prompt is None:
        return
    _judge_prompt(walk, reply="")  # the previous prompt got no answer in words
    walk.awaiting = TypedPrompt(
        entry,
        prompt,
        walk.turn.context(),
        walk.turn.last_uuid,
        _unstopped_work(walk.turn),
        at=len(walk.signals),
    )
    walk.last_interruption = None
    walk.turn = AgentTurn(last_text=walk.turn.last_text, last_uuid=walk.turn.last_uuid)


def _unstopped_work(turn: AgentTurn) -> bool:
    return turn.changed and not (turn.after_interruption or turn.after_rejection)


def _judge_prompt(walk: Walk, reply: str) -> None:
    """Judge the awaiting prompt, with how the agent began to answer it ("You're right, ...")."""
    typed, walk.awaiting = walk.awaiting, None
    if typed is None:
        return
    context = replace(typed.context, agent_reply=reply[:200], agent_reading=typed.reading)
    verdict = judging.judge(typed.text, context)
    if verdict.label == "other":
        walk.settled += typed.after_work
        _keep_open(walk, typed)
        return
    signal = _make_signal(
        walk,
        typed.entry,
        verdict.label,
        typed.text,
        detail=typed.text,
        related_uuid=typed.answers_uuid,
        confidence=verdict.confidence,
        category=verdict.reason[:100] or None,
    )
    # Before the signals of the calls the agent made ahead of its first words (the outcome
    # reads what came after a failure or an interruption in this order).
    walk.signals.insert(typed.at, signal)


def _keep_open(walk: Walk, typed: TypedPrompt) -> None:
    """Keep a prompt no cue labelled, after the agent worked, for the model backend to read."""
    full = len(walk.open_prompts) >= MAX_OPEN_PROMPTS
    if not walk.keep_open or not typed.context.agent_acted or full:
        return
    last_words = typed.context.last_assistant_text[-DETAIL_CHARS:]  # its claim or its question
    prompt = _make_signal(
        walk, typed.entry, "prompt", typed.text, detail=last_words, related_uuid=typed.answers_uuid
    )
    walk.open_prompts.append(prompt)


# ---- making signals ----


def _signal(
    walk: Walk, entry: Entry, kind: str, excerpt: str, **fields: str | int | float | None
) -> Signal:
    signal = _make_signal(walk, entry, kind, excerpt, **fields)
    walk.signals.append(signal)
    return signal


def _make_signal(
    walk: Walk, entry: Entry, kind: str, excerpt: str, **fields: str | int | float | None
) -> Signal:
    detail = fields.pop("detail", None)
    subject = fields.pop("subject", None)
    return Signal(
        kind=kind,
        file=walk.file,
        session_id=entry.session_id or "",
        uuid=entry.uuid or f"{NO_UUID}{entry.line_number}",
        excerpt=clip(excerpt, EXCERPT_CHARS),
        timestamp=entry.timestamp,
        subject=clip(str(subject), SUBJECT_CHARS) if subject else None,
        detail=clip(str(detail), DETAIL_CHARS) if detail else None,
        **fields,  # type: ignore[arg-type]
    )


def _signal_like(walk: Walk, base: Signal, kind: str, excerpt: str) -> None:
    walk.signals.append(replace(base, kind=kind, excerpt=clip(excerpt, EXCERPT_CHARS)))
