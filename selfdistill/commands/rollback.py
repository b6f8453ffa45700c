"""`selfdistill rollback [RUN_ID|--last]`: undo what one run wrote back into the project."""

from __future__ import annotations

from pathlib import Path

import click

from selfdistill.errors import UserError
from selfdistill.output import emit_json
from selfdistill.paths import ProjectState, find_project_root


@click.command(name="rollback")
@click.argument("run_id", required=False)
@click.option("--last", is_flag=True, help="Roll back the last run that wrote anything (default).")
@click.option(
    "--project",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Project directory (default: the project around the current directory).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def command(run_id: str | None, last: bool, project: Path | None, as_json: bool) -> None:
    """Restore what a run wrote: its CLAUDE.md block and the skills it wrote.

    The user's edits outside the block stay; a skill edited since that run is left alone.
    """
    if run_id and last:
        raise UserError("give either a RUN_ID or --last, not both")
    from selfdistill import distill

    root = find_project_root(project if project is not None else Path.cwd())
    result, held = distill.rollback(ProjectState.for_project(root), run_id)
    if as_json:
        kept = [{"path": path, "reason": reason} for path, reason in result.kept]
        restored = list(result.restored)
        emit_json({"runId": result.run_id, "restored": restored, "kept": kept, "held": list(held)})
        return
    click.echo(f"Rolled back run {result.run_id}.")
    for path in result.restored:
        click.echo(f"  restored {path}")
    for path, reason in result.kept:
        click.echo(f"  left alone {path}: {reason}")
    if not result.restored and not result.kept:
        click.echo("  (it had nothing left to restore)")
    if held:
        click.echo(
            f"  held {', '.join(held)}: `selfdistill lessons approve ID` publishes one again"
        )
