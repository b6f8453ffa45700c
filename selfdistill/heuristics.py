"""Signals -> candidate lessons, without a model. Strict on purpose: no lesson beats a noisy lesson.

What is kept, and why it is worth an agent's context:
- a failing command later fixed by a related command, when the failure is about the environment or
  the tooling (a missing program or module, a flag the tool demands, a blocked or denied action,
  a git identity...): that is a fact about this project the agent would otherwise rediscover.
  Failures of the code being written (type errors, failing assertions) are not lessons: they are the
  work itself.
- the same environment failure repeated with no fix: what to check before running it again.
- a command a hook blocks, retried or done another way: that the hook blocks it here. Never the
  other way: a hook is the user's safety rule, and a lesson must not teach the agent around it.
- a rejected tool use with the reason the user typed: the user's preference, in their words.
- a tool use rejected without a reason: to ask first. Merged across sessions by what was rejected
  (a program and its subcommand, a package script, a project file), it becomes active only once the
  user has stopped the same thing in `minSessions` sessions.
- a correction that states a concrete rule ("use X, not Y", "never X", "X should be in Y").
- what other tools found about the project: a file too large for one Read, a file a hook keeps
  the agent from reading or writing, a subagent, MCP server or slash command it reached for and
  this project lacks. Not the agent's own slips (a guessed path, a stale edit): the next session
  guesses differently, and a "does not exist" fact goes stale the day the file is created.
Everything else (generic advice, raw error text, one-off task instructions) is dropped.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePosixPath

from selfdistill.intent import FILE_TOOLS
from selfdistill.lessons import cap_evidence, new_lesson, tokens
from selfdistill.model import Evidence, Lesson, SessionReport, Signal
from selfdistill.transcript import Entry

MAX_COMMAND = 120
MAX_CAUSE = 110
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|\[[0-9;]*m")

# Failure causes that say something about the environment or the tools, by class. Order matters:
# the first class whose pattern matches a line of the error text names the cause.
CAUSES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "not-installed",
        re.compile(
            r"command not found|: not found$|is not recognized as|"
            r"no such file or directory.*\b(bin|exec)|executable .*not found|"
            r"could not determine executable",
            re.I,
        ),
    ),
    (
        "missing-module",
        re.compile(
            r"no module named|modulenotfounderror|cannot find module|"
            r"cannot find dependency|missing dependency|"
            r"cannot find package|package .* not found|not installed",
            re.I,
        ),
    ),
    (
        "blocked",
        re.compile(
            r"blocked|hook error|denied by|not allowed|permission denied|"
            r"permission to .* denied|operation not permitted",
            re.I,
        ),
    ),
    (
        "usage",
        re.compile(
            r"requires confirmation|use option|unknown option|unrecognized (argument|"
            r"option)|invalid option|illegal option|unknown (flag|command|argument)|"
            r"no such (option|command)|requires (an |a )?(argument|flag|--)|"
            r"non-interactive|must specify",
            re.I,
        ),
    ),
    (
        "git-setup",
        re.compile(
            r"author identity unknown|not a git repository|already used by "
            r"worktree|sparse-checkout|no upstream branch|"
            r"has no upstream|refusing to merge unrelated",
            re.I,
        ),
    ),
    ("port", re.compile(r"address already in use|eaddrinuse|port \d+ is (already )?in use", re.I)),
    ("timeout", re.compile(r"timed out|timeout after", re.I)),
    ("no-tests", re.compile(r"no tests (ran|collected|found)|no test files", re.I)),
)

CHECK_FIRST = {
    "not-installed": "whether the program is installed here (`command -v` it) and use what is",
    "missing-module": "that the dependencies are installed in the environment the command uses",
    "blocked": "what blocks it (file permissions, or a rule of the user's: then ask them)",
    "usage": "the tool's --help for the flags it requires",
    "git-setup": "the repository's git setup (`git status`, `git config`, `git worktree list`)",
    "port": "which process holds the port before starting another server",
    "timeout": "whether it waits for input or never exits; run it non-interactively or in the "
    "background",
    "no-tests": "the test runner's discovery settings (test paths, file patterns)",
}

RUNNERS = (
    "npx",
    "bunx",
    "pnpx",
    "uvx",
    "uv run",
    "poetry run",
    "pnpm exec",
    "pnpm dlx",
    "bun x",
    "bun run",
    "npm run",
    "pnpm run",
    "yarn run",
    "python -m",
    "python3 -m",
)
SHELL_NOISE = re.compile(
    r"<<|\bfor\b.*\bdo\b|\bwhile\b.*\bdo\b|\bif \[|\$\(|`|\bssh\b|\bsudo\b|&&|\|\||;|\|"
)
# Tools whose first argument is a subcommand: `git worktree` and `git commit` are different tools.
SUBCOMMAND_TEXT = (
    "git gh npm pnpm yarn bun uv cargo docker kubectl go pip pip3 poetry wrangler vercel "
    "supabase convex terraform helm brew apt apt-get flutter dart dotnet mvn gradle make"
)
SUBCOMMANDS = frozenset(SUBCOMMAND_TEXT.split())
# Commands that put something in place for the next attempt: installs and setup.
SETUP = re.compile(
    r"^(pip3?|uv( pip)?|poetry|pipx|npm|pnpm|yarn|bun|brew|apt(-get)?|cargo|go|gem|conda)\s+"
    r"(install|add|i|sync|get|ci)\b|^(npm|pnpm|yarn|bun)$|^git config\b|^chmod\b|^gh auth\b|"
    r"^(source|\.) \S+$|^export \w+="
)
LOOKAHEAD = 6
# "PreToolUse:Bash hook error: [uv run ~/.claude/hooks/pre_tool_use.py]: " before a hook's message
HOOK_FACT = "a hook in this project blocks it ({}); follow what the hook says, or ask the user"
HOOK_RULE_FACT = (
    "a hook in this project blocks some ({said}), `{path}` for one; follow what the hook says, "
    "or ask the user"
)
# What a lesson's target ends with when it watches something other than a command's failure
# (efficacy.py): the signal that would show the lesson did not help.
TOO_LARGE, HOOK_RULE, MISSING, REJECTED = "|too-large", "|hook-rule", "|missing", "|rejected"
CORRECTED = "|corrected"
# A correction's target is its key words; more than this many, and no later one would match.
MAX_CORRECTION_WORDS = 12
# Words of any correction, whatever it is about: two corrections sharing them are not one (stems,
# as lessons.tokens makes them).
CORRECTION_TEXT = (
    "alway anyth someth everyth noth wrong right correct fix fixed fixing broke broken work need "
    "want make thing like actually still again now ok okay yes no please sure really"
)
CORRECTION_WORDS = frozenset(CORRECTION_TEXT.split())
HOOK_PREFIX = re.compile(r"\bhook (?:error|blocked|denied):\s*(?:\[[^\]\n]*\]:?\s*)?", re.I)
TAIL = re.compile(
    r"\s*(2>&1|2>/dev/null)?\s*(\|\s*(head|tail)(\s+-n)?(\s+-?\d+)?\s*)*"
    r"((&&|\|\||;)\s*echo\s+(\"[^\"]*\"|'[^']*'|\S+)\s*)?$"  # `... && echo "done"`: noise
)
CD_PREFIX = re.compile(r"^\s*cd\s+(\"[^\"]*\"|'[^']*'|\S+)\s*&&\s*")
ENV_PREFIX = re.compile(r"^(\s*[A-Z_][A-Z0-9_]*=\S*\s+)+")

# Corrections: a sentence must state a rule with a concrete object to become a lesson.
RULE = re.compile(
    r"\b(use|run|put|keep|prefer|place|call|should (be|go|live|use)|must|instead of|rather than|"
    r"not in|never|always|don'?t|do not)\b",
    re.I,
)
NOT_A_RULE = re.compile(
    r"\b(i|we) (don'?t|do not) (\w+ )?(know|think|see|notice|understand|remember|like|care)|"
    r"don'?t (forget|worry|bother)|\?|^(wait|hmm|ok|okay|why|what|how)\b|\b(can|could) you\b|"
    # a remark on what happened ("weird we're supposed to use ..."), not what to do
    r"^(weird|strange|odd|funny|interesting|huh|lol)\b|"
    r"\b(yet|for now|right now|this time)\b|error|exception|\d{1,2}:\d{2}|➜|\(base\)|\.png\b",
    re.I,
)
# A one-off request ("then remove ...", "... please make ...") or a hedge ("maybe ...") is a task or
# a thought, not a standing rule, unless it says it holds from now on.
ONE_OFF = re.compile(r"^(then|now|next|also|and|so|maybe|perhaps)\b|\b(please|pls)\b", re.I)
STANDING = re.compile(r"\b(should|must|never|always|from now on|every time|whenever)\b", re.I)
CONCRETE = re.compile(
    r"`[^`]+`|[\w.-]*/[\w./-]+|\b[\w-]+\.(py|js|ts|tsx|json|md|toml|yaml|yml|"
    r"sh|go|rs|java|rb|css|html|vue|lock|txt|env)\b|--[a-z][\w-]+|\bport \d+|"
    r"(?<![\w.])\.[a-z][\w.-]*"  # a dotfile or a kind of file: "the .env", "the .md files"
)
WEAK_REASONS = re.compile(r"^(no|nope|stop|wait|not now|no thanks|cancel|nah|don'?t)[.! ]*$", re.I)

# Rejections without a reason: what the command was about to run, read from its goal. A quoted
# argument becomes the word `Q`, so the `&&` or `|` in a commit message splits nothing.
QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")
# Past a quote left open, a substitution or a redirection, the words say nothing about the goal.
UNREADABLE = re.compile(r"[\"'`]|\$\(|\d*[<>]")
CHAIN = re.compile(r"&&|\|\||;|&")
ASSIGNMENT = re.compile(r"^[A-Za-z_]\w*=")
PACKAGE_MANAGERS = frozenset({"npm", "pnpm", "yarn", "bun"})


@dataclass(frozen=True)
class Step:
    """One Bash tool use of a session, in order, with whether it succeeded (see `timeline`)."""

    uuid: str | None
    tool_use_id: str
    command: str
    ok: bool
    cwd: str | None = None  # the shell's folder when the agent ran it (a `cd` stays for the next)


@dataclass(frozen=True)
class Failure:
    """A failing command, its cause class and a short cause line."""

    signal: Signal
    command: str
    cause_class: str
    cause: str


# --- text helpers --------------------------------------------------------------------------------


def clean_command(raw: str | None) -> str | None:
    """The command as an agent would retype it: one line, no cd/env prefix, no |head/|tail."""
    if not raw:
        return None
    command = raw.strip()
    if "\n" in command or "<<" in command:
        return None
    command = CD_PREFIX.sub("", command)
    command = ENV_PREFIX.sub("", command)
    command = TAIL.sub("", command).strip()
    command = TAIL.sub("", command).strip()  # `2>&1 | tail -5 && echo ok`: both ends
    if not command or len(command) > MAX_COMMAND or SHELL_NOISE.search(command):
        return None
    return command


def program(command: str) -> str:
    """The tool a command runs: `git`, `npx tsc`, `python3 -m pytest`..."""
    for runner in RUNNERS:
        if command == runner or command.startswith(runner + " "):
            rest = command[len(runner) :].split()
            return f"{runner} {rest[0]}" if rest else runner
    words = command.split()
    if words[0] in SUBCOMMANDS and len(words) > 1 and re.fullmatch(r"[a-z][a-z0-9:_-]*", words[1]):
        return f"{words[0]} {words[1]}"
    return words[0]


def short_cause(text: str | None) -> tuple[str, str] | None:
    """(cause class, the first line of the error text that names the cause), or None."""
    if not text:
        return None
    for line in ANSI.sub("", text).splitlines():
        line = re.sub(
            r"^(\(eval\):\S*\s*|Exit code \d+\s*|/bin/\w+: line \d+: |(\S*/)?[\w.-]+: )", "", line
        )
        line = line.strip(" |:")
        if not line or len(line) < 6:
            continue
        for name, pattern in CAUSES:
            if pattern.search(line):
                return name, trim(line, MAX_CAUSE)
    return None


def trim(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "..."


def failure_of(signal: Signal) -> Failure | None:
    if signal.kind not in ("tool_error", "test_failure", "repeated_failure"):
        return None
    if signal.tool_name not in (None, "Bash"):
        return None
    command = clean_command(signal.subject)
    cause = short_cause(signal.detail) or short_cause(signal.excerpt)
    if command is None or cause is None:
        return None
    # A hook's block is the user's rule, not the environment's: it gets its own class, so no
    # lesson ever offers the command that got around it (see `hook_lesson`).
    cause_class = "hook" if signal.category == "hook_blocked" else cause[0]
    tool = program(command).split()[-1]
    if cause_class == "missing-module" and re.search(
        rf"module named '?{re.escape(tool)}\b", cause[1]
    ):
        cause_class = "not-installed"  # `python3 -m pytest`: No module named pytest
    return Failure(signal, command, cause_class, cause[1])


def signature(failure: Failure) -> str:
    """`<program>|<cause class>`: what efficacy.py watches for in later sessions."""
    return f"{program(failure.command)}|{failure.cause_class}"


def arguments(command: str) -> set[str]:
    """The operands (not options) of a command, normalised: `src/`, `'src'` and `src` meet."""
    skip = len(program(command).split())
    words = (w.strip("'\"").rstrip("/") for w in command.split()[skip:] if not w.startswith("-"))
    return {w for w in words if w and not w.isdigit()}


def tool_of(command: str) -> str:
    """What is missing when a command is not found: `bun`, or `python3 -m pytest`."""
    name = program(command)
    return name if any(name.startswith(runner + " ") for runner in RUNNERS) else name.split()[0]


def setup_prefix(raw: str, failed: str) -> str | None:
    """`source ~/.zshrc && poetry install` after `poetry install` failed: the setup part."""
    command = CD_PREFIX.sub("", raw.strip())
    head, sep, tail = command.rpartition("&&")
    if not sep or clean_command(tail) != failed:
        return None
    return clean_command(head)


def shares_argument(a: str, b: str) -> bool:
    return bool(arguments(a) & arguments(b))


def related(failure: Failure, fix: str) -> bool:
    """Is `fix` plausibly the same intent done differently (not just the next thing done)?"""
    failed = failure.command
    if fix == failed:
        return False
    if program(fix) == program(failed):
        return fix.startswith(failed) or failed.startswith(fix) or shares_argument(failed, fix)
    if failure.cause_class in ("not-installed", "blocked", "hook"):
        return (
            shares_argument(failed, fix) or same_runner(failed, fix) or same_subcommand(failed, fix)
        )
    return False


def same_subcommand(a: str, b: str) -> bool:
    """`bun install` and `npm install`: another tool for the same job."""
    tool_a, tool_b = program(a).split(), program(b).split()
    return len(tool_a) == len(tool_b) == 2 and tool_a[1] == tool_b[1]


def same_runner(a: str, b: str) -> bool:
    """`python3 -m pytest` and `python3 -m unittest`, `npx jest` and `npx vitest`."""
    name_a, name_b = program(a), program(b)
    via_runner = any(name_a.startswith(runner + " ") for runner in RUNNERS)
    tool_a, tool_b = name_a.split(), name_b.split()
    return via_runner and len(tool_a) > 1 and tool_a[:-1] == tool_b[:-1]


def find_fix(failure: Failure, later: Sequence[Step]) -> Step | None:
    """The step that fixed the failure: a related command that worked, or the last setup step
    before the same command worked (earlier ones did not make it work). Strict: unrelated
    successes in between prove nothing."""
    setup: Step | None = None
    for step in later[:LOOKAHEAD]:
        prefix = setup_prefix(step.command, failure.command) if step.ok else None
        if prefix is not None:
            return Step(step.uuid, step.tool_use_id, prefix, True)
        command = clean_command(step.command)
        if command is None or not step.ok:
            continue
        if program(command) != program(failure.command) and related(failure, command):
            return step  # another tool for the same job
        if SETUP.search(command) and failure.cause_class in (
            "missing-module",
            "not-installed",
            "git-setup",
        ):
            setup = step
        elif command == failure.command or program(command) == program(failure.command):
            if setup is not None:
                return setup
            if related(failure, command):
                return step
        elif related(failure, command):
            return step
    return None


# --- lessons from one kind of signal each --------------------------------------------------------


def recovery_lesson(
    failure: Failure, fix: str, fix_uuid: str | None, now: str, folder: str | None = None
) -> Lesson | None:
    """A failure fixed by a related command: which command to use, or what to do first.

    A command run in a project subfolder (`folder`, see `subfolder`) fails and is fixed there:
    the lesson says where, or it would send the agent to set up the project's root."""
    failed = failure.command
    if fix == failed or fix.split() == failed.split():
        return None  # the same command retried: the fix was elsewhere (usually the code)
    if failure.cause_class == "hook":
        return hook_lesson(failure, now)  # the agent got around the hook: say the hook holds
    evidence = (
        Evidence(failure.signal.session_id, failure.signal.uuid, signal=failure.signal.kind),
        Evidence(failure.signal.session_id, fix_uuid, signal="recovery"),
    )
    if (
        failure.cause_class == "not-installed"
        and program(fix) != program(failed)
        and related(failure, fix)
    ):
        tool = tool_of(failed)
        trigger = f"Using `{tool}`"
        if same_subcommand(failed, fix):  # `bun install` -> `npm install`: the tool, by example
            instead = f"`{fix.split()[0]}` instead (`{fix}` for `{failed}`)"
        elif same_runner(failed, fix):
            instead = f"`{fix}` instead"
        else:
            instead = f"`{program(fix)}` instead"
        action = f"it is not installed here ({failure.cause}); use {instead}"
        kind, confidence = "fact", 0.65
    elif SETUP.search(fix):
        trigger = running(failure, folder)
        action = f"it fails here ({failure.cause}); run `{fix}` first"
        kind, confidence = "pitfall", 0.6
    elif program(fix) == program(failed) and related(failure, fix):
        trigger = running(failure, folder)
        action = f"it fails here ({failure.cause}); run `{fix}` instead"
        kind, confidence = "pitfall", 0.7
    elif failure.cause_class == "blocked" and shares_argument(failed, fix):
        trigger = running(failure, folder)
        action = f"it is blocked here ({failure.cause}); use `{fix}` instead"
        kind, confidence = "pitfall", 0.65
    else:
        return None  # the next success is not clearly the same intent
    return new_lesson(
        kind,
        trigger,
        action,
        evidence=evidence,
        signal="recovery",
        confidence=confidence,
        now=now,
        target=signature(failure),
    )


