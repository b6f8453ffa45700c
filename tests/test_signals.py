"""Signals from hand-made transcripts: each kind, its fields, and the edge cases around it."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import pytest

from selfdistill import redact
from selfdistill.model import SessionReport, Signal
from selfdistill.signals import MAX_OPEN_PROMPTS, analyze, analyze_many, error_line
from tests.data.transcripts.builder import (
    INTERRUPTED,
    INTERRUPTED_TOOL,
    REJECTED,
    REJECTED_WITH_REASON,
    Transcript,
)

DATA = Path(__file__).parent / "data" / "transcripts"


def kinds(report: SessionReport) -> list[str]:
    return [s.kind for s in report.signals]


def only(report: SessionReport, kind: str) -> Signal:
    [signal] = [s for s in report.signals if s.kind == kind]
    return signal


def test_a_failed_command_is_a_tool_error_with_exit_code_subject_and_error_line(tmp_path):
    t = Transcript()
    t.prompt("run the tests")
    call = t.bash("python3 -m pytest -q")
    uuid = t.result(call, "Exit code 1\n/usr/bin/python3: No module named pytest", error=True)
    report = analyze(t.write(tmp_path / "s.jsonl"))

    error = only(report, "tool_error")
    assert error.uuid == uuid and error.session_id == "sess-1"
    assert error.file == str(tmp_path / "s.jsonl")
    assert error.exit_code == 1
    assert error.category == "command_not_found"
    assert error.subject == "python3 -m pytest -q"
    assert error.detail == "/usr/bin/python3: No module named pytest"
    assert error.tool_name == "Bash" and error.tool_use_id == call


@pytest.mark.parametrize(
    ("tool", "text", "category"),
    [
        ("Read", "<tool_use_error>File does not exist.</tool_use_error>", "file_not_found"),
        (
            "Edit",
            "<tool_use_error>String to replace not found in file.\nString: x",
            "edit_mismatch",
        ),
        (
            "Edit",
            "File has not been read yet. Read it first before writing to it.",
            "file_not_read",
        ),
        ("Edit", "File has been unexpectedly modified. Read it again.", "file_modified"),
        ("Read", "EISDIR: illegal operation on a directory, read", "is_directory"),
        ("Bash", "Command timed out after 2m 0.0s", "timeout"),
        ("Bash", "Exit code 1\nError: Timeout of 2000ms exceeded.", "timeout"),
        ("Bash", "Exit code 1\nlet t: NodeJS.Timeout | null = setTimeout(f)", "command_failed"),
        ("Bash", "PreToolUse:Bash hook error: [./guard.sh]: blocked rm -rf", "hook_blocked"),
        ("Bash", "Permission to use Bash with command rm -rf / has been denied.", "permission"),
        ("Bash", "This command requires approval", "permission"),
        ("Bash", "Exit code 127\n(eval):1: command not found: tree", "command_not_found"),
        ("Bash", "Exit code 2\nmake: *** [all] Error 2", "command_failed"),
        # Words inside a failing build's output do not name why the command failed.
        (
            "Bash",
            "Exit code 1\nsrc/useAccessibility.ts(3,1): error TS2322: bad type",
            "command_failed",
        ),
        (
            "Bash",
            "Exit code 2\nsrc/a.ts(9,3): error TS2307: Cannot find module './b.vue'",
            "command_failed",
        ),
        ("Bash", "Exit code 1\nError: EACCES: permission denied, open '/etc/x'", "permission"),
        ("Bash", "Exit code 1\nError: Cannot find module 'express'", "command_not_found"),
        (
            "Foo",
            "<tool_use_error>Error: No such tool available: Foo</tool_use_error>",
            "tool_unavailable",
        ),
        ("WebFetch", "something odd happened", "other"),
        (
            "Read",
            "File content (29222 tokens) exceeds maximum allowed tokens (25000).",
            "too_large",
        ),
        (
            "Write",
            "Claude requested permissions to write to /p/x.py, but you haven't granted it yet.",
            "permission",
        ),
        (
            "Task",
            "Agent type 'code-reviewer' not found. Available agents: general",
            "tool_unavailable",
        ),
        ("Edit", "settings.json validation failed after edit", "input_invalid"),
        # The quoted old text of an edit names no category: the first line does.
        (
            "Edit",
            "String to replace not found in file.\nString: fetch(url, { timeout: 5000 })",
            "edit_mismatch",
        ),
    ],
)
def test_tool_errors_are_categorized(tmp_path, tool, text, category):
    t = Transcript()
    call = t.call(tool, file_path="/p/x.py", command="do it")
    t.result(call, text, error=True)
    assert only(analyze(t.write(tmp_path / "s.jsonl")), "tool_error").category == category


@pytest.mark.parametrize(
    ("output", "line"),
    [
        (
            "\x1b[31m✘ [ERROR]\x1b[0m Must specify a deployment",
            "✘ [ERROR] Must specify a deployment",
        ),
        (
            'Traceback (most recent call last):\n  File "t.py", line 1, in <module>\n'
            "    import yaml\nModuleNotFoundError: No module named 'yaml'",
            "ModuleNotFoundError: No module named 'yaml'",
        ),
        (
            "npm warn exec The package create-app@1 was not found and will be installed\n"
            "The directory app contains files that could conflict:",
            "The directory app contains files that could conflict:",
        ),
        (
            "app.py:8:1: F401 unused import\n8 | | from x.errors import Limit\nFound 1 error.",
            "Found 1 error.",
        ),
        (
            "PreToolUse:Write hook error: [uv run /h/guard.py]: Reading inline script metadata"
            " from `/h/guard.py`\nBLOCKED: Access to .env files is prohibited\n",
            "BLOCKED: Access to .env files is prohibited",
        ),
    ],
)
def test_the_quoted_error_line_is_the_error_not_a_notice_or_a_frame(output, line):
    assert error_line(output) == line


def test_a_tool_stopped_by_the_user_is_an_interruption(tmp_path):
    t = Transcript()
    stopped = t.result(t.call("TodoWrite", todos=[]), "Interrupted by user", error=True)
    report = analyze(t.write(tmp_path / "s.jsonl"))
    assert kinds(report) == ["interruption"] and only(report, "interruption").uuid == stopped


def test_one_rejection_of_several_calls_is_one_decision(tmp_path):
    t = Transcript()
    first, second = t.bash("pnpm dev"), t.bash("open http://localhost:3000")
    rejected = t.result(first, REJECTED, error=True)
    t.result(
        second,
        "The user doesn't want to take this action right now. STOP what you are doing.",
        error=True,
    )
    t.prompt("[Request interrupted by user for tool use]")
    report = analyze(t.write(tmp_path / "s.jsonl"))
    assert kinds(report) == ["rejection", "rejection", "interruption"]
    assert [s.related_uuid for s in report.signals] == [None, rejected, report.signals[1].uuid]
    assert report.evidence[0] == "1 rejection"


def test_a_rejection_is_not_a_tool_error(tmp_path):
    t = Transcript()
    call = t.edit("/p/a.py", "x", "y")
    uuid = t.result(call, REJECTED, error=True)
    report = analyze(t.write(tmp_path / "s.jsonl"))
    assert kinds(report) == ["rejection"]
    rejection = only(report, "rejection")
    assert rejection.uuid == uuid and rejection.subject == "/p/a.py" and rejection.detail is None


def test_a_rejection_with_the_user_s_reason_carries_it_and_is_a_correction(tmp_path):
    t = Transcript()
    call = t.bash("rm -rf build")
    t.result(call, REJECTED_WITH_REASON + "don't delete build, it holds the release", error=True)
    report = analyze(t.write(tmp_path / "s.jsonl"))
    assert kinds(report) == ["rejection", "correction"]
    assert only(report, "rejection").detail == "don't delete build, it holds the release"
    assert only(report, "correction").detail == "don't delete build, it holds the release"
    assert report.outcome == "negative"


def test_the_older_rejection_wording_is_a_rejection(tmp_path):
    t = Transcript()
    call = t.bash("git push --force")
    t.result(
        call,
        "The user doesn't want to take this action right now. STOP what you are doing.",
        error=True,
    )
    assert kinds(analyze(t.write(tmp_path / "s.jsonl"))) == ["rejection"]


def test_interruptions_in_text_and_in_a_tool_result_are_each_reported_once(tmp_path):
    t = Transcript()
    t.prompt("build it")
    call = t.bash("npm run build")
    first = t.result(call, INTERRUPTED_TOOL, error=True)
    second = t._entry(
        "user", {"role": "user", "content": [{"type": "text", "text": INTERRUPTED_TOOL}]}
    )
    t.say("Stopping.")
    third = t.prompt(INTERRUPTED)
    report = analyze(t.write(tmp_path / "s.jsonl"))
    interruptions = [s for s in report.signals if s.kind == "interruption"]
    assert [s.uuid for s in interruptions] == [first, second, third]
    assert interruptions[0].subject == "npm run build"
    assert interruptions[1].related_uuid == first  # the same interruption, written twice
    assert interruptions[2].related_uuid is None
    assert "tool_error" not in kinds(report)


def test_an_interrupted_command_with_exit_code_is_an_interruption(tmp_path):
    t = Transcript()
    call = t.bash("sleep 100")
    t.result(call, "Exit code 137\n[Request interrupted by user for tool use]", error=True)
    assert kinds(analyze(t.write(tmp_path / "s.jsonl"))) == ["interruption"]


def test_failing_tests_are_a_test_failure_even_when_the_command_exits_0(tmp_path):
    t = Transcript()
    call = t.bash("pytest -q | tail -3")
    t.result(call, "FAILED tests/test_a.py::test_b\n==== 1 failed, 3 passed in 0.2s ====")
    failure = only(analyze(t.write(tmp_path / "s.jsonl")), "test_failure")
    assert failure.category == "pytest"
    detail = failure.detail or ""
    assert "1 failed" in detail and "tests/test_a.py::test_b" in detail


def test_a_failing_test_command_is_a_tool_error_and_a_test_failure(tmp_path):
    t = Transcript()
    call = t.bash("npm test")
    out = "Exit code 1\nFAIL src/a.test.js\nTests:       2 failed, 5 passed, 7 total"
    t.result(call, out, error=True)
    report = analyze(t.write(tmp_path / "s.jsonl"))
    assert kinds(report) == ["tool_error", "test_failure"]
    assert only(report, "test_failure").category == "jest"


def test_another_command_of_the_same_intent_succeeding_is_a_recovery(tmp_path):
    t = Transcript()
    t.prompt("run the tests")
    bad = t.bash("python3 -m pytest")
    failed = t.result(bad, "Exit code 1\nNo module named pytest", error=True)
    good = t.bash("python3 -m unittest discover -s tests")
    fixed = t.result(good, "....\nRan 4 tests in 0.01s\n\nOK")
    recovery = only(analyze(t.write(tmp_path / "s.jsonl")), "recovery")
    assert recovery.uuid == fixed and recovery.related_uuid == failed
    assert recovery.detail == "python3 -m unittest discover -s tests"
    assert recovery.subject == "python3 -m unittest discover -s tests"
    assert "python3 -m pytest" in recovery.excerpt


def test_an_edit_that_failed_then_succeeded_on_the_same_file_is_a_recovery(tmp_path):
    t = Transcript()
    first = t.edit("/p/a.py", "retrun x", "return y")
    failed = t.result(first, "String to replace not found in file.", error=True)
    second = t.edit("/p/a.py", "return x", "return y")
    t.result(second, "The file /p/a.py has been updated.")
    recovery = only(analyze(t.write(tmp_path / "s.jsonl")), "recovery")
    assert recovery.related_uuid == failed and recovery.category == "edit_mismatch"


def test_a_filtered_rerun_that_still_shows_the_errors_is_no_recovery(tmp_path):
    t = Transcript()
    bad = t.bash("npx tsc --noEmit")
    failed = t.result(bad, "Exit code 2\nsrc/a.ts(3,1): error TS2769: No overload", error=True)
    t.result(
        t.bash("npx tsc --noEmit 2>&1 | grep TS2769"), "src/a.ts(3,1): error TS2769: No overload"
    )
    t.result(t.bash("npx tsc --noEmit || true"), "src/a.ts(3,1): error TS2769: No overload")
    assert "recovery" not in kinds(analyze(t.write(tmp_path / "s.jsonl")))
    clean = t.result(t.bash("npx tsc --noEmit | tail -5"), "")  # tsc prints nothing when clean
    recovery = only(analyze(t.write(tmp_path / "s.jsonl")), "recovery")
    assert (recovery.uuid, recovery.related_uuid) == (clean, failed)


def _changed(t: Transcript) -> None:
    t.result(t.edit("/p/app.ts", "return 1", "return 2"), "The file /p/app.ts has been updated.")


@pytest.mark.parametrize(
    ("command", "output", "category"),
    [
        ("npm run build 2>&1 | tail -5", "> next build\n\u2713 Compiled successfully", "build"),
        ("cd web && npx tsc --noEmit", "", "tsc"),
        ("python3 -m unittest discover -s tests", "....\nRan 4 tests in 0.01s\n\nOK", "test"),
        ("pnpm astro check 2>&1 | grep 'error ts'", "", "check"),
        (
            "git add -A && git commit -m 'Fix the total'",
            "[main 1a2b3c4] Fix the total\n 1 file changed, 1 insertion(+)",
            "commit",
        ),
        (
            "git commit -m 'First'",
            "[main (root-commit) 1a2b3c4] First\n 3 files changed",
            "commit",
        ),
    ],
)
def test_a_check_that_passes_or_a_commit_after_changes_is_a_success(
    tmp_path, command, output, category
):
    t = Transcript()
    _changed(t)
    call = t.bash(command)
    uuid = t.result(call, output)
    success = only(analyze(t.write(tmp_path / "s.jsonl")), "success")
    assert (success.uuid, success.category, success.subject) == (uuid, category, command)
    assert success.tool_use_id == call and success.tool_name == "Bash"


@pytest.mark.parametrize(
    ("command", "output"),
    [
        ("npx tsc --noEmit 2>&1 | grep -c 'error TS'", "10"),  # the filter found errors
        ("npm run build | tail -3", "Error: Cannot find module './Card'"),
        ("git commit -m 'x'", "nothing to commit, working tree clean"),
        ("git status", "On branch main"),
        ("cat notes.md", "[main 1a2b3c4] an old commit quoted in a note"),
        ("npm run build &", "Command running in background with ID: b1"),
    ],
)
def test_a_check_that_shows_no_pass_is_no_success(tmp_path, command, output):
    t = Transcript()
    _changed(t)
    t.result(t.bash(command), output)
    assert "success" not in kinds(analyze(t.write(tmp_path / "s.jsonl")))


def test_a_check_counts_once_per_change(tmp_path):
    t = Transcript()
    t.result(t.bash("npm run build"), "built")  # nothing changed yet: it checks nothing new
    _changed(t)
    first = t.result(t.bash("npm run build"), "built")
    t.result(t.bash("npm run lint"), "clean")  # still the same change
    _changed(t)
    second = t.result(t.bash("npm run lint"), "clean")
    report = analyze(t.write(tmp_path / "s.jsonl"))
    assert [s.uuid for s in report.signals if s.kind == "success"] == [first, second]
    assert report.outcome == "positive"


def _moved_on(report: SessionReport) -> str:
    return next((e for e in report.evidence if "moved on" in e), "")


def test_changes_the_user_moved_on_from_are_work_done(tmp_path):
    t = Transcript()
    t.prompt("make the button blue")
    _changed(t)
    t.say("The button is blue now.")
    t.prompt("now add a footer with the year")  # a new request: the button stands
    _changed(t)
    t.say("Added the footer.")  # and the session ends with no complaint
    report = analyze(t.write(tmp_path / "s.jsonl"))
    assert report.signals == ()
    assert report.outcome == "positive"
    assert _moved_on(report) == "2 turns of changes the user moved on from"


@pytest.mark.parametrize(
    "after",
    [
        "no, that's wrong, the button must stay red",  # a correction is no moving on
        INTERRUPTED,
    ],
)
def test_changes_the_user_corrected_or_stopped_are_not_work_done(tmp_path, after):
    t = Transcript()
    t.prompt("make the button blue")
    _changed(t)
    t.say("The button is blue now.")
    t.prompt(after)
    report = analyze(t.write(tmp_path / "s.jsonl"))
    assert _moved_on(report) == ""
    assert report.outcome != "positive"


def test_a_turn_without_changes_is_not_work_done(tmp_path):
    t = Transcript()
    t.prompt("what does app.ts do?")
    t.result(t.call("Read", file_path="/p/app.ts"), "export const x = 1")
    t.say("It exports x.")
    t.prompt("and what about main.ts?")
    t.say("It imports x.")
    report = analyze(t.write(tmp_path / "s.jsonl"))
    assert (report.outcome, _moved_on(report)) == ("neutral", "")


def test_a_check_that_passes_after_failing_is_a_recovery_not_also_a_success(tmp_path):
    t = Transcript()
    _changed(t)
    t.result(t.bash("npm run build"), "Exit code 1\nType error: x is not a string", error=True)
    _changed(t)
    t.result(t.bash("npm run build"), "built")
    assert kinds(analyze(t.write(tmp_path / "s.jsonl"))) == ["tool_error", "recovery"]


def test_an_edit_retried_after_failing_is_a_change_a_later_check_confirms(tmp_path):
    t = Transcript()
    failed = t.edit("/p/a.py", "retrun x", "return y")
    t.result(failed, "String to replace not found in file.", error=True)
    t.result(t.edit("/p/a.py", "return x", "return y"), "The file /p/a.py has been updated.")
    t.result(t.bash("python3 -m unittest"), "Ran 2 tests in 0.01s\n\nOK")
    report = analyze(t.write(tmp_path / "s.jsonl"))
    assert kinds(report) == ["tool_error", "recovery", "success"]


def test_a_call_issued_alongside_the_failing_one_is_not_its_fix(tmp_path):
    t = Transcript()
    missing = t.call("Read", file_path="/p/skills/docs/SKILL.md")
    sibling = t.call("Read", file_path="/p/skills/planner/SKILL.md")  # same batch
    failed = t.result(missing, "File does not exist.", error=True)
    t.result(sibling, "---\nname: planner\n---")
    assert "recovery" not in kinds(analyze(t.write(tmp_path / "s.jsonl")))
    found = t.result(t.call("Read", file_path="/p/.claude/skills/docs/SKILL.md"), "---")
    recovery = only(analyze(t.write(tmp_path / "s.jsonl")), "recovery")
    assert (recovery.uuid, recovery.related_uuid) == (found, failed)


def test_another_edit_of_the_same_file_is_not_the_fix_of_a_failed_edit(tmp_path):
    t = Transcript()
    first = t.edit("/p/app.ts", "import { OpenAIAgent } from './agent';\n", "")
    failed = t.result(first, "String to replace not found in file.", error=True)
    other = t.edit(
        "/p/app.ts", "  return { ok: true, data };", "  return { ok: true, data, count };"
    )
    t.result(other, "The file /p/app.ts has been updated.")
    assert "recovery" not in kinds(analyze(t.write(tmp_path / "s.jsonl")))
    retry = t.edit("/p/app.ts", "import { OpenAIAgent } from './agents';\n", "")
    fixed = t.result(retry, "The file /p/app.ts has been updated.")
    recovery = only(analyze(t.write(tmp_path / "s.jsonl")), "recovery")
    assert (recovery.uuid, recovery.related_uuid) == (fixed, failed)


def test_a_reworded_retry_of_a_small_edit_is_its_fix(tmp_path):
    t = Transcript()
    first = t.edit("/p/agent.md", "tools: [Read, Grep, Bash]", "tools: [Read, Grep, Write]")
    failed = t.result(first, "String to replace not found in file.", error=True)
    t.result(t.edit("/p/agent.md", "tools: Read, Grep", "tools: Read, Grep, Write"), "updated")
    assert only(analyze(t.write(tmp_path / "s.jsonl")), "recovery").related_uuid == failed


@pytest.mark.parametrize(
    ("failing", "then", "output"),
    [
        ("git worktree add ../wt main", "git worktree list", "/p  abc [main]"),
        ("git cherry-pick ebe7151", "git cherry-pick --abort", ""),
        ("wrangler login", "wrangler login", "Command running in background with ID: b1"),
        ("bun run pages:build", "bun run build", "done"),
        ("npx tsc --noEmit", "npx tsc --noEmit 2>&1 | grep -i ChooseTarget", ""),
        ("pnpm test --run", "pnpm add -D @effect/vitest", "+ @effect/vitest 0.1.0"),
    ],
)
def test_a_success_that_does_not_do_what_failed_is_no_recovery(tmp_path, failing, then, output):
    t = Transcript()
    t.result(t.bash(failing), "Exit code 1\nerror: it failed", error=True)
    t.result(t.bash(then), output)
    assert "recovery" not in kinds(analyze(t.write(tmp_path / "s.jsonl")))


def test_tools_keyed_by_a_shell_or_a_server_are_told_apart(tmp_path):
    t = Transcript()
    t.result(t.call("KillShell", shell_id="56ffa1"), "Shell 56ffa1 is not running", error=True)
    t.result(t.call("KillShell", shell_id="5c0677"), "Successfully killed shell 5c0677")
    report = analyze(t.write(tmp_path / "s.jsonl"))
    assert "recovery" not in kinds(report)
    assert only(report, "tool_error").subject == "56ffa1"


def test_a_quoted_folder_does_not_hide_the_command_s_intent(tmp_path):
    t = Transcript()
    failed = t.result(t.bash('cd "/p/my site" && npm run build'), "Exit code 1\nfailed", error=True)
    t.result(t.bash('cd "/p/my site" && ./node_modules/.bin/vite build'), "built in 2s")
    assert only(analyze(t.write(tmp_path / "s.jsonl")), "recovery").related_uuid == failed


def test_an_unrelated_success_is_not_a_recovery(tmp_path):
    t = Transcript()
    bad = t.bash("curl http://localhost:3000/health")
    t.result(bad, "Exit code 7\ncurl: (7) Failed to connect", error=True)
    ok = t.bash("ls src")
    t.result(ok, "main.py")
    other = t.edit("/p/b.py", "a", "b")
    t.result(other, "updated")
    assert "recovery" not in kinds(analyze(t.write(tmp_path / "s.jsonl")))


def test_the_same_failure_in_a_row_is_a_repeated_failure_once(tmp_path):
    t = Transcript()
    for _ in range(3):
        call = t.bash("python3 scripts/check.py")
        t.result(call, "Exit code 2\npython3: can't open file 'scripts/check.py'", error=True)
    report = analyze(t.write(tmp_path / "s.jsonl"))
    assert kinds(report).count("tool_error") == 3
    assert kinds(report).count("repeated_failure") == 1
    assert report.outcome == "negative"


def test_typed_prompts_become_corrections_and_approvals_in_context(tmp_path):
    t = Transcript()
    t.prompt("make the header blue")
    call = t.edit("/p/h.css", "red", "blue")
    t.result(call, "updated")
    claim = t.say("Done! The header is now blue.")
    wrong = t.prompt("no, that's the footer. the header is still red")
    t.say("Fixed: the header is blue now.")
    good = t.prompt("perfect, thanks")
    report = analyze(t.write(tmp_path / "s.jsonl"))
    assert [(s.kind, s.uuid) for s in report.signals] == [("correction", wrong), ("approval", good)]
    assert only(report, "correction").detail == "no, that's the footer. the header is still red"
    assert only(report, "correction").related_uuid == claim  # what the correction answers


def test_the_agent_conceding_a_mistake_makes_a_plain_request_a_correction(tmp_path):
    """ "the export should include archived rows" reads as a new request; "You're right, I
    left them out" shows the agent took it as a correction of what it had just done."""
    t = Transcript()
    t.prompt("write the CSV export")
    t.result(t.edit("/p/export.py", "pass", "rows = active_rows()"), "updated")
    t.say("The export is written.")
    request = t.prompt("the export should include archived rows")
    t.say("You're right, I left archived rows out. Let me add them.")
    same = t.prompt("the import should include archived rows")
    t.say("I'll add archived rows to the import.")
    report = analyze(t.write(tmp_path / "s.jsonl"))
    assert [(s.kind, s.uuid) for s in report.signals] == [("correction", request)]
    assert "concedes" in (only(report, "correction").category or "")
    assert same not in {s.uuid for s in report.signals}


