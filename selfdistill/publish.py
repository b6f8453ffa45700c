"""Publishing: put the active, vetted lessons where Claude Code reads them, and journal it.

A lesson with steps is a procedure and becomes a skill (Claude Code lists skills by description
and loads one when it applies); every other lesson is one line in the CLAUDE.md block, which is
loaded into every session. Each publish replaces the previous published set: a lesson that is no
longer active disappears from the block, and a skill we own for it is removed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from selfdistill import claudemd, guard, journal, skills
from selfdistill.atomic import (
    MAX_ATTEMPTS,
    cannot_write,
    read_bytes,
    real_target,
    remove_if_unchanged,
    remove_stale_temps,
    replace_if_unchanged,
)
from selfdistill.config import PublishConfig
from selfdistill.logs import log_error
from selfdistill.model import Lesson
from selfdistill.paths import ProjectState


@dataclass(frozen=True)
class PublishResult:
    changed: tuple[str, ...]  # paths written or removed
    skipped: tuple[tuple[str, str], ...]  # (lesson id, reason it was not published)
    errors: tuple[str, ...] = ()  # what kept a file from being written: the next run tries again


@dataclass(frozen=True)
class _Outcome:
    changed: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class _BlockWrite:
    """What CLAUDE.md becomes (None: deleted, as we created it and nothing is left), journaled."""

    new: bytes | None
    entry: journal.Entry


CLAUDE_MD_OFF = "publishing to CLAUDE.md is off (publish.claudeMd)"
OVER_BUDGET = "left out of CLAUDE.md: over its size budget"


def claude_md_path(state: ProjectState) -> Path:
    return state.project / "CLAUDE.md"


def publish(
    state: ProjectState,
    lessons: Sequence[Lesson],
    run_id: str,
    options: PublishConfig | None = None,
) -> PublishResult:
    """Publish exactly the given lessons that are active and pass the safety gate.

    With `publish.skills` off, procedures are lines in the block like the other lessons; with
    `publish.claudeMd` off, the block shows none. What either had published is taken out.
    """
    options = options or PublishConfig()
    procedures, lines, skipped = _placed(lessons, options)
    with journal.locked(state):
        done = [
            _publish_skills(state, procedures, run_id),
            _publish_block(state, lines, run_id, options),
        ]
    changed = tuple(path for outcome in done for path in outcome.changed)
    skipped += [item for outcome in done for item in outcome.skipped]
    errors = tuple(error for outcome in done for error in outcome.errors)
    return PublishResult(changed, tuple(skipped), errors)


def _placed(
    lessons: Sequence[Lesson], options: PublishConfig
) -> tuple[list[Lesson], list[Lesson], list[tuple[str, str]]]:
    """Where each active lesson goes: (skills, block lines, skipped with the reason)."""
    vetted: list[Lesson] = []
    skipped: list[tuple[str, str]] = []
    for lesson in lessons:
        if lesson.status != "active":
            continue
        # Checked again although the distiller checks too: this is the last door.
        reason = guard.check_lesson(lesson)
        if reason:
            skipped.append((lesson.id, reason))
        else:
            vetted.append(lesson)
    procedures = [lesson for lesson in vetted if lesson.steps and options.skills]
    lines = [lesson for lesson in vetted if not (lesson.steps and options.skills)]
    if not options.claude_md:
        skipped += [(lesson.id, CLAUDE_MD_OFF) for lesson in lines]
        lines = []
    return procedures, lines, skipped


def block_shows(state: ProjectState, lessons: Sequence[Lesson], options: PublishConfig) -> bool:
    """Does CLAUDE.md's block show the lessons a publish would put there (the ones that fit)?"""
    data = read_bytes(real_target(claude_md_path(state))) or b""
    try:
        region = claudemd.split(data).region
    except claudemd.MalformedBlock:
        return True  # not ours to mend: publishing would refuse it too
    lines = _placed(lessons, options)[1]
    budget = (options.max_block_lines, options.max_block_bytes)
    wanted = claudemd.render(lines, claudemd.line_ending(data), *budget).included
    return set(claudemd.block_ids(region or b"")) == set(wanted)


def _publish_block(
    state: ProjectState, lessons: Sequence[Lesson], run_id: str, options: PublishConfig
) -> _Outcome:
    path = real_target(claude_md_path(state))
    remove_stale_temps(path)  # a run killed mid-write leaves one in the user's project
    try:
        for _ in range(MAX_ATTEMPTS):
            data = read_bytes(path)
            write, left_out = _block_write(state, path, data, lessons, options)
            if write is None:
                return _Outcome(skipped=left_out)
            if _put(path, data, write.new):
                journal.record(state, run_id, write.entry)
                return _Outcome((str(path),), left_out)
    except claudemd.MalformedBlock as error:
        log_error("publish: CLAUDE.md refused", str(error), state.project_dir)
        return _failed(lessons, str(error))
    except OSError as error:  # a read-only file or folder, a full disk: the next run tries again
        message = str(cannot_write(path, error))
        log_error("publish: CLAUDE.md not written", message, state.project_dir)
        return _failed(lessons, message)
    return _failed(lessons, "CLAUDE.md kept changing while publishing; will try again next run")


