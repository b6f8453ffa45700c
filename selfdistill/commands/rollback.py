"""`selfdistill rollback`: not built yet."""

import click

from selfdistill.errors import FatalError


@click.command(name="rollback")
def command() -> None:
    """(not built yet)"""
    raise FatalError("'rollback' is not built yet")
