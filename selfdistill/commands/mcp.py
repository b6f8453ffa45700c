"""`selfdistill mcp`: not built yet."""

import click

from selfdistill.errors import FatalError


@click.command(name="mcp")
def command() -> None:
    """(not built yet)"""
    raise FatalError("'mcp' is not built yet")
