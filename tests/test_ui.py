"""The cashier app, driven like a scanner and a cashier drive it: key events into the real window
on a real ledger in a temporary data dir (pytest-qt, offscreen). No service is called directly."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from PySide6.QtCore import QBuffer, QIODevice, Qt
from PySide6.QtWidgets import QApplication, QDialog, QWidget

from pos.app import Terminal, build_terminal
from pos.demo import DEMO_STAFF, demo_member_code, prepare_demo
from pos.ui.i18n import set_language
from pos.ui.service_till import ServiceTill

CASHIER_PIN, OTHER_CASHIER_PIN, MANAGER_PIN = (pin for _name, _role, pin in DEMO_STAFF)


def gtin(body: str) -> str:
    """``body`` with its GS1 check digit."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


MUG = gtin("400638133393")  # 3.99, 19 %
BREAD = gtin("400000000001")  # 2.49, 7 %
SCARF = gtin("400000000002")  # 24.95, 19 %
TEA = gtin("400000000003")  # 4.50, 7 %

CATALOG = f"""sku,name,price,tax_rate,barcodes,unit
MUG-1,Coffee mug porcelain,3.99,19,{MUG},piece
BRD-1,Rye bread 500 g,2.49,7,{BREAD},piece
SCF-1,Wool scarf grey,24.95,19,{SCARF},piece
TEA-1,Green tea 100 g,4.50,7,{TEA},piece
KAF-2,Kaffeefilter Gr. 4,1.99,19,{gtin("400000000004")},piece
"""


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One prepared demo terminal (Argon2 PIN hashing takes a moment); each test copies it."""
    base = tmp_path_factory.mktemp("template")
    csv = base / "catalog.csv"
    csv.write_text(CATALOG, encoding="utf-8")
    demo = prepare_demo(
        base / "pos", catalog=csv, store={"locale": "en_IE", "store_name": "Storelink Test Store"}
    )
    return demo.data_dir


@pytest.fixture
def data_dir(demo_template: Path, tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / "pos"
    shutil.copytree(demo_template, target)
    (target / "ui.json").write_text(
        json.dumps({"printer": {"kind": "file", "path": str(tmp_path / "printer.bin")}}), encoding="utf-8"
    )
    return target


@pytest.fixture
def beeps(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    monkeypatch.setattr(QApplication, "beep", staticmethod(lambda: calls.append(1)))
    return calls


@pytest.fixture
def term(qtbot, data_dir: Path) -> Iterator[Terminal]:  # type: ignore[no-untyped-def]
    set_language("en")
    terminal = build_terminal(ServiceTill.open(data_dir, demo_pins=DEMO_STAFF), language="en")
    terminal.window.show()
    terminal.display.show()
    qtbot.waitExposed(terminal.window)
    yield terminal
    terminal.close()


def printed(data_dir: Path) -> bytes:
    path = data_dir.parent / "printer.bin"
    return path.read_bytes() if path.exists() else b""


def type_into(qtbot, widget: QWidget, text: str, enter: bool = True) -> None:  # type: ignore[no-untyped-def]
    qtbot.keyClicks(widget, text)
    if enter:
        qtbot.keyClick(widget, Qt.Key.Key_Return)


def sign_in(qtbot, term: Terminal, pin: str = CASHIER_PIN) -> None:  # type: ignore[no-untyped-def]
    pin_input = term.window.findChild(QWidget, "pinInput")
    type_into(qtbot, pin_input, pin)
    qtbot.waitUntil(lambda: term.window.current_screen() is term.window.sale_screen)


def scan(qtbot, term: Terminal, code: str, *, into: QWidget | None = None) -> None:  # type: ignore[no-untyped-def]
    """A scanner types the code and Enter into whatever widget has the keys (the table by default)."""
    type_into(qtbot, into or term.window.sale_screen.table, code)


def wait_idle(qtbot, term: Terminal) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: term.runner.pending == 0)


def rows(term: Terminal) -> list[tuple[str, str, str]]:
    return [(line.name, line.quantity, line.amount) for line in term.window.sale_screen.model.lines]


def modal(qtbot, name: str) -> QDialog:  # type: ignore[no-untyped-def]
    found: list[QDialog] = []

    def visible() -> bool:
        found[:] = [w for w in QApplication.topLevelWidgets() if w.objectName() == name and w.isVisible()]
        return bool(found)

    qtbot.waitUntil(visible)
    return found[0]


def text_of(root: QWidget, name: str) -> str:
    widget = root.findChild(QWidget, name)
    assert widget is not None, name
    return widget.text()  # type: ignore[attr-defined]


# --- sign-in ---------------------------------------------------------------------------------------


def test_sign_in_screen_shows_the_demo_pins_and_signs_in_by_pin(qtbot, term: Terminal) -> None:  # type: ignore[no-untyped-def]
    demo = text_of(term.window, "demoPins")
    assert "Anna Becker" in demo and CASHIER_PIN in demo and MANAGER_PIN in demo
    sign_in(qtbot, term)
    qtbot.waitUntil(lambda: "Anna Becker" in text_of(term.window, "statusCashier"))
    assert "never synced" in text_of(term.window, "statusSync")
    assert "since" in text_of(term.window, "statusShift")


def test_five_wrong_pins_lock_pin_entry_even_for_the_right_pin(
    qtbot, term: Terminal, beeps: list[int]
) -> None:  # type: ignore[no-untyped-def]
    pin_input = term.window.findChild(QWidget, "pinInput")
    for _attempt in range(5):
        type_into(qtbot, pin_input, "4321")
        wait_idle(qtbot, term)
    assert "Too many wrong PINs" in text_of(term.window, "signInMessage")
    type_into(qtbot, pin_input, CASHIER_PIN)
    wait_idle(qtbot, term)
    assert term.window.current_screen() is term.window.sign_in
    assert "locked until" in text_of(term.window, "signInMessage")
    assert beeps


def test_lock_screen_and_sign_out(qtbot, term: Terminal) -> None:  # type: ignore[no-untyped-def]
    sign_in(qtbot, term)
    scan(qtbot, term, MUG)
    qtbot.waitUntil(lambda: len(rows(term)) == 1)
    qtbot.keyClick(term.window.sale_screen.scan_input, Qt.Key.Key_F11)
    qtbot.waitUntil(lambda: term.window.current_screen() is term.window.lock_screen)
    assert "Anna Becker" in text_of(term.window, "unlockPrompt")
    type_into(qtbot, term.window.findChild(QWidget, "unlockPinInput"), CASHIER_PIN)
    qtbot.waitUntil(lambda: term.window.current_screen() is term.window.sale_screen)
    assert len(rows(term)) == 1  # the sale survived the lock
    qtbot.mouseClick(term.window.findChild(QWidget, "voidSaleButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: rows(term) == [])
    qtbot.mouseClick(term.window.findChild(QWidget, "signOutButton"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: term.window.current_screen() is term.window.sign_in)
    assert "Not signed in" in text_of(term.window, "statusCashier")


# --- ringing up ------------------------------------------------------------------------------------


def test_scans_quantity_unknown_code_and_remove_line(qtbot, term: Terminal, beeps: list[int]) -> None:  # type: ignore[no-untyped-def]
    sign_in(qtbot, term)
    scan(qtbot, term, MUG, into=term.window.sale_screen.scan_input)
    qtbot.waitUntil(lambda: len(rows(term)) == 1)
    assert rows(term) == [("Coffee mug porcelain", "1", "€3.99")]
    assert "Coffee mug porcelain" in text_of(term.window, "lastItem")

    scan(qtbot, term, "3*")  # typed on the keyboard with the focus elsewhere: still the sale's
    qtbot.waitUntil(lambda: "3" in text_of(term.window, "pendingQuantity"))
    scan(qtbot, term, BREAD)
    qtbot.waitUntil(lambda: len(rows(term)) == 2)
    assert rows(term)[1] == ("Rye bread 500 g", "3", "€7.47")
    assert text_of(term.window, "saleTotal") == "€11.46"
    assert "3 × Rye bread" in text_of(term.window, "lastItem")

    before = rows(term)
    scan(qtbot, term, "4006381333932")  # a mangled check digit
    qtbot.waitUntil(lambda: beeps != [])
    wait_idle(qtbot, term)
    assert rows(term) == before
    assert "4006381333932" in text_of(term.window, "saleMessage")
    scan(qtbot, term, gtin("400999999999"))  # a good barcode the catalog does not have
    qtbot.waitUntil(lambda: "not in the catalog" in text_of(term.window, "saleMessage"))
    assert rows(term) == before and len(beeps) == 2

    # The last scanned line is selected; Delete removes it.
    qtbot.keyClick(term.window.sale_screen.scan_input, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: len(rows(term)) == 1)
    assert rows(term) == [("Coffee mug porcelain", "1", "€3.99")]
    assert text_of(term.window, "saleTotal") == "€3.99"


def test_on_screen_keypad_rings_up_without_a_keyboard(qtbot, term: Terminal) -> None:  # type: ignore[no-untyped-def]
    sign_in(qtbot, term)
    for key in ["2", "Times", *MUG, "Enter"]:
        qtbot.mouseClick(term.window.findChild(QWidget, f"saleKeypadKey{key}"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(rows(term)) == 1)
    assert rows(term) == [("Coffee mug porcelain", "2", "€7.98")]


def test_f2_search_shows_results_as_you_type_and_enter_adds(qtbot, term: Terminal) -> None:  # type: ignore[no-untyped-def]
    sign_in(qtbot, term)
    qtbot.keyClick(term.window.sale_screen.scan_input, Qt.Key.Key_F2)
    dialog = modal(qtbot, "searchDialog")
    query = dialog.findChild(QWidget, "searchInput")
    results = dialog.findChild(QWidget, "searchResults")
    qtbot.keyClicks(query, "wool")
    qtbot.waitUntil(lambda: results.rowCount() == 1)
    assert results.item(0, 0).text() == "Wool scarf grey"
    assert results.item(0, 3).text() == ""  # a standalone till has no stock figure from head office
    query.clear()
    qtbot.keyClicks(query, "40000000000")  # code prefix
    qtbot.waitUntil(lambda: results.rowCount() == 4)
    qtbot.keyClick(query, Qt.Key.Key_Down)
    qtbot.keyClick(query, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(rows(term)) == 1)
    assert not dialog.isVisible()
    assert rows(term)[0][0] == results.item(1, 0).text()


def test_f2_results_are_sized_once_per_answer_not_per_cell(qtbot, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue 12: the code, price and stock columns sized to contents re-measured every row of the
    column each time a cell was set, so 50 results cost thousands of size hints (150 ms a keystroke
    on a 100,000-product ledger). One answer now measures each cell's text at most once, and a
    whole barcode still fits its column."""
    from PySide6.QtWidgets import QStyledItemDelegate

    from pos.services import catalog as catalog_service
    from pos.services.terminal import close_terminal, open_terminal

    brushes = data_dir.parent / "brushes.csv"
    brushes.write_text(
        "sku,name,price,tax_rate,barcodes,unit\n"
        + "".join(f"BR-{n},Brush {n},{n}.99,19,{gtin(f'40099{n:07d}')},piece\n" for n in range(60)),
        encoding="utf-8",
    )
    terminal = open_terminal(data_dir)
    try:
        catalog_service.import_catalog(terminal, brushes)
    finally:
        close_terminal(terminal)
    set_language("en")
    term = build_terminal(ServiceTill.open(data_dir, demo_pins=DEMO_STAFF), language="en")
    try:
        term.window.show()
        qtbot.waitExposed(term.window)
        sign_in(qtbot, term)
        qtbot.keyClick(term.window.sale_screen.scan_input, Qt.Key.Key_F2)
        dialog = modal(qtbot, "searchDialog")
        results = dialog.findChild(QWidget, "searchResults")
        asked: list[int] = []

        class CountingDelegate(QStyledItemDelegate):
            def sizeHint(self, option, index):  # type: ignore[no-untyped-def]
                asked.append(index.column())
                return super().sizeHint(option, index)

        delegate = CountingDelegate(results)
        results.setItemDelegate(delegate)
        query = dialog.findChild(QWidget, "searchInput")
        qtbot.keyClicks(query, "brus")
        qtbot.waitUntil(lambda: results.rowCount() == 50)
        wait_idle(qtbot, term)
        asked.clear()
        qtbot.keyClick(query, "h")  # the next answer replaces 50 shown rows with 50 others
        wait_idle(qtbot, term)
        assert len(asked) <= results.rowCount() * results.columnCount()
        widest_code = max(
            results.fontMetrics().horizontalAdvance(results.item(r, 1).text()) for r in range(50)
        )
        assert results.horizontalHeader().sectionSize(1) > widest_code
        assert results.item(0, 1).text() == gtin("400990000000")
    finally:
        term.close()