def test_the_agents_first_words_count_even_after_a_call_and_the_verdict_keeps_its_place(tmp_path):
    """The answer opens with a call (a failed grep) and then concedes: the prompt is judged on
    those first words, and its signal stays before the failure that came after it."""
    t = Transcript()
    t.prompt("write the CSV export")
    t.result(t.edit("/p/export.py", "pass", "rows = active_rows()"), "updated")
    t.say("The export is written.")
    request = t.prompt("archived rows in the export as well")
    failed = t.result(t.bash("grep -rn archived /p/nope"), "Exit code 2\nNo such file", error=True)
    t.say("You're right, I left archived rows out. Let me add them.")
    report = analyze(t.write(tmp_path / "s.jsonl"))
    assert [(s.kind, s.uuid) for s in report.signals] == [
        ("correction", request),
        ("tool_error", failed),
    ]
    assert "concedes" in (only(report, "correction").category or "")


def test_the_agent_thinking_it_was_corrected_makes_a_plain_request_a_correction(tmp_path):
    """Its thinking about the prompt, not an earlier thought, is the agent's reading of it."""
    t = Transcript()
    t.prompt("add the discount banner")
    t.think("The user is saying the banner still shows twice.")  # nothing to correct yet
    t.result(t.edit("/p/banner.vue", "<Banner/>", "<Banner v-if='sale'/>"), "updated")
    t.say("The banner is added.")
    request = t.prompt("one banner per page")
    t.think("The user is saying the banner still shows twice. Let me find the second one.")
    t.say("Looking for the second banner.")
    new = t.prompt("a footer link to the sale")
    t.think("The user wants me to add a footer link to the sale page.")
    t.say("Adding the link.")
    report = analyze(t.write(tmp_path / "s.jsonl"))
    assert [(s.kind, s.uuid) for s in report.signals] == [("correction", request)]
    assert "thinking" in (only(report, "correction").category or "")
    assert new not in {s.uuid for s in report.signals}


