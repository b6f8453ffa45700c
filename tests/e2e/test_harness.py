"""The offline harness itself: FakeAnthropic speaks the Messages API well enough for the real
Claude Code to run tools, fire the project's hooks and write its transcript, and the scenarios in
tests/support/scenarios.py play out as they say."""

from __future__ import annotations

import json
import os
import pwd
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.support import scenarios
from tests.support.claude_cli import (
    checked_home,
    content_blocks,
    log_hooks,
    read_jsonl,
    run_claude,
)
from tests.support.fake_api import (
    ErrorTurn,
    FakeAnthropic,
    any_request,
    bash,
    body_text,
    text,
    tool_results,
)


def test_a_scripted_bash_call_really_runs_and_is_recorded(project, fake_api):
    api = fake_api([bash("echo made > made.txt && echo created"), text("Created it.")])

    run = run_claude(project, "Create made.txt", api)

    assert run.returncode == 0, run
    assert run.stdout.strip() == "Created it."
    assert (project / "made.txt").read_text() == "made\n"
    assert api.remaining == 0
    [first, second] = api.main_requests
    assert tool_results(first) == []
    [result] = tool_results(second)
    assert result["is_error"] is False
    assert "created" in json.dumps(result["content"])
    entries = read_jsonl(run.transcript)
    [tool_use] = content_blocks(entries, "tool_use")
    assert tool_use["input"]["command"] == "echo made > made.txt && echo created"
    [recorded] = content_blocks(entries, "tool_result")
    assert recorded["tool_use_id"] == tool_use["id"] == result["tool_use_id"]
    assert {e.get("sessionId") for e in entries if "sessionId" in e} == {run.session_id}


def test_claude_md_and_skills_reach_the_agent(project, fake_api):
    (project / "CLAUDE.md").write_text("Always run the tests with unittest (marker-7f3a).\n")
    skill = project / ".claude" / "skills" / "run-tests-7f3a"
    skill.mkdir(parents=True)
    skill.joinpath("SKILL.md").write_text(
        "---\nname: run-tests-7f3a\ndescription: How to run the tests.\n---\nUse unittest.\n"
    )
    api = fake_api([text("Noted.")])

    run = run_claude(project, "Hello", api)

    assert run.returncode == 0, run
    [request] = api.main_requests
    seen = body_text(request)
    assert "Always run the tests with unittest (marker-7f3a)." in seen
    assert "run-tests-7f3a" in seen
    assert "Hello" in seen


def test_project_hooks_fire_with_real_payloads(project, fake_api, tmp_path):
    log = tmp_path / "hooks.jsonl"
    log_hooks(project, log)
    api = fake_api([bash("echo fine"), bash("exit 3"), text("Finished.")])

    run = run_claude(project, "Run two commands", api)

    assert run.returncode == 0, run
    payloads = read_jsonl(log)
    events = [p["hook_event_name"] for p in payloads]
    assert events == [
        "SessionStart",
        "UserPromptSubmit",
        "PostToolUse",
        "PostToolUseFailure",
        "Stop",
    ]
    assert {p["session_id"] for p in payloads} == {run.session_id}
    assert {p["transcript_path"] for p in payloads} == {str(run.transcript)}
    assert {p["cwd"] for p in payloads} == {str(project)}
    by_event = {p["hook_event_name"]: p for p in payloads}
    assert by_event["UserPromptSubmit"]["prompt"] == "Run two commands"
    assert by_event["PostToolUse"]["tool_response"]["stdout"] == "fine"
    assert by_event["PostToolUseFailure"]["error"].startswith("Exit code 3")
    assert by_event["Stop"]["last_assistant_message"] == "Finished."


@pytest.mark.parametrize("make_scenario", scenarios.ALL, ids=lambda f: f.__name__)
def test_scenarios_play_as_described(project, fake_api, tmp_path, make_scenario):
    scenario = make_scenario(project)
    log = tmp_path / "hooks.jsonl"
    log_hooks(project, log)
    api = fake_api(scenario.script)

    run = run_claude(project, scenario.prompt, api, env=scenario.env)

    assert run.returncode == 0, run
    assert run.stdout.strip() == scenario.answer
    assert api.remaining == 0
    results = content_blocks(read_jsonl(run.transcript), "tool_result")
    assert tuple(bool(r.get("is_error")) for r in results) == scenario.tool_errors
    failures = [p for p in read_jsonl(log) if p["hook_event_name"] == "PostToolUseFailure"]
    assert len(failures) == scenario.hook_failures


