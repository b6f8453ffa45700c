"""What `selfdistill status` reports for one project, as a plain dict (CONTRACT field names).

Reads run manifests (state.runs/<id>.json, and the archive of old ones: see runs.py), the lesson
store (state.lessons), the observation store and the run lock. Any of them may be missing
(nothing ran yet): zeros and nulls then.
Unreadable manifests are skipped, never fatal: status is what people run when something is wrong.
A broken lesson store is an error, as in `lessons` and `report`: counting no lessons would hide it.
So is an invalid configuration, as in `lessons` and `run`: it sets what awaits approval.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from selfdistill.paths import ProjectState
from selfdistill.runs import load_runs, total_runs
from selfdistill.spawn import pending_path, run_lock_held
from selfdistill.store import count_observations, read_dropped

if TYPE_CHECKING:
    from selfdistill.model import Lesson


def load_lessons(state: ProjectState) -> tuple[Lesson, ...]:
    """The stored lessons; StateError when the store is unreadable or invalid."""
    from selfdistill.lessons import read_lessons

    return read_lessons(state)


def count_awaiting(state: ProjectState, stored: tuple[Lesson, ...]) -> int:
    """Lessons waiting for `lessons approve`, by the project's own mode and minSessions."""
    from selfdistill.lessons import awaits_approval, project_policy

    policy = project_policy(state)
    return sum(awaits_approval(lesson, policy) for lesson in stored)


def _error_text(run: dict[str, Any]) -> str | None:
    """A run's failure: its `error`, else the last of its `errors` (manifests use either)."""
    error = run.get("error")
    errors = run.get("errors")
    if not error and isinstance(errors, list) and errors:
        error = errors[-1]
    if isinstance(error, dict):
        error = error.get("message") or json.dumps(error)
    return str(error)[:500] if error else None


def project_status(state: ProjectState) -> dict[str, Any]:
    """The status of one project: CONTRACT fields first, then details."""
    from selfdistill.lessons import to_dict

    runs = load_runs(state)  # the kept ones; older runs are only counted (runs.py)
    stored = load_lessons(state)
    lessons = [to_dict(lesson) for lesson in stored]
    last = runs[-1] if runs else None
    failed = [run for run in runs if _error_text(run)]
    result: dict[str, Any] = {
        "lastRunId": last["id"] if last else None,
        "lastRunAt": (last.get("completedAt") or last.get("startedAt")) if last else None,
        "totalRuns": total_runs(state, len(runs)),
        "totalLessons": len(lessons),
        "activeLessons": sum(1 for lesson in lessons if lesson.get("status") == "active"),
        "lessonsByStatus": _count_by_status(lessons),
        "awaitingApproval": count_awaiting(state, stored),
        "lessonsHelped": sum(_int(lesson.get("helped")) for lesson in lessons),
        "lessonsHurt": sum(_int(lesson.get("hurt")) for lesson in lessons),
        "observations": count_observations(state),
        "running": run_lock_held(state),
        "project": str(state.project),
        "stateDir": str(state.root),
        "droppedObservations": read_dropped(state).get("droppedObservations", 0),
        "pending": pending_path(state).exists(),
    }
    if last is not None and not last.get("completedAt") and not result["running"]:
        result["lastRunIncomplete"] = True  # no completedAt and nobody holds the lock: it crashed
    if failed:
        result["lastError"] = _error_text(failed[-1])
        result["lastErrorRunId"] = failed[-1]["id"]
    return result


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _count_by_status(lessons: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for lesson in lessons:
        status = str(lesson.get("status"))
        counts[status] = counts.get(status, 0) + 1
    return counts


def _lesson_summary(status: dict[str, Any]) -> str:
    by_status = ", ".join(f"{n} {name}" for name, n in sorted(status["lessonsByStatus"].items()))
    awaiting = status["awaitingApproval"]
    return (
        f"{status['totalLessons']} ({by_status or 'none'}); later sessions: "
        f"{status['lessonsHelped']} helped, {status['lessonsHurt']} recurred"
        + (f"; {awaiting} awaiting your approval (see 'selfdistill lessons')" if awaiting else "")
    )


def format_status(status: dict[str, Any]) -> str:
    """The readable view."""
    last = status["lastRunId"] or "none yet"
    lines = [
        f"project:       {status['project']}",
        f"state:         {status['stateDir']}",
        f"observations:  {status['observations']}"
        + (
            f" ({status['droppedObservations']} dropped by the size cap)"
            if status["droppedObservations"]
            else ""
        ),
        f"runs:          {status['totalRuns']} (last: {last}"
        + (f" at {status['lastRunAt']})" if status["lastRunAt"] else ")"),
        f"lessons:       {_lesson_summary(status)}",
        f"running:       {'yes' if status['running'] else 'no'}"
        + (" (another run is queued)" if status.get("pending") else ""),
    ]
    if status.get("lastRunIncomplete"):
        lines.append("warning:       the last run never completed")
    if status.get("lastError"):
        lines.append(f"last error:    {status['lastError']} (run {status['lastErrorRunId']})")
    return "\n".join(lines)
