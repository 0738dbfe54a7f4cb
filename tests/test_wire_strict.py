# ruff: noqa: F811  (pytest fixtures imported from central_fixtures are parameters by name)
"""The wire models accept exactly what their schema says: no number from a bool, a float or a string,
no string from a number. Checked for every field of every model in ``sync.protocol`` (as JSON, the
way it travels, and as the parsed dict FastAPI validates), and through a real server."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from central_fixtures import (  # noqa: F401  (fixtures are used by name)
    LiveServer,
    add_store,
    central,
    central_db,
    enroll,
    sale_payload,
)
from pydantic import ValidationError

from sync import protocol
from sync.protocol import PROTOCOL_VERSION, WireModel

HASH = "a" * 64
EVENT = "0190b5a0-0000-7000-8000-000000000001"
ENTRY = {
    "seq": 1,
    "event_id": EVENT,
    "type": "sale.completed",
    "schema_version": 1,
    "occurred_at": "2026-03-02T10:00:00Z",
    "payload": {"sale_id": EVENT},
    "prev_hash": HASH,
    "hash": HASH,
}
SALE = sale_payload(total=1999, claim_code="X" * 48, member_id=7)
STORE = {
    "code": "S01",
    "name": "Main Street",
    "currency": "EUR",
    "locale": "de_DE",
    "tax_mode": "inclusive",
    "discount_limit_percent": 10,
    "timezone": "Europe/Berlin",
}
NOW = "2026-03-02T10:00:00Z"

#: A valid example of every wire model, as it travels (JSON values).
EXAMPLES: dict[type[WireModel], dict[str, Any]] = {
    protocol.JournalEntry: ENTRY,
    protocol.SaleLine: SALE["lines"][0],
    protocol.TaxRow: SALE["taxes"][0],
    protocol.Tender: SALE["tenders"][0],
    protocol.SalePayload: SALE,
    protocol.PushRequest: {
        "protocol_version": 1,
        "entries": [ENTRY],
        "queued": 3,
        "client_time": NOW,
    },
    protocol.EntryResult: {"seq": 1, "event_id": EVENT, "status": "accepted", "reason": None},
    protocol.PushResponse: {
        "results": [{"seq": 1, "event_id": EVENT, "status": "duplicate", "reason": "already held"}],
        "high_seq": 1,
        "server_time": NOW,
    },
    protocol.Hello: {
        "protocol_versions": [1],
        "server_time": NOW,
        "max_batch_entries": 500,
        "max_batch_bytes": 1000,
        "public_url": "http://x",
    },
    protocol.EnrollRequest: {
        "code": "ABCD-EFGH",
        "terminal_name": "Till",
        "protocol_version": 1,
        "device_key": "k" * 43,
        "ledger_seq": 12,
        "ledger_head": HASH,
    },
    protocol.StoreInfo: STORE,
    protocol.Enrollment: {
        "terminal_id": 1,
        "terminal_code": "S01-T1",
        "store": STORE,
        "token": "t",
        "claim_key": "k",
        "server_public_key": "p",
        "public_url": "http://x",
    },
    protocol.Change: {
        "seq": 1,
        "kind": "product",
        "key": "SKU",
        "data": {"name": "x"},
        "update_id": "u",
        "last_in_update": True,
    },
    protocol.ChangesPage: {
        "changes": [],
        "cursor": "c",
        "has_more": False,
        "snapshot": False,
        "server_time": NOW,
    },
    protocol.StockLevel: {"store_code": "S01", "store_name": "Main", "on_hand_milli": 1000},
    protocol.MemberCodeAnswer: {"member_id": 7, "member_code": "9" + "0" * 184},
    protocol.ErrorBody: {"error": "x", "detail": "y"},
    protocol.TerminalReport: {
        "app_version": "1.2.3",
        "platform": "linux-x86_64",
        "ledger_schema": "0001_initial",
        "queued": 3,
        "ledger_health": "failed",
        "ledger_problem": "sales row altered",
    },
}

#: Values of the wrong JSON type for a field whose schema type is the key.
WRONG: dict[str, list[Any]] = {
    "integer": [True, False, 1.0, 2.5, "1"],
    "string": [1, True, 1.5],
    "boolean": [1, 0, "true", "false", 1.0],
    "array": ["x", {"a": 1}],
    "object": ["x", [1]],
}


def _wire_models() -> list[type[WireModel]]:
    found: list[type[WireModel]] = []
    todo = list(WireModel.__subclasses__())
    while todo:
        model = todo.pop()
        found.append(model)
        todo.extend(model.__subclasses__())
    return [m for m in found if m.__module__ == protocol.__name__]


def test_every_wire_model_has_an_example_here() -> None:
    assert set(_wire_models()) == set(EXAMPLES)
    for model, example in EXAMPLES.items():
        model.model_validate_json(json.dumps(example))
        model.model_validate(example)


def _field_types(model: type[WireModel]) -> dict[str, set[str]]:
    """Field name -> the JSON types its schema allows (null left out)."""
    schema = model.model_json_schema()
    result: dict[str, set[str]] = {}
    for name, prop in schema["properties"].items():
        options = prop.get("anyOf", [prop])
        types = set()
        for option in options:
            if "type" in option:
                types.add(option["type"])
            elif "$ref" in option or "enum" in option or "const" in option:
                types.add("string" if "$ref" not in option else "object")
        types.discard("null")
        result[name] = types
    return result


def _mutations() -> list[tuple[str, str, Any]]:
    cases = []
    for model in EXAMPLES:
        for name, types in _field_types(model).items():
            for json_type in sorted(types):
                for wrong in WRONG.get(json_type, []):
                    if any(_fits(wrong, other) for other in types):
                        continue
                    cases.append((model.__name__, name, wrong))
    return cases


def _fits(value: Any, json_type: str) -> bool:
    return {
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
    }.get(json_type, False)


@pytest.mark.parametrize(("model_name", "field_name", "wrong"), _mutations())
def test_a_field_of_the_wrong_type_is_refused(model_name: str, field_name: str, wrong: Any) -> None:
    model = getattr(protocol, model_name)
    body = copy.deepcopy(EXAMPLES[model])
    body[field_name] = wrong
    with pytest.raises(ValidationError):
        model.model_validate_json(json.dumps(body))
    with pytest.raises(ValidationError):
        model.model_validate(body)  # what FastAPI does with a parsed body


def test_every_model_has_mutations_checked() -> None:
    names = {case[0] for case in _mutations()}
    assert names == {m.__name__ for m in EXAMPLES}


# --- through a real server ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("queued", False),
        ("queued", "3"),
        ("queued", 3.0),
        ("protocol_version", True),
        ("protocol_version", "1"),
        ("seq", True),
        ("seq", 1.0),
        ("schema_version", "1"),
        ("hash", 1),
    ],
)
def test_the_server_answers_422_to_a_push_of_the_wrong_types(
    central: LiveServer, where: str, value: Any
) -> None:
    add_store(central.db)
    terminal = enroll(central.client, central.db)
    entry = terminal.entry("sale.completed", sale_payload(), advance=False)
    body: dict[str, Any] = {"protocol_version": PROTOCOL_VERSION, "entries": [entry], "queued": 0}
    if where in body:
        body[where] = value
    else:
        entry[where] = value
    response = central.client.post("/v1/push", json=body, headers=terminal.headers)
    assert response.status_code == 422, response.text
    assert where in response.json()["detail"]
    # Nothing was stored: the same entry, well typed, is taken as the first one.
    good = terminal.entry("sale.completed", sale_payload())
    answer = terminal.push(central.client, [good])
    assert answer.status_code == 200
    assert answer.json()["results"][0]["status"] == "accepted"


@pytest.mark.parametrize("field", ["total", "change", "member_id", "sale_discount"])
def test_a_sale_whose_amounts_are_not_integers_is_quarantined_not_counted(
    central: LiveServer, field: str
) -> None:
    add_store(central.db)
    terminal = enroll(central.client, central.db)
    payload = sale_payload(total=1999)
    payload[field] = str(payload[field] or 5)
    answer = terminal.push(central.client, [terminal.entry("sale.completed", payload)])
    assert answer.status_code == 200
    result = answer.json()["results"][0]
    assert result["status"] == "quarantined", result
    assert field in result["reason"]


def test_an_enrollment_with_a_text_protocol_version_is_refused(central: LiveServer) -> None:
    add_store(central.db)
    response = central.client.post(
        "/v1/enroll", json={"code": "ABCD-EFGH-IJKL", "terminal_name": "x", "protocol_version": "1"}
    )
    assert response.status_code == 422
    assert "protocol_version" in response.json()["detail"]
