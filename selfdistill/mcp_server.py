"""The MCP server behind `selfdistill mcp`: selfdistill's run, status and lessons as MCP tools.

Built on the official `mcp` SDK (version 2, `MCPServer`), an optional extra: only the `mcp`
command imports this module. Every tool returns the same data as the matching `--json` command,
and a selfdistill error (FatalError) becomes an MCP tool error carrying its one-line message.
The tools run on the SDK's worker threads; concurrent runs are serialised by the run lock.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations

from selfdistill import __version__
from selfdistill.errors import FatalError
from selfdistill.logs import log_error

SERVER_NAME = "selfdistill"
INSTRUCTIONS = (
    "selfdistill learns from this project's Claude Code sessions. Use self_distill_status to see "
    "what it has recorded, run_self_distill with dryRun true to preview the lessons a run would "
    "propose (dryRun false writes CLAUDE.md and skills), and the lesson tools to review them."
)

# What each tool does to the project, for clients that decide what needs the user's consent.
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)
RUN = ToolAnnotations(
    title="Run self-distillation",
    read_only_hint=False,
    destructive_hint=True,  # rewrites CLAUDE.md's managed block and owned skills, unless dryRun
    idempotent_hint=False,
    open_world_hint=False,  # the model backend is reached only when the user configured it
)
DECIDE = ToolAnnotations(
    read_only_hint=False,
    destructive_hint=True,  # a rejected lesson is taken out of CLAUDE.md / skills
    idempotent_hint=True,
    open_world_hint=False,
)

T = TypeVar("T")


def checked(call: Callable[[], T]) -> T:
    """Errors become tool errors, as the CLI boundary turns them into one line: a FatalError
    with its message, anything unexpected with its repr and the traceback left in the log."""
    try:
        return call()
    except ToolError:
        raise
    except FatalError as error:
        raise ToolError(str(error)) from error
    except Exception as error:
        log_error("mcp: unexpected error", traceback.format_exc())
        raise ToolError(f"internal error: {error!r} (details in the log)") from error


def run_manifest(project: Path, dry_run: bool, limit: int | None, model: str | None) -> Any:
    from selfdistill.distill import RunOptions, run

    return run(RunOptions(project=project, dry_run=dry_run, limit=limit, model=model))


def status_report(project: Path) -> dict[str, Any]:
    from selfdistill.paths import ProjectState, find_project_root
    from selfdistill.status import project_status

    return project_status(ProjectState.for_project(find_project_root(project)))


def lesson_list(project: Path) -> list[dict[str, Any]]:
    """The same records as `selfdistill lessons list --json`."""
    from selfdistill import distill, lessons
    from selfdistill.commands.lessons import record

    state = distill.project_state(project)
    policy = lessons.project_policy(state)
    return [record(lesson, policy) for lesson in lessons.read_lessons(state)]


def lesson_show(project: Path, lesson_id: str) -> dict[str, Any]:
    from selfdistill import distill, lessons
    from selfdistill.commands.lessons import pick, record

    state = distill.project_state(project)
    return record(pick(lessons.read_lessons(state), lesson_id), lessons.project_policy(state))


def lesson_decide(project: Path, lesson_id: str, status: str) -> dict[str, Any]:
    """The same decision and result as `selfdistill lessons approve|reject ID --json`."""
    from selfdistill import distill, lessons
    from selfdistill.commands.lessons import decide, pick, record

    state = distill.project_state(project)
    lesson = pick(lessons.read_lessons(state), lesson_id)
    updated, published = decide(state, lesson.id, status)
    return {"lesson": record(updated, lessons.project_policy(state)), "published": list(published)}


def build_server(project: Path) -> MCPServer[Any]:
    """A server whose tools all act on `project`."""
    server: MCPServer[Any] = MCPServer(
        SERVER_NAME, version=__version__, instructions=INSTRUCTIONS, log_level="WARNING"
    )

    # Parameter names are the wire names of the contract (dryRun), hence camelCase here.
    @server.tool(annotations=RUN)
    def run_self_distill(
        dryRun: bool = False, limit: int | None = None, model: str | None = None
    ) -> dict[str, Any]:
        """Run self-distillation on what is new since the last run and return the run manifest
        (the output of `selfdistill run --json`). dryRun: analyse fully, persist nothing.
        limit: at most this many sessions. model: use this model (needs ANTHROPIC_API_KEY)."""
        if limit is not None and limit < 0:
            raise ToolError("limit must be 0 or more")
        manifest = checked(lambda: run_manifest(project, dryRun, limit, model))
        if manifest is None:  # only a detached run returns None; reported rather than hidden
            raise ToolError("another run is in progress for this project")
        return dict(manifest)

    @server.tool(annotations=READ_ONLY)
    def self_distill_status() -> dict[str, Any]:
        """The project's selfdistill status (the output of `selfdistill status --json`)."""
        return checked(lambda: status_report(project))

    @server.tool(annotations=READ_ONLY)
    def list_lessons() -> list[dict[str, Any]]:
        """Every stored lesson with its status and evidence (`selfdistill lessons list --json`)."""
        return checked(lambda: lesson_list(project))

    @server.tool(annotations=READ_ONLY)
    def show_lesson(id: str) -> dict[str, Any]:
        """One lesson; a unique prefix of its id is enough (`selfdistill lessons show ID`)."""
        return checked(lambda: lesson_show(project, id))

    @server.tool(annotations=DECIDE)
    def approve_lesson(id: str) -> dict[str, Any]:
        """Approve a lesson: it becomes active and is published to CLAUDE.md / skills."""
        return checked(lambda: lesson_decide(project, id, "active"))

    @server.tool(annotations=DECIDE)
    def reject_lesson(id: str) -> dict[str, Any]:
        """Reject a lesson: it is never published, and matching candidates stay rejected."""
        return checked(lambda: lesson_decide(project, id, "rejected"))

    return server


def serve(project: Path) -> None:
    """Serve on stdin/stdout until the client closes the connection."""
    build_server(project).run("stdio")
