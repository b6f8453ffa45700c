"""Secrets planted everywhere a session can carry them never reach disk, CLAUDE.md or the model.

Real hook processes record prompts, tool inputs, outputs, errors and final messages holding a
generated corpus of secrets; real git commits (through the installed post-commit hook) carry them
in their messages; the session transcripts hold them too. Then a real `selfdistill run` with the
model backend enabled (against the local stand-in, which also echoes secrets back in its proposed
lessons) distills and publishes. Afterwards every file under SELFDISTILL_HOME, CLAUDE.md, the
skills, the run's output and every request body sent to the model are scanned for each secret.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from selfdistill.redact import redact_text
from tests.adversarial.harness import (
    cli,
    enable_llm,
    find_in,
    git,
    hook_env,
    make_repo,
    read_all,
    run_hook,
    transcript,
)
from tests.adversarial.secrets_corpus import ORDINARY, Case, secret_cases
from tests.support.llm_stub import LLMStub, tool_reply

# Formats the redactor does not catch yet (see test_known_gaps_are_redacted and the report):
# their leaks are counted and shown, not hidden, and this set must shrink to nothing.
HARD_CASES = ("password-prompt", "netrc", "redis-url", "mysql-flag")
KNOWN_GAPS: frozenset[str] = frozenset()
SESSION = "5e1c0a2b-7d3f-4e6a-9b8c-0f1e2d3c4b5a"


def payload(channel: str, case: Case, project: Path, transcript_path: Path) -> tuple[str, Any]:
    base: dict[str, Any] = {
        "session_id": SESSION,
        "transcript_path": str(transcript_path),
        "cwd": str(project),
    }
    if channel == "prompt":
        return "UserPromptSubmit", {**base, "prompt": f"please fix this:\n{case.text}"}
    if channel == "input":
        command = {"command": case.text, "description": "run it"}
        tool = {"tool_name": "Bash", "tool_input": command, "tool_use_id": "toolu_1"}
        return "PostToolUse", {**base, **tool, "tool_response": {"stdout": "ok", "stderr": ""}}
    if channel == "output":
        response = {"stdout": f"log:\n{case.text}\nend", "stderr": "", "interrupted": False}
        tool = {"tool_name": "Bash", "tool_input": {"command": "cat config"}}
        return "PostToolUse", {**base, **tool, "tool_response": response}
    if channel == "error":
        failed = {"tool_name": "Bash", "tool_input": {"command": "deploy"}, "is_interrupt": False}
        return "PostToolUseFailure", {**base, **failed, "error": f"Exit code 1\n{case.text}"}
    if channel == "file":
        edit = {"file_path": str(project / ".env"), "content": case.text}
        return "PostToolUse", {**base, "tool_name": "Write", "tool_input": edit}
    return "Stop", {**base, "stop_hook_active": False, "last_assistant_message": case.text}


CHANNELS = ("prompt", "input", "output", "error", "file", "final")


def sessions(root: Path, project: Path, cases: list[Case]) -> list[tuple[Path, str, str]]:
    """Transcripts holding every case in a prompt, a command and a failing output.

    Returns (path, session id, uuid of the first failing result) for each, as evidence to cite.
    """
    made = []
    for number in range(3):
        session = f"sess{number}"
        chunk = cases[number::3]
        steps = []
        for case in chunk:
            steps.append((case.text, False, f"Error: request failed\n{case.text}"))
            steps.append(("make retry", True, "ok"))
        prompt = "\n".join(case.text for case in chunk[:3])
        path = transcript(root / f"{session}.jsonl", session, prompt, steps, str(project))
        made.append((path, session, f"{session}-0002"))
    return made


def model_answer(evidence: list[tuple[Path, str, str]], cases: list[Case]) -> dict[str, Any]:
    """A model that copies secrets into the lessons it proposes (they were never in its input)."""
    tokens = [case for case in cases if case.kind not in KNOWN_GAPS]
    cited = [{"session_id": session, "uuid": uuid} for _, session, uuid in evidence]
    return {
        "lessons": [
            {
                "kind": "fact",
                "trigger": f"Calling the API with {case.value}",
                "action": f"Authenticate with `{case.text.splitlines()[0][:300]}`",
                "scope": "project",
                "confidence": 0.9,
                "evidence": cited,
            }
            for case in tokens[:8]
        ]
    }


def test_no_secret_survives_hooks_commits_and_a_model_run(
    tmp_path: Path, figures: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = secret_cases()
    project = make_repo(tmp_path / "project")
    assert cli("install", "--project", str(project)).returncode == 0
    made = sessions(Path(os.environ["HOME"]) / ".claude" / "projects" / "p", project, cases)
    planted = 0
    for index, case in enumerate(cases):
        for channel in (CHANNELS[index % 6], CHANNELS[(index + 3) % 6]):
            event, data = payload(channel, case, project, made[index % 3][0])
            run_hook(event, data, project)
            planted += 1
        if index % 3 == 0:  # a commit message, through the installed git hook
            (project / "notes.txt").write_text(f"change {index}\n")
            git(project, "add", "notes.txt")
            git(project, "commit", "-q", "-m", f"configure deploy\n\n{case.text}")
            planted += 1
    home = Path(os.environ["SELFDISTILL_HOME"])
    with LLMStub(tool_reply(model_answer(made, cases))) as stub:
        enable_llm(project, stub.url)
        env = {"ANTHROPIC_API_KEY": "test-key", **hook_env(project)}
        done = cli("run", "--project", str(project), "--json", env=env)
        requests = list(stub.raw)
    assert done.returncode == 0, done.stderr
    manifest = json.loads(done.stdout)
    assert manifest["analysisMode"] == "llm", manifest.get("errors")
    assert manifest["sessionsProcessed"] == 3
    assert requests, "the model backend was never asked"
    blobs = read_all(home, project / "CLAUDE.md", project / ".claude")
    blobs.update({f"request {n}": body for n, body in enumerate(requests)})
    blobs["run stdout"], blobs["run stderr"] = done.stdout.encode(), done.stderr.encode()
    leaks = find_in([case.value for case in cases], blobs)
    leaked_kinds = {case.kind for case in cases if case.value in leaks}
    kept = find_in([case.keep for case in cases], read_all(home / "projects"))
    figures(
        "secrets-e2e",
        cases=len(cases),
        planted=planted + 3 * len(cases) + 8,  # + transcripts (prompt, command, output) + model
        files_scanned=len(blobs),
        leaks=len(leaked_kinds - KNOWN_GAPS),
        known_gap_leaks=len(leaked_kinds & KNOWN_GAPS),
        context_lost=len(cases) - len(kept),
    )
    assert leaked_kinds <= KNOWN_GAPS, {k: v for k, v in leaks.items()}
    assert len(kept) == len(cases), sorted({c.keep for c in cases} - set(kept))
    # the echoed lessons went the whole way: stored redacted, then held by the gate
    echoed = [x for x in manifest["lessons"] if x["trigger"].startswith("Calling the API with")]
    assert echoed and all("[REDACTED:" in x["trigger"] for x in echoed), manifest["lessons"]
    claude_md = project / "CLAUDE.md"
    assert not claude_md.exists() or "[REDACTED:" not in claude_md.read_text()


def test_redaction_recall_and_false_redaction_rate(figures: Any) -> None:
    cases = secret_cases()
    caught = [case for case in cases if case.value not in redact_text(case.text)]
    context_kept = [case for case in caught if case.keep in redact_text(case.text)]
    touched = [line for line in ORDINARY if redact_text(line) != line]
    figures(
        "secrets-redactor",
        cases=len(cases),
        caught=len(caught),
        recall=len(caught) / len(cases),
        ordinary_lines=len(ORDINARY),
        false_redactions=len(touched),
        false_redaction_rate=len(touched) / len(ORDINARY),
    )
    missed = {case.kind for case in cases} - {case.kind for case in caught}
    assert missed <= KNOWN_GAPS, missed
    assert len(context_kept) == len(caught)
    assert touched == []


@pytest.mark.parametrize("kind", HARD_CASES)
def test_known_gaps_are_redacted(kind: str) -> None:
    [case] = [case for case in secret_cases() if case.kind == kind]
    assert case.value not in redact_text(case.text)


FALSELY_REDACTED = [
    "self.api_key = api_key or os.environ['API_KEY']",
    "if not token:\n    raise AuthError('token expired')",
    "const authHeader = `Bearer ${accessToken}`;",
]


@pytest.mark.parametrize("line", FALSELY_REDACTED)
def test_ordinary_code_is_left_alone(line: str) -> None:
    assert redact_text(line) == line
