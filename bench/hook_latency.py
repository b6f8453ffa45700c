"""Wall time of `selfdistill hook EVENT` on real payloads, against a bare interpreter start.

    .venv/bin/python bench/hook_latency.py [--runs N] [--corpus DIR]

Runs the installed console script (next to sys.executable) on payloads from the corpus, each in
a fresh process exactly as Claude Code runs it, with state in a temporary SELFDISTILL_HOME.
Stop and SessionEnd are left out: they also start a distiller, which is not the hook's own cost.
Target: the hook's median at most 1.5x the median of `python -c pass`.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CORPUS = Path("/work/shared/corpus/hook_payloads")
EVENTS = ("PostToolUse", "PostToolUseFailure", "UserPromptSubmit", "SessionStart", "Notification")


def load_payloads(corpus: Path, per_event: int) -> list[tuple[str, bytes]]:
    rng = random.Random(7)
    chosen: list[tuple[str, bytes]] = []
    for event in EVENTS:
        lines: list[bytes] = []
        for path in sorted(corpus.glob(f"*/{event}.jsonl.gz")):
            with gzip.open(path, "rb") as payloads:
                lines += [line for line in payloads.read().splitlines() if line.strip()]
        rng.shuffle(lines)
        chosen += [(event, line) for line in lines[:per_event]]
    return chosen


class Timing:
    """Wall and CPU (user + system) seconds of each child process run."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def run(self, argv: list[str], stdin: bytes, env: dict[str, str]) -> None:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(argv, input=stdin, env=env, check=False, capture_output=True)
        self.wall.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        used = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        self.cpu.append(used)

    def line(self, label: str) -> str:
        wall, cpu = statistics.median(self.wall) * 1000, statistics.median(self.cpu) * 1000
        return f"{label:<34} wall {wall:6.1f} ms   cpu {cpu:6.1f} ms   n={len(self.wall)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200, help="hook runs (and as many bare ones)")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    script = Path(sys.executable).parent / "selfdistill"
    payloads = load_payloads(args.corpus, max(1, args.runs // len(EVENTS)))
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        (project / ".git").mkdir(parents=True)
        env = {**os.environ, "SELFDISTILL_HOME": str(Path(tmp) / "state")}
        env["CLAUDE_PROJECT_DIR"] = str(project)
        for name in ("SELFDISTILL_DISABLE", "SELFDISTILL_INTERNAL"):
            env.pop(name, None)
        bare, floor, every = Timing(), Timing(), Timing()
        hook = {event: Timing() for event in EVENTS}
        floor_code = "import json, selfdistill.paths"  # what any hook pays before its own work
        for event, payload in payloads:  # interleaved, so load on the machine hits all alike
            bare.run([sys.executable, "-c", "pass"], b"", env)
            floor.run([sys.executable, "-c", floor_code], b"", env)
            hook[event].run([str(script), "hook", event], payload, env)
            every.wall.append(hook[event].wall[-1])
            every.cpu.append(hook[event].cpu[-1])
    print(
        f"payloads: {len(every.wall)} real ones from {args.corpus}; load {os.getloadavg()[0]:.1f}"
    )
    print(bare.line("bare interpreter (python -c pass)"))
    print(floor.line("import json + selfdistill.paths"))
    for event, timing in hook.items():
        if timing.wall:
            print(timing.line(f"hook {event}"))
    print(every.line("hook, all events"))
    for name in ("wall", "cpu"):
        ratio = statistics.median(getattr(every, name)) / statistics.median(getattr(bare, name))
        print(f"ratio hook / bare ({name}): {ratio:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
