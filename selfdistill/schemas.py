"""JSON Schemas shipped in schemas/: loading them and validating records against them.

One place turns a jsonschema failure into a one-line message that names the offending field, so
every caller (config, lesson store, manifests, LLM output) reports bad data the same way.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from selfdistill.errors import StateError
from selfdistill.resources import schema_path


class SchemaError(StateError):
    """A record does not match its schema; the text names the field."""


@functools.cache
def validator(name: str) -> Draft202012Validator:
    """The validator for schemas/<name>.schema.json (loaded once per process)."""
    path = schema_path(name)
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise StateError(f"cannot load schema {path}: {error}") from error
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def field_path(error: ValidationError) -> str:
    """`llm.maxTokens`, `lessons[3].id`, or `(top level)`."""
    text = ""
    for part in error.absolute_path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".") or "(top level)"


def describe(error: ValidationError) -> str:
    return f"{field_path(error)}: {error.message}"


def errors(name: str, value: Any) -> list[str]:
    """Every problem with `value`, one line each (empty when valid)."""
    found = sorted(validator(name).iter_errors(value), key=lambda e: list(map(str, e.path)))
    return [describe(error) for error in found]


def validate(name: str, value: Any, what: str | None = None) -> None:
    """Raise SchemaError naming the most relevant bad field; `what` says which record it is."""
    problem = best_match(validator(name).iter_errors(value))
    if problem is not None:
        raise SchemaError(f"{what or name}: {describe(problem)}")
