"""Time of `selfdistill hook EVENT` on real payloads, against a bare interpreter start.

    .venv/bin/python bench/hook_latency.py [--runs N] [--corpus DIR]

Runs the hook on payloads from the corpus, each in a fresh process exactly as Claude Code runs
it, with state in a temporary SELFDISTILL_HOME, in three ways:
  - the console script next to sys.executable (`<venv>/bin/selfdistill hook EVENT`): what
    `selfdistill install` registers today. pip's wrapper does `import re` before our code runs;
  - the launcher `python <...>/selfdistill/entry.py hook EVENT`: the same entry point run as a
    file, which imports nothing before our code;
  - `python -m selfdistill hook EVENT`, which pays for runpy.
Stop and SessionEnd are left out: they also start a distiller, which is not the hook's own cost.
The bare start is `python -c pass` with the same interpreter and environment. Runs interleave,
so load on the machine hits all alike; medians of wall time and of CPU time (user + system of
the child, steadier than wall time on a busy machine) are compared.
Target: the hook's median at most 1.5x the bare start's.

PYTHONDONTWRITEBYTECODE is dropped from the children's environment: an installed package has its
bytecode, and without it every run would time the compiler instead of the hook.
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

from selfdistill import entry

CORPUS = Path("/work/shared/corpus/hook_payloads")
LAUNCHER = "python selfdistill/entry.py (what install registers)"
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

    def median(self, name: str) -> float:
        return statistics.median(self.wall if name == "wall" else self.cpu)

    def line(self, label: str) -> str:
        wall, cpu = self.median("wall") * 1000, self.median("cpu") * 1000
        slow = statistics.quantiles(self.cpu, n=10)[-1] * 1000 if len(self.cpu) > 1 else cpu
        return (
            f"{label:<46} median wall {wall:5.1f} ms  cpu {cpu:5.1f} ms"
            f"  (cpu p90 {slow:5.1f})  n={len(self.wall)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200, help="hook runs (and as many bare ones)")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    payloads = load_payloads(args.corpus, max(1, args.runs // len(EVENTS)))
    ways = {
        "console script": [str(Path(sys.executable).parent / "selfdistill")],
        LAUNCHER: [sys.executable, entry.__file__],
        "python -m selfdistill": [sys.executable, "-m", "selfdistill"],
    }
    with tempfile.TemporaryDirectory() as tmp:
        bare, hook, per_event = measure(payloads, ways, hook_env(Path(tmp)))
        recorded = recorded_lines(Path(tmp) / "state")
    runs = len(ways) * (len(payloads) + 1)
    print(f"payloads: {len(payloads)} real ones from {args.corpus}; load {os.getloadavg()[0]:.1f}")
    print(f"observations recorded: {recorded} of {runs} hook runs (a hook that fails is no faster)")
    print(bare.line("bare interpreter (python -c pass)"))
    for event, timing in per_event.items():
        print(timing.line(f"{LAUNCHER}, {event}"))
    for way, timing in hook.items():
        print(timing.line(f"hook via {way}"))
    for way, timing in hook.items():
        wall, cpu = (timing.median(name) / bare.median(name) for name in ("wall", "cpu"))
        print(f"ratio hook / bare, {way:<34} wall {wall:.2f}x  cpu {cpu:.2f}x (target <= 1.5x)")
    tool = per_event["PostToolUse"]  # the event of every tool call: most of a session's hook runs
    wall, cpu = (tool.median(name) / bare.median(name) for name in ("wall", "cpu"))
    print(f"ratio hook / bare, {LAUNCHER + ', PostToolUse':<34} wall {wall:.2f}x  cpu {cpu:.2f}x")


def recorded_lines(state: Path) -> int:
    segments = state.glob("projects/*/observations/obs-*.jsonl")
    return sum(path.read_bytes().count(b"\n") for path in segments)


def hook_env(tmp: Path) -> dict[str, str]:
    project = tmp / "project"
    (project / ".git").mkdir(parents=True)
    env = {**os.environ, "SELFDISTILL_HOME": str(tmp / "state")}
    env["CLAUDE_PROJECT_DIR"] = str(project)
    for name in ("SELFDISTILL_DISABLE", "SELFDISTILL_INTERNAL", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    return env


def measure(
    payloads: list[tuple[str, bytes]], ways: dict[str, list[str]], env: dict[str, str]
) -> tuple[Timing, dict[str, Timing], dict[str, Timing]]:
    """Bare starts, hook runs per way, and the launcher's runs per event; interleaved."""
    for argv in ways.values():  # warm-up: bytecode written, file caches filled
        Timing().run([*argv, "hook", payloads[0][0]], payloads[0][1], env)
    bare = Timing()
    hook = {way: Timing() for way in ways}
    per_event = {event: Timing() for event, _ in payloads}
    for event, payload in payloads:
        bare.run([sys.executable, "-c", "pass"], b"", env)
        for way, argv in ways.items():
            hook[way].run([*argv, "hook", event], payload, env)
        per_event[event].wall.append(hook[LAUNCHER].wall[-1])
        per_event[event].cpu.append(hook[LAUNCHER].cpu[-1])
    return bare, hook, per_event


if __name__ == "__main__":
    main()
