"""Immutable records shared across concerns: what the reader finds (signals, session reports) and
what the distiller keeps (lessons). Plain data only; behaviour lives in the modules that own it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

SIGNAL_KINDS = (
    "tool_error",  # a tool result that failed, not by the user's hand
    "test_failure",  # a test runner reported failing tests
    "interruption",  # the user interrupted the agent
    "rejection",  # the user rejected a tool use (detail: the reason they typed, if any)
    "correction",  # the user's typed message says the work was wrong, or redirects it
    "approval",  # the user's typed message approves the work
    "recovery",  # a failure later fixed by a success of the same intent
    "success",  # a check (tests, build, type check, lint) passed or a commit went in after changes
    "repeated_failure",  # the same failure several times in a row
    "commit",  # a commit was made (from the observation store)
    "revert",  # a commit reverted an earlier one (from the observation store)
)

OUTCOMES = ("positive", "negative", "mixed", "neutral")


@dataclass(frozen=True)
class Signal:
    """A success or failure signal, tied to the transcript entry (uuid) and session it came from."""

    kind: str
    file: str
    session_id: str
    uuid: str
    excerpt: str  # redacted, at most 300 characters
    timestamp: str | None = None
    category: str | None = None  # tool_error: command_failed, file_not_found, edit_mismatch, ...
    tool_name: str | None = None
    tool_use_id: str | None = None
    subject: str | None = None  # what was attempted: command, file path, edit target (redacted)
    detail: str | None = None  # error text, the user's words, or the fixing command (redacted)
    related_uuid: str | None = None  # recovery: the failure it fixes; correction: what it answers
    exit_code: int | None = None
    confidence: float = 1.0

    def to_json(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}


@dataclass(frozen=True)
class Use:
    """A command the session ran or a file it read, and when. Efficacy judges a session only by
    what it did after a lesson was published: a resumed session repeats its parent's entries,
    with their old timestamps."""

    subject: str
    timestamp: str | None = None


@dataclass(frozen=True)
class SessionReport:
    """What one transcript says: its signals and the outcome they add up to."""

    file: str
    session_id: str
    signals: tuple[Signal, ...]
    outcome: str  # one of OUTCOMES
    evidence: tuple[str, ...] = ()  # short reasons behind the outcome
    cwd: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    # The first user entry of the main chain: a resumed session's transcript begins with copies
    # of its parent's entries, so both begin with this one (all 14 resumed pairs in the corpus).
    root_uuid: str | None = None
    entries: int = 0
    version: str | None = None  # Claude Code version that wrote it
    commands: tuple[Use, ...] = ()  # Bash commands the session ran, in order (for efficacy)
    reads: tuple[Use, ...] = ()  # files the agent read with Read, in order (for efficacy)
    # Prompts typed after the agent worked that no cue labelled (kind "prompt", not a signal; the
    # detail holds the agent's last words). Wording rules miss corrections phrased without a cue
    # ("one banner per page"): the model backend reads these in context and may take them as such.
    # Kept only when asked for (`analyze(path, keep_open=True)`, a run that consults the model).
    open_prompts: tuple[Signal, ...] = ()


LESSON_KINDS = ("fact", "pitfall", "procedure", "preference")
LESSON_STATUSES = ("candidate", "active", "held", "retired", "rejected")


@dataclass(frozen=True)
class Evidence:
    """One piece of support for a lesson; counted once per session."""

    session_id: str
    uuid: str | None = None
    observation_id: str | None = None
    signal: str | None = None  # the signal kind behind it


@dataclass(frozen=True)
class Lesson:
    """A short, specific, validated lesson. `id` is stable under rewording (see lessons.py)."""

    id: str
    kind: str  # one of LESSON_KINDS
    trigger: str  # when it applies, e.g. "running this project's tests"
    action: str  # what to do, e.g. "use `python3 -m unittest discover -s tests`"
    scope: str = "project"  # "project" or "general"
    signal: str = ""  # the signal kind that produced it
    status: str = "candidate"  # one of LESSON_STATUSES
    confidence: float = 0.5
    evidence: tuple[Evidence, ...] = ()
    steps: tuple[str, ...] = ()  # procedures: ordered steps (published as a skill)
    sessions_seen: int = 0
    helped: int = 0  # later sessions where the targeted failure did not recur
    hurt: int = 0  # later sessions where it recurred despite the lesson
    hold_reason: str | None = None  # why it is held (safety gate, contradiction)
    source: str = "heuristic"  # "heuristic" or "llm"
    created_at: str = ""
    updated_at: str = ""
    published_at: str | None = None
    target: str | None = None  # signature of the failure it prevents (see efficacy.py)
    retire_reason: str | None = None

    def text(self) -> str:
        """The one-line form written into CLAUDE.md."""
        return f"{self.trigger.rstrip('.:')}: {self.action}"
