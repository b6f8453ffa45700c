"""The report page in a real browser (headless Chromium), built from real runs of the pipeline.

Checks what a person would see: the lesson rows, the signals chart, markup from a tool's output
shown as text, and no script having run. Chromium comes from Debian's `chromium` package
(tests/run.sh installs it when it can); without it this skips, and fails on CI.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support.transcripts import Step, write_transcript
from tests.test_distill import TREE, VERCEL
from tests.test_report import ATTACK, TREE_OK, tomorrow
from tests.test_run_cli import selfdistill

REPO = Path(__file__).resolve().parents[2]
RECORDED = REPO / "tests" / "data" / "recorded"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",  # as root, Chromium refuses to start with its sandbox
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium() -> str:
    """The browser's path; skip (fail on CI) when there is none."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    reason = "Chromium not found (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(reason + ": CI must run the browser test (see tests/run.sh)")
    pytest.skip(reason)


def browse(page: Path, *args: str) -> str:
    """Chromium on `page` with a fresh profile; its stdout."""
    with tempfile.TemporaryDirectory(prefix="selfdistill-chromium-") as profile:
        done = subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
            capture_output=True,
            text=True,
            timeout=90,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def cli_run(project: Path, *paths: Path) -> None:
    named = [a for p in paths for a in ("--transcript", str(p))]
    done = subprocess.run(
        [sys.executable, "-m", "selfdistill", "run", "--project", str(project), *named],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture
def page(tmp_path: Path) -> tuple[Path, dict[str, object]]:
    """A project run through `selfdistill run` several times, and its `report --html` page."""
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    t = tmp_path / "t"
    attack: list[Step] = [
        ("vercel --prod", False, f'Error: {ATTACK} requires confirmation. Use option "--yes"'),
        ("vercel --prod --yes", True, "Deployed"),
    ]
    cli_run(project, *(RECORDED / f"session-{n}.jsonl" for n in (1, 2)))
    cli_run(
        project,
        write_transcript(t / "a.jsonl", "a", TREE, day="2026-01-01"),
        write_transcript(t / "b.jsonl", "b", TREE, day="2026-01-02"),
        write_transcript(t / "v.jsonl", "v", VERCEL, day="2026-01-02"),
    )
    cli_run(
        project,
        write_transcript(t / "x0.jsonl", "x0", attack, day="2026-01-03"),
        write_transcript(t / "x1.jsonl", "x1", attack, day="2026-01-04"),
    )
    later = tomorrow()
    cli_run(
        project,
        write_transcript(t / "ok.jsonl", "ok", TREE_OK, day=later),
        write_transcript(t / "bad.jsonl", "bad", TREE, day=later),
    )
    html_path = tmp_path / "report.html"
    done = selfdistill("report", "--project", str(project), "--html", str(html_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = selfdistill("report", "--project", str(project), "--json", cwd=tmp_path)
    return html_path, json.loads(data.stdout)


def test_the_page_renders_lessons_chart_and_escaped_text(
    page: tuple[Path, dict[str, object]],
) -> None:
    path, data = page
    dom = browse(path, "--dump-dom")
    lessons = data["lessons"]
    assert isinstance(lessons, list) and len(lessons) >= 4
    rows = re.findall(r'<tr class="lesson" id="lesson-([0-9a-f]+)"', dom)
    assert sorted(rows) == sorted(str(x["id"]) for x in lessons)
    assert re.search(r'<svg id="signals-chart"[^>]*>.*<rect class="bar tool_error"', dom, re.S)
    assert 'class="helped"' in dom and 'class="hurt"' in dom  # the `tree` lesson was measured
    # the tool's markup is text on the page, and none of it ran
    assert "&lt;script&gt;document.title=2&lt;/script&gt;&lt;img src=x" in dom
    assert not re.search(r"<script|<img", dom, re.I)
    title = re.search(r"<title>(.*?)</title>", dom, re.S)
    assert title is not None and title.group(1).startswith("selfdistill report: ")


def test_screenshot(page: tuple[Path, dict[str, object]], tmp_path: Path) -> None:
    path, _ = page
    shot = tmp_path / "report.png"
    browse(path, f"--screenshot={shot}", "--window-size=1200,1600")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000  # a blank page is a few kilobytes
