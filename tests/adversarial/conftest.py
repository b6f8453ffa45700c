"""Each adversarial suite records its figures; the terminal summary prints them all at the end.

A suite calls `figures("secrets", cases=41, leaks=0)`: counts add up across its tests. The
figures are the suite's evidence (cases tried, leaks, losses, corruptions), shown on every run.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

FIGURES = pytest.StashKey[dict[str, dict[str, float]]]()
LONG = os.environ.get("SELFDISTILL_LONG_TESTS", "") not in ("", "0")

Recorder = Callable[..., None]


def pytest_configure(config: pytest.Config) -> None:
    config.stash[FIGURES] = {}


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Recorder:
    """figures(suite, name=count, ...): add counts to a suite's figures; floats are kept as set."""
    table = request.config.stash[FIGURES]

    def record(suite: str, **counts: float) -> None:
        row = table.setdefault(suite, {})
        for name, value in counts.items():
            row[name] = value if isinstance(value, float) else row.get(name, 0) + value

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    table = terminalreporter.config.stash.get(FIGURES, {})
    if not table:
        return
    terminalreporter.section("selfdistill adversarial figures")
    for suite in sorted(table):
        row = table[suite]
        shown = ", ".join(
            f"{name}={value:.3f}" if isinstance(value, float) else f"{name}={value}"
            for name, value in row.items()
        )
        terminalreporter.write_line(f"{suite}: {shown}")
