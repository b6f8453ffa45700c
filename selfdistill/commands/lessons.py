"""`selfdistill lessons [list|show ID|approve ID|reject ID]`: see and decide on lessons."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from selfdistill.errors import UserError
from selfdistill.model import LESSON_STATUSES, Lesson
from selfdistill.output import emit_json
from selfdistill.paths import ProjectState

if TYPE_CHECKING:
    from selfdistill.lessons import Policy

ACTIONS = ("list", "show", "approve", "reject")
# What `list --status` picks by: a stored status, or "awaiting" as the list shows it.
SHOWN_STATUSES = ("awaiting", *LESSON_STATUSES)


@click.command(name="lessons")
@click.argument("action", required=False, default="list", type=click.Choice(ACTIONS))
@click.argument("lesson_id", required=False)
@click.option(
    "--project",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Project directory (default: the current one).",
)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(SHOWN_STATUSES),
    help="List only lessons with this status (repeatable; 'candidate' includes 'awaiting').",
)
@click.option("--json", "as_json", is_flag=True, help="Print data as JSON only.")
def command(
    action: str,
    lesson_id: str | None,
    project: Path | None,
    statuses: tuple[str, ...],
    as_json: bool,
) -> None:
    """List lessons, show one (an id prefix is enough), approve or reject one."""
    from selfdistill import distill, lessons

    state = distill.project_state(project or Path.cwd())
    stored = lessons.read_lessons(state)
    policy = lessons.project_policy(state)
    if action == "list":
        if lesson_id:
            raise UserError("'lessons list' takes no id")
        show_list(by_status(stored, statuses, policy), policy, as_json, filtered=bool(statuses))
        return
    if statuses:
        raise UserError(f"--status picks lessons to list, not to {action}")
    if not lesson_id:
        raise UserError(f"'lessons {action}' needs a lesson id (see 'selfdistill lessons')")
    lesson = pick(stored, lesson_id)
    if action == "show":
        show_one(lesson, policy, as_json)
        return
    updated, published = decide(state, lesson.id, "active" if action == "approve" else "rejected")
    if as_json:
        emit_json({"lesson": record(updated, policy), "published": list(published)})
    else:
        click.echo(f"{updated.id} is now {updated.status}")
        for path in published:  # a file selfdistill created goes when nothing is left in it
            click.echo(f"  {'updated' if Path(path).exists() else 'removed'} {path}")


def record(lesson: Lesson, policy: Policy) -> dict[str, Any]:
    """A lesson as `--json` shows it: the stored record, and whether it waits for the user."""
    from selfdistill import lessons

    return {**lessons.to_dict(lesson), "awaitingApproval": lessons.awaits_approval(lesson, policy)}


def approve_hint(count: int, where: str = "") -> str:
    """The line `lessons` and `run` end with when lessons await approval: what to run."""
    many = "lesson awaits" if count == 1 else "lessons await"
    return f"{count} {many} your approval{where}: 'selfdistill lessons approve ID' (or 'reject ID')"


def pick(stored: tuple[Lesson, ...], prefix: str) -> Lesson:
    from selfdistill import lessons

    found = lessons.find(stored, prefix)
    if found is None:
        many = sum(lesson.id.startswith(prefix.lower()) for lesson in stored)
        raise UserError(
            f"id prefix '{prefix}' matches {many} lessons; give more characters"
            if many
            else f"no lesson with id '{prefix}'"
        )
    return found


def decide(state: ProjectState, lesson_id: str, status: str) -> tuple[Lesson, tuple[str, ...]]:
    """The user's decision, stored under the lock; then the published set follows it."""
    from selfdistill import distill, journal, lessons
    from selfdistill.config import load_config

    guard = distill.load_guard()
    now = distill.utc_now()

    def change(current: tuple[Lesson, ...]) -> tuple[Lesson, ...]:
        target = next((x for x in current if x.id == lesson_id), None)
        if target is None:
            raise UserError(f"lesson {lesson_id} disappeared from the store")
        if status == "active" and guard is not None:
            reason = guard(target)
            if reason:
                raise UserError(f"lesson {lesson_id} cannot be approved: {reason}")
        return tuple(
            lessons.set_status(x, status, now) if x.id == lesson_id else x for x in current
        )

    before = distill.active_view(lessons.read_lessons(state))
    final = lessons.update_lessons(state, change)
    if distill.active_view(final) == before:
        return next(x for x in final if x.id == lesson_id), ()
    options = load_config(state.project).publish
    result = distill.publish(state, final, journal.DECISION_PREFIX + distill.new_run_id(), options)
    if result.errors:
        raise UserError(
            f"lesson {lesson_id} is now {status}, but not written back: {result.errors[0]}"
        )
    final = lessons.read_lessons(state)  # publishing stamped publishedAt
    return next(x for x in final if x.id == lesson_id), result.changed


def by_status(
    stored: tuple[Lesson, ...], statuses: tuple[str, ...], policy: Policy
) -> tuple[Lesson, ...]:
    """The lessons whose stored or shown status is one of `statuses` (all when none given)."""
    from selfdistill import lessons

    if not statuses:
        return stored
    return tuple(
        lesson
        for lesson in stored
        if lesson.status in statuses
        or (lessons.awaits_approval(lesson, policy) and "awaiting" in statuses)
    )


def show_list(
    stored: tuple[Lesson, ...], policy: Policy, as_json: bool, filtered: bool = False
) -> None:
    from selfdistill import lessons

    if as_json:
        emit_json([record(lesson, policy) for lesson in stored])
        return
    if not stored:
        click.echo(
            "no lessons with that status" if filtered else "no lessons yet (run 'selfdistill run')"
        )
        return
    for lesson in stored:
        status = lessons.shown_status(lesson.status, lessons.awaits_approval(lesson, policy))
        click.echo(
            f"{lesson.id}  {status:<9} {lesson.kind:<10} "
            f"{lesson.sessions_seen:>2} session(s) +{lesson.helped}/-{lesson.hurt}  "
            f"{lesson.text()[:100]}"
        )
    awaiting = sum(lessons.awaits_approval(lesson, policy) for lesson in stored)
    if awaiting:
        click.echo(approve_hint(awaiting))


def status_text(lesson: Lesson, policy: Policy) -> str:
    from selfdistill import lessons

    if lessons.awaits_approval(lesson, policy):
        return (
            f"{lesson.status}, awaiting your approval "
            f"('selfdistill lessons approve {lesson.id}' or 'reject {lesson.id}')"
        )
    return lesson.status + (f" ({lesson.hold_reason})" if lesson.hold_reason else "")


def show_one(lesson: Lesson, policy: Policy, as_json: bool) -> None:
    from selfdistill.efficacy import judged_by

    if as_json:
        emit_json(record(lesson, policy))
        return
    lines = [
        f"id:         {lesson.id}",
        f"status:     {status_text(lesson, policy)}",
        f"kind:       {lesson.kind} ({lesson.scope}, from {lesson.signal or '?'}, {lesson.source})",
        f"trigger:    {lesson.trigger}",
        f"action:     {lesson.action}",
        f"confidence: {lesson.confidence}",
        f"sessions:   {lesson.sessions_seen} (helped {lesson.helped}, hurt {lesson.hurt})",
        f"judged by:  {judged_by(lesson.target)}",
    ]
    lines += [f"step:       {step}" for step in lesson.steps]
    for item in lesson.evidence:
        where = item.uuid or item.observation_id or "?"
        lines.append(f"evidence:   session {item.session_id} {where} ({item.signal or '?'})")
    click.echo("\n".join(lines))
