"""Heuristic lessons: specific and grounded, or nothing at all."""

from __future__ import annotations

from dataclasses import replace

import pytest

from selfdistill import guard, heuristics
from selfdistill.heuristics import Step
from selfdistill.model import SessionReport, Signal

NOW = "2026-01-01T00:00:00Z"


def failure(
    command: str,
    error: str,
    tool_use_id: str = "t0",
    uuid: str = "f0",
    category: str = "command_failed",
    kind: str = "tool_error",
) -> Signal:
    return Signal(
        kind=kind,
        file="/x.jsonl",
        session_id="s1",
        uuid=uuid,
        excerpt=error[:300],
        category=category,
        tool_name="Bash",
        tool_use_id=tool_use_id,
        subject=command,
        detail=error,
        exit_code=1,
    )


def report(*signals: Signal, cwd: str = "/proj") -> SessionReport:
    return SessionReport("/x.jsonl", "s1", tuple(signals), "mixed", cwd=cwd)


def steps(*items: tuple[str, bool]) -> list[Step]:
    return [Step(f"u{i}", f"t{i}", command, ok) for i, (command, ok) in enumerate(items)]


def test_missing_test_runner_then_working_one_gives_the_example_lesson() -> None:
    fail = failure("python3 -m pytest -q", "Exit code 1\n/usr/bin/python3: No module named pytest")
    timeline = steps(
        ("python3 -m pytest -q", False), ("python3 -m unittest discover -s tests", True)
    )
    [lesson] = heuristics.lessons_from_report(report(fail), NOW, timeline)
    assert lesson.text() == (
        "Using `python3 -m pytest`: it is not installed here (No module named "
        "pytest); use `python3 -m unittest discover -s tests` instead"
    )
    assert "`python3 -m unittest discover -s tests`" in lesson.action
    assert {e.uuid for e in lesson.evidence} == {"f0", "u1"}
    assert lesson.sessions_seen == 1


def test_missing_program_replaced_by_another_tool() -> None:
    fail = failure("tree src -L 2", "(eval):1: command not found: tree")
    timeline = steps(("tree src -L 2", False), ("find src -type f", True))
    [lesson] = heuristics.lessons_from_report(report(fail), NOW, timeline)
    assert lesson.kind == "fact"
    assert lesson.text() == (
        "Using `tree`: it is not installed here (command not found: tree); use `find` instead"
    )


def test_setup_step_then_same_command_working_becomes_run_this_first() -> None:
    fail = failure(
        "pnpm coverage", "MISSING DEPENDENCY Cannot find dependency '@vitest/coverage-v8'"
    )
    timeline = steps(
        ("pnpm coverage", False),
        ("cat package.json", True),
        ("pnpm add -D @vitest/coverage-v8", True),
        ("pnpm coverage", True),
    )
    [lesson] = heuristics.lessons_from_report(report(fail), NOW, timeline)
    assert lesson.action.endswith("run `pnpm add -D @vitest/coverage-v8` first")


@pytest.mark.parametrize(
    ("cd", "where"),
    [
        ("cd web && ", " in `web/`"),
        ("cd ./packages/api/ && ", " in `packages/api/`"),
        ('cd "/proj/web" && ', " in `web/`"),  # absolute, inside the project: made relative
        ("cd /proj && ", ""),  # the session's own folder
        ("cd /elsewhere/web && ", ""),  # outside the project: no folder of its own to name
        ("cd ~/proj/web && ", ""),  # the home folder is unknown here
        ("cd ../other && ", ""),
        ("cd - && ", ""),
    ],
)
def test_a_command_fixed_in_a_subfolder_says_which(cd: str, where: str) -> None:
    fail = failure(cd + "npm run build", "Exit code 127\nsh: tsc: command not found")
    timeline = steps(
        (cd + "npm run build", False), (cd + "npm install", True), (cd + "npm run build", True)
    )
    [lesson] = heuristics.lessons_from_report(report(fail), NOW, timeline)
    assert lesson.trigger == f"Running `npm run build`{where}"
    assert lesson.action.endswith("run `npm install` first")


