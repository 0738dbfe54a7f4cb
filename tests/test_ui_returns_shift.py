"""Returns, closing the shift and cash in/out, driven through the real till window with key events on a
real ledger in a temporary data dir (the fixtures and helpers of tests/test_ui.py)."""

from __future__ import annotations

from pathlib import Path

import test_ui
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget
from test_ui import (
    BREAD,
    CASHIER_PIN,
    MANAGER_PIN,
    MUG,
    OTHER_CASHIER_PIN,
    modal,
    printed,
    rows,
    scan,
    sign_in,
    text_of,
    type_into,
    wait_idle,
)

from pos.app import Terminal
from pos.ui.service_till import ServiceTill

# The till fixtures of tests/test_ui.py (a copied demo terminal, the real window), found by name.
demo_template = test_ui.demo_template
data_dir = test_ui.data_dir
beeps = test_ui.beeps
term = test_ui.term


def ledger(term: Terminal):  # type: ignore[no-untyped-def]
    till: ServiceTill = term.till  # type: ignore[assignment]
    return till.terminal.ledger.read()


def journal_types(term: Terminal) -> list[str]:
    return [row[0] for row in ledger(term).execute("SELECT type FROM journal ORDER BY seq")]


def returns_in_ledger(term: Terminal) -> list[tuple[str, int, str]]:
    return [
        (row[0], row[1], row[2])
        for row in ledger(term).execute(
            "SELECT receipt_no, total, original_sale_id FROM sales WHERE kind = 'return' ORDER BY receipt_seq"
        )
    ]


def sell_mug_and_bread(qtbot, term: Terminal) -> str:  # type: ignore[no-untyped-def]
    """Ring up a mug and a bread, pay the exact total in cash; the receipt's claim URL."""
    scan(qtbot, term, MUG)
    scan(qtbot, term, BREAD)
    qtbot.waitUntil(lambda: len(rows(term)) == 2)
    qtbot.keyClick(term.window.sale_screen.scan_input, Qt.Key.Key_F12)
    payment = modal(qtbot, "paymentDialog")
    qtbot.keyClick(payment.findChild(QWidget, "amountInput"), Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: payment.completed is not None)
    url = payment.completed.claim_url
    qtbot.keyClick(payment, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not payment.isVisible())
    return url