def test_pytest_is_missing_but_unittest_runs_in_scenario_a(project, fake_api):
    scenario = scenarios.tests_fail_then_pass_another_way(project)
    api = fake_api(scenario.script)

    run_claude(project, scenario.prompt, api, env=scenario.env)

    failed, passed = (tool_results(body)[0] for body in api.main_requests[1:3])
    assert "No module named pytest" in json.dumps(failed["content"])
    assert failed["is_error"] is True
    assert passed["is_error"] is False


def test_a_resumed_session_keeps_its_id_and_history(project, fake_api):
    api = fake_api([text("First answer."), text("Second answer.")])

    first = run_claude(project, "first prompt", api)
    second = run_claude(project, "second prompt", api, resume=first.session_id)

    assert second.returncode == 0, second
    assert second.session_id == first.session_id
    assert second.transcript == first.transcript
    seen = body_text(api.main_requests[-1])
    assert "first prompt" in seen and "First answer." in seen and "second prompt" in seen


def test_past_the_script_the_agent_is_told_done(project, fake_api):
    api = fake_api([])

    run = run_claude(project, "Anything", api)

    assert run.returncode == 0, run
    assert run.stdout.strip() == "Done."


def test_scripted_api_errors_are_retried_by_claude_code(project, fake_api):
    api = fake_api([ErrorTurn(status=529), text("Recovered.")])

    run = run_claude(project, "Anything", api)

    assert run.stdout.strip() == "Recovered."
    assert len(api.main_requests) == 2


# The fake API on its own, through the official Python client (what selfdistill's LLM code uses;
# imported in the tests: it takes seconds to import).


def test_the_python_client_reads_streamed_and_plain_answers():
    import anthropic

    tool_turn = bash("ls")
    with FakeAnthropic([tool_turn, text("[]")], is_main=any_request) as api:
        client = anthropic.Anthropic(base_url=api.base_url, api_key="fake", max_retries=0)
        question: Any = [{"role": "user", "content": "hi"}]
        with client.messages.stream(model="m", max_tokens=50, messages=question) as stream:
            streamed = stream.get_final_message()
        plain = client.messages.create(model="m", max_tokens=50, messages=question)

    assert streamed.stop_reason == "tool_use"
    assert [(b.type, getattr(b, "input", None)) for b in streamed.content] == [
        ("tool_use", {"command": "ls", "description": "ls"})
    ]
    assert plain.content[0].type == "text" and plain.content[0].text == "[]"
    assert [r.body["messages"] for r in api.requests if r.body] == [question, question]


def test_errors_side_requests_and_unknown_paths():
    import anthropic

    with FakeAnthropic([ErrorTurn(status=400, error_type="invalid_request_error")]) as api:
        client = anthropic.Anthropic(base_url=api.base_url, api_key="fake", max_retries=0)
        tools: Any = [{"name": "t", "description": "d", "input_schema": {"type": "object"}}]
        question: Any = [{"role": "user", "content": "hi"}]
        with pytest.raises(anthropic.BadRequestError):
            client.messages.create(model="m", max_tokens=50, messages=question, tools=tools)
        side = client.messages.create(model="m", max_tokens=50, messages=question)
        counted = client.messages.count_tokens(model="m", messages=question)
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(urllib.request.Request(f"{api.base_url}/v1/other", data=b"{}"))

    assert side.content[0].type == "text" and side.content[0].text == "Done."
    assert counted.input_tokens > 0
    assert missing.value.code == 404
    assert len(api.main_requests) == 1
    assert [r.path.split("?")[0] for r in api.side_requests] == [
        "/v1/messages",
        "/v1/messages/count_tokens",
        "/v1/other",
    ]


def test_claude_code_never_gets_the_real_home(tmp_path):
    real = pwd.getpwuid(os.getuid()).pw_dir
    for bad in (real, real + "/", "", "relative/home"):
        with pytest.raises(RuntimeError, match="real HOME"):
            checked_home(bad)
    assert checked_home(str(tmp_path)) == tmp_path
