"""Property-based fuzzing: the transcript reader, the CLAUDE.md block editor and the hook entry.

Any input: no exception escapes the reader or the hook, and the user's bytes outside the managed
block are carried through every splice and removal exactly.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from selfdistill import claudemd, signals, transcript
from selfdistill.lessons import new_lesson
from selfdistill.model import Evidence
from tests.adversarial.conftest import LONG
from tests.adversarial.harness import SCRIPT

EXAMPLES = 400 if LONG else 80
HOOK_EXAMPLES = 150 if LONG else 30
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=40)
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)
KEYS = ["type", "message", "content", "uuid", "parentUuid", "sessionId", "toolUseResult", "role",
        "tool_use_id", "is_error", "name", "input", "id", "text", "cwd", "timestamp"]  # fmt: skip
TYPES = ["user", "assistant", "system", "summary", "attachment", "tool_use", "tool_result", "text"]
# entries shaped like Claude Code's, with any value where a field is expected
entry_like = st.recursive(
    st.one_of(json_scalar, st.sampled_from(TYPES)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=6),
    ),
    max_leaves=30,
)


def jsonish_lines() -> st.SearchStrategy[bytes]:
    line = st.one_of(
        entry_like.map(lambda v: json.dumps(v).encode()),
        json_value.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=200),
        entry_like.map(lambda v: json.dumps(v).encode()[: len(json.dumps(v)) // 2]),  # torn
    )
    return st.lists(line, max_size=12).map(lambda lines: b"\n".join(lines))


def read_all(data: bytes, compress: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.jsonl"
        path.write_bytes(gzip.compress(data)[: max(10, len(data))] if compress else data)
        counts = transcript.ReadCounts()
        entries = list(transcript.iter_entries(path, counts))
        assert counts.entries == len(entries)
        report = signals.analyze(path)
        for signal in report.signals:
            assert len(signal.excerpt) <= 300


@FUZZ
@given(data=jsonish_lines(), compress=st.booleans())
def test_the_transcript_reader_takes_any_jsonish_lines(
    data: bytes, compress: bool, figures: Any
) -> None:
    read_all(data, compress)
    figures("fuzz", transcript_cases=1, exceptions=0)


@FUZZ
@given(data=st.binary(max_size=2000))
def test_the_transcript_reader_takes_any_bytes(data: bytes, figures: Any) -> None:
    read_all(data, compress=False)
    figures("fuzz", transcript_cases=1, exceptions=0)


# --- the CLAUDE.md block editor ------------------------------------------------------------------

user_text = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.lists(
        st.sampled_from([b"# Title", b"", b"text \xff", b"\r", b"- item", b"<!-- note -->",
                         b"\xef\xbb\xbf", b"  <!-- selfdistill:begin", b"selfdistill:end -->"]),
        max_size=8,
    ).map(lambda lines: b"\n".join(lines)),
)  # fmt: skip


def lesson(text: str) -> Any:
    evidence = (Evidence("s1", "u1"),)
    return new_lesson(
        "fact",
        f"Running {text[:60]}",
        f"use {text[:100]}",
        evidence=evidence,
        signal="tool_error",
        confidence=0.8,
        now="2026-01-01T00:00:00Z",
    )


def outside(data: bytes) -> tuple[bytes, bytes]:
    parts = claudemd.split(data)
    return parts.prefix, parts.suffix


@FUZZ
@given(
    head=user_text,
    tail=user_text,
    words=st.lists(st.text(max_size=80), max_size=4),
    crlf=st.booleans(),
)
def test_the_block_editor_keeps_every_user_byte(
    head: bytes, tail: bytes, words: list[str], crlf: bool, figures: Any
) -> None:
    figures("fuzz", block_editor_cases=1, user_bytes_changed=0)
    try:
        for text in (head, tail, head + tail):
            claudemd.split(text)
    except claudemd.MalformedBlock:
        return  # the user's own text already holds markers: refused, never guessed
    eol = b"\r\n" if crlf else b"\n"
    region = claudemd.render([lesson(w) for w in words], eol).region
    new, separator, trailer = claudemd.splice(head, region)
    assert new.startswith(head)
    again, _, _ = claudemd.splice(new, claudemd.render([lesson("x")], eol).region)
    assert outside(again) == outside(new)  # replacing the block touches nothing else
    assert claudemd.remove(again, separator, trailer) == head
    # a user appending after the block keeps their text through a re-render and a removal
    appended = new + eol + tail if tail else new
    try:
        before = outside(appended)
    except claudemd.MalformedBlock:
        return
    spliced, _, _ = claudemd.splice(appended, region)
    assert outside(spliced) == before


@FUZZ
@given(text=st.text(max_size=400))
def test_a_rendered_line_never_breaks_out_of_the_block(text: str, figures: Any) -> None:
    figures("fuzz", rendered_line_cases=1)
    data = b"user\n"
    region = claudemd.render([lesson(text)]).region
    new, separator, trailer = claudemd.splice(data, region)
    parts = claudemd.split(new)
    assert parts.region == region
    assert claudemd.remove(new, separator, trailer) == data


# --- the hook entry ------------------------------------------------------------------------------

hook_stdin = st.one_of(
    st.binary(max_size=400),
    json_value.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(
        st.sampled_from(["session_id", "transcript_path", "cwd", "hook_event_name", "tool_name",
                         "tool_input", "tool_response", "error", "prompt", "is_interrupt"]),
        json_value,
        max_size=8,
    ).map(lambda v: json.dumps(v).encode()),
)  # fmt: skip
EVENTS = [
    "PostToolUse",
    "PostToolUseFailure",
    "UserPromptSubmit",
    "SessionStart",
    "Notification",
    "",
    "Bogus\x00",
]


@settings(
    max_examples=HOOK_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=hook_stdin, event=st.sampled_from(EVENTS))
def test_the_hook_takes_any_stdin(
    data: bytes, event: str, tmp_path_factory: pytest.TempPathFactory, figures: Any
) -> None:
    figures("fuzz", hook_stdin_cases=1)
    project = tmp_path_factory.mktemp("fuzzproject")
    env = {**os.environ, "CLAUDE_PROJECT_DIR": str(project), "SELFDISTILL_AUTORUN": "0"}
    done = subprocess.run(
        [str(SCRIPT), "hook", event.replace("\x00", "")],
        input=data,
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
