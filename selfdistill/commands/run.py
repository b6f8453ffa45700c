"""`selfdistill run`: one self-distillation run (the Stop hook's detached run is this too)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from selfdistill.errors import PUBLISH_ERROR, UserError
from selfdistill.output import emit_json

MANUAL_WAIT_S = 60.0  # distill.MANUAL_WAIT_S, repeated to keep `--help` free of heavy imports


@click.command(name="run")
@click.option("--dry-run", is_flag=True, help="Analyse fully, persist nothing at all.")
@click.option("--limit", type=click.IntRange(min=0), help="At most N sessions this run.")
@click.option("--model", help="Use this model (needs ANTHROPIC_API_KEY); heuristics otherwise.")
@click.option(
    "--project",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Project directory (default: the current one).",
)
@click.option(
    "--transcript",
    "transcripts",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Analyse these transcript files instead of what is new (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run manifest as JSON.")
@click.option(
    "--wait",
    "wait_s",
    type=click.FloatRange(min=0),
    default=MANUAL_WAIT_S,
    show_default=True,
    help="Seconds to wait for a run already in progress.",
)
def command(
    dry_run: bool,
    limit: int | None,
    model: str | None,
    project: Path | None,
    transcripts: tuple[Path, ...],
    as_json: bool,
    wait_s: float,
) -> None:
    """Distill lessons from what is new since the last run (or from --transcript files)."""
    from selfdistill.distill import RunOptions, run
    from selfdistill.progress import for_terminal

    options = RunOptions(
        project=project or Path.cwd(),
        dry_run=dry_run,
        limit=limit,
        model=model,
        transcripts=transcripts,
        spawned=os.environ.get("SELFDISTILL_INTERNAL") == "1",
        wait_s=wait_s,
        on_progress=for_terminal(sys.stderr, quiet=as_json),
    )
    manifest = run(options)
    if manifest is None:  # a detached run found another one running: it left a note instead
        return
    if as_json:
        emit_json(manifest)
    else:
        click.echo(summary(manifest))
    failed = [e for e in manifest["errors"] if e.startswith(PUBLISH_ERROR)]
    if failed:  # the lessons are stored, but the agent will not see them: not a success
        raise UserError(f"{failed[0]} (the lessons are stored; the next run writes them back)")


def summary(manifest: dict[str, Any]) -> str:
    from selfdistill.lessons import shown_status  # loaded by the run already

    head = "dry run" if manifest["dryRun"] else f"run {manifest['id']}"
    lines = [
        f"{head}: {manifest['sessionsProcessed']} session(s) analysed, "
        f"{manifest['sessionsSkipped']} skipped; {manifest['lessonsGenerated']} lesson(s) "
        f"proposed ({manifest['lessonsNew']} new, {manifest['lessonsMerged']} merged), "
        f"{manifest['lessonsActivated']} activated [{manifest['analysisMode']}]"
    ]
    for lesson in manifest["lessons"]:  # one row per lesson, however many sessions found it
        status = shown_status(lesson["status"], lesson["awaitingApproval"])
        lines.append(
            f"  {lesson['id']} {status:<9} {lesson['sessionsSeen']}s "
            f"{lesson['trigger']}: {lesson['action']}"
        )
    for path in manifest["published"]:
        # a CLAUDE.md selfdistill created goes when no lesson is left in it
        lines.append(f"  {'wrote' if Path(path).exists() else 'removed'} {path}")
    for error in manifest["errors"]:
        if not error.startswith(PUBLISH_ERROR):  # that one goes to stderr, as the failure
            lines.append(f"  error: {error}")
    if manifest["awaitingApproval"]:
        from selfdistill.commands.lessons import approve_hint

        marked = " (marked in 'selfdistill lessons')"
        lines.append("  " + approve_hint(manifest["awaitingApproval"], marked))
    return "\n".join(lines)
