"""The engine's store on the real ledger (pos/services/syncing.py): what is pending, what an
acknowledgement does, and how change-feed pages become visible -- whole updates only, a snapshot
only when complete, each page atomic with its cursor."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sync_support import record_sales

from pos.ledger import catalog, journal, state
from pos.services import syncing
from pos.services.terminal import Terminal, open_terminal
from sync.client import Rejected
from sync.engine import SyncStatus
from sync.protocol import ChangesPage, EntryResult, EntryStatus, JournalEntry

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    with open_terminal(tmp_path / "till", secrets_backend="file", daily_backup=False) as opened:
        yield opened


def page(
    changes: list[dict[str, Any]], cursor: str, *, has_more: bool = False, snapshot: bool = False
) -> ChangesPage:
    return ChangesPage.model_validate(
        {
            "changes": changes,
            "cursor": cursor,
            "has_more": has_more,
            "snapshot": snapshot,
            "server_time": T0.isoformat(),
        }
    )


def product(seq: int, sku: str, price: int, update_id: str, last: bool, **extra: Any) -> dict[str, Any]:
    data = {
        "name": f"Product {sku}",
        "price": price,
        "tax_rate": "19",
        "unit": "piece",
        "barcodes": [],
        "active": True,
    }
    return {
        "seq": seq,
        "kind": "product",
        "key": sku,
        "data": {**data, **extra},
        "update_id": update_id,
        "last_in_update": last,
    }


def price_of(terminal: Terminal, sku: str) -> int | None:
    found = catalog.by_sku(terminal.ledger.read(), sku)
    return found.price if found and found.active else None


def test_pending_entries_are_the_journal_after_the_acknowledged_sequence(terminal: Terminal) -> None:
    record_sales(terminal, 12)
    store = syncing.LedgerSyncStore(terminal.ledger)
    assert store.acknowledged_seq() == 0 and store.queued_count() == 12
    pending = store.pending_entries(0, 5)
    assert [e.seq for e in pending] == [1, 2, 3, 4, 5]
    assert all(e.hash_is_valid() for e in pending)
    store.record_push(5, [])
    assert store.acknowledged_seq() == 5 and store.queued_count() == 7
    assert [e.seq for e in store.pending_entries(5, 100)] == list(range(6, 13))


def test_pending_entries_go_on_the_wire_as_stored_and_read_back_as_the_same_entries(
    terminal: Terminal,
) -> None:
    record_sales(terminal, 7)
    store = syncing.LedgerSyncStore(terminal.ledger)
    wire = store.pending_wire(2, 4)
    assert [e.seq for e in wire] == [3, 4, 5, 6]
    # The push sends these bytes untouched: each must be exactly the entry the model describes.
    assert [JournalEntry.model_validate_json(e.json) for e in wire] == store.pending_entries(2, 4)
    for sent in wire:
        stored = terminal.ledger.read().execute("SELECT payload FROM journal WHERE seq = ?", (sent.seq,))
        assert b'"payload":' + stored.fetchone()[0].encode() in sent.json


def test_an_acknowledgement_never_moves_back_and_never_past_the_journal(terminal: Terminal) -> None:
    record_sales(terminal, 3)
    store = syncing.LedgerSyncStore(terminal.ledger)
    store.record_push(3, [])
    store.record_push(1, [])
    assert store.acknowledged_seq() == 3
    with pytest.raises(Rejected, match="call IT"):
        store.record_push(9, [])
    assert store.acknowledged_seq() == 3
    assert journal.verify(terminal.ledger.read().conn).ok


def test_flagged_verdicts_are_kept_for_display(terminal: Terminal) -> None:
    record_sales(terminal, 2)
    store = syncing.LedgerSyncStore(terminal.ledger)
    entry = store.pending_entries(0, 1)[0]
    verdict = EntryResult(
        seq=1, event_id=entry.event_id, status=EntryStatus.QUARANTINED, reason="bad currency"
    )
    store.record_push(2, [verdict])
    assert store.flagged() == [verdict]


def test_a_multi_page_update_shows_no_price_until_its_last_change_arrives(terminal: Terminal) -> None:
    store = syncing.LedgerSyncStore(terminal.ledger)
    store.apply_changes_page(page([product(1, "A", 100, "u0", True)], "c1", has_more=False))
    assert price_of(terminal, "A") == 100

    store.apply_changes_page(
        page([product(2, "A", 150, "u1", False), product(3, "B", 200, "u1", False)], "c3", has_more=True)
    )
    assert price_of(terminal, "A") == 100, "half an update showed a new price"
    assert price_of(terminal, "B") is None
    assert store.cursor() == "c3"

    store.apply_changes_page(page([product(4, "C", 300, "u1", True)], "c4"))
    assert (price_of(terminal, "A"), price_of(terminal, "B"), price_of(terminal, "C")) == (150, 200, 300)
    assert terminal.ledger.read().execute("SELECT count(*) FROM feed_staging").fetchone()[0] == 0


def test_a_snapshot_replaces_the_catalog_only_when_its_last_page_arrives(terminal: Terminal) -> None:
    store = syncing.LedgerSyncStore(terminal.ledger)
    store.apply_changes_page(
        page([product(1, "OLD", 100, "u0", True), product(2, "KEEP", 100, "u1", True)], "c2")
    )
    # A snapshot in three pages; each change is complete on its own (compacted feed).
    store.apply_changes_page(page([product(1, "KEEP", 111, "s1", True)], "s1", has_more=True, snapshot=True))
    assert store.snapshot_in_progress()
    assert price_of(terminal, "KEEP") == 100 and price_of(terminal, "OLD") == 100
    store.apply_changes_page(page([product(2, "NEW", 222, "s2", True)], "s2", has_more=True))
    assert price_of(terminal, "NEW") is None
    store.apply_changes_page(
        page(
            [
                {
                    "seq": 3,
                    "kind": "stock",
                    "key": "NEW",
                    "data": {"on_hand_milli": 5000},
                    "update_id": "s3",
                    "last_in_update": True,
                }
            ],
            "s3",
        )
    )
    assert not store.snapshot_in_progress()
    assert price_of(terminal, "KEEP") == 111 and price_of(terminal, "NEW") == 222
    assert price_of(terminal, "OLD") is None, "a product missing from the snapshot is still sold"
    assert syncing.shown_on_hand_milli(terminal.ledger.read(), "NEW") == 5000


def test_a_page_that_fails_to_apply_changes_nothing_not_even_the_cursor(terminal: Terminal) -> None:
    store = syncing.LedgerSyncStore(terminal.ledger)
    store.apply_changes_page(page([product(1, "A", 100, "u0", True)], "c1"))
    broken = page(
        [product(2, "A", 999, "u1", True), {**product(3, "B", 1, "u2", True), "data": {"name": "no price"}}],
        "c3",
    )
    with pytest.raises(Rejected, match="cannot apply"):
        store.apply_changes_page(broken)
    assert store.cursor() == "c1" and price_of(terminal, "A") == 100


def test_staff_store_and_tax_changes_land_where_the_till_reads_them(terminal: Terminal) -> None:
    store = syncing.LedgerSyncStore(terminal.ledger)
    changes = [
        {
            "seq": 1,
            "kind": "staff",
            "key": "7",
            "data": {"name": "Ana", "role": "manager", "pin_hash": "$argon2id$x", "active": True},
            "update_id": "a",
            "last_in_update": True,
        },
        {
            "seq": 2,
            "kind": "store",
            "key": "S01",
            "data": {
                "code": "S01",
                "name": "Main Street",
                "currency": "EUR",
                "locale": "de_DE",
                "tax_mode": "inclusive",
                "discount_limit_percent": 15,
                "timezone": "Europe/Berlin",
            },
            "update_id": "b",
            "last_in_update": True,
        },
        {
            "seq": 3,
            "kind": "tax_rate",
            "key": "7",
            "data": {"rate": "7"},
            "update_id": "c",
            "last_in_update": True,
        },
    ]
    store.apply_changes_page(page(changes, "c3"))
    settings = terminal.reload_settings()
    assert (settings.store_code, settings.discount_limit_percent, settings.locale) == ("S01", 15, "de_DE")
    assert terminal.ledger.read().execute("SELECT name, role FROM staff WHERE id = '7'").fetchone() == (
        "Ana",
        "manager",
    )
    assert state.get_settings(terminal.ledger.read())["tax_rates"] == {"7": "7"}


def test_shown_stock_is_the_server_figure_minus_unsynced_sales(terminal: Terminal) -> None:
    store = syncing.LedgerSyncStore(terminal.ledger)
    store.apply_changes_page(
        page(
            [
                {
                    "seq": 1,
                    "kind": "stock",
                    "key": "TEA",
                    "data": {"on_hand_milli": 10_000},
                    "update_id": "x",
                    "last_in_update": True,
                }
            ],
            "c1",
        )
    )
    record_sales(terminal, 3, sku="TEA")
    db = terminal.ledger.read()
    assert syncing.shown_on_hand_milli(db, "TEA") == 7_000
    store.record_push(2, [])
    assert syncing.shown_on_hand_milli(db, "TEA") == 9_000  # until the server's new figure arrives
    assert syncing.shown_on_hand_milli(db, "UNKNOWN") is None


def test_status_is_kept_across_restarts(tmp_path: Path) -> None:
    status = SyncStatus(state="offline", queued=4, last_error_kind="offline", last_error="no route")
    with open_terminal(tmp_path / "t", secrets_backend="file", daily_backup=False) as first:
        syncing.LedgerSyncStore(first.ledger).save_status(status)
    with open_terminal(tmp_path / "t", secrets_backend="file", daily_backup=False) as again:
        assert syncing.LedgerSyncStore(again.ledger).load_status() == status
        assert syncing.current_status(again).queued == 0
