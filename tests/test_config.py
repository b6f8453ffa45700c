"""Configuration: defaults without a file, layered files, one-line errors naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from selfdistill import config
from selfdistill.errors import UserError
from selfdistill.paths import state_home
from selfdistill.schemas import errors


def write(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def test_defaults_need_no_file(tmp_path: Path) -> None:
    loaded = config.load_config(tmp_path)
    assert loaded.min_sessions == 2
    assert loaded.mode == "auto"
    assert loaded.llm.enabled is False
    assert loaded.llm.model == "claude-haiku-4-5"
    assert loaded.publish.claude_md is True
    assert loaded.sources == ()


def test_schema_defaults_match_the_code_defaults() -> None:
    schema = json.loads(
        Path(config.__file__).parents[1].joinpath("schemas/config.schema.json").read_text()
    )
    props = schema["properties"]
    base = config.Config()
    assert props["minSessions"]["default"] == base.min_sessions
    assert props["mergeThreshold"]["default"] == base.merge_threshold
    assert props["llm"]["properties"]["maxTokens"]["default"] == base.llm.max_tokens
    assert props["llm"]["properties"]["model"]["default"] == base.llm.model
    assert (
        props["publish"]["properties"]["maxBlockLines"]["default"] == base.publish.max_block_lines
    )


def test_project_file_overrides_global_key_by_key(tmp_path: Path) -> None:
    write(
        state_home() / "config.json", {"minSessions": 3, "llm": {"enabled": True, "maxTokens": 999}}
    )
    write(tmp_path / ".claude" / "selfdistill.json", {"mode": "review", "llm": {"maxTokens": 2000}})
    loaded = config.load_config(tmp_path)
    assert loaded.min_sessions == 3
    assert loaded.mode == "review"
    assert loaded.llm.enabled is True
    assert loaded.llm.max_tokens == 2000
    assert len(loaded.sources) == 2


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"minSessions": 0}, "minSessions"),
        ({"mode": "sometimes"}, "mode"),
        ({"llm": {"maxTokens": "lots"}}, "llm.maxTokens"),
        ({"publish": {"claudeMD": True}}, "publish"),
        ({"ignorePaths": [""]}, "ignorePaths[0]"),
        ({"typo": 1}, "(top level)"),
    ],
)
def test_invalid_config_is_one_line_naming_the_field(
    tmp_path: Path, data: object, field: str
) -> None:
    write(tmp_path / ".claude" / "selfdistill.json", data)
    with pytest.raises(UserError) as raised:
        config.load_config(tmp_path)
    message = str(raised.value)
    assert "\n" not in message
    assert f": {field}: " in message
    assert "selfdistill.json" in message


def test_broken_json_is_reported_with_the_file(tmp_path: Path) -> None:
    (state_home()).mkdir(parents=True)
    (state_home() / "config.json").write_text("{nope")
    with pytest.raises(UserError, match=r"config\.json: not valid JSON"):
        config.load_config(tmp_path)


def test_a_config_not_in_utf8_is_a_one_line_user_error(tmp_path: Path) -> None:
    path = tmp_path / ".claude" / "selfdistill.json"
    path.parent.mkdir()
    path.write_bytes(b'{"mode": "caf\xe9"}')
    with pytest.raises(UserError, match=r"selfdistill\.json: not UTF-8 text \(byte 13\)$"):
        config.load_config(tmp_path)


def test_schema_errors_lists_every_problem() -> None:
    assert errors("config", {}) == []
    assert len(errors("config", {"minSessions": "x", "mode": 3})) == 2
