"""The managed CLAUDE.md block: every byte outside it is the user's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfdistill import claudemd
from selfdistill.claudemd import BEGIN, END
from selfdistill.model import Evidence, Lesson
from selfdistill.paths import ProjectState
from selfdistill.publish import publish


def lesson(ident: str, kind: str = "fact", confidence: float = 0.8, **extra: object) -> Lesson:
    fields: dict[str, object] = {
        "trigger": f"working on {ident}",
        "action": f"remember rule {ident}",
        "status": "active",
        "confidence": confidence,
    }
    fields.update(extra)
    return Lesson(id=ident, kind=kind, **fields)  # type: ignore[arg-type]


@pytest.fixture
def state(tmp_path: Path) -> ProjectState:
    project = tmp_path / "project"
    project.mkdir()
    return ProjectState.for_project(project)


def claude_md(state: ProjectState) -> Path:
    return state.project / "CLAUDE.md"


def outside(data: bytes) -> tuple[bytes, bytes]:
    parts = claudemd.split(data)
    assert parts.region is not None
    return parts.prefix, parts.suffix


@pytest.mark.parametrize(
    ("original", "separator"),
    [
        (b"# My project\n\nUse tabs.\n", b""),
        (b"# My project\n\nUse tabs.", b"\n"),
        (b"# My project\r\n\r\nUse tabs.", b"\r\n"),
        (b"", b""),
    ],
)
def test_block_is_created_at_the_end(
    state: ProjectState, original: bytes, separator: bytes
) -> None:
    claude_md(state).write_bytes(original)
    result = publish(state, [lesson("a")], "run-1")
    data = claude_md(state).read_bytes()
    assert result.changed == (str(claude_md(state)),)
    assert data.startswith(original + separator + BEGIN)
    assert data.endswith(END + claudemd.line_ending(original))  # a text file's final newline
    assert b"remember rule a" in data


def test_block_is_created_in_a_new_file(state: ProjectState) -> None:
    publish(state, [lesson("a")], "run-1")
    data = claude_md(state).read_bytes()
    assert data.startswith(BEGIN) and data.endswith(END + b"\n")
    assert b"selfdistill lessons reject ID" in data  # the note on top says how to drop a lesson


def test_nothing_to_publish_and_no_block_leaves_files_alone(state: ProjectState) -> None:
    assert publish(state, [], "run-1").changed == ()
    assert not claude_md(state).exists()
    claude_md(state).write_bytes(b"mine\n")
    publish(state, [lesson("x", status="candidate")], "run-2")
    assert claude_md(state).read_bytes() == b"mine\n"


def test_block_is_updated_in_place(state: ProjectState) -> None:
    claude_md(state).write_bytes(
        b"# Top\n\n" + BEGIN + b"\nold stuff\n" + END + b"\n\n## After\nkeep me\n"
    )
    publish(state, [lesson("a")], "run-1")
    data = claude_md(state).read_bytes()
    prefix, suffix = outside(data)
    assert prefix == b"# Top\n\n"
    assert suffix == b"\n\n## After\nkeep me\n"
    assert b"old stuff" not in data and b"remember rule a" in data


@pytest.mark.parametrize(
    "original",
    [
        b"intro\n",
        b"intro without a final newline",
        b"\xef\xbb\xbf# BOM and CRLF\r\nno newline",
        b"\xef\xbb\xbf",
        b"",
        None,  # no CLAUDE.md: the one selfdistill made goes again
    ],
)
def test_no_active_lesson_gives_back_the_user_s_bytes(
    state: ProjectState, original: bytes | None
) -> None:
    if original is not None:
        claude_md(state).write_bytes(original)
    publish(state, [lesson("a")], "run-1")
    publish(state, [lesson("a"), lesson("b")], "run-2")
    result = publish(state, [lesson("a", status="retired")], "run-3")
    assert result.changed == (str(claude_md(state)),)
    if original is None:
        assert not claude_md(state).exists()
    else:
        assert claude_md(state).read_bytes() == original
    assert publish(state, [], "run-4").changed == ()  # nothing left to take out


def test_text_added_since_keeps_its_line_when_the_block_goes(state: ProjectState) -> None:
    claude_md(state).write_bytes(b"no final newline")
    publish(state, [lesson("a")], "run-1")
    data = claude_md(state).read_bytes()
    claude_md(state).write_bytes(b"# Title\n" + data + b"added later\n")
    publish(state, [], "run-2")
    assert claude_md(state).read_bytes() == b"# Title\nno final newline\nadded later\n"


def test_markers_the_user_placed_come_back_as_they_were(state: ProjectState) -> None:
    original = b"# Notes\n" + BEGIN + b"\nmy own words\n" + END + b"\n\n## Later\n"
    claude_md(state).write_bytes(original)
    publish(state, [lesson("a")], "run-1")
    assert b"my own words" not in claude_md(state).read_bytes()
    publish(state, [], "run-2")
    assert claude_md(state).read_bytes() == original


def test_a_block_selfdistill_never_wrote_stays_as_it_is(state: ProjectState) -> None:
    original = b"# Notes\n" + BEGIN + b"\nplaced by hand\n" + END + b"\n"
    claude_md(state).write_bytes(original)
    assert publish(state, [], "run-1").changed == ()
    assert claude_md(state).read_bytes() == original


def test_crlf_file_round_trip(state: ProjectState) -> None:
    original = b"\xef\xbb\xbf# Windows project\r\n\r\nline two\r\n"
    claude_md(state).write_bytes(original)
    publish(state, [lesson("a"), lesson("b", kind="pitfall")], "run-1")
    data = claude_md(state).read_bytes()
    prefix, suffix = outside(data)
    assert prefix == original  # byte-identical outside the block
    assert suffix == b"\r\n"  # the block's own final line ending, in the file's style
    region = claudemd.split(data).region
    assert region is not None and b"\n" not in region.replace(b"\r\n", b"")
    publish(state, [lesson("a")], "run-2")
    assert outside(claude_md(state).read_bytes()) == (prefix, suffix)


def test_non_utf8_bytes_outside_survive(state: ProjectState) -> None:
    original = b"caf\xe9 latin-1 text\nno newline"
    claude_md(state).write_bytes(original)
    publish(state, [lesson("a")], "run-1")
    data = claude_md(state).read_bytes()
    assert data.startswith(original + b"\n" + BEGIN) and data.endswith(END + b"\n")
    publish(state, [], "run-2")
    assert claude_md(state).read_bytes() == original


@pytest.mark.parametrize(
    "original",
    [
        "# notes\n".encode("utf-16"),
        "# notes\n".encode("utf-16-be"),  # no byte order mark: NUL bytes give it away
        "# notes\n".encode("utf-32"),
        b"\xfe\xff\x00#",
    ],
)
def test_utf16_and_utf32_are_refused_and_left_alone(state: ProjectState, original: bytes) -> None:
    claude_md(state).write_bytes(original)
    result = publish(state, [lesson("a")], "run-1")
    assert claude_md(state).read_bytes() == original
    assert result.changed == ()
    [error] = result.errors
    assert "Save the file as UTF-8" in error and "\n" not in error
    assert ("is in UTF-" in error) != ("holds NUL bytes" in error)  # a BOM names it, else NULs


def test_an_ascii_file_with_a_nul_byte_is_refused_for_what_it_holds(state: ProjectState) -> None:
    claude_md(state).write_bytes(b"# notes\x00\n")
    [error] = publish(state, [lesson("a")], "run-1").errors
    assert "CLAUDE.md holds NUL bytes" in error


def test_user_edits_outside_survive_between_runs(state: ProjectState) -> None:
    claude_md(state).write_bytes(b"# Notes\n")
    publish(state, [lesson("a")], "run-1")
    data = claude_md(state).read_bytes()
    edited = b"# Notes, edited\n" + data[len(b"# Notes\n") :] + b"\nadded by hand\n"
    claude_md(state).write_bytes(edited)
    publish(state, [lesson("a"), lesson("b")], "run-2")
    data = claude_md(state).read_bytes()
    assert data.startswith(b"# Notes, edited\n") and data.endswith(b"\nadded by hand\n")
    assert b"remember rule b" in data


def test_user_edit_inside_is_overwritten_but_journaled(state: ProjectState) -> None:
    publish(state, [lesson("a")], "run-1")
    data = claude_md(state).read_bytes()
    claude_md(state).write_bytes(data.replace(b"remember rule a", b"my own words"))
    publish(state, [lesson("a"), lesson("b")], "run-2")
    assert b"my own words" not in claude_md(state).read_bytes()
    journal = (state.journal / "run-2.json").read_text()
    assert "my own words" in journal  # so `rollback run-2` brings it back


@pytest.mark.parametrize(
    "text",
    [
        b"a\n" + BEGIN + b"\nb\n",
        b"a\n" + END + b"\nb\n",
        b"a\n" + END + b"\n" + BEGIN + b"\n",
        BEGIN + b"\n" + END + b"\n" + BEGIN + b"\n" + END + b"\n",
    ],
)
def test_malformed_markers_are_refused(state: ProjectState, text: bytes) -> None:
    claude_md(state).write_bytes(text)
    result = publish(state, [lesson("a")], "run-1")
    assert claude_md(state).read_bytes() == text
    assert result.changed == ()
    assert result.skipped and "will not guess" in result.skipped[0][1]


def test_marker_text_inside_a_line_is_not_a_marker() -> None:
    data = b"write `" + BEGIN + b"` to start, then `" + END + b"`\n"
    assert claudemd.split(data).region is None


@pytest.mark.parametrize(
    "example",
    [
        b"```\n" + BEGIN + b"\nmy example\n" + END + b"\n```\n",  # a whole block shown as code
        b"~~~~ md\n" + BEGIN + b"\n~~~\nstill code\n~~~~\n",  # a begin marker alone
        b"  ```\r\n" + END + b"\r\n  ```\r\n",
    ],
)
def test_markers_in_a_code_fence_are_the_user_s_example(
    state: ProjectState, example: bytes
) -> None:
    original = b"# Notes\n\nThe block looks like this:\n\n" + example + b"\nEnd.\n"
    claude_md(state).write_bytes(original)
    publish(state, [lesson("a")], "run-1")
    data = claude_md(state).read_bytes()
    assert data.startswith(original + BEGIN) and b"remember rule a" in data
    publish(state, [lesson("a"), lesson("b")], "run-2")  # found again: replaced, not appended
    assert claude_md(state).read_bytes().count(BEGIN) == original.count(BEGIN) + 1


@pytest.mark.parametrize(
    "example",
    [
        b"    " + BEGIN + b"\n    indented example\n    " + END + b"\n",
        b"\t" + BEGIN + b"\r\n\tindented example\r\n\t" + END + b"\r\n",
        b"     " + BEGIN + b"\n",  # a begin marker alone, indented as code
    ],
)
def test_markers_in_indented_code_are_the_user_s_example(
    state: ProjectState, example: bytes
) -> None:
    original = b"# Notes\n\n" + example + b"\nTail\n"
    claude_md(state).write_bytes(original)
    publish(state, [lesson("a")], "run-1")
    data = claude_md(state).read_bytes()
    assert data.startswith(original + BEGIN) and b"remember rule a" in data
    publish(state, [], "run-2")
    assert claude_md(state).read_bytes() == original


def test_markers_indented_up_to_three_spaces_are_the_block(state: ProjectState) -> None:
    # CommonMark keeps such a line an HTML comment: the user placed the block there by hand.
    original = b"# Notes\n   " + BEGIN + b"  \n" + b" " + END + b"\nTail\n"
    claude_md(state).write_bytes(original)
    publish(state, [lesson("a")], "run-1")
    data = claude_md(state).read_bytes()
    assert outside(data) == (b"# Notes\n", b"\nTail\n") and data.count(BEGIN) == 1
    publish(state, [], "run-2")
    assert claude_md(state).read_bytes() == original


def test_a_fence_left_open_does_not_hide_the_block() -> None:
    data = b"```\nunclosed\n" + BEGIN + b"\n- a\n" + END
    assert claudemd.split(data).region == BEGIN + b"\n- a\n" + END


def test_a_line_appended_after_the_block_is_a_line_of_its_own(state: ProjectState) -> None:
    claude_md(state).write_bytes(b"top\n")
    publish(state, [lesson("a")], "run-1")
    with claude_md(state).open("ab") as handle:  # `echo "- more" >> CLAUDE.md`
        handle.write(b"- more\n")
    assert claude_md(state).read_bytes().endswith(END + b"\n- more\n")
    publish(state, [lesson("b")], "run-2")
    data = claude_md(state).read_bytes()
    assert outside(data) == (b"top\n", b"\n- more\n")
    assert b"remember rule b" in data
    publish(state, [], "run-3")
    assert claude_md(state).read_bytes() == b"top\n- more\n"


def older_version_block(state: ProjectState, after: bytes) -> None:
    """A file and journal as selfdistill wrote them before blocks ended with a line ending."""
    claude_md(state).write_bytes(b"top\n")
    publish(state, [lesson("a")], "run-1")
    data = claude_md(state).read_bytes()
    claude_md(state).write_bytes(data[:-1] + after)
    record = json.loads((state.journal / "run-1.json").read_text())
    record["entries"][0]["trailer"] = ""
    (state.journal / "run-1.json").write_text(json.dumps(record))


def test_text_glued_to_an_older_end_marker_stays_the_user_s(state: ProjectState) -> None:
    older_version_block(state, b"- more\n")  # `echo "- more" >> CLAUDE.md` landed on its line
    publish(state, [lesson("b")], "run-2")
    data = claude_md(state).read_bytes()
    assert outside(data) == (b"top\n", b"- more\n")
    assert b"remember rule b" in data
    publish(state, [], "run-3")
    assert claude_md(state).read_bytes() == b"top\n- more\n"


def test_a_block_from_an_older_version_gets_its_final_newline(state: ProjectState) -> None:
    older_version_block(state, b"")
    publish(state, [lesson("b")], "run-2")
    assert claude_md(state).read_bytes().endswith(END + b"\n")
    publish(state, [], "run-3")
    assert claude_md(state).read_bytes() == b"top\n"


def test_lines_are_grouped_by_kind() -> None:
    lessons = [lesson("f"), lesson("p", kind="pitfall"), lesson("r", kind="preference")]
    region = claudemd.render(lessons).region.decode()
    assert region.index("### Facts about this project") < region.index("remember rule f")
    assert region.index("### Pitfalls") < region.index("remember rule p")
    assert region.index("### Preferences") < region.index("remember rule r")


def test_budget_keeps_the_best_and_says_how_many_were_left_out() -> None:
    lessons = [lesson(f"l{n:02d}", confidence=n / 100) for n in range(60)]
    rendered = claudemd.render(lessons)
    assert len(rendered.region) <= claudemd.MAX_BLOCK_BYTES
    assert len(rendered.included) <= claudemd.MAX_LESSON_LINES
    assert "l59" in rendered.included and "l00" in rendered.left_out
    assert f"_{len(rendered.left_out)} more lesson(s) left out".encode() in rendered.region


def test_evidence_breaks_confidence_ties() -> None:
    strong = lesson("strong", evidence=(Evidence("s1"), Evidence("s2")))
    weak = lesson("weak")
    assert [item.id for item in claudemd.rank([weak, strong])] == ["strong", "weak"]


def test_lesson_text_cannot_close_the_block() -> None:
    sneaky = lesson("s", action="x\n<!-- selfdistill:end -->\ny")
    region = claudemd.render([sneaky]).region
    assert region.count(END) == 1 and region.endswith(END)


def test_a_nul_in_lesson_text_does_not_make_the_file_refused() -> None:
    # The safety gate holds such a lesson; the block must not depend on it.
    region = claudemd.render([lesson("n", action="tool output \x00\x01 with control bytes")]).region
    assert b"\x00" not in region and b"tool output with control bytes" in region
    assert claudemd.split(b"mine\n" + region).region == region


def test_long_line_is_shortened() -> None:
    long = lesson("long", action="word " * 200)
    line = claudemd.lesson_line(long)
    assert len(line) < claudemd.MAX_LINE_CHARS + 20


def test_symlinked_claude_md_stays_a_link(state: ProjectState) -> None:
    target = state.project / "AGENTS.md"
    target.write_bytes(b"shared\n")
    claude_md(state).symlink_to("AGENTS.md")
    publish(state, [lesson("a")], "run-1")
    assert claude_md(state).is_symlink()
    assert target.read_bytes().startswith(b"shared\n" + BEGIN)


def test_file_mode_is_kept(state: ProjectState) -> None:
    claude_md(state).write_bytes(b"x\n")
    claude_md(state).chmod(0o640)
    publish(state, [lesson("a")], "run-1")
    assert claude_md(state).stat().st_mode & 0o777 == 0o640


def test_bom_before_a_marker_on_the_first_line_stays(state: ProjectState) -> None:
    original = b"\xef\xbb\xbf" + BEGIN + b"\nold\n" + END + b"\nafter\n"
    claude_md(state).write_bytes(original)
    publish(state, [lesson("a")], "run-1")
    data = claude_md(state).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf" + BEGIN + b"\n")
    assert data.endswith(END + b"\nafter\n")


def _no_markers(data: bytes) -> bool:
    """Text selfdistill writes into: no marker, and not UTF-16 or UTF-32 (those are refused)."""
    try:
        claudemd.check_encoding(data)
    except claudemd.ForeignEncoding:
        return False
    return BEGIN not in data and END not in data


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=100))
def test_refused_text_is_never_changed(data: bytes) -> None:
    try:
        claudemd.check_encoding(data)
    except claudemd.ForeignEncoding:
        with pytest.raises(claudemd.ForeignEncoding):
            claudemd.splice(data, claudemd.render([lesson("a")]).region)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300).filter(_no_markers))
def test_append_then_remove_is_the_identity(data: bytes) -> None:
    region = claudemd.render([lesson("a")], claudemd.line_ending(data)).region
    new, separator, trailer = claudemd.splice(data, region)
    assert new.startswith(data)
    assert claudemd.split(new).region == region
    assert claudemd.remove(new, separator, trailer) == data


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=200).filter(_no_markers).map(lambda b: b if not b else b + b"\n"),
    st.binary(max_size=200).filter(_no_markers),
    st.sampled_from([b"\n", b"\r\n"]),
)
def test_replacing_a_block_keeps_every_byte_outside(
    prefix: bytes, suffix: bytes, eol: bytes
) -> None:
    data = prefix + BEGIN + eol + b"anything" + eol + END + eol + suffix
    region = claudemd.render([lesson("b")], eol).region
    new, _, trailer = claudemd.splice(data, region)
    assert new == prefix + region + eol + suffix and trailer == b""
