"""`selfdistill run`: not built yet."""

import click

from selfdistill.errors import FatalError


@click.command(name="run")
def command() -> None:
    """(not built yet)"""
    raise FatalError("'run' is not built yet")