def test_a_prompt_is_judged_even_when_the_agent_never_answers_it(tmp_path):
    t = Transcript()
    t.prompt("build it")
    t.say("Done! Build passes.")
    last = t.prompt("still broken, same error")  # the session ends here: no answer
    report = analyze(t.write(tmp_path / "s.jsonl"))
    assert [(s.kind, s.uuid) for s in report.signals] == [("correction", last)]


def test_text_claude_code_wrote_is_never_judged(tmp_path):
    t = Transcript()
    t.prompt("hello")
    t.say("Done, it works.")
    t.prompt("<command-name>/clear</command-name>\n<command-args>no, wrong</command-args>")
    t.prompt("<local-command-stdout>still broken</local-command-stdout>")
    t.prompt("no this is wrong", isMeta=True)
    t.prompt(
        "This session is being continued from a previous conversation. It doesn't work.",
        isCompactSummary=True,
    )
    assert kinds(analyze(t.write(tmp_path / "s.jsonl"))) == []


def test_a_subagent_transcript_reports_its_own_failures_but_judges_no_prompt(tmp_path):
    t = Transcript(session="parent-session", sidechain=True)
    t.prompt("no, that's wrong: search src/ for TODO")  # the Task prompt, written by the agent
    call = t.call("Grep", pattern="TODO", path="/nope")
    t.result(call, "Path does not exist: /nope", error=True)
    report = analyze(t.write(tmp_path / "agent-1234.jsonl"))
    assert kinds(report) == ["tool_error"]
    assert report.session_id == "parent-session"


