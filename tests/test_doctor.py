"""`selfdistill doctor` on real installed projects in temporary directories, working and broken."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from selfdistill import doctor, hookusers, install, settings
from selfdistill.logs import log_error
from selfdistill.paths import ProjectState, log_file
from tests.test_git import git_identity, make_repo

__all__ = ["git_identity"]  # the autouse fixture, imported to apply here too


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The doctor command in a process of its own, as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "selfdistill", "doctor", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def checks_of(project: Path) -> dict[str, doctor.Check]:
    return {c.name: c for c in doctor.run_checks(doctor.setup_for(project))}


def fake_claude(tmp_path: Path, version: str) -> Path:
    script = tmp_path / "fake-claude"
    script.write_text(f"#!/bin/sh\necho '{version} (Claude Code)'\n")
    script.chmod(0o755)
    return script


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    """A git repository where `selfdistill install` ran, with this environment's selfdistill."""
    project = make_repo(tmp_path / "my project")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "selfdistill"), "install", "--project", str(project)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return project


def test_an_installed_project_passes_every_check(installed: Path, tmp_path: Path) -> None:
    env = {"SELFDISTILL_CLAUDE_BIN": str(fake_claude(tmp_path, "2.1.330"))}

    done = cli("--project", str(installed), "--json", env=env)

    assert done.returncode == 0, done.stdout + done.stderr
    checks = json.loads(done.stdout)  # stdout holds the JSON alone
    assert [c["name"] for c in checks] == [
        "hooks",
        "interpreter",
        "git-hook",
        "store",
        "runs",
        "claude-code",
        "hook-events",
        "config",
        "model",
        "mcp",
    ]
    assert all(c["ok"] and set(c) == {"name", "ok", "detail", "fix"} for c in checks), checks
    by_name = {c["name"]: c for c in checks}
    assert "2.1.330" in by_name["claude-code"]["detail"]
    assert f"all {len(settings.EVENTS)} events" in by_name["hooks"]["detail"]


def test_the_readable_view_gives_a_fix_line_for_each_problem(tmp_path: Path) -> None:
    project = tmp_path / "bare"
    project.mkdir()

    done = cli("--project", str(project))

    assert done.returncode == 1
    lines = done.stdout.splitlines()
    hooks_line = next(i for i, line in enumerate(lines) if line.startswith("FAIL  hooks"))
    assert "fix: run 'selfdistill install --project" in lines[hooks_line + 1]
    failed = sum(line.startswith("FAIL") for line in lines)
    assert done.stderr == f"selfdistill: doctor found {failed} problem(s)\n"
    assert "problem(s)" not in done.stdout  # said once, on stderr, as with --json


def test_a_clean_project_says_so_on_stdout_only(installed: Path, tmp_path: Path) -> None:
    env = {"SELFDISTILL_CLAUDE_BIN": str(fake_claude(tmp_path, "2.1.330"))}

    done = cli("--project", str(installed), env=env)

    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines()[-1] == "all checks passed"


def test_json_keeps_stdout_to_the_checks_and_says_the_problems_on_stderr(tmp_path: Path) -> None:
    project = tmp_path / "bare"
    project.mkdir()

    done = cli("--project", str(project), "--json")

    assert done.returncode == 1
    failed = sum(not check["ok"] for check in json.loads(done.stdout))
    assert failed and done.stderr == f"selfdistill: doctor found {failed} problem(s)\n"


def test_a_project_that_does_not_exist_is_a_user_error(tmp_path: Path) -> None:
    done = cli("--project", str(tmp_path / "nonexistent" / "x"))

    assert (done.returncode, done.stdout) == (1, "")
    assert len(done.stderr.splitlines()) == 1 and "does not exist" in done.stderr


def test_hooks_pointing_at_a_missing_interpreter_are_reported(installed: Path) -> None:
    settings_file = installed / ".claude" / "settings.json"
    gone = installed.parent / "old-venv" / "bin" / "selfdistill"
    gone.parent.mkdir(parents=True)
    gone.write_text("#!/nowhere/python3.10\nprint('never runs')\n")
    gone.chmod(0o755)
    commands = install.hook_commands([str(gone)])
    data = settings.with_hooks(json.loads(settings_file.read_text()), commands).settings
    settings_file.write_text(json.dumps(data))

    checks = checks_of(installed)

    assert checks["hooks"].ok  # still registered...
    assert not checks["interpreter"].ok  # ...but they would not run
    assert "/nowhere/python3.10" in checks["interpreter"].detail
    assert "install" in checks["interpreter"].fix