def test_a_relative_folder_is_taken_from_where_the_shell_was() -> None:
    # an earlier `cd packages` stays for later commands: Claude Code records the new folder
    fail = failure("cd api && npm run build", "Exit code 127\nsh: tsc: command not found")
    timeline = [
        Step("u0", "t0", "cd api && npm run build", False, "/proj/packages"),
        Step("u1", "t1", "cd api && npm install", True, "/proj/packages"),
        Step("u2", "t2", "cd api && npm run build", True, "/proj/packages"),
    ]
    [lesson] = heuristics.lessons_from_report(report(fail), NOW, timeline)
    assert lesson.trigger == "Running `npm run build` in `packages/api/`"
    assert heuristics.subfolder("cd .. && ls", "/proj", "/proj/packages") is None  # the root
    assert heuristics.subfolder("cd ../.. && ls", "/proj", "/proj/packages") is None  # outside


def test_the_last_setup_step_before_the_command_worked_is_the_fix() -> None:
    fail = failure(
        "pnpm coverage", "MISSING DEPENDENCY Cannot find dependency '@vitest/coverage-v8'"
    )
    timeline = steps(
        ("pnpm coverage", False),
        ("pnpm add -D @vitest/coverage-v8", True),  # succeeded, yet coverage still failed
        ("pnpm coverage", False),
        ("pnpm add -D vitest@3.2.4 @vitest/coverage-v8@3.2.4", True),
        ("pnpm coverage", True),
    )
    [lesson] = heuristics.lessons_from_report(report(fail), NOW, timeline)
    assert lesson.action.endswith("run `pnpm add -D vitest@3.2.4 @vitest/coverage-v8@3.2.4` first")
    assert {e.uuid for e in lesson.evidence} == {"f0", "u3"}


def test_flag_demanded_by_the_tool() -> None:
    error = 'Error: Command `vercel deploy` requires confirmation. Use option "--yes" to confirm.'
    fail = failure("cd /home/me/site && vercel --prod 2>&1 | tail -5", error)
    timeline = steps(("cd /home/me/site && vercel --prod", False), ("vercel --prod --yes", True))
    [lesson] = heuristics.lessons_from_report(report(fail), NOW, timeline)
    assert lesson.trigger == "Running `vercel --prod`"  # no cd prefix, no | tail
    assert "run `vercel --prod --yes` instead" in lesson.action


def test_code_errors_and_unrelated_successes_give_nothing() -> None:
    type_error = failure("pnpm build", "Type error: Type 'string' is not assignable to type 'Url'")
    assert (
        heuristics.lessons_from_report(
            report(type_error), NOW, steps(("pnpm build", False), ("pnpm build", True))
        )
        == []
    )
    missing = failure("poetry install", "command not found: poetry", tool_use_id="t0")
    unrelated = steps(("poetry install", False), ("git status", True), ("ls -la", True))
    assert heuristics.lessons_from_report(report(missing), NOW, unrelated) == []


def test_same_command_retried_unchanged_is_not_a_lesson() -> None:
    fail = failure("wrangler login", "Command timed out after 1m 0s")
    timeline = steps(("wrangler login", False), ("wrangler login", True))
    assert heuristics.lessons_from_report(report(fail), NOW, timeline) == []


def test_heredocs_and_long_scripts_are_not_lessons() -> None:
    fail = failure(
        "python3 << 'EOF'\nimport PIL\nEOF", "ModuleNotFoundError: No module named 'PIL'"
    )
    timeline = steps(("python3 << 'EOF'\nimport PIL\nEOF", False), ("pip3 install Pillow", True))
    assert heuristics.lessons_from_report(report(fail), NOW, timeline) == []


HOOK_ERROR = (
    "PreToolUse:Bash hook error: [uv run ~/.claude/hooks/pre_tool_use.py]: BLOCKED: Dangerous "
    "rm command detected and prevented"
)


def test_a_hook_block_got_around_is_stated_as_a_fact_never_as_the_way_around() -> None:
    fail = failure("rm -rf ./.claude/prompts.json", HOOK_ERROR, category="hook_blocked")
    timeline = steps(
        ("rm -rf ./.claude/prompts.json", False),
        ("mv ./.claude/prompts.json ./.claude/prompts.json.test-backup", True),
    )
    [lesson] = heuristics.lessons_from_report(report(fail), NOW, timeline)
    assert lesson.kind == "fact"
    assert lesson.text() == (
        "Running `rm -rf ./.claude/prompts.json`: a hook in this project blocks it (BLOCKED: "
        "Dangerous rm command detected and prevented); follow what the hook says, or ask the user"
    )
    assert guard.check_lesson(lesson) is None


