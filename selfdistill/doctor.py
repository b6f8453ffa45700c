"""`selfdistill doctor`: what a user would otherwise debug by hand, each check with its fix.

Every check is a small function of a `Setup` returning a `Check`; none raises (a check that cannot
look says so in its record), so one broken part never hides the state of the others. A check that
passes with a fix is a note: a set-up the user chose that leaves something out, with how to add it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from selfdistill import settings
from selfdistill.errors import NO_KEY_ERROR, FatalError
from selfdistill.logs import project_tag
from selfdistill.paths import ProjectState, find_project_root, log_file, state_home
from selfdistill.runs import load_runs

RECENT_RUNS = 5
PROGRAM_TIMEOUT_S = 20.0
# The Claude Code version that introduced each hook event we register (its CHANGELOG). Hooks
# came in 1.0.38; PostToolUseFailure is not in the changelog: 2.1.0 is the oldest version we
# have seen send it (before it, failures are visible in the transcript only).
EVENT_SINCE: dict[str, tuple[int, ...]] = {
    "PostToolUse": (1, 0, 38),
    "Stop": (1, 0, 38),
    "SubagentStop": (1, 0, 41),
    "PreCompact": (1, 0, 48),
    "UserPromptSubmit": (1, 0, 54),
    "SessionStart": (1, 0, 62),
    "SessionEnd": (1, 0, 85),
    "PostToolUseFailure": (2, 1, 0),
}
PLUGINS_SINCE = (2, 0, 12)
VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")
# What install.sh puts in SELFDISTILL_HOME besides the state: the program, not what it stored.
NOT_STATE = frozenset({"venv"})


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class Setup:
    """Everything the checks look at, found once."""

    project: Path
    state: ProjectState
    home: Path  # SELFDISTILL_HOME in effect
    user_home: Path  # where Claude Code's ~/.claude is
    claude_bin: str | None


def setup_for(project: Path) -> Setup:
    root = find_project_root(project)
    return Setup(
        root,
        ProjectState.for_project(root),
        state_home(),
        Path.home(),
        os.environ.get("SELFDISTILL_CLAUDE_BIN") or shutil.which("claude"),
    )


def run_checks(setup: Setup) -> list[Check]:
    version = claude_version(setup.claude_bin)
    checks: list[tuple[str, Callable[[], Check]]] = [
        ("hooks", lambda: check_hooks(setup)),
        ("interpreter", lambda: check_interpreters(setup)),
        ("git-hook", lambda: check_git_hook(setup)),
        ("store", lambda: check_store(setup)),
        ("runs", lambda: check_runs(setup)),
        ("claude-code", lambda: check_claude_code(setup, version)),
        ("hook-events", lambda: check_events(version)),
        ("config", lambda: check_config(setup)),
        ("model", lambda: check_model(setup)),
        ("mcp", check_mcp),
    ]
    return [guarded(name, check) for name, check in checks]


def guarded(name: str, check: Callable[[], Check]) -> Check:
    """A check that crashes is reported as a failed check, not as a crash of the doctor."""
    try:
        return check()
    except Exception as error:
        return Check(name, False, f"the check itself failed: {error!r}", "report this as a bug")


def as_json(checks: list[Check]) -> list[dict[str, Any]]:
    return [asdict(check) for check in checks]


def label(check: Check) -> str:
    if not check.ok:
        return "FAIL"
    return "note" if check.fix else "ok"


def render(checks: list[Check]) -> str:
    """The readable view. How many problems there are is not in it: the command says that once,
    in its one-line message on stderr, with --json too."""
    width = max(len(check.name) for check in checks)
    lines = []
    for check in checks:
        lines.append(f"{label(check):<4}  {check.name:<{width}}  {check.detail}")
        if check.fix:
            lines.append(f"{'':<4}  {'':<{width}}  {'fix' if not check.ok else 'add'}: {check.fix}")
    if all(check.ok for check in checks):
        lines.append("all checks passed")
    return "\n".join(lines)


# --- hook registrations --------------------------------------------------------------------------


def settings_files(setup: Setup) -> tuple[Path, ...]:
    claude = setup.project / ".claude"
    return (claude / "settings.json", claude / "settings.local.json")


def read_json(path: Path) -> Any:
    """Parsed JSON; None when the file is absent; FatalError with the place when it is broken."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise FatalError(f"cannot read {path}: {error}") from error
    if not text.strip():
        return {}
    if text.startswith(settings.BOM):
        raise FatalError(settings.bom_problem(path))
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise FatalError(
            f"{path} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from error


def our_commands(data: Any) -> dict[str, str]:
    """event -> command of our entries in one parsed settings object."""
    found: dict[str, str] = {}
    hooks = data.get("hooks") if isinstance(data, dict) else None
    if not isinstance(hooks, dict):
        return found
    for groups in hooks.values():
        for group in groups if isinstance(groups, list) else ():
            entries = group.get("hooks") if isinstance(group, dict) else None
            for entry in entries if isinstance(entries, list) else ():
                event = settings.event_of(entry)
                if event:
                    found.setdefault(event, entry["command"])
    return found


def registered(setup: Setup) -> dict[str, str]:
    """Our hook commands from the project's settings files (a broken file raises FatalError)."""
    found: dict[str, str] = {}
    for path in settings_files(setup):
        for event, command in our_commands(read_json(path)).items():
            found.setdefault(event, command)
    return found


def plugin_enabled(setup: Setup) -> bool:
    """Whether the selfdistill Claude Code plugin is enabled for the user or this project."""
    places = (setup.user_home / ".claude" / "settings.json", *settings_files(setup))
    for path in places:
        try:
            data = read_json(path)
        except FatalError:
            continue
        enabled = data.get("enabledPlugins") if isinstance(data, dict) else None
        if isinstance(enabled, dict) and any(
            key.split("@")[0] == "selfdistill" and value for key, value in enabled.items()
        ):
            return True
    return False


def hooks_disabled_by(setup: Setup) -> Path | None:
    """The settings file whose `disableAllHooks` turns every hook off, if any."""
    for path in (setup.user_home / ".claude" / "settings.json", *settings_files(setup)):
        try:
            data = read_json(path)
        except FatalError:
            continue
        if isinstance(data, dict) and data.get("disableAllHooks") is True:
            return path
    return None


def check_hooks(setup: Setup) -> Check:
    install = f"selfdistill install --project {shlex.quote(str(setup.project))}"
    try:
        found = registered(setup)
    except FatalError as error:
        return Check("hooks", False, str(error), f"fix the JSON by hand, then run '{install}'")
    disabled = hooks_disabled_by(setup)
    if disabled:
        return Check(
            "hooks",
            False,
            f"{disabled} sets disableAllHooks: Claude Code runs no hook at all",
            f'remove "disableAllHooks" from {disabled}',
        )
    missing = [event for event in settings.EVENTS if event not in found]
    where = settings_files(setup)[0]
    if not missing:
        return Check("hooks", True, f"all {len(found)} events registered in {where}")
    if not found and plugin_enabled(setup):
        return Check("hooks", True, "registered by the selfdistill Claude Code plugin")
    if not found:
        return Check("hooks", False, f"no selfdistill hooks in {where}", f"run '{install}'")
    return Check(
        "hooks", False, f"not registered for {', '.join(missing)} in {where}", f"run '{install}'"
    )


# --- interpreters --------------------------------------------------------------------------------


def _this_installation(program: list[str]) -> bool:
    """Does `program` run from this selfdistill's environment (whatever its form: the python
    and entry.py install registers, or the console script older versions did)?"""
    if not os.path.isabs(program[0]):
        return True  # found on PATH when the hook runs: nothing to compare
    here = os.path.dirname(os.path.abspath(sys.executable))
    return os.path.dirname(os.path.abspath(program[0])) == here


def program_problem(program: list[str]) -> str | None:
    """Why `program` cannot run selfdistill, or None when `program --version` works."""
    executable = program[0]
    if os.sep in executable and not os.access(executable, os.X_OK):
        return f"{executable} is missing or not executable"
    interpreter = shebang_interpreter(Path(executable)) if os.sep in executable else None
    if interpreter and not os.access(interpreter, os.X_OK):
        return f"{executable} runs {interpreter}, which is missing"
    try:
        done = subprocess.run(
            [*program, "--version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=PROGRAM_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"{shlex.join(program)} cannot be started: {error}"
    if done.returncode != 0 or "selfdistill" not in done.stdout:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"'{shlex.join(program)} --version' failed: {last}"
    return None


def shebang_interpreter(script: Path) -> str | None:
    try:
        with script.open("rb") as handle:
            first = handle.readline(512)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    words = first[2:].decode("utf-8", "replace").split()
    if not words or os.path.basename(words[0]) == "env":
        return None  # resolved through PATH at run time; `--version` below tells
    return words[0]


def check_interpreters(setup: Setup) -> Check:
    try:
        commands = registered(setup)
    except FatalError as error:
        return Check("interpreter", False, f"cannot read the hook registrations: {error}")
    programs = {tuple(p) for p in map(settings.hook_program, commands.values()) if p}
    if not programs:
        return Check("interpreter", True, "no hook commands of selfdistill to check")
    problems = [problem for p in sorted(programs) if (problem := program_problem(list(p)))]
    if problems:
        fix = (
            "re-run ./install.sh, or 'selfdistill install --project "
            f"{shlex.quote(str(setup.project))}' with the selfdistill you want the hooks to run"
        )
        return Check("interpreter", False, "; ".join(problems), fix)
    others = [list(p) for p in sorted(programs) if not _this_installation(list(p))]
    if others:
        uninstall = shlex.join([*others[0], "uninstall", "--project", str(setup.project)])
        return Check(
            "interpreter",
            False,
            f"the hooks run another selfdistill installation ({shlex.join(others[0])}): this one "
            f"({sys.executable}) records nothing here",
            f"use that one, or uninstall it ('{uninstall}') and install this one",
        )
    shown = ", ".join(shlex.join(p) for p in sorted(programs))
    return Check("interpreter", True, f"hooks run a working selfdistill: {shown}")


# --- git hook ------------------------------------------------------------------------------------


def git_hook_program(text: str) -> list[str] | None:
    """The selfdistill invocation written into our post-commit hook."""
    for line in text.splitlines():
        if " hook GitCommit" in line and not line.lstrip().startswith("#"):
            before = line.split(" hook GitCommit")[0].replace("$detach", "").strip()
            try:
                return shlex.split(before) or None
            except ValueError:
                return None
    return None


def check_git_hook(setup: Setup) -> Check:
    from selfdistill import git, githook, hookusers

    install = f"selfdistill install --project {shlex.quote(str(setup.project))}"
    try:
        if git.repo_root(setup.project) is None:
            return Check("git-hook", True, "not a git repository: no commit hook needed")
        hook = git.hooks_dir(setup.project) / githook.HOOK_NAME
    except FatalError as error:
        return Check("git-hook", False, str(error), "check that git works in this directory")
    if not githook.is_ours(hook):
        if left_out(setup):
            return git_hook_note(setup, install)
        detail = f"{hook} is not selfdistill's" if hook.exists() else f"no hook at {hook}"
        return Check("git-hook", False, detail, f"run '{install}' (an existing hook is chained)")
    if not os.access(hook, os.X_OK):
        return Check("git-hook", False, f"{hook} is not executable", f"chmod +x {hook}")
    text = hook.read_text(encoding="utf-8", errors="replace")
    legacy = githook.chained_name(hook)
    if legacy and not (hook.parent / legacy).exists():
        return Check("git-hook", False, f"the chained hook {legacy} is gone", f"run '{install}'")
    program = git_hook_program(text)
    problem = program_problem(program) if program else None
    if problem:
        return Check("git-hook", False, problem, f"run '{install}'")
    if not hookusers.records_commits(str(setup.project)):
        detail = f"{hook} is ours, but it ignores this project's commits (not installed here)"
        return Check("git-hook", False, detail, f"run '{install}'")
    chained = f", chaining {legacy}" if legacy else ""
    return Check("git-hook", True, f"installed at {hook}{chained}")


def left_out(setup: Setup) -> bool:
    """Whether the git hook was left out on purpose: the hooks are registered (by install or the
    plugin) and install never put a git hook here for this project. `install --no-git` and the
    plugin record nothing, so it is the absence from git-hooks.json that tells: every install of
    the git hook lists the project there, and then a missing hook is broken, not left out."""
    from selfdistill import hookusers

    try:
        hooks_registered = bool(registered(setup)) or plugin_enabled(setup)
    except FatalError:  # the hooks check says what is wrong with the settings
        return False
    return hooks_registered and not hookusers.is_registered(str(setup.project))


def git_hook_note(setup: Setup, install: str) -> Check:
    detail = (
        "no selfdistill git hook (install --no-git, or the plugin): commits and reverts are "
        "not recorded as signals"
    )
    fix = f"run '{install}' (an existing post-commit hook is chained)"
    if not registered(setup):  # the plugin's hooks record the session; install would add its own
        fix += ", then remove the hooks it adds to .claude/settings.json: the plugin has them"
    return Check("git-hook", True, detail, fix)


# --- the store -----------------------------------------------------------------------------------


def tree_size(root: Path) -> int:
    total = 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total


def human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def writable_problem(home: Path) -> str | None:
    """Why selfdistill cannot write under `home`, or None. Creates nothing that stays."""
    existing = home
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a directory"
    try:
        with tempfile.TemporaryFile(dir=existing, prefix=".selfdistill-doctor-"):
            pass
    except OSError as error:
        return f"cannot write in {existing}: {error.strerror}"
    return None


def plugin_homes(setup: Setup) -> list[Path]:
    """State kept by the Claude Code plugin in its data directory (when no home existed then)."""
    data = setup.user_home / ".claude" / "plugins" / "data"
    try:
        found = sorted(data.glob("selfdistill-*"))
    except OSError:
        return []
    return [path for path in found if (path / "projects").is_dir() and path != setup.home]


def lesson_store_problem(state: ProjectState) -> str | None:
    """Why the project's lesson store cannot be read (runs, `lessons`, `status` would fail)."""
    from selfdistill.lessons import read_lessons

    try:
        read_lessons(state)
    except FatalError as error:
        return str(error)
    return None


def check_store(setup: Setup) -> Check:
    problem = writable_problem(setup.home)
    if problem:
        fix = f"make {setup.home} writable (chmod u+w), or set SELFDISTILL_HOME to a writable one"
        return Check("store", False, problem, fix)
    others = plugin_homes(setup)
    if others and (setup.home / "projects").is_dir():
        return Check(
            "store",
            False,
            f"state is split between {setup.home} and the plugin's {others[0]}",
            f"move the folders in {others[0] / 'projects'} into {setup.home / 'projects'}",
        )
    broken = lesson_store_problem(setup.state)
    if broken:
        where = setup.state.lessons
        fix = f"repair {where} by hand, or move it aside to start again: mv {where} {where}.bad"
        return Check("store", False, broken, fix)
    plugin = f"; the plugin keeps its state in {others[0]}" if others else ""
    if not setup.home.exists():
        return Check("store", True, f"{setup.home} (not created yet; writable){plugin}")
    project = tree_size(setup.state.root) if setup.state.root.exists() else 0
    return Check(
        "store",
        True,
        f"{setup.home}: {human(state_size(setup.home))} stored in all, "
        f"{human(project)} for this project{plugin}",
    )


def state_size(home: Path) -> int:
    """What selfdistill stored under `home`, without the environment install.sh keeps there."""
    try:
        entries = [entry for entry in home.iterdir() if entry.name not in NOT_STATE]
    except OSError:
        return 0
    return sum(
        tree_size(e) if e.is_dir() and not e.is_symlink() else lstat_size(e) for e in entries
    )


def lstat_size(path: Path) -> int:
    try:
        return path.lstat().st_size
    except OSError:
        return 0


# --- runs ----------------------------------------------------------------------------------------


def last_logged_error(project: str) -> str | None:
    """The headline of the last error the log names `project` in, without that name (the log
    serves every project; indented lines are details)."""
    try:
        text = log_file().read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    tag = project_tag(project)
    mine = [line for line in text.splitlines() if line.endswith(tag)]
    return mine[-1][: -len(tag)] if mine else None


def check_runs(setup: Setup) -> Check:
    runs = load_runs(setup.state)[-RECENT_RUNS:][::-1]  # newest first, in the order status uses
    last_log = last_logged_error(setup.state.project_dir)
    logged = f"; last logged error: {last_log}" if last_log else ""
    if not runs:
        return Check("runs", True, "no runs yet for this project" + logged)
    last = runs[0]
    path = setup.state.runs / f"{last['id']}.json"
    failed = [data for data in runs if data.get("errors")]
    summary = (
        f"last run {last['id']} at {last.get('completedAt', '?')}: "
        f"{last.get('sessionsProcessed', '?')} session(s), "
        f"{last.get('lessonsGenerated', '?')} lesson(s); "
        f"{len(failed)} of the last {len(runs)} had errors"
    )
    if last.get("errors"):
        first = str(last["errors"][0])[:200]
        fix = f"see {path} and {log_file()}; then 'selfdistill run' again"
        if NO_KEY_ERROR in first:  # the run was asked for a model: running again will not help
            fix = "export ANTHROPIC_API_KEY before 'selfdistill run --model', or run without it"
        return Check("runs", False, f"{summary}; last error: {first}", fix)
    return Check("runs", True, summary + logged)


# --- Claude Code ---------------------------------------------------------------------------------


def claude_version(binary: str | None) -> tuple[int, ...] | None:
    if not binary:
        return None
    try:
        done = subprocess.run(
            [binary, "--version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=PROGRAM_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = VERSION.search(done.stdout)
    return tuple(int(part) for part in found.groups()) if found else None


def dotted(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))


def check_claude_code(setup: Setup, version: tuple[int, ...] | None) -> Check:
    if not setup.claude_bin:
        return Check(
            "claude-code",
            True,
            "claude is not on PATH: version not checked (hooks still run in any Claude Code)",
        )
    if version is None:
        return Check(
            "claude-code",
            False,
            f"'{setup.claude_bin} --version' gave no version",
            "check that Claude Code runs: 'claude --version'",
        )
    plugins = "supports plugins" if version >= PLUGINS_SINCE else "too old for plugins"
    return Check("claude-code", True, f"Claude Code {dotted(version)} ({plugins})")


def unsupported_events(version: tuple[int, ...]) -> list[str]:
    return [e for e in settings.EVENTS if version < EVENT_SINCE.get(e, (0,))]


def check_events(version: tuple[int, ...] | None) -> Check:
    if version is None:
        return Check("hook-events", True, "Claude Code version unknown: events not checked")
    missing = unsupported_events(version)
    if not missing:
        return Check(
            "hook-events", True, f"all {len(settings.EVENTS)} events selfdistill records exist"
        )
    needed = max(EVENT_SINCE[e] for e in missing)
    return Check(
        "hook-events",
        False,
        f"Claude Code {dotted(version)} does not send {', '.join(missing)}",
        f"update Claude Code to {dotted(needed)} or later ('claude update')",
    )


# --- config, model backend and MCP ----------------------------------------------------------------


def check_config(setup: Setup) -> Check:
    from selfdistill.config import load_config

    try:
        config = load_config(setup.project)
    except FatalError as error:
        return Check("config", False, str(error), "fix the config file named above")
    where = ", ".join(config.sources) or "no config file, the defaults"
    return Check("config", True, f"{where}: mode {config.mode}, minSessions {config.min_sessions}")


def check_model(setup: Setup) -> Check:
    from selfdistill.config import load_config

    try:
        config = load_config(setup.project)
    except FatalError:
        return Check("model", True, "not checked: the config cannot be read (see config)")
    llm = config.llm
    if not llm.enabled:
        return Check("model", True, "not configured: lessons come from the heuristics")
    if not os.environ.get("ANTHROPIC_API_KEY"):
        return Check(
            "model",
            False,
            f"llm.enabled is set (model {llm.model}) but ANTHROPIC_API_KEY is not",
            "export ANTHROPIC_API_KEY where Claude Code runs, or set llm.enabled to false",
        )
    if not module_available("anthropic"):
        return Check(
            "model", False, "the anthropic package is missing", "pip install 'anthropic>=0.40'"
        )
    return Check("model", True, f"model {llm.model} with a key (budget ${llm.run_budget_usd}/run)")


def module_available(name: str, *inside: str) -> bool:
    """Whether package `name` (with the subpackage path `inside`) is installed, without importing
    it: the MCP SDK alone takes a second to import."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    places = spec.submodule_search_locations or ()
    return not inside or any(Path(place, *inside).is_dir() for place in places)


def check_mcp() -> Check:
    if module_available("mcp", "server", "mcpserver"):
        return Check("mcp", True, "'selfdistill mcp' is available")
    from selfdistill.commands.mcp import install_hint

    return Check("mcp", True, f"'selfdistill mcp': {install_hint()}")
