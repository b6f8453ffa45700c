"""`selfdistill signals PATH... [--json]`: what Claude Code transcripts say; stores nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import click

from selfdistill.errors import UserError
from selfdistill.model import SessionReport
from selfdistill.output import emit_json
from selfdistill.signals import analyze

SUFFIXES = (".jsonl", ".jsonl.gz")


@click.command(name="signals")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per signal, per line.")
def command(paths: tuple[Path, ...], as_json: bool) -> None:
    """Analyse Claude Code transcripts (.jsonl / .jsonl.gz files, or directories of them)."""
    for path in transcript_files(paths):
        try:
            report = analyze(path)
        except OSError as error:  # unreadable file: say which, not a traceback
            raise UserError(f"cannot read {path}: {error.strerror or error}") from error
        if report.entries == 0:  # said on stderr: --json keeps stdout to signals alone
            click.echo(f"selfdistill: no Claude Code entries could be read from {path}", err=True)
            continue
        if as_json:
            for signal in report.signals:
                emit_json(signal.to_json())
        else:
            click.echo(summary(report))


def transcript_files(paths: tuple[Path, ...]) -> list[Path]:
    """The transcripts named, directories searched recursively; a bad path, or a directory with
    no transcript in it, is a user error."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(_transcripts_in(path))
            if not inside:
                raise UserError(f"no Claude Code transcripts (.jsonl, .jsonl.gz) under {path}")
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            raise UserError(f"no such file or directory: {path}")
    return found


def _transcripts_in(directory: Path) -> Iterator[Path]:
    for path in directory.rglob("*"):
        if path.is_file() and path.name.endswith(SUFFIXES):
            yield path


def summary(report: SessionReport) -> str:
    counts = Counter(signal.kind for signal in report.signals)
    lines = [
        f"{report.file}",
        f"  session {report.session_id}  version {report.version or '?'}  "
        f"{report.entries} entries  outcome: {report.outcome}",
    ]
    if counts:
        lines.append("  " + ", ".join(f"{n} {kind}" for kind, n in counts.most_common()))
    if report.evidence:
        lines.append("  evidence: " + "; ".join(report.evidence))
    for signal in report.signals:
        label = signal.kind + (
            f" [{signal.category}]" if signal.category and len(signal.category) < 30 else ""
        )
        lines.append(f"  - {label}: {signal.excerpt[:160]}")
    return "\n".join(lines)
