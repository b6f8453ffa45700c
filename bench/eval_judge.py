"""Score the correction / approval judge against the hand labels in bench/labels/.

    python bench/eval_judge.py [--corpus DIR] [--errors]

The labels hold only ids (repository+file, entry uuid) and a label; the prompts are read from the
corpus (default: ../shared/corpus next to the repository, or /work/shared/corpus). The judge runs
exactly as `selfdistill signals` runs it (whole transcript, in context).

Splits (history in labels/README.md): judge.jsonl is split by a hash of the repository name into
"dev-a" (cues developed on it from the start) and "dev-b" (held out in the first round, scored
once, then used for tuning in the second round); "all" is both. judge_fresh.jsonl ("fresh") was
labelled after the first round and its misses were never looked at: the honest estimate of how
the judge does on prompts it has not seen. Prints precision / recall / F1 per label and a
confusion table for each.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

from selfdistill.signals import analyze

HERE = Path(__file__).resolve().parent
LABELS = HERE / "labels" / "judge.jsonl"
# Labelled later, from prompts no cue was ever tuned on (see labels/README.md): scored apart.
FRESH = HERE / "labels" / "judge_fresh.jsonl"
KINDS = ("correction", "approval", "other")


def corpus_root(given: str | None) -> Path:
    candidates = (
        [Path(given)]
        if given
        else [HERE.parent.parent / "shared" / "corpus", Path("/work/shared/corpus")]
    )
    for root in candidates:
        if (root / "sessions").is_dir():
            return root / "sessions"
    sys.exit(f"eval_judge: no corpus found (tried {', '.join(map(str, candidates))})")


def split_of(file: str) -> str:
    """About a third of the repositories go to dev-b, chosen by a hash of the name."""
    repo = file.split("/", 1)[0]
    return "dev-b" if int(hashlib.sha1(repo.encode()).hexdigest(), 16) % 3 == 0 else "dev-a"


def predictions(root: Path, files: set[str]) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for file in sorted(files):
        report = analyze(root / file)
        for signal in report.signals:
            if signal.kind in ("correction", "approval"):
                found[(file, signal.uuid)] = signal.kind
    return found


def scores(pairs: list[tuple[str, str]]) -> list[str]:
    lines = []
    for kind in ("correction", "approval"):
        tp = sum(1 for gold, got in pairs if gold == kind and got == kind)
        fp = sum(1 for gold, got in pairs if gold != kind and got == kind)
        fn = sum(1 for gold, got in pairs if gold == kind and got != kind)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        lines.append(
            f"  {kind:<11} P={precision:.2f} R={recall:.2f} F1={f1:.2f}  (tp={tp} fp={fp} fn={fn})"
        )
    return lines


def confusion(pairs: list[tuple[str, str]]) -> list[str]:
    table = Counter(pairs)
    lines = ["  gold \\ got   " + "".join(f"{k:>12}" for k in KINDS)]
    for gold in KINDS:
        lines.append(f"  {gold:<13}" + "".join(f"{table[(gold, got)]:>12}" for got in KINDS))
    return lines


def _read(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus")
    parser.add_argument("--errors", action="store_true", help="list misjudged ids (dev splits)")
    args = parser.parse_args()
    root = corpus_root(args.corpus)
    rows = _read(LABELS)
    fresh = _read(FRESH) if FRESH.exists() else []
    got = predictions(root, {row["file"] for row in rows + fresh})
    by_split: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in rows:
        pair = (row["label"], got.get((row["file"], row["uuid"]), "other"))
        by_split[split_of(row["file"])].append(pair)
        by_split["all"].append(pair)
        if args.errors and pair[0] != pair[1]:
            print(f"MISS gold={pair[0]} got={pair[1]} {row['file']} {row['uuid']}")
    for row in fresh:
        by_split["fresh"].append((row["label"], got.get((row["file"], row["uuid"]), "other")))
    for split in ("dev-a", "dev-b", "all", "fresh"):
        if not by_split[split]:
            continue
        pairs = by_split[split]
        gold = Counter(g for g, _ in pairs)
        print(f"{split}: {len(pairs)} prompts ({', '.join(f'{gold[k]} {k}' for k in KINDS)})")
        print("\n".join(scores(pairs) + confusion(pairs)))


if __name__ == "__main__":
    main()
