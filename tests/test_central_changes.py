# ruff: noqa: F811  (pytest fixtures imported from central_fixtures are parameters by name)
"""The change feed terminals pull (/v1/changes), on SQLite and PostgreSQL: paging, snapshot, long-poll."""

from __future__ import annotations

import threading
import time
from typing import Any

from central_fixtures import (  # noqa: F401  (fixtures are used by name)
    FakeTerminal,
    LiveServer,
    add_store,
    central,
    central_db,
    enroll,
    push_sale,
)

from sync.protocol import ChangeKind
from sync.server.catalog import import_catalog, import_stock
from sync.server.changes import NewChange, compact_changes, read_page, record_standalone
from sync.server.db import Database, utcnow
from sync.server.keys import server_secret
from sync.server.stores import add_staff

CATALOG = """sku,name,price,tax_rate,barcodes,unit
A,Apple,0.99,7,4006381333931,piece
B,Bread,2.50,7,,piece
C,Cheese,12.90,19,,kg
"""


def _stock_shop(central: LiveServer) -> tuple[FakeTerminal, FakeTerminal]:
    add_store(central.db, "S01")
    add_store(central.db, "S02", name="Harbour")
    with central.db.begin() as conn:
        import_catalog(conn, CATALOG, now=utcnow())
        import_stock(conn, "sku,on_hand\nA,10\nB,4\n", store_code="S01", now=utcnow())
        import_stock(conn, "sku,on_hand\nA,99\n", store_code="S02", now=utcnow())
        add_staff(
            conn,
            secret=server_secret(conn),
            store_code="S01",
            name="Ann",
            role="cashier",
            pin="1234",
            now=utcnow(),
        )
        add_staff(
            conn,
            secret=server_secret(conn),
            store_code="S02",
            name="Zed",
            role="manager",
            pin="1234",
            now=utcnow(),
        )
    return enroll(central.client, central.db, "S01"), enroll(central.client, central.db, "S02")


