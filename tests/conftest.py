"""Every test runs with its own HOME and SELFDISTILL_HOME, and fails if it touches the real ones."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REAL_HOME = Path(os.path.expanduser("~"))
GUARDED = (REAL_HOME / ".claude", REAL_HOME / ".local" / "share" / "selfdistill")


def _snapshot(root: Path) -> dict[str, float]:
    if not root.exists():
        return {}
    seen: dict[str, float] = {str(root): root.stat().st_mtime}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            try:
                seen[path] = os.lstat(path).st_mtime
            except OSError:
                continue
    return seen


@pytest.fixture(scope="session")
def _real_home_before() -> dict[str, dict[str, float]]:
    return {str(root): _snapshot(root) for root in GUARDED}


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    _real_home_before: dict[str, dict[str, float]],
) -> Iterator[Path]:
    """A private HOME and SELFDISTILL_HOME per test; the real ~/.claude and state stay untouched."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("SELFDISTILL_HOME", str(home / "selfdistill-state"))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("CLAUDE_PROJECT_DIR", raising=False)
    # Processes the tests start run this checkout's code, whatever checkout (a worktree) the
    # environment's editable install points at.
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    yield home
    for root in GUARDED:
        after = _snapshot(root)
        assert after == _real_home_before[str(root)], f"a test touched the real {root}"
