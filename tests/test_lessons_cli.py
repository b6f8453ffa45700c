"""`selfdistill lessons`: list, show by prefix, approve and reject (remembered, published)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from selfdistill import distill, lessons
from selfdistill.schemas import validate
from tests.support.transcripts import write_transcript
from tests.test_distill import TREE, VERCEL
from tests.test_run_cli import make_project, selfdistill


def seeded(tmp_path: Path) -> Path:
    project = make_project(tmp_path)
    paths = [
        write_transcript(tmp_path / "a.jsonl", "a", TREE),
        write_transcript(tmp_path / "b.jsonl", "b", VERCEL),
    ]
    args = [a for p in paths for a in ("--transcript", str(p))]
    assert selfdistill("run", *args, cwd=project).returncode == 0
    return project


def listed(project: Path) -> list[dict[str, Any]]:
    done = selfdistill("lessons", "list", "--json", cwd=project)
    assert done.returncode == 0, done.stderr
    items: list[dict[str, Any]] = json.loads(done.stdout)
    return items


def test_list_is_empty_before_any_run(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    assert listed(project) == []
    done = selfdistill("lessons", cwd=project)
    assert done.returncode == 0 and "no lessons yet" in done.stdout


def test_list_and_show_by_prefix(tmp_path: Path) -> None:
    project = seeded(tmp_path)
    items = listed(project)
    assert {item["status"] for item in items} == {"candidate"}
    first = str(items[0]["id"])
    done = selfdistill("lessons", "show", first[:5], "--json", cwd=project)
    assert done.returncode == 0
    assert json.loads(done.stdout)["id"] == first
    text = selfdistill("lessons", "show", first[:5], cwd=project)
    assert f"id:         {first}" in text.stdout and "evidence:" in text.stdout
    assert "judged by:  " in text.stdout and "counts against it" in text.stdout


def test_approve_activates_and_publishes(tmp_path: Path) -> None:
    project = seeded(tmp_path)
    tree = next(item for item in listed(project) if item["trigger"] == "Using `tree`")
    done = selfdistill("lessons", "approve", str(tree["id"]), "--json", cwd=project)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["lesson"]["status"] == "active"
    claude_md = project / "CLAUDE.md"
    if result["published"]:  # the publisher is there: the lesson reached CLAUDE.md
        assert "`tree`: it is not installed here" in claude_md.read_text()


def test_reject_is_remembered_by_later_runs(tmp_path: Path) -> None:
    project = seeded(tmp_path)
    tree = next(item for item in listed(project) if item["trigger"] == "Using `tree`")
    assert selfdistill("lessons", "reject", str(tree["id"]), cwd=project).returncode == 0
    again = write_transcript(tmp_path / "c.jsonl", "c", TREE)
    assert selfdistill("run", "--transcript", str(again), cwd=project).returncode == 0
    state = distill.project_state(project)
    stored = {x.id: x for x in lessons.read_lessons(state)}
    assert stored[str(tree["id"])].status == "rejected"
    assert len(stored) == 2


def test_unknown_or_missing_id_is_a_one_line_error(tmp_path: Path) -> None:
    project = seeded(tmp_path)
    for args in (["show", "ffffffffff"], ["approve"], ["list", "abc"]):
        done = selfdistill("lessons", *args, cwd=project)
        assert done.returncode == 1, args
        assert done.stdout == "" and done.stderr.count("\n") == 1


def reviewed(tmp_path: Path, mode: str = "review") -> Path:
    """A project in `mode` after one run: `tree` failed in two sessions, `vercel` in one."""
    project = make_project(tmp_path)
    (project / ".claude").mkdir()
    (project / ".claude" / "selfdistill.json").write_text(json.dumps({"mode": mode}))
    paths = [
        write_transcript(tmp_path / "a.jsonl", "a", TREE),
        write_transcript(tmp_path / "b.jsonl", "b", TREE),
        write_transcript(tmp_path / "c.jsonl", "c", VERCEL),
    ]
    args = [a for p in paths for a in ("--transcript", str(p))]
    done = selfdistill("run", *args, cwd=project)
    assert done.returncode == 0, done.stderr
    return project


def by_trigger(project: Path) -> dict[str, dict[str, Any]]:
    return {str(item["trigger"]): item for item in listed(project)}


def test_review_mode_marks_the_lessons_that_await_approval(tmp_path: Path) -> None:
    project = reviewed(tmp_path)
    items = by_trigger(project)
    tree, vercel = items["Using `tree`"], next(x for t, x in items.items() if "vercel" in t)
    assert (tree["status"], tree["sessionsSeen"], tree["awaitingApproval"]) == (
        "candidate",
        2,
        True,
    )
    assert (vercel["status"], vercel["sessionsSeen"]) == ("candidate", 1)
    assert vercel["awaitingApproval"] is False  # one session: it needs more evidence, not the user
    stored = {
        x.id: lessons.to_dict(x) for x in lessons.read_lessons(distill.project_state(project))
    }
    for item in items.values():  # every stored field is still there, unchanged
        assert {k: v for k, v in item.items() if k != "awaitingApproval"} == stored[item["id"]]
        validate("lesson", item)  # what --json prints is a lesson as the schema describes it
    text = selfdistill("lessons", cwd=project).stdout.splitlines()
    [tree_line] = [line for line in text if line.startswith(tree["id"])]
    [vercel_line] = [line for line in text if line.startswith(vercel["id"])]
    assert tree_line.split()[1] == "awaiting" and vercel_line.split()[1] == "candidate"
    assert tree_line.index(" fact ") == vercel_line.index(" pitfall ")  # the columns stay aligned
    assert text[-1] == (
        "1 lesson awaits your approval: 'selfdistill lessons approve ID' (or 'reject ID')"
    )


def test_show_says_whether_a_lesson_awaits_approval(tmp_path: Path) -> None:
    project = reviewed(tmp_path)
    items = by_trigger(project)
    tree, vercel = items["Using `tree`"], next(x for t, x in items.items() if "vercel" in t)
    shown = selfdistill("lessons", "show", tree["id"], "--json", cwd=project)
    assert json.loads(shown.stdout) == tree
    text = selfdistill("lessons", "show", tree["id"], cwd=project).stdout
    assert (
        f"status:     candidate, awaiting your approval ('selfdistill lessons approve {tree['id']}'"
        in text
    )
    other = selfdistill("lessons", "show", vercel["id"], cwd=project)
    assert (
        json.loads(selfdistill("lessons", "show", vercel["id"], "--json", cwd=project).stdout)[
            "awaitingApproval"
        ]
        is False
    )
    assert "status:     candidate\n" in other.stdout and "awaiting" not in other.stdout


def test_approving_a_lesson_ends_its_wait(tmp_path: Path) -> None:
    project = reviewed(tmp_path)
    tree = by_trigger(project)["Using `tree`"]
    done = selfdistill("lessons", "approve", tree["id"], "--json", cwd=project)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["lesson"]["awaitingApproval"] is False
    assert not any(item["awaitingApproval"] for item in listed(project))
    text = selfdistill("lessons", cwd=project).stdout
    assert "awaiting" not in text and "approval" not in text


def test_auto_mode_never_awaits_approval(tmp_path: Path) -> None:
    project = reviewed(tmp_path, mode="auto")
    items = by_trigger(project)
    assert items["Using `tree`"]["status"] == "active"
    assert not any(item["awaitingApproval"] for item in items.values())
    text = selfdistill("lessons", cwd=project).stdout
    assert "awaiting" not in text and "approval" not in text


def test_list_picks_lessons_by_status(tmp_path: Path) -> None:
    project = reviewed(tmp_path)

    def picked(*statuses: str) -> list[str]:
        args = [a for s in statuses for a in ("--status", s)]
        done = selfdistill("lessons", "list", *args, "--json", cwd=project)
        assert done.returncode == 0, done.stderr
        return sorted(str(item["trigger"]) for item in json.loads(done.stdout))

    everything = sorted(by_trigger(project))
    assert picked("awaiting") == ["Using `tree`"]
    assert picked("candidate") == everything  # awaiting lessons are candidates too
    assert picked("active") == []
    assert picked("active", "awaiting") == ["Using `tree`"]
    text = selfdistill("lessons", "--status", "retired", cwd=project)
    assert text.returncode == 0 and text.stdout.strip() == "no lessons with that status"
    wrong = selfdistill("lessons", "show", "abc", "--status", "active", cwd=project)
    assert wrong.returncode == 1 and "--status" in wrong.stderr
    unknown = selfdistill("lessons", "--status", "done", cwd=project)
    assert unknown.returncode == 1 and len(unknown.stderr.strip().splitlines()) == 1