def test_the_predominant_session_id_names_the_report(tmp_path):
    t = Transcript(session="main")
    for _ in range(3):
        t.prompt("hi")
    t.session = "other"
    t.prompt("hi")
    report = analyze(t.write(tmp_path / "s.jsonl"))
    assert report.session_id == "main"
    assert report.entries == 4 and report.version == "2.1.0" and report.cwd == "/work/project"


def test_excerpts_are_redacted_and_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(redact, "redact_text", lambda text: text.replace("s3cr3t", "[X]"))
    t = Transcript()
    call = t.bash("deploy --token s3cr3t " + "v" * 600)
    t.result(call, "Exit code 1\nerror: token s3cr3t rejected " + "e" * 900, error=True)
    error = only(analyze(t.write(tmp_path / "s.jsonl")), "tool_error")
    assert len(error.excerpt) <= 300
    for text in (error.excerpt, error.subject or "", error.detail or ""):
        assert "s3cr3t" not in text and "[X]" in text


def test_analyze_many_reads_each_file(tmp_path):
    paths = []
    for n in range(3):
        t = Transcript(session=f"s{n}")
        t.prompt("hi")
        paths.append(t.write(tmp_path / f"{n}.jsonl.gz", gz=True))
    assert [r.session_id for r in analyze_many(paths)] == ["s0", "s1", "s2"]


