"""A Claude Code run started inside another one is not captured (privacy.nested_claude_run)."""

from __future__ import annotations

from pathlib import Path

from selfdistill.privacy import nested_claude_run


def fake_proc(root: Path, table: dict[int, tuple[str, int]]) -> str:
    """A /proc with `stat` files for pid -> (command name, parent pid)."""
    for pid, (comm, parent) in table.items():
        (root / str(pid)).mkdir(parents=True)
        (root / str(pid) / "stat").write_text(f"{pid} ({comm}) S {parent} 1 1 0 -1\n")
    return str(root)


def test_a_claude_under_another_claude_is_nested(tmp_path: Path) -> None:
    # outer claude 10 -> bash 20 (a tool call) -> inner claude 30 -> sh 40 (the hook)
    proc = fake_proc(
        tmp_path,
        {10: ("claude", 5), 5: ("bash", 1), 20: ("bash", 10), 30: ("claude", 20), 40: ("sh", 30)},
    )
    assert nested_claude_run({"CLAUDE_PID": "30"}, proc)
    assert not nested_claude_run({"CLAUDE_PID": "10"}, proc)


def test_names_with_spaces_and_parentheses_are_read_right(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, {7: ("my (odd) claude", 3), 3: ("tmux: server", 1)})
    assert not nested_claude_run({"CLAUDE_PID": "7"}, proc)


def test_without_claude_pid_or_proc_nothing_is_nested(tmp_path: Path) -> None:
    assert not nested_claude_run({}, str(tmp_path))
    assert not nested_claude_run({"CLAUDE_PID": "not a pid"}, str(tmp_path))
    assert not nested_claude_run({"CLAUDE_PID": "123"}, str(tmp_path / "missing"))


def test_a_parent_loop_ends(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, {50: ("claude", 60), 60: ("bash", 61), 61: ("zsh", 60)})
    assert not nested_claude_run({"CLAUDE_PID": "50"}, proc)
