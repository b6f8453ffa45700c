"""Our hook registrations in a project's `.claude/settings.json`, merged into what the user has.

Claude Code's schema: {"hooks": {"Event": [{"matcher": "...", "hooks": [{"type": "command",
"command": "...", "timeout": N}]}]}}. Our entries are the ones whose command runs
`<...>/selfdistill hook <Event>` (or `<python> -m selfdistill hook <Event>`, or
`<python> <...>/selfdistill/entry.py hook <Event>`, the launcher without the console script's
start-up cost); everything else in
the file is the user's and is kept as it is, in its order. All functions here are pure: they take
parsed settings and return new ones; reading and writing the file is done by the caller.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selfdistill.errors import FatalError

# The events we record. Tool events filter on the tool name: "*" is every tool. The others take
# no matcher or match on a source/reason we want all of, and an absent matcher matches everything.
EVENTS = (
    "SessionStart",
    "UserPromptSubmit",
    "PostToolUse",
    "PostToolUseFailure",
    "Stop",
    "SubagentStop",
    "PreCompact",
    "SessionEnd",
)
TOOL_EVENTS = frozenset({"PostToolUse", "PostToolUseFailure"})
# Our hook returns in milliseconds; a low bound keeps a hung disk from holding the agent long.
TIMEOUT_SECONDS = 10

Settings = dict[str, Any]
# Which entries of ours belong to the installation at hand (several can take turns on one file).
Mine = Callable[[object], bool]


@dataclass(frozen=True)
class Merge:
    """New settings and the containers (e.g. "hooks", "hooks/Stop") that did not exist before."""

    settings: Settings
    created: tuple[str, ...]


BOM = "\ufeff"


def bom_problem(path: Path) -> str:
    """JSON has no byte order mark; json.loads would say so in Python's words."""
    return (
        f"{path} begins with a byte order mark (BOM), which JSON does not allow; "
        "save it as UTF-8 without one"
    )


def parse(text: str | None, path: Path) -> Settings:
    """Parsed settings; None or blank text is an empty object. Anything malformed is refused."""
    if text is None or not text.strip():
        return {}
    if text.startswith(BOM):
        raise FatalError(f"{bom_problem(path)} and run again; nothing was changed")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise FatalError(
            f"{path} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}); "
            "fix it and run again, nothing was changed"
        ) from error
    if not isinstance(data, dict):
        raise FatalError(f"{path} must hold a JSON object; nothing was changed")
    hooks = data.get("hooks", {})
    if not isinstance(hooks, dict):
        raise FatalError(f'{path}: "hooks" must be an object; nothing was changed')
    for event in EVENTS:
        if not isinstance(hooks.get(event, []), list):
            raise FatalError(f'{path}: "hooks"."{event}" must be a list; nothing was changed')
    return data


def hook_entry(command: str) -> dict[str, Any]:
    return {"type": "command", "command": command, "timeout": TIMEOUT_SECONDS}


def event_of(entry: object) -> str | None:
    """The event an entry of ours records, or None when the entry is not ours."""
    if not isinstance(entry, dict) or not isinstance(entry.get("command"), str):
        return None
    try:
        words = shlex.split(entry["command"])
    except ValueError:
        return None
    if len(words) < 3 or words[-2] != "hook":
        return None
    program = words[:-2]
    runs_script = len(program) == 1 and os.path.basename(program[0]) == "selfdistill"
    runs_module = len(program) == 3 and program[1:] == ["-m", "selfdistill"]
    return words[-1] if runs_script or runs_module or _runs_launcher(program) else None


def _runs_launcher(program: list[str]) -> bool:
    """`<python> <...>/selfdistill/entry.py`: the package's entry module run as a file."""
    if len(program) != 2:
        return False
    folder, name = os.path.split(program[1])
    return name == "entry.py" and os.path.basename(folder) == "selfdistill"


def hook_program(command: str) -> list[str] | None:
    """The program a hook command of ours runs (`<python> <...>/entry.py`, `<...>/selfdistill`,
    `<python> -m selfdistill`): its words before `hook EVENT`."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if "hook" not in words:
        return None
    return words[: words.index("hook")] or None


def has_ours(data: Settings) -> bool:
    """Whether any entry of ours is registered, under any event."""
    groups = data.get("hooks", {}).values()
    return any(event_of(e) for g in groups if isinstance(g, list) for e in _group_entries(g))


def commands_of(data: Settings) -> set[str]:
    """The commands of every selfdistill entry, under any event."""
    groups = data.get("hooks", {}).values()
    entries = [e for g in groups if isinstance(g, list) for e in _group_entries(g)]
    return {e["command"] for e in entries if is_selfdistill(e)}


def with_hooks(data: Settings, commands: Mapping[str, str]) -> Merge:
    """`data` with exactly one entry of ours per event, running commands[event].

    An entry of ours already there is updated in place (its group and matcher may have been
    tuned by the user); extra copies are dropped; a missing one is appended in a group of its own.
    """
    new = copy.deepcopy(data)
    created: list[str] = []
    if "hooks" not in new:
        created.append("hooks")
    hooks = new.setdefault("hooks", {})
    for event, command in commands.items():
        if event not in hooks:
            created.append(f"hooks/{event}")
        groups = hooks.setdefault(event, [])
        if not _keep_one(groups, event, hook_entry(command)):
            group: dict[str, Any] = {"matcher": "*"} if event in TOOL_EVENTS else {}
            group["hooks"] = [hook_entry(command)]
            groups.append(group)
    return Merge(new, tuple(created))


def is_selfdistill(entry: object) -> bool:
    """Whether an entry runs any selfdistill installation's hook."""
    return event_of(entry) is not None


