"""`selfdistill install` / `uninstall`: print a short summary of what changed."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import click

from selfdistill import install as installer
from selfdistill.errors import FatalError

_SETTINGS_TEXT = {
    "registered": "registered the selfdistill hooks in {path}",
    "updated": "updated the selfdistill hooks in {path}",
    "replaced": (
        "pointed the hooks of another selfdistill installation in {path} at this one "
        "(uninstall points them back)"
    ),
    "unchanged": "hooks already registered in {path}",
    "restored": "removed the selfdistill hooks from {path} (restored your original file)",
    "removed": "removed the selfdistill hooks from {path}",
    "deleted": "removed {path} (selfdistill had created it)",
    "absent": "no {path}: nothing to remove there",
    "foreign": "the hooks in {path} run another selfdistill installation: left as they are",
}
_UNINSTALL_UNCHANGED = "no selfdistill hooks in {path}: nothing to remove there"

_GIT_TEXT = {
    "installed": "installed the git post-commit hook {hook}",
    "updated": "updated the git post-commit hook {hook}",
    "unchanged": "git post-commit hook already installed: {hook}",
    "restored": "removed the git post-commit hook and restored your own {hook}",
    "removed": "removed the git post-commit hook {hook}",
    "absent": "no git post-commit hook at {hook}: nothing to remove there",
    "foreign": "{hook} is not selfdistill's: left as it is",
    "kept": "left the git post-commit hook {hook}: other projects still use it",
}

_PROJECT = click.option(
    "--project",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default="current directory",
    help="The project directory.",
)


@click.command(name="install")
@_PROJECT
@click.option("--no-git", is_flag=True, help="Do not install the git post-commit hook.")
def install_command(project: Path, no_git: bool) -> None:
    """Register selfdistill's hooks in PROJECT/.claude/settings.json and a git post-commit hook."""
    report = installer.install(project, with_git=not no_git)
    _print(report, uninstalling=False)
    if not report.changed():
        click.echo("selfdistill is already installed: nothing changed")


@click.command(name="uninstall")
@_PROJECT
def uninstall_command(project: Path) -> None:
    """Remove exactly what `selfdistill install` added, restoring any git hook it chained."""
    report = installer.uninstall(project)
    _print(report, uninstalling=True)
    # "foreign" said why nothing was removed: another installation's hooks are there
    if not report.changed() and not report.undone and report.settings.action != "foreign":
        click.echo("selfdistill was not installed here: nothing to remove")
    if report.published:
        click.echo(_published_text(report.published, Path(os.path.abspath(project))))
    if report.undone:  # what was done is printed above; the one thing left is the error
        raise FatalError(report.undone)


def _published_text(places: tuple[Path, ...], project: Path) -> str:
    """One line: uninstall leaves published lessons (install did not add them); how to go on."""
    where = ", ".join(os.path.relpath(place, project) for place in places)
    option = f"--project {shlex.quote(str(project))}"
    return (
        f"published lessons stay in {where}: to take them out, run "
        f"`selfdistill lessons reject ID {option}` for each active lesson "
        f"(`selfdistill lessons --status active {option}` lists them)"
    )


def _print(report: installer.Report, uninstalling: bool) -> None:
    text = _SETTINGS_TEXT[report.settings.action]
    if uninstalling and report.settings.action == "unchanged":
        text = _UNINSTALL_UNCHANGED
    click.echo(text.format(path=report.settings.path))
    if report.git is None:
        click.echo(f"git hook: {report.git_note}")
        return
    click.echo(_GIT_TEXT[report.git.action].format(hook=report.git.hook))
    if report.git.legacy and report.git.action in ("installed", "updated", "unchanged"):
        click.echo(f"  your own post-commit hook runs first, kept as {report.git.legacy}")
    for user in report.git.users:
        click.echo(f"  still used by {user}")
