"""`json.loads` / `json.dumps` for the hook hot path, without importing the `json` package.

`import json` costs several milliseconds on every hook run (it pulls in `re` and `enum`), while
the work it does for us happens in its C accelerator `_json`. This module drives `_json`'s
scanner and encoder directly, with the same settings `json` gives them, so results and errors are
the same. Where `_json` is missing or its signature differs (another Python implementation or
version), it falls back to the `json` module itself.
"""

from __future__ import annotations

TYPE_CHECKING = False  # importing typing costs milliseconds on every hook run
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

WHITESPACE = " \t\n\r"  # what json's decoder skips around a document
_CONSTANTS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


class _Settings:
    """What `_json.make_scanner` reads from a JSONDecoder: json.loads' defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__


def _default(value: Any) -> Any:
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


def _accelerated() -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]] | None:
    """(scanner, make_encoder, encode_basestring) from `_json` when they behave as json's do."""
    try:
        from _json import encode_basestring, make_encoder, make_scanner

        # typeshed types the context as a scanner; the C code only reads these attributes
        scan = make_scanner(_Settings())  # type: ignore[arg-type]
        probe = make_encoder({}, _default, encode_basestring, None, ":", ",", False, False, True)
        document = '{"a": [1, 2.5, "\\u00e9"]}'
        if scan(document, 0) != ({"a": [1, 2.5, "é"]}, len(document)):
            return None
        if "".join(probe({"a": [1, 2.5, "é"]}, 0)) != '{"a":[1,2.5,"é"]}':
            return None
    except (ImportError, TypeError, AttributeError, ValueError):
        return None
    return scan, make_encoder, encode_basestring


# A constant once built: the C scanner keeps no state between documents.
_FAST = _accelerated()


def _slow_loads(text: str) -> Any:
    """json.loads itself: for errors, so that they are exactly json's (the C scanner also needs
    json.decoder imported to report one), and where `_json` is unusable."""
    import json

    return json.loads(text)


def loads(text: str) -> Any:
    """json.loads(text) for a str: the same value, or the same JSONDecodeError/RecursionError."""
    if _FAST is None or not isinstance(text, str) or text.startswith("\ufeff"):
        return _slow_loads(text)
    start = len(text) - len(text.lstrip(WHITESPACE))
    try:
        value, end = _FAST[0](text, start)
    except RecursionError:
        raise
    except Exception:  # StopIteration, or whatever the scanner raises without json.decoder
        return _slow_loads(text)
    if text[end:].strip(WHITESPACE):
        return _slow_loads(text)  # "Extra data"
    return value


def dumps(
    value: Any,
    ensure_ascii: bool = True,
    separators: tuple[str, str] = (",", ":"),
    default: Callable[[Any], Any] | None = None,
) -> str:
    """json.dumps(value, ensure_ascii=..., separators=..., default=...): compact by default."""
    if _FAST is None:
        import json

        return json.dumps(value, ensure_ascii=ensure_ascii, separators=separators, default=default)
    if ensure_ascii:
        from _json import encode_basestring_ascii as encode_string
    else:
        encode_string = _FAST[2]
    item_separator, key_separator = separators
    encoder = _FAST[1](
        {},
        default or _default,
        encode_string,
        None,
        key_separator,
        item_separator,
        False,
        False,
        True,
    )
    return "".join(encoder(value, 0))
