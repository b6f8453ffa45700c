"""Score session outcomes against sessions read by hand (bench/labels/outcome.jsonl).

    python bench/eval_outcome.py [--corpus DIR]

Each label is one reader's verdict on a whole session (positive / negative / mixed / neutral),
given by reading the transcript. The labels hold only the file's id and the verdict; the
sessions are read from the corpus. "tuned": 44 sessions the outcome's weights were checked
against; "blind": 33 sessions drawn at random later and read by a labeller who never saw the
outcome or its code, scored once the weights were set. Prints agreement, verdicts pointing the
opposite way (positive against negative) and a confusion table per set.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

from eval_judge import corpus_root

from selfdistill.signals import analyze

LABELS = Path(__file__).resolve().parent / "labels" / "outcome.jsonl"
OUTCOMES = ("positive", "mixed", "negative", "neutral")


def table(pairs: list[tuple[str, str]]) -> list[str]:
    agree = sum(gold == got for gold, got in pairs)
    opposite = sum({gold, got} == {"positive", "negative"} for gold, got in pairs)
    counts = Counter(pairs)
    lines = [f"  agree {agree} of {len(pairs)}, opposite {opposite}"]
    lines.append("  read \\ got  " + "".join(f"{k:>10}" for k in OUTCOMES))
    for gold in OUTCOMES:
        lines.append(f"  {gold:<12}" + "".join(f"{counts[(gold, got)]:>10}" for got in OUTCOMES))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus")
    sessions = corpus_root(parser.parse_args().corpus) / "sessions"
    by_set: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for line in LABELS.read_text().splitlines():
        row = json.loads(line)
        by_set[row["set"]].append((row["label"], analyze(sessions / row["file"]).outcome))
    for name, pairs in by_set.items():
        print(f"{name}: {len(pairs)} sessions")
        print("\n".join(table(pairs)))


if __name__ == "__main__":
    main()