def test_scanning_the_claim_url_returns_chosen_lines_with_a_manager_and_prints_the_receipt(
    qtbot, term: Terminal, data_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    sign_in(qtbot, term)
    url = sell_mug_and_bread(qtbot, term)
    sale_id = ledger(term).execute("SELECT id FROM sales WHERE kind = 'sale'").fetchone()[0]

    scan(qtbot, term, url)  # the shopper's receipt QR, scanned at the sale screen
    dialog = modal(qtbot, "returnDialog")
    lines = dialog.findChild(QWidget, "returnLines")
    assert lines.rowCount() == 2
    assert [lines.item(r, 0).text() for r in range(2)] == ["Coffee mug porcelain", "Rye bread 500 g"]
    assert text_of(dialog, "returnRefund") == "Refund: €6.48"  # all of it by default
    assert rows(term) == []  # the sale screen's sale is untouched

    # Keep the bread: Down to its line, 0 and Enter.
    quantity = dialog.findChild(QWidget, "returnQuantityInput")
    qtbot.keyClick(quantity, Qt.Key.Key_Down)
    type_into(qtbot, quantity, "0")
    qtbot.waitUntil(lambda: text_of(dialog, "returnRefund") == "Refund: €3.99")
    assert lines.item(1, 3).text() == "" and lines.item(0, 3).text() == "1"

    # Enter alone refunds: a cashier needs a manager.
    qtbot.keyClick(quantity, Qt.Key.Key_Return)
    approval = modal(qtbot, "managerApprovalDialog")
    assert "manager" in text_of(approval, "managerApprovalPrompt")
    assert returns_in_ledger(term) == []
    type_into(qtbot, approval.findChild(QWidget, "managerPinInput"), MANAGER_PIN)
    qtbot.waitUntil(lambda: dialog.completed is not None)

    returned = returns_in_ledger(term)
    assert len(returned) == 1
    receipt_no, total, original = returned[0]
    assert (total, original) == (-399, sale_id)
    assert journal_types(term)[-1] == "return.completed"
    assert receipt_no in text_of(dialog, "returnDoneMessage") and "€3.99" in text_of(
        dialog, "returnDoneMessage"
    )
    preview = text_of(dialog, "returnReceiptPreviewText")
    assert receipt_no in preview and "Coffee mug porcelain" in preview and "Rye bread" not in preview
    raw = printed(data_dir)
    assert receipt_no.encode() in raw and raw.startswith(b"\x1bp")  # printed; the drawer opens for the cash
    qtbot.keyClick(dialog, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not dialog.isVisible())

    # What is left of the sale (the bread) can still come back; the mug cannot.
    scan(qtbot, term, url)
    again = modal(qtbot, "returnDialog")
    assert text_of(again, "returnRefund") == "Refund: €2.49"
    assert again.findChild(QWidget, "returnLines").item(0, 2).text() == "0"
    qtbot.keyClick(again.findChild(QWidget, "returnQuantityInput"), Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not again.isVisible())
    assert len(returns_in_ledger(term)) == 1


def test_a_wrong_manager_pin_or_an_unknown_receipt_code_changes_nothing(
    qtbot, term: Terminal, beeps: list[int]
) -> None:  # type: ignore[no-untyped-def]
    sign_in(qtbot, term)
    url = sell_mug_and_bread(qtbot, term)
    before = journal_types(term)

    # A receipt code this till never issued: a clear message, no dialog.
    unknown = url[:-6] + ("AAAAAA" if not url.endswith("AAAAAA") else "BBBBBB")
    scan(qtbot, term, unknown)
    qtbot.waitUntil(lambda: text_of(term.window, "saleMessage") != "")
    wait_idle(qtbot, term)
    assert beeps
    assert (
        "receipt" in text_of(term.window, "saleMessage").lower()
        or "code" in text_of(term.window, "saleMessage").lower()
    )
    assert not [w for w in term.window.findChildren(QWidget, "returnDialog") if w.isVisible()]

    scan(qtbot, term, url)
    dialog = modal(qtbot, "returnDialog")
    qtbot.keyClick(dialog.findChild(QWidget, "returnQuantityInput"), Qt.Key.Key_Return)
    approval = modal(qtbot, "managerApprovalDialog")
    type_into(qtbot, approval.findChild(QWidget, "managerPinInput"), "8765")
    qtbot.waitUntil(lambda: "Wrong manager PIN" in text_of(dialog, "returnMessage"))
    # A cashier's own PIN does not approve either.
    qtbot.keyClick(dialog.findChild(QWidget, "returnQuantityInput"), Qt.Key.Key_Return)
    approval = modal(qtbot, "managerApprovalDialog")
    type_into(qtbot, approval.findChild(QWidget, "managerPinInput"), OTHER_CASHIER_PIN)
    qtbot.waitUntil(lambda: "not a manager" in text_of(dialog, "returnMessage"))
    assert dialog.completed is None and dialog.isVisible()
    assert returns_in_ledger(term) == []
    assert "return.completed" not in journal_types(term)[len(before) :]


def test_close_shift_with_the_counted_cash_and_a_manager_then_the_next_cashier_opens_one(
    qtbot, term: Terminal
) -> None:  # type: ignore[no-untyped-def]
    sign_in(qtbot, term)
    qtbot.keyClick(term.window.sale_screen.scan_input, Qt.Key.Key_F10)
    dialog = modal(qtbot, "closeShiftDialog")
    assert text_of(dialog, "expectedCash") == "Expected in the drawer: €150.00"
    counted = dialog.findChild(QWidget, "countedInput")
    qtbot.keyClicks(counted, "149.50")
    assert text_of(dialog, "cashDifference") == "Difference: -€0.50"
    qtbot.keyClick(counted, Qt.Key.Key_Return)
    approval = modal(qtbot, "managerApprovalDialog")
    assert ledger(term).execute("SELECT count(*) FROM shifts WHERE closed_at IS NULL").fetchone()[0] == 1
    type_into(qtbot, approval.findChild(QWidget, "managerPinInput"), MANAGER_PIN)
    qtbot.waitUntil(lambda: dialog.closed is not None)
    assert "Shift closed" in text_of(dialog, "closeShiftMessage")
    assert text_of(dialog, "cashDifference") == "Difference: -€0.50"

    shift = (
        ledger(term)
        .execute(
            "SELECT counted_cash, expected_cash, approved_by IS NOT NULL FROM shifts WHERE closed_at IS NOT NULL"
        )
        .fetchall()
    )
    assert [tuple(row) for row in shift] == [(14950, 15000, 1)]
    assert "shift.closed" in journal_types(term)

    # Enter: back to sign-in; the next cashier is asked for the opening float of a new shift.
    qtbot.keyClick(dialog, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: term.window.current_screen() is term.window.sign_in)
    sign_in(qtbot, term, CASHIER_PIN)
    opening = modal(qtbot, "openShiftDialog")
    type_into(qtbot, opening.findChild(QWidget, "floatInput"), "100")
    qtbot.waitUntil(lambda: not opening.isVisible())
    assert (
        ledger(term).execute("SELECT opening_float FROM shifts WHERE closed_at IS NULL").fetchone()[0]
        == 10000
    )


def test_cash_out_needs_a_manager_cash_in_does_not(qtbot, term: Terminal) -> None:  # type: ignore[no-untyped-def]
    sign_in(qtbot, term)

    def movements() -> list[tuple[str, int, str]]:
        return [
            (row[0], row[1], row[2])
            for row in ledger(term).execute("SELECT kind, amount, reason FROM cash_movements ORDER BY at")
        ]

    # Cash out, refused: the approval is cancelled, then a cashier's PIN does not approve.
    qtbot.keyClick(term.window.sale_screen.scan_input, Qt.Key.Key_F6)
    dialog = modal(qtbot, "cashMovementDialog")
    qtbot.keyClick(dialog.findChild(QWidget, "cashAmountInput"), Qt.Key.Key_F6)  # switch to cash out
    assert dialog.findChild(QWidget, "cashOutChoice").isChecked()
    type_into(qtbot, dialog.findChild(QWidget, "cashAmountInput"), "20")
    type_into(qtbot, dialog.findChild(QWidget, "cashReasonInput"), "to the safe")
    approval = modal(qtbot, "managerApprovalDialog")
    qtbot.keyClick(approval.findChild(QWidget, "managerPinInput"), Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not approval.isVisible())
    assert movements() == [] and dialog.isVisible()
    qtbot.keyClick(dialog.findChild(QWidget, "cashReasonInput"), Qt.Key.Key_Return)
    approval = modal(qtbot, "managerApprovalDialog")
    type_into(qtbot, approval.findChild(QWidget, "managerPinInput"), OTHER_CASHIER_PIN)
    qtbot.waitUntil(lambda: "not a manager" in text_of(dialog, "cashMovementMessage"))
    assert movements() == []

    # With the manager's PIN it is taken out.
    qtbot.keyClick(dialog.findChild(QWidget, "cashReasonInput"), Qt.Key.Key_Return)
    approval = modal(qtbot, "managerApprovalDialog")
    type_into(qtbot, approval.findChild(QWidget, "managerPinInput"), MANAGER_PIN)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert movements() == [("out", 2000, "to the safe")]
    assert "€130.00" in text_of(term.window, "saleMessage")
    assert journal_types(term)[-1] == "cash.out"

    # Cash in needs nobody.
    qtbot.mouseClick(term.window.findChild(QWidget, "cashMovementButton"), Qt.MouseButton.LeftButton)
    dialog = modal(qtbot, "cashMovementDialog")
    assert dialog.findChild(QWidget, "cashInChoice").isChecked()
    type_into(qtbot, dialog.findChild(QWidget, "cashAmountInput"), "5")
    type_into(qtbot, dialog.findChild(QWidget, "cashReasonInput"), "change from the bank")
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert movements()[-1] == ("in", 500, "change from the bank")
    assert "€135.00" in text_of(term.window, "saleMessage")