def test_a_hook_block_retried_again_and_again_is_the_same_fact() -> None:
    blocked = failure("rm -rf ./build", HOOK_ERROR, category="hook_blocked")
    repeated = failure("rm -rf ./build", HOOK_ERROR, "t1", "f1", "hook_blocked", "repeated_failure")
    [lesson] = heuristics.lessons_from_report(report(blocked, repeated), NOW)
    assert "a hook in this project blocks it" in lesson.action
    assert lesson.target == "rm|hook"


def test_a_block_that_is_no_hook_may_name_the_allowed_command() -> None:
    fail = failure("rm -rf ./build", "rm: ./build: Operation not permitted", category="permission")
    timeline = steps(("rm -rf ./build", False), ("mv ./build ./build.old", True))
    [lesson] = heuristics.lessons_from_report(report(fail), NOW, timeline)
    assert "blocked here" in lesson.action and "`mv ./build ./build.old`" in lesson.action


def test_recovery_signal_is_used_when_there_is_no_timeline() -> None:
    fail = failure("vercel --prod", 'requires confirmation. Use option "--yes" to confirm.')
    fixed = Signal(
        "recovery",
        "/x.jsonl",
        "s1",
        "r1",
        "",
        tool_name="Bash",
        subject="vercel --prod --yes",
        related_uuid="f0",
    )
    [lesson] = heuristics.lessons_from_report(report(fail, fixed), NOW)
    assert {e.uuid for e in lesson.evidence} == {"f0", "r1"}


def test_repeated_failure_says_what_to_check_first() -> None:
    repeated = Signal(
        "repeated_failure",
        "/x.jsonl",
        "s1",
        "r1",
        "",
        tool_name="Bash",
        subject="npx tsc --noEmit",
        detail="sh: tsc: command not found",
    )
    [lesson] = heuristics.lessons_from_report(report(repeated), NOW)
    assert lesson.trigger == "Before running `npx tsc --noEmit` again"
    assert "command -v" in lesson.action


def test_large_file_inside_the_project_only() -> None:
    detail = "File content (27128 tokens) exceeds maximum allowed tokens (25000). Use offset..."
    inside = Signal(
        "tool_error",
        "/x.jsonl",
        "s1",
        "r1",
        "",
        tool_name="Read",
        category="input_invalid",
        subject="/proj/src/big.ts",
        detail=detail,
    )
    outside = Signal(
        "tool_error",
        "/x.jsonl",
        "s1",
        "r2",
        "",
        tool_name="Read",
        category="input_invalid",
        subject="/tmp/dump.json",
        detail=detail,
    )
    [lesson] = heuristics.lessons_from_report(report(inside, outside), NOW)
    assert lesson.trigger == "Reading `src/big.ts`"
    assert "offset/limit" in lesson.action


def test_rejection_with_a_reason_keeps_the_users_words() -> None:
    said = Signal(
        "rejection",
        "/x.jsonl",
        "s1",
        "r1",
        "",
        tool_name="Bash",
        subject="pnpm dev",
        detail="the dev server is already running in my terminal",
    )
    bare = Signal(
        "rejection", "/x.jsonl", "s1", "r2", "", tool_name="Bash", subject="pnpm dev", detail="no"
    )
    [lesson] = heuristics.lessons_from_report(report(said, bare), NOW)
    assert lesson.kind == "preference"
    assert lesson.trigger == "Before running `dev` with npm, pnpm, yarn or bun"
    assert "already running in my terminal" in lesson.action


