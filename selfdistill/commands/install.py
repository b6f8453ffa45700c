"""`selfdistill install` / `uninstall`: not built yet."""

import click

from selfdistill.errors import FatalError


@click.command(name="install")
def install_command() -> None:
    """(not built yet)"""
    raise FatalError("'install' is not built yet")


@click.command(name="uninstall")
def uninstall_command() -> None:
    """(not built yet)"""
    raise FatalError("'uninstall' is not built yet")