def test_discount_within_the_limit_and_above_it_with_a_manager(qtbot, term: Terminal) -> None:  # type: ignore[no-untyped-def]
    sign_in(qtbot, term)
    scan(qtbot, term, SCARF)
    qtbot.waitUntil(lambda: len(rows(term)) == 1)
    qtbot.keyClick(term.window.sale_screen.scan_input, Qt.Key.Key_F4)
    dialog = modal(qtbot, "discountDialog")
    type_into(qtbot, dialog.findChild(QWidget, "discountInput"), "5%")
    qtbot.waitUntil(lambda: not dialog.isVisible())
    wait_idle(qtbot, term)
    assert (text_of(term.window, "saleMessage"), text_of(term.window, "saleTotal")) == (
        "Discount applied",
        "€23.70",
    )

    qtbot.keyClick(term.window.sale_screen.scan_input, Qt.Key.Key_F4)
    dialog = modal(qtbot, "discountDialog")
    type_into(qtbot, dialog.findChild(QWidget, "discountInput"), "50%")
    approval = modal(qtbot, "managerApprovalDialog")
    assert "manager" in text_of(approval, "managerApprovalPrompt")
    assert text_of(term.window, "saleTotal") == "€23.70"  # nothing changed yet
    type_into(qtbot, approval.findChild(QWidget, "managerPinInput"), MANAGER_PIN)
    qtbot.waitUntil(lambda: text_of(term.window, "saleTotal") == "€12.47")

    # A cashier's PIN does not approve.
    qtbot.keyClick(term.window.sale_screen.scan_input, Qt.Key.Key_F4)
    dialog = modal(qtbot, "discountDialog")
    type_into(qtbot, dialog.findChild(QWidget, "discountInput"), "60%")
    approval = modal(qtbot, "managerApprovalDialog")
    type_into(qtbot, approval.findChild(QWidget, "managerPinInput"), OTHER_CASHIER_PIN)
    qtbot.waitUntil(lambda: "not a manager" in text_of(term.window, "saleMessage"))
    assert text_of(term.window, "saleTotal") == "€12.47"