def running(commands: Collection[str] | None) -> Mine:
    """Entries of ours that run one of `commands`; every selfdistill entry when None (unknown)."""
    if commands is None:
        return is_selfdistill
    known = frozenset(commands)
    return lambda entry: is_selfdistill(entry) and entry["command"] in known  # type: ignore[index]


def without_hooks(
    data: Settings,
    created: tuple[str, ...] | None,
    mine: Mine = is_selfdistill,
    put_back: Mapping[str, Any] | None = None,
) -> Settings:
    """`data` with every entry that `mine` accepts removed.

    `put_back` holds, by event, the entries of other installations that install pointed at us:
    each goes back in place of ours, unless that event has another installation's entry again. A
    group left empty by the removal goes; so does an event list or the "hooks" object left empty
    by it, if we created it: `created` lists those; None (no record) means any we emptied.
    """
    new = copy.deepcopy(data)
    hooks = new.get("hooks")
    if not isinstance(hooks, dict):
        return new
    others = others_entries(new, mine)
    restore = {event: e for event, e in (put_back or {}).items() if event not in others}
    for event in list(hooks):
        groups = hooks[event]
        if not isinstance(groups, list) or not _drop_mine(groups, mine, restore):
            continue
        if not groups and (created is None or f"hooks/{event}" in created):
            del hooks[event]
    emptied = not hooks and bool(data["hooks"])
    if emptied and (created is None or "hooks" in created):
        del new["hooks"]
    return new


def render(data: Settings, like: str | None) -> str:
    """JSON text in the style of `like` (the file's current text): its indent, final newline and
    line ends. A compact file comes out indented by two spaces."""
    found = re.search(r"\n([ \t]+)\S", like or "")
    text = json.dumps(data, indent=found.group(1) if found else 2, ensure_ascii=False)
    if like is None or like.endswith("\n") or not like.strip():
        text += "\n"
    if like and "\r\n" in like:
        text = text.replace("\n", "\r\n")
    return text


def _group_entries(groups: list[Any]) -> list[Any]:
    return [entry for group in groups for entry in _entries(group)]


def _entries(group: object) -> list[Any]:
    entries = group.get("hooks") if isinstance(group, dict) else None
    return entries if isinstance(entries, list) else []


def _keep_one(groups: list[Any], event: str, wanted: dict[str, Any]) -> bool:
    """Point the first entry of ours for `event` at wanted["command"] (keeping any other key the
    user tuned, like its timeout) and drop further copies; False when there is none."""
    found = [(g, i) for g in groups for i, e in enumerate(_entries(g)) if event_of(e) == event]
    if not found:
        return False
    first_group, first_index = found[0]
    entry = first_group["hooks"][first_index]
    if entry["command"] != wanted["command"]:
        first_group["hooks"][first_index] = {**entry, "command": wanted["command"]}
    for group, index in reversed(found[1:]):
        del group["hooks"][index]
    _drop_emptied(groups, [g for g, _ in found[1:]])
    return True


def others_entries(data: Settings, mine: Mine) -> dict[str, Any]:
    """Other installations' entries (selfdistill's, not `mine`): the first for each event."""
    found: dict[str, Any] = {}
    for groups in data.get("hooks", {}).values():
        for entry in _group_entries(groups) if isinstance(groups, list) else ():
            event = event_of(entry)
            if event and not mine(entry):
                found.setdefault(event, entry)
    return found


def _drop_mine(groups: list[Any], mine: Mine, put_back: dict[str, Any]) -> bool:
    """Remove our entries, or put `put_back`'s entry for their event in place of the first one;
    then drop the groups left with no hooks. True if any entry of ours was there."""
    touched = [g for g in groups if any(mine(e) for e in _entries(g))]
    for group in touched:
        group["hooks"] = [kept for e in group["hooks"] for kept in _replacement(e, mine, put_back)]
    _drop_emptied(groups, touched)
    return bool(touched)


def _replacement(entry: object, mine: Mine, put_back: dict[str, Any]) -> list[Any]:
    """What stands in an entry's place: itself if not ours, else what install replaced (once)."""
    if not mine(entry):
        return [entry]
    previous = put_back.pop(event_of(entry) or "", None)
    return [copy.deepcopy(previous)] if previous is not None else []


def _drop_emptied(groups: list[Any], touched: list[Any]) -> None:
    """Drop the groups we removed entries from that have none left (not a user's empty group)."""
    emptied = {id(g) for g in touched if not g["hooks"]}
    groups[:] = [g for g in groups if id(g) not in emptied]
