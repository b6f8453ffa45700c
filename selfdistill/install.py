"""`selfdistill install` / `uninstall`: hook registrations in .claude/settings.json, git hook.

Uninstall must put back exactly what was there. The settings file's text before our first change
is kept in SELFDISTILL_HOME (install.json of the project's state) with the containers we
created and the hook commands we registered; uninstall writes that text back byte for byte when
what remains without our entries is what the user had, and otherwise removes our entries alone.

Several installations (another SELFDISTILL_HOME, another environment) can meet in one file. Install
leaves the hooks of another one whose program is still there alone and refuses, naming its
uninstall command: two live installations would record everything twice and would have to be
uninstalled in the right order. The hooks of one whose program is gone are pointed at this one;
uninstall puts them back (they are in the text it restores, or put back entry by entry after a
user's edit), and an installation whose hooks another one has taken over leaves them alone.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from selfdistill import claudemd, git, githook, hookusers, journal, settings, skills
from selfdistill.atomic import read_bytes, write_atomic
from selfdistill.errors import FatalError, UserError
from selfdistill.paths import ProjectState
from selfdistill.store import ensure_state

_SETTINGS_CHANGES = frozenset(
    {"registered", "updated", "replaced", "removed", "restored", "deleted"}
)
_NO_GIT_NOTHING_TO_DO = (
    "none to remove (git is not installed, so git was not asked; selfdistill put no git hook in "
    "for this project)"
)
_GIT_CHANGES = frozenset({"installed", "updated", "removed", "restored", "kept"})


@dataclass(frozen=True)
class SettingsChange:
    path: Path
    # registered | updated | replaced (another installation's hooks) | unchanged | removed |
    # restored | deleted | absent | foreign (only another installation's hooks are there)
    action: str


@dataclass(frozen=True)
class Report:
    settings: SettingsChange
    git: githook.GitHookChange | None
    git_note: str | None = None  # why there is no git hook change
    undone: str | None = None  # what uninstall could not do: the command then exits 1
    published: tuple[Path, ...] = ()  # uninstall: where published lessons stay

    def changed(self) -> bool:
        return self.settings.action in _SETTINGS_CHANGES or (
            self.git is not None and self.git.action in _GIT_CHANGES
        )


@dataclass(frozen=True)
class Record:
    """What the settings file was before our first change, kept until uninstall."""

    original: str | None  # None: there was no settings file
    created: tuple[str, ...]
    claude_dir_created: bool
    commands: tuple[str, ...] | None  # what we registered; None: a record older than this field
    # Other installations' entries, by event, that install pointed at itself: uninstall puts them
    # back. None: a record older than this field (they are then read from `original`).
    replaced: dict[str, Any] | None


def selfdistill_argv() -> list[str]:
    """How a hook runs this selfdistill, whatever the user's PATH or active virtualenv.

    The environment's interpreter (not resolved: a venv's python is a symlink to a base interpreter
    that does not have our package) running selfdistill/entry.py as a script. Not the console
    script: pip's wrapper imports `re` before our code runs, which alone costs about half a bare
    interpreter start on every tool call (bench/hook_latency.py).
    """
    from selfdistill import entry

    return [os.path.abspath(sys.executable), os.path.abspath(entry.__file__)]


def hook_commands(argv: list[str]) -> dict[str, str]:
    return {event: shlex.join([*argv, "hook", event]) for event in settings.EVENTS}


def install(project: Path, with_git: bool = True) -> Report:
    project = _project_dir(project)
    root = _repo_root_for_install(project) if with_git else None  # before anything changes
    argv = selfdistill_argv()
    change = _install_settings(project, hook_commands(argv))
    if not with_git:
        return Report(change, None, "skipped (--no-git)")
    if root is None:
        return Report(change, None, "not a git repository: no git hook installed")
    hooks = git.hooks_dir(project)
    with hookusers.changing() as users:
        hook_change = githook.install_git_hook(hooks, shlex.join(argv))
        hookusers.add(users, hooks, project)
    return Report(change, hook_change)


def uninstall(project: Path) -> Report:
    project = _project_dir(project)
    report = _uninstall_git(project, _uninstall_settings(project))
    return replace(report, published=published_lessons(project))


def _uninstall_git(project: Path, change: SettingsChange) -> Report:
    try:
        root = git.repo_root(project)
    except git.GitMissing:
        return _uninstall_without_git(change, project)
    if root is None:
        return Report(change, None, "not a git repository")
    hooks = git.hooks_dir(project)
    with hookusers.changing() as users:
        others = hookusers.remove(users, hooks, project, lambda other: _uses_hooks(other, hooks))
        hook = hooks / githook.HOOK_NAME
        if others and githook.is_ours(hook):
            return Report(change, githook.GitHookChange(hook, "kept", users=others))
        return Report(change, githook.uninstall_git_hook(hooks))


def _repo_root_for_install(project: Path) -> Path | None:
    try:
        return git.repo_root(project)
    except git.GitMissing as missing:
        raise UserError(
            f"{missing}: install git, or run `selfdistill install --no-git` to go without the git "
            "post-commit hook; nothing was changed"
        ) from missing


def _uninstall_without_git(change: SettingsChange, project: Path) -> Report:
    """The hooks are gone; a git hook can be neither found nor checked without git. The record of
    hook users says whether install put one in for this project: if so, it is left to do."""
    folders = hookusers.folders_of(project)
    if not folders:
        return Report(change, None, _NO_GIT_NOTHING_TO_DO)
    return Report(
        change,
        None,
        "not removed",
        f"git is not installed, so the git post-commit hook in {folders[0]} is still there: "
        "run `selfdistill uninstall` again where git is installed",
    )


def published_lessons(project: Path) -> tuple[Path, ...]:
    """Where lessons selfdistill published still are: CLAUDE.md holding our block, and the skills
    we still own. Install did not add them, so uninstall leaves them, but says so."""
    claude_md = project / "CLAUDE.md"
    block = [claude_md] if _holds_block(claude_md) else []
    return (*block, *_owned_skills(project))


def _holds_block(path: Path) -> bool:
    try:
        data = read_bytes(path)
        return data is not None and claudemd.split(data).region is not None
    except claudemd.MalformedBlock:
        return True  # our markers are there, out of order: still ours to mention
    except OSError:
        return False  # unreadable: nothing we can say about it


def _owned_skills(project: Path) -> list[Path]:
    """Skills in the registry whose file still holds the bytes we wrote (an edited one is the
    user's, and no command of ours takes it out)."""
    state = ProjectState.for_project(project)
    try:
        owned = skills.load_registry(journal.registry_path(state)).owned
    except (FatalError, OSError):
        return []  # unreadable: `selfdistill lessons` says why when the user runs it
    paths = [(skills.skill_path(project, name), record.sha256) for name, record in owned.items()]
    return [path for path, sha in paths if _digest(path) == sha]


def _digest(path: Path) -> str | None:
    try:
        return skills.digest(path.read_bytes())
    except OSError:
        return None


def _uses_hooks(project: Path, hooks: Path) -> bool:
    """Whether `project` is still a repository whose commits run the hooks in `hooks`."""
    try:
        if not project.is_dir() or git.repo_root(project) is None:
            return False
        return os.path.realpath(git.hooks_dir(project)) == os.path.realpath(hooks)
    except FatalError:
        return False


def settings_path(project: Path) -> Path:
    return project / ".claude" / "settings.json"


def record_path(project: Path) -> Path:
    return ProjectState.for_project(project).install_record


def _project_dir(project: Path) -> Path:
    if not project.is_dir():
        raise UserError(f"no such project directory: {project}")
    return Path(os.path.abspath(project))


def _install_settings(project: Path, commands: dict[str, str]) -> SettingsChange:
    path = settings_path(project)
    text = _read_text(path)
    before = settings.parse(text, path)
    merge = settings.with_hooks(before, commands)
    if text is not None and merge.settings == before:
        return SettingsChange(path, "unchanged")
    record = _load_record(project)
    action = _install_action(before, record)
    ours_before = record.commands if record and record.commands else ()
    if action == "replaced":
        _refuse_a_live_installation(before, {*ours_before, *commands.values()}, path, project)
    replaced = settings.others_entries(before, settings.running({*ours_before, *commands.values()}))
    found = Record(text, merge.created, not path.parent.exists(), (*commands.values(),), replaced)
    _save_record(project, _merged_record(record, found))
    _write(path, settings.render(merge.settings, text))
    return SettingsChange(path, action)


def _refuse_a_live_installation(
    before: settings.Settings, ours: set[str], path: Path, project: Path
) -> None:
    """Another selfdistill installation's hooks are its own to remove while its program is
    there: taking them over would leave two installations to uninstall in the right order.
    Those of one whose program is gone (a deleted environment) are taken over."""
    live = sorted(c for c in settings.commands_of(before) - ours if _still_there(c))
    if live:
        program = settings.hook_program(live[0]) or [live[0]]
        uninstall_it = shlex.join([*program, "uninstall", "--project", str(project)])
        raise UserError(
            f"the hooks in {path} run another selfdistill installation ({program[0]}): "
            f"uninstall it first (`{uninstall_it}`), then install again; nothing was changed"
        )


def _still_there(command: str) -> bool:
    program = settings.hook_program(command)
    return program is not None and all(os.path.exists(p) for p in program if os.path.isabs(p))


def _install_action(before: settings.Settings, record: Record | None) -> str:
    """registered, updated (our own hooks, e.g. from a moved environment) or replaced (the hooks
    of another installation, which this one has no record of registering)."""
    if not settings.has_ours(before):
        return "registered"
    if record is None:
        return "replaced"
    if record.commands is None:
        return "updated"
    return "updated" if settings.commands_of(before) <= set(record.commands) else "replaced"


def _uninstall_settings(project: Path) -> SettingsChange:
    path = settings_path(project)
    text = _read_text(path)
    record = _load_record(project)
    if text is None:
        _forget_record(project)
        return SettingsChange(path, "absent")
    current = settings.parse(text, path)
    remaining = _without_ours(current, record, path)
    if remaining == current:
        _forget_record(project)
        return SettingsChange(path, "foreign" if settings.has_ours(current) else "unchanged")
    if record and record.original is not None and _same(record.original, remaining, path):
        _write(path, record.original)
        action = "restored"
    elif record and record.original is None and not remaining:
        _delete(path, record.claude_dir_created)
        action = "deleted"
    else:
        _write(path, settings.render(remaining, text))
        action = "removed"
    _forget_record(project)
    return SettingsChange(path, action)


def _without_ours(
    current: settings.Settings, record: Record | None, path: Path
) -> settings.Settings:
    """`current` without this installation's hooks, the ones they replaced put back."""
    if record is None:  # e.g. SELFDISTILL_HOME was wiped: every selfdistill hook goes
        return settings.without_hooks(current, None)
    known = None
    if record.commands is not None:  # and our present commands, should the file hold them
        known = {*record.commands, *hook_commands(selfdistill_argv()).values()}
    mine = settings.running(known)
    put_back = record.replaced
    if put_back is None:
        put_back = settings.others_entries(_parsed(record.original, path), mine)
    return settings.without_hooks(current, record.created, mine, put_back)


def _parsed(text: str | None, path: Path) -> settings.Settings:
    try:
        return settings.parse(text, path)
    except FatalError:
        return {}  # the user's file was not JSON then: nothing of another install to put back


def _same(original: str, remaining: settings.Settings, path: Path) -> bool:
    try:
        return settings.parse(original, path) == remaining
    except FatalError:
        return False


def _read_text(path: Path) -> str | None:
    try:
        # Bytes, not read_text: universal newlines would hide the file's own line ends.
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as error:
        raise FatalError(f"{path} is not UTF-8 text; nothing was changed") from error
    except OSError as error:
        raise FatalError(f"cannot read {path}: {error.strerror}") from error


def _write(path: Path, text: str) -> None:
    try:
        write_atomic(path, text.encode("utf-8"))
    except OSError as error:
        raise FatalError(f"cannot write {path}: {error.strerror}") from error


def _delete(path: Path, remove_dir: bool) -> None:
    try:
        path.unlink()
        if remove_dir and not any(path.parent.iterdir()):
            path.parent.rmdir()
    except OSError as error:
        raise FatalError(f"cannot remove {path}: {error.strerror}") from error


def _load_record(project: Path) -> Record | None:
    try:
        raw = json.loads(record_path(project).read_text(encoding="utf-8"))["settings"]
        original, commands, replaced = raw["original"], raw.get("commands"), raw.get("replaced")
        return Record(
            original if isinstance(original, str) else None,
            tuple(str(c) for c in raw["created"]),
            bool(raw["claudeDirCreated"]),
            tuple(str(c) for c in commands) if isinstance(commands, list) else None,
            dict(replaced) if isinstance(replaced, dict) else None,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no record (or an unreadable one): uninstall falls back to removing ours


def _merged_record(old: Record | None, found: Record) -> Record:
    """Keep the first original; later installs only add the containers and commands they add."""
    if old is None:
        return found
    # A record from before commands were kept stays without: which were ours is unknown.
    commands = None if old.commands is None else (*old.commands, *(found.commands or ()))
    replaced = None if old.replaced is None else {**old.replaced, **(found.replaced or {})}
    return Record(
        old.original,
        tuple(dict.fromkeys(old.created + found.created)),
        old.claude_dir_created,
        None if commands is None else tuple(dict.fromkeys(commands)),
        replaced,
    )


def _save_record(project: Path, record: Record) -> None:
    body = {
        "settings": {
            "original": record.original,
            "created": list(record.created),
            "claudeDirCreated": record.claude_dir_created,
            "commands": None if record.commands is None else list(record.commands),
            "replaced": record.replaced,
        }
    }
    try:
        ensure_state(ProjectState.for_project(project))  # 0700: the state is the user's alone
        text = json.dumps(body, indent=2) + "\n"
        write_atomic(record_path(project), text.encode("utf-8"), mode=0o600)
    except OSError as error:
        raise FatalError(f"cannot write {record_path(project)}: {error.strerror}") from error


def _forget_record(project: Path) -> None:
    try:
        record_path(project).unlink()
    except FileNotFoundError:
        pass
    except OSError as error:
        raise FatalError(f"cannot remove {record_path(project)}: {error.strerror}") from error