def _block_write(
    state: ProjectState,
    path: Path,
    data: bytes | None,
    lessons: Sequence[Lesson],
    options: PublishConfig,
) -> tuple[_BlockWrite | None, tuple[tuple[str, str], ...]]:
    """The write that makes the block show `lessons` (None: none needed), and who was left out."""
    current = data or b""
    region = claudemd.split(current).region
    if not lessons:
        return (None if region is None else _taken_out(state, path, current, region)), ()
    eol = claudemd.line_ending(current)
    rendered = claudemd.render(lessons, eol, options.max_block_lines, options.max_block_bytes)
    left_out = tuple((item, OVER_BUDGET) for item in rendered.left_out)
    if region == rendered.region:
        return None, left_out
    new, separator, trailer = claudemd.splice(current, rendered.region)
    entry = journal.Entry(
        "claude_md",
        str(path),
        journal.encode(region),
        journal.encode(rendered.region),
        journal.encode(separator) or "",
        journal.encode(trailer) or "",
        created_file=data is None,
        tail=journal.encode(claudemd.last_line(current) if separator else None),
    )
    return _BlockWrite(new, entry), left_out


def _taken_out(state: ProjectState, path: Path, data: bytes, region: bytes) -> _BlockWrite | None:
    """No lesson left to show: the file goes back to what it was before the block came in.

    The journal says what that was (nothing, or markers the user had placed) and what came in with
    the block. A block the journal does not know of is the user's: it stays.
    """
    origin = journal.block_origin(state, str(path))
    if origin is None or origin.before == region:
        return None
    new = claudemd.restore(data, origin.before, origin.separator, origin.trailer, origin.tail)
    gone = origin.created_file and not new
    entry = journal.Entry(
        "claude_md",
        str(path),
        journal.encode(region),
        journal.encode(origin.before),
        journal.encode(origin.separator) or "",
        journal.encode(origin.trailer) or "",
        deleted_file=gone,
        tail=journal.encode(origin.tail),
    )
    return _BlockWrite(None if gone else new, entry)


def _put(path: Path, data: bytes | None, new: bytes | None) -> bool:
    """Write (None: delete) unless the file changed since it was read as `data`."""
    if new is None:
        return data is not None and remove_if_unchanged(path, data)
    return replace_if_unchanged(path, data, new)


def _failed(lessons: Sequence[Lesson], reason: str) -> _Outcome:
    return _Outcome(skipped=tuple((lesson.id, reason) for lesson in lessons), errors=(reason,))


def _publish_skills(state: ProjectState, lessons: Sequence[Lesson], run_id: str) -> _Outcome:
    registry = skills.load_registry(journal.registry_path(state))
    plan = skills.plan(state.project, registry, lessons)
    owned = dict(plan.registry.owned)
    released = dict(plan.registry.released)
    changed: list[str] = []
    skipped = list(plan.skipped)
    errors: list[str] = []
    for change in plan.changes:
        try:
            applied = _apply_skill(change)
        except OSError as error:  # not written: as it was, so ownership is as it was
            errors.append(str(cannot_write(change.path, error)))
            log_error("publish: a skill not written", errors[-1], state.project_dir)
            skipped.append((change.lesson, errors[-1]))
            _keep_as_it_was(change, registry, owned)
            continue
        if applied:
            entry = journal.Entry(
                "skill",
                str(change.path),
                journal.encode(change.before),
                journal.encode(change.after),
                lesson=change.lesson,
                name=change.name,
            )
            journal.record(state, run_id, entry)
            changed.append(str(change.path))
        else:
            # Someone else wrote it meanwhile: it is theirs now (a new name was theirs first).
            owned.pop(change.name, None)
            if change.before is not None:
                released[change.lesson] = change.name
            skipped.append((change.lesson, f"skill '{change.name}' changed while publishing"))
    skills.save_registry(journal.registry_path(state), skills.Registry(owned, released))
    return _Outcome(tuple(changed), tuple(skipped), tuple(errors))


def _keep_as_it_was(
    change: skills.SkillChange, registry: skills.Registry, owned: dict[str, skills.Owned]
) -> None:
    """Ownership of a skill left as it was: ours before (and still there), or not."""
    if change.name in registry.owned:
        owned[change.name] = registry.owned[change.name]
    else:
        owned.pop(change.name, None)


def _apply_skill(change: skills.SkillChange) -> bool:
    remove_stale_temps(change.path)
    if change.after is not None:
        return replace_if_unchanged(change.path, change.before, change.after)
    assert change.before is not None  # a removal always removes what we wrote
    if not remove_if_unchanged(change.path, change.before):
        return False
    with contextlib.suppress(OSError):
        change.path.parent.rmdir()  # only when empty: other files in it are not ours
    return True