def running(failure: Failure, folder: str | None) -> str:
    where = f" in `{folder}/`" if folder else ""
    return f"Running `{failure.command}`{where}"


def subfolder(raw: str | None, project: str | None, shell: str | None = None) -> str | None:
    """The folder a command `cd`s into first (`web` for `cd web && npm test`), relative to the
    folder the session began in (`project`); a relative one is taken from where the shell was
    (`shell`: an earlier `cd` stays). None when that is the session's own folder, or outside it,
    or unknowable (`~`, `-`, a variable)."""
    match = CD_PREFIX.match(raw or "")
    if match is None:
        return None
    folder = match.group(1).strip("\"'")
    if folder.startswith(("~", "-")) or "$" in folder:  # `cd -`: wherever it was before
        return None
    if project is not None and shell is not None:
        folder = posixpath.join(shell, folder)  # an absolute folder stays as it is
    path = PurePosixPath(posixpath.normpath(folder))
    if path.is_absolute():
        if project is None or not path.is_relative_to(project):
            return None
        path = path.relative_to(project)
    if str(path) == "." or ".." in path.parts:
        return None
    return str(path)


def hook_lesson(failure: Failure, now: str) -> Lesson:
    """A command a hook blocks: a fact about this project, never a way around the hook."""
    signal = failure.signal
    said = hook_message(signal.detail or signal.excerpt) or failure.cause
    return new_lesson(
        "fact",
        f"Running `{failure.command}`",
        HOOK_FACT.format(said),
        evidence=(Evidence(signal.session_id, signal.uuid, signal=signal.kind),),
        signal=signal.kind,
        confidence=0.6,
        now=now,
        target=signature(failure),
    )


