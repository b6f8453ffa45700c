"""What a tool call tries to do, and whether a later call that worked fixed an earlier failure.

A failing `python3 -m pytest` and a passing `python3 -m unittest discover` both run the tests; an
Edit whose old text did not match and the retry that did make one change to one file. Such pairs
are recoveries. Many pairs with the same intent are not: a call issued alongside the failing one,
another edit of the same file, a rerun piped into grep, an `--abort`, a command sent to the
background. The rules below were checked against every recovery in the corpus, read by hand.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import cached_property
from typing import Any

from selfdistill.testout import is_test_command
from selfdistill.transcript import EMPTY

# Programs whose first argument is a subcommand: `git push` failing then `git push -u origin x`
# succeeding is one intent. Other commands count as the same intent only when identical.
SUBCOMMAND_PROGRAMS = frozenset(
    {
        "git",
        "npm",
        "pnpm",
        "yarn",
        "bun",
        "cargo",
        "go",
        "pip",
        "pip3",
        "uv",
        "poetry",
        "docker",
        "make",
        "gh",
        "kubectl",
        "terraform",
        "brew",
        "apt",
        "apt-get",
        "dotnet",
        "mvn",
        "gradle",
        "wrangler",
        "vercel",
        "supabase",
        "convex",
        "prisma",
        "alembic",
        "flask",
        "django-admin",
    }
)
# Subcommands with subcommands of their own: `git worktree add` and `git worktree list`, or
# `wrangler pages deploy` and `wrangler pages project create`, are different things to do.
NESTED_SUBCOMMANDS = frozenset(
    {
        "worktree",
        "stash",
        "remote",
        "submodule",
        "checkout",
        "switch",
        "pages",
        "kv",
        "d1",
        "r2",
        "secret",
        "pr",
        "issue",
        "repo",
        "release",
        "workflow",
        "compose",
        "volume",
        "network",
        "image",
        "container",
        "migrate",
    }
)
FILE_TOOLS = frozenset({"Edit", "MultiEdit", "Write", "NotebookEdit"})
COMMAND_PREFIX = re.compile(
    r"^(?:cd\s+(?:\"[^\"]*\"|'[^']*'|\S+)\s*(?:&&|;)\s*|(?:\w+=\S*\s+)+|sudo\s+|time\s+"
    r"|timeout\s+\S+\s+|npx\s+|bunx\s+|(?:uv|poetry|pipenv|pdm|hatch)\s+run\s+"
    r"|source\s+\S+\s*(?:&&|;)\s*)+"
)
# Redirections and pagers change nothing about what a command tries to do.
OUTPUT_PLUMBING = re.compile(
    r"\s*(?:2>&1|2>/dev/null|>\s*/dev/null)|\s*\|\s*(?:head|tail|grep)\b.*$"
)
# A build or check script, not a word inside a script's name (`pages:build` is its own script).
CHECK_WORDS = re.compile(
    r"(?<![\w:.-])(build|typecheck|type-check|tsc|lint|eslint|mypy|ruff|compile|check)\b"
)
# The exit status of `cmd | tail` or `cmd || true` is not cmd's: such a run shows that cmd worked
# only when its output carries no error.
MASKED_STATUS = re.compile(r"\|\s*(?:head|tail|grep)\b|\|\|\s*(?:true|echo|:)")
FILTERED = re.compile(r"\|\s*grep\b")  # shows only the lines asked for: not whether cmd worked
ERROR_WORDS = re.compile(
    r"error|fail|not found|denied|cannot|can't|unable|exception|no such|refused|fatal|traceback"
    r"|timed out",
    re.I,
)
# What a call that worked can show about the agent's changes: the tests, the build, a type check
# or a linter passed (command_intent's names for them), or a commit went in (git's own summary
# line, "[main 1a2b3c4] message", so a commit that did nothing is not one).
CHECKS = frozenset(
    {"test", "build", "typecheck", "tsc", "lint", "eslint", "mypy", "ruff", "compile", "check"}
)
COMMITTED = re.compile(r"^\[[^\]\n]+ [0-9a-f]{7,40}\] ", re.M)
# Output piped through a filter (`tsc | grep Card`, `| wc -l`) passes only when nothing is left.
NARROWED = re.compile(r"(?<!\|)\|(?!\|)\s*(?!head\b|tail\b)\w")
ABANDONS = re.compile(r"\s--(?:abort|quit)\b")  # `git rebase --abort` gives up, fixes nothing
BACKGROUND = "Command running in background"
SIGNIFICANT_LINE = 10  # characters: shorter lines ("}", "return x") are shared by chance
SIMILAR = 0.6  # difflib ratio above which two small edits' new texts say the same thing
SMALL_EDIT = 300  # characters: longer edits are compared by their lines, which is cheaper


@dataclass(frozen=True)
class Attempt:
    """A tool call, as much as later signals need of it."""

    name: str
    subject: str
    uuid: str
    issued: int = 0  # how many tool calls the transcript had issued before this one
    # Bounded by the reader; edits are compared by it.
    input: Mapping[str, Any] = field(default_factory=lambda: EMPTY)

    @cached_property
    def intent(self) -> str:
        """Worked out only when a failure or a possible fix needs it (most calls never do)."""
        return _intent(self.name, self.subject) if self.name else ""


def shows_success(attempt: Attempt, output: str) -> bool:
    """Whether a call that did not fail shows that what it tried to do worked."""
    if BACKGROUND in output[:100] or ABANDONS.search(attempt.subject):
        return False
    # `tsc | grep Card` exits 0 with the errors still in its output.
    return not (MASKED_STATUS.search(attempt.subject) and ERROR_WORDS.search(output))


def verified(attempt: Attempt, output: str) -> str | None:
    """What a shell call that worked shows: "commit", a check that passed ("test", "build", ...),
    or None. Only asked of a success after the agent changed files."""
    if attempt.name != "Bash":
        return None
    if "commit" in attempt.subject and COMMITTED.search(output):
        return "commit"
    check = attempt.intent.removeprefix("bash:")
    if check not in CHECKS:
        return None
    if NARROWED.search(attempt.subject):
        return check if not output.strip() else None
    return check if shows_success(attempt, output) else None


def fixes(failed: Attempt, failed_seen_at: int, fixed: Attempt) -> bool:
    """Whether `fixed`, a success with the intent of `failed`, is the fix of that failure.

    `failed_seen_at`: how many calls were issued when the failure came back. A call issued
    before that ran alongside the failing one and cannot answer it.
    """
    if fixed.issued < failed_seen_at:
        return False
    if FILTERED.search(fixed.subject) and not FILTERED.search(failed.subject):
        return False  # `pnpm test | grep PASS` after `pnpm test` failed: narrowed, not fixed
    return fixed.name not in FILE_TOOLS or same_change(failed, fixed)


def same_change(failed: Attempt, fixed: Attempt) -> bool:
    """Two edits of one file make the same change: the retry of a failed edit, not another edit.

    The retry writes the same or a similar text, keeps most of what the failed edit wanted to
    add, or replaces some of the same lines. A Write replaces the whole file: it answers any
    edit of it.
    """
    if "Write" in (failed.name, fixed.name):
        return True
    old_failed, new_failed = _edit_text(failed.input)
    old_fixed, new_fixed = _edit_text(fixed.input)
    if new_failed.strip() == new_fixed.strip() or _lines(old_failed) & _lines(old_fixed):
        return True
    wanted = _lines(new_failed) - _lines(old_failed)
    if wanted and 2 * len(wanted & _lines(new_fixed)) >= len(wanted):
        return True
    # "tools: [Read, Write]" retried as "tools: Read, Write": a small edit, reworded.
    if max(len(new_failed), len(new_fixed)) > SMALL_EDIT:
        return False
    similar = SequenceMatcher(None, new_failed, new_fixed, autojunk=False)
    return similar.quick_ratio() >= SIMILAR and similar.ratio() >= SIMILAR


def _edit_text(data: Mapping[str, Any]) -> tuple[str, str]:
    """The text an edit replaces and the text it writes, whichever edit tool it was."""
    edits = data.get("edits")
    parts = [e for e in edits if isinstance(e, Mapping)] if isinstance(edits, list) else [data]
    old = "\n".join(str(e.get("old_string") or "") for e in parts)
    new = "\n".join(str(e.get("new_string") or e.get("new_source") or "") for e in parts)
    return old, new


def _lines(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines() if len(line.strip()) >= SIGNIFICANT_LINE}


def _intent(tool: str, subject: str) -> str:
    if tool == "Bash":
        return command_intent(subject)
    if tool in FILE_TOOLS:
        return f"edit:{subject}"
    if tool == "Read":  # reading cli.py, not found, then src/cli.py: the same file looked for
        return f"read:{subject.rstrip('/').rsplit('/', 1)[-1]}"
    return f"{tool}:{subject}"


def command_intent(command: str) -> str:
    """What a shell command tries to do: run the tests, build, or this program's subcommand."""
    line = COMMAND_PREFIX.sub("", command.strip().splitlines()[0] if command.strip() else "")
    line = OUTPUT_PLUMBING.sub("", line).strip()
    if is_test_command(command):
        return "bash:test"
    check = CHECK_WORDS.search(" ".join(line.split()[:3]))  # the program or its subcommand
    if check:
        return f"bash:{check.group(1).replace('type-check', 'typecheck')}"
    words = [w for w in line.split() if not w.startswith("-")]
    if words and re.match(r"python\d?(?:\.\d+)?$", words[0]) and " -m " in f" {line} ":
        return "bash:python -m " + line.split(" -m ", 1)[1].split()[0]
    if words and words[0] in SUBCOMMAND_PROGRAMS:
        nested = len(words) > 2 and words[1] in NESTED_SUBCOMMANDS
        return "bash:" + " ".join(words[: 3 if nested else 2])
    return "bash:" + " ".join(line.split())
