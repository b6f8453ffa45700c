"""What prompt caching can save on the model backend's requests, over the real corpus.

    python bench/prompt_prefix.py [--corpus DIR]

One run per project folder of the corpus, all its transcripts at once (a first run over a
project's backlog), packed into calls by the functions the backend uses. For each run: its
calls, their input, and what caching the stable prefix saves on the run's input cost. Tokens are
characters / 4. The prefix is the tool and system prompt, plus the stored lessons: none (a new
project) or as many as fit (llm_prompt.EXISTING_CHAR_BUDGET). The first call writes the prefix
(1.25x the input price), later calls read it (0.1x). The API caches nothing below the model's
minimum cacheable length (512 to 4096 tokens, see the README): the prefix sizes printed say for
which models any of this applies.

A run of one call gains only if another run reads the prefix within the cache's five minutes.
Runs start when a turn of a session ends (the Stop hook, debounced 5 s): the last line is the
share of turns that end within five minutes of the one before, from the transcripts' prompts.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from datetime import datetime
from pathlib import Path

from selfdistill import llm, llm_prompt
from selfdistill.signals import analyze
from selfdistill.transcript import iter_entries

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus" / "sessions"
CHARS_PER_TOKEN = 4
CACHE_TTL_S = 300
DEBOUNCE_S = 5


def tokens(text: str) -> int:
    return len(text) // CHARS_PER_TOKEN


def prefix_tokens(lessons_chars: int) -> int:
    schema = llm.output_schema()
    tool = json.dumps(llm_prompt.tool_definition(schema), ensure_ascii=False)
    stable = tool + llm_prompt.SYSTEM_PROMPT + "<existing_lessons>\n"
    return (len(stable) + lessons_chars) // CHARS_PER_TOKEN


def saved(prefix: int, rests: list[int]) -> float:
    """The share of the run's input cost that caching saves (negative: it costs more)."""
    plain = sum(prefix + rest for rest in rests)
    cached = prefix * llm.CACHE_WRITE_FACTOR + (len(rests) - 1) * prefix * llm.CACHE_READ_FACTOR
    return (prefix * len(rests) - cached) / plain


def turn_gaps(path: Path) -> list[float]:
    """Seconds between the user's prompts (one turn each), beyond the debounce."""
    stamps = [
        datetime.fromisoformat(entry.timestamp.replace("Z", "+00:00")).timestamp()
        for entry in iter_entries(path)
        if entry.type == "user" and entry.timestamp and entry.texts and not entry.tool_results
        if not (entry.is_meta or entry.is_sidechain)
    ]
    gaps = [later - earlier for earlier, later in itertools.pairwise(stamps)]
    return [gap for gap in gaps if gap > DEBOUNCE_S]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    args = parser.parse_args()
    projects = sorted(p for p in Path(args.corpus).iterdir() if p.is_dir())
    if not projects:
        sys.exit(f"prompt_prefix: no project folders under {args.corpus}")
    bare, full = prefix_tokens(0), prefix_tokens(llm_prompt.EXISTING_CHAR_BUDGET)
    print(f"prefix: {bare} tokens (tool, system prompt), {full} with the lessons budget full")
    print(f"{'project':44} {'calls':>5}  {'rest of each call (tokens)':28} saved (bare / full)")
    several = 0
    gaps: list[float] = []
    for project in projects:
        paths = sorted(project.rglob("*.jsonl*"))
        gaps.extend(gap for path in paths for gap in turn_gaps(path))
        reports = [analyze(path) for path in paths]
        blocks = llm_prompt.session_blocks(reports)
        batches = llm_prompt.pack(blocks, llm_prompt.BATCH_CHAR_BUDGET, llm.MAX_CALLS_PER_RUN)
        if not batches:
            continue
        rests = [tokens(llm_prompt.user_message(batch, [])[1]) for batch in batches]
        several += len(batches) > 1
        shares = f"{saved(bare, rests):+.0%} / {saved(full, rests):+.0%}"
        print(f"{project.name[:44]:44} {len(batches):>5}  {rests!s:28} {shares}")
    print(f"runs with more than one call: {several}")
    soon = sum(gap <= CACHE_TTL_S for gap in gaps) / max(len(gaps), 1)
    print(f"turns ending within {CACHE_TTL_S} s of the one before: {soon:.0%} of {len(gaps)}")


if __name__ == "__main__":
    main()
