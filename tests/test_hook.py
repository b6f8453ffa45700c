"""`selfdistill hook EVENT` through the real console script: what it records, and that it stays
silent and exits 0 whatever arrives on stdin."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from selfdistill import capture, hookusers
from selfdistill.paths import ProjectState
from selfdistill.resources import schema_path
from selfdistill.store import iter_observations

SCRIPT = Path(sys.executable).parent / "selfdistill"
VALIDATOR = Draft202012Validator(json.loads(schema_path("observation").read_text()))
SESSION = "3b1f6c2e-8d4a-4f0e-9c57-2a6d1e8b7f90"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)
    return root


def run_hook(
    event: str,
    stdin: bytes | None,
    project: Path | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "SELFDISTILL_DEBOUNCE_SECONDS": "3600"}
    if project is not None:
        env["CLAUDE_PROJECT_DIR"] = str(project)
    done = subprocess.run(
        [str(SCRIPT), "hook", event],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        env=env,
        cwd=cwd,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    return done


def records(project: Path) -> list[dict[str, Any]]:
    found = [record for _, record in iter_observations(ProjectState.for_project(project))]
    for record in found:
        VALIDATOR.validate(record)
    return found


def payload(event: str, **fields: Any) -> bytes:
    base = {
        "session_id": SESSION,
        "transcript_path": f"/home/u/.claude/projects/-p/{SESSION}.jsonl",
        "cwd": "/home/u/p",
        "hook_event_name": event,
        "permission_mode": "default",
    }
    return json.dumps({**base, **fields}).encode()


def test_a_successful_bash_call_is_recorded_with_its_output(project: Path) -> None:
    run_hook(
        "PostToolUse",
        payload(
            "PostToolUse",
            tool_name="Bash",
            tool_input={"command": "pytest -q", "description": "run tests"},
            tool_response={"stdout": "3 passed in 0.1s", "stderr": "", "interrupted": False},
            tool_use_id="toolu_01",
            duration_ms=812,
        ),
        project,
    )
    [record] = records(project)
    assert record["event"] == "PostToolUse"
    assert record["id"] == "1:0"
    assert record["session_id"] == SESSION
    assert record["tool_name"] == "Bash"
    assert record["tool_use_id"] == "toolu_01"
    assert record["tool_input"] == {"command": "pytest -q", "description": "run tests"}
    assert record["outcome"] == "ok"
    assert record["output"] == "3 passed in 0.1s"
    assert record["duration_ms"] == 812
    assert "invalid" not in record and "truncated" not in record and "error" not in record


def test_a_failed_call_keeps_its_error_and_exit_code(project: Path) -> None:
    error = "Exit code 2\nFAILED tests/test_x.py::test_y - assert 1 == 2\n1 failed"
    run_hook(
        "PostToolUseFailure",
        payload(
            "PostToolUseFailure",
            tool_name="Bash",
            tool_input={"command": "pytest"},
            error=error,
            is_interrupt=False,
            tool_use_id="toolu_02",
        ),
        project,
    )
    run_hook(
        "PostToolUseFailure",
        payload("PostToolUseFailure", tool_name="Bash", error="Interrupted", is_interrupt=True),
        project,
    )
    failed, interrupted = records(project)
    assert failed["outcome"] == "error"
    assert failed["exit_code"] == 2
    assert failed["error"] == error
    assert failed["output"].endswith("1 failed")
    assert interrupted["outcome"] == "interrupted"
    assert "exit_code" not in interrupted


@pytest.mark.parametrize(
    ("event", "fields", "expected"),
    [
        ("UserPromptSubmit", {"prompt": "fix the login bug"}, {"prompt": "fix the login bug"}),
        (
            "Stop",
            {"stop_hook_active": False, "last_assistant_message": "Done."},
            {"last_message": "Done."},
        ),
        (
            "SubagentStop",
            {"last_assistant_message": "Found 3 files"},
            {"last_message": "Found 3 files"},
        ),
        ("SessionStart", {"source": "startup"}, {"detail": "startup"}),
        ("SessionEnd", {"reason": "clear"}, {"detail": "clear"}),
        ("PreCompact", {"trigger": "auto", "custom_instructions": ""}, {"detail": "auto"}),
        (
            "Notification",
            {"message": "Claude needs your permission"},
            {"detail": "Claude needs your permission"},
        ),
        ("SomeFutureEvent", {"whatever": {"nested": [1, 2]}}, {}),
        (
            "PreToolUse",
            {"tool_name": "Read", "tool_input": {"file_path": "/a"}},
            {"tool_name": "Read"},
        ),
    ],
)
def test_each_event_is_recorded(
    project: Path, event: str, fields: dict[str, Any], expected: dict[str, Any]
) -> None:
    run_hook(event, payload(event, **fields), project)
    [record] = records(project)
    assert record["event"] == event
    assert record["session_id"] == SESSION
    assert record["transcript_path"].endswith(f"{SESSION}.jsonl")
    assert {key: record.get(key) for key in expected} == expected
    assert "outcome" not in record  # only tool results have one


def test_stop_payload_from_an_old_version_without_optional_fields(project: Path) -> None:
    run_hook(
        "Stop", json.dumps({"session_id": SESSION, "transcript_path": "/t.jsonl"}).encode(), project
    )
    [record] = records(project)
    assert record == {
        **record,
        "event": "Stop",
        "session_id": SESSION,
        "transcript_path": "/t.jsonl",
    }
    assert "last_message" not in record and "cwd" not in record


def deep(levels: int) -> bytes:
    return b'{"session_id": "deep", "tool_input": ' + b"[" * levels + b"]" * levels + b"}"


BAD_INPUTS = {
    "empty": b"",
    "blank": b"   \n",
    "not json": b"this is not json {",
    "truncated json": payload(
        "PostToolUse", tool_name="Bash", tool_input={"command": "ls -la " * 10}
    )[:-15],
    "json list": b"[1, 2, 3]",
    "json string": b'"PostToolUse"',
    "wrong types": json.dumps(
        {
            "session_id": 12345,
            "cwd": ["not", "a", "path"],
            "tool_name": {"x": 1},
            "tool_input": "command=ls",
            "tool_response": 7,
            "duration_ms": "fast",
            "error": None,
            "is_interrupt": "maybe",
        }
    ).encode(),
    "invalid utf-8": b'{"session_id": "utf", "tool_input": {"command": "echo \xff\xfe\xc3"}}',
    "lone surrogate escape": b'{"session_id": "sur", "tool_input": {"command": "a\\ud800b"}}',
    "deep nesting": deep(200_000),
    "future version": payload(
        "PostToolUse",
        tool_name="Bash",
        tool_input={"command": "ls"},
        tool_response={"stdout": "a", "new": {"shape": [1]}},
        brand_new_field={"x": [1, 2, 3]},
        hook_event_name=99,
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_exits_0_silently_and_is_still_recorded(project: Path, name: str) -> None:
    run_hook("PostToolUse", BAD_INPUTS[name], project)
    [record] = records(project)
    assert record["event"] == "PostToolUse"
    if name in (
        "empty",
        "blank",
        "not json",
        "json list",
        "json string",
        "deep nesting",
        "truncated json",
    ):
        assert record["invalid"]
    else:
        assert "invalid" not in record


def test_salvage_keeps_the_fields_found_in_a_broken_payload(project: Path) -> None:
    run_hook("PostToolUse", BAD_INPUTS["truncated json"], project)
    run_hook("PostToolUse", deep(200_000), project)
    broken, nested = records(project)
    assert broken["session_id"] == SESSION and broken["tool_name"] == "Bash"
    assert nested["session_id"] == "deep"
    assert nested["invalid"] == "payload nested too deeply"


def test_tens_of_megabytes_are_recorded_small(project: Path) -> None:
    big = "line of build output\n" * 1_500_000  # about 31 MB
    data = payload(
        "PostToolUse",
        tool_name="Bash",
        tool_input={"command": "make", "content": "x" * 3_000_000},
        tool_response={"stdout": big + "BUILD OK", "stderr": ""},
    )
    assert len(data) > 30_000_000
    run_hook("PostToolUse", data, project)
    [record] = records(project)
    segment = ProjectState.for_project(project).observations / "obs-000001.jsonl"
    assert segment.stat().st_size <= 64 * 1024
    assert record["output"].endswith("BUILD OK")
    assert record["truncated"]["output"] == len(big) + len("BUILD OK")
    assert record["truncated"]["tool_input.content"] == 3_000_000
    assert record["tool_input"]["command"] == "make"


def test_a_record_that_would_not_fit_a_line_is_cut_to_fit(project: Path) -> None:
    many = {f"file_{i}": "y" * 5000 for i in range(90)}  # 90 fields of 2000 kept chars > 64 KiB
    run_hook("PostToolUse", payload("PostToolUse", tool_name="MultiEdit", tool_input=many), project)
    [record] = records(project)
    line = (ProjectState.for_project(project).observations / "obs-000001.jsonl").read_bytes()
    assert len(line) <= 64 * 1024
    assert record["truncated"]["tool_input.file_0"] == 5000


def test_secrets_never_reach_the_store(project: Path) -> None:
    token = "ghp_" + "Zx8Qk2Lm9Pw4Rt7Yv1Bn6Cd3Fg5Hj0Kl2Mn4"
    run_hook(
        "PostToolUse",
        payload(
            "PostToolUse",
            tool_name="Bash",
            tool_input={"command": f"GITHUB_TOKEN={token} gh pr create", "password": "hunter2"},
            tool_response={"stdout": f"token is {token}", "stderr": ""},
        ),
        project,
    )
    run_hook("UserPromptSubmit", payload("UserPromptSubmit", prompt=f"use {token} please"), project)
    stored = b"".join(
        p.read_bytes() for p in ProjectState.for_project(project).observations.iterdir()
    )
    assert token.encode() not in stored and b"hunter2" not in stored
    assert stored.count(b"[REDACTED:github]") == 3


@pytest.mark.parametrize("switch", ["SELFDISTILL_DISABLE", "SELFDISTILL_INTERNAL"])
def test_privacy_switches_record_nothing(project: Path, switch: str) -> None:
    env = {**os.environ, switch: "1", "CLAUDE_PROJECT_DIR": str(project)}
    done = subprocess.run(
        [str(SCRIPT), "hook", "UserPromptSubmit"],
        input=payload("UserPromptSubmit", prompt="hi"),
        capture_output=True,
        env=env,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    assert not ProjectState.for_project(project).root.exists()


@pytest.mark.parametrize("event", ["UserPromptSubmit", "Stop"])
def test_a_relative_state_home_records_nothing_anywhere(project: Path, event: str) -> None:
    """It names no one store (hooks, the git hook and commands run in different folders), and
    falling back to the default home would put data where the user said not to."""
    env = {**os.environ, "SELFDISTILL_HOME": "relhome", "CLAUDE_PROJECT_DIR": str(project)}
    done = subprocess.run(
        [str(SCRIPT), "hook", event],
        input=payload(event, prompt="hi", cwd=str(project)),
        capture_output=True,
        env=env,
        cwd=project,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    assert [path.name for path in project.iterdir()] == [".git"]
    assert not (Path.home() / ".local" / "share" / "selfdistill").exists()


def test_project_is_found_from_the_payload_cwd_when_claude_does_not_say(project: Path) -> None:
    sub = project / "src" / "pkg"
    sub.mkdir(parents=True)
    run_hook("UserPromptSubmit", payload("UserPromptSubmit", prompt="hi", cwd=str(sub)))
    state = ProjectState.for_project(project)
    assert [r["prompt"] for r in records(project)] == ["hi"]
    assert json.loads(state.meta.read_text())["project"] == str(project)


def test_project_falls_back_to_the_process_cwd(project: Path) -> None:
    run_hook("Notification", b"not json", cwd=project)
    assert len(records(project)) == 1


def test_hook_path_imports_no_heavy_module() -> None:
    code = (
        "import sys, selfdistill.hook, selfdistill.capture, selfdistill.store, "
        "selfdistill.spawn, selfdistill.redact\n"
        "heavy = {'click', 'jsonschema', 'anthropic', 'filelock', 'httpx', 'typing',"
        " 'subprocess'}\n"
        "print(sorted(heavy & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# Each of these costs the hook milliseconds per tool call (bench/hook_latency.py).
HOT_PATH_FORBIDDEN = {
    "json", "re", "enum", "pathlib", "dataclasses", "inspect", "typing", "click", "jsonschema",
    "anthropic", "filelock", "httpx", "subprocess", "contextlib", "collections", "functools",
}  # fmt: skip
RUN_AND_LIST_MODULES = """
import sys
from selfdistill.entry import main
sys.argv = ["selfdistill", "hook", sys.argv[1]]
try:
    main()
