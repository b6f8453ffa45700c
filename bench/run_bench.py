"""Benchmark: `selfdistill run` over ~60 MB of real transcripts, against the parse floor.

    .venv/bin/python bench/run_bench.py [--corpus DIR] [--mb 60]

Transcripts (`*.jsonl.gz` under the corpus, subagent files included) are decompressed into a
temporary directory until their plain size reaches --mb, as Claude Code writes them. Each
measurement runs in its own process, so its wall time and peak RSS are its own:
- floor-json: read every line and json.loads it (the least any reader must do);
- floor-parse: selfdistill.transcript.iter_entries over every file (the shared reader);
- run: `selfdistill run --transcript ...` with a fresh state and project (analysis, lessons,
  store, manifest, publish);
- rerun: the same command again (everything re-analysed, nothing new to store).
Prints figures and the ratios of run to floor.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus" / "sessions"

FLOOR_JSON = """
import json, sys
lines = 0
for name in sys.argv[1:]:
    with open(name, "rb") as handle:
        for line in handle:
            try:
                json.loads(line)
            except ValueError:
                pass
            lines += 1
print(lines)
"""

FLOOR_PARSE = """
import sys
from pathlib import Path
from selfdistill.transcript import iter_entries
entries = 0
for name in sys.argv[1:]:
    for _ in iter_entries(Path(name)):
        entries += 1
print(entries)
"""


def gather(corpus: Path, target_bytes: int, into: Path) -> list[Path]:
    """Decompress transcripts, largest folders' files in name order, up to target_bytes."""
    files: list[Path] = []
    total = 0
    for source in sorted(corpus.glob("*/*.jsonl.gz")):
        if total >= target_bytes:
            break
        out = into / f"{len(files):04d}-{source.name[: -len('.gz')]}"
        with gzip.open(source, "rb") as raw, out.open("wb") as plain:
            shutil.copyfileobj(raw, plain)
        total += out.stat().st_size
        files.append(out)
    return files


def measure(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB, and stdout of one child process (run alone)."""
    script = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter()\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "wall = time.perf_counter() - t\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(json.dumps({'wall': wall, 'rss': rss, 'code': done.returncode,"
        " 'out': done.stdout, 'err': done.stderr[-2000:]}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *argv], env=env, cwd=cwd, capture_output=True, text=True
    )
    result = json.loads(done.stdout)
    if result["code"] != 0:
        raise SystemExit(f"benchmark step failed: {' '.join(argv[:4])}...\n{result['err']}")
    return float(result["wall"]), float(result["rss"]), str(result["out"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--mb", type=float, default=60.0)
    args = parser.parse_args()
    if not args.corpus.is_dir():
        raise SystemExit(f"no corpus at {args.corpus}")
    with tempfile.TemporaryDirectory(prefix="selfdistill-bench-") as scratch:
        root = Path(scratch)
        (root / "t").mkdir()
        project = root / "project"
        (project / ".git").mkdir(parents=True)
        files = gather(args.corpus, int(args.mb * 1024 * 1024), root / "t")
        size_mb = sum(f.stat().st_size for f in files) / (1024 * 1024)
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "HOME": str(root / "home"),
            "SELFDISTILL_HOME": str(root / "state"),
        }
        env.pop("ANTHROPIC_API_KEY", None)  # heuristic mode: no network in a benchmark
        names = [str(f) for f in files]
        py = sys.executable
        floor_json = measure([py, "-c", FLOOR_JSON, *names], env, root)
        floor_parse = measure([py, "-c", FLOOR_PARSE, *names], env, root)
        command = [py, "-m", "selfdistill", "run", "--json", "--project", str(project)]
        command += [arg for name in names for arg in ("--transcript", name)]
        first = measure(command, env, root)
        rerun = measure(command, env, root)
        report(files, size_mb, floor_json, floor_parse, first, rerun)


def report(
    files: list[Path],
    size_mb: float,
    floor_json: tuple[float, float, str],
    floor_parse: tuple[float, float, str],
    first: tuple[float, float, str],
    rerun: tuple[float, float, str],
) -> None:
    manifest = json.loads(first[2]) if first[2].strip().startswith("{") else {}
    again = json.loads(rerun[2]) if rerun[2].strip().startswith("{") else {}
    print(f"transcripts: {len(files)} files, {size_mb:.1f} MB uncompressed")
    rows = [("floor-json", floor_json), ("floor-parse", floor_parse), ("run", first)]
    rows.append(("rerun", rerun))
    for name, (wall, rss, _) in rows:
        print(f"{name:<12} {wall:7.2f} s  {size_mb / wall:6.1f} MB/s  peak RSS {rss:6.1f} MB")
    for name, (wall, rss, _) in (("floor-parse", floor_parse), ("floor-json", floor_json)):
        print(f"run / {name + ':':<12} time x{first[0] / wall:.2f}, RSS x{first[1] / rss:.2f}")
    if manifest:
        print(
            f"run: {manifest['sessionsProcessed']} sessions, {manifest['lessonsGenerated']} "
            f"candidates, {manifest['lessonsNew']} new lessons, "
            f"{manifest['lessonsActivated']} activated"
        )
    if again:
        print(f"rerun: {again['lessonsNew']} new lessons, {again['lessonsMerged']} merged")


if __name__ == "__main__":
    main()
