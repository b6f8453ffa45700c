"""Skills under .claude/skills/<name>/SKILL.md for multi-step lessons: naming, rendering, ownership.

A skill is ours only while two things agree: the registry (which skill names we created, for which
lesson, with the hash of what we wrote) and the file (still exactly those bytes). A skill someone
edited or deleted has become theirs: it is never touched again and the lesson is not re-published
under another name. A directory we did not create is never ours, whatever it says inside.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from selfdistill.atomic import read_bytes, write_atomic
from selfdistill.claudemd import clean_line, rank
from selfdistill.errors import StateError
from selfdistill.model import Lesson

MAX_NAME = 64
MAX_DESCRIPTION = 1024
MAX_SKILLS = 15  # every skill's description is listed in every session's context
NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MARKER_KEY = "managed-by"
MARKER_VALUE = "selfdistill"


@dataclass(frozen=True)
class Owned:
    """A skill selfdistill created: for which lesson, and the hash of the bytes it wrote."""

    lesson: str
    sha256: str


@dataclass(frozen=True)
class Registry:
    """Skills we own by name, and lessons whose skill the user took over (lesson id -> name)."""

    owned: Mapping[str, Owned] = field(default_factory=dict)
    released: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SkillChange:
    """One SKILL.md to write (after) or delete (after None), expecting `before` to be there."""

    name: str
    lesson: str
    path: Path
    before: bytes | None
    after: bytes | None


@dataclass(frozen=True)
class SkillPlan:
    changes: tuple[SkillChange, ...]
    skipped: tuple[tuple[str, str], ...]
    registry: Registry


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def skill_path(project: Path, name: str) -> Path:
    return project / ".claude" / "skills" / name / "SKILL.md"


def valid_name(name: str) -> bool:
    return len(name) <= MAX_NAME and bool(NAME_RE.match(name))


def base_name(lesson: Lesson) -> str:
    """A name from the lesson's trigger: ascii lower case words joined by hyphens."""
    ascii_text = unicodedata.normalize("NFKD", lesson.trigger).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower().replace("'", ""))
    name = ""
    for word in words:
        candidate = f"{name}-{word}" if name else word
        if len(candidate) > MAX_NAME - 3:  # room for a "-N" suffix on a clash
            break
        name = candidate
    return name or f"lesson-{digest(lesson.id.encode())[:8]}"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _description(lesson: Lesson) -> str:
    # Says when to use it first: that is what Claude reads when choosing a skill.
    text = clean_line(f"Use when {lesson.trigger.rstrip('.:')}. {_sentence(lesson.action)}")
    text = text.replace("<", "(").replace(">", ")")  # angle brackets are refused by some loaders
    return text[:MAX_DESCRIPTION]


def render(lesson: Lesson, name: str) -> bytes:
    """A SKILL.md in the Agent Skills format, with selfdistill's ownership marker."""
    title = clean_line(lesson.trigger.rstrip(".:")) or name
    lines = [
        "---",
        f"name: {name}",
        f"description: {json.dumps(_description(lesson), ensure_ascii=False)}",
        "metadata:",
        f"  {MARKER_KEY}: {MARKER_VALUE}",
        f"  lesson-id: {json.dumps(clean_line(lesson.id), ensure_ascii=False)}",
        "---",
        f"<!-- Written by selfdistill from lesson {clean_line(lesson.id)}. Once edited by hand it "
        "is yours: selfdistill will not change or delete it. -->",
        "",
        f"# {_sentence(title)}",
        "",
        _sentence(clean_line(lesson.action)),
        "",
        *(f"{number}. {clean_line(step)}" for number, step in enumerate(lesson.steps, 1)),
        "",
    ]
    return "\n".join(lines).encode("utf-8")


def has_marker(data: bytes) -> bool:
    """Whether a SKILL.md carries our marker (informative only: ownership needs the registry)."""
    frontmatter = data.split(b"\n---", 1)[0]
    return f"{MARKER_KEY}: {MARKER_VALUE}".encode() in frontmatter


def _taken(project: Path, name: str, claimed: Mapping[str, Owned]) -> bool:
    directory = project / ".claude" / "skills" / name
    return name in claimed or directory.exists() or directory.is_symlink()


def free_name(project: Path, lesson: Lesson, claimed: Mapping[str, Owned]) -> str:
    """The lesson's name, or the first free variant of it: another skill's name is never reused."""
    base = base_name(lesson)
    for number in range(1, 10):
        name = base if number == 1 else f"{base}-{number}"
        if not _taken(project, name, claimed):
            return name
    return f"{base[: MAX_NAME - 9]}-{digest(lesson.id.encode())[:8]}"


def _current(project: Path, name: str) -> bytes | None:
    path = skill_path(project, name)
    return None if path.is_symlink() else read_bytes(path)


def plan(project: Path, registry: Registry, lessons: Sequence[Lesson]) -> SkillPlan:
    """What to write and delete so our skills match exactly these (already vetted) lessons."""
    wanted = {lesson.id: lesson for lesson in lessons}
    owned = dict(registry.owned)
    released = dict(registry.released)
    changes: list[SkillChange] = []
    for name, record in registry.owned.items():
        current = _current(project, name)
        if current is None or digest(current) != record.sha256:
            del owned[name]  # edited or deleted by hand: theirs from now on
            released[record.lesson] = name
        elif record.lesson not in wanted:
            del owned[name]
            changes.append(
                SkillChange(name, record.lesson, skill_path(project, name), current, None)
            )
    skipped: list[tuple[str, str]] = []
    names = {record.lesson: name for name, record in owned.items()}
    published = 0
    for lesson in rank(list(wanted.values())):
        if lesson.id in released:
            skipped.append(
                (lesson.id, f"skill '{released[lesson.id]}' was changed by hand; left alone")
            )
            continue
        published += 1
        if published > MAX_SKILLS:
            skipped.append((lesson.id, f"over the budget of {MAX_SKILLS} skills"))
            continue
        name = names.get(lesson.id) or free_name(project, lesson, owned)
        after = render(lesson, name)
        before = _current(project, name)
        if before != after:
            changes.append(SkillChange(name, lesson.id, skill_path(project, name), before, after))
        owned[name] = Owned(lesson.id, digest(after))
    return SkillPlan(tuple(changes), tuple(skipped), Registry(owned, released))


def load_registry(path: Path) -> Registry:
    data = read_bytes(path)
    if data is None:
        return Registry()
    try:
        raw = json.loads(data)
        owned = {name: Owned(item["lesson"], item["sha256"]) for name, item in raw["owned"].items()}
        return Registry(owned, dict(raw.get("released", {})))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        # Guessing would risk deleting a skill that is not ours: stop and say where to look.
        message = f"the record of selfdistill's skills is unreadable: {path} ({error})"
        raise StateError(message) from error


def save_registry(path: Path, registry: Registry) -> None:
    raw = {
        "owned": {
            name: {"lesson": o.lesson, "sha256": o.sha256} for name, o in registry.owned.items()
        },
        "released": dict(registry.released),
    }
    write_atomic(path, json.dumps(raw, indent=1, sort_keys=True).encode("utf-8"), mode=0o600)