# --- payment, receipt, customer display --------------------------------------------------------------


def grab_pil(widget: QWidget) -> Image.Image:
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    widget.grab().toImage().save(buffer, "PNG")
    return Image.open(io.BytesIO(bytes(buffer.data())))


def test_cash_payment_change_receipt_and_claim_qr_on_the_customer_display(
    qtbot, term: Terminal, data_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    sign_in(qtbot, term)
    scan(qtbot, term, MUG)
    scan(qtbot, term, BREAD)
    qtbot.waitUntil(lambda: len(rows(term)) == 2)
    display = term.display
    assert display.windowTitle() == "Customer Display"
    qtbot.waitUntil(lambda: text_of(display, "customerTotal") == "€6.48")
    assert display.findChild(QWidget, "customerLines").rowCount() == 2

    qtbot.keyClick(term.window.sale_screen.scan_input, Qt.Key.Key_F12)
    payment = modal(qtbot, "paymentDialog")
    assert "€6.48" in text_of(payment, "paymentTotal")
    type_into(qtbot, payment.findChild(QWidget, "amountInput"), "10")
    qtbot.waitUntil(lambda: payment.completed is not None)
    assert text_of(payment, "changeLabel") == "Change: €3.52"
    completed = payment.completed
    preview = text_of(payment, "receiptPreviewText")
    for expected in (
        completed.receipt_number,
        "Coffee mug porcelain",
        "19 %",
        "7 %",
        "Cash",
        "€10.00",
        "€3.52",
    ):
        assert expected in preview

    # Printed through python-escpos: the text and the native QR with the claim URL.
    raw = printed(data_dir)
    assert completed.receipt_number.encode() in raw and b"Coffee mug porcelain" in raw
    assert completed.claim_url.encode() in raw and b"\x1d(k" in raw
    assert raw.startswith(b"\x1bp")  # a cash sale opens the drawer

    # The customer display shows the claim QR, readable by a phone: decode it from a grab of the window.
    qtbot.waitUntil(lambda: display.current_page() == "customerClaimPage")
    assert text_of(display, "customerClaimText") == "Scan to add this purchase to your account"
    codes = zxingcpp.read_barcodes(grab_pil(display))
    assert [c.text for c in codes] == [completed.claim_url]
    assert completed.claim_url.startswith("HTTPS://CLAIM.STORELINK.EXAMPLE/C/")

    # Enter starts the next sale; the QR stays until the next scan.
    qtbot.keyClick(payment, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not payment.isVisible())
    assert rows(term) == [] and display.current_page() == "customerClaimPage"
    scan(qtbot, term, TEA)
    qtbot.waitUntil(lambda: display.current_page() == "customerSalePage")
    assert text_of(display, "customerTotal") == "€4.50"
    qtbot.waitUntil(lambda: "Queued: " in text_of(term.window, "statusSync"))


def test_enter_with_no_amount_takes_the_exact_total(qtbot, term: Terminal) -> None:  # type: ignore[no-untyped-def]
    sign_in(qtbot, term)
    scan(qtbot, term, TEA)
    qtbot.waitUntil(lambda: len(rows(term)) == 1)
    qtbot.keyClick(term.window.sale_screen.scan_input, Qt.Key.Key_F12)
    payment = modal(qtbot, "paymentDialog")
    qtbot.keyClick(payment.findChild(QWidget, "amountInput"), Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: payment.completed is not None)
    assert payment.completed.change_minor == 0


def test_esc_steps_back_from_payment_to_the_sale(qtbot, term: Terminal) -> None:  # type: ignore[no-untyped-def]
    sign_in(qtbot, term)
    scan(qtbot, term, TEA)
    qtbot.waitUntil(lambda: len(rows(term)) == 1)
    qtbot.keyClick(term.window.sale_screen.scan_input, Qt.Key.Key_F12)
    payment = modal(qtbot, "paymentDialog")
    qtbot.keyClick(payment.findChild(QWidget, "amountInput"), Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not payment.isVisible())
    assert len(rows(term)) == 1


def test_split_payment_card_then_cash_and_reprint(qtbot, term: Terminal, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    sign_in(qtbot, term)
    scan(qtbot, term, SCARF)
    qtbot.waitUntil(lambda: len(rows(term)) == 1)
    qtbot.keyClick(term.window.sale_screen.scan_input, Qt.Key.Key_F12)
    payment = modal(qtbot, "paymentDialog")
    qtbot.keyClicks(payment.findChild(QWidget, "amountInput"), "20")
    qtbot.keyClick(payment.findChild(QWidget, "amountInput"), Qt.Key.Key_F8)
    card = modal(qtbot, "cardDialog")
    type_into(qtbot, card.findChild(QWidget, "approvalInput"), "AUTH-778812")
    qtbot.waitUntil(lambda: "Still due: €4.95" in text_of(payment, "paymentRemaining"))
    assert payment.completed is None
    type_into(qtbot, payment.findChild(QWidget, "amountInput"), "5")
    qtbot.waitUntil(lambda: payment.completed is not None)
    preview = text_of(payment, "receiptPreviewText")
    assert "Card" in preview and "AUTH-778812" in preview and "€20.00" in preview and "€0.05" in preview
    qtbot.keyClick(payment, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not payment.isVisible())

    number = payment.completed.receipt_number
    assert b"COPY" not in printed(data_dir)
    qtbot.keyClick(term.window.sale_screen.scan_input, Qt.Key.Key_F9)
    qtbot.waitUntil(lambda: "printed again" in text_of(term.window, "saleMessage"))
    again = printed(data_dir)  # the file printer holds the last job
    assert number.encode() in again and b"COPY" in again and b"AUTH-778812" in again
    assert b"\x1bp" not in again  # a reprint leaves the drawer shut
    # The reprint is journaled.
    till: ServiceTill = term.till  # type: ignore[assignment]
    types = [row[0] for row in till.terminal.ledger.read().execute("SELECT type FROM journal ORDER BY seq")]
    assert types[-1] == "receipt.reprinted"


# --- member codes -----------------------------------------------------------------------------------


def test_member_code_attaches_the_member_and_expired_ones_are_refused(
    qtbot, term: Terminal, data_dir: Path, beeps: list[int]
) -> None:  # type: ignore[no-untyped-def]
    sign_in(qtbot, term)
    scan(qtbot, term, demo_member_code(data_dir, 4711, datetime.now(UTC)))
    qtbot.waitUntil(lambda: "4711" in text_of(term.window, "saleMember"))
    assert not beeps
    old = demo_member_code(data_dir, 4712, datetime.now(UTC) - timedelta(hours=2))
    scan(qtbot, term, old)
    qtbot.waitUntil(lambda: "expired" in text_of(term.window, "saleMessage"))
    assert "4711" in text_of(term.window, "saleMember") and beeps
    forged = old[:-8] + ("1" if old[-8] != "1" else "2") + old[-7:]
    scan(qtbot, term, forged)
    qtbot.waitUntil(lambda: "refused" in text_of(term.window, "saleMessage") and len(beeps) == 2)


# --- languages and threads --------------------------------------------------------------------------


def test_switching_to_german_and_chinese_translates_the_screens(qtbot, term: Terminal) -> None:  # type: ignore[no-untyped-def]
    box = term.window.findChild(QWidget, "languageBox")
    box.setCurrentIndex(box.findData("de"))
    assert text_of(term.window, "signInButton") == "Anmelden"
    sign_in(qtbot, term)
    assert text_of(term.window, "payButton") == "Bezahlen\n(F12)"  # the key under the caption
    assert "nie abgeglichen" in text_of(term.window, "statusSync")
    set_language("zh_CN")
    assert text_of(term.window, "payButton") == "付款\n(F12)"
    set_language("en")


def test_ledger_work_never_runs_on_the_ui_thread(qtbot, term: Terminal) -> None:  # type: ignore[no-untyped-def]
    till: ServiceTill = term.till  # type: ignore[assignment]
    seen: list[str] = []
    original = till.scan

    def spy(code: str, quantity: str | None = None):  # type: ignore[no-untyped-def]
        seen.append(threading.current_thread().name)
        return original(code, quantity)

    till.scan = spy  # type: ignore[method-assign]
    sign_in(qtbot, term)
    scan(qtbot, term, MUG)
    qtbot.waitUntil(lambda: len(rows(term)) == 1)
    assert seen and all(name != threading.main_thread().name for name in seen)


def test_void_qt_calls_do_not_wear_out_none(qtbot) -> None:  # type: ignore[no-untyped-def]
    """A long day at the till makes millions of Qt calls; None must survive them on Python 3.11."""
    import sys

    from PySide6.QtWidgets import QLabel

    import pos.ui  # noqa: F401 - applies the guard

    label = QLabel()
    qtbot.addWidget(label)
    for _ in range(2000):
        label.setText("x")
    assert sys.getrefcount(None) > 1 << 30  # 3.12+: immortal (2**32 - 1); 3.11: our 2**40


def test_after_a_stop_during_payment_the_next_start_says_the_sale_did_not_complete(
    qtbot, data_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    set_language("en")
    first = build_terminal(ServiceTill.open(data_dir, demo_pins=DEMO_STAFF), language="en")
    first.window.show()
    sign_in(qtbot, first)
    scan(qtbot, first, SCARF)
    qtbot.waitUntil(lambda: len(rows(first)) == 1)
    qtbot.keyClick(first.window.sale_screen.scan_input, Qt.Key.Key_F12)
    payment = modal(qtbot, "paymentDialog")
    qtbot.keyClicks(payment.findChild(QWidget, "amountInput"), "5")
    qtbot.keyClick(payment.findChild(QWidget, "amountInput"), Qt.Key.Key_F8)
    type_into(qtbot, modal(qtbot, "cardDialog").findChild(QWidget, "approvalInput"), "AUTH-1")
    qtbot.waitUntil(lambda: "Still due" in text_of(payment, "paymentRemaining"))
    first.close()  # the till stops mid-payment

    second = build_terminal(ServiceTill.open(data_dir, demo_pins=DEMO_STAFF), language="en")
    second.window.show()
    try:
        qtbot.waitUntil(lambda: "NOT completed" in text_of(second.window, "signInMessage"))
        assert "€24.95" in text_of(second.window, "signInMessage")
    finally:
        second.close()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "cannot read"),
        ('{"language": "fr"}', "language must be one of en, de, zh_CN"),
        ('{"printer": {"kind": "laser"}}', "printer kind must be"),
        ("[]", "expected a JSON object"),
    ],
)
def test_bad_ui_settings_are_refused_naming_the_file_and_the_problem(
    tmp_path: Path, content: str, message: str
) -> None:
    from pos.ui.settings import SettingsError, load_ui_settings

    (tmp_path / "ui.json").write_text(content, encoding="utf-8")
    with pytest.raises(SettingsError, match=message) as caught:
        load_ui_settings(tmp_path)
    assert "ui.json" in str(caught.value)


