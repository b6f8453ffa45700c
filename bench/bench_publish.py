"""Figures for the publish side: safety gate speed and hold rates, publish and rollback latency.

    .venv/bin/python bench/bench_publish.py [CORPUS_DIR]

Hold rates on real text: every Bash command and every short user prompt in the corpus transcripts
is framed as a lesson action ("use `COMMAND`") and put through the gate. Real commands are what
legitimate lessons name; the share held is an upper bound on the gate's false positives (some
real commands do fetch URLs or use sudo, which a lesson must not carry by design). Nothing from
the corpus is written anywhere.
"""

from __future__ import annotations

import gzip
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from selfdistill import guard, journal, publish
from selfdistill.model import Lesson
from selfdistill.paths import ProjectState

DEFAULT_CORPUS = Path("/work/shared/corpus/sessions")


def corpus_texts(root: Path, limit: int = 20000) -> Iterator[tuple[str, str]]:
    """(kind, text): Bash commands the agent ran and short prompts the user typed."""
    count = 0
    for path in sorted(root.glob("*/*.jsonl.gz")):
        with gzip.open(path, "rt", errors="replace") as handle:
            for line in handle:
                for item in _texts(line):
                    yield item
                    count += 1
                    if count >= limit:
                        return


def _texts(line: str) -> Iterator[tuple[str, str]]:
    try:
        entry = json.loads(line)
    except ValueError:
        return
    message = entry.get("message") if isinstance(entry, dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    if entry.get("type") == "user" and isinstance(content, str) and 10 < len(content) < 300:
        yield "prompt", content
    if isinstance(content, list):
        for block in content:
            if isinstance(block, dict) and block.get("type") == "tool_use":
                command = (block.get("input") or {}).get("command")
                if block.get("name") == "Bash" and isinstance(command, str) and len(command) < 300:
                    yield "command", command


def lesson(ident: str, action: str, steps: tuple[str, ...] = ()) -> Lesson:
    return Lesson(ident, "fact", f"working on {ident}", action, status="active", steps=steps)


def hold_rates(root: Path) -> None:
    held: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    rules: Counter[str] = Counter()
    started = time.perf_counter()
    for kind, text in corpus_texts(root):
        seen[kind] += 1
        reason = guard.check_lesson(lesson("x", f"use `{text}`" if kind == "command" else text))
        if reason:
            held[kind] += 1
            rules[reason.split("(")[1].split(")")[0]] += 1
    seconds = time.perf_counter() - started
    total = sum(seen.values())
    print(f"gate: {total} texts in {seconds:.2f}s = {total / max(seconds, 1e-9):,.0f} lessons/s")
    for kind in sorted(seen):
        print(f"  {kind}: {held[kind]}/{seen[kind]} held ({held[kind] / seen[kind]:.1%})")
    print("  held by rule:", ", ".join(f"{name} {n}" for name, n in rules.most_common()))


def latency() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch) / "project"
        project.mkdir()
        (project / "CLAUDE.md").write_text("# Notes\n" + "user text\n" * 200)
        state = ProjectState.for_project(project, home=Path(scratch) / "state")
        lines = [lesson(f"l{n}", f"remember rule number {n}") for n in range(60)]
        procedures = [lesson(f"p{n}", "follow these", ("one", "two")) for n in range(5)]
        timings = []
        for run in range(10):
            started = time.perf_counter()
            publish.publish(state, lines[run:] + procedures[run % 2 :], f"run-{run}")
            timings.append(time.perf_counter() - started)
        started = time.perf_counter()
        for _ in range(10):
            journal.rollback(state, None)
        undo = (time.perf_counter() - started) / 10
    timings.sort()
    median, worst = timings[5] * 1000, timings[-1] * 1000
    print(f"publish 60 lines + 5 skills: median {median:.1f} ms, max {worst:.1f} ms")
    print(f"rollback one run: mean {undo * 1000:.1f} ms")


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_CORPUS
    if root.is_dir():
        hold_rates(root)
    else:
        print(f"no corpus at {root}: hold rates skipped")
    latency()


if __name__ == "__main__":
    main()
