"""The lessons distilled from sessions the real Claude Code recorded (tests/data/recorded/, made by
tests/support/record_examples.py), pinned: the README's first command shows exactly these."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RECORDED = Path(__file__).parent / "data" / "recorded"
EXPECTED = {
    (
        "fact",
        "Using `python3 -m pytest`",
        "it is not installed here (No module named pytest); "
        "use `python3 -m unittest discover -s tests` instead",
        "active",
        2,
    )
}


def distill(project: Path, *transcripts: Path) -> dict[str, object]:
    script = Path(sys.executable).parent / "selfdistill"
    args = [str(script), "run", "--dry-run", "--json", "--project", str(project)]
    for path in transcripts:
        args += ["--transcript", str(path)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=True)
    manifest: dict[str, object] = json.loads(done.stdout)
    return manifest


def test_two_recorded_sessions_make_one_active_lesson(tmp_path: Path) -> None:
    manifest = distill(tmp_path, *sorted(RECORDED.glob("*.jsonl")))
    assert manifest["sessionsProcessed"] == 2
    lessons = manifest["lessons"]
    assert isinstance(lessons, list)
    found = {
        (x["kind"], x["trigger"], x["action"], x["status"], x["sessionsSeen"]) for x in lessons
    }
    assert found == EXPECTED


def test_one_recorded_session_is_not_enough_evidence(tmp_path: Path) -> None:
    manifest = distill(tmp_path, RECORDED / "session-1.jsonl")
    lessons = manifest["lessons"]
    assert isinstance(lessons, list)
    assert [(x["status"], x["sessionsSeen"]) for x in lessons] == [("candidate", 1)]
