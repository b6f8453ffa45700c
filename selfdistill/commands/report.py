"""`selfdistill report [--project DIR] [--html PATH] [--json]`: is selfdistill worth trusting?"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import click

from selfdistill.output import emit_json

if TYPE_CHECKING:
    from selfdistill.report import Report


@click.command(name="report")
@click.option(
    "--project",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Project directory (default: the project holding the current directory).",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a self-contained HTML page here (the folder must exist) and print its path.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the gathered data as one JSON object.")
def command(project: Path | None, html_path: Path | None, as_json: bool) -> None:
    """Signals over time, the lessons with their evidence and whether each helped, the runs."""
    from selfdistill.paths import ProjectState, find_project_root
    from selfdistill.report import format_text, gather

    root = find_project_root(project if project is not None else Path.cwd())
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    report = gather(ProjectState.for_project(root), now)
    if html_path is not None:
        written = write_page(html_path, report)
        if not as_json:
            click.echo(str(written))
    if as_json:
        emit_json(report.to_json())
    elif html_path is None:
        click.echo(format_text(report))


def write_page(path: Path, report: Report) -> Path:
    """Write the page atomically: a browser reloading it never sees half a page."""
    from selfdistill.atomic import write_atomic
    from selfdistill.errors import UserError
    from selfdistill.report_html import render

    target = path.expanduser().absolute()
    if target.is_dir():  # `--html ''` or `--html .` names the current folder
        raise UserError(f"--html needs a file name; {target} is a folder")
    if not target.parent.is_dir():  # a mistyped folder is an error, not a folder to create
        raise UserError(f"cannot write {target}: no folder {target.parent}")
    try:
        write_atomic(target, render(report).encode("utf-8"))
    except OSError as error:
        raise UserError(f"cannot write {target}: {error.strerror or error}") from error
    return target
