"""`selfdistill status`: not built yet."""

import click

from selfdistill.errors import FatalError


@click.command(name="status")
def command() -> None:
    """(not built yet)"""
    raise FatalError("'status' is not built yet")