def test_an_empty_or_garbage_file_gives_an_empty_neutral_report(tmp_path):
    path = tmp_path / "junk.jsonl"
    path.write_bytes(b"\x00\x01garbage\n{not json\n")
    report = analyze(path)
    assert report.signals == () and report.outcome == "neutral" and report.session_id == "junk"


def test_the_hand_made_version_fixtures_give_their_signals():
    old = analyze(DATA / "v1_0_session.jsonl")
    assert kinds(old) == ["tool_error", "test_failure", "rejection", "interruption", "correction"]
    new = analyze(DATA / "v2_1_session.jsonl")
    assert kinds(new) == ["tool_error", "recovery", "approval"]


def test_error_line_skips_banners_and_picks_the_error():
    text = "Exit code 1\n> app@1.0 build\n> tsc\n*****\nsrc/a.ts(3,1): error TS2304: nope\n"
    assert error_line(text) == "src/a.ts(3,1): error TS2304: nope"
    assert error_line("") == "(no error text)"


# ---- every transcript of the real corpus, when it is present ----

CORPUS_CANDIDATES = (
    Path(__file__).resolve().parents[2] / "shared" / "corpus" / "sessions",
    Path("/work/shared/corpus/sessions"),
)
INTERRUPT = "[Request interrupted by user"
REJECTION_STARTS = ("The user doesn't want to proceed", "The user doesn't want to take this action")


