"""`selfdistill forget [--project DIR] [--yes] [--json]`: delete what selfdistill keeps for it."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from selfdistill.errors import UserError
from selfdistill.forget import forget
from selfdistill.output import emit_json
from selfdistill.paths import ProjectState, find_project_root

# Rejecting works for every published lesson (rollback does not undo a `lessons approve`), and
# once none is left, publishing gives CLAUDE.md back as it was; after forgetting, nothing can.
NOT_TOUCHED = (
    "CLAUDE.md and the project's skills were not touched; lessons already published there stay "
    "until you edit them out (to take them out first, run `selfdistill lessons reject ID` for "
    "each active lesson before forgetting: with none left, CLAUDE.md is as it was)."
)


@click.command(name="forget")
@click.option(
    "--project",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Project directory (default: the project around the current directory).",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def command(project: Path | None, yes: bool, as_json: bool) -> None:
    """Delete the project's observations, lessons, run manifests and journal.

    Only selfdistill's own state under SELFDISTILL_HOME goes; no file of the project is touched.
    """
    root = find_project_root(project if project is not None else Path.cwd())
    state = ProjectState.for_project(root)
    if state.root.is_dir() and not yes:
        confirm(root, state)
    result = forget(state)
    if as_json:
        emit_json(
            {
                "project": result.project,
                "stateDir": result.state_dir,
                "removed": result.removed,
                "files": result.files,
            }
        )
        return
    if not result.removed:
        click.echo(f"Nothing stored for {result.project}.")
        return
    click.echo(f"Forgot {result.project}: deleted {result.files} files in {result.state_dir}.")
    click.echo(NOT_TOUCHED)


def confirm(root: Path, state: ProjectState) -> None:
    if not sys.stdin.isatty():
        raise UserError("forget deletes this project's selfdistill data: confirm with --yes")
    question = f"Delete everything selfdistill keeps for {root} ({state.root})?"
    if not click.confirm(question, default=False, err=True):
        raise UserError("nothing deleted")
