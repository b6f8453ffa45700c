"""Record the example sessions under tests/data/recorded/ with the real Claude Code binary.

    .venv/bin/python -m tests.support.record_examples

Two sessions in a small project where `python3 -m pytest` fails (pytest is not installed for that
interpreter) and the agent recovers with `python3 -m unittest`: the README's first command distills
them. Claude Code runs offline against the scripted stand-in, under a temporary HOME.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from tests.support import scenarios
from tests.support.claude_cli import run_claude
from tests.support.fake_api import FakeAnthropic

OUT = Path(__file__).resolve().parents[1] / "data" / "recorded"


def record(count: int = 2) -> list[Path]:
    written = []
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        home.mkdir()
        os.environ["HOME"] = str(home)
        project = scenarios.make_project(Path(scratch) / "calc")
        for index in range(count):
            scenario = scenarios.tests_fail_then_pass_another_way(project)
            with FakeAnthropic(scenario.script) as api:
                run = run_claude(project, scenario.prompt, api, env=scenario.env)
            if run.returncode != 0:
                raise SystemExit(f"claude failed: {run.stderr}")
            target = OUT / f"session-{index + 1}.jsonl"
            OUT.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(run.transcript, target)
            written.append(target)
    return written


if __name__ == "__main__":
    for path in record():
        print(path)
