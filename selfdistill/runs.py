"""Run manifests: one JSON file per run (state.runs/<id>.json), and the archive of old ones.

A Stop hook starts a run after each turn of the agent, so manifests pile up by the thousand, and
every run, `status` and `report` read them all. Only the newest KEEP_RUNS (to a fifth more, as
folding is done in batches) stay as files. Older ones are folded into one archive
(state.root/runs-archive.json) that keeps what readers still need of them: how many runs there
were, and each transcript's latest signal counts (the report's days, the owners of resumed
sessions' entries). The archive grows with transcripts, not runs.

Folding writes the archive first, then deletes the manifests it holds: a run killed in between
leaves manifests that the archive's `folded` (the ids of the last fold) marks as counted.
Runs hold the run lock while they write, so one folds at a time. A manifest is the user's file:
an unreadable one is skipped on reading and counted as a run when folded, never fatal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selfdistill.atomic import write_atomic
from selfdistill.logs import log_error
from selfdistill.paths import ProjectState

KEEP_RUNS = 500
ARCHIVE_NAME = "runs-archive.json"


@dataclass(frozen=True)
class Archive:
    runs: int = 0  # manifests folded in
    folded: tuple[str, ...] = ()  # the ids of the last fold's manifests
    session_signals: tuple[dict[str, Any], ...] = ()  # each transcript's latest item
    # sessionsProcessed of manifests older than sessionSignals, which name no session
    unnamed_sessions: int = 0

    def as_run(self) -> dict[str, Any]:
        """The archive as one manifest holding only session signals, oldest of all: readers of
        `sessionSignals` (report, signal owners) take it first and the kept runs after it."""
        return {"id": "archive", "sessionSignals": list(self.session_signals)}


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def load_runs(state: ProjectState) -> list[dict[str, Any]]:
    """Every readable run manifest kept as a file, oldest first (by startedAt, then id); not
    those the archive already holds (a fold cut short, or under way, left them)."""
    try:
        paths = sorted(state.runs.glob("*.json"))
    except OSError:
        return []
    folded = set(load_archive(state).folded)
    runs = [read_json(path) for path in paths if path.stem not in folded]
    manifests = [run for run in runs if isinstance(run, dict) and isinstance(run.get("id"), str)]
    return sorted(manifests, key=lambda run: (str(run.get("startedAt") or ""), run["id"]))


def archive_path(state: ProjectState) -> Path:
    return state.root / ARCHIVE_NAME


def load_archive(state: ProjectState) -> Archive:
    data = read_json(archive_path(state))
    if not isinstance(data, dict):
        return Archive()
    runs, folded, items = data.get("runs"), data.get("folded"), data.get("sessionSignals")
    unnamed = data.get("unnamedSessions")
    return Archive(
        runs if isinstance(runs, int) else 0,
        tuple(str(x) for x in folded) if isinstance(folded, list) else (),
        tuple(item for item in items if isinstance(item, dict)) if isinstance(items, list) else (),
        unnamed if isinstance(unnamed, int) else 0,
    )


def folded_away(state: ProjectState, run_id: str) -> bool:
    """Could a run with this id have been folded into the archive? Its manifest is gone, so
    this is only "not newer than every manifest kept": ids begin with the second the run began,
    and runs of the same second are folded in any order."""
    if load_archive(state).runs == 0:
        return False
    try:
        kept = min((path.stem for path in state.runs.glob("*.json")), default=None)
    except OSError:
        return False
    return kept is None or second(run_id) <= second(kept)


def second(run_id: str) -> str:
    return run_id.split("-", 1)[0]


def total_runs(state: ProjectState, kept: int) -> int:
    """All runs there were: the archived ones and the `kept` manifests."""
    return load_archive(state).runs + kept


def write_manifest(state: ProjectState, data: dict[str, Any]) -> Path:
    path = state.runs / f"{data['id']}.json"
    state.runs.mkdir(parents=True, exist_ok=True, mode=0o700)  # the state is the user's alone
    text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
    write_atomic(path, text.encode("utf-8"), mode=0o600)
    try:
        fold_old_runs(state, KEEP_RUNS)
    except OSError as error:  # the run is done and recorded: the next one folds again
        log_error("folding old run manifests failed", repr(error), state.project_dir)
    return path


def fold_old_runs(state: ProjectState, keep: int) -> None:
    """Fold all but the newest `keep` manifests into the archive, then delete them: once a fifth
    more have piled up, so that a run's write reads them all only now and then."""
    paths = list(state.runs.glob("*.json"))
    if len(paths) <= keep + keep // 5:
        return
    # By startedAt: ids start with the second a run began, then a random part. Unreadable ones
    # sort first, to go first.
    found = sorted(((path, read_json(path)) for path in paths), key=started)
    old = found[: len(found) - keep]
    archive = load_archive(state)
    fresh = [(path, data) for path, data in old if path.stem not in archive.folded]
    latest = {transcript_key(item): item for item in archive.session_signals}
    unnamed = archive.unnamed_sessions
    for _, data in fresh:
        if not isinstance(data, dict) or data.get("dryRun") is True:
            continue
        items = data.get("sessionSignals")
        if isinstance(items, list):
            latest.update((transcript_key(i), i) for i in items if isinstance(i, dict))
        elif isinstance(data.get("sessionsProcessed"), int):
            unnamed += data["sessionsProcessed"]
    folded = {
        "runs": archive.runs + len(fresh),  # an unreadable manifest was a run all the same
        "folded": [path.stem for path, _ in old],
        "sessionSignals": list(latest.values()),
        "unnamedSessions": unnamed,
    }
    text = json.dumps(folded, ensure_ascii=False) + "\n"
    write_atomic(archive_path(state), text.encode("utf-8"), mode=0o600)
    for path, _ in old:
        path.unlink(missing_ok=True)


def started(found: tuple[Path, Any]) -> tuple[str, str]:
    path, data = found
    stamp = data.get("startedAt") if isinstance(data, dict) else None
    return (stamp if isinstance(stamp, str) else "", path.stem)


def session_items(runs: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The `sessionSignals` items of the runs, in order (dry runs and odd contents passed over:
    a manifest is the user's file)."""
    for run in runs:
        items = run.get("sessionSignals") if run.get("dryRun") is not True else None
        for item in items if isinstance(items, list) else ():
            if isinstance(item, dict):
                yield item


def transcript_key(item: dict[str, Any]) -> str:
    """Items are the latest per transcript file (see report.latest_transcripts); an item without
    one (an odd manifest) goes by its session."""
    file = item.get("file")
    return file if isinstance(file, str) and file else str(item.get("sessionId"))
