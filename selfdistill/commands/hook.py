"""`selfdistill hook EVENT`: normally dispatched by selfdistill.entry before click is imported;
this command exists so that `--help` documents it and the slow path behaves the same."""

import sys

import click


@click.command(name="hook", context_settings={"ignore_unknown_options": True})
@click.argument("event")
@click.argument("rest", nargs=-1, type=click.UNPROCESSED)
def command(event: str, rest: tuple[str, ...]) -> None:
    """Record one Claude Code hook event (payload on stdin). Always exits 0, prints nothing."""
    from selfdistill.hook import main as hook_main

    sys.exit(hook_main([event, *rest]))