def hook_message(text: str) -> str | None:
    """What the hook said, without Claude Code's prefix and the hook's command line (a path under
    ~/.claude/hooks is no part of the fact): `BLOCKED: Dangerous rm command detected`."""
    text = ANSI.sub("", text)
    found = HOOK_PREFIX.search(text)
    if found is None:
        return None
    said = next((line for line in text[found.end() :].splitlines() if line.strip()), "")
    return trim(said, MAX_CAUSE) or None


def repeated_lesson(failure: Failure, now: str) -> Lesson:
    """The same environment failure over and over: what to check before the next attempt."""
    if failure.cause_class == "hook":
        return hook_lesson(failure, now)
    signal = failure.signal
    return new_lesson(
        "pitfall",
        f"Before running `{failure.command}` again",
        f"it failed repeatedly here ({failure.cause}); check {CHECK_FIRST[failure.cause_class]}",
        evidence=(Evidence(signal.session_id, signal.uuid, signal=signal.kind),),
        signal="repeated_failure",
        confidence=0.5,
        now=now,
        target=signature(failure),
    )


def rejection_lesson(signal: Signal, cwd: str | None, now: str) -> Lesson | None:
    """A rejected tool use with the user's reason: their preference, in their own words."""
    reason = trim((signal.detail or "").strip().strip("\"'"), 200)
    target = rejected_target(signal, cwd)
    if target is None or len(reason) < 15 or WEAK_REASONS.match(reason):
        return None
    if len(re.findall(r"[A-Za-z]{3,}", reason)) < 3:
        return None
    return new_lesson(
        "preference",
        f"Before {target}",
        f'the user rejected it once, saying: "{reason}"',
        evidence=(Evidence(signal.session_id, signal.uuid, signal="rejection"),),
        signal="rejection",
        confidence=0.6,
        now=now,
        target=target + REJECTED,
    )


