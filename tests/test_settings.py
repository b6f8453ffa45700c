"""The settings.json merge: pure functions over parsed settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from selfdistill import settings
from selfdistill.errors import FatalError

SCRIPT = "/opt/my tools/venv/bin/selfdistill"


def commands(script: str = SCRIPT) -> dict[str, str]:
    return {event: f"'{script}' hook {event}" for event in settings.EVENTS}


def ours(data: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(event, group, entry) for every entry of ours."""
    return [
        (event, group, entry)
        for event, groups in data.get("hooks", {}).items()
        for group in groups
        for entry in group.get("hooks", [])
        if settings.event_of(entry)
    ]


USER: dict[str, Any] = {
    "permissions": {"allow": ["Bash(npm test:*)"], "deny": ["Read(./.env)"]},
    "hooks": {
        "PostToolUse": [
            {"matcher": "Edit|Write", "hooks": [{"type": "command", "command": "npx prettier"}]}
        ],
        "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "guard.sh"}]}],
    },
    "model": "opus",
}


def test_registers_one_entry_per_event_with_the_documented_schema() -> None:
    merge = settings.with_hooks({}, commands())
    assert merge.created == ("hooks", *(f"hooks/{e}" for e in settings.EVENTS))
    found = ours(merge.settings)
    assert sorted(event for event, _, _ in found) == sorted(settings.EVENTS)
    for event, group, entry in found:
        assert entry == {"type": "command", "command": commands()[event], "timeout": 10}
        assert settings.event_of(entry) == event
        # Tool events filter on the tool name ("*": all); the others match everything unfiltered.
        assert group.get("matcher") == ("*" if event in settings.TOOL_EVENTS else None)


def test_keeps_the_users_settings_and_their_order() -> None:
    merge = settings.with_hooks(USER, commands())
    new = merge.settings
    assert list(new) == ["permissions", "hooks", "model"]
    assert new["permissions"] == USER["permissions"]
    assert new["hooks"]["PreToolUse"] == USER["hooks"]["PreToolUse"]
    # The user's PostToolUse group comes first, untouched; ours is a group of its own after it.
    assert new["hooks"]["PostToolUse"][0] == USER["hooks"]["PostToolUse"][0]
    assert len(new["hooks"]["PostToolUse"]) == 2
    assert "hooks/PostToolUse" not in merge.created and "hooks" not in merge.created
    assert USER["hooks"]["PostToolUse"][0]["hooks"] == [
        {"type": "command", "command": "npx prettier"}
    ], "the input was modified"


def test_a_second_merge_changes_nothing() -> None:
    first = settings.with_hooks(USER, commands()).settings
    second = settings.with_hooks(first, commands())
    assert second.settings == first
    assert second.created == ()


def test_a_new_install_path_updates_our_entry_in_place_keeping_the_users_tuning() -> None:
    first = settings.with_hooks(USER, commands("/old/bin/selfdistill")).settings
    stop = first["hooks"]["Stop"][0]
    stop["matcher"] = "tuned"
    stop["hooks"][0]["timeout"] = 30
    moved = settings.with_hooks(first, commands()).settings
    assert moved["hooks"]["Stop"] == [
        {
            "matcher": "tuned",
            "hooks": [{"type": "command", "command": commands()["Stop"], "timeout": 30}],
        }
    ]
    assert len(ours(moved)) == len(settings.EVENTS)


def test_duplicates_of_our_entry_are_dropped_and_the_users_stay() -> None:
    mine = {"type": "command", "command": commands()["Stop"], "timeout": 10}
    theirs = {"type": "command", "command": "notify-send done"}
    data = {"hooks": {"Stop": [{"hooks": [mine, theirs]}, {"hooks": [dict(mine)]}]}}
    merged = settings.with_hooks(data, commands()).settings
    assert merged["hooks"]["Stop"] == [{"hooks": [mine, theirs]}]


def test_uninstall_removes_ours_and_the_containers_we_created() -> None:
    merge = settings.with_hooks(USER, commands())
    assert settings.without_hooks(merge.settings, merge.created) == USER
    empty = settings.with_hooks({"model": "x"}, commands())
    assert settings.without_hooks(empty.settings, empty.created) == {"model": "x"}


def test_uninstall_keeps_containers_the_user_had_even_when_empty() -> None:
    user: dict[str, Any] = {"hooks": {"Stop": [], "SessionEnd": [{"hooks": []}]}}
    merge = settings.with_hooks(user, commands())
    assert settings.without_hooks(merge.settings, merge.created) == user


