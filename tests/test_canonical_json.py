"""Canonical JSON: the fast path (orjson) writes exactly the bytes of the reference form (the
standard library's json.dumps with sorted keys), and the entry body assembled around a canonical
payload is the canonical body. Every journal hash, on the till and on the server, depends on it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.protocol import canonical_body, canonical_json, chain_hash, chain_hash_of, entry_body


def reference(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


# Text with what JSON must escape (controls, quotes, backslashes), DEL, line separators,
# non-BMP characters and lone surrogates (which no UTF-8 can hold: both ways must refuse them).
text = st.text(
    alphabet=st.one_of(
        st.characters(),
        st.sampled_from(['"', "\\", "\x00", "\x1f", "\x7f", "\u2028", "\u2029", "\ud800", "\U0001f600"]),
    ),
    max_size=12,
)
numbers = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(),  # beyond 64 bits
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 1e16, 1e-5, 1.5, 100.0, 1e300, 2**63, -(2**63) - 1]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, text)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(text, inner, max_size=5)),
    max_leaves=30,
)


def outcome(fn: Any, value: Any) -> tuple[str, Any]:
    try:
        return ("ok", fn(value))
    except (ValueError, TypeError) as exc:  # UnicodeEncodeError is a ValueError
        return ("error", type(exc).__name__)


@settings(max_examples=400, deadline=None)
@given(values)
def test_canonical_json_is_the_reference_form_for_any_json_value(value: Any) -> None:
    assert outcome(canonical_json, value) == outcome(reference, value)


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": [1, 2, {"d": None, "c": True}]},
        {"\uffff": 1, "\U00010000": 2, "z": 3, "Z": 4, "é": 5},  # key order above the BMP
        {"price": 1.5, "qty": 3},  # a float anywhere takes the reference path
        {"n": 2**70},
        ("a", "tuple"),
    ],
)
def test_canonical_json_known_values(value: Any) -> None:
    assert canonical_json(value) == reference(value)


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_canonical_json_refuses_what_json_cannot_hold_like_the_reference(number: float) -> None:
    # orjson would write these as null, like the None beside them.
    with pytest.raises(ValueError):
        canonical_json({"member": None, "x": [number]})


@settings(max_examples=200, deadline=None)
@given(
    seq=st.integers(min_value=1, max_value=2**62),
    event_id=text,
    type_=text,
    schema_version=st.integers(min_value=1, max_value=1000),
    occurred_at=text,
    payload=st.dictionaries(text, values, max_size=4),
)
def test_canonical_body_around_a_canonical_payload_is_the_canonical_body(
    seq: int, event_id: str, type_: str, schema_version: int, occurred_at: str, payload: dict[str, Any]
) -> None:
    fields = dict(
        seq=seq, event_id=event_id, type=type_, schema_version=schema_version, occurred_at=occurred_at
    )
    try:
        whole = reference(entry_body(**fields, payload=payload))
    except ValueError:
        return  # lone surrogates: not an entry anyone can store
    assembled = canonical_body(**fields, canonical_payload=canonical_json(payload))
    assert assembled == whole
    assert chain_hash_of("0" * 64, assembled) == chain_hash("0" * 64, entry_body(**fields, payload=payload))
