"""The managed block in CLAUDE.md: find it, render it, splice it in. Pure functions on bytes.

selfdistill owns only the lines from `<!-- selfdistill:begin -->` to `<!-- selfdistill:end -->`.
Everything else is the user's and is carried through byte for byte: line endings, a missing final
newline, a byte order mark, even bytes that are not UTF-8. That is why this works on bytes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from selfdistill.errors import FatalError
from selfdistill.model import Lesson

BEGIN = b"<!-- selfdistill:begin -->"
END = b"<!-- selfdistill:end -->"
BOM = b"\xef\xbb\xbf"
# Byte order marks of the encodings whose text is not ASCII-compatible: UTF-8 bytes added to such
# a file would make it readable in neither (UTF-32 LE first: it begins like UTF-16 LE).
WIDE_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)
CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f]")  # what `str.split` does not take as space
# CommonMark: an HTML line may be indented by up to three spaces; four (or a tab) make it code.
MAX_MARKER_INDENT = 3
TAIL_BYTES = 200  # of the user's last line, to know the separator added after it (restore)
LESSON_ID = re.compile(rb"^- .*\(`([^`\r\n]+)`\)\r?$", re.M)  # a lesson line ends with its id
# A Markdown code fence: up to three spaces, then ``` or ~~~ (what follows opens an info string).
FENCE = re.compile(rb"^ {0,3}(`{3,}|~{3,})(.*)$")

# Size budget: the block sits in every session's context, so it must stay small.
MAX_LESSON_LINES = 40
MAX_BLOCK_BYTES = 4000
MAX_LINE_CHARS = 300

NOTE = (
    "_Maintained by selfdistill from past sessions: edits inside this block are overwritten. "
    "To drop a lesson, run `selfdistill lessons reject ID`._"
)
GROUPS = (
    ("fact", "Facts about this project"),
    ("pitfall", "Pitfalls"),
    ("procedure", "Procedures"),
    ("preference", "Preferences"),
)
OTHER_GROUP = "Other lessons"


class MalformedBlock(FatalError):
    """The markers are there but do not delimit one block: refuse rather than guess."""


class ForeignEncoding(MalformedBlock):
    """The file is UTF-16 or UTF-32: refused like broken markers, since our block is UTF-8."""


@dataclass(frozen=True)
class Split:
    """A file cut around its block: prefix + region + suffix == the file. region is None: no block.

    The region runs from the start of the begin-marker line to the end of the end-marker line,
    without that line's terminator (which stays with the suffix: the user's, or the trailer that
    `splice` added).
    """

    prefix: bytes
    region: bytes | None
    suffix: bytes


@dataclass(frozen=True)
class Rendered:
    """A block ready to splice in, and the lessons that did not fit the budget."""

    region: bytes
    included: tuple[str, ...]
    left_out: tuple[str, ...]


def _content(line: bytes, first: bool) -> bytes:
    content = line.rstrip(b"\r\n")
    return content[len(BOM) :] if first and content.startswith(BOM) else content


def _marker_text(line: bytes, first: bool) -> bytes:
    """The line without its indentation when it could hold a marker, else b"".

    Indented four spaces or more, or by a tab, a line is code or the continuation of the text
    above it, never a line selfdistill wrote (it writes markers at the start of the line): the
    user's example, like a marker inside a code fence.
    """
    content = _content(line, first)
    text = content.lstrip(b" ")
    if len(content) - len(text) > MAX_MARKER_INDENT or text.startswith(b"\t"):
        return b""
    return text


def _is_begin(line: bytes, first: bool) -> bool:
    return _marker_text(line, first).rstrip() == BEGIN


def _is_end(line: bytes, first: bool) -> bool:
    # Text may follow the end marker on its line: older versions wrote the block without a final
    # newline, so `echo ... >> CLAUDE.md` landed there. That text is the user's (in the suffix).
    return _marker_text(line, first).startswith(END)


def check_encoding(data: bytes) -> None:
    """Refuse a UTF-16 or UTF-32 file: its bytes are kept only if we write nothing into it."""
    name = next((name for bom, name in WIDE_BOMS if data.startswith(bom)), None)
    if name is not None:
        found = f"is in {name}"
    elif b"\x00" in data:  # text in UTF-8 never holds one: UTF-16 without a byte order mark?
        found = "holds NUL bytes (UTF-16 or UTF-32 without a byte order mark, or not text)"
    else:
        return
    raise ForeignEncoding(
        f"CLAUDE.md {found}; selfdistill writes its block in UTF-8 and will not mix the two. "
        "Save the file as UTF-8 text to let it write there."
    )


def split(data: bytes) -> Split:
    """Locate the block; raise MalformedBlock when the markers are not exactly one pair.

    Marker lines inside a closed code fence, or indented as code, are the user's (an example of
    the block in their notes), not ours.
    """
    check_encoding(data)
    lines = data.splitlines(keepends=True)
    fenced = _fenced(lines)
    begins = [i for i, line in enumerate(lines) if i not in fenced and _is_begin(line, i == 0)]
    ends = [i for i, line in enumerate(lines) if i not in fenced and _is_end(line, i == 0)]
    if not begins and not ends:
        return Split(data, None, b"")
    problem = _marker_problem(begins, ends)
    if problem:
        raise MalformedBlock(
            f"CLAUDE.md: {problem}; selfdistill will not guess where its block is. Fix the "
            f"marker lines by hand (one '{BEGIN.decode()}' line, then one '{END.decode()}' line)."
        )
    start = sum(len(line) for line in lines[: begins[0]])
    end_start = sum(len(line) for line in lines[: ends[0]])
    stop = end_start + lines[ends[0]].index(END) + len(END)
    region = data[start:stop]
    if begins[0] == 0 and region.startswith(BOM):
        start += len(BOM)  # a BOM before the marker belongs to the file, not to the block
        region = data[start:stop]
    return Split(data[:start], region, data[stop:])


def _fenced(lines: Sequence[bytes]) -> set[int]:
    """The indexes of lines inside closed ``` or ~~~ code fences, fence lines included.

    A fence left open is ignored rather than run to the end of the file: our own block, appended
    after it, must still be found, or every run would append another.
    """
    inside: set[int] = set()
    opened: tuple[int, bytes] | None = None  # (line index, the fence that opened it)
    for index, line in enumerate(lines):
        fence = FENCE.match(_content(line, index == 0))
        if opened is None:
            if fence:
                opened = (index, fence.group(1))
        elif fence and fence.group(1).startswith(opened[1]) and not fence.group(2).strip():
            inside.update(range(opened[0], index + 1))
            opened = None
    return inside


def _marker_problem(begins: list[int], ends: list[int]) -> str | None:
    if len(begins) > 1 or len(ends) > 1:
        return f"{len(begins)} begin and {len(ends)} end markers (expected one of each)"
    if not ends:
        return "a begin marker without an end marker"
    if not begins:
        return "an end marker without a begin marker"
    if ends[0] < begins[0]:
        return "the end marker comes before the begin marker"
    return None


def line_ending(data: bytes) -> bytes:
    """The file's own line ending: CRLF when most of its lines use it, else LF."""
    crlf = data.count(b"\r\n")
    return b"\r\n" if crlf and crlf >= data.count(b"\n") - crlf else b"\n"


def separator_for(prefix: bytes, eol: bytes) -> bytes:
    """What must go between the user's text and a block appended at the end.

    Nothing when the text ends a line (or is empty, or only a byte order mark): the user's bytes
    are then exactly what precedes the begin marker. Otherwise one line ending, so that the
    marker starts a line.
    """
    if prefix in (b"", BOM) or prefix.endswith((b"\n", b"\r")):
        return b""
    return eol


def splice(data: bytes, region: bytes) -> tuple[bytes, bytes, bytes]:
    """The file with `region` as its block: (new bytes, separator added, trailer added).

    An existing block is replaced in place. Otherwise the block is appended at the end, after a
    separator when the last line has no line ending. A block that ends the file gets a line ending
    after it (the trailer), so that text appended later starts a line of its own. Separator and
    trailer are journaled so that taking the block out takes exactly them away again.
    """
    parts = split(data)
    eol = line_ending(data)
    if parts.region is not None:
        trailer = b"" if parts.suffix else eol
        return parts.prefix + region + trailer + parts.suffix, b"", trailer
    separator = separator_for(data, eol)
    return data + separator + region + eol, separator, eol


def restore(
    data: bytes, before: bytes | None, separator: bytes, trailer: bytes, tail: bytes | None = None
) -> bytes:
    """The file with our block put back to `before` (None: taken out), the user's bytes kept.

    The separator and trailer we added go with the block, except where text the user added
    since would lose its own line: a block put back keeps its trailer when anything follows it,
    and the separator stays when anything follows the removed block, or when the line before
    it no longer ends with `tail`, the end of the line the separator was added after (the user
    added a line below that one, or the block moved: that line ending is theirs). Journals
    older than `tail` leave it None.
    """
    parts = split(data)
    if parts.region is None:  # put back a block that was taken out, as it was: at the end
        if before is None:
            return data
        return data + separator_for(data, line_ending(data)) + before + trailer
    prefix, suffix = parts.prefix, parts.suffix
    if before is not None:
        return prefix + before + (b"" if suffix == trailer else suffix)
    if trailer and suffix.startswith(trailer):
        suffix = suffix[len(trailer) :]
    ours = tail is None or prefix[: len(prefix) - len(separator)].endswith(tail)
    if separator and not suffix and prefix.endswith(separator) and ours:
        prefix = prefix[: -len(separator)]
    return prefix + suffix


def last_line(data: bytes) -> bytes:
    """The end of the file's last line (up to TAIL_BYTES), without its line ending if it has one."""
    return re.split(rb"\r\n|\r|\n", data)[-1][-TAIL_BYTES:]


def remove(data: bytes, separator: bytes, trailer: bytes) -> bytes:
    """The file without its block, and without the separator and trailer we added with it."""
    return restore(data, None, separator, trailer)


def clean_line(text: str) -> str:
    """One line of Markdown: no newlines, no HTML comment that could end our block early, no
    control character (a NUL would make the file look UTF-16, and be refused from then on)."""
    text = " ".join(CONTROL.sub("", text).split())
    text = re.sub(r"<!--|-->", "", text)
    if len(text) > MAX_LINE_CHARS:
        text = text[: MAX_LINE_CHARS - 1].rstrip() + "\u2026"
    return text


def lesson_line(lesson: Lesson) -> str:
    return f"- {clean_line(lesson.text())} (`{clean_line(lesson.id)}`)"


def block_ids(region: bytes) -> tuple[str, ...]:
    """The ids of the lessons a rendered block shows, in its order (see `lesson_line`)."""
    return tuple(match.decode() for match in LESSON_ID.findall(region))


def rank(lessons: Sequence[Lesson]) -> list[Lesson]:
    """Most trustworthy first: confidence, then how much evidence, then a stable order."""
    return sorted(
        lessons,
        key=lambda item: (-item.confidence, -len(item.evidence), -item.sessions_seen, item.id),
    )


def _group_title(kind: str) -> str:
    return dict(GROUPS).get(kind, OTHER_GROUP)


def _body(lessons: Sequence[Lesson], left_out: int) -> list[str]:
    lines = [NOTE]
    order = [title for _, title in GROUPS] + [OTHER_GROUP]
    for title in order:
        members = [lesson for lesson in lessons if _group_title(lesson.kind) == title]
        if members:
            lines += ["", f"### {title}", *(lesson_line(lesson) for lesson in members)]
    if left_out:
        lines += [
            "",
            f"_{left_out} more lesson(s) left out to keep this short: `selfdistill lessons`._",
        ]
    return lines


def _region(body: list[str], eol: bytes) -> bytes:
    text = eol.decode().join([BEGIN.decode(), *body, END.decode()])
    return text.encode("utf-8")


def render(
    lessons: Sequence[Lesson],
    eol: bytes = b"\n",
    max_lines: int = MAX_LESSON_LINES,
    max_bytes: int = MAX_BLOCK_BYTES,
) -> Rendered:
    """The block for these lessons, best first, within the line and byte budget."""
    chosen: list[Lesson] = []
    dropped: list[Lesson] = []
    for lesson in rank(lessons):
        trial = [*chosen, lesson]
        fits = len(trial) <= max_lines
        if fits:
            size = len(_region(_body(trial, len(lessons) - len(trial)), eol))
            fits = size <= max_bytes
        (chosen if fits else dropped).append(lesson)
    region = _region(_body(chosen, len(dropped)), eol)
    return Rendered(region, tuple(item.id for item in chosen), tuple(item.id for item in dropped))
