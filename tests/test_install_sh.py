"""The real install.sh: one run into a temporary HOME, one re-run, and its refusals.

The run needs pip to reach the package registry for the dependencies; pip's own cache is reused
(PIP_CACHE_DIR, else the user's usual one) so that it stays quick.
"""

from __future__ import annotations

import json
import os
import pwd
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from selfdistill import settings

REPOSITORY = Path(__file__).resolve().parents[1]
INSTALL_SH = REPOSITORY / "install.sh"


@dataclass(frozen=True)
class Installed:
    home: Path
    project: Path
    first: subprocess.CompletedProcess[str]
    second: subprocess.CompletedProcess[str]
    after_first: dict[str, bytes]
    after_second: dict[str, bytes]

    @property
    def venv_bin(self) -> Path:
        return self.home / ".local" / "share" / "selfdistill" / "venv" / "bin"


def project_files(project: Path) -> dict[str, bytes]:
    """Every file install.sh may touch in the project (settings, git hooks), by relative path."""
    found = {}
    for folder in (project / ".claude", project / ".git" / "hooks"):
        for path in sorted(folder.rglob("*")) if folder.exists() else ():
            if path.is_file():
                found[str(path.relative_to(project))] = path.read_bytes()
    return found


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SELFDISTILL_", "XDG_"))}
    env.pop("VIRTUAL_ENV", None)
    env["HOME"] = str(home)
    # pip asks `rustc --version` for its user agent; a rustup proxy answering that writes
    # ~/.rustup/settings.toml into HOME. Not ours to judge: keep rustup out of the way.
    env["PATH"] = os.pathsep.join(
        entry
        for entry in env.get("PATH", "").split(os.pathsep)
        if not (Path(entry) / "rustup").exists()
    )
    if "PIP_CACHE_DIR" not in os.environ:
        env["PIP_CACHE_DIR"] = str(Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cache" / "pip")
    env.update(extra)
    return env


def run_install_sh(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(INSTALL_SH), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("install sh")
    home = root / "home"
    home.mkdir()
    project = root / "my project"
    project.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    (project / ".claude").mkdir()
    (project / ".claude" / "settings.json").write_text('{"permissions": {"allow": ["Bash(ls)"]}}\n')
    env = clean_env(home)
    # SELFDISTILL_HOME and XDG_DATA_HOME unset: the default ~/.local/share/selfdistill is used.
    first = run_install_sh(root, env, str(project))
    after_first = project_files(project)
    second = run_install_sh(project, env)  # PROJECT_DIR defaults to the current directory
    return Installed(home, project, first, second, after_first, project_files(project))


def test_install_sh_builds_a_working_isolated_environment(installed: Installed) -> None:
    assert installed.first.returncode == 0, installed.first.stderr
    version = subprocess.run(
        [str(installed.venv_bin / "selfdistill"), "--version"], capture_output=True, text=True
    )
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("selfdistill, version ")
    assert str(installed.venv_bin / "selfdistill") in installed.first.stdout
    # the MCP SDK is optional: the pip that installs it where selfdistill runs is named
    assert f"{installed.venv_bin / 'python'} -m pip install 'mcp>=2'" in installed.first.stdout
    # Nothing in HOME but SELFDISTILL_HOME (pip's cache is elsewhere here, see clean_env).
    assert [p.name for p in installed.home.iterdir()] == [".local"]
    assert [p.name for p in (installed.home / ".local" / "share").iterdir()] == ["selfdistill"]


def test_install_sh_registers_the_hooks_in_the_project(installed: Installed) -> None:
    data = json.loads(installed.after_first[".claude/settings.json"])
    assert data["permissions"] == {"allow": ["Bash(ls)"]}
    commands = {
        settings.event_of(entry): entry["command"]
        for groups in data["hooks"].values()
        for group in groups
        for entry in group["hooks"]
    }
    assert set(commands) == set(settings.EVENTS)
    python, entry, *rest = shlex.split(commands["Stop"])
    assert python == str(installed.venv_bin / "python")
    assert entry.startswith(str(installed.venv_bin.parent / "lib"))  # the venv's own copy
    assert entry.endswith("/site-packages/selfdistill/entry.py")
    assert rest == ["hook", "Stop"]
    assert b"selfdistill-hook-id" in installed.after_first[".git/hooks/post-commit"]


def test_running_install_sh_again_changes_nothing(installed: Installed) -> None:
    assert installed.second.returncode == 0, installed.second.stderr
    assert "already installed" in installed.second.stdout
    assert installed.after_second == installed.after_first


def test_install_sh_explains_a_too_old_python(tmp_path: Path) -> None:
    old = tmp_path / "python3.8"
    old.write_text('#!/bin/sh\ncase "$2" in *print*) echo 3.8.10 ;; *) exit 1 ;; esac\n')
    old.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    done = run_install_sh(tmp_path, clean_env(home, PYTHON=str(old)))
    assert done.returncode == 1
    assert "needs Python 3.10 or newer" in done.stderr and "3.8.10" in done.stderr
    assert list(home.iterdir()) == []


def test_install_sh_explains_a_missing_python(tmp_path: Path) -> None:
    tools = tmp_path / "bin"
    tools.mkdir()
    for name in ("dirname",):
        (tools / name).symlink_to(shutil.which(name) or f"/usr/bin/{name}")
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run(
        ["/bin/sh", str(INSTALL_SH)],
        cwd=tmp_path,
        env={"HOME": str(home), "PATH": str(tools)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "no python3 was found" in done.stderr
    assert list(home.iterdir()) == []


def test_install_sh_refuses_a_relative_state_home(tmp_path: Path) -> None:
    done = run_install_sh(tmp_path, clean_env(tmp_path, SELFDISTILL_HOME="relhome"))
    assert done.returncode == 1
    assert done.stderr == (
        "install.sh: SELFDISTILL_HOME must be an absolute path, not 'relhome' "
        "(hooks and commands run in different folders)\n"
    )
    assert not (tmp_path / "relhome").exists()


def test_install_sh_refuses_a_missing_project(tmp_path: Path) -> None:
    done = run_install_sh(tmp_path, clean_env(tmp_path), str(tmp_path / "nope"))
    assert done.returncode == 1
    assert "no such project directory" in done.stderr


def test_install_sh_ignores_a_relative_xdg_data_home(tmp_path: Path) -> None:
    # A stand-in python: new enough, but it cannot make the environment; it notes where it was.
    calls = tmp_path / "calls"
    python = tmp_path / "python3"
    python.write_text(
        f'#!/bin/sh\n[ "$1" = -m ] || exit 0\necho "$@" > {shlex.quote(str(calls))}\nexit 1\n'
    )
    python.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    done = run_install_sh(tmp_path, clean_env(home, PYTHON=str(python), XDG_DATA_HOME="relx"))
    assert done.returncode == 1
    venv = home / ".local" / "share" / "selfdistill" / "venv"
    assert calls.read_text() == f"-m venv --clear {venv}\n"
    assert not (tmp_path / "relx").exists()


def test_install_sh_names_the_command_to_run_again_when_registering_fails(
    installed: Installed, tmp_path: Path
) -> None:
    tools = tmp_path / "bin"  # no git among them
    tools.mkdir()
    (tools / "dirname").symlink_to(shutil.which("dirname") or "/usr/bin/dirname")
    env = clean_env(installed.home, PATH=str(tools), PYTHON=str(installed.venv_bin / "python"))
    project = tmp_path / "other project"
    project.mkdir()
    done = run_install_sh(tmp_path, env, str(project))
    assert done.returncode == 1
    first, second = done.stderr.splitlines()[-2:]
    assert "selfdistill install --no-git" in first
    assert second == (
        f"install.sh: selfdistill is in {installed.venv_bin.parent}, but its hooks are not "
        f"registered; after the fix above, run: {installed.venv_bin / 'selfdistill'} install "
        f'--project "{project}"'
    )
    assert list(project.iterdir()) == []
