"""Skills: valid Agent Skills files, ours marked and tracked, theirs never touched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from selfdistill import skills
from selfdistill.model import Lesson
from selfdistill.paths import ProjectState
from selfdistill.publish import publish

STEPS = ("run `make lint`", "run `make test`", "tag the release with `git tag vX.Y.Z`")


def procedure(
    ident: str = "rel", trigger: str = "releasing a new version", **extra: object
) -> Lesson:
    fields: dict[str, object] = {
        "kind": "procedure",
        "trigger": trigger,
        "action": "follow the release checklist",
        "steps": STEPS,
        "status": "active",
    }
    fields.update(extra)
    return Lesson(id=ident, **fields)  # type: ignore[arg-type]


@pytest.fixture
def state(tmp_path: Path) -> ProjectState:
    project = tmp_path / "project"
    project.mkdir()
    return ProjectState.for_project(project)


def frontmatter(data: bytes) -> dict[str, str]:
    text = data.decode()
    assert text.startswith("---\n")
    head = text.split("\n---\n", 1)[0].splitlines()[1:]
    fields: dict[str, str] = {}
    for line in head:
        if not line.startswith(" "):
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def test_procedure_becomes_a_valid_skill(state: ProjectState) -> None:
    result = publish(state, [procedure()], "run-1")
    path = state.project / ".claude/skills/releasing-a-new-version/SKILL.md"
    assert result.changed == (str(path),)
    data = path.read_bytes()
    fields = frontmatter(data)
    assert fields["name"] == path.parent.name
    assert skills.valid_name(fields["name"])
    description = json.loads(fields["description"])  # a JSON string is a valid YAML scalar
    assert description.startswith("Use when releasing a new version")
    assert len(description) <= skills.MAX_DESCRIPTION
    assert skills.has_marker(data)
    assert b"1. run `make lint`" in data and b"3. tag the release" in data
    assert not (state.project / "CLAUDE.md").exists()  # procedures do not go into the block


def test_frontmatter_parses_as_yaml(state: ProjectState) -> None:
    yaml = pytest.importorskip("yaml")
    publish(state, [procedure(trigger='deploying "prod": the <main> site')], "run-1")
    path = next((state.project / ".claude/skills").glob("*/SKILL.md"))
    head = path.read_text().split("---\n")[1]
    parsed = yaml.safe_load(head)
    assert parsed["name"] == path.parent.name
    assert parsed["metadata"]["managed-by"] == "selfdistill"
    assert "<" not in parsed["description"]


@pytest.mark.parametrize(
    "trigger",
    ["Running the Tests!", "déployer l'application", "x" * 200, "???", "a -- b"],
)
def test_names_are_always_valid(trigger: str) -> None:
    name = skills.base_name(procedure(trigger=trigger))
    assert skills.valid_name(name), name


def test_republishing_the_same_lesson_changes_nothing(state: ProjectState) -> None:
    publish(state, [procedure()], "run-1")
    assert publish(state, [procedure()], "run-2").changed == ()
    assert not (state.journal / "run-2.json").exists()


def test_reworded_lesson_keeps_its_skill_name(state: ProjectState) -> None:
    publish(state, [procedure()], "run-1")
    publish(state, [procedure(trigger="cutting a release")], "run-2")
    found = sorted(p.parent.name for p in (state.project / ".claude/skills").glob("*/SKILL.md"))
    assert found == ["releasing-a-new-version"]


def test_skill_of_a_lesson_no_longer_active_is_removed(state: ProjectState) -> None:
    publish(state, [procedure()], "run-1")
    directory = state.project / ".claude/skills/releasing-a-new-version"
    result = publish(state, [procedure(status="retired")], "run-2")
    assert result.changed == (str(directory / "SKILL.md"),)
    assert not directory.exists()


def test_skill_not_owned_is_never_touched_and_name_clash_picks_another(
    state: ProjectState,
) -> None:
    theirs = state.project / ".claude/skills/releasing-a-new-version/SKILL.md"
    theirs.parent.mkdir(parents=True)
    theirs.write_bytes(b"---\nname: releasing-a-new-version\ndescription: mine\n---\nby hand\n")
    publish(state, [procedure()], "run-1")
    assert theirs.read_bytes().endswith(b"by hand\n")
    ours = state.project / ".claude/skills/releasing-a-new-version-2/SKILL.md"
    assert frontmatter(ours.read_bytes())["name"] == "releasing-a-new-version-2"
    publish(state, [], "run-2")  # retiring ours must not delete theirs
    assert theirs.exists() and not ours.exists()


def test_even_a_file_with_our_marker_is_not_ours_without_the_record(state: ProjectState) -> None:
    publish(state, [procedure()], "run-1")
    path = state.project / ".claude/skills/releasing-a-new-version/SKILL.md"
    copy = state.project / ".claude/skills/copied/SKILL.md"
    copy.parent.mkdir()
    copy.write_bytes(path.read_bytes())
    publish(state, [], "run-2")
    assert copy.exists() and not path.exists()


def test_skill_edited_by_the_user_becomes_theirs(state: ProjectState) -> None:
    publish(state, [procedure()], "run-1")
    path = state.project / ".claude/skills/releasing-a-new-version/SKILL.md"
    path.write_bytes(path.read_bytes() + b"\nMy extra step.\n")
    edited = path.read_bytes()
    result = publish(state, [procedure(action="follow the new checklist")], "run-2")
    assert path.read_bytes() == edited
    assert result.skipped == (
        ("rel", "skill 'releasing-a-new-version' was changed by hand; left alone"),
    )
    publish(state, [], "run-3")  # not deleted when the lesson retires either
    assert path.read_bytes() == edited
    assert len(list((state.project / ".claude/skills").iterdir())) == 1


def test_skill_deleted_by_the_user_is_not_recreated(state: ProjectState) -> None:
    publish(state, [procedure()], "run-1")
    path = state.project / ".claude/skills/releasing-a-new-version/SKILL.md"
    path.unlink()
    result = publish(state, [procedure()], "run-2")
    assert not path.exists() and result.changed == ()
    assert result.skipped and result.skipped[0][0] == "rel"


def test_other_files_in_our_skill_directory_are_kept(state: ProjectState) -> None:
    publish(state, [procedure()], "run-1")
    extra = state.project / ".claude/skills/releasing-a-new-version/notes.txt"
    extra.write_text("user notes")
    publish(state, [], "run-2")
    assert extra.exists()
    assert not extra.with_name("SKILL.md").exists()


def test_two_lessons_with_the_same_trigger_get_two_names(state: ProjectState) -> None:
    publish(state, [procedure("a"), procedure("b", action="other")], "run-1")
    names = sorted(p.name for p in (state.project / ".claude/skills").iterdir())
    assert names == ["releasing-a-new-version", "releasing-a-new-version-2"]


def test_skill_budget(state: ProjectState) -> None:
    lessons = [procedure(f"p{n}", trigger=f"task number {n}") for n in range(skills.MAX_SKILLS + 3)]
    result = publish(state, lessons, "run-1")
    assert len(result.changed) == skills.MAX_SKILLS
    assert sum("budget" in reason for _, reason in result.skipped) == 3


def test_unreadable_registry_stops_rather_than_guess(state: ProjectState) -> None:
    from selfdistill import journal
    from selfdistill.errors import StateError

    publish(state, [procedure()], "run-1")
    journal.registry_path(state).write_text("{not json")
    with pytest.raises(StateError, match="unreadable"):
        publish(state, [], "run-2")
    assert (state.project / ".claude/skills/releasing-a-new-version/SKILL.md").exists()