def goal_words(raw: str | None) -> list[str]:
    """The words of the command a shell line is there to run: the last of a chain (`cd web &&
    git add -A && git commit -m "..."` commits), the first of a pipe (`jq ... | head` runs jq),
    without background `&`, redirections, quoted arguments or `VAR=x` prefixes."""
    lines = (raw or "").strip().splitlines()
    if not lines:
        return []
    line = UNREADABLE.split(QUOTED.sub(" Q ", lines[0]), maxsplit=1)[0]
    steps = [step for step in CHAIN.split(line) if step.strip()]
    words = steps[-1].split("|")[0].split() if steps else []
    while words and ASSIGNMENT.match(words[0]):
        words = words[1:]
    return words


def rejected_command(raw: str | None) -> str | None:
    """What a rejected command was about to run, the same however it was typed: `pnpm dev &`,
    `pnpm run dev` and `npm run dev` all run the `dev` script; others are their `program`."""
    words = goal_words(raw)
    if not words or words[0] in ("cd", "Q") or words[0].startswith(("/", "~", "$")):
        return None  # nothing run, or a machine path: no rule for the next session
    name = program(" ".join(words))
    script = package_script(name)
    return f"`{script}` with npm, pnpm, yarn or bun" if script else f"`{name}`"


def package_script(name: str) -> str | None:
    """`dev` for `pnpm dev`, `pnpm run dev` and `npm run dev`; None for `pnpm exec tsc` (a
    runner: what it runs is the program) and for a bare `npm`."""
    words = name.split()
    if words[0] not in PACKAGE_MANAGERS:
        return None
    if words[1:2] == ["run"]:
        words = words[1:]
    return words[1] if len(words) == 2 else None


