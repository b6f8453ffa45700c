"""`selfdistill signals`: not built yet."""

import click

from selfdistill.errors import FatalError


@click.command(name="signals")
def command() -> None:
    """(not built yet)"""
    raise FatalError("'signals' is not built yet")
