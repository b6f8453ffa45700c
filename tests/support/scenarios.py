"""A small test project and named scripted sessions that end-to-end tests reuse.

Each scenario is a prompt, a script for FakeAnthropic and extra environment for run_claude, plus
what the session is known to produce (checked by tests/e2e/test_harness.py), so a test can assert
on selfdistill's view of it without replaying the session in its head.

    scenario = tests_fail_then_pass_another_way(project)
    with FakeAnthropic(scenario.script) as api:
        run = run_claude(project, scenario.prompt, api, env=scenario.env)
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.fake_api import ScriptItem, Turn, bash, edit, text

PACKAGE = "calc"
SOURCE = f"{PACKAGE}/__init__.py"
TEST_FILE = "tests/test_calc.py"

_SOURCE_TEXT = '''"""A tiny package for end-to-end tests."""


def add(a, b):
    return a + b


def mul(a, b):
    return a * b
'''

_TEST_TEXT = f"""import unittest

from {PACKAGE} import add, mul


class CalcTest(unittest.TestCase):
    def test_add(self):
        self.assertEqual(add(2, 3), 5)

    def test_mul(self):
        self.assertEqual(mul(2, 3), 6)
"""


def make_project(root: Path) -> Path:
    """A git repository at `root` (one commit) with the `calc` package and unittest-style tests."""
    (root / PACKAGE).mkdir(parents=True)
    (root / SOURCE).write_text(_SOURCE_TEXT)
    (root / "tests").mkdir()
    (root / "tests" / "__init__.py").write_text("")
    (root / TEST_FILE).write_text(_TEST_TEXT)
    (root / ".gitignore").write_text("__pycache__/\n")
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "Initial commit")
    return root


def _git(root: Path, *args: str) -> None:
    # Identity on the command line: the temporary HOME has no git config.
    identity = ("-c", "user.name=Test", "-c", "user.email=test@example.invalid")
    subprocess.run(["git", *identity, *args], cwd=root, check=True, capture_output=True)


def python_without_pytest(bin_dir: Path) -> dict[str, str]:
    """Environment whose `python3` cannot import pytest, deterministically, on any machine.

    The machine's python3 may well have pytest, so a `python3` wrapper goes first on PATH: it runs
    this interpreter with -S (no site-packages at all: neither the venv's nor the system's, where
    pytest lives) and -E (ignore PYTHONPATH). The standard library stays, so `python3 -m unittest`
    works; `-m` still puts the current directory on sys.path, so the project imports. Not -I: that
    would drop the current directory too.
    """
    bin_dir.mkdir(parents=True, exist_ok=True)
    wrapper = bin_dir / "python3"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -E -S "$@"\n')
    wrapper.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


@dataclass(frozen=True)
class Scenario:
    """A scripted session. `tool_errors` says, per tool call in order, whether it fails.

    `hook_failures` counts the failures Claude Code reports to PostToolUseFailure hooks; it can be
    lower than the failures in `tool_errors`: an Edit whose old_string does not match is refused
    before any hook runs, so only the transcript shows it.
    """

    name: str
    prompt: str
    script: tuple[ScriptItem, ...]
    tool_errors: tuple[bool, ...]
    hook_failures: int
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def answer(self) -> str:
        """The agent's last text: what `claude -p` prints when the session ends."""
        last = self.script[-1]
        return last.text if isinstance(last, Turn) else ""


PYTEST_COMMAND = "python3 -m pytest -q"
UNITTEST_COMMAND = "python3 -m unittest discover -s tests"
MISSING_SCRIPT_COMMAND = "python3 scripts/check.py"


def tests_fail_then_pass_another_way(project: Path) -> Scenario:
    """`python3 -m pytest` fails (No module named pytest), then `python3 -m unittest` passes."""
    return Scenario(
        name="tests_fail_then_pass_another_way",
        prompt="Run the test suite and make sure it passes.",
        script=(
            bash(PYTEST_COMMAND, "Run the tests"),
            bash(UNITTEST_COMMAND, "Run the tests with unittest"),
            text("pytest is not installed here; the tests pass with unittest."),
        ),
        tool_errors=(True, False),
        hook_failures=1,
        env=python_without_pytest(project.parent / f"{project.name}-bin"),
    )


def edit_mismatch_then_fix(project: Path) -> Scenario:
    """An Edit whose old_string is not in the file (refused), then a correct Edit."""
    path = str(project / SOURCE)
    return Scenario(
        name="edit_mismatch_then_fix",
        prompt="Make add() return an int.",
        script=(
            edit(path, "return a+b", "return int(a + b)"),
            edit(path, "return a + b", "return int(a + b)"),
            text("add() now returns an int."),
        ),
        tool_errors=(True, False),
        hook_failures=0,
    )


def repeated_failure(project: Path) -> Scenario:
    """The same failing command three times, identically (the file does not exist)."""
    return Scenario(
        name="repeated_failure",
        prompt="Run the project's check script.",
        script=(
            bash(MISSING_SCRIPT_COMMAND, "Run the check script"),
            bash(MISSING_SCRIPT_COMMAND, "Run the check script"),
            bash(MISSING_SCRIPT_COMMAND, "Run the check script"),
            text("The check script fails; I could not run it."),
        ),
        tool_errors=(True, True, True),
        hook_failures=3,
    )


def plain_success(project: Path) -> Scenario:
    """One passing command, then a short answer."""
    return Scenario(
        name="plain_success",
        prompt="Run the tests.",
        script=(bash(UNITTEST_COMMAND, "Run the tests"), text("All tests pass.")),
        tool_errors=(False,),
        hook_failures=0,
    )


COMMIT_COMMAND = (
    "git -c user.name=Test -c user.email=test@example.invalid commit -am 'Round products to ints'"
)


def change_check_commit(project: Path) -> Scenario:
    """An edit, the tests passing, a second edit, a commit: the work holds up twice."""
    path = str(project / SOURCE)
    return Scenario(
        name="change_check_commit",
        prompt="Make add() and mul() return ints, check the tests and commit.",
        script=(
            edit(path, "return a + b", "return int(a + b)"),
            bash(UNITTEST_COMMAND, "Run the tests"),
            edit(path, "return a * b", "return int(a * b)"),
            bash(COMMIT_COMMAND, "Commit the change"),
            text("Both return ints; the tests pass and the change is committed."),
        ),
        tool_errors=(False, False, False, False),
        hook_failures=0,
    )


ALL = (
    tests_fail_then_pass_another_way,
    edit_mismatch_then_fix,
    repeated_failure,
    plain_success,
    change_check_commit,
)
