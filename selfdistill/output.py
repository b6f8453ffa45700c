"""Printing data: JSON goes to stdout alone; readable text for people otherwise."""

from __future__ import annotations

import json
from typing import Any

import click


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, sort_keys=False))


def emit_json_lines(values: list[Any]) -> None:
    for value in values:
        click.echo(json.dumps(value, ensure_ascii=False))
