"""selfdistill.jsonfast behaves as json.loads / json.dumps, with or without the C accelerator."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfdistill import jsonfast

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet=st.characters(codec="utf-8")),  # lone surrogates too: json escapes them
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=30,
)
# Texts near JSON: documents with odd whitespace and garbage around them, cut or spliced.
DOCUMENT_PIECES = ['{"a": 1}', "[1, 2.5e3]", '"\\u00e9\\ud800"', "NaN", "-Infinity", "nul", "1e"]
PIECES = st.sampled_from([*DOCUMENT_PIECES, *' \t\n\r\f\u00a0\ufeff,:]}x0-"\\'])
AROUND = st.text(alphabet=" \t\n\r\f\v\u00a0\u2028\u3000\ufeffx,]", max_size=3)
NEAR_JSON = st.one_of(
    st.tuples(AROUND, VALUES.map(json.dumps), AROUND).map("".join),
    VALUES.map(json.dumps)
    .flatmap(lambda text: st.tuples(st.just(text), st.integers(0, len(text)), PIECES))
    .map(lambda cut: cut[0][: cut[1]] + cut[2] + cut[0][cut[1] :]),
    st.lists(PIECES, max_size=6).map("".join),
    st.text(max_size=20),
)


@pytest.fixture(params=["accelerated", "fallback"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "fallback":  # as on a Python without a usable `_json`
        monkeypatch.setattr(jsonfast, "_FAST", None)
    elif jsonfast._FAST is None:
        pytest.skip("this Python has no usable _json accelerator")
    yield request.param


def outcome(call: Any, *args: Any, **kwargs: Any) -> tuple[str, str]:
    """What a call gives, comparable across NaN: ("ok", its repr) or (error type, message)."""
    try:
        return "ok", repr(call(*args, **kwargs))
    except (ValueError, TypeError, RecursionError) as error:
        return type(error).__name__, str(error)


@contextmanager
def fallback() -> Iterator[None]:
    """As on a Python without a usable `_json` (hypothesis tests cannot use the fixture)."""
    saved = jsonfast._FAST
    jsonfast._FAST = None
    try:
        yield
    finally:
        jsonfast._FAST = saved


@settings(max_examples=300, deadline=None)
@given(VALUES, st.booleans(), st.sampled_from([(",", ":"), (", ", ": ")]))
def test_dumps_writes_what_json_dumps_writes(
    value: Any, ascii_only: bool, separators: tuple[str, str]
) -> None:
    expected = json.dumps(value, ensure_ascii=ascii_only, separators=separators)
    assert jsonfast.dumps(value, ensure_ascii=ascii_only, separators=separators) == expected
    with fallback():
        assert jsonfast.dumps(value, ensure_ascii=ascii_only, separators=separators) == expected


@settings(max_examples=500, deadline=None)
@given(NEAR_JSON)
def test_loads_reads_or_refuses_exactly_as_json_loads(text: str) -> None:
    expected = outcome(json.loads, text)
    assert outcome(jsonfast.loads, text) == expected
    with fallback():
        assert outcome(jsonfast.loads, text) == expected


def test_special_numbers_round_trip(mode: str) -> None:
    text = jsonfast.dumps([math.inf, -math.inf, math.nan, 1.5, 10**20])
    assert text == "[Infinity,-Infinity,NaN,1.5,100000000000000000000]"
    values = jsonfast.loads(" \n" + text + "\r\t")
    assert values[:2] == [math.inf, -math.inf] and math.isnan(values[2])


@pytest.mark.parametrize(
    "text",
    ['{"a": 1', '{"a": 1} x', "", "  ", "\ufeff{}", '{"a": 1}{"b": 2}', "[1,]", "'x'", "\f{}"],
)
def test_broken_documents_raise_json_s_own_errors(mode: str, text: str) -> None:
    check_same_error(text)


@pytest.mark.parametrize("text", ["{}\f", "\u00a0[]", "[]\u00a0", "1\u2028", "\v0"])
def test_only_json_s_own_whitespace_surrounds_a_document(mode: str, text: str) -> None:
    check_same_error(text)


def check_same_error(text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as ours:
        jsonfast.loads(text)
    with pytest.raises(json.JSONDecodeError) as theirs:
        json.loads(text)
    assert (ours.value.msg, ours.value.pos) == (theirs.value.msg, theirs.value.pos)


def test_deep_nesting_raises_recursion_error(mode: str) -> None:
    with pytest.raises(RecursionError):
        jsonfast.loads("[" * 200_000 + "]" * 200_000)


def test_what_json_cannot_write_fails_the_same_way(mode: str) -> None:
    loop: list[Any] = []
    loop.append(loop)
    assert outcome(jsonfast.dumps, loop) == outcome(json.dumps, loop, separators=(",", ":"))
    assert outcome(jsonfast.dumps, {1j: 1}) == outcome(json.dumps, {1j: 1})
    assert outcome(jsonfast.dumps, object()) == outcome(json.dumps, object())
    assert jsonfast.dumps({"when": 1j}, default=str) == '{"when":"1j"}'


def test_the_accelerated_path_does_not_import_json() -> None:
    code = (
        "import sys\n"
        "from selfdistill import jsonfast\n"
        "assert jsonfast._FAST is not None\n"
        'value = jsonfast.loads(\' {"a": [1, 2.5, null, true, "\\\\u00e9"]} \')\n'
        'assert jsonfast.dumps(value, ensure_ascii=False) == \'{"a":[1,2.5,null,true,"é"]}\'\n'
        "print(sorted({'json', 're', 'enum'} & set(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
