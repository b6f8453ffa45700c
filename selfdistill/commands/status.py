"""`selfdistill status [--project DIR] [--json]`: what selfdistill knows about a project."""

from __future__ import annotations

from pathlib import Path

import click

from selfdistill.output import emit_json
from selfdistill.paths import ProjectState, find_project_root
from selfdistill.status import format_status, project_status


@click.command(name="status")
@click.option(
    "--project",
    "project",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Project directory (default: the project holding the current directory).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def command(project: Path | None, as_json: bool) -> None:
    """Runs, lessons and stored observations for a project, and whether a run is going on."""
    root = find_project_root(project if project is not None else Path.cwd())
    status = project_status(ProjectState.for_project(root))
    if as_json:
        emit_json(status)
    else:
        click.echo(format_status(status))
