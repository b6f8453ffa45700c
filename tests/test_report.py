"""`selfdistill report`: data from real runs, the HTML page, the terminal summary, the CLI."""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from selfdistill import distill, report, store
from selfdistill.distill import RunOptions
from selfdistill.model import Lesson
from selfdistill.paths import ProjectState
from selfdistill.report_html import help_bar, nice_ceiling, render
from selfdistill.schemas import validate
from tests.support.transcripts import Step, write_transcript
from tests.test_distill import TREE, VERCEL, resume
from tests.test_run_cli import make_project, selfdistill

NOW = "2026-11-21T12:00:00Z"
ATTACK = "<script>document.title=2</script><img src=x onerror=document.title=1>"


def tomorrow() -> str:
    return (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%d")


def run(project: Path, *paths: Path) -> dict[str, Any]:
    manifest = distill.run(RunOptions(project=project, transcripts=paths))
    assert manifest is not None
    return manifest


def state_of(project: Path) -> ProjectState:
    return distill.project_state(project)


def session(tmp_path: Path, name: str, steps: list[Step], day: str) -> Path:
    return write_transcript(tmp_path / "t" / f"{name}.jsonl", name, steps, day=day)


TREE_OK: list[Step] = [("tree src -L 2", True, "src\n  a.py")]


def measured_project(tmp_path: Path) -> Path:
    """A published `tree` lesson, then one later session it helped and one where it recurred."""
    project = make_project(tmp_path)
    run(
        project,
        session(tmp_path, "a", TREE, "2026-01-01"),
        session(tmp_path, "b", TREE, "2026-01-02"),
    )
    run(project, session(tmp_path, "c", VERCEL, "2026-01-02"))
    later = tomorrow()
    run(project, session(tmp_path, "ok", TREE_OK, later), session(tmp_path, "bad", TREE, later))
    return project


# --- gathering -----------------------------------------------------------------------------------


def test_an_empty_project_reports_nothing_and_creates_nothing(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    gathered = report.gather(state_of(project), NOW)
    assert (gathered.runs, gathered.lessons, gathered.days) == ((), (), ())
    assert gathered.signal_source == "none" and gathered.observations == 0
    assert not Path(os.environ["SELFDISTILL_HOME"]).exists()
    assert "No lessons yet" in render(gathered) and "No runs yet" in render(gathered)


def test_signals_per_day_from_the_runs_manifests(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    first = run(project, session(tmp_path, "a", TREE, "2026-01-01"))
    run(
        project,
        session(tmp_path, "b", VERCEL, "2026-01-03"),
        session(tmp_path, "c", TREE, "2026-01-03"),
    )
    validate("manifest", first)
    assert first["signals"] == {"tool_error": 1}
    assert first["sessionSignals"][0]["sessionId"] == "a"
    gathered = report.gather(state_of(project), NOW)
    assert gathered.signal_source == "runs"
    assert [(d.day, d.sessions) for d in gathered.days] == [("2026-01-01", 1), ("2026-01-03", 2)]
    # VERCEL fails then recovers; TREE fails and `find` is not the same intent
    assert gathered.days[1].count("tool_error") == 2 and gathered.days[1].count("recovery") == 1
    assert gathered.days[1].failures_per_session() == 1.0  # recoveries are not failures
    assert [r.sessions for r in gathered.runs] == [1, 2]
    assert sum(gathered.runs[1].signals) == 3


def test_a_session_analysed_again_counts_once(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    path = session(tmp_path, "a", TREE, "2026-01-01")
    run(project, path)
    write_transcript(path, "a", TREE + TREE, day="2026-01-01")  # it grew: analysed again whole
    run(project, path)
    gathered = report.gather(state_of(project), NOW)
    assert len(gathered.runs) == 2
    assert [(d.day, d.sessions, d.count("tool_error")) for d in gathered.days] == [
        ("2026-01-01", 1, 2)
    ]
    # the headline counts it once too; each run's own row still says what that run analysed
    assert [r.sessions for r in gathered.runs] == [1, 1]
    assert gathered.sessions_analysed == 1 and gathered.to_json()["sessionsAnalysed"] == 1
    assert "1 session(s) analysed" in report.format_text(gathered)
    assert re.search(r"<b>1</b><span class=\"muted\">sessions analysed", render(gathered))


def subagent(tmp_path: Path, parent: str, name: str, steps: list[Step], day: str) -> Path:
    """A subagent's transcript where Claude Code keeps it: its own file, its parent's session id."""
    path = tmp_path / "t" / parent / "subagents" / f"{name}.jsonl"
    return write_transcript(path, name, steps, day=day, parent=parent)


def test_a_subagent_transcript_adds_its_signals_to_its_session(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    parent = session(tmp_path, "p", VERCEL, "2026-01-01")  # a tool error, then its recovery
    agent = subagent(tmp_path, "p", "agent-a1", TREE, "2026-01-01")  # a tool error
    first = run(project, parent, agent)
    assert [(x["sessionId"], Path(x["file"]).name) for x in first["sessionSignals"]] == [
        ("p", "p.jsonl"),
        ("p", "agent-a1.jsonl"),
    ]

    def day_counts() -> list[tuple[str, int, int, int]]:
        gathered = report.gather(state_of(project), NOW)
        assert gathered.sessions_analysed == 1  # a subagent is not another session
        return [
            (d.day, d.sessions, d.count("tool_error"), d.count("recovery")) for d in gathered.days
        ]

    assert day_counts() == [("2026-01-01", 1, 2, 1)]
    # the parent grew and is analysed again alone: its subagent's signals still count
    write_transcript(parent, "p", VERCEL + TREE, day="2026-01-01")
    run(project, parent)
    assert day_counts() == [("2026-01-01", 1, 3, 1)]
    assert [r.sessions for r in report.gather(state_of(project), NOW).runs] == [2, 1]


def test_a_session_is_counted_on_the_day_its_first_transcript_began(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    agent = subagent(tmp_path, "p", "agent-a1", TREE, "2026-01-02")  # past midnight
    run(project, agent, session(tmp_path, "p", VERCEL, "2026-01-01"))
    gathered = report.gather(state_of(project), NOW)
    assert [(d.day, d.sessions, d.count("tool_error")) for d in gathered.days] == [
        ("2026-01-01", 1, 2)
    ]


def counted(project: Path) -> list[tuple[str, int, int, int]]:
    """(day, sessions, tool errors, recoveries) for each day the report shows."""
    gathered = report.gather(state_of(project), NOW)
    return [(d.day, d.sessions, d.count("tool_error"), d.count("recovery")) for d in gathered.days]


@pytest.mark.parametrize("one_run", [True, False])
def test_an_entry_a_resumed_session_repeats_counts_once(tmp_path: Path, one_run: bool) -> None:
    project = make_project(tmp_path)
    parent = session(tmp_path, "p", TREE, "2026-01-01")  # a tool error
    resumed = resume(parent, tmp_path / "t" / "r.jsonl", "r", VERCEL)  # p's again, then its own
    batches = [(parent, resumed)] if one_run else [(parent,), (resumed,)]
    manifests = [run(project, *batch) for batch in batches]
    for manifest in manifests:
        validate("manifest", manifest)
    item = manifests[-1]["sessionSignals"][-1]
    assert (item["sessionId"], item["counts"], item["copies"]) == (
        "r",
        {"tool_error": 1, "recovery": 1},
        {"tool_error": 1},  # p's, copied
    )
    assert manifests[-1]["signals"] == (
        {"tool_error": 2, "recovery": 1} if one_run else item["counts"]
    )
    assert counted(project) == [("2026-01-01", 2, 2, 1)]
    gathered = report.gather(state_of(project), NOW)
    assert report.report_json(gathered)["signalTotals"]["tool_error"] == 2
    assert [sum(r.signals) for r in gathered.runs] == ([3] if one_run else [1, 2])


def test_a_resume_under_its_parents_session_id_counts_its_entries_once(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    parent = session(tmp_path, "p", TREE, "2026-01-01")
    # most of its entries are copies that kept p's id: it reads as a transcript of session p
    resumed = resume(parent, tmp_path / "t" / "r.jsonl", "r", VERCEL[:1], keep_ids=True)
    manifest = run(project, parent, resumed)
    assert [x["sessionId"] for x in manifest["sessionSignals"]] == ["p", "p"]
    assert manifest["signals"] == {"tool_error": 2}  # p's, and the one r ran into itself
    assert counted(project) == [("2026-01-01", 1, 2, 0)]


def test_a_manifest_older_than_uuids_is_counted_as_it_stands(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    parent = session(tmp_path, "p", TREE, "2026-01-01")
    run(project, parent)
    [stored] = state_of(project).runs.glob("*.json")
    old = json.loads(stored.read_text())
    for item in old["sessionSignals"]:
        del item["uuids"]  # as runs wrote them before it
    stored.write_text(json.dumps(old))
    second = run(project, resume(parent, tmp_path / "t" / "r.jsonl", "r", VERCEL))
    assert second["signals"] == {"tool_error": 2, "recovery": 1}  # the copy cannot be told apart
    assert counted(project) == [("2026-01-01", 2, 3, 1)]


def test_a_run_passes_over_odd_stored_manifests(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    runs = state_of(project).runs
    runs.mkdir(parents=True)
    odd = [5, ["x"], [{"file": 3, "uuids": ["p-0002"]}], [{"file": "f", "uuids": "p-0002"}]]
    for n, items in enumerate(odd):
        (runs / f"2025010{n}T000000Z-000000.json").write_text(
            json.dumps({"id": f"odd{n}", "sessionSignals": items})
        )
    manifest = run(project, session(tmp_path, "p", TREE, "2026-01-01"))
    assert manifest["sessionSignals"][0]["counts"] == {"tool_error": 1}


def test_entries_without_a_uuid_are_never_taken_for_copies(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    paths = [session(tmp_path, name, TREE, "2026-01-01") for name in ("a", "b")]
    for path in paths:  # the same line numbers in both, and no uuids to tell them apart
        entries = [json.loads(line) for line in path.read_text().splitlines()]
        path.write_text("".join(json.dumps({**e, "uuid": None}) + "\n" for e in entries))
    manifest = run(project, *paths)
    assert manifest["signals"] == {"tool_error": 2}
    assert [x["uuids"] for x in manifest["sessionSignals"]] == [[], []]


def test_evidence_from_every_transcript_of_a_session_gets_its_excerpt(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    run(
        project,
        session(tmp_path, "p", VERCEL, "2026-01-01"),  # the vercel lesson's evidence
        subagent(tmp_path, "p", "agent-a1", TREE, "2026-01-01"),  # the tree lesson's, in p too
        session(tmp_path, "q", TREE, "2026-01-02"),
    )
    lessons = report.gather(state_of(project), NOW).lessons
    errors = sorted(
        (e.session_id, e.uuid or "", e.excerpt or "")
        for row in lessons
        for e in row.evidence
        if e.signal == "tool_error"
    )
    assert [(sid, uuid) for sid, uuid, _ in errors] == [
        ("p", "agent-a1-0002"),  # in the subagent's transcript
        ("p", "p-0002"),  # in its parent's
        ("q", "q-0002"),
    ]
    assert "command not found: tree" in errors[0][2]
    assert "vercel deploy` requires confirmation" in errors[1][2]
    assert "command not found: tree" in errors[2][2]


def test_runs_older_than_session_signals_still_count_in_the_headline(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    state = state_of(project)
    run(project, session(tmp_path, "a", TREE, "2026-01-01"))
    (state.runs / "20250101T000000Z-000000.json").write_text(
        json.dumps({"id": "old", "sessionsProcessed": 2})  # which sessions: not recorded
    )
    gathered = report.gather(state, NOW)
    assert [(r.id, r.sessions) for r in gathered.runs] == [("old", 2), (gathered.runs[1].id, 1)]
    assert gathered.sessions_analysed == 3


def test_lessons_carry_their_evidence_and_whether_they_helped(tmp_path: Path) -> None:
    project = measured_project(tmp_path)
    rows = {row.trigger: row for row in report.gather(state_of(project), NOW).lessons}
    tree = rows["Using `tree`"]
    assert tree.status == "active" and tree.published_at is not None
    assert (tree.helped, tree.hurt, tree.verdict) == (1, 1, "mixed")
    assert tree.supporting_sessions == 3  # a, b and the session where it recurred
    verdicts = sorted(e.signal for e in tree.evidence if report.is_verdict(e))
    assert verdicts == ["efficacy:helped", "efficacy:hurt"]
    vercel = next(row for row in rows.values() if "vercel" in row.trigger)
    assert (vercel.status, vercel.verdict) == ("candidate", "unpublished")


def test_evidence_excerpts_are_read_back_from_the_transcripts(tmp_path: Path) -> None:
    project = measured_project(tmp_path)
    state = state_of(project)

    def tree_excerpts(**options: int) -> list[str | None]:
        gathered = report.gather(state, NOW, **options)
        tree = next(row for row in gathered.lessons if row.trigger == "Using `tree`")
        return [e.excerpt for e in tree.evidence if e.signal == "tool_error"]

    found = tree_excerpts()
    assert len(found) == 3 and all("command not found: tree" in (x or "") for x in found)
    assert tree_excerpts(excerpt_files=0) == [None, None, None]
    (tmp_path / "t" / "a.jsonl").unlink()  # a transcript gone: its evidence stays, without text
    assert sorted(x is None for x in tree_excerpts()) == [False, False, True]


def test_verdict_words() -> None:
    base = Lesson(id="x", kind="fact", trigger="t", action="a")
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "unpublished"),
        ({"published_at": NOW}, "unmeasured"),
        ({"published_at": NOW, "helped": 2}, "helping"),
        ({"published_at": NOW, "hurt": 2}, "recurring"),
        ({"published_at": NOW, "helped": 1, "hurt": 1}, "mixed"),
    ]
    for changes, word in cases:
        assert report.verdict_of(replace(base, **changes)) == word


def test_without_session_signals_the_observation_store_is_used(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    state = state_of(project)
    for ts, outcome, sid in [
        ("2026-02-01T10:00:00Z", "error", "s1"),
        ("2026-02-01T11:00:00Z", "ok", "s2"),
        ("2026-02-03T09:00:00Z", "interrupted", "s3"),
        ("2026-02-03T09:01:00Z", "error", "s3"),
    ]:
        store.append(
            state, {"ts": ts, "event": "PostToolUse", "session_id": sid, "outcome": outcome}
        )
    gathered = report.gather(state, NOW)
    assert gathered.signal_source == "observations" and gathered.observations == 4
    assert [
        (d.day, d.sessions, d.count("tool_error"), d.count("interruption")) for d in gathered.days
    ] == [
        ("2026-02-01", 2, 1, 0),
        ("2026-02-03", 1, 1, 1),
    ]


def test_a_session_past_midnight_counts_once_on_the_day_it_began(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    state = state_of(project)
    for ts, outcome, sid in [
        ("2026-02-01T23:50:00Z", "error", "s1"),
        ("2026-02-02T00:10:00Z", "error", "s1"),  # past midnight: still the session of 02-01
        ("2026-02-02T00:20:00Z", "interrupted", "s1"),
        ("2026-02-02T09:00:00Z", "ok", "s2"),
    ]:
        store.append(
            state, {"ts": ts, "event": "PostToolUse", "session_id": sid, "outcome": outcome}
        )
    gathered = report.gather(state, NOW)
    assert [
        (d.day, d.sessions, d.count("tool_error"), d.count("interruption")) for d in gathered.days
    ] == [
        ("2026-02-01", 1, 1, 0),  # s1 began here
        ("2026-02-02", 1, 1, 1),  # s2 began here; s1's later signals happened here
    ]
    assert "over 2 session(s), from observations" in report.format_text(gathered)


def test_unreadable_manifests_are_skipped(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    run(project, session(tmp_path, "a", TREE, "2026-01-01"))
    state = state_of(project)
    (state.runs / "20260101T000000Z-000000.json").write_text("{not json")
    (state.runs / "20260101T000001Z-000000.json").write_text(
        json.dumps({"id": "x", "sessionSignals": 5})
    )
    gathered = report.gather(state, NOW)
    assert [r.id for r in gathered.runs][-1] != "" and len(gathered.runs) == 2
    assert sum(d.sessions for d in gathered.days) == 1


# --- the page ------------------------------------------------------------------------------------


def attacked_project(tmp_path: Path) -> Path:
    """A lesson whose text carries markup from a tool's output, through the real pipeline."""
    project = make_project(tmp_path)
    steps: list[Step] = [
        ("vercel --prod", False, f'Error: {ATTACK} requires confirmation. Use option "--yes"'),
        ("vercel --prod --yes", True, "Deployed"),
    ]
    run(
        project,
        session(tmp_path, "x0", steps, "2026-01-01"),
        session(tmp_path, "x1", steps, "2026-01-02"),
    )
    return project


def test_the_page_escapes_what_tools_printed(tmp_path: Path) -> None:
    project = attacked_project(tmp_path)
    gathered = report.gather(state_of(project), NOW)
    assert any(ATTACK in row.action for row in gathered.lessons)  # the text did reach the store
    page = render(gathered)
    assert ATTACK not in page
    assert html.escape(ATTACK, quote=True) in page
    assert "<script" not in page.lower() and "<img" not in page.lower()
    excerpts = [e.excerpt or "" for row in gathered.lessons for e in row.evidence]
    assert any("<script>" in text for text in excerpts)  # the excerpts carry it too


def test_the_page_is_self_contained(tmp_path: Path) -> None:
    page = render(report.gather(state_of(measured_project(tmp_path)), NOW))
    assert not re.search(r"\b(src|href)\s*=|<link|@import|url\(", page, re.I)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert page.count('<tr class="lesson"') == 2
    assert 'id="signals-chart"' in page and 'class="bar tool_error"' in page
    assert 'id="rate-chart"' in page and page.count('<circle class="rate"') == 3  # 3 days


def test_help_bar_scales_helped_against_recurred() -> None:
    assert 'class="hurt"' not in help_bar(0, 0) and 'class="helped"' not in help_bar(0, 0)
    both = help_bar(3, 1, width=100)
    assert 'class="helped" width="75.0"' in both and 'x="75.0" width="25.0"' in both


def test_chart_axis_steps_are_round() -> None:
    assert [nice_ceiling(n) for n in (1, 2, 3, 6, 11, 30, 51)] == [1, 2, 5, 10, 20, 50, 100]


# --- the terminal summary ------------------------------------------------------------------------


def test_text_summary_shows_days_lessons_and_verdicts(tmp_path: Path) -> None:
    text = report.format_text(report.gather(state_of(measured_project(tmp_path)), NOW))
    assert "2026-01-01" in text and "tool error" in text
    assert re.search(r"active\s+mixed\s+\+1/-1 3s\s+Using `tree`", text)
    assert "1 helped, 1 recurred" in text


def test_text_summary_keeps_control_characters_off_the_terminal() -> None:
    assert report.one_line("a\x1b[31mred\nline\x07") == "a [31mred line"


# --- the command ---------------------------------------------------------------------------------


def test_command_prints_text_json_and_writes_html(tmp_path: Path) -> None:
    project = measured_project(tmp_path)
    text = selfdistill("report", "--project", str(project), cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "Using `tree`" in text.stdout
    as_json = selfdistill("report", "--json", cwd=project)
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["signalSource"] == "runs" and len(data["lessons"]) == 2
    assert {x["verdict"] for x in data["lessons"]} == {"mixed", "unpublished"}
    page = tmp_path / "out" / "report.html"
    page.parent.mkdir()
    written = selfdistill("report", "--project", str(project), "--html", str(page), cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    assert written.stdout.strip() == str(page)
    assert page.read_text().startswith("<!DOCTYPE html>")
    assert [p.name for p in page.parent.iterdir()] == ["report.html"]  # no temporary file left


def test_command_errors_are_one_line(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("")
    done = selfdistill(
        "report", "--project", str(project), "--html", str(blocker / "r.html"), cwd=tmp_path
    )
    assert done.returncode == 1 and done.stdout == ""
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_page_in_a_folder_that_does_not_exist_is_a_user_error(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    page = tmp_path / "nonexistent" / "dir" / "r.html"
    done = selfdistill("report", "--project", str(project), "--html", str(page), cwd=tmp_path)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"selfdistill: cannot write {page}: no folder {page.parent}\n"
    assert not (tmp_path / "nonexistent").exists()


@pytest.mark.parametrize("args", [["--json"], []])
def test_command_on_a_project_never_run(tmp_path: Path, args: list[str]) -> None:
    project = make_project(tmp_path)
    done = selfdistill("report", *args, cwd=project)
    assert done.returncode == 0, done.stderr
    assert not Path(os.environ["SELFDISTILL_HOME"]).exists()


def test_review_mode_marks_the_lessons_awaiting_approval(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    (project / ".claude").mkdir(exist_ok=True)
    (project / ".claude" / "selfdistill.json").write_text('{"mode": "review"}')
    run(
        project,
        session(tmp_path, "a", TREE, "2026-01-01"),
        session(tmp_path, "b", TREE, "2026-01-02"),
    )
    run(project, session(tmp_path, "c", VERCEL, "2026-01-03"))
    gathered = report.gather(state_of(project), NOW)
    assert [(row.status, row.awaiting) for row in gathered.lessons] == [
        ("candidate", True),
        ("candidate", False),
    ]
    lessons_json = report.report_json(gathered)["lessons"]
    assert [x["awaitingApproval"] for x in lessons_json] == [True, False]
    text = report.format_text(gathered)
    assert re.search(r"^  \w{10} awaiting  unpublished", text, re.M)
    assert "1 awaiting your approval: 'selfdistill lessons approve ID'" in text
    page = render(gathered)
    assert page.count(">awaiting</span>") == 1 and page.count(">candidate</span>") == 1


def test_a_page_named_by_a_folder_is_a_user_error(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    done = selfdistill("report", "--project", str(project), "--html", "", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"selfdistill: --html needs a file name; {tmp_path} is a folder\n"
