"""Configuration: one validated shape, defaults that need no editing.

Where: `$SELFDISTILL_HOME/config.json` (every project), then `<project>/.claude/selfdistill.json`
(this project; its keys win, nested objects are merged key by key). Both are optional and both are
validated against schemas/config.schema.json; a bad value is reported with the file and field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selfdistill.errors import UserError
from selfdistill.paths import state_home
from selfdistill.schemas import SchemaError, validate

PROJECT_CONFIG = Path(".claude") / "selfdistill.json"


@dataclass(frozen=True)
class LLMConfig:
    enabled: bool = False
    model: str = "claude-haiku-4-5"
    base_url: str | None = None
    max_tokens: int = 4096
    timeout_s: float = 60.0
    max_retries: int = 2
    run_budget_usd: float = 0.25
    day_budget_usd: float = 1.0


@dataclass(frozen=True)
class PublishConfig:
    claude_md: bool = True
    skills: bool = True
    max_block_lines: int = 40
    max_block_bytes: int = 4000


@dataclass(frozen=True)
class Config:
    min_sessions: int = 2
    merge_threshold: float = 0.6
    mode: str = "auto"  # "auto" publishes lessons with enough evidence; "review" waits for approval
    max_sessions_per_run: int = 200
    ignore_paths: tuple[str, ...] = ()
    llm: LLMConfig = field(default_factory=LLMConfig)
    publish: PublishConfig = field(default_factory=PublishConfig)
    sources: tuple[str, ...] = ()  # the files it was read from, for messages


def config_files(project: Path | None) -> tuple[Path, ...]:
    files = [state_home() / "config.json"]
    if project is not None:
        files.append(project / PROJECT_CONFIG)
    return tuple(files)


def read_file(path: Path) -> dict[str, Any]:
    """The validated content of one config file ({} when absent)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise UserError(f"config {path}: cannot read: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise UserError(f"config {path}: not UTF-8 text (byte {error.start})") from error
    try:
        data = json.loads(text)
    except ValueError as error:
        raise UserError(f"config {path}: not valid JSON: {error}") from error
    try:
        validate("config", data, what=f"config {path}")
    except SchemaError as error:
        raise UserError(str(error)) from error
    assert isinstance(data, dict)  # the schema says object
    return data


def merged(layers: list[dict[str, Any]]) -> dict[str, Any]:
    """Later layers win; nested objects (llm, publish) are merged key by key."""
    result: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if isinstance(value, dict) and isinstance(result.get(key), dict):
                result[key] = {**result[key], **value}
            else:
                result[key] = value
    return result


def from_dict(data: dict[str, Any], sources: tuple[str, ...] = ()) -> Config:
    llm = data.get("llm", {})
    publish = data.get("publish", {})
    base, base_llm, base_publish = Config(), LLMConfig(), PublishConfig()
    return Config(
        min_sessions=data.get("minSessions", base.min_sessions),
        merge_threshold=float(data.get("mergeThreshold", base.merge_threshold)),
        mode=data.get("mode", base.mode),
        max_sessions_per_run=data.get("maxSessionsPerRun", base.max_sessions_per_run),
        ignore_paths=tuple(data.get("ignorePaths", ())),
        llm=LLMConfig(
            enabled=llm.get("enabled", base_llm.enabled),
            model=llm.get("model", base_llm.model),
            base_url=llm.get("baseUrl", base_llm.base_url),
            max_tokens=llm.get("maxTokens", base_llm.max_tokens),
            timeout_s=float(llm.get("timeoutSeconds", base_llm.timeout_s)),
            max_retries=llm.get("maxRetries", base_llm.max_retries),
            run_budget_usd=float(llm.get("runBudgetUsd", base_llm.run_budget_usd)),
            day_budget_usd=float(llm.get("dayBudgetUsd", base_llm.day_budget_usd)),
        ),
        publish=PublishConfig(
            claude_md=publish.get("claudeMd", base_publish.claude_md),
            skills=publish.get("skills", base_publish.skills),
            max_block_lines=publish.get("maxBlockLines", base_publish.max_block_lines),
            max_block_bytes=publish.get("maxBlockBytes", base_publish.max_block_bytes),
        ),
        sources=sources,
    )


def load_config(project: Path | None = None) -> Config:
    """The effective configuration for `project` (global file, then the project's own)."""
    files = config_files(project)
    layers = [read_file(path) for path in files]
    used = tuple(str(path) for path, layer in zip(files, layers, strict=True) if layer)
    return from_dict(merged(layers), used)