def _corpus() -> Path | None:
    return next((p for p in CORPUS_CANDIDATES if p.is_dir()), None)


def _expected(path: Path) -> dict[str, str]:
    """uuid -> the kind a careful reader expects, from a plain JSON scan (not the reader)."""
    expected: dict[str, str] = {}
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as lines:
        for line in lines:
            record = json.loads(line)
            content = (record.get("message") or {}).get("content")
            if isinstance(content, str) and content.startswith(INTERRUPT):
                expected[record["uuid"]] = "interruption"
            for block in content if isinstance(content, list) else ():
                kind = _expected_kind(block)
                if kind:
                    expected[record["uuid"]] = kind
    return expected


def _expected_kind(block: dict[str, Any]) -> str | None:
    if block.get("type") == "text" and block.get("text", "").startswith(INTERRUPT):
        return "interruption"
    if block.get("type") != "tool_result" or not block.get("is_error"):
        return None
    content = block.get("content")
    if isinstance(content, list):
        content = "\n".join(b.get("text", "") for b in content if isinstance(b, dict))
    text = str(content or "")
    if text.startswith(INTERRUPT) or f"\n{INTERRUPT}" in text[:400]:
        return "interruption"
    if text.strip() == "Interrupted by user":  # a tool stopped by the user (TodoWrite)
        return "interruption"
    return "rejection" if text.startswith(REJECTION_STARTS) else "tool_error"


