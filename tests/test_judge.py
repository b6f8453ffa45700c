"""Judging typed prompts in context: the traps keyword matchers fall into, in several languages."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest

from selfdistill import judge as judging
from selfdistill.judge import (
    PromptContext,
    asks_question,
    claims_success,
    judge,
    makes_offer,
    typed_prompt,
)
from selfdistill.transcript import Entry, ToolResult

AFTER_WORK = PromptContext(
    last_assistant_text="I've updated the login form. Done! It works now.",
    agent_acted=True,
    claimed_success=True,
    recent_actions="Edit src/login.tsx Bash npm run build",
)
AFTER_OFFER = PromptContext(
    last_assistant_text="I found two options. Would you like me to implement option A?",
    agent_acted=True,
    asked_question=True,
    made_offer=True,
)
FIRST_PROMPT = PromptContext()


def label(prompt: str, context: PromptContext = AFTER_WORK) -> str:
    return judge(prompt, context).label


@pytest.mark.parametrize(
    "prompt",
    [
        "still doesn't work",
        "It's still broken, same error as before",
        "no, I meant the signup form, not the login form",
        "wrong file, the form lives in src/auth/",
        "that's not what I asked for",
        "please revert that change",
        "you forgot to update the tests",
        "THE BUTTON IS NOT WORKING???",
        "wait, don't change the API, only the UI",
        "Still around 2 seconds to load",
        "I don't like it, the spacing is off",
        "can't deploy on vercel:\nError: Build failed\n  at build (index.js:10)",
        "why was it working in my old version?",
    ],
)
def test_corrections(prompt):
    assert label(prompt) == "correction"


@pytest.mark.parametrize(
    "prompt",
    [
        "sigue sin funcionar",  # Spanish: still not working
        "ça marche pas, toujours la même erreur",  # French
        "funktioniert immer noch nicht",  # German
        "还是不行",  # Chinese: still not working
        "не работает",  # Russian: does not work
        "아직도 안돼",  # Korean: still does not work
    ],
)
def test_corrections_in_other_languages(prompt):
    assert label(prompt) == "correction"


@pytest.mark.parametrize(
    "prompt",
    [
        "don't forget to add tests for the new endpoint",
        "wait, what does this function do?",
        "now add a dark mode toggle to the header",
        "no rush, but can you also add a README?",
        "What is the difference between bearer auth and basic auth?",
        "We need to make sure we don't call the API before login.",
        "commit and push",
    ],
)
def test_new_instructions_and_questions_are_other(prompt):
    assert label(prompt) == "other"


@pytest.mark.parametrize(
    ("prompt", "context"),
    [
        ("perfect, thanks!", AFTER_WORK),
        ("Great. Now do the same for the settings page.", AFTER_WORK),
        ("looks good", AFTER_WORK),
        ("yes please go ahead", AFTER_OFFER),
        ("Yes", AFTER_OFFER),
        ("좋아 다음은 설정 페이지", AFTER_WORK),  # Korean: good, next the settings page
        ("merci, parfait", AFTER_WORK),
    ],
)
def test_approvals(prompt, context):
    assert label(prompt, context) == "approval"


def test_a_pasted_error_is_a_correction_after_work_but_not_as_a_first_message():
    paste = (
        "TypeError: Cannot read properties of undefined (reading 'map')\n    at List (List.tsx:12)"
    )
    assert label(paste, AFTER_WORK) == "correction"
    assert label(paste, FIRST_PROMPT) == "other"


def test_don_t_use_x_is_a_correction_only_when_the_agent_was_using_x():
    using = PromptContext(
        last_assistant_text="Updating the card with the ui-builder agent...",
        agent_acted=True,
        recent_actions="Task ui-builder",
    )
    assert label("dont use ui-builder, just apply the changes yourself", using) == "correction"
    assert label("dont use ui-builder for the next feature", AFTER_WORK) == "other"


def test_a_judgement_has_a_confidence_and_a_reason():
    verdict = judge("still doesn't work", AFTER_WORK)
    assert 0.5 < verdict.confidence <= 0.95
    assert "still" in verdict.reason


def test_context_helpers():
    assert claims_success("All tests pass. ✅")
    assert not claims_success("Let me look at the file.")
    assert asks_question("Should I proceed?")
    assert asks_question("**Do you want me to run the backup first?** Either way, it reboots.")
    assert not asks_question("I ran the backup.")
    assert makes_offer("Done. Want `netlify.toml` added to pin the config? Useful for deploys.")
    assert not makes_offer("What SSID and password did you set?")


def _user(text: str = "", **fields: Any) -> Entry:
    return Entry(type="user", uuid="u1", texts=(text,) if text else (), **fields)


def test_only_what_the_user_typed_is_judged():
    assert typed_prompt(_user("fix the bug")) == "fix the bug"
    ide = "<ide_opened_file>The user opened a.py</ide_opened_file>\nfix this file"
    assert typed_prompt(_user(ide)) == "fix this file"
    for written in (
        "<command-name>/clear</command-name>",
        "<local-command-stdout>ok</local-command-stdout>",
        "[Request interrupted by user]",
        "<bash-input>ls</bash-input>",
        "Caveat: The messages below were generated by the user while running local commands.",
    ):
        assert typed_prompt(_user(written)) is None
    assert typed_prompt(_user("no", is_meta=True)) is None
    assert typed_prompt(_user("no", is_sidechain=True)) is None
    assert typed_prompt(_user("no", is_compact_summary=True)) is None
    result = ToolResult(tool_use_id="t", is_error=False, text="ok")
    assert typed_prompt(_user("", tool_results=(result,))) is None
    assert typed_prompt(Entry(type="assistant", texts=("no",))) is None


# ---- structural cues: the prompt's shape relative to the agent's turn ----

AFTER_PLAN = PromptContext(
    last_assistant_text="I'll implement the checkout flow now, starting with the cart store.",
    agent_acted=True,
    recent_actions="Read src/cart.ts",
)
INTERRUPTED = PromptContext(agent_acted=True, after_interruption=True)
# What a hook payload gives: the agent had worked, nothing else is known.
ONLY_ACTED = PromptContext(agent_acted=True)


@pytest.mark.parametrize(
    "prompt",
    [
        "the sidebar on the settings page is twice as wide as the header now",
        "it now opens a second window every time I click save",
        "Well the total in the summary box shows the old price",
        "the banner looks cut off on small screens",
        "printer says paper jam after your change",
    ],
)
def test_describing_the_state_left_behind_is_a_correction(prompt):
    assert label(prompt, AFTER_WORK) == "correction"


def test_a_described_state_needs_agent_work_to_judge():
    assert label("the sidebar on the settings page is twice as wide", FIRST_PROMPT) == "other"


def test_a_described_state_with_praise_first_is_an_approval():
    assert label("Perfect, the header is aligned now", AFTER_WORK) == "approval"


def test_a_contrast_that_ends_in_a_negation_tips_a_described_state():
    prompt = "okay the labels are right but the icons aren't"
    assert label(prompt, AFTER_OFFER) == "correction"


def test_don_t_is_a_correction_when_it_forbids_what_the_agent_was_doing():
    assert label("dont implement anything yet, write the plan first", AFTER_PLAN) == "correction"
    assert label("do not touch the billing code", INTERRUPTED) == "correction"
    # The same opening about something the agent was not doing is a new instruction.
    assert label("don't forget to update the changelog", AFTER_PLAN) == "other"
    assert label("do not add comments to the SQL files", AFTER_PLAN) == "other"


def test_a_request_phrased_as_a_question_is_not_a_verdict():
    assert label("can you check whether the same issue is in the footer?", AFTER_WORK) == "other"
    assert label("how would the cart look with a second currency?", AFTER_WORK) == "other"


def test_a_pasted_json_error_or_exception_after_work_is_a_correction():
    body = '{\n  "code": "invalid_enum_value",\n  "path": ["platform"],\n  "received": "x"\n}'
    assert label(body, ONLY_ACTED) == "correction"
    trace = "E/app: Unhandled Exception: StateError: no element\n#0 List.first (list.dart:10)"
    assert label(trace, ONLY_ACTED) == "correction"
    assert label(body, FIRST_PROMPT) == "other"


@pytest.mark.parametrize(
    "prompt",
    [
        "지금 버그가 있어, 저장이 안 돼",  # Korean: there is a bug now, saving does not work
        "الزر لا يعمل",  # Arabic: the button does not work
        "el botón no aparece en la página",  # Spanish: the button does not appear
        "le menu ne s'affiche pas",  # French: the menu is not displayed
        "o botão não aparece",  # Portuguese: the button does not appear
    ],
)
def test_defect_words_in_other_languages(prompt):
    assert label(prompt, AFTER_WORK) == "correction"


def test_short_acknowledgement_then_a_new_task_is_an_approval():
    assert label("okay sweet, now add the export button", AFTER_WORK) == "approval"
    assert label("y", AFTER_OFFER) == "approval"
    asked = PromptContext(
        last_assistant_text="Should I start with the API or with the UI?",
        agent_acted=True,
        asked_question=True,
    )
    assert label("proceed with the API and the tests for it", asked) == "approval"


# ---- round 4: general rules for error lines, undo/adjust orders, unseen offers, doubts ----

HOOK_ONLY = PromptContext(agent_acted=True)  # a UserPromptSubmit payload: no agent words known
AFTER_ANIMATION = PromptContext(
    last_assistant_text="I added a stagger animation to the feature cards and tightened the grid.",
    agent_acted=True,
    claimed_success=False,
    recent_actions="Edit src/components/FeatureCards.vue",
)


@pytest.mark.parametrize(
    "prompt",
    [
        # one line, prefixed by the tool's log noise
        "[api] 10:02:11 [Q(tasks:list)] Uncaught Error: Unauthorized at requireUser (auth.ts:3:9)",
        "## Error Type Runtime TypeError ## Error Message Cannot read properties of undefined",
        "getting the error: value of type 'int' is not a subtype of 'String'",
        "it crashes on start with No module named 'reports'",
    ],
)
def test_error_line_anywhere_after_work_is_a_correction(prompt):
    assert label(prompt, HOOK_ONLY) == "correction"


def test_error_line_in_the_first_prompt_is_not_a_correction():
    assert label("[api] Uncaught Error: Unauthorized", FIRST_PROMPT) == "other"


def test_mentioning_an_error_type_in_a_question_is_not_a_paste():
    assert label("what is the difference between a TypeError and a ValueError?") == "other"


def test_removing_what_the_agent_just_added_is_a_correction():
    assert label("remove the stagger animation for now", AFTER_ANIMATION) == "correction"
    assert label("make the cards smaller", AFTER_ANIMATION) == "correction"


def test_removing_something_the_agent_did_not_touch_is_a_new_task():
    assert label("remove the footer links on the pricing page", AFTER_ANIMATION) == "other"


def test_removing_what_the_agent_offered_to_remove_is_not_a_correction():
    offer = PromptContext(
        last_assistant_text="The stagger animation is unused. Want me to remove the stagger code?",
        agent_acted=True,
        asked_question=True,
        made_offer=True,
    )
    assert label("remove the stagger code", offer) != "correction"


@pytest.mark.parametrize(
    "prompt",
    [
        "delete all changes",
        "Remove the duplicate header [Image #1]",
        "sweet, remove anything unclear from what you've added",
        "just do it yourself",
        "the planner agent keeps failing. write the plan yourself",
        "it needs more space.",
        "the icons are mismatched",
        "I'm not sure this tool really parses the files",
        "I don't think we're reading the config correctly",
    ],
)
def test_undo_adjust_and_doubt_without_agent_context(prompt):
    assert label(prompt, HOOK_ONLY) == "correction"


@pytest.mark.parametrize(
    "prompt",
    [
        "add a dark mode toggle",
        "I think the plan is fine, continue",
        "remove the old README section",
    ],
)
def test_new_tasks_without_agent_context_stay_other(prompt):
    assert label(prompt, HOOK_ONLY) == "other"


@pytest.mark.parametrize("prompt", ["yes please", "proceed with phase 1", "go ahead"])
def test_go_ahead_without_agent_words_approves_the_unseen_offer(prompt):
    assert label(prompt, HOOK_ONLY) == "approval"


def test_yes_to_a_plain_question_with_known_words_stays_an_answer():
    asked = PromptContext(
        last_assistant_text="Is the config in the repo root?",
        agent_acted=True,
        asked_question=True,
    )
    assert label("yes please", asked) == "other"


@pytest.mark.parametrize(
    "prompt",
    [
        "shouldn't that be read from the config file?",
        "isn't this already handled in utils/format.ts?",
        "STILL !",
        "Again, it has been running for an hour.",
        "currently the sidebar jumps to the top and then closes",
        "I merged it but it didn't trigger the build",
        "the header is not looking like the mockup",
        "I wanted this to live in lib/, not in app/",
        "you made a mistake, now the totals are off by one",
        "the report shows 'Acme Ltd.' instead of 'Acme Holdings', which is the right one",
        "We never wanted to drop the old rows.",
        "please check for yourself, the export has to work",
    ],
)
def test_round_5_corrections_after_work(prompt):
    assert label(prompt) == "correction"


def test_a_pasted_warning_after_work_is_a_correction():
    paste = "it prints this now\nanalysis.py:465: PerformanceWarning: DataFrame is fragmented"
    assert label(paste) == "correction"
    assert label(paste, FIRST_PROMPT) == "other"


@pytest.mark.parametrize(
    "prompt",
    [
        "is there anything you changed that we need to revert before release?",
        "you should have access to the staging bucket now, list what is in it",
        "write down what you changed in CHANGELOG.md",
    ],
)
def test_questions_and_references_to_the_work_are_not_verdicts(prompt):
    assert label(prompt) == "other"


def test_redirect_words_deep_in_a_long_task_are_part_of_the_task():
    """A verdict comes first; "instead" or "should not" 600 characters in describe the new task."""
    task = "Research how other teams structure their release notes and write a proposal. " * 7
    tail = "Use the new template instead, and it should not reference the old wiki."
    assert label(task + tail) == "other"
    assert label("No, use the new template instead. " + task) == "correction"


@pytest.mark.parametrize(
    "reply",
    [
        "You're absolutely right! The rows were filtered out.",
        "Sorry about that, fixing it now.",
        "Good catch - the loop skips the last item.",
        "Tienes razón, falta el filtro.",
        "맞습니다. 필터가 빠졌네요.",
    ],
)
def test_an_answer_that_concedes_a_mistake_makes_the_prompt_a_correction(reply):
    request = "the totals should include tax"
    assert label(request) == "other"
    assert label(request, replace(AFTER_WORK, agent_reply=reply)) == "correction"


@pytest.mark.parametrize(
    "reading",
    [
        "The user is saying the totals still leave out tax. Let me check the sum.",
        "The user is right - I summed before adding tax.",
        "They're right, the totals skip tax.",
        "The user is pointing out that the totals are wrong for taxed items.",
        "The user wants me to revert the totals change.",
        "The user seems frustrated that tax is missing again.",
        "I misunderstood the request: tax belongs in the totals.",
        "My previous fix didn't touch the totals at all.",
    ],
)
def test_thinking_that_reads_a_correction_makes_the_prompt_a_correction(reading):
    request = "the totals should include tax"
    assert label(request, replace(AFTER_WORK, agent_reading=reading)) == "correction"


@pytest.mark.parametrize(
    "reading",
    [
        "The user wants me to add tax to the totals.",
        "The user is asking about how tax is computed.",
        "The user is reporting an error in the totals page.",
        "The user is saying that under settings they can rename the shop, not the owner.",
    ],
)
def test_thinking_that_reads_a_new_request_leaves_the_prompt_other(reading):
    assert label("the totals should include tax", replace(AFTER_WORK, agent_reading=reading)) == (
        "other"
    )


def test_an_answer_that_starts_the_new_work_leaves_the_prompt_other():
    context = replace(AFTER_WORK, agent_reply="I'll add tax to the totals.")
    assert label("the totals should include tax", context) == "other"


def test_a_one_line_error_message_after_work_is_a_correction():
    message = "Error: Invalid configuration detected, please update the config file."
    assert label(message) == "correction"
    assert label(message, FIRST_PROMPT) == "other"


@pytest.mark.parametrize(
    "prompt",
    [
        "oops i meant src/pages/pricing.vue",
        "needs more",
        "still too small on phones",
        "keep the old footer, other than that the plan looks good and you can proceed",
    ],
)
def test_round_6_corrections_after_work(prompt):
    assert label(prompt) == "correction"


def test_i_meant_to_ask_is_the_users_own_slip():
    assert label("I meant to ask: can you also add a dark theme?") == "other"


def test_a_conceding_answer_outweighs_the_shape_of_a_question():
    question = "can you compare utils/dates.ts with this helper?"
    assert label(question, replace(AFTER_WORK, agent_reply="Let me compare them.")) == "other"
    conceded = replace(AFTER_WORK, agent_reply="Good catch! They do the same thing.")
    assert label(question, conceded) == "correction"


@pytest.mark.parametrize(
    "prompt", ["proceed", "proceed with updating these", "Proceed with phase 2, then run the tests"]
)
def test_proceed_is_a_go_ahead_even_without_a_question(prompt):
    stopped = PromptContext(last_assistant_text="Let me update the config next.", agent_acted=True)
    assert label(prompt, stopped) == "approval"


def test_proceed_with_a_correction_is_a_correction():
    prompt = "proceed with phase 1, but the plans go in .claude/plans, not .claude/tmp/plans"
    assert label(prompt) == "correction"


@pytest.mark.parametrize("prompt", ["okay lit! now add the docs", "lets go with option A!"])
def test_slang_praise_and_picking_an_offered_option_approve(prompt):
    assert label(prompt, AFTER_OFFER) == "approval"


SHOUTED_AND_MIXED = [
    "STILL BROKEN!! I MEANT the other file",
    "It Doesn't Work. Why didn't you run it?\n\nTypeError: x is undefined",
    "Не работает, всё ещё",  # noqa: RUF001
    "NO, revert that - Perfect otherwise, Sweet",
    "Ça marche pas, c'est faux; Funktioniert NICHT",
    "proceed\tWITH the PLAN but not ON main",
]


@pytest.mark.parametrize("text", SHOUTED_AND_MIXED)
def test_each_case_blind_cue_matches_like_its_lowercased_scan(text):
    cues = judging.STRONG_CORRECTION + judging.REDIRECT + judging.APPROVAL
    scans = judging.STRONG_SCANS + judging.REDIRECT_SCANS + judging.APPROVAL_SCANS
    assert len(cues) == len(scans)
    for (cue, *_), (scan, _, reason, lowered) in zip(cues, scans, strict=True):
        assert lowered == bool(cue.flags & re.IGNORECASE), reason
        read = text.lower() if lowered else text
        assert bool(cue.search(text)) == bool(scan.search(read)), (reason, text)


# Round 8: what the state should be, said of a thing the agent just worked on.
@pytest.mark.parametrize(
    "prompt",
    [
        "the login form should clear the password after a failed attempt",
        "this should stay on one line",
        "it needs to remember the last user",
        "ok the login button must sit right under the password field",
    ],
)
def test_saying_what_the_agents_work_should_be_is_a_correction(prompt):
    assert label(prompt) == "correction"


@pytest.mark.parametrize(
    "prompt",
    [
        "that should work, thanks",  # accepts the result
        "this should also validate the phone number",  # extends it
        "should the login form keep the email?",  # asks
        "the login form should redirect to the dashboard now?",
        "the invoices should list the tax rate",  # a thing the agent did not touch: a new request
    ],
)
def test_what_should_be_of_something_else_or_in_a_question_is_not_a_correction(prompt):
    assert label(prompt) == "other"


def test_what_the_work_should_be_needs_the_agents_work():
    prompt = "the settings page needs to save on every change"
    assert label(prompt, FIRST_PROMPT) == "other"
    # A hook payload: the agent worked, its words are unknown, so any thing counts.
    assert label(prompt, PromptContext(agent_acted=True)) == "correction"