except SystemExit:
    pass
sys.__stdout__.write(" ".join(sorted(sys.modules)))
"""


@pytest.mark.parametrize("event", ["PostToolUse", "PostToolUseFailure", "UserPromptSubmit"])
def test_an_ordinary_event_loads_no_heavy_module(project: Path, event: str) -> None:
    stdin = payload(
        event,
        tool_name="Bash",
        tool_input={"command": "ls -la src", "description": "List the sources"},
        tool_response={"stdout": "total 8\n-rw-r--r-- 1 u u 120 main.py\n", "stderr": ""},
        error="Exit code 2\nls: cannot access 'src': No such file or directory",
        prompt="Please list the sources and fix the failing test in main.py",
        tool_use_id="toolu_01",
        duration_ms=12,
    )
    done = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST_MODULES, event],
        input=stdin,
        capture_output=True,
        env={**os.environ, "CLAUDE_PROJECT_DIR": str(project)},
        timeout=60,
        check=True,
    )
    [record] = records(project)  # the event was really recorded, not given up on early
    assert record["event"] == event and "invalid" not in record
    loaded = set(done.stdout.decode().split())
    assert "selfdistill.store" in loaded
    assert sorted(HOT_PATH_FORBIDDEN & loaded) == []


def test_the_entry_module_run_as_a_file_is_a_launcher_for_the_hook(
    project: Path, tmp_path: Path
) -> None:
    from selfdistill import entry, settings

    argv = [sys.executable, entry.__file__]
    command = shlex.join([*argv, "hook", "PostToolUse"])
    assert settings.event_of({"type": "command", "command": command}) == "PostToolUse"
    done = subprocess.run(
        ["sh", "-c", command],
        input=payload("PostToolUse", tool_name="Bash", tool_input={"command": "true"}),
        capture_output=True,
        env={**os.environ, "CLAUDE_PROJECT_DIR": str(project)},
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    assert [record["tool_name"] for record in records(project)] == ["Bash"]
    version = subprocess.run([*argv, "--version"], capture_output=True, text=True, check=False)
    assert version.returncode == 0 and "selfdistill" in version.stdout


def test_the_launcher_s_folder_shadows_no_module(project: Path, tmp_path: Path) -> None:
    """Run as a file, entry.py's folder would come first on sys.path: a module there named like
    one the hook imports (here `select`) must not be picked up."""
    from selfdistill import entry

    folder = tmp_path / "selfdistill"
    folder.mkdir()
    launcher = folder / "entry.py"
    launcher.write_text(Path(entry.__file__).read_text())
    marker = tmp_path / "shadowed"
    (folder / "select.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    run = [sys.executable, str(launcher), "hook", "UserPromptSubmit"]
    done = subprocess.run(
        run,
        input=payload("UserPromptSubmit", prompt="hello"),
        capture_output=True,
        env={**os.environ, "CLAUDE_PROJECT_DIR": str(project)},
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    assert not marker.exists()
    assert [record["prompt"] for record in records(project)] == ["hello"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(st.sampled_from(["Exit code ", "-", "0", "42", "٣", "x", " ", "\n"]), st.text()),
        max_size=5,
    ).map("".join)
)
def test_exit_codes_are_read_as_the_pattern_read_them(error: str) -> None:
    match = re.match(r"\AExit code (-?\d+)", error)
    expected = int(match.group(1)) if match else None
    assert capture._exit_code(error, None) == expected


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x",
        "GIT_COMMITTER_NAME": "t",
    }
    env["GIT_COMMITTER_EMAIL"] = "t@x"
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_git_commit_is_recorded_with_sha_message_files_and_revert(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    with hookusers.changing() as users:  # what `selfdistill install` notes
        hookusers.add(users, repo / ".git" / "hooks", repo)
    (repo / "app.py").write_text("print(1)\n")
    git(repo, "add", "app.py")
    git(repo, "commit", "-q", "-m", "Add app\n\napi_key=Qm9vdHN0cmFwUGFzc3dvcmQxMjM0")
    first = git(repo, "rev-parse", "HEAD")
    run_hook("GitCommit", None, cwd=repo)
    git(repo, "revert", "--no-edit", "HEAD")
    run_hook("GitCommit", None, cwd=repo)
    added, reverted = records(repo)
    assert added["event"] == "GitCommit"
    assert added["commit"]["sha"] == first
    assert added["commit"]["files"] == ["app.py"]
    assert added["commit"]["message"].startswith("Add app")
    assert "Qm9vdHN0cmFwUGFzc3dvcmQxMjM0" not in added["commit"]["message"]
    assert "reverts" not in added["commit"]
    assert reverted["commit"]["reverts"] == first
    assert reverted["commit"]["sha"] == git(repo, "rev-parse", "HEAD")


def test_a_closed_stdin_still_records_the_event(project: Path) -> None:
    env = {**os.environ, "CLAUDE_PROJECT_DIR": str(project), "SELFDISTILL_DEBOUNCE_SECONDS": "3600"}
    done = subprocess.run(
        f"exec {SCRIPT} hook Notification <&-",
        shell=True,
        capture_output=True,
        env=env,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    [record] = records(project)
    assert record["event"] == "Notification"
    assert record["invalid"].startswith("stdin unreadable")


def test_the_event_name_comes_from_the_payload_when_not_given(project: Path) -> None:
    env = {**os.environ, "CLAUDE_PROJECT_DIR": str(project)}
    body = payload("Notification", message="waiting for input")
    done = subprocess.run(
        [str(SCRIPT), "hook"], input=body, capture_output=True, env=env, check=False
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    [record] = records(project)
    assert (record["event"], record["detail"]) == ("Notification", "waiting for input")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=30,
)
KNOWN_KEYS = st.sampled_from(
    ["session_id", "cwd", "tool_name", "tool_input", "tool_response", "error", "is_interrupt",
     "duration_ms", "prompt", "last_assistant_message", "message", "source", "tool_use_id"]
)  # fmt: skip


def strict_json(text: bytes) -> Any:
    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


@settings(max_examples=150, deadline=None)
@given(
    event=st.sampled_from(["PostToolUse", "PostToolUseFailure", "Stop", "UserPromptSubmit", "X"]),
    body=st.dictionaries(KNOWN_KEYS | st.text(max_size=8), JSON_VALUES, max_size=8),
)
def test_any_payload_shape_gives_a_valid_record(event: str, body: dict[str, Any]) -> None:
    record = capture.fit(event, body)
    line = capture.encode({"id": "1:0", **record})
    assert len(line) <= capture.MAX_LINE_BYTES
    VALIDATOR.validate(strict_json(line))


def start_hook(event: str, project: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CLAUDE_PROJECT_DIR": str(project)}
    return subprocess.Popen(
        [str(SCRIPT), "hook", event],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def test_a_slow_writer_is_waited_for(project: Path) -> None:
    body = payload("UserPromptSubmit", prompt="written in two halves")
    hook = start_hook("UserPromptSubmit", project)
    assert hook.stdin is not None
    hook.stdin.write(body[:40])
    hook.stdin.flush()
    time.sleep(0.8)  # the hook has started and found the pipe empty
    hook.stdin.write(body[40:])
    hook.stdin.close()
    assert hook.wait(timeout=30) == 0
    [record] = records(project)
    assert record["prompt"] == "written in two halves" and "invalid" not in record


def test_a_writer_that_never_closes_does_not_hold_the_hook(project: Path) -> None:
    hook = start_hook("UserPromptSubmit", project)
    assert hook.stdin is not None
    hook.stdin.write(payload("UserPromptSubmit", prompt="never finished")[:-10])
    hook.stdin.flush()
    started = time.monotonic()
    assert hook.wait(timeout=30) == 0
    assert time.monotonic() - started < 20
    hook.stdin.close()
    [record] = records(project)
    assert record["invalid"] == "stdin stayed open without data"
    assert record["session_id"] == SESSION  # salvaged from what arrived


def test_reading_stdin_leaves_its_blocking_mode_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    from selfdistill import hook

    read_end, write_end = os.pipe()
    os.write(write_end, b'{"a": 1}')
    os.close(write_end)
    with open(read_end, "rb") as stdin:
        monkeypatch.setattr(sys, "stdin", stdin)
        assert hook.read_stdin() == (b'{"a": 1}', None)
        assert os.get_blocking(read_end)


def test_a_commit_in_a_repository_that_never_installed_us_is_not_recorded(tmp_path: Path) -> None:
    # A shared hooks folder (a global core.hooksPath) runs our hook in every repository.
    installed, other = tmp_path / "installed", tmp_path / "other"
    for repo in (installed, other):
        repo.mkdir()
        git(repo, "init", "-q")
        (repo / "a.txt").write_text("a\n")
        git(repo, "add", "a.txt")
        git(repo, "commit", "-q", "-m", "First")
    with hookusers.changing() as users:
        hookusers.add(users, tmp_path / "shared-hooks", installed)
    run_hook("GitCommit", None, cwd=other)
    run_hook("GitCommit", None, cwd=installed)
    assert not ProjectState.for_project(other).observations.exists()
    assert [r["event"] for r in records(installed)] == ["GitCommit"]