SECOND_SCREEN_PROBE = """
from PySide6.QtWidgets import QApplication, QWidget
from pos.ui.customer_display import CustomerDisplay
app = QApplication([])
till = QWidget()
till.show()
display = CustomerDisplay("de", "Demo")
display.place(till.screen())
app.processEvents()
g = display.geometry()
print(display.windowTitle(), display.isFullScreen(), display.screen().name(), till.screen().name(), g.width(), g.height(), sep="|")
"""


def test_customer_display_goes_full_screen_on_the_second_screen(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    # Qt's offscreen platform can pretend to have two screens; that must be set before Qt starts,
    # hence a separate process.
    config = tmp_path / "screens.json"
    config.write_text(
        json.dumps(
            {
                "screens": [
                    {"name": "counter", "x": 0, "y": 0, "width": 1366, "height": 768, "logicalDpi": 96},
                    {"name": "shopper", "x": 1366, "y": 0, "width": 1024, "height": 600, "logicalDpi": 96},
                ]
            }
        ),
        encoding="utf-8",
    )
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={config}"}
    out = (
        subprocess.run(
            [sys.executable, "-c", SECOND_SCREEN_PROBE],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    title, full, display_screen, till_screen, width, height = out.split("|")
    assert title == "Customer Display"
    assert full == "True" and display_screen != till_screen
    assert (width, height) == (("1024", "600") if display_screen == "shopper" else ("1366", "768"))
