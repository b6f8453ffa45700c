"""Score the correction / approval judge against the hand labels in bench/labels/.

    python bench/eval_judge.py [--corpus DIR] [--errors] [--blind-errors NAME ...]

The labels hold only ids (repository+file, entry uuid) and a label; the prompts are read from the
corpus (default: ../shared/corpus next to the repository, or /work/shared/corpus). The judge runs
exactly as `selfdistill signals` runs it (whole transcript, in context).

Splits (history in labels/README.md): judge.jsonl is split by a hash of the repository name into
"dev-a" (cues developed on it from the start) and "dev-b" (held out in the first round, scored
once, then used for tuning in the second round); "all" is both. judge_fresh.jsonl ("fresh") was
labelled after the first round; from round 3 on it is tuned on too. judge_fresh2.jsonl ("fresh2")
was labelled before round 3 and was blind until round 4 tuned on it. judge_fresh3.jsonl
("fresh3") was labelled the same way before round 4 and never tuned on. judge_fresh4a.jsonl and
judge_fresh4b.jsonl ("fresh4a", "fresh4b") are one random sample, labelled before round 5 by two
labellers who never saw the judge, split in two halves: round 5 read fresh4a's misses and never
fresh4b's. judge_fresh5a.jsonl and judge_fresh5b.jsonl are the same again before round 6, all
transcript rows: round 6 read fresh5a's misses and never fresh5b's. fresh3, fresh4b and fresh5b
are the honest estimates of how the judge does on prompts it has not seen. The blind sets' rows
come from two sources: session transcripts (judged exactly as `selfdistill signals` judges them,
in full context, with the start of the agent's answer) and UserPromptSubmit hook payloads (rows
with "source": "hook" and a line number; the judge sees only that the agent had worked before,
not what it said). Prints precision / recall / F1 per label and a confusion table for each split.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

from selfdistill.judge import PromptContext, judge
from selfdistill.signals import analyze

HERE = Path(__file__).resolve().parent
LABELS = HERE / "labels" / "judge.jsonl"
# Labelled later, from prompts no cue was ever tuned on (see labels/README.md): scored apart.
FRESH = HERE / "labels" / "judge_fresh.jsonl"
# Labelled before round 3 from never-labelled prompts of many repositories; tuned on from round 4.
FRESH2 = HERE / "labels" / "judge_fresh2.jsonl"
# Labelled before round 4 changed anything, same sources and format as fresh2: never tuned on.
FRESH3 = HERE / "labels" / "judge_fresh3.jsonl"
# Labelled before round 5 by two labellers who never saw the judge; split at random in two halves:
# round 5 read fresh4a's misses, fresh4b was never tuned on.
FRESH4A = HERE / "labels" / "judge_fresh4a.jsonl"
FRESH4B = HERE / "labels" / "judge_fresh4b.jsonl"
# Labelled before round 6 by two labellers who never saw the judge: all the transcript prompts
# left in the corpus, split at random in two halves like fresh4.
FRESH5A = HERE / "labels" / "judge_fresh5a.jsonl"
FRESH5B = HERE / "labels" / "judge_fresh5b.jsonl"
BLIND = (
    ("fresh2", FRESH2),
    ("fresh3", FRESH3),
    ("fresh4a", FRESH4A),
    ("fresh4b", FRESH4B),
    ("fresh5a", FRESH5A),
    ("fresh5b", FRESH5B),
)
KINDS = ("correction", "approval", "other")


def corpus_root(given: str | None) -> Path:
    candidates = (
        [Path(given)]
        if given
        else [HERE.parent.parent / "shared" / "corpus", Path("/work/shared/corpus")]
    )
    for root in candidates:
        if (root / "sessions").is_dir():
            return root
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


def hook_predictions(root: Path, rows: list[dict[str, str]]) -> dict[tuple[str, str], str]:
    """Judge prompts taken from UserPromptSubmit payloads: only "the agent had worked" is known."""
    found: dict[tuple[str, str], str] = {}
    for file in sorted({row["file"] for row in rows}):
        with gzip.open(root / "hook_payloads" / file, "rt", encoding="utf-8") as stream:
            lines = stream.read().splitlines()
        for row in rows:
            if row["file"] == file:
                prompt = json.loads(lines[int(row["line"]) - 1]).get("prompt") or ""
                verdict = judge(prompt, PromptContext(agent_acted=True))
                found[(file, str(row["line"]))] = verdict.label
    return found


def key(row: dict[str, str]) -> tuple[str, str]:
    if row.get("source") == "hook":
        return (row["file"], str(row["line"]))
    return (row["file"], row["uuid"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus")
    parser.add_argument("--errors", action="store_true", help="list misjudged ids (tuned splits)")
    parser.add_argument(
        "--blind-errors",
        action="append",
        default=[],
        choices=[name for name, _ in BLIND],
        metavar="NAME",
        help="also list this blind set's misses (this spoils it as a blind test)",
    )
    args = parser.parse_args()
    root = corpus_root(args.corpus)
    rows = _read(LABELS)
    fresh = _read(FRESH) if FRESH.exists() else []
    blind = [(name, _read(path) if path.exists() else []) for name, path in BLIND]
    blind_rows = [row for _, named_rows in blind for row in named_rows]
    hooks = [row for row in blind_rows if row.get("source") == "hook"]
    sessions = [row for row in rows + fresh + blind_rows if row.get("source") != "hook"]
    got = predictions(root / "sessions", {row["file"] for row in sessions})
    got.update(hook_predictions(root, hooks))
    by_split: dict[str, list[tuple[str, str]]] = defaultdict(list)
    named = [(row, [split_of(row["file"]), "all", "tuned"]) for row in rows]
    named += [(row, ["fresh", "tuned"]) for row in fresh]
    for name, named_rows in blind:
        for row in named_rows:
            origin = "hook" if row.get("source") == "hook" else "session"
            named.append((row, [name, f"{name}-{origin}"]))
    show_blind = {name: name in args.blind_errors for name, _ in BLIND}
    for row, splits in named:
        pair = (row["label"], got.get(key(row), "other"))
        for split in splits:
            by_split[split].append(pair)
        show = show_blind.get(splits[0], args.errors)
        if show and pair[0] != pair[1]:
            print(f"MISS {splits[0]} gold={pair[0]} got={pair[1]} {' '.join(key(row))}")
    order: tuple[str, ...] = ("dev-a", "dev-b", "all", "fresh", "tuned")
    order += tuple(f"{name}{part}" for name, _ in BLIND for part in ("", "-session", "-hook"))
    for split in order:
        if not by_split[split]:
            continue
        pairs = by_split[split]
        gold = Counter(g for g, _ in pairs)
        print(f"{split}: {len(pairs)} prompts ({', '.join(f'{gold[k]} {k}' for k in KINDS)})")
        print("\n".join(scores(pairs) + confusion(pairs)))


if __name__ == "__main__":
    main()