@pytest.mark.skipif(_corpus() is None, reason="no corpus at ../shared/corpus")
def test_every_corpus_transcript_is_read_and_every_failure_reported():
    root = _corpus()
    assert root is not None
    files = sorted(root.rglob("*.jsonl.gz"))
    assert files
    missing = []
    for path in files:
        found = {(s.uuid, s.kind) for s in analyze(path).signals}
        for uuid, kind in _expected(path).items():
            if (uuid, kind) not in found:
                missing.append(f"{path.relative_to(root)} {uuid} {kind}")
    assert not missing, f"{len(missing)} not reported, e.g. {missing[:5]}"
    assert os.environ.get("SELFDISTILL_CORPUS_WALKED", "1")


def test_prompts_no_cue_labels_are_kept_open_for_the_model_with_the_agents_last_words(tmp_path):
    t = Transcript()
    t.prompt("add the discount banner")  # nothing of the agent's before it: not kept
    t.result(t.edit("/p/banner.vue", "<Banner/>", "<Banner v-if='sale'/>"), "updated")
    claim = t.say("Done: the banner shows during a sale.")
    plain = t.prompt("one banner per page")
    t.say("Looking for the second banner.")
    wrong = t.prompt("no, that's still wrong")
    t.say("Checking again.")
    path = t.write(tmp_path / "s.jsonl")
    assert analyze(path).open_prompts == ()  # only a run that asks the model wants them
    report = analyze(path, keep_open=True)
    assert [s.kind for s in report.signals] == ["correction"]
    [kept] = report.open_prompts
    assert (kept.kind, kept.uuid, kept.excerpt) == ("prompt", plain, "one banner per page")
    assert kept.detail == "Done: the banner shows during a sale." and kept.related_uuid == claim
    assert kept.session_id == "sess-1" and wrong not in {p.uuid for p in report.open_prompts}


def test_open_prompts_are_capped_per_transcript(tmp_path):
    t = Transcript()
    t.prompt("start")
    t.say("Started.")
    for k in range(MAX_OPEN_PROMPTS + 5):
        t.prompt(f"add field number {k} to the form")
        t.say("Added.")
    report = analyze(t.write(tmp_path / "s.jsonl"), keep_open=True)
    assert len(report.open_prompts) == MAX_OPEN_PROMPTS
    assert report.open_prompts[0].excerpt == "add field number 0 to the form"
