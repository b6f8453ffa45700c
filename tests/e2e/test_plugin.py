"""The Claude Code plugin: its manifests checked by the real `claude plugin validate`, installed
from its marketplace by the real CLI, its hooks fired by a real session, and the launcher
(hooks/run-selfdistill) driven with hook payloads in every situation it must handle."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from selfdistill import __version__ as selfdistill_version
from selfdistill import settings
from tests.support import scenarios
from tests.support.claude_cli import run_claude

REPO = Path(__file__).resolve().parents[2]
PLUGIN_PARTS = (".claude-plugin", "hooks", "selfdistill", "schemas", "pyproject.toml")
SYSTEM_PATH = "/usr/bin:/bin"
PAYLOAD = {
    "session_id": "0b7f2a4e-0000-4000-8000-000000000001",
    "transcript_path": "/tmp/nowhere/t.jsonl",
    "cwd": "/tmp/nowhere",
    "hook_event_name": "PostToolUse",
    "tool_name": "Bash",
    "tool_input": {"command": "true"},
    "tool_response": {"stdout": "", "stderr": "", "interrupted": False},
}

# A stand-in for an installed selfdistill that records how the launcher called it.
RECORDER = """#!/bin/sh
log="{log}"
payload=$(cat)
printf '%s\\n' "$(python3 -c 'import json,os,sys; print(json.dumps({{"argv": sys.argv[1:], \
"home": os.environ.get("SELFDISTILL_HOME"), "data": os.environ.get("CLAUDE_PLUGIN_DATA"), \
"stdin": sys.stdin.read()}}))' "$@" <<EOF
$payload
EOF
)" >> "$log"
echo '{{"recorded": true}}'
echo 'noise on stderr' >&2
exit 3
"""


def plugin_copy(root: Path) -> Path:
    """The files a user gets when installing the plugin (the repository without .venv/.cache)."""
    for part in PLUGIN_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, root / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            root.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / part)
    return root


def recorder(path: Path, log: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(RECORDER.format(log=log))
    path.chmod(0o755)
    return path


def recorded(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def launch(
    root: Path, *args: str, env: dict[str, str], payload: Any = PAYLOAD, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    base = {"HOME": os.environ["HOME"], "PATH": SYSTEM_PATH, "CLAUDE_PLUGIN_ROOT": str(root)}
    return subprocess.run(
        [str(root / "hooks" / "run-selfdistill"), *args],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
        env={**base, **env},
        cwd=cwd or root.parent,
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return plugin_copy(tmp_path / "plugin root")


@pytest.fixture(autouse=True)
def no_selfdistill_on_system_path() -> None:
    # The launcher's PATH lookup must find only what a test puts there.
    assert shutil.which("selfdistill", path=SYSTEM_PATH) is None


def test_the_plugin_hooks_are_the_events_install_registers() -> None:
    hooks = json.loads((REPO / "hooks" / "hooks.json").read_text())["hooks"]

    assert list(hooks) == list(settings.EVENTS)
    for event, groups in hooks.items():
        [group] = groups
        assert group.get("matcher") == ("*" if event in settings.TOOL_EVENTS else None)
        [entry] = group["hooks"]
        assert entry == {
            "type": "command",
            "command": f'"${{CLAUDE_PLUGIN_ROOT}}/hooks/run-selfdistill" hook {event}',
            "timeout": settings.TIMEOUT_SECONDS,
        }
    manifest = json.loads((REPO / ".claude-plugin" / "plugin.json").read_text())
    marketplace = json.loads((REPO / ".claude-plugin" / "marketplace.json").read_text())
    [listed] = marketplace["plugins"]
    assert listed["name"] == manifest["name"] == "selfdistill"
    assert listed["version"] == manifest["version"] == selfdistill_version


# --- the launcher --------------------------------------------------------------------------------


def test_the_hook_reaches_the_installed_selfdistill_and_never_fails(
    root: Path, tmp_path: Path
) -> None:
    home, log = tmp_path / "state", tmp_path / "calls.jsonl"
    recorder(home / "venv" / "bin" / "selfdistill", log)

    done = launch(root, "hook", "PostToolUse", env={"SELFDISTILL_HOME": str(home)})

    assert done.returncode == 0  # the recorder's exit 3 never reaches Claude Code
    assert done.stdout == '{"recorded": true}\n'  # a hook's answer passes through
    assert done.stderr == ""
    [call] = recorded(log)
    assert call["argv"] == ["hook", "PostToolUse"]
    assert json.loads(call["stdin"]) == PAYLOAD
    assert call["home"] == str(home)


def test_with_nothing_installed_a_hook_is_silent_and_a_command_explains(
    tmp_path: Path,
) -> None:
    bare = tmp_path / "bare"
    (bare / "hooks").mkdir(parents=True)
    shutil.copy2(REPO / "hooks" / "run-selfdistill", bare / "hooks")
    env = {"SELFDISTILL_HOME": str(tmp_path / "state")}

    hook = launch(bare, "hook", "Stop", env=env, payload={"garbage": [1, 2]})
    command = launch(bare, "status", env=env)

    assert (hook.returncode, hook.stdout, hook.stderr) == (0, "", "")
    assert command.returncode == 1 and "no selfdistill found" in command.stderr


def test_state_goes_to_the_plugin_data_only_when_there_is_no_home_yet(
    root: Path, tmp_path: Path
) -> None:
    log, bin_dir = tmp_path / "calls.jsonl", tmp_path / "bin"
    recorder(bin_dir / "selfdistill", log)  # a pip/pipx install, found on PATH
    data, xdg = tmp_path / "plugin data", tmp_path / "xdg"
    env = {
        "PATH": f"{bin_dir}:{SYSTEM_PATH}",
        "CLAUDE_PLUGIN_DATA": str(data),
        "XDG_DATA_HOME": str(xdg),
    }

    launch(root, "hook", "SessionStart", env=env)  # no home anywhere: the plugin's data dir
    (xdg / "selfdistill").mkdir(parents=True)
    launch(root, "hook", "SessionStart", env=env)  # an existing home wins: state stays there
    launch(root, "hook", "SessionStart", env={**env, "SELFDISTILL_HOME": str(tmp_path / "mine")})

    homes = [call["home"] for call in recorded(log)]
    assert homes == [str(data), None, str(tmp_path / "mine")]


def test_a_project_with_its_own_hooks_is_not_recorded_twice(root: Path, tmp_path: Path) -> None:
    home, log = tmp_path / "state", tmp_path / "calls.jsonl"
    recorder(home / "venv" / "bin" / "selfdistill", log)
    registered, plain = tmp_path / "registered project", tmp_path / "plain"
    registered.mkdir()
    plain.mkdir()
    installed = subprocess.run(
        [str(Path(sys.executable).parent / "selfdistill"), "install", "--no-git"],
        cwd=registered,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert installed.returncode == 0, installed.stderr
    env = {"SELFDISTILL_HOME": str(home)}

    skipped = launch(root, "hook", "Stop", env={**env, "CLAUDE_PROJECT_DIR": str(registered)})
    launch(root, "hook", "Stop", env={**env, "CLAUDE_PROJECT_DIR": str(plain)})

    assert (skipped.returncode, skipped.stdout, skipped.stderr) == (0, "", "")
    assert len(recorded(log)) == 1  # only the project without its own registration


def test_without_an_install_the_plugin_runs_its_own_package(root: Path, tmp_path: Path) -> None:
    home, bin_dir = tmp_path / "state", tmp_path / "bin"
    bin_dir.mkdir()
    python = bin_dir / "python3"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    env = {"SELFDISTILL_HOME": str(home), "PATH": f"{bin_dir}:{SYSTEM_PATH}"}
    # Hooks run in the user's project; a `selfdistill` folder there must not be what runs.
    project = tmp_path / "project"
    (project / "selfdistill").mkdir(parents=True)
    (project / "selfdistill" / "__init__.py").write_text("raise SystemExit('wrong package')\n")

    hook = launch(root, "hook", "PostToolUse", env=env, cwd=project)
    version = launch(root, "--version", env=env, cwd=project)

    assert (hook.returncode, hook.stdout, hook.stderr) == (0, "", "")
    assert version.returncode == 0 and "selfdistill" in version.stdout
    # It was the plugin's copy that ran, and its bytecode went to the state home, not the plugin.
    cached = home / "cache" / "pycache" / str(root).lstrip("/") / "selfdistill"
    assert any(cached.glob("entry*.pyc"))
    assert not list(root.rglob("__pycache__"))


# --- the real Claude Code ------------------------------------------------------------------------


def validate(claude_bin: Path, target: Path) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [str(claude_bin), "plugin", "validate", "--strict", "--json", str(target)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"},
    )
    return done.returncode, json.loads(done.stdout)


def test_claude_plugin_validate_accepts_the_plugin_and_its_marketplace(
    claude_bin: Path, root: Path
) -> None:
    code, report = validate(claude_bin, root / ".claude-plugin" / "plugin.json")
    assert code == 0 and report["success"] is True, report
    assert report["manifest"]["type"] == "plugin"
    hooks = report["provides"]["hooks"]
    assert [hook["event"] for hook in hooks] == list(settings.EVENTS)
    assert all(
        hook["command"].startswith('"${CLAUDE_PLUGIN_ROOT}/hooks/run-selfdistill" hook ')
        for hook in hooks
    )

    code, report = validate(claude_bin, root)  # the folder: its marketplace manifest
    assert code == 0 and report["success"] is True, report
    assert report["manifest"]["type"] == "marketplace"
    assert report["manifest"]["errors"] == [] and report["manifest"]["warnings"] == []


def test_claude_plugin_validate_refuses_a_broken_manifest(claude_bin: Path, root: Path) -> None:
    # The check above means something only if the validator can say no.
    manifest = root / ".claude-plugin" / "plugin.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "hooks": 42}))

    code, report = validate(claude_bin, manifest)

    assert code == 1 and report["success"] is False


def test_a_session_with_the_installed_plugin_reaches_selfdistill(
    claude_bin: Path, root: Path, tmp_path: Path, fake_api: Any
) -> None:
    home, log = tmp_path / "state", tmp_path / "calls.jsonl"
    recorder(home / "venv" / "bin" / "selfdistill", log)
    cli_env = {**os.environ, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
    for args in (["marketplace", "add", str(root)], ["install", "selfdistill@selfdistill"]):
        done = subprocess.run(
            [str(claude_bin), "plugin", *args],
            capture_output=True,
            text=True,
            timeout=120,
            env=cli_env,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    project = scenarios.make_project(tmp_path / "my project")  # no `selfdistill install` here
    scenario = scenarios.tests_fail_then_pass_another_way(project)
    api = fake_api(scenario.script)

    run = run_claude(
        project, scenario.prompt, api, env={**scenario.env, "SELFDISTILL_HOME": str(home)}
    )

    assert run.returncode == 0, run
    assert run.stdout.strip() == scenario.answer  # the hooks showed the user nothing
    calls = recorded(log)
    events = [call["argv"][1] for call in calls]
    for event in ("SessionStart", "UserPromptSubmit", "PostToolUse", "PostToolUseFailure", "Stop"):
        assert event in events, events
    payloads = [json.loads(call["stdin"]) for call in calls]
    assert {p["session_id"] for p in payloads} == {run.session_id}
    assert all(call["home"] == str(home) for call in calls)
    assert all(call["data"] for call in calls)  # Claude Code gave the plugin its data directory