def project_path(path: str | None, cwd: str | None) -> str | None:
    """A project file, relative to the project (the same file in another worktree meets it)."""
    root = (cwd or "").rstrip("/")
    if not path or not root or not path.startswith(root + "/"):
        return None  # outside the project: a one-off, not a fact about this project
    return path[len(root) + 1 :]


def rejection_signature(signal: Signal, cwd: str | None) -> str | None:
    """`<what was stopped>|rejected`: what efficacy.py watches for after an ask-first lesson."""
    target = rejected_target(signal, cwd) if signal.kind == "rejection" else None
    return target + REJECTED if target else None


def rejected_target(signal: Signal, cwd: str | None) -> str | None:
    """What a rejected tool use was about to do, normalised so that sessions meet on it."""
    if signal.tool_name in (None, "Bash"):
        command = rejected_command(signal.subject)
        return f"running {command}" if command else None
    if signal.tool_name in FILE_TOOLS:
        relative = project_path(signal.subject, cwd)
        return f"changing `{relative}`" if relative else None
    return f"using {signal.tool_name}"


def unexplained_rejection_lesson(signal: Signal, cwd: str | None, now: str) -> Lesson | None:
    """A tool use rejected without a reason: ask first. Never an alternative to do instead: the
    user did not say what they wanted. One session is a candidate; the merge counts sessions, so
    only the same thing stopped in `minSessions` sessions becomes active. The wording carries no
    count: the id comes from it, and every session must say the same lesson."""
    if signal.detail is not None or signal.related_uuid is not None:
        return None  # a typed reason has its own lesson; a cancelled sibling is the same decision
    if signal.tool_name not in (None, "Bash") and signal.tool_name not in FILE_TOOLS:
        return None  # rejecting a plan (ExitPlanMode), a skill or a subagent is feedback on it
    target = rejected_target(signal, cwd)
    if target is None:
        return None
    return new_lesson(
        "preference",
        f"Before {target}",
        "ask the user first; they have stopped it before",
        evidence=(Evidence(signal.session_id, signal.uuid, signal="rejection"),),
        signal="rejection",
        confidence=0.5,
        now=now,
        target=target + REJECTED,
    )


