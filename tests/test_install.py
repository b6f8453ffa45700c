"""`selfdistill install` / `uninstall` on real projects in temporary directories."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from selfdistill import githook, hookusers, install, journal, settings, skills
from selfdistill.errors import FatalError, UserError
from selfdistill.paths import ProjectState
from selfdistill.store import iter_observations
from tests.test_git import commit_file, git_identity, make_repo, run

__all__ = ["git_identity"]  # the autouse fixture, imported to apply here too

SELFDISTILL = Path(sys.executable).parent / "selfdistill"
ENTRY = str(Path(install.__file__).with_name("entry.py"))  # what the hooks run, with python

# A user's file in a style json.dumps would not reproduce: compact arrays, 4 spaces,
# no final newline.
USER_TEXT = """{
    "permissions": { "allow": ["Bash(npm test:*)", "Read(~/notes)"] },
    "hooks": {
        "PostToolUse": [
            {"matcher": "Edit|Write", "hooks": [{"type": "command", "command": "prettier -w"}]}
        ]
    },
    "env": {"FOO": "bar"}
}"""


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SELFDISTILL), *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def hook_commands(project: Path) -> dict[str, str]:
    data = json.loads((project / ".claude" / "settings.json").read_text())
    return {
        event: entry["command"]
        for event, groups in data["hooks"].items()
        for group in groups
        for entry in group["hooks"]
        if settings.event_of(entry)
    }


def test_fresh_project_install_is_idempotent_and_uninstall_leaves_nothing(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    first = install.install(project)
    path = project / ".claude" / "settings.json"
    assert first.settings == install.SettingsChange(path, "registered")
    assert first.git is None and first.git_note and "not a git repository" in first.git_note
    assert set(hook_commands(project)) == set(settings.EVENTS)
    written = path.read_bytes()

    second = install.install(project)
    assert second.settings.action == "unchanged" and not second.changed()
    assert path.read_bytes() == written

    removed = install.uninstall(project)
    assert removed.settings.action == "deleted"
    assert not (project / ".claude").exists(), "the .claude directory we created is gone too"
    assert not install.record_path(project).exists()
    assert install.uninstall(project).settings.action == "absent"


def test_uninstall_gives_back_the_users_exact_bytes(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / ".claude").mkdir(parents=True)
    path = project / ".claude" / "settings.json"
    path.write_text(USER_TEXT)
    path.chmod(0o640)

    assert install.install(project).settings.action == "registered"
    merged = json.loads(path.read_text())
    assert list(merged) == ["permissions", "hooks", "env"]
    assert merged["permissions"] == json.loads(USER_TEXT)["permissions"]
    assert merged["hooks"]["PostToolUse"][0] == json.loads(USER_TEXT)["hooks"]["PostToolUse"][0]
    assert path.read_text().startswith('{\n    "permissions"'), "the file's indent is kept"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    installed = path.read_bytes()
    assert install.install(project).settings.action == "unchanged"
    assert path.read_bytes() == installed

    assert install.uninstall(project).settings.action == "restored"
    assert path.read_text() == USER_TEXT
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert install.uninstall(project).settings.action == "unchanged"
    assert path.read_text() == USER_TEXT


def test_uninstall_keeps_what_the_user_changed_since(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / ".claude").mkdir(parents=True)
    path = project / ".claude" / "settings.json"
    path.write_text(USER_TEXT)
    install.install(project)
    data = json.loads(path.read_text())
    data["permissions"]["allow"].append("Bash(make:*)")
    path.write_text(json.dumps(data, indent=4))

    assert install.uninstall(project).settings.action == "removed"
    expected = json.loads(USER_TEXT)
    expected["permissions"]["allow"].append("Bash(make:*)")
    assert json.loads(path.read_text()) == expected


def test_a_claude_dir_the_user_had_stays_after_uninstall(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / ".claude").mkdir(parents=True)
    (project / ".claude" / "settings.local.json").write_text("{}\n")
    install.install(project)
    assert install.uninstall(project).settings.action == "deleted"
    assert sorted(p.name for p in (project / ".claude").iterdir()) == ["settings.local.json"]


def test_uninstall_without_the_record_still_removes_only_ours(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / ".claude").mkdir(parents=True)
    path = project / ".claude" / "settings.json"
    path.write_text(USER_TEXT)
    install.install(project)
    install.record_path(project).unlink()  # e.g. SELFDISTILL_HOME was wiped
    assert install.uninstall(project).settings.action == "removed"
    assert json.loads(path.read_text()) == json.loads(USER_TEXT)


def test_invalid_settings_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    project = make_repo(tmp_path / "project")
    (project / ".claude").mkdir()
    path = project / ".claude" / "settings.json"
    path.write_text('{"permissions": {"allow": [}\n')
    with pytest.raises(FatalError, match=r"settings.json is not valid JSON \(line 1"):
        install.install(project)
    assert path.read_text() == '{"permissions": {"allow": [}\n'
    assert not (project / ".git" / "hooks" / "post-commit").exists()
    assert not install.record_path(project).exists()

    done = cli("install", "--project", str(project))
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "not valid JSON" in done.stderr
    assert "Traceback" not in done.stderr


def test_settings_with_a_byte_order_mark_are_refused_in_plain_words(tmp_path: Path) -> None:
    project = make_repo(tmp_path / "project")
    (project / ".claude").mkdir()
    path = project / ".claude" / "settings.json"
    path.write_bytes(b'\xef\xbb\xbf{"model": "opus"}\n')
    with pytest.raises(FatalError, match=r"settings.json begins with a byte order mark \(BOM\)"):
        install.install(project)
    assert path.read_bytes() == b'\xef\xbb\xbf{"model": "opus"}\n'


def test_registered_commands_run_from_a_shell_with_spaces_everywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # selfdistill installed under a path with spaces and a quote, a project under another one.
    env_bin = tmp_path / "my tools" / "it's venv" / "bin"
    env_bin.mkdir(parents=True)
    log = tmp_path / "calls.log"
    wrapper = env_bin / "python"
    real = shlex.quote(sys.executable)
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> {shlex.quote(str(log))}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(wrapper))
    project = tmp_path / "my project"
    project.mkdir()

    install.install(project)
    commands = hook_commands(project)
    assert commands["Stop"] == shlex.join([str(wrapper), ENTRY, "hook", "Stop"])

    # Claude Code runs the command string with a shell, the payload on stdin, from the project,
    # with a PATH that need not contain selfdistill.
    for event, command in commands.items():
        payload = json.dumps({"hook_event_name": event, "session_id": "s", "cwd": str(project)})
        done = subprocess.run(
            ["sh", "-c", command],
            cwd=project,
            input=payload,
            text=True,
            capture_output=True,
            env={**os.environ, "PATH": "/usr/bin:/bin"},
            timeout=60,
        )
        assert (done.returncode, done.stdout) == (0, ""), (event, done)
    assert log.read_text().splitlines() == [f"{ENTRY} hook {event}" for event in commands]


def test_hooks_run_the_entry_file_with_this_environment_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = tmp_path / "no script here"
    bare.mkdir()
    python = bare / "python"
    python.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    python.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(python))
    project = tmp_path / "project"
    project.mkdir()
    install.install(project)
    command = hook_commands(project)["SessionEnd"]
    entry_file = Path(install.__file__).with_name("entry.py")
    assert command == shlex.join([str(python), str(entry_file), "hook", "SessionEnd"])
    done = subprocess.run(["sh", "-c", command], input="{}", text=True, capture_output=True)
    assert (done.returncode, done.stdout) == (0, "")


def test_cli_install_and_uninstall_with_a_chained_git_hook(tmp_path: Path) -> None:
    project = make_repo(tmp_path / "my project")
    commit_file(project, "a.txt", "a\n", "First")
    hooks = project / ".git" / "hooks"
    foreign = b"#!/bin/sh\necho foreign >> foreign.log\nexit 1\n"
    (hooks / "post-commit").write_bytes(foreign)
    (hooks / "post-commit").chmod(0o700)

    done = cli("install", "--project", str(project))
    assert done.returncode == 0, done.stderr
    assert "registered the selfdistill hooks" in done.stdout
    assert "installed the git post-commit hook" in done.stdout
    assert "kept as post-commit.legacy" in done.stdout
    snapshot = {p.name: p.read_bytes() for p in hooks.iterdir()}
    settings_bytes = (project / ".claude" / "settings.json").read_bytes()

    again = cli("install", cwd=project)  # --project defaults to the current directory
    assert again.returncode == 0, again.stderr
    assert "already installed" in again.stdout
    assert {p.name: p.read_bytes() for p in hooks.iterdir()} == snapshot
    assert (project / ".claude" / "settings.json").read_bytes() == settings_bytes

    commit_file(project, "b.txt", "b\n", "Second")  # the chained hook fails; the commit stands
    assert run(project, "log", "-1", "--format=%s").strip() == "Second"
    assert (project / "foreign.log").read_text() == "foreign\n"

    gone = cli("uninstall", "--project", str(project))
    assert gone.returncode == 0, gone.stderr
    assert "restored your own" in gone.stdout
    assert (hooks / "post-commit").read_bytes() == foreign
    assert stat.S_IMODE((hooks / "post-commit").stat().st_mode) == 0o700
    assert not (hooks / "post-commit.legacy").exists()
    assert not (project / ".claude").exists()

    twice = cli("uninstall", "--project", str(project))
    assert twice.returncode == 0
    assert "nothing to remove" in twice.stdout


def observed_events(project: Path, count: int) -> list[str]:
    """The events recorded for `project`, once `count` are there (the git hook runs detached)."""
    state = ProjectState.for_project(project)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        events = [record["event"] for _, record in iter_observations(state)]
        if len(events) >= count:
            return events
        time.sleep(0.05)
    return [record["event"] for _, record in iter_observations(state)]


def test_a_shared_hooks_folder_stays_until_its_last_project_uninstalls(tmp_path: Path) -> None:
    # A global core.hooksPath: one hook serves every repository of the user.
    shared = tmp_path / "shared hooks"
    first, second, never = (make_repo(tmp_path / name) for name in ("first", "second", "never"))
    for repo in (first, second, never):
        run(repo, "config", "core.hooksPath", str(shared))
    assert cli("install", "--project", str(first)).returncode == 0
    assert cli("install", "--project", str(second)).returncode == 0

    gone = cli("uninstall", "--project", str(first))
    assert gone.returncode == 0, gone.stderr
    assert "other projects still use it" in gone.stdout
    assert f"still used by {second}" in gone.stdout
    assert githook.is_ours(shared / "post-commit")
    commit_file(never, "a.txt", "a\n", "Not ours")  # never installed: nothing is recorded
    commit_file(first, "a.txt", "a\n", "Uninstalled")
    commit_file(second, "a.txt", "a\n", "Still installed")
    assert observed_events(second, 1) == ["GitCommit"]
    for repo in (first, never):  # the hook runs detached: run it once more, and wait for it
        assert cli("hook", "GitCommit", cwd=repo).returncode == 0
        assert observed_events(repo, 0) == []

    last = cli("uninstall", "--project", str(second))
    assert "removed the git post-commit hook" in last.stdout
    assert not (shared / "post-commit").exists()


def test_concurrent_installs_into_one_shared_folder_chain_the_users_hook_once(
    tmp_path: Path,
) -> None:
    shared = tmp_path / "shared"
    foreign = b"#!/bin/sh\nexit 0\n"
    shared.mkdir()
    (shared / "post-commit").write_bytes(foreign)
    (shared / "post-commit").chmod(0o755)
    projects = [make_repo(tmp_path / f"p{index}") for index in range(6)]
    for project in projects:
        run(project, "config", "core.hooksPath", str(shared))
    command = [sys.executable, "-m", "selfdistill", "install", "--project"]
    running = [subprocess.Popen([*command, str(p)], stdout=subprocess.DEVNULL) for p in projects]
    assert [process.wait(timeout=60) for process in running] == [0] * len(projects)

    assert sorted(p.name for p in shared.iterdir()) == ["post-commit", "post-commit.legacy"]
    assert (shared / "post-commit.legacy").read_bytes() == foreign
    listed = json.loads(hookusers.record_path().read_text())["hooks"][str(shared.resolve())]
    assert sorted(listed) == sorted(str(p.resolve()) for p in projects)
    for project in projects:
        install.uninstall(project)
    assert (shared / "post-commit").read_bytes() == foreign
    assert sorted(p.name for p in shared.iterdir()) == ["post-commit"]


def test_a_deleted_project_does_not_keep_a_shared_hook_alive(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    kept, deleted = make_repo(tmp_path / "kept"), make_repo(tmp_path / "deleted")
    for repo in (kept, deleted):
        run(repo, "config", "core.hooksPath", str(shared))
        install.install(repo)
    shutil.rmtree(deleted)
    report = install.uninstall(kept)
    assert report.git is not None and report.git.action == "removed"
    assert json.loads(hookusers.record_path().read_text()) == {"hooks": {}}


def test_worktrees_of_one_repository_share_the_hook(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    commit_file(repo, "a.txt", "a\n", "First")
    worktree = tmp_path / "side"
    run(repo, "worktree", "add", "-q", "-b", "side", str(worktree))
    install.install(repo)
    install.install(worktree)
    report = install.uninstall(repo)
    assert report.git is not None and report.git.action == "kept"
    assert report.git.users == (worktree.resolve(),)
    commit_file(worktree, "b.txt", "b\n", "In the worktree")
    assert observed_events(worktree, 1) == ["GitCommit"]
    assert install.uninstall(worktree).git.action == "removed"  # type: ignore[union-attr]


def test_a_new_worktree_with_the_tracked_settings_records_its_commits(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    install.install(repo)
    run(repo, "add", ".claude/settings.json")
    run(repo, "commit", "-q", "-m", "Track the Claude Code settings")
    worktree = tmp_path / "side"
    run(repo, "worktree", "add", "-q", "-b", "side", str(worktree))  # never installed itself
    commit_file(worktree, "b.txt", "b\n", "In the new worktree")
    assert observed_events(worktree, 1) == ["GitCommit"]


def test_no_git_skips_the_git_hook(tmp_path: Path) -> None:
    project = make_repo(tmp_path / "project")
    report = install.install(project, with_git=False)
    assert report.git is None and report.git_note == "skipped (--no-git)"
    assert not (project / ".git" / "hooks" / "post-commit").exists()
    assert (project / ".claude" / "settings.json").exists()


def test_a_missing_project_directory_is_a_user_error(tmp_path: Path) -> None:
    done = cli("install", "--project", str(tmp_path / "missing"))
    assert done.returncode == 1
    assert done.stderr == f"selfdistill: no such project directory: {tmp_path / 'missing'}\n"
    assert not (tmp_path / "missing").exists()


@pytest.mark.e2e
def test_real_claude_code_fires_every_registered_hook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The registrations as Claude Code itself reads them: every event we register arrives."""
    from tests.support.claude_cli import claude_binary, run_claude
    from tests.support.fake_api import FakeAnthropic, bash, text

    claude_binary()  # skips when the binary is missing
    env_bin = tmp_path / "tool env" / "bin"
    env_bin.mkdir(parents=True)
    log = tmp_path / "events.log"
    recorder = env_bin / "python"  # hooks run `<python> <entry.py> hook EVENT`
    recorder.write_text(f'#!/bin/sh\necho "$3" >> {shlex.quote(str(log))}\ncat >/dev/null\n')
    recorder.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(recorder))
    project = make_repo(tmp_path / "my project")
    install.install(project, with_git=False)

    script = [bash("false", "Fail once"), bash("echo ok", "Succeed"), text("Done.")]
    with FakeAnthropic(script) as api:
        result = run_claude(project, "Run two commands", api, allowed_tools=("Bash",))
    assert result.returncode == 0, result
    fired = set(log.read_text().split())
    # SubagentStop and PreCompact need a subagent or a compaction: registered the same way.
    expected = set(settings.EVENTS) - {"SubagentStop", "PreCompact"}
    assert expected <= fired, fired


