"""The cashier app on an enrolled till, in the full demo set-up: the demo's own central server
(uvicorn on a free port, in a thread of this process), the demo terminal enrolled with it, and the
real window driven with key events. Background sync runs on its own thread; what the status line
says is checked against what really happened (server up, server gone, terminal revoked)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import zxingcpp
from PIL import Image
from PySide6.QtCore import QBuffer, QIODevice, Qt
from PySide6.QtWidgets import QApplication, QDialog, QWidget

from pos.app import Terminal, build_terminal
from pos.demo import CENTRAL_DIR, DEMO_STAFF, FullDemo, prepare_full_demo, start_central
from pos.ui.i18n import set_language
from pos.ui.service_till import ServiceTill
from pos.ui.sync_status import SyncView, sync_text
from sync.engine import PullProgress, SyncStatus

CASHIER_PIN = DEMO_STAFF[0][2]
MILK = "4151397130521"  # first row of resources/demo/catalog.csv: 1.19 EUR
MILK_NAME = "Nordlicht Organic whole milk 1 l"
MILK_SKU = "GRO-01001"
WAIT_MS = 20_000


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FullDemo]:
    monkeypatch.setenv("STORELINK_SECRETS", "file")
    full = prepare_full_demo(tmp_path / "pos", port=None)
    yield full
    full.central.stop()


@pytest.fixture
def term(qtbot, demo: FullDemo) -> Iterator[Terminal]:  # type: ignore[no-untyped-def]
    set_language("en")
    till = ServiceTill.open(demo.data_dir, demo_pins=demo.pins)
    # Rounds only when the test (or a sale) asks, so every state below is caused by the test.
    terminal = build_terminal(till, language="en", sync_interval=3600)
    terminal.window.show()
    terminal.display.show()
    qtbot.waitExposed(terminal.window)
    yield terminal
    terminal.close()


def sync_label(term: Terminal) -> QWidget:
    widget = term.window.findChild(QWidget, "statusSync")
    assert widget is not None
    return widget


def sync_state(term: Terminal) -> str:
    return str(sync_label(term).property("syncState"))


def queued(term: Terminal) -> int:
    return int(sync_label(term).property("queued") or 0)


def wait_state(qtbot, term: Terminal, state: str) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: sync_state(term) == state, timeout=WAIT_MS)


def type_into(qtbot, widget: QWidget, text: str) -> None:  # type: ignore[no-untyped-def]
    qtbot.keyClicks(widget, text)
    qtbot.keyClick(widget, Qt.Key.Key_Return)


def modal(qtbot, name: str) -> QDialog:  # type: ignore[no-untyped-def]
    found: list[QDialog] = []

    def visible() -> bool:
        found[:] = [w for w in QApplication.topLevelWidgets() if w.objectName() == name and w.isVisible()]
        return bool(found)

    qtbot.waitUntil(visible)
    return found[0]


def sign_in_and_open_shift(qtbot, term: Terminal) -> None:  # type: ignore[no-untyped-def]
    """The first cashier of the day: PIN, then the opening float the till asks for."""
    type_into(qtbot, term.window.findChild(QWidget, "pinInput"), CASHIER_PIN)
    qtbot.waitUntil(lambda: term.window.current_screen() is term.window.sale_screen)
    dialog = modal(qtbot, "openShiftDialog")
    type_into(qtbot, dialog.findChild(QWidget, "floatInput"), "150")
    qtbot.waitUntil(lambda: not dialog.isVisible())


def sell_milk_for_cash(qtbot, term: Terminal) -> QDialog:  # type: ignore[no-untyped-def]
    type_into(qtbot, term.window.sale_screen.table, MILK)
    qtbot.waitUntil(lambda: len(term.window.sale_screen.model.lines) == 1)
    qtbot.keyClick(term.window.sale_screen.scan_input, Qt.Key.Key_F12)
    payment = modal(qtbot, "paymentDialog")
    qtbot.keyClick(payment.findChild(QWidget, "amountInput"), Qt.Key.Key_Return)  # exact cash
    qtbot.waitUntil(lambda: payment.completed is not None)
    return payment


def grab_pil(widget: QWidget) -> Image.Image:
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    widget.grab().toImage().save(buffer, "PNG")
    return Image.open(io.BytesIO(bytes(buffer.data())))


def test_first_sync_shows_progress_then_a_sale_reaches_head_office_and_its_qr_opens_the_claim_page(
    qtbot, demo: FullDemo
) -> None:  # type: ignore[no-untyped-def]
    set_language("en")
    term = build_terminal(
        ServiceTill.open(demo.data_dir, demo_pins=demo.pins), language="en", sync_interval=3600
    )
    try:
        bar = term.window.findChild(QWidget, "syncProgress")
        assert term.sync is not None and bar is not None
        shown: list[bool] = []
        term.sync.progress_changed.connect(
            lambda progress: shown.append(progress is not None and bar.isVisible())
        )
        term.window.show()
        term.display.show()
        qtbot.waitExposed(term.window)

        # The first round brings store, staff and the whole catalog; the bar is up while it runs.
        wait_state(qtbot, term, "online")
        assert shown and shown[0] is True and shown[-1] is False and not bar.isVisible()
        assert "Online" in sync_label(term).text() and "never synced" not in sync_label(term).text()

        sign_in_and_open_shift(qtbot, term)
        payment = sell_milk_for_cash(qtbot, term)
        completed = payment.completed
        assert completed.claim_url.startswith(demo.central.url.upper() + "/C/")

        # The claim QR on the Customer Display, as a phone reads it, points at the embedded server.
        display = term.display
        qtbot.waitUntil(lambda: display.current_page() == "customerClaimPage")
        codes = zxingcpp.read_barcodes(grab_pil(display))
        assert [c.text for c in codes] == [completed.claim_url]

        # A sale while online is sent at once; then the claim page shows the purchase.
        qtbot.waitUntil(lambda: sync_state(term) == "online" and queued(term) == 0, timeout=WAIT_MS)
        page = httpx.get(codes[0].text, timeout=10)
        assert page.status_code == 200
        assert 'id="purchase"' in page.text and MILK_NAME in page.text
    finally:
        term.close()


def test_status_line_online_then_offline_with_sales_queued_then_revoked(
    qtbot, demo: FullDemo, term: Terminal
) -> None:  # type: ignore[no-untyped-def]
    wait_state(qtbot, term, "online")
    qtbot.waitUntil(lambda: queued(term) == 0)
    text = sync_label(term).text()
    assert text.startswith("Online · 0 queued · last sync ") and text.endswith(" ago")

    # Head office goes away. The till keeps selling; the sale waits in the queue.
    port = int(demo.central.url.rsplit(":", 1)[1])
    demo.central.stop()
    sign_in_and_open_shift(qtbot, term)
    qtbot.waitUntil(lambda: queued(term) > 0)  # the sign-in and the opened shift
    before = queued(term)
    payment = sell_milk_for_cash(qtbot, term)
    qtbot.keyClick(payment, Qt.Key.Key_Return)
    wait_state(qtbot, term, "offline")
    qtbot.waitUntil(lambda: queued(term) > before)
    assert f"Offline · {queued(term)} queued · last sync " in sync_label(term).text()

    # IT revokes the till; head office is back on the same address. "Sync now" asks at once.
    from sync.server.db import Database, utcnow
    from sync.server.stores import revoke_terminal

    database = demo.data_dir / CENTRAL_DIR / "central.sqlite3"
    db = Database.from_url(str(database))
    with db.begin() as conn:
        revoke_terminal(conn, terminal=str(term.till.terminal.config.terminal_id), now=utcnow())  # type: ignore[attr-defined]
    db.dispose()
    demo.central = start_central(database, port)
    assert demo.central.url.endswith(f":{port}")
    waiting = queued(term)
    qtbot.mouseClick(term.window.findChild(QWidget, "syncNowButton"), Qt.MouseButton.LeftButton)
    wait_state(qtbot, term, "revoked")
    text = sync_label(term).text()
    assert text.startswith(
        "This till is no longer enrolled: call IT. Sales are kept and sent when IT re-enrols it"
    )
    assert f"{waiting} queued" in text
    assert sync_label(term).property("role") == "error"


def test_status_words_in_each_language_including_protocol_too_old_and_a_wrong_clock() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    status = SyncStatus(
        state="protocol_too_old",
        queued=3,
        last_success_at=(now - timedelta(minutes=5)).isoformat(),
        clock_offset_seconds=600.0,
    )
    try:
        set_language("en")
        text = sync_text(SyncView(status, lag_seconds=90, at=now))
        assert text.startswith("Protocol too old: tell IT")
        assert "3 queued" in text and "last sync 5 min ago" in text and "clock off by 10 min" in text
        assert "oldest waiting 1 min" in text or "oldest waiting 2 min" in text
        set_language("de")
        german = sync_text(SyncView(SyncStatus(state="revoked", queued=2), at=now))
        assert german.startswith("Diese Kasse ist nicht mehr angemeldet: IT anrufen.")
        assert "2 wartend" in german and "nie abgeglichen" in german
        set_language("zh_CN")
        chinese = sync_text(SyncView(SyncStatus(state="offline", queued=1), at=now))
        assert chinese.startswith("离线") and "1 条待发送" in chinese
    finally:
        set_language("en")


def test_progress_bar_only_for_a_first_sync_or_a_snapshot(qtbot, term: Terminal) -> None:  # type: ignore[no-untyped-def]
    monitor = term.sync
    assert monitor is not None
    wait_state(qtbot, term, "online")
    bar = term.window.findChild(QWidget, "syncProgress")
    text = term.window.findChild(QWidget, "syncProgressText")
    monitor._progress(PullProgress(pages=3, changes=1500, snapshot=True, done=False))
    assert bar.isVisible() and "1500 changes" in text.text()
    monitor._progress(PullProgress(pages=4, changes=1800, snapshot=True, done=True))
    assert not bar.isVisible() and not text.isVisible()
    monitor._progress(PullProgress(pages=2, changes=900, snapshot=False, done=False))  # an ordinary update
    assert not bar.isVisible()


def _search_stock(qtbot, term: Terminal, text: str) -> str:  # type: ignore[no-untyped-def]
    """F2, type ``text``, read the Stock column of the first hit, Esc."""
    qtbot.keyClick(term.window.sale_screen.scan_input, Qt.Key.Key_F2)
    dialog = modal(qtbot, "searchDialog")
    query = dialog.findChild(QWidget, "searchInput")
    results = dialog.findChild(QWidget, "searchResults")
    qtbot.keyClicks(query, text)
    qtbot.waitUntil(lambda: results.rowCount() >= 1)
    assert results.item(0, 0).text() == MILK_NAME
    stock = str(results.item(0, 3).text())
    qtbot.keyClick(query, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    return stock


def test_search_shows_head_office_stock_less_this_tills_unsynced_sales(
    qtbot, demo: FullDemo, term: Terminal
) -> None:  # type: ignore[no-untyped-def]
    from central_fixtures import set_stock

    from pos.services import syncing
    from sync.server.db import Database

    wait_state(qtbot, term, "online")
    db = Database.from_url(str(demo.data_dir / CENTRAL_DIR / "central.sqlite3"))
    set_stock(db, "DEMO", MILK_SKU, 12_000)  # a stock count at head office
    db.dispose()
    qtbot.mouseClick(term.window.findChild(QWidget, "syncNowButton"), Qt.MouseButton.LeftButton)
    ledger = term.till.terminal.ledger  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: syncing.shown_on_hand_milli(ledger.read(), MILK_SKU) == 12_000, timeout=WAIT_MS)

    sign_in_and_open_shift(qtbot, term)
    assert _search_stock(qtbot, term, "Nordlicht") == "12"

    # Offline, the till takes its own sale off head office's last figure.
    demo.central.stop()
    payment = sell_milk_for_cash(qtbot, term)
    qtbot.keyClick(payment, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not payment.isVisible())
    assert _search_stock(qtbot, term, "Nordlicht") == "11"