def test_a_deleted_hook_program_is_reported(installed: Path) -> None:
    settings_file = installed / ".claude" / "settings.json"
    commands = install.hook_commands([str(installed / "no-such-dir" / "selfdistill")])
    data = settings.with_hooks(json.loads(settings_file.read_text()), commands).settings
    settings_file.write_text(json.dumps(data))

    check = checks_of(installed)["interpreter"]

    assert not check.ok and "missing or not executable" in check.detail


def test_hooks_running_another_installation_are_reported(installed: Path) -> None:
    settings_file = installed / ".claude" / "settings.json"
    env_dir = installed.parent / "other env"  # a working selfdistill, but not this one
    (env_dir / "bin").mkdir(parents=True)
    shutil.copy(Path(sys.prefix) / "pyvenv.cfg", env_dir / "pyvenv.cfg")
    (env_dir / "lib").symlink_to(Path(sys.prefix) / "lib")  # this environment's packages
    other = env_dir / "bin" / "python"
    other.symlink_to(sys.executable)
    entry = Path(install.__file__).with_name("entry.py")
    commands = install.hook_commands([str(other), str(entry)])
    data = settings.with_hooks(json.loads(settings_file.read_text()), commands).settings
    settings_file.write_text(json.dumps(data))

    check = checks_of(installed)["interpreter"]

    assert not check.ok
    program = shlex.join([str(other), str(entry)])
    assert check.detail.startswith(f"the hooks run another selfdistill installation ({program})")
    assert check.detail.endswith(f"this one ({sys.executable}) records nothing here")
    assert "uninstall --project" in check.fix


def test_invalid_settings_json_is_reported_with_its_place(installed: Path) -> None:
    (installed / ".claude" / "settings.json").write_text('{"hooks": {,}}\n')

    checks = checks_of(installed)

    assert not checks["hooks"].ok
    assert "not valid JSON (line 1" in checks["hooks"].detail
    assert "fix the JSON" in checks["hooks"].fix
    assert checks["git-hook"].ok  # the other checks still look


def test_settings_with_a_byte_order_mark_are_reported_in_plain_words(installed: Path) -> None:
    settings_file = installed / ".claude" / "settings.json"
    settings_file.write_bytes(b"\xef\xbb\xbf" + settings_file.read_bytes())
    check = checks_of(installed)["hooks"]
    assert not check.ok
    assert check.detail == f"{settings_file} begins with a byte order mark (BOM), which JSON " + (
        "does not allow; save it as UTF-8 without one"
    )


def test_some_events_missing_are_named(installed: Path) -> None:
    settings_file = installed / ".claude" / "settings.json"
    data = json.loads(settings_file.read_text())
    del data["hooks"]["SessionEnd"]
    settings_file.write_text(json.dumps(data))

    check = checks_of(installed)["hooks"]

    assert not check.ok and "SessionEnd" in check.detail and "Stop" not in check.detail


def test_hooks_disabled_in_the_user_settings_are_reported(installed: Path) -> None:
    user_settings = Path.home() / ".claude" / "settings.json"
    user_settings.parent.mkdir(parents=True)
    user_settings.write_text(json.dumps({"disableAllHooks": True}))

    check = checks_of(installed)["hooks"]

    assert not check.ok and "disableAllHooks" in check.detail and str(user_settings) in check.fix


