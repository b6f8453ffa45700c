"""The command line: `main` only dispatches. Each verb lives in selfdistill/commands/<verb>.py.

This is the one boundary where errors become messages: a FatalError prints its text, anything
unexpected prints one line and leaves the traceback in the log, never on the terminal.
"""

from __future__ import annotations

import sys
import traceback

import click

from selfdistill import __version__
from selfdistill.commands import (
    doctor,
    forget,
    hook,
    install,
    lessons,
    mcp,
    report,
    rollback,
    run,
    signals,
    status,
)
from selfdistill.errors import FatalError
from selfdistill.logs import log_error


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="selfdistill")
def cli() -> None:
    """Learn from your own Claude Code sessions: capture, distill, publish, measure."""


for command in (
    hook.command,
    install.install_command,
    install.uninstall_command,
    run.command,
    status.command,
    report.command,
    signals.command,
    lessons.command,
    rollback.command,
    mcp.command,
    doctor.command,
    forget.command,
):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    try:
        code = cli.main(args=argv, prog_name="selfdistill", standalone_mode=False)
    except click.exceptions.Exit as done:
        code = done.exit_code
    except click.exceptions.Abort:
        click.echo("selfdistill: aborted", err=True)
        code = 1
    except click.exceptions.NoArgsIsHelpError as bare:  # `selfdistill` alone: the help
        click.echo(bare.format_message())
        code = 0
    except click.UsageError as bad_usage:  # one line, like every other error (CONTRACT.md)
        where = bad_usage.ctx.command_path if bad_usage.ctx else "selfdistill"
        click.echo(f"selfdistill: {bad_usage.format_message()} (see '{where} --help')", err=True)
        code = 1
    except click.ClickException as error:
        click.echo(f"selfdistill: {error.format_message()}", err=True)
        code = 1
    except FatalError as error:
        click.echo(f"selfdistill: {error}", err=True)
        code = 1
    except Exception as error:  # the boundary: anything unexpected becomes one line
        log_error("unexpected error", traceback.format_exc())
        click.echo(f"selfdistill: internal error: {error!r} (details in the log)", err=True)
        code = 1
    sys.exit(code if isinstance(code, int) else 0)