@pytest.mark.parametrize(
    ("tool", "subject", "trigger"),
    [
        ("Bash", "cd web && npm run dev &", "Before running `dev` with npm, pnpm, yarn or bun"),
        ("Edit", "/proj/src/App.vue", "Before changing `src/App.vue`"),
        ("Edit", "/elsewhere/notes.md", None),  # outside the project: not about it
        ("ExitPlanMode", "", "Before using ExitPlanMode"),  # the reason is feedback on the plan
    ],
)
def test_a_rejection_with_a_reason_names_what_it_stopped_as_sessions_meet_on_it(
    tool: str, subject: str, trigger: str | None
) -> None:
    reason = "we keep the dev server running in a terminal of our own"
    said = Signal("rejection", "/x.jsonl", "s1", "r1", "", tool_name=tool, subject=subject)
    found = heuristics.lessons_from_report(report(replace(said, detail=reason)), NOW)
    assert [lesson.trigger for lesson in found] == ([trigger] if trigger else [])


def rejected(uuid: str, tool: str, subject: str, related: str | None = None) -> Signal:
    return Signal(
        "rejection",
        "/x.jsonl",
        "s1",
        uuid,
        "",
        tool_name=tool,
        subject=subject,
        related_uuid=related,
    )


def test_commands_rejected_without_a_reason_meet_on_what_they_run() -> None:
    dev = "`dev` with npm, pnpm, yarn or bun"
    assert heuristics.rejected_command("pnpm dev") == dev
    assert heuristics.rejected_command("pnpm dev > /dev/null 2>&1 &") == dev
    assert heuristics.rejected_command("cd web && PORT=3001 npm run dev") == dev
    assert heuristics.rejected_command("pnpm run build") == "`build` with npm, pnpm, yarn or bun"
    assert heuristics.rejected_command("pnpm exec tsc --noEmit") == "`pnpm exec tsc`"
    commit = 'cd ~/wt && git add -A && git commit -m "chore: a; b && c"'
    assert heuristics.rejected_command(commit) == "`git commit`"
    assert heuristics.rejected_command("jq '.a | .b' x.json | head -30") == "`jq`"
    assert heuristics.rejected_command("/Users/me/bin/deploy --prod") is None


def test_rejections_without_a_reason_ask_first_once_per_decision() -> None:
    first = rejected("r1", "Bash", "pnpm dev &")
    cancelled = rejected("r2", "Bash", "git push", related="r1")  # cancelled with the first
    plan = rejected("r3", "ExitPlanMode", "ExitPlanMode")  # feedback on the plan, not a rule
    edit = rejected("r4", "Edit", "/proj/src/App.vue")
    outside = rejected("r5", "Write", "/tmp/scratch.md")
    found = heuristics.lessons_from_report(report(first, cancelled, plan, edit, outside), NOW)
    assert [lesson.text() for lesson in found] == [
        "Before running `dev` with npm, pnpm, yarn or bun: ask the user first; they have "
        "stopped it before",
        "Before changing `src/App.vue`: ask the user first; they have stopped it before",
    ]
    assert [lesson.sessions_seen for lesson in found] == [1, 1]
    assert all(guard.check_lesson(lesson) is None for lesson in found)
    assert [lesson.target for lesson in found] == [
        "running `dev` with npm, pnpm, yarn or bun|rejected",
        "changing `src/App.vue`|rejected",
    ]


def correction(text: str) -> Signal:
    return Signal("correction", "/x.jsonl", "s1", "c1", "", detail=text)


def test_specific_correction_becomes_a_preference() -> None:
    [lesson] = heuristics.lessons_from_report(
        report(correction("No. The plans should go in .claude/plans, not .claude/brains/plans.")),
        NOW,
    )
    assert '"The plans should go in .claude/plans, not .claude/brains/plans."' in lesson.action


def test_corrections_about_dotfiles_and_kinds_of_files_are_concrete() -> None:
    assert heuristics.rule_sentence("Do NOT read the .env\u2019s. Count them.") == (
        "Do NOT read the .env\u2019s."
    )
    assert heuristics.rule_sentence(
        "don't commit anything else or any of the untracked .md files. can you make a PR?"
    ) == ("don't commit anything else or any of the untracked .md files.")


def test_vague_or_questioning_corrections_are_dropped() -> None:
    for text in (
        "weird we're supposed to use this /deprecated:worktree-feature command.",
        "don't do that... use the other one",
        "don't forget the tests",
        "wait, what does this do?",
        "that's wrong",
        "I don't think src/app.py is right",
        "Do not commit yet.",
        "still broken 2:27:56 PM Error: extra field `x` in src/api.ts",
    ):
        assert heuristics.lessons_from_report(report(correction(text)), NOW) == [], text


