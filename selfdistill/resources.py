"""Files shipped with the package: schemas/ and hooks/ from the top of the repository.

In a wheel they are copied into selfdistill/_data/ (see pyproject.toml); in a source checkout
(editable install, tests) they are read from the repository itself.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_path(*parts: str) -> Path:
    shipped = _PACKAGE / "_data" / Path(*parts)
    if shipped.exists():
        return shipped
    return _PACKAGE.parent / Path(*parts)


def schema_path(name: str) -> Path:
    """e.g. schema_path("lesson") -> .../schemas/lesson.schema.json"""
    return data_path("schemas", f"{name}.schema.json")