def rule_sentence(text: str) -> str | None:
    """The one sentence of a correction that states a concrete rule, or None."""
    sentences = re.split(r"(?<=[.!?])\s+|\n+", text.strip())
    for sentence in sentences:
        sentence = sentence.strip(" -*>\"'")
        if not 20 <= len(sentence) <= 200:
            continue
        if ONE_OFF.search(sentence) and not STANDING.search(sentence):
            continue
        if RULE.search(sentence) and CONCRETE.search(sentence) and not NOT_A_RULE.search(sentence):
            return sentence
    return None


def correction_lesson(signal: Signal, now: str) -> Lesson | None:
    sentence = rule_sentence(signal.detail or "")
    if sentence is None:
        return None
    return new_lesson(
        "preference",
        "Working in this project",
        f'the user corrected the agent: "{sentence}"',
        evidence=(Evidence(signal.session_id, signal.uuid, signal="correction"),),
        signal="correction",
        confidence=0.4,
        now=now,
        target=correction_target(sentence),
    )


def correction_target(text: str | None) -> str | None:
    """`<key words>|corrected`: what a later correction must share to be this one again (the
    words of its rule, or of the whole prompt when it states none; see efficacy.corrected_again)."""
    words = tokens(rule_sentence(text or "") or text or "") - CORRECTION_WORDS
    if not 2 <= len(words) <= MAX_CORRECTION_WORDS:
        return None
    return " ".join(sorted(words)) + CORRECTED