def test_timeline_pairs_tool_uses_with_their_results() -> None:
    from selfdistill.transcript import Entry, ToolResult, ToolUse

    entries = [
        Entry("assistant", uuid="a1", tool_uses=(ToolUse("t1", "Bash", {"command": "ls"}),)),
        Entry("user", uuid="r1", tool_results=(ToolResult("t1", True, "boom"),)),
        Entry("assistant", uuid="a2", tool_uses=(ToolUse("t2", "Read", {"file_path": "x"}),)),
        Entry("user", uuid="r2", tool_results=(ToolResult("t2", False, "ok"),)),
    ]
    assert heuristics.timeline(entries) == [Step("r1", "t1", "ls", False)]  # the result entry


def test_clean_command_and_program() -> None:
    assert (
        heuristics.clean_command("cd /a/b && FOO=1 npm run build 2>&1 | tail -20")
        == "npm run build"
    )
    assert heuristics.clean_command("ls | grep x") is None
    assert heuristics.program("npm run build") == "npm run build"
    assert heuristics.program("git worktree add ../x main") == "git worktree"
    assert heuristics.program("python3 -m pytest -q") == "python3 -m pytest"


def test_setup_chained_before_the_same_command_is_the_fix() -> None:
    fail = failure("poetry install", "(eval):1: command not found: poetry")
    timeline = steps(("poetry install", False), ("source ~/.zshrc && poetry install", True))
    [lesson] = heuristics.lessons_from_report(report(fail), NOW, timeline)
    assert lesson.text() == (
        "Running `poetry install`: it fails here (command not found: poetry); "
        "run `source ~/.zshrc` first"
    )


def test_another_tool_for_the_same_job_is_named_with_the_example() -> None:
    fail = failure("bun install", "zsh: command not found: bun")
    timeline = steps(("bun install", False), ("npm install", True))
    [lesson] = heuristics.lessons_from_report(report(fail), NOW, timeline)
    assert lesson.trigger == "Using `bun`"
    assert lesson.action.endswith("use `npm` instead (`npm install` for `bun install`)")
    fail = failure("python3 -m pytest -q", "/usr/bin/python3: No module named pytest")
    timeline = steps(("python3 -m pytest -q", False), ("python3 -m unittest discover", True))
    [lesson] = heuristics.lessons_from_report(report(fail), NOW, timeline)
    assert lesson.action.endswith("use `python3 -m unittest discover` instead")


def test_one_off_requests_and_hedges_are_not_standing_rules() -> None:
    assert (
        heuristics.rule_sentence("maybe it belongs in docs/ instead of the README, think about it")
        is None
    )
    assert (
        heuristics.rule_sentence("in `App.vue` please use one font instead of the three fonts")
        is None
    )
    assert (
        heuristics.rule_sentence("then delete every mention of redis except in config/app.yaml")
        is None
    )
    assert (
        heuristics.rule_sentence("please make the icons in `Header.vue` blue instead of green")
        is None
    )
    assert (
        heuristics.rule_sentence("I added notes.md but I don't really know where it belongs")
        is None
    )


def test_requests_that_hold_from_now_on_are_rules() -> None:
    rule = "Please always run `pnpm lint` before committing, never `npm run lint`."
    assert heuristics.rule_sentence(rule) == rule
    assert heuristics.rule_sentence("the fixtures should live in tests/fixtures, not in src/") == (
        "the fixtures should live in tests/fixtures, not in src/"
    )


def tool_failure(tool: str, subject: str, error: str, category: str, uuid: str = "f0") -> Signal:
    return Signal(
        kind="tool_error",
        file="/x.jsonl",
        session_id="s1",
        uuid=uuid,
        excerpt=f"`{subject}` failed: {error}"[:300],
        category=category,
        tool_name=tool,
        subject=subject,
        detail=error,
    )


def test_a_project_file_too_large_to_read_at_once_is_a_fact() -> None:
    big = "File content (31000 tokens) exceeds maximum allowed tokens (25000)."
    [lesson] = heuristics.lessons_from_report(
        report(tool_failure("Read", "/proj/docs/spec.md", big, "too_large")), NOW
    )
    assert lesson.kind == "fact" and lesson.trigger == "Reading `docs/spec.md`"
    assert lesson.target == "Read docs/spec.md|too-large"
    assert "offset/limit" in lesson.action
    outside = tool_failure("Read", "/tmp/dump.json", big, "too_large")
    assert heuristics.lessons_from_report(report(outside), NOW) == []


