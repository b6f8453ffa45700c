"""Reading throughput and memory of `signals.analyze` against the floor of merely decompressing
and parsing the same transcripts.

    python bench/read_throughput.py [--corpus DIR] [--min-mb 60]

The floor: gzip-decompress every file and json.loads every line, nothing else. Both run in a
fresh subprocess each, over the same files (repeated if the corpus holds less than --min-mb of
uncompressed JSON), and report their CPU time and peak resident memory (ru_maxrss, which
includes the interpreter itself, about 10-20 MB). CPU time, best of --repeat runs, because the
machine is shared and wall time swings with its load. Targets: analyze within 2x the floor's
time, under 100 MB.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def corpus_files(given: str | None) -> list[Path]:
    roots = (
        [Path(given)]
        if given
        else [HERE.parent.parent / "shared" / "corpus", Path("/work/shared/corpus")]
    )
    for root in roots:
        sessions = root / "sessions" if (root / "sessions").is_dir() else root
        files = sorted(sessions.rglob("*.jsonl.gz")) + sorted(sessions.rglob("*.jsonl"))
        if files:
            return files
    sys.exit(f"read_throughput: no transcripts under {', '.join(map(str, roots))}")


def uncompressed_size(path: Path) -> int:
    with gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb") as stream:
        return sum(len(chunk) for chunk in iter(lambda: stream.read(1 << 20), b""))


def floor(paths: list[Path]) -> int:
    """Decompress and parse every line; return the number of lines parsed."""
    lines = 0
    for path in paths:
        with gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb") as stream:
            for line in stream:
                try:
                    json.loads(line)
                except ValueError:
                    continue
                lines += 1
    return lines


def analyze_all(paths: list[Path]) -> int:
    from selfdistill.signals import analyze

    return sum(len(analyze(path).signals) for path in paths)


def child(mode: str, paths: list[Path]) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    count = floor(paths) if mode == "floor" else analyze_all(paths)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result = {"seconds": cpu, "wall": wall, "count": count, "peak_mb": after.ru_maxrss / 1024}
    print(json.dumps(result))


def measure(mode: str, paths: list[Path]) -> dict[str, float]:
    listing = HERE / f".paths-{mode}.txt"
    listing.write_text("\n".join(map(str, paths)))
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--child", mode, "--paths", str(listing)],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        listing.unlink()
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus")
    parser.add_argument("--min-mb", type=float, default=60.0)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best counts")
    parser.add_argument("--child", choices=("floor", "analyze"), help=argparse.SUPPRESS)
    parser.add_argument("--paths", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, [Path(p) for p in Path(args.paths).read_text().splitlines()])
        return
    files = corpus_files(args.corpus)
    sizes = {path: uncompressed_size(path) for path in files}
    paths: list[Path] = []
    total = 0
    while total < args.min_mb * 1e6:
        paths.extend(files)
        total += sum(sizes.values())
    mb = total / 1e6
    # CPU seconds, best of N alternating runs: the machine is shared and noise only adds time.
    runs = [(measure("floor", paths), measure("analyze", paths)) for _ in range(args.repeat)]
    base = min((floor_run for floor_run, _ in runs), key=lambda r: r["seconds"])
    ours = min((our_run for _, our_run in runs), key=lambda r: r["seconds"])
    print(f"best of {args.repeat} runs each")
    print(f"transcripts: {len(paths)} files ({len(files)} distinct), {mb:.1f} MB uncompressed")
    print(
        f"floor   (gunzip + json.loads): {base['seconds']:6.2f} s CPU ({base['wall']:.2f} s wall)"
        f"  {mb / base['seconds']:6.1f} MB/s"
        f"  peak RSS {base['peak_mb']:5.1f} MB"
    )
    print(
        f"analyze (signals.analyze):     {ours['seconds']:6.2f} s CPU ({ours['wall']:.2f} s wall)"
        f"  {mb / ours['seconds']:6.1f} MB/s"
        f"  peak RSS {ours['peak_mb']:5.1f} MB  ({int(ours['count'])} signals)"
    )
    ratio = ours["seconds"] / base["seconds"]
    print(
        f"ratio analyze/floor: {ratio:.2f}x (target <= 2.0x); "
        f"peak memory {ours['peak_mb']:.1f} MB (target < 100 MB)"
    )


if __name__ == "__main__":
    main()
