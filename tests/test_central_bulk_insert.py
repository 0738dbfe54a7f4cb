# ruff: noqa: F811  (pytest fixtures imported from central_fixtures are parameters by name)
"""bulk_insert, the write path of push and of the catalog: rows as given, JSON kept as the text
it was hashed in, column defaults filled in, and a duplicate key raised as SQLAlchemy's
IntegrityError on both databases (push retries on it; the API answers 409 for it)."""

from __future__ import annotations

import json

import pytest
from central_fixtures import add_store, central_db  # noqa: F401  (fixtures are used by name)
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from sync.protocol import canonical_json
from sync.server import schema
from sync.server.changes import JsonText, bulk_insert
from sync.server.db import Database, utcnow


def sale_row(store_id: int, terminal_id: int, n: int, payload: object) -> dict[str, object]:
    return {
        "id": f"00000000-0000-4000-8000-{n:012d}",
        "store_id": store_id,
        "terminal_id": terminal_id,
        "receipt_no": f"R-{n}",
        "event_id": f"00000000-0000-7000-8000-{n:012d}",
        "kind": "sale",
        "total": 100 * n,
        "currency": "EUR",
        "completed_at": utcnow(),
        "claim_nonce": None,
        "member_id": None,
        "original_sale_id": None,
        "payload": payload,
    }


def a_terminal(db: Database, store_id: int) -> int:
    with db.begin() as conn:
        return int(
            conn.execute(
                schema.terminals.insert()
                .values(
                    store_id=store_id,
                    code="S01-T1",
                    token_hash="0" * 64,
                    claim_key=b"k" * 32,
                    enrolled_at=utcnow(),
                )
                .returning(schema.terminals.c.id)
            ).scalar_one()
        )


def test_rows_go_in_with_json_text_kept_as_given_and_defaults_filled(central_db: Database) -> None:
    store_id = add_store(central_db)
    terminal_id = a_terminal(central_db, store_id)
    hashed = canonical_json({"b": [1, "é"], "a": None}).decode()
    rows = [sale_row(store_id, terminal_id, n, JsonText(hashed) if n % 2 else {"n": n}) for n in range(1, 8)]
    with central_db.begin() as conn:
        bulk_insert(conn, schema.sales, rows)
    with central_db.engine.connect() as conn:
        held = conn.execute(select(schema.sales).order_by(schema.sales.c.total)).all()
        stored_text = conn.execute(
            text("SELECT CAST(payload AS TEXT) FROM sales WHERE total = 100")
        ).scalar_one()
    assert [r.total for r in held] == [100 * n for n in range(1, 8)]
    assert all(r.points == 0 for r in held), "the column default (points = 0) was not filled in"
    assert held[0].payload == {"b": [1, "é"], "a": None} and held[1].payload == {"n": 2}
    assert stored_text == hashed, "the payload was serialized again instead of kept as hashed"
    assert json.loads(stored_text) == held[0].payload


@pytest.mark.parametrize("count", [1, 6])
def test_a_duplicate_key_raises_integrity_error(central_db: Database, count: int) -> None:
    store_id = add_store(central_db)
    terminal_id = a_terminal(central_db, store_id)
    with central_db.begin() as conn:
        bulk_insert(conn, schema.sales, [sale_row(store_id, terminal_id, 1, {"n": 1})])
    again = [sale_row(store_id, terminal_id, n, {"n": n}) for n in range(2, count + 1)]
    again.append(sale_row(store_id, terminal_id, 1, {"n": 1}))
    with pytest.raises(IntegrityError), central_db.begin() as conn:
        bulk_insert(conn, schema.sales, again)
    with central_db.engine.connect() as conn:
        assert conn.execute(select(schema.sales.c.id)).scalars().all() == [sale_row(0, 0, 1, None)["id"]]