def test_a_file_a_hook_blocks_is_a_fact_to_follow_never_a_way_around() -> None:
    said = "BLOCKED: Access to .env files containing sensitive data is prohibited"
    error = f"PreToolUse:Read hook error: [uv run ~/.claude/hooks/pre_tool_use.py]: {said}"
    [lesson] = heuristics.lessons_from_report(
        report(tool_failure("Read", "/proj/.env", error, "hook_blocked")), NOW
    )
    assert lesson.text() == (
        f"Reading files: a hook in this project blocks some ({said}), `.env` for one; follow what"
        " the hook says, or ask the user"
    )
    assert guard.check_lesson(lesson) is None
    written = tool_failure("Write", "/proj/.env.example", said, "hook_blocked")  # no prefix kept
    [other] = heuristics.lessons_from_report(report(written), NOW)
    assert other.trigger == "Writing files" and said in other.action
    assert "`.env.example`" in other.action
    assert other.target == lesson.target  # one rule of the user's: merged as one lesson


def test_a_hook_rule_with_figures_is_one_rule_whatever_file_it_stopped() -> None:
    big, bigger = (
        f"PreToolUse:Read hook error: [python3 ~/.claude/hooks/guard.py]: File too large: {n} "
        "lines (main agent limit: 500 lines)"
        for n in (1043, 603)
    )
    [a] = heuristics.lessons_from_report(
        report(tool_failure("Read", "/proj/plans/main.md", big, "hook_blocked")), NOW
    )
    [b] = heuristics.lessons_from_report(
        report(tool_failure("Read", "/proj/plans/flow.md", bigger, "hook_blocked")), NOW
    )
    assert a.id != b.id and a.target == b.target
    assert a.target == "file too large: # lines (main agent limit: # lines)|hook-rule"
    assert "1043 lines" in a.action


def test_a_missing_mcp_server_is_one_fact_whichever_tool_found_it_missing() -> None:
    listed = tool_failure(
        "ListMcpResourcesTool",
        "supabase",
        'Server "supabase" not found. Available servers: github, shadcn',
        "tool_unavailable",
    )
    called = tool_failure(
        "mcp__supabase__list_projects",
        "mcp__supabase__list_projects",
        "Error: No such tool available: mcp__supabase__list_projects",
        "tool_unavailable",
        uuid="f1",
    )
    [first] = heuristics.lessons_from_report(report(listed), NOW)
    [second] = heuristics.lessons_from_report(report(called), NOW)
    assert first.id == second.id and first.target == second.target == "mcp supabase|missing"
    assert first.trigger == "Using the `supabase` MCP server"
    assert "not connected" in first.action


def test_a_missing_subagent_or_slash_command_is_a_fact_without_the_session_s_lists() -> None:
    agent = tool_failure(
        "Task",
        "code-reviewer: Review",
        "Agent type 'code-reviewer' not found. Available agents: general-purpose, Explore",
        "tool_unavailable",
    )
    command = tool_failure(
        "SlashCommand", "/tools", "Unknown slash command: tools", "tool_unavailable"
    )
    lessons = heuristics.lessons_from_report(report(agent, command), NOW)
    assert [lesson.trigger for lesson in lessons] == [
        "Starting the `code-reviewer` subagent",
        "Running `/tools`",
    ]
    assert [lesson.target for lesson in lessons] == [
        "agent code-reviewer|missing",
        "/tools|missing",
    ]
    assert not any("Explore" in lesson.action for lesson in lessons)


def test_the_agent_s_own_slips_with_file_tools_are_no_facts() -> None:
    slips = [
        tool_failure("Read", "/proj/missing.md", "File does not exist.", "file_not_found"),
        tool_failure("Edit", "/proj/a.py", "String to replace not found in file.", "edit_mismatch"),
        tool_failure("Write", "/proj/b.py", "No such tool available: Write", "tool_unavailable"),
    ]
    assert heuristics.lessons_from_report(report(*slips), NOW) == []
