"""Benchmark: what thousands of runs cost later readers, with manifests folded and without.

    .venv/bin/python bench/many_runs.py [--runs 3000] [--turns 20]

A run starts after every turn of the agent, and re-reads the session's transcript as it grows:
each simulated session has `--turns` runs whose manifests name more signal entries each time.
Manifests are written through runs.write_manifest, once keeping KEEP_RUNS (the product) and once
keeping all of them (as before the archive). Prints, for each: files and bytes on disk, the time
and peak memory of what every run, `status` and `report` then read (all kept manifests and the
archive), and the ratios.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

WRITE = """
import sys
from pathlib import Path
from selfdistill import runs
from selfdistill.paths import ProjectState

root, total, turns, keep = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
runs.KEEP_RUNS = keep
state = ProjectState(project=root / "project", root=root / "state")
for n in range(total):
    session, turn = divmod(n, turns)
    uuids = [f"{session:06d}-{k:04d}-0000-0000-000000000000" for k in range(5 * (turn + 1))]
    item = {"sessionId": f"s{session}", "file": f"/t/s{session}.jsonl", "outcome": "mixed",
            "startedAt": "2026-01-01T00:00:00Z", "counts": {"tool_error": len(uuids)},
            "uuids": uuids}
    runs.write_manifest(state, {
        "id": f"20260101T{n // 3600 % 24:02d}{n // 60 % 60:02d}{n % 60:02d}Z-{n:06x}",
        "startedAt": f"2026-01-{1 + n // 86400:02d}T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:"
        f"{n % 60:02d}Z", "dryRun": False, "sessionSignals": [item], "lessons": [], "errors": [],
    })
"""

READ = """
import resource, sys, time
from pathlib import Path
from selfdistill import runs
from selfdistill.distill import signal_owners
from selfdistill.paths import ProjectState

root = Path(sys.argv[1])
state = ProjectState(project=root / "project", root=root / "state")
started = time.perf_counter()
kept = runs.load_runs(state)
owners = signal_owners([runs.load_archive(state).as_run(), *kept])
total = runs.total_runs(state, len(kept))
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{elapsed:.3f} {peak:.1f} {total} {len(owners)}")
"""


def measure(root: Path, total: int, turns: int, keep: int) -> tuple[float, float, int, int, int]:
    python = sys.executable
    started = time.perf_counter()
    subprocess.run([python, "-c", WRITE, str(root), str(total), str(turns), str(keep)], check=True)
    write_s = time.perf_counter() - started
    out = subprocess.run(
        [python, "-c", READ, str(root)], check=True, capture_output=True, text=True
    ).stdout.split()
    files = list((root / "state").rglob("*.json"))
    size = sum(path.stat().st_size for path in files)
    print(
        f"  keep={keep:>6}: wrote {total} runs in {write_s:.1f} s; {len(files)} files, "
        f"{size / 1e6:.1f} MB; readers: {float(out[0]) * 1000:.0f} ms, {out[1]} MB peak, "
        f"{out[2]} runs counted, {out[3]} entries owned"
    )
    return float(out[0]), float(out[1]), size, int(out[2]), len(files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3000)
    parser.add_argument("--turns", type=int, default=20)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from selfdistill.runs import KEEP_RUNS

    print(f"{args.runs} runs, {args.turns} per session:")
    with tempfile.TemporaryDirectory() as scratch:
        folded = measure(Path(scratch) / "folded", args.runs, args.turns, KEEP_RUNS)
        every = measure(Path(scratch) / "all", args.runs, args.turns, args.runs + 1)
    assert folded[3] == every[3], "the archive must count every run"
    print(
        f"ratios, all kept / folded: read time x{every[0] / folded[0]:.1f}, "
        f"disk x{every[2] / folded[2]:.1f}, files x{every[4] / folded[4]:.1f}"
    )


if __name__ == "__main__":
    main()