def test_an_enabled_plugin_counts_as_registered(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    user_settings = Path.home() / ".claude" / "settings.json"
    user_settings.parent.mkdir(parents=True)
    user_settings.write_text(json.dumps({"enabledPlugins": {"selfdistill@selfdistill": True}}))

    check = checks_of(project)["hooks"]

    assert check.ok and "plugin" in check.detail


def test_a_state_home_that_cannot_be_written_is_reported(
    installed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root ignores permission bits, so the home is made unusable by putting it under a file.
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("SELFDISTILL_HOME", str(blocker / "state"))

    check = checks_of(installed)["store"]

    assert not check.ok and "not a directory" in check.detail
    assert "SELFDISTILL_HOME" in check.fix


def test_a_broken_lesson_store_is_reported_with_a_fix(installed: Path) -> None:
    lessons_file = ProjectState.for_project(installed).lessons
    lessons_file.write_text("{garbage\n")

    check = checks_of(installed)["store"]

    assert not check.ok and "is not valid JSON" in check.detail
    assert str(lessons_file) in check.detail and str(lessons_file) in check.fix


def test_the_store_size_is_shown(installed: Path) -> None:
    state = ProjectState.for_project(installed)
    state.root.mkdir(parents=True, exist_ok=True)
    (state.root / "blob").write_bytes(b"x" * 5000)

    check = checks_of(installed)["store"]

    assert check.ok and "KB for this project" in check.detail


def test_the_store_size_leaves_out_the_private_environment(installed: Path) -> None:
    home = Path(os.environ["SELFDISTILL_HOME"])
    state = ProjectState.for_project(installed)
    state.root.mkdir(parents=True, exist_ok=True)
    (state.root / "blob").write_bytes(b"x" * 5000)
    (home / "venv" / "lib").mkdir(parents=True)  # what install.sh puts there: the program
    (home / "venv" / "lib" / "big.so").write_bytes(b"x" * 3_000_000)

    check = checks_of(installed)["store"]

    assert check.ok and "MB" not in check.detail, check.detail


def test_state_split_between_the_home_and_the_plugin_data_is_reported(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    plugin_data = Path.home() / ".claude" / "plugins" / "data" / "selfdistill-selfdistill"
    (plugin_data / "projects").mkdir(parents=True)
    check = checks_of(project)["store"]
    assert check.ok and str(plugin_data) in check.detail  # no home of its own yet: a hint

    ProjectState.for_project(project).root.mkdir(parents=True)
    check = checks_of(project)["store"]

    assert not check.ok and "split" in check.detail and str(plugin_data) in check.fix


def test_the_git_hook_missing_or_broken_is_reported(installed: Path) -> None:
    hook = installed / ".git" / "hooks" / "post-commit"
    hook.write_text(hook.read_text().replace("legacy_name=''", "legacy_name=post-commit.legacy"))
    assert not checks_of(installed)["git-hook"].ok  # names a chained hook that is gone

    hook.unlink()
    check = checks_of(installed)["git-hook"]

    assert not check.ok and "no hook at" in check.detail and "install" in check.fix


def test_a_hook_that_ignores_the_projects_commits_is_reported(installed: Path) -> None:
    hookusers.record_path().unlink()  # as after an install by a selfdistill without the list
    assert checks_of(installed)["git-hook"].ok  # the settings still run selfdistill's hooks
    (installed / ".claude" / "settings.json").unlink()
    check = checks_of(installed)["git-hook"]

    assert not check.ok and "ignores this project's commits" in check.detail
    assert "install" in check.fix


def test_last_runs_and_their_errors(installed: Path) -> None:
    runs = ProjectState.for_project(installed).runs
    runs.mkdir(parents=True)
    good = {"id": "20260101T000000Z-aaaaaa", "completedAt": "x", "errors": []}
    bad = {"id": "20260102T000000Z-bbbbbb", "completedAt": "y", "errors": ["model: timed out"]}
    (runs / f"{good['id']}.json").write_text(json.dumps(good))
    assert checks_of(installed)["runs"].ok

    (runs / f"{bad['id']}.json").write_text(json.dumps(bad))
    check = checks_of(installed)["runs"]

    assert not check.ok
    assert "20260102T000000Z-bbbbbb" in check.detail and "model: timed out" in check.detail
    assert "1 of the last 2 had errors" in check.detail


def test_an_old_claude_code_is_told_which_events_it_lacks(
    installed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SELFDISTILL_CLAUDE_BIN", str(fake_claude(tmp_path, "1.0.50")))

    checks = checks_of(installed)

    assert checks["claude-code"].ok and "1.0.50" in checks["claude-code"].detail
    events = checks["hook-events"]
    assert not events.ok
    for missing in ("UserPromptSubmit", "SessionStart", "SessionEnd", "PostToolUseFailure"):
        assert missing in events.detail
    assert "PreCompact" not in events.detail  # 1.0.48 has it
    assert "2.1.0" in events.fix


def test_no_claude_on_path_is_not_a_failure(
    installed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SELFDISTILL_CLAUDE_BIN", raising=False)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no claude there

    checks = checks_of(installed)

    assert checks["claude-code"].ok and "not on PATH" in checks["claude-code"].detail
    assert checks["hook-events"].ok


def test_the_real_claude_code_version_is_read(installed: Path, monkeypatch) -> None:
    from tests.support.claude_cli import claude_binary

    monkeypatch.setenv("SELFDISTILL_CLAUDE_BIN", str(claude_binary()))

    checks = checks_of(installed)

    assert checks["claude-code"].ok and "Claude Code 2." in checks["claude-code"].detail
    assert checks["hook-events"].ok


def test_a_model_enabled_without_a_key_is_reported(
    installed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (installed / ".claude" / "selfdistill.json").write_text(json.dumps({"llm": {"enabled": True}}))

    check = checks_of(installed)["model"]
    assert not check.ok and "ANTHROPIC_API_KEY" in check.fix

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    assert checks_of(installed)["model"].ok


def test_a_broken_config_is_reported_under_config(installed: Path) -> None:
    (installed / ".claude" / "selfdistill.json").write_text("{not json")

    checks = checks_of(installed)

    assert not checks["config"].ok and "selfdistill.json" in checks["config"].detail
    assert checks["model"].ok and "config" in checks["model"].detail  # one problem, said once


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"mode": "sometimes"}, "mode"),
        ({"minSessions": 0}, "minSessions"),
        ({"colour": 1}, "colour"),
    ],
)
def test_config_values_are_checked_under_config(
    installed: Path, config: dict[str, object], named: str
) -> None:
    (installed / ".claude" / "selfdistill.json").write_text(json.dumps(config))

    checks = checks_of(installed)

    assert not checks["config"].ok and named in checks["config"].detail
    assert checks["model"].ok


def test_event_table_covers_every_registered_event() -> None:
    assert set(settings.EVENTS) <= set(doctor.EVENT_SINCE)
    assert doctor.unsupported_events((9, 9, 9)) == []
    assert doctor.unsupported_events((1, 0, 38)) == [
        e for e in settings.EVENTS if e not in ("PostToolUse", "Stop")
    ]


def test_a_git_hook_left_out_with_no_git_is_a_note_not_a_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_repo(tmp_path / "p")
    (project / ".git" / "hooks" / "post-commit").write_text("#!/bin/sh\necho mine\n")
    selfdistill = str(Path(sys.executable).parent / "selfdistill")
    subprocess.run([selfdistill, "install", "--no-git", "--project", str(project)], check=True)
    env = {"SELFDISTILL_CLAUDE_BIN": str(fake_claude(tmp_path, "2.1.330"))}

    done = cli("--project", str(project), env=env)

    assert done.returncode == 0, done.stdout + done.stderr
    line = next(line for line in done.stdout.splitlines() if "git-hook" in line)
    assert line.startswith("note") and "commits" in line and "not recorded" in line
    assert "selfdistill install --project" in done.stdout  # how to add it
    (project / ".git" / "hooks" / "post-commit").unlink()  # and with no hook there at all
    assert checks_of(project)["git-hook"].ok


def test_the_plugin_without_a_git_hook_is_a_note(tmp_path: Path) -> None:
    project = make_repo(tmp_path / "p")
    user_settings = Path.home() / ".claude" / "settings.json"
    user_settings.parent.mkdir(parents=True)
    user_settings.write_text(json.dumps({"enabledPlugins": {"selfdistill@selfdistill": True}}))

    check = checks_of(project)["git-hook"]

    assert check.ok and "not recorded" in check.detail and check.fix


def test_a_git_hook_removed_after_install_is_still_a_problem(installed: Path) -> None:
    (installed / ".git" / "hooks" / "post-commit").write_text("#!/bin/sh\necho husky\n")

    check = checks_of(installed)["git-hook"]

    assert not check.ok and "not selfdistill's" in check.detail  # install put one there


def test_a_git_hook_running_a_missing_program_is_a_problem(installed: Path) -> None:
    hook = installed / ".git" / "hooks" / "post-commit"
    gone = installed.parent / "gone" / "bin" / "selfdistill"
    text = "\n".join(
        f"$detach {gone} hook GitCommit </dev/null" if " hook GitCommit" in line else line
        for line in hook.read_text().splitlines()
    )
    hook.write_text(text + "\n")

    check = checks_of(installed)["git-hook"]

    assert not check.ok and str(gone) in check.detail and "install" in check.fix


def write_run(state: ProjectState, run_id: str, started: str, errors: list[str]) -> None:
    state.runs.mkdir(parents=True, exist_ok=True)
    run = {"id": run_id, "startedAt": started, "completedAt": started, "errors": errors}
    (state.runs / f"{run_id}.json").write_text(json.dumps(run))


def test_the_last_run_is_the_one_that_started_last_as_status_says(installed: Path) -> None:
    from selfdistill.status import project_status

    state = ProjectState.for_project(installed)
    # Stop and SessionEnd start runs in the same second: the ids then sort by their random part
    write_run(state, "20260101T000000Z-ffffff", "2026-01-01T00:00:00.10Z", ["lessons broken"])
    write_run(state, "20260101T000000Z-000000", "2026-01-01T00:00:00.90Z", [])

    check = checks_of(installed)["runs"]

    assert check.ok and "last run 20260101T000000Z-000000 " in check.detail, check.detail
    assert project_status(state)["lastRunId"] == "20260101T000000Z-000000"


def test_runs_already_in_the_archive_are_not_looked_at(installed: Path) -> None:
    state = ProjectState.for_project(installed)
    # a fold cut short leaves manifests it archived: counted there, no longer among the last runs
    write_run(state, "20260101T000000Z-aaaaaa", "2026-01-01T00:00:00.10Z", ["old failure"])
    write_run(state, "20260102T000000Z-bbbbbb", "2026-01-02T00:00:00.10Z", [])
    archive = {"runs": 1, "folded": ["20260101T000000Z-aaaaaa"], "sessionSignals": []}
    (state.root / "runs-archive.json").write_text(json.dumps(archive))

    check = checks_of(installed)["runs"]

    assert check.ok and "0 of the last 1 had errors" in check.detail, check.detail


def demo_run(project: Path) -> subprocess.CompletedProcess[str]:
    transcript = Path(__file__).parent / "data" / "recorded" / "session-1.jsonl"
    run = [sys.executable, "-m", "selfdistill", "run", "--project", str(project)]
    return subprocess.run(
        [*run, "--transcript", str(transcript)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_last_logged_error_shown_is_this_projects(tmp_path: Path) -> None:
    mine, other = tmp_path / "mine", tmp_path / "other"
    mine.mkdir()
    other.mkdir()
    assert demo_run(mine).returncode == 0
    lessons = ProjectState.for_project(other).lessons
    lessons.parent.mkdir(parents=True)
    lessons.write_text("{broken")
    assert demo_run(other).returncode == 1  # logged, with the project it concerns

    assert "last logged error" not in checks_of(mine)["runs"].detail
    assert f"[project {other}]" in log_file().read_text()
    lessons.unlink()
    assert demo_run(other).returncode == 0
    check = checks_of(other)["runs"]
    assert check.ok and "last logged error" in check.detail and "failed" in check.detail
    assert str(other) not in check.detail.split("last logged error")[1]  # it is this one's


def test_log_lines_from_before_projects_were_named_are_nobodys(installed: Path) -> None:
    log = log_file()
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("2026-01-01T00:00:00Z pid=1 publish: CLAUDE.md refused\n    detail\n")

    assert "last logged error" not in checks_of(installed)["runs"].detail


def test_a_logged_error_names_its_project_on_its_first_line(tmp_path: Path) -> None:
    log_error("run x failed", "Traceback\n  line", project=tmp_path / "a b")

    headline, *details = log_file().read_text().splitlines()
    assert headline.endswith(f" run x failed [project {tmp_path / 'a b'}]")
    assert details == ["    Traceback", "      line"]


def test_without_the_mcp_sdk_it_names_the_pip_of_selfdistill_s_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(doctor, "module_available", lambda *names: False)
    check = doctor.check_mcp()
    assert check.ok  # optional: not a problem
    assert f"{sys.executable} -m pip install 'mcp>=2'" in check.detail


def test_a_run_asked_for_a_model_without_a_key_is_told_to_set_it(installed: Path) -> None:
    state = ProjectState.for_project(installed)
    not_used = ["model claude-x not used: ANTHROPIC_API_KEY is not set"]
    write_run(state, "20260101T000000Z-000000", "2026-01-01T00:00:00Z", not_used)
    check = checks_of(installed)["runs"]
    assert not check.ok
    assert check.fix == (
        "export ANTHROPIC_API_KEY before 'selfdistill run --model', or run without it"
    )