# --- a whole session -----------------------------------------------------------------------------


def lessons_from_report(
    report: SessionReport, now: str, steps: Sequence[Step] = ()
) -> list[Lesson]:
    """Candidate lessons from one session, one per id, in signal order.

    `steps` is the session's Bash timeline (see `timeline`): with it a failure is paired with the
    command that actually fixed it; without it, only the analyser's recovery pairs are used.
    """
    by_uuid = {signal.uuid: signal for signal in report.signals}
    position = {step.tool_use_id: index for index, step in enumerate(steps)}
    found: dict[str, Lesson] = {}
    fixed: set[str] = set()
    for signal in report.signals:
        lesson = None
        if signal.kind in ("tool_error", "test_failure"):
            lesson = tool_fact(signal, report.cwd, now)
            failure = failure_of(signal)
            start = position.get(signal.tool_use_id or "")
            if lesson is None and failure is not None and start is not None:
                fix = find_fix(failure, steps[start + 1 :])
                command = clean_command(fix.command) if fix else None
                if fix is not None and command is not None:
                    fixed.add(failure.command)
                    folder = subfolder(signal.subject, report.cwd, steps[start].cwd)
                    lesson = recovery_lesson(failure, command, fix.uuid, now, folder)
        elif signal.kind == "recovery" and not steps and signal.related_uuid in by_uuid:
            failure = failure_of(by_uuid[signal.related_uuid])
            command = clean_command(signal.subject or signal.detail)
            if failure is not None and command is not None:
                fixed.add(failure.command)
                folder = subfolder(failure.signal.subject, report.cwd)
                lesson = recovery_lesson(failure, command, signal.uuid, now, folder)
        elif signal.kind == "rejection":
            lesson = rejection_lesson(signal, report.cwd, now) or unexplained_rejection_lesson(
                signal, report.cwd, now
            )
        elif signal.kind == "correction":
            lesson = correction_lesson(signal, now)
        if lesson is not None:
            found[lesson.id] = with_evidence_of(found.get(lesson.id), lesson)
    for lesson in repeated_lessons(report.signals, fixed, now):
        found.setdefault(lesson.id, lesson)
    return list(found.values())


def with_evidence_of(known: Lesson | None, again: Lesson) -> Lesson:
    """The lesson first found in a session, with the evidence of its later occurrences (in a
    resumed session, the first may be a copy of the parent's entries, counted there)."""
    if known is None:
        return again
    return replace(known, evidence=cap_evidence(known.evidence + again.evidence))


def needs_timeline(report: SessionReport) -> bool:
    """Only sessions with an environment failure are worth a second read of their transcript."""
    return any(failure_of(signal) is not None for signal in report.signals)


def timeline(entries: Iterable[Entry]) -> list[Step]:
    """The Bash tool uses of a transcript, in order, each with whether its result was an error.

    A step's uuid is its result's entry, as for signals: a fix's evidence then names the entry a
    `recovery` signal names, and the report finds its excerpt."""
    pending: dict[str, tuple[str, str | None]] = {}
    steps: list[Step] = []
    for entry in entries:
        for use in entry.tool_uses:
            command = use.input.get("command")
            if use.name == "Bash" and isinstance(command, str):
                pending[use.id] = (command, entry.cwd)
        for result in entry.tool_results:
            found = pending.pop(result.tool_use_id, None)
            if found is not None:
                command, cwd = found
                ok = not result.is_error
                steps.append(Step(entry.uuid, result.tool_use_id, command, ok, cwd))
    return steps


