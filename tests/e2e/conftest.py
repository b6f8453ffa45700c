"""Fixtures for end-to-end tests: the real Claude Code CLI against the scripted FakeAnthropic.

Every test collected under tests/e2e/ gets the `e2e` marker (`pytest -m "not e2e"` skips them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.support.claude_cli import claude_binary
from tests.support.fake_api import FakeAnthropic, ScriptItem
from tests.support.scenarios import make_project

HERE = Path(__file__).parent

FakeApiFactory = Callable[..., FakeAnthropic]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def claude_bin() -> Path:
    """The Claude Code binary; skips the test (fails it on CI) when it is missing."""
    return claude_binary()


@pytest.fixture
def fake_api() -> Iterator[FakeApiFactory]:
    """`fake_api(script, **options)` starts a FakeAnthropic that stops when the test ends."""
    with ExitStack() as stack:

        def start(script: Sequence[ScriptItem] = (), **options: Any) -> FakeAnthropic:
            return stack.enter_context(FakeAnthropic(script, **options))

        yield start


@pytest.fixture
def project(tmp_path: Path, claude_bin: Path) -> Path:
    """A committed git repository with a small Python package and tests; its path has a space."""
    return make_project(tmp_path / "my project")
