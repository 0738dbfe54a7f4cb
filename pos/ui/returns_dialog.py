"""The return of an earlier sale, opened by scanning its receipt's claim code or URL at the sale screen.

Every line of the original sale is listed with what may still come back, all of it chosen at first.
Up/Down pick a line, a quantity and Enter changes what comes back of it (0 takes it off), Enter alone
refunds in cash: a manager approves with a PIN, the ledger records the return, and the return receipt
prints (the drawer opens for the cash) and shows here. Esc steps back without changing anything.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pos.ui.dialogs import PinDialog, ReceiptPreview, _line_edit, lay_out_receipt_page
from pos.ui.i18n import _
from pos.ui.state import Session
from pos.ui.views import CompletedSale, NeedsManager, ReturnView, TillError
from pos.ui.widgets import Keypad, label, set_role, touch_button


class ReturnDialog(QDialog):
    """Choose what comes back of the scanned receipt's sale and refund it with a manager's approval."""

    def __init__(self, session: Session, parent: QWidget, view: ReturnView) -> None:
        super().__init__(parent)
        self.setObjectName("returnDialog")
        self.setWindowTitle(_("Return"))
        self.session = session
        self.view = view
        self.completed: CompletedSale | None = None
        self._busy = False
        self.pages = QStackedWidget()
        self.pages.addWidget(self._build_choose_page())
        self.pages.addWidget(self._build_done_page())
        layout = QVBoxLayout(self)
        layout.addWidget(self.pages)
        self.resize(980, 640)
        self.show_return(view)
        if view.lines:
            self.table.selectRow(0)
        self.quantity.setFocus()

    def _build_choose_page(self) -> QWidget:
        page = QWidget()
        self.title = label("returnReceipt", role="big")
        self.table = QTableWidget(0, 5)
        self.table.setObjectName("returnLines")
        self.table.setHorizontalHeaderLabels(
            [_("Item"), _("Bought"), _("Returnable"), _("Return"), _("Refund")]
        )
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(48)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.refund = label("returnRefund", role="total")
        self.feedback = label("returnMessage", role="info")
        self.feedback.setWordWrap(True)
        self.help = label("returnHelp", role="hint")
        self.help.setWordWrap(True)
        self.help.setText(
            _("Up/Down choose a line; a quantity and Enter changes what comes back (0 = none).")
            + "\n"
            + _("Enter alone refunds in cash; a manager approves.")
        )
        self.quantity = _line_edit("returnQuantityInput")
        self.quantity.setPlaceholderText(_("Quantity to return"))
        self.quantity.returnPressed.connect(self._enter)
        self.quantity.installEventFilter(self)
        keypad = Keypad("returnKeypad", lambda: self.quantity, star=False)
        left = QVBoxLayout()
        left.addWidget(self.title)
        left.addWidget(self.table, 1)
        left.addWidget(self.refund)
        left.addWidget(self.feedback)
        left.addWidget(self.help)
        right = QVBoxLayout()
        right.addWidget(self.quantity)
        right.addWidget(keypad, 1)
        right.addWidget(touch_button(_("Set quantity"), "returnSetQuantityButton", self.set_quantity))
        refund = touch_button(_("Refund (Enter)"), "returnRefundButton", self.complete)
        refund.setProperty("role", "primary")
        right.addWidget(refund)
        right.addWidget(touch_button(_("Back (Esc)"), "returnBackButton", self.reject))
        layout = QHBoxLayout(page)
        layout.addLayout(left, 3)
        layout.addLayout(right, 2)
        return page

    def _build_done_page(self) -> QWidget:
        page = QWidget()
        self.done_info = label("returnDoneMessage", role="total")
        self.done_info.setWordWrap(True)
        self.receipt = ReceiptPreview("returnReceiptPreview")
        done = touch_button(_("Next sale (Enter)"), "returnDoneButton", self.accept)
        lay_out_receipt_page(page, [self.done_info], done, self.receipt)
        return page

    def show_return(self, view: ReturnView) -> None:
        self.view = view
        self.title.setText(_("Return of receipt {number}").format(number=view.receipt_number))
        row_now = self.table.currentRow()
        self.table.setRowCount(len(view.lines))
        for row, line in enumerate(view.lines):
            for column, text in enumerate(
                (line.name, line.bought, line.returnable, line.returning, line.refund)
            ):
                item = QTableWidgetItem(text)
                if column:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, item)
        if 0 <= row_now < len(view.lines):
            self.table.selectRow(row_now)
        self.refund.setText(_("Refund") + f": {view.refund}")

    def eventFilter(self, watched: object, event: object) -> bool:
        if watched is self.quantity and isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyPress:
            step = {Qt.Key.Key_Down: 1, Qt.Key.Key_Up: -1}.get(Qt.Key(event.key()))
            if step and self.view.lines:
                row = min(max(self.table.currentRow() + step, 0), len(self.view.lines) - 1)
                self.table.selectRow(row)
                return True
        return super().eventFilter(watched, event)  # type: ignore[arg-type]

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # On the done page Enter closes the dialog (the quantity field is hidden there).
        if self.completed is not None and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.accept()
            return
        super().keyPressEvent(event)

    def _say(self, text: str, *, error: bool) -> None:
        self.feedback.setText(text)
        set_role(self.feedback, "error" if error else "info")

    def _enter(self) -> None:
        if self.quantity.text().strip():
            self.set_quantity()
        else:
            self.complete()

    def set_quantity(self) -> None:
        text = self.quantity.text().strip()
        row = self.table.currentRow()
        if self._busy or not text or not 0 <= row < len(self.view.lines):
            return
        line_no = self.view.lines[row].line_no
        self.quantity.clear()
        till = self.session.till

        def failed(error: BaseException) -> bool:
            self._say(str(error) if isinstance(error, TillError) else repr(error), error=True)
            return True

        def done(view: ReturnView) -> None:
            self.show_return(view)
            self._say("", error=False)

        self.session.act("return_quantity", lambda: till.set_return_quantity(line_no, text), done, failed)

    def complete(self, manager_pin: str | None = None) -> None:
        if self._busy or self.completed is not None:
            return
        if not self.view.refund_minor:
            self._say(_("Choose at least one line to return."), error=True)
            return
        till = self.session.till
        self._busy = True
        self._say(_("Saving the return..."), error=False)

        def failed(error: BaseException) -> bool:
            self._busy = False
            if isinstance(error, NeedsManager) and manager_pin is None:
                self._say(str(error), error=False)
                approval = PinDialog(self, _("Manager approval"), str(error))
                approval.accepted.connect(lambda: self.complete(approval.value()))
                approval.open()
                return True
            self._say(str(error) if isinstance(error, TillError) else repr(error), error=True)
            return True

        self.session.act("return", lambda: till.complete_return(manager_pin), self._done, failed)

    def _done(self, completed: CompletedSale) -> None:
        self._busy = False
        self.completed = completed
        info = _("Return {number} saved. Refund {amount} in cash.").format(
            number=completed.receipt_number, amount=self.view.refund
        )
        if completed.print_problem:
            info += "\n" + _("The receipt did not print: {reason}").format(reason=completed.print_problem)
        self.done_info.setText(info)
        self.receipt.show_receipt(completed)
        self.pages.setCurrentIndex(1)
        self.setFocus()