def test_uninstall_without_a_record_removes_what_it_emptied() -> None:
    merged = settings.with_hooks({"model": "x"}, commands()).settings
    assert settings.without_hooks(merged, None) == {"model": "x"}
    with_user_hook = json.loads(json.dumps(merged))
    with_user_hook["hooks"]["Stop"].append({"hooks": [{"type": "command", "command": "x"}]})
    left = settings.without_hooks(with_user_hook, None)
    assert left == {
        "model": "x",
        "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "x"}]}]},
    }


def test_uninstall_removes_our_entries_under_any_event() -> None:
    # Ours, even if moved by hand under another event.
    data = {"hooks": {"Notification": [{"hooks": [{"command": f"'{SCRIPT}' hook Stop"}]}]}}
    assert settings.without_hooks(data, None) == {}


def test_uninstall_puts_back_the_entries_of_another_installation_it_replaced() -> None:
    theirs = settings.with_hooks(USER, commands("/other/bin/selfdistill")).settings
    mine = settings.running(commands().values())
    replaced = settings.others_entries(theirs, mine)
    assert sorted(replaced) == sorted(settings.EVENTS)
    merge = settings.with_hooks(theirs, commands())
    edited = {**merge.settings, "model": "sonnet"}
    assert settings.without_hooks(edited, merge.created, mine, replaced) == {
        **theirs,
        "model": "sonnet",
    }
    # Theirs only: nothing of ours to remove, nothing put back.
    assert settings.without_hooks(theirs, (), mine, replaced) == theirs


@pytest.mark.parametrize(
    ("command", "event"),
    [
        ("'/a b/bin/selfdistill' hook Stop", "Stop"),
        ("selfdistill hook PostToolUse", "PostToolUse"),
        ("'/usr/bin/python3' -m selfdistill hook SessionEnd", "SessionEnd"),
        ("/bin/selfdistill-fork hook Stop", None),
        ("echo selfdistill hook Stop", None),
        ("selfdistill run", None),
        ("'unterminated", None),
    ],
)
def test_recognises_our_commands(command: str, event: str | None) -> None:
    assert settings.event_of({"type": "command", "command": command}) == event


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"hooks": {', "not valid JSON"),
        ("[1, 2]", "must hold a JSON object"),
        ('{"hooks": []}', '"hooks" must be an object'),
        ('{"hooks": {"Stop": {}}}', '"hooks"."Stop" must be a list'),
    ],
)
def test_malformed_settings_are_refused(text: str, message: str) -> None:
    with pytest.raises(FatalError, match=message):
        settings.parse(text, Path("settings.json"))


def test_blank_or_missing_settings_are_empty() -> None:
    assert settings.parse(None, Path("x")) == {}
    assert settings.parse(" \n", Path("x")) == {}


@pytest.mark.parametrize(
    "like",
    ['{\n    "a": [\n        1\n    ]\n}\n', '{\n\t"a": 1\n}', '{\r\n  "a": 1\r\n}\r\n'],
)
def test_render_follows_the_files_style(like: str) -> None:
    data = json.loads(like)
    assert settings.render(data, like) == like


def test_render_of_a_new_file_is_two_space_indented_with_a_final_newline() -> None:
    assert settings.render({"a": {"b": "é"}}, None) == '{\n  "a": {\n    "b": "é"\n  }\n}\n'


# Settings a user may have: their own keys and hooks (never ours), in any order.
_entry = st.fixed_dictionaries(
    {"type": st.just("command"), "command": st.sampled_from(["lint", "selfdistill run", "x y"])}
)
_group = st.fixed_dictionaries(
    {"hooks": st.lists(_entry, max_size=2)}, optional={"matcher": st.sampled_from(["*", "Bash"])}
)
_events = st.sampled_from([*settings.EVENTS, "PreToolUse", "Notification"])
_user_settings = st.dictionaries(
    st.sampled_from(["model", "env", "permissions", "hooks"]),
    st.integers(),
).flatmap(
    lambda base: st.dictionaries(_events, st.lists(_group, max_size=2)).map(
        lambda hooks: {**base, "hooks": hooks} if "hooks" in base else base
    )
)


@given(_user_settings)
def test_install_then_uninstall_gives_back_the_users_settings(user: dict[str, Any]) -> None:
    merge = settings.with_hooks(user, commands())
    assert len(ours(merge.settings)) == len(settings.EVENTS)
    assert settings.with_hooks(merge.settings, commands()).settings == merge.settings
    assert settings.without_hooks(merge.settings, merge.created) == user