def _get(central: LiveServer, till: FakeTerminal, **params: Any) -> dict[str, Any]:
    response = central.client.get("/v1/changes", params=params, headers=till.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _drain(
    central: LiveServer, till: FakeTerminal, cursor: str = "", limit: int = 1000
) -> tuple[list[dict[str, Any]], str, list[bool]]:
    changes: list[dict[str, Any]] = []
    snapshots = []
    while True:
        page = _get(central, till, cursor=cursor, limit=limit)
        changes.extend(page["changes"])
        snapshots.append(page["snapshot"])
        cursor = page["cursor"]
        if not page["has_more"]:
            return changes, cursor, snapshots


def test_a_new_terminal_gets_a_snapshot_of_its_store(central: LiveServer) -> None:
    s01, _ = _stock_shop(central)
    changes, _, snapshots = _drain(central, s01)
    assert snapshots[0] is True
    by_kind: dict[str, dict[str, Any]] = {}
    for change in changes:
        by_kind.setdefault(change["kind"], {})[change["key"]] = change["data"]
    assert by_kind["store"]["S01"]["currency"] == "EUR"
    assert "S02" not in by_kind["store"]
    assert by_kind["product"]["C"] == {
        "name": "Cheese",
        "price": 1290,
        "tax_rate": "19",
        "unit": "kg",
        "barcodes": [],
        "active": True,
    }
    assert by_kind["product"]["A"]["barcodes"] == ["4006381333931"]
    assert set(by_kind["tax_rate"]) == {"7", "19"}
    assert by_kind["stock"] == {"A": {"on_hand_milli": 10_000}, "B": {"on_hand_milli": 4_000}}
    (ann,) = by_kind["staff"].values()
    assert ann["name"] == "Ann" and ann["role"] == "cashier"
    assert ann["pin_hash"].startswith("$argon2id$")
    assert "1234" not in ann["pin_hash"]


def test_pages_follow_the_cursor_and_only_the_first_is_a_snapshot(central: LiveServer) -> None:
    s01, _ = _stock_shop(central)
    everything, _, _ = _drain(central, s01)
    paged, cursor, snapshots = _drain(central, s01, limit=2)
    assert paged == everything
    assert snapshots[0] is True and not any(snapshots[1:])
    assert len(snapshots) == (len(everything) + 1) // 2 + (1 if len(everything) % 2 == 0 else 0)
    caught_up = _get(central, s01, cursor=cursor)
    assert caught_up["changes"] == [] and caught_up["has_more"] is False and caught_up["cursor"] == cursor


def test_one_catalog_import_is_one_update_ended_by_its_last_change(central: LiveServer) -> None:
    s01, _ = _stock_shop(central)
    _, cursor, _ = _drain(central, s01)
    with central.db.begin() as conn:
        import_catalog(conn, CATALOG.replace("0.99", "1.09").replace("2.50", "2.70"), now=utcnow())
    page = _get(central, s01, cursor=cursor)
    assert [(c["key"], c["data"]["price"]) for c in page["changes"]] == [("A", 109), ("B", 270)]
    assert len({c["update_id"] for c in page["changes"]}) == 1
    assert [c["last_in_update"] for c in page["changes"]] == [False, True]


def test_a_sale_sends_the_new_on_hand_figure_down(central: LiveServer) -> None:
    s01, _ = _stock_shop(central)
    _, cursor, _ = _drain(central, s01)
    lines = [
        {
            "line_no": 1,
            "sku": "A",
            "name": "Apple",
            "unit": "piece",
            "quantity_milli": 2000,
            "unit_price": 99,
            "discount": 0,
            "total": 198,
            "tax_rate": "7",
        }
    ]
    push_sale(central.client, s01, total=198, lines=lines)
    push_sale(central.client, s01, total=198, lines=lines)
    page = _get(central, s01, cursor=cursor)
    # The older figure was superseded and dropped: only the newest comes down.
    assert [(c["kind"], c["key"], c["data"]) for c in page["changes"]] == [
        ("stock", "A", {"on_hand_milli": 6_000})
    ]


def test_a_cursor_older_than_the_compacted_feed_gets_a_snapshot(central: LiveServer) -> None:
    s01, _ = _stock_shop(central)
    _, old_cursor, _ = _drain(central, s01)
    with central.db.begin() as conn:
        import_catalog(conn, CATALOG.replace("0.99", "1.09"), now=utcnow())
    _, recent_cursor, _ = _drain(central, s01, old_cursor)
    with central.db.begin() as conn:
        import_catalog(conn, CATALOG.replace("0.99", "1.19"), now=utcnow())
        compact_changes(conn)
    page = _get(central, s01, cursor=old_cursor)
    assert page["snapshot"] is True
    snapshot, _, _ = _drain(central, s01, old_cursor)
    apples = [c for c in snapshot if c["kind"] == "product" and c["key"] == "A"]
    assert [a["data"]["price"] for a in apples] == [119]  # superseded prices are gone
    assert all(c["last_in_update"] for c in snapshot)
    assert _get(central, s01, cursor=recent_cursor)["snapshot"] is True
    _, head, _ = _drain(central, s01)
    assert _get(central, s01, cursor=head)["snapshot"] is False


def test_a_bad_cursor_is_refused_with_400(central: LiveServer) -> None:
    s01, _ = _stock_shop(central)
    response = central.client.get("/v1/changes", params={"cursor": "!!nonsense"}, headers=s01.headers)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_cursor"


def test_a_caught_up_terminal_waits_and_gets_the_next_change(central: LiveServer) -> None:
    s01, _ = _stock_shop(central)
    _, cursor, _ = _drain(central, s01)

    def change_soon() -> None:
        time.sleep(0.7)
        with central.db.begin() as conn:
            import_stock(conn, "sku,on_hand\nB,7\n", store_code="S01", now=utcnow())

    writer = threading.Thread(target=change_soon)
    writer.start()
    page = _get(central, s01, cursor=cursor, wait=20)
    writer.join()
    assert [(c["key"], c["data"]) for c in page["changes"]] == [("B", {"on_hand_milli": 7_000})]


def test_stock_lookup_lists_every_store(central: LiveServer) -> None:
    s01, _ = _stock_shop(central)
    response = central.client.get("/v1/stock/A", headers=s01.headers)
    assert response.status_code == 200
    assert response.json() == [
        {"store_code": "S01", "store_name": "Main Street", "on_hand_milli": 10_000},
        {"store_code": "S02", "store_name": "Harbour", "on_hand_milli": 99_000},
    ]
    missing = central.client.get("/v1/stock/NOPE", headers=s01.headers)
    assert (missing.status_code, missing.json()["error"]) == (404, "unknown_sku")


def test_a_replaced_newest_change_gets_a_new_seq_a_reader_has_not_passed(central_db: Database) -> None:
    """A standalone change replaces older rows for the same thing. When the row it replaces is the
    newest in the feed, the new row must still get a seq above it: SQLite without AUTOINCREMENT reused
    the deleted seq, so a till whose cursor was at that seq never got the second store update."""
    with central_db.engine.begin() as conn:
        record_standalone(conn, [NewChange(ChangeKind.STORE, "S1", {"name": "first"})])
    with central_db.engine.begin() as conn:
        first = read_page(conn, store_id=1, after=0, limit=100)
    assert [c.data for c in first.changes] == [{"name": "first"}]
    with central_db.engine.begin() as conn:
        record_standalone(conn, [NewChange(ChangeKind.STORE, "S1", {"name": "second"})])
    with central_db.engine.begin() as conn:
        after = read_page(conn, store_id=1, after=first.next_seq, limit=100)
    assert [c.data for c in after.changes] == [{"name": "second"}]
    assert after.next_seq > first.next_seq