# --- facts from the failures of tools other than the shell --------------------------------------

LARGE = re.compile(r"exceeds maximum allowed (tokens|size)", re.I)
FILE_VERBS = {"Read": "Reading", "Write": "Writing", "Edit": "Editing", "MultiEdit": "Editing"}
# What is missing when Claude Code cannot find a subagent, an MCP server or a slash command.
# Only the name is kept: the lists of what is available change from session to session.
MISSING_AGENT = re.compile(r"Agent type '([^'\s]+)' not found")
MISSING_SERVER = re.compile(r'Server "([^"\s]+)" not found|No such tool available: mcp__(.+?)__')
MISSING_COMMAND = re.compile(r"Unknown slash command: ([\w:.-]+)")


def tool_fact(signal: Signal, cwd: str | None, now: str) -> Lesson | None:
    """A fact about this project from a failed call of a tool other than Bash, or None."""
    if signal.kind != "tool_error" or signal.tool_name in (None, "Bash"):
        return None
    found = large_read_lesson(signal, cwd, now) or blocked_file_lesson(signal, cwd, now)
    return found or missing_lesson(signal, now)


def large_read_lesson(signal: Signal, cwd: str | None, now: str) -> Lesson | None:
    """A project file too large for one Read: read it in parts (saves a failed call every time)."""
    relative = project_path(signal.subject, cwd)
    if signal.tool_name != "Read" or not relative or not LARGE.search(signal.detail or ""):
        return None
    return _tool_fact(
        signal,
        f"Reading `{relative}`",
        "it is too large for one Read; read it in parts with offset/limit, or search it with Grep",
        now,
        target=f"Read {relative}{TOO_LARGE}",
    )


def blocked_file_lesson(signal: Signal, cwd: str | None, now: str) -> Lesson | None:
    """A project file a hook keeps the agent from reading or writing: the user's rule, to follow."""
    relative = project_path(signal.subject, cwd)
    verb = FILE_VERBS.get(signal.tool_name or "")
    if signal.category != "hook_blocked" or not relative or verb is None:
        return None
    text = signal.detail or signal.excerpt
    said = hook_message(text) or trim(ANSI.sub("", text), MAX_CAUSE)
    return _tool_fact(
        signal,
        f"{verb} files",
        HOOK_RULE_FACT.format(said=said, path=relative),
        now,
        target=hook_rule(said) + HOOK_RULE,
    )


def hook_rule(said: str) -> str:
    """The rule behind a hook's message, the same whichever file it stopped: "File too large:
    1043 lines (limit: 500 lines)" and "...: 603 lines (...)" are one rule of the user's."""
    return " ".join(re.sub(r"\d+", "#", said.lower()).split())


def missing_lesson(signal: Signal, now: str) -> Lesson | None:
    """A subagent, MCP server or slash command the agent reached for and this project lacks."""
    if signal.category != "tool_unavailable":
        return None
    text = signal.detail or signal.excerpt
    agent, server, command = (
        p.search(text) for p in (MISSING_AGENT, MISSING_SERVER, MISSING_COMMAND)
    )
    if agent:
        trigger = f"Starting the `{agent[1]}` subagent"
        action = "no such agent type is defined here; start one of the types the Task tool lists"
        target = f"agent {agent[1]}"
    elif server:
        trigger = f"Using the `{server[1] or server[2]}` MCP server"
        action = "it is not connected in this project; ask the user to connect it, or do without"
        target = f"mcp {server[1] or server[2]}"
    elif command:
        trigger = f"Running `/{command[1]}`"
        action = (
            "the agent cannot run this slash command here; do its steps directly, or ask the user"
        )
        target = f"/{command[1]}"
    else:
        return None
    return _tool_fact(signal, trigger, action, now, target=target + MISSING)


def _tool_fact(signal: Signal, trigger: str, action: str, now: str, target: str) -> Lesson:
    return new_lesson(
        "fact",
        trigger,
        action,
        evidence=(Evidence(signal.session_id, signal.uuid, signal=signal.kind),),
        signal="tool_error",
        confidence=0.6,
        now=now,
        target=target,
    )


def repeated_lessons(signals: Iterable[Signal], fixed: set[str], now: str) -> list[Lesson]:
    lessons = []
    for signal in signals:
        if signal.kind != "repeated_failure":
            continue
        failure = failure_of(signal)
        if failure is not None and failure.command not in fixed:
            lessons.append(repeated_lesson(failure, now))
    return lessons
