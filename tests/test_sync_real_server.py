"""What the cashier sees when head office answers in the less usual ways, on a real ledger against
the real server: stock from other stores, a quarantined sale that does not block the ones after
it, a revoked terminal that keeps selling offline, and catalog, staff and stock arriving by sync."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from central_fixtures import LiveServer, enrollment_code, set_stock
from click.testing import CliRunner
from sync_support import central_server, record_sales, server_journal, until

from pos.cli import cli
from pos.ledger import catalog, journal
from pos.services import syncing
from pos.services.terminal import Terminal, open_terminal
from sync.client import Offline, Revoked
from sync.engine import RoundReport, SyncLoop, status_line
from sync.protocol import EntryStatus, EventType
from sync.server.catalog import import_catalog
from sync.server.db import utcnow
from sync.server.stores import add_store, revoke_terminal


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[LiveServer, Terminal]]:
    with central_server(tmp_path) as server:
        with server.db.begin() as conn:
            add_store(
                conn,
                code="S02",
                name="Harbour",
                currency="EUR",
                locale="de_DE",
                tax_mode="inclusive",
                now=utcnow(),
            )
        with open_terminal(tmp_path / "till", secrets_backend="file", daily_backup=False) as terminal:
            syncing.enroll(terminal, server.url, enrollment_code(server.db, "S01"), terminal_name="Till")
            yield server, terminal


def test_catalog_and_stock_arrive_and_other_stores_can_be_asked(setup: tuple[LiveServer, Terminal]) -> None:
    server, terminal = setup
    with server.db.begin() as conn:
        import_catalog(
            conn, "sku,name,price,tax_rate,barcodes,unit\nTEA,Green tea,4.99,19,,piece\n", now=utcnow()
        )
    set_stock(server.db, "S01", "TEA", 12_000)
    set_stock(server.db, "S02", "TEA", 3_000)
    report = syncing.sync_once(terminal)
    assert report.ok and report.changes >= 2, report.summary()
    product = catalog.by_sku(terminal.ledger.read(), "TEA")
    assert product is not None and product.price == 499
    assert syncing.shown_on_hand_milli(terminal.ledger.read(), "TEA") == 12_000
    record_sales(terminal, 2, sku="TEA")
    assert syncing.shown_on_hand_milli(terminal.ledger.read(), "TEA") == 10_000, (
        "unsynced sales not taken off"
    )

    levels = syncing.stock_elsewhere(terminal, "TEA")
    assert {(lvl.store_code, lvl.on_hand_milli) for lvl in levels} == {("S01", 12_000), ("S02", 3_000)}
    syncing.sync_once(terminal)  # the server's own figure now counts the two sales
    assert syncing.shown_on_hand_milli(terminal.ledger.read(), "TEA") == 10_000


def test_a_price_saved_at_head_office_reaches_the_till_waiting_on_the_feed(
    setup: tuple[LiveServer, Terminal],
) -> None:
    server, terminal = setup
    csv = "sku,name,price,tax_rate,barcodes,unit\nTEA,Green tea,{price},19,,piece\n"
    with server.db.begin() as conn:
        import_catalog(conn, csv.format(price="4.99"), now=utcnow())
    # An hour-long timer and no sync_now: only the long-poll can bring the new price.
    loop = syncing.start_background_sync(terminal, interval=3600)
    try:
        until(lambda: price_of(terminal, "TEA") == 499, "the first sync")
        until(lambda: loop.engine.status.state == "online", "online")
        with server.db.begin() as conn:
            import_catalog(conn, csv.format(price="5.49"), now=utcnow())
        until(lambda: price_of(terminal, "TEA") == 549, "the new price on the till")
        assert loop.watches >= 1
        assert loop.engine.status.state == "online" and loop.engine.status.last_success_at is not None
    finally:
        loop.stop()


def price_of(terminal: Terminal, sku: str) -> int | None:
    product = catalog.by_sku(terminal.ledger.read(), sku)
    return product.price if product is not None else None


def test_stock_elsewhere_offline_says_so(setup: tuple[LiveServer, Terminal], tmp_path: Path) -> None:
    _, terminal = setup
    from pos.config import update_config

    terminal.config = update_config(terminal.data_dir, server_url="http://127.0.0.1:9")
    with pytest.raises(Offline):
        syncing.stock_elsewhere(terminal, "TEA")


def test_a_quarantined_sale_is_shown_and_does_not_block_later_ones(
    setup: tuple[LiveServer, Terminal],
) -> None:
    server, terminal = setup
    record_sales(terminal, 2)

    def wrong_currency(db: object) -> None:
        payload = {"sale_id": "not-a-uuid", "oops": True}
        journal.append(db, EventType.SALE_COMPLETED, payload)  # type: ignore[arg-type]

    terminal.ledger.transact(wrong_currency)
    record_sales(terminal, 2)
    report = syncing.sync_once(terminal)
    assert report.ok, report.summary()
    assert [(r.seq, r.status) for r in report.flagged] == [(3, EntryStatus.QUARANTINED)]
    assert [seq for seq, _ in server_journal(server.db, terminal.config.terminal_id)] == [1, 2, 3, 4, 5]
    status = syncing.current_status(terminal)
    assert status.queued == 0 and status.flagged == 1
    assert "1 flagged by head office" in status_line(status)
    store = syncing.LedgerSyncStore(terminal.ledger)
    assert [r.seq for r in store.flagged()] == [3]


def test_a_revoked_terminal_stops_syncing_keeps_selling_and_says_call_it(
    setup: tuple[LiveServer, Terminal],
) -> None:
    server, terminal = setup
    record_sales(terminal, 1)
    assert syncing.sync_once(terminal).ok
    with server.db.begin() as conn:
        revoke_terminal(conn, terminal=terminal.config.terminal_code, now=utcnow())
    record_sales(terminal, 3)  # selling goes on
    report = syncing.sync_once(terminal)
    assert isinstance(report.error, Revoked)
    status = syncing.current_status(terminal)
    assert status.state == "revoked" and status.queued == 3
    assert "call IT" in status_line(status)
    assert len(server_journal(server.db, terminal.config.terminal_id)) == 1
    # `pos status` tells the same facts as the app's status line.
    shown = CliRunner().invoke(cli, ["--data-dir", str(terminal.data_dir), "status"])
    assert shown.exit_code == 0, shown.output
    sync_line = next(line for line in shown.output.splitlines() if line.startswith("Sync:"))
    assert "call IT" in sync_line and "3 queued" in sync_line
    as_json = CliRunner().invoke(cli, ["--data-dir", str(terminal.data_dir), "status", "--json"])
    facts = json.loads(as_json.output)["sync"]
    assert facts["state"] == "revoked" and facts["queued"] == 3


def test_barcodes_from_head_office_are_found_by_the_scanner_in_any_gtin_form(
    setup: tuple[LiveServer, Terminal],
) -> None:
    # Head office keeps barcodes as written (UPC-A 12 digits, EAN-8, GTIN-14 with a leading zero);
    # the till looks scans up in one normal form, so what arrives must be stored in that form.
    from pos.services.catalog import product_by_barcode

    server, terminal = setup
    with server.db.begin() as conn:
        import_catalog(
            conn,
            "sku,name,price,tax_rate,barcodes,unit\n"
            "SODA,Cola 330 ml,0.99,19,036000291452 96385074,piece\n"
            "TRAY,Cola tray,9.99,19,00012345600012,piece\n",
            now=utcnow(),
        )
    assert syncing.sync_once(terminal).ok
    for scanned, sku in (
        ("036000291452", "SODA"),  # as printed on the can (UPC-A)
        ("0036000291452", "SODA"),  # the same, as an EAN-13 scanner sends it
        ("96385074", "SODA"),  # EAN-8
        ("00012345600012", "TRAY"),  # GTIN-14
        ("0012345600012", "TRAY"),
    ):
        found = product_by_barcode(terminal, scanned)
        assert found is not None and found.sku == sku, scanned


def test_a_revoked_terminal_s_background_loop_stops_trying_until_a_person_asks(
    setup: tuple[LiveServer, Terminal],
) -> None:
    """After a revocation the loop does not retry on its own, even with a backoff of a millisecond."""
    server, terminal = setup
    with server.db.begin() as conn:
        revoke_terminal(conn, terminal=terminal.config.terminal_code, now=utcnow())
    record_sales(terminal, 1)
    rounds: list[RoundReport] = []
    first, second = threading.Event(), threading.Event()

    def on_round(report: RoundReport) -> None:
        rounds.append(report)
        (first if len(rounds) == 1 else second).set()

    engine = syncing.make_engine(terminal)
    loop = SyncLoop(
        engine,
        watch=None,
        interval=3600.0,
        initial=0.001,
        cap=0.001,
        on_round=on_round,
        on_stop=engine.client.http.close,
    )
    loop.start()
    try:
        assert first.wait(30), "no first round"
        assert isinstance(rounds[0].error, Revoked)
        # A loop that retried would have run many rounds within this bound (1 ms apart).
        assert not second.wait(1.0), f"the loop retried after the revocation ({len(rounds)} rounds)"
        loop.sync_now()  # a person asking tries exactly once more
        assert second.wait(30), "sync_now did not start a round"
    finally:
        loop.stop()
    assert len(rounds) == 2 and all(isinstance(r.error, Revoked) for r in rounds)
    assert syncing.current_status(terminal).state == "revoked"


def test_the_till_acknowledges_what_the_server_holds_not_what_it_sent(
    setup: tuple[LiveServer, Terminal], tmp_path: Path
) -> None:
    """A cloned till (its files copied to a second machine) pushes a history the server refuses
    after the first differing entry: it must keep everything from there queued."""
    server, terminal = setup
    record_sales(terminal, 1)
    assert syncing.sync_once(terminal).ok
    clone_dir = tmp_path / "clone"
    shutil.copytree(terminal.data_dir, clone_dir)
    record_sales(terminal, 1)  # the original goes on: its seq 2 reaches head office
    assert syncing.sync_once(terminal).ok
    held = len(server_journal(server.db, terminal.config.terminal_id))
    with open_terminal(clone_dir, secrets_backend="file", daily_backup=False) as clone:
        first_new = journal.head(clone.ledger.read())[0] + 1
        record_sales(clone, 3)  # different entries under the same sequence numbers
        report = syncing.sync_once(clone)
        assert not report.ok
        store = syncing.LedgerSyncStore(clone.ledger)
        # The server's high_seq, never the last entry sent.
        assert store.acknowledged_seq() <= held < journal.head(clone.ledger.read())[0]
        assert store.acknowledged_seq() < first_new + 2
        assert store.queued_count() >= 2
    assert len(server_journal(server.db, terminal.config.terminal_id)) == held
