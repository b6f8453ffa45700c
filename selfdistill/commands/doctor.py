"""`selfdistill doctor`: check the set-up and say how to fix each problem found."""

from __future__ import annotations

from pathlib import Path

import click

from selfdistill.errors import FatalError
from selfdistill.output import emit_json


@click.command(name="doctor")
@click.option(
    "--project",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Project directory (default: the current one).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the checks as a JSON list.")
def command(project: Path | None, as_json: bool) -> None:
    """Check hooks, interpreter, git hook, store, runs, Claude Code and the model backend."""
    from selfdistill import doctor

    checks = doctor.run_checks(doctor.setup_for(project or Path.cwd()))
    if as_json:
        emit_json(doctor.as_json(checks))
    else:
        click.echo(doctor.render(checks))
    failed = sum(not check.ok for check in checks)
    if failed:  # the report stays on stdout; stderr gets the one line every failure gives
        raise FatalError(f"doctor found {failed} problem(s)")
