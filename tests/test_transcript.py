"""The streaming transcript reader: every version's shape, and whatever else a file may hold."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from pathlib import Path

import pytest

from selfdistill import transcript
from selfdistill.transcript import HEAD_CHARS, TAIL_CHARS, ReadCounts, bound, iter_entries
from tests.data.transcripts.builder import Transcript

DATA = Path(__file__).parent / "data" / "transcripts"


def _small() -> Transcript:
    t = Transcript()
    t.prompt("list the files")
    call = t.bash("ls", text="Listing.")
    t.result(call, "a.txt\nb.txt")
    return t


def test_plain_and_gzipped_files_read_the_same(tmp_path):
    t = _small()
    plain = list(iter_entries(t.write(tmp_path / "s.jsonl")))
    zipped = list(iter_entries(t.write(tmp_path / "s.jsonl.gz", gz=True)))
    assert plain == zipped
    assert [e.type for e in plain] == ["user", "assistant", "user"]


def test_gzip_is_recognized_by_content_not_by_name(tmp_path):
    path = tmp_path / "renamed.jsonl"
    path.write_bytes(gzip.compress(("\n".join(_small().lines()) + "\n").encode()))
    assert len(list(iter_entries(path))) == 3


def test_an_entry_keeps_tree_text_and_tool_blocks(tmp_path):
    entries = list(iter_entries(_small().write(tmp_path / "s.jsonl")))
    prompt, call, result = entries
    assert prompt.text == "list the files" and prompt.role == "user"
    assert call.parent_uuid == prompt.uuid and call.session_id == "sess-1"
    assert call.texts == ("Listing.",)
    [use] = call.tool_uses
    assert use.name == "Bash" and use.input["command"] == "ls"
    [res] = result.tool_results
    assert res.tool_use_id == use.id and res.is_error is False and "b.txt" in res.text
    assert result.tool_use_result == {"stdout": "a.txt\nb.txt"}
    assert (call.version, call.cwd, call.line_number) == ("2.1.0", "/work/project", 2)


def test_an_entry_keeps_the_head_of_its_first_thinking_block_without_private_spans(tmp_path):
    t = Transcript()
    t.think("The user is right. <private>token abc</private> " + "x" * 5000)
    t.raw(
        {
            "type": "assistant",
            "uuid": "a2",
            "message": {
                "content": [
                    {"type": "thinking", "thinking": "first <private>key " + "y" * 5000},
                    {"type": "thinking", "thinking": "second"},
                    {"type": "redacted_thinking", "data": "opaque"},
                ]
            },
        }
    )
    kept, cut = list(iter_entries(t.write(tmp_path / "s.jsonl")))
    assert kept.thinking.startswith("The user is right. [PRIVATE] xxx")
    assert len(kept.thinking) <= transcript.THINKING_CHARS and kept.texts == ()
    assert cut.thinking == "first [PRIVATE]"  # a span cut open still goes


def test_a_truncated_last_line_is_skipped_and_counted(tmp_path):
    t = _small()
    path = t.write(tmp_path / "s.jsonl", tail=b'{"type":"user","message":{"role":"us')
    counts = ReadCounts()
    assert len(list(iter_entries(path, counts))) == 3
    assert (counts.lines, counts.entries, counts.skipped) == (4, 3, 1)


def test_binary_garbage_and_non_objects_are_skipped(tmp_path):
    lines = _small().lines()
    junk = [b"\x00\xff\xfe garbage \x80\x81", b"[1, 2, 3]", b'"just a string"', b"", b"null"]
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"\n".join([lines[0].encode(), *junk, *(x.encode() for x in lines[1:])]))
    counts = ReadCounts()
    assert len(list(iter_entries(path, counts))) == 3
    assert counts.skipped == len(junk)


def test_invalid_utf8_inside_a_line_is_tolerated(tmp_path):
    record = json.dumps({"type": "user", "uuid": "x1", "message": {"content": "caf\u00e9"}})
    path = tmp_path / "s.jsonl"
    path.write_bytes(record.encode().replace(b"\\u00e9", b"\xe9"))  # a raw latin-1 byte
    [entry] = list(iter_entries(path))
    assert entry.text.startswith("caf")


def test_a_gzip_file_cut_short_yields_what_was_readable(tmp_path):
    t = Transcript()
    for n in range(400):
        t.prompt(f"prompt number {n} " + "x" * 200)
    whole = gzip.compress(("\n".join(t.lines()) + "\n").encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    entries = list(iter_entries(path))
    assert 0 < len(entries) < 400


def test_a_corrupt_gzip_stream_ends_the_reading_without_an_error(tmp_path):
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"  # a valid gzip header
    path = tmp_path / "corrupt.jsonl.gz"
    path.write_bytes(header + b"\x07" + b"garbage" * 10)  # deflate block type 3: invalid
    counts = ReadCounts()
    assert list(iter_entries(path, counts)) == [] and counts.entries == 0


def test_unknown_entry_types_are_skipped_and_counted(tmp_path):
    t = _small()
    t.raw({"type": "hologram", "uuid": "h1", "payload": {"x": 1}})
    t.raw({"type": "queue-operation", "operation": "enqueue", "sessionId": "sess-1"})
    t.raw({"no_type": True})
    counts = ReadCounts()
    kinds = [e.type for e in iter_entries(t.write(tmp_path / "s.jsonl"), counts)]
    assert kinds == ["user", "assistant", "user"]
    assert counts.unknown == 3


def test_a_50_mb_tool_output_is_kept_as_head_and_tail(tmp_path):
    t = Transcript()
    call = t.bash("cat huge.log")
    huge = "FIRST LINE\n" + "y" * (50 * 1024 * 1024) + "\nLAST LINE: error here"
    t.result(call, [{"type": "text", "text": huge}], error=True)
    t.say("That file is big.")
    entries = list(iter_entries(t.write(tmp_path / "s.jsonl")))
    [result] = entries[1].tool_results
    assert len(result.text) < HEAD_CHARS + TAIL_CHARS + 100
    assert result.text.startswith("FIRST LINE") and result.text.endswith("error here")
    assert "characters cut" in result.text
    assert len(entries[1].tool_use_result["text"]) < HEAD_CHARS + TAIL_CHARS + 100
    assert entries[2].text == "That file is big."


def test_a_huge_line_is_never_held_whole(tmp_path):
    t = Transcript()
    call = t.bash("cat huge.log")
    log = ("x" * 900 + ' "quoted" \\ path\n') * (100 * 1024)  # ~90 MB of escaped JSON
    t.result(call, "HEAD " + log + "TAIL error", error=True)
    path = t.write(tmp_path / "s.jsonl")
    del t  # the builder held the text; only the reader's memory is measured below
    tracemalloc.start()
    try:
        [_, result] = list(iter_entries(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert path.stat().st_size > 150 * 1024 * 1024  # the text twice, escaped
    assert peak < 40 * 1024 * 1024
    text = result.tool_results[0].text
    assert text.startswith("HEAD xxx") and text.endswith('"quoted" \\ path\nTAIL error')


@pytest.mark.parametrize("limit", [61, 64, 67])  # where the chunks split escapes
@pytest.mark.parametrize("keep", range(3, 30))  # where the cuts fall
def test_cutting_long_strings_keeps_the_json_valid_whatever_the_cut_position(
    tmp_path, monkeypatch, keep, limit
):
    # Tiny limits force cuts inside escapes (\\, \", \n, \u00e9) at every offset.
    monkeypatch.setattr(transcript, "LINE_LIMIT", limit)
    monkeypatch.setattr(transcript, "SHRINK_KEEP", keep)
    nasty = 'a\\b"c\nd\u00e9e\u2603f' * 40
    record = {"type": "user", "uuid": "u1", "message": {"content": nasty}, "n": [1, 2]}
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps(record) + "\n" + json.dumps({"type": "user", "uuid": "u2"}) + "\n")
    counts = ReadCounts()
    entries = list(iter_entries(path, counts))
    assert [e.uuid for e in entries] == ["u1", "u2"] and counts.skipped == 0
    assert "bytes cut" in entries[0].text


def test_bound_leaves_short_text_alone():
    assert bound("short") == "short"


def test_version_1_0_shapes_are_read(tmp_path):
    entries = list(iter_entries(DATA / "v1_0_session.jsonl"))
    summary = entries[0]
    assert summary.type == "summary" and summary.text == "Fixing the date parser"
    assert summary.uuid == "a0000003"  # a summary names the leaf it summarizes
    errors = [r for e in entries for r in e.tool_results if r.is_error]
    assert len(errors) == 2
    assert {e.version for e in entries[1:]} == {"1.0.17"}


def test_version_2_1_shapes_are_read(tmp_path):
    counts = ReadCounts()
    entries = list(iter_entries(DATA / "v2_1_session.jsonl", counts))
    by_uuid = {e.uuid: e for e in entries}
    assert by_uuid["b0000011"].is_compact_summary
    assert by_uuid["b0000012"].is_meta
    assert by_uuid["b0000010"].subtype == "compact_boundary"
    assert by_uuid["b0000009"].tool_use_result == {"type": "text"}  # nested objects dropped
    assert counts.unknown >= 4  # snapshot, progress, future entry, last-prompt, ...
    assert counts.skipped == 0


def test_sidechain_entries_are_marked(tmp_path):
    t = Transcript(sidechain=True)
    t.prompt("Search the code for TODOs")
    t.say("Found 3.")
    entries = list(iter_entries(t.write(tmp_path / "agent-abc.jsonl")))
    assert all(e.is_sidechain for e in entries)
