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


def timed(argv: list[str], stdin: bytes, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, input=stdin, env=env, check=False, capture_output=True)
    return time.perf_counter() - start


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
        bare: list[float] = []
        hook: dict[str, list[float]] = {event: [] for event in EVENTS}
        for event, payload in payloads:  # interleaved, so load on the machine hits both alike
            bare.append(timed([sys.executable, "-c", "pass"], b"", env))
            hook[event].append(timed([str(script), "hook", event], payload, env))
        floor = timed([sys.executable, "-c", "import selfdistill.paths"], b"", env)
    every = [t for times in hook.values() for t in times]
    base = statistics.median(bare)
    print(f"payloads: {len(every)} real ones from {args.corpus}")
    print(f"bare interpreter (python -c pass): median {base * 1000:7.1f} ms")
    for event, times in hook.items():
        if times:
            print(
                f"hook {event:<20} median {statistics.median(times) * 1000:7.1f} ms  n={len(times)}"
            )
    median = statistics.median(every)
    print(f"hook, all events:                  median {median * 1000:7.1f} ms")
    print(f"import selfdistill.paths alone (one run): {floor * 1000:.1f} ms")
    print(f"ratio hook / bare: {median / base:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
