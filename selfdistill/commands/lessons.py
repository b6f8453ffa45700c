"""`selfdistill lessons`: not built yet."""

import click

from selfdistill.errors import FatalError


@click.command(name="lessons")
def command() -> None:
    """(not built yet)"""
    raise FatalError("'lessons' is not built yet")
