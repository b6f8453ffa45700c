"""`selfdistill mcp`: serve selfdistill's tools to an MCP client on stdio.

The MCP SDK is an optional extra, imported here only, so that the core stays light.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import click

from selfdistill.errors import FatalError, UserError


def install_hint() -> str:
    """How to add the MCP SDK to the environment selfdistill runs in: install.sh makes one of its
    own, so the `pip` on the user's PATH would install it somewhere else."""
    python = shlex.quote(sys.executable)
    return f"the MCP server needs the 'mcp' package (version 2): {python} -m pip install 'mcp>=2'"


@click.command(name="mcp")
@click.option(
    "--project",
    type=click.Path(file_okay=False, path_type=Path),
    help="Project directory the tools act on (default: the current one).",
)
def command(project: Path | None) -> None:
    """Serve run_self_distill, self_distill_status and the lesson tools over MCP (stdio)."""
    target = Path(os.path.abspath(project or Path.cwd()))
    if not target.is_dir():
        raise UserError(f"no such project directory: {target}")
    try:
        from selfdistill.mcp_server import serve
    except ImportError as error:
        if (error.name or "").split(".")[0] in ("mcp", "mcp_types"):
            raise FatalError(install_hint()) from error
        raise
    serve(target)