def test_a_moved_installation_updates_the_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_repo(tmp_path / "project")
    install.install(project)
    old_bin = tmp_path / "old venv" / "bin"
    old_bin.mkdir(parents=True)
    (old_bin / "python").symlink_to(sys.executable)
    monkeypatch.setattr(sys, "executable", str(old_bin / "python"))
    report = install.install(project)
    assert (report.settings.action, report.git and report.git.action) == ("updated", "updated")
    assert set(hook_commands(project).values()) == {
        shlex.join([str(old_bin / "python"), ENTRY, "hook", event]) for event in settings.EVENTS
    }
    hook_text = (project / ".git" / "hooks" / "post-commit").read_text()
    assert shlex.quote(str(old_bin / "python")) in hook_text


def use_installation(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """Act as another selfdistill installation: its own environment and SELFDISTILL_HOME."""
    env_bin = root / "venv" / "bin"
    if not env_bin.exists():
        env_bin.mkdir(parents=True)
        (env_bin / "python").symlink_to(sys.executable)
    monkeypatch.setattr(sys, "executable", str(env_bin / "python"))
    monkeypatch.setenv("SELFDISTILL_HOME", str(root / "home"))


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def deleted(root: Path) -> None:
    """The installation's environment is gone: its hooks can run no more."""
    shutil.rmtree(root / "venv")


def taken_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose first installation's environment was deleted and whose hooks a second
    installation took over; acting as the second."""
    project = tmp_path / "project"
    project.mkdir()
    use_installation(monkeypatch, tmp_path / "first")
    install.install(project)
    deleted(tmp_path / "first")
    use_installation(monkeypatch, tmp_path / "second")
    install.install(project)
    return project


def test_install_leaves_the_hooks_of_another_live_installation_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_repo(tmp_path / "project")
    use_installation(monkeypatch, tmp_path / "first")
    install.install(project)
    before = tree_bytes(project)
    use_installation(monkeypatch, tmp_path / "second")
    with pytest.raises(UserError, match=r"run another selfdistill installation \(.*first"):
        install.install(project)
    assert tree_bytes(project) == before
    assert not install.record_path(project).exists()


def test_uninstall_gives_back_the_hooks_of_another_installation_it_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / ".claude").mkdir(parents=True)
    path = project / ".claude" / "settings.json"
    path.write_text(USER_TEXT)
    use_installation(monkeypatch, tmp_path / "first")
    install.install(project)
    first = path.read_bytes()
    first_commands = hook_commands(project)
    deleted(tmp_path / "first")

    use_installation(monkeypatch, tmp_path / "second")
    assert install.install(project).settings.action == "replaced"
    assert set(hook_commands(project).values()).isdisjoint(first_commands.values())
    assert install.install(project).settings.action == "unchanged"

    assert install.uninstall(project).settings.action == "restored"
    assert path.read_bytes() == first, "the first installation's file, byte for byte"
    use_installation(monkeypatch, tmp_path / "first")
    assert install.uninstall(project).settings.action == "restored"
    assert path.read_text() == USER_TEXT


def test_uninstall_after_a_user_edit_puts_the_other_installations_hooks_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    use_installation(monkeypatch, tmp_path / "first")
    install.install(project)
    path = project / ".claude" / "settings.json"
    first = json.loads(path.read_text())
    deleted(tmp_path / "first")
    use_installation(monkeypatch, tmp_path / "second")
    install.install(project)
    edited = json.loads(path.read_text())
    edited["model"] = "opus"  # the user's own change, after the second install
    path.write_text(json.dumps(edited, indent=2))

    assert install.uninstall(project).settings.action == "removed"
    assert json.loads(path.read_text()) == {**first, "model": "opus"}, "no empty hook lists"


def test_uninstalling_an_installation_whose_hooks_were_replaced_leaves_the_new_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = taken_over(tmp_path, monkeypatch)
    path = project / ".claude" / "settings.json"
    second = path.read_bytes()

    use_installation(monkeypatch, tmp_path / "first")
    assert install.uninstall(project).settings.action == "foreign"
    assert path.read_bytes() == second


def cli_as(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The command line of another installation: its own environment and SELFDISTILL_HOME."""
    env_dir = root / "venv"
    if not env_dir.exists():
        (env_dir / "bin").mkdir(parents=True)
        shutil.copy(Path(sys.prefix) / "pyvenv.cfg", env_dir / "pyvenv.cfg")
        (env_dir / "lib").symlink_to(Path(sys.prefix) / "lib")  # this environment's packages
        (env_dir / "bin" / "python").symlink_to(sys.executable)
    env = {**os.environ, "SELFDISTILL_HOME": str(root / "home")}
    command = [str(env_dir / "bin" / "python"), "-m", "selfdistill", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def test_cli_says_when_it_takes_over_another_installations_hooks(tmp_path: Path) -> None:
    project = make_repo(tmp_path / "project")
    assert cli_as(tmp_path / "first", "install", "--project", str(project)).returncode == 0
    first = (project / ".claude" / "settings.json").read_bytes()
    refused = cli_as(tmp_path / "second", "install", "--project", str(project), "--no-git")
    uninstall_first = shlex.join(
        [str(tmp_path / "first" / "venv" / "bin" / "python"), ENTRY, "uninstall"]
    )
    assert (refused.returncode, refused.stdout) == (1, "")
    assert f"uninstall it first (`{uninstall_first} --project" in refused.stderr
    assert (project / ".claude" / "settings.json").read_bytes() == first

    deleted(tmp_path / "first")  # its hooks can run no more: taken over
    second = cli_as(tmp_path / "second", "install", "--project", str(project), "--no-git")
    assert second.returncode == 0, second.stderr
    assert "pointed the hooks of another selfdistill installation" in second.stdout
    gone = cli_as(tmp_path / "second", "uninstall", "--project", str(project))
    assert gone.returncode == 0, gone.stderr
    assert "restored your original file" in gone.stdout
    assert (project / ".claude" / "settings.json").read_bytes() == first


def test_cli_uninstall_of_an_installation_taken_over_says_why_once(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    assert cli_as(tmp_path / "first", "install", "--project", str(project), "--no-git").stdout
    deleted(tmp_path / "first")
    assert cli_as(tmp_path / "second", "install", "--project", str(project), "--no-git").stdout
    gone = cli_as(tmp_path / "first", "uninstall", "--project", str(project))  # set up again
    assert gone.returncode == 0, gone.stderr
    assert "run another selfdistill installation: left as they are" in gone.stdout
    assert "not installed here" not in gone.stdout  # it was; its hooks were taken over


def cli_without_git(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    nothing = tmp_path / "empty bin"
    nothing.mkdir(exist_ok=True)
    env = {**os.environ, "PATH": str(nothing)}
    command = [sys.executable, "-m", "selfdistill", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def test_install_without_git_names_the_way_out_and_changes_nothing(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    done = cli_without_git(tmp_path, "install", "--project", str(project))
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "git is not installed" in done.stderr
    assert "selfdistill install --no-git" in done.stderr
    assert list(project.iterdir()) == []


def test_uninstall_without_git_succeeds_when_no_git_hook_was_installed(tmp_path: Path) -> None:
    project = make_repo(tmp_path / "project")
    assert cli("install", "--project", str(project), "--no-git").returncode == 0
    done = cli_without_git(tmp_path, "uninstall", "--project", str(project))
    assert (done.returncode, done.stderr) == (0, "")
    assert "removed" in done.stdout and "git is not installed" in done.stdout
    assert not (project / ".claude").exists()


def test_uninstall_without_git_says_the_git_hook_it_could_not_remove(tmp_path: Path) -> None:
    project = make_repo(tmp_path / "project")
    assert cli("install", "--project", str(project)).returncode == 0
    done = cli_without_git(tmp_path, "uninstall", "--project", str(project))
    assert done.returncode == 1
    assert "removed" in done.stdout and not (project / ".claude").exists()
    hook = project / ".git" / "hooks" / "post-commit"
    assert done.stderr == (
        f"selfdistill: git is not installed, so the git post-commit hook in {hook.parent.resolve()}"
        " is still there: run `selfdistill uninstall` again where git is installed\n"
    )
    again = cli("uninstall", "--project", str(project))
    assert again.returncode == 0, again.stderr
    assert "removed the git post-commit hook" in again.stdout and not hook.exists()


RECORDED = Path(__file__).parent / "data" / "recorded"


def test_uninstall_says_how_to_take_published_lessons_out(tmp_path: Path) -> None:
    project = make_repo(tmp_path / "project")
    (project / "CLAUDE.md").write_text("# Notes\n")
    assert cli("install", "--project", str(project)).returncode == 0
    sessions = [
        f"--transcript={RECORDED / name}" for name in ("session-1.jsonl", "session-2.jsonl")
    ]
    assert cli("run", "--project", str(project), *sessions).returncode == 0
    published = (project / "CLAUDE.md").read_bytes()
    assert b"<!-- selfdistill:begin -->" in published

    done = cli("uninstall", "--project", str(project))
    assert done.returncode == 0, done.stderr
    last = done.stdout.splitlines()[-1]
    assert last == (
        "published lessons stay in CLAUDE.md: to take them out, run "
        f"`selfdistill lessons reject ID --project {project}` for each active lesson "
        f"(`selfdistill lessons --status active --project {project}` lists them)"
    )
    assert (project / "CLAUDE.md").read_bytes() == published, "uninstall does not touch them"


def test_published_lessons_are_our_block_and_the_skills_we_still_own(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    assert install.published_lessons(project) == ()
    (project / "CLAUDE.md").write_text(
        "```\n<!-- selfdistill:begin -->\n<!-- selfdistill:end -->\n```\n"
    )
    assert install.published_lessons(project) == (), "an example in a code fence is the user's"
    ours, edited = skills.skill_path(project, "ours"), skills.skill_path(project, "edited")
    for path in (ours, edited):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"---\nname: x\n---\n")
    owned = {
        name: skills.Owned("lesson", skills.digest(b"---\nname: x\n---\n"))
        for name in ("ours", "edited", "deleted")
    }
    state = ProjectState.for_project(project)
    journal.registry_path(state).parent.mkdir(parents=True)
    skills.save_registry(journal.registry_path(state), skills.Registry(owned))
    edited.write_bytes(b"---\nname: x\n---\nthe user's now\n")
    assert install.published_lessons(project) == (ours,)


def test_installations_taking_turns_each_put_back_the_hooks_they_took_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = taken_over(tmp_path, monkeypatch)
    second = hook_commands(project)
    deleted(tmp_path / "second")
    use_installation(monkeypatch, tmp_path / "first")  # set up again
    assert install.install(project).settings.action == "replaced"

    assert install.uninstall(project).settings.action == "removed"
    assert hook_commands(project) == second, "the second installation's hooks, back in place"
