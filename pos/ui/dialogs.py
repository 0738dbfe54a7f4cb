"""The sale screen's dialogs: product search (F2), payment (F12), discount, manager approval,
card approval reference. Each is keyboard-first (Enter does the obvious thing, Esc steps back) and
has touch buttons for every action."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QListWidget,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pos.ui.i18n import _
from pos.ui.qr import qr_image
from pos.ui.state import Session
from pos.ui.views import CompletedSale, PaymentStep, ProductHit, SaleView, TillError
from pos.ui.widgets import Keypad, label, set_role, touch_button


def _line_edit(name: str, *, password: bool = False) -> QLineEdit:
    edit = QLineEdit()
    edit.setObjectName(name)
    edit.setMinimumHeight(52)
    if password:
        edit.setEchoMode(QLineEdit.EchoMode.Password)
    return edit


class SearchDialog(QDialog):
    """Product search: results as you type (name or code prefix); Enter or a tap adds the product."""

    SEARCH_LIMIT = 50
    #: Columns as wide as their widest text (a whole GTIN-13 stays readable); the name takes the rest.
    FITTED_COLUMNS = (1, 2, 3)
    #: Room beside a fitted column's text (the cell's margins and grid line).
    CELL_PADDING = 16

    def __init__(self, session: Session, parent: QWidget, on_pick: Callable[[ProductHit], None]) -> None:
        super().__init__(parent)
        self.setObjectName("searchDialog")
        self.setWindowTitle(_("Product search"))
        self.session = session
        self._on_pick = on_pick
        self._generation = 0
        self.hits: list[ProductHit] = []
        self.query = _line_edit("searchInput")
        self.query.setPlaceholderText(_("Name or code"))
        self.query.textEdited.connect(self._search)
        self.query.returnPressed.connect(self.pick_current)
        self.query.installEventFilter(self)
        self.results = QTableWidget(0, 4)
        self.results.setObjectName("searchResults")
        self.results.setHorizontalHeaderLabels([_("Item"), _("Code"), _("Price"), _("Stock")])
        self.results.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.results.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.results.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.results.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.results.verticalHeader().hide()
        self.results.verticalHeader().setDefaultSectionSize(48)
        header = self.results.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        # Code, price and stock are sized to their texts once per answer (see _fit_columns), not by
        # ResizeToContents: that re-measures every row of a column each time one cell is set.
        for column in self.FITTED_COLUMNS:
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
        self.results.cellClicked.connect(lambda row, _c: self._pick_row(row))
        self.info = label("searchMessage", role="info")
        buttons = QHBoxLayout()
        buttons.addWidget(touch_button(_("Add (Enter)"), "searchAddButton", self.pick_current))
        buttons.addWidget(touch_button(_("Back (Esc)"), "searchCloseButton", self.reject))
        layout = QVBoxLayout(self)
        layout.addWidget(self.query)
        layout.addWidget(self.results, 1)
        layout.addWidget(self.info)
        layout.addLayout(buttons)
        self.resize(820, 560)
        self.query.setFocus()

    def eventFilter(self, watched: object, event: object) -> bool:
        from PySide6.QtCore import QEvent
        from PySide6.QtGui import QKeyEvent

        if watched is self.query and isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyPress:
            step = {Qt.Key.Key_Down: 1, Qt.Key.Key_Up: -1}.get(Qt.Key(event.key()))
            if step and self.hits:
                row = min(max(self.results.currentRow() + step, 0), len(self.hits) - 1)
                self.results.selectRow(row)
                return True
        return super().eventFilter(watched, event)  # type: ignore[arg-type]

    def _search(self, text: str) -> None:
        self._generation += 1
        generation = self._generation
        query = text.strip()
        if not query:
            self._show([], generation)
            return
        till = self.session.till

        def search() -> list[ProductHit]:
            # Typed on since this was queued: skip it, the newer query is behind it.
            return [] if generation != self._generation else till.search(query, self.SEARCH_LIMIT)

        self.session.act("search", search, lambda hits: self._show(hits, generation))

    def _show(self, hits: list[ProductHit], generation: int) -> None:
        if generation != self._generation:
            return  # an answer to an older query: the cashier has typed on
        self.hits = hits
        self.results.setRowCount(len(hits))
        for row, hit in enumerate(hits):
            for column, text in enumerate((hit.name, hit.code, hit.price, hit.stock)):
                self.results.setItem(row, column, QTableWidgetItem(text))
        self._fit_columns([(hit.code, hit.price, hit.stock) for hit in hits])
        if hits:
            self.results.selectRow(0)
        self.info.setText(_("No product found") if self.query.text().strip() and not hits else "")

    def _fit_columns(self, texts: list[tuple[str, str, str]]) -> None:
        """Size the code, price and stock columns to their widest text and header, in one pass."""
        header = self.results.horizontalHeader()
        metrics = self.results.fontMetrics()
        for position, column in enumerate(self.FITTED_COLUMNS):
            widest = max((metrics.horizontalAdvance(row[position]) for row in texts), default=0)
            header.resizeSection(column, max(widest + self.CELL_PADDING, header.sectionSizeHint(column)))

    def pick_current(self) -> None:
        row = self.results.currentRow()
        if self.hits:
            self._pick_row(row if row >= 0 else 0)

    def _pick_row(self, row: int) -> None:
        if 0 <= row < len(self.hits):
            self._on_pick(self.hits[row])
            self.accept()


class PinDialog(QDialog):
    """Asks for a manager's PIN (or any other secret entry) with a keypad."""

    def __init__(self, parent: QWidget, title: str, prompt: str) -> None:
        super().__init__(parent)
        self.setObjectName("managerApprovalDialog")
        self.setWindowTitle(title)
        self.prompt = label("managerApprovalPrompt", prompt)
        self.prompt.setWordWrap(True)
        self.pin = _line_edit("managerPinInput", password=True)
        self.pin.returnPressed.connect(self._confirm)
        keypad = Keypad("managerKeypad", lambda: self.pin, star=False)
        buttons = QHBoxLayout()
        buttons.addWidget(touch_button(_("Approve"), "managerApproveButton", self._confirm))
        buttons.addWidget(touch_button(_("Cancel (Esc)"), "managerCancelButton", self.reject))
        layout = QVBoxLayout(self)
        layout.addWidget(self.prompt)
        layout.addWidget(self.pin)
        layout.addWidget(keypad)
        layout.addLayout(buttons)
        self.pin.setFocus()

    def _confirm(self) -> None:
        if self.pin.text().strip():
            self.accept()

    def value(self) -> str:
        return self.pin.text().strip()


class DiscountDialog(QDialog):
    """A discount in percent ("10%") or an amount ("2.50"), on the selected line or the whole sale."""

    def __init__(self, parent: QWidget, line_name: str | None) -> None:
        super().__init__(parent)
        self.setObjectName("discountDialog")
        self.setWindowTitle(_("Discount"))
        self.amount = _line_edit("discountInput")
        self.amount.setPlaceholderText(_("10% or 2.50"))
        self.amount.returnPressed.connect(self._confirm)
        self.on_line = QRadioButton(_("Selected line: {name}").format(name=line_name or "-"))
        self.on_line.setObjectName("discountScopeLine")
        self.on_sale = QRadioButton(_("Whole sale"))
        self.on_sale.setObjectName("discountScopeSale")
        group = QButtonGroup(self)
        for radio in (self.on_line, self.on_sale):
            radio.setMinimumHeight(44)
            radio.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            group.addButton(radio)
        self.on_line.setEnabled(line_name is not None)
        (self.on_line if line_name is not None else self.on_sale).setChecked(True)
        keypad = Keypad("discountKeypad", lambda: self.amount, star=False)
        percent = touch_button("%", "discountPercentButton", lambda: self.amount.insert("%"))
        buttons = QHBoxLayout()
        buttons.addWidget(touch_button(_("Apply"), "discountApplyButton", self._confirm))
        buttons.addWidget(touch_button(_("Cancel (Esc)"), "discountCancelButton", self.reject))
        layout = QVBoxLayout(self)
        layout.addWidget(self.on_line)
        layout.addWidget(self.on_sale)
        layout.addWidget(self.amount)
        layout.addWidget(keypad)
        layout.addWidget(percent)
        layout.addLayout(buttons)
        self.amount.setFocus()

    def _confirm(self) -> None:
        if self.amount.text().strip():
            self.accept()

    def value(self) -> str:
        return self.amount.text().strip()

    def whole_sale(self) -> bool:
        return self.on_sale.isChecked()


class CardReferenceDialog(QDialog):
    """The card terminal's approval reference, typed or scanned from its slip."""

    def __init__(self, parent: QWidget, amount: str) -> None:
        super().__init__(parent)
        self.setObjectName("cardDialog")
        self.setWindowTitle(_("Card payment"))
        prompt = label(
            "cardPrompt", _("Card payment of {amount}: enter the approval reference").format(amount=amount)
        )
        prompt.setWordWrap(True)
        self.reference = _line_edit("approvalInput")
        self.reference.returnPressed.connect(self._confirm)
        keypad = Keypad("cardKeypad", lambda: self.reference, star=False)
        buttons = QHBoxLayout()
        buttons.addWidget(touch_button(_("OK"), "cardOkButton", self._confirm))
        buttons.addWidget(touch_button(_("Cancel (Esc)"), "cardCancelButton", self.reject))
        layout = QVBoxLayout(self)
        layout.addWidget(prompt)
        layout.addWidget(self.reference)
        layout.addWidget(keypad)
        layout.addLayout(buttons)
        self.reference.setFocus()

    def _confirm(self) -> None:
        if self.reference.text().strip():
            self.accept()

    def value(self) -> str:
        return self.reference.text().strip()


def receipt_font() -> QFont:
    font = QFont("DejaVu Sans Mono")
    font.setStyleHint(QFont.StyleHint.Monospace)
    font.setPointSize(10)
    return font


class ReceiptPreview(QWidget):
    """The receipt as printed: its text in a fixed-width font, the claim QR under it."""

    def __init__(self, name: str = "receiptPreview") -> None:
        super().__init__()
        self.setObjectName(name)
        self.text = label(f"{name}Text")
        self.text.setFont(receipt_font())
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setStyleSheet("background: white; color: black; padding: 8px;")
        self.qr = label(f"{name}Qr")
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr.setStyleSheet("background: white;")
        layout = QVBoxLayout(self)
        layout.setSpacing(0)
        layout.addWidget(self.text)
        layout.addWidget(self.qr)
        layout.addStretch(1)

    def show_receipt(self, completed: CompletedSale) -> None:
        self.text.setText(completed.receipt_text)
        if completed.claim_url:
            self.qr.setPixmap(QPixmap.fromImage(qr_image(completed.claim_url, 160)))
        else:
            self.qr.clear()


def lay_out_receipt_page(
    page: QWidget,
    messages: list[QWidget],
    button: QPushButton,
    receipt: ReceiptPreview,
    scroll_name: str = "",
) -> None:
    """The page shown once the ledger committed a sale or a return: the messages and the primary
    button on the left, the receipt (scrollable) on the right."""
    button.setProperty("role", "primary")
    left = QVBoxLayout()
    for message in messages:
        left.addWidget(message)
    left.addStretch(1)
    left.addWidget(button)
    scroll = QScrollArea()
    if scroll_name:
        scroll.setObjectName(scroll_name)
    scroll.setWidget(receipt)
    scroll.setWidgetResizable(True)
    scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    layout = QHBoxLayout(page)
    layout.addLayout(left, 1)
    layout.addWidget(scroll, 1)


class PaymentDialog(QDialog):
    """Payment: an amount then Enter takes that much cash (the rest stays due, or the change shows);
    Enter with no amount takes the exact total in cash; Card (F8) takes the amount (or the rest) by card
    with its approval reference. The dialog shows the change and the receipt once the ledger committed
    the sale; Enter or Esc then starts the next sale."""

    def __init__(self, session: Session, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("paymentDialog")
        self.setWindowTitle(_("Payment"))
        self.session = session
        self.completed: CompletedSale | None = None
        self._busy = False

        self.pages = QStackedWidget()
        self.pages.addWidget(self._build_tender_page())
        self.pages.addWidget(self._build_done_page())
        layout = QVBoxLayout(self)
        layout.addWidget(self.pages)
        self.resize(980, 640)
        self.show_sale(session.sale)

    def _build_tender_page(self) -> QWidget:
        page = QWidget()
        page.setObjectName("paymentTenderPage")
        self.total = label("paymentTotal", role="total")
        self.remaining = label("paymentRemaining", role="big")
        self.tenders = QListWidget()
        self.tenders.setObjectName("paymentTenders")
        self.tenders.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.amount = _line_edit("amountInput")
        self.amount.setPlaceholderText(_("Amount given (Enter = exact)"))
        self.amount.returnPressed.connect(self.pay_cash)
        self.feedback = label("paymentMessage", role="info")
        self.feedback.setWordWrap(True)
        keypad = Keypad("paymentKeypad", lambda: self.amount, star=False)
        left = QVBoxLayout()
        left.addWidget(self.total)
        left.addWidget(self.remaining)
        self.help = label("paymentHelp", role="hint")
        self.help.setWordWrap(True)
        self.help.setText(
            _("Type the cash handed over and press Enter; Enter alone takes the exact amount in cash.")
            + "\n"
            + _("For a card payment press F8 (with an amount first to split the payment).")
        )
        left.addWidget(self.tenders, 1)
        left.addWidget(self.feedback)
        left.addStretch(1)
        left.addWidget(self.help)
        right = QVBoxLayout()
        right.addWidget(self.amount)
        right.addWidget(keypad, 1)
        row = QHBoxLayout()
        row.addWidget(touch_button(_("Cash (Enter)"), "cashButton", self.pay_cash))
        row.addWidget(touch_button(_("Card (F8)"), "cardButton", self.pay_card))
        right.addLayout(row)
        right.addWidget(touch_button(_("Back (Esc)"), "paymentBackButton", self.reject))
        layout = QHBoxLayout(page)
        layout.addLayout(left, 1)
        layout.addLayout(right, 1)
        return page

    def _build_done_page(self) -> QWidget:
        page = QWidget()
        page.setObjectName("paymentDonePage")
        self.change = label("changeLabel", role="total")
        self.done_info = label("paymentDoneMessage", role="info")
        self.done_info.setWordWrap(True)
        self.receipt = ReceiptPreview()
        self.next_sale = touch_button(_("Next sale (Enter)"), "newSaleButton", self.accept)
        lay_out_receipt_page(
            page, [self.change, self.done_info], self.next_sale, self.receipt, "receiptScroll"
        )
        return page

    def show_sale(self, sale: SaleView) -> None:
        self.total.setText(_("Total") + f": {sale.total}")
        self.remaining.setText(_("Still due") + f": {sale.remaining}" if sale.tenders else "")
        self.tenders.setVisible(bool(sale.tenders))
        self.tenders.clear()
        for tender in sale.tenders:
            ref = f" ({tender.reference})" if tender.reference else ""
            self.tenders.addItem(f"{tender.label}{ref}: {tender.amount}")

    def keyPressEvent(self, event: object) -> None:
        from PySide6.QtGui import QKeyEvent

        if isinstance(event, QKeyEvent) and event.key() == Qt.Key.Key_F8:
            self.pay_card()
            return
        # On the done page, Enter starts the next sale (the amount field is hidden there).
        if (
            isinstance(event, QKeyEvent)
            and self.completed is not None
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        ):
            self.accept()
            return
        super().keyPressEvent(event)  # type: ignore[arg-type]

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.amount.setReadOnly(busy)
        if busy:
            self.feedback.setText(_("Saving the sale..."))
            set_role(self.feedback, "info")

    def pay_cash(self) -> None:
        if self._busy or self.completed is not None:
            return
        text = self.amount.text().strip() or None
        till = self.session.till
        self._set_busy(True)
        self.session.act("payment", lambda: till.pay_cash(text), self._paid, self._refused)

    def pay_card(self) -> None:
        if self._busy or self.completed is not None:
            return
        text = self.amount.text().strip() or None
        shown = text or self.session.sale.remaining or self.session.sale.total
        dialog = CardReferenceDialog(self, shown)
        till = self.session.till

        def approved() -> None:
            reference = dialog.value()
            self._set_busy(True)
            self.session.act("payment", lambda: till.pay_card(text, reference), self._paid, self._refused)

        dialog.accepted.connect(approved)
        dialog.open()

    def _paid(self, step: PaymentStep) -> None:
        self._set_busy(False)
        self.amount.clear()
        self.feedback.clear()
        if step.completed is None:
            self.session.set_sale(step.sale)
            self.show_sale(step.sale)
            return
        completed = step.completed
        self.completed = completed
        self.session.set_completed(completed)
        self.change.setText(_("Change") + f": {completed.change}")
        info = _("Receipt {number} saved.").format(number=completed.receipt_number)
        if completed.print_problem:
            info += "\n" + _("The receipt did not print: {reason}").format(reason=completed.print_problem)
        self.done_info.setText(info)
        self.receipt.show_receipt(completed)
        self.pages.setCurrentIndex(1)
        self.setFocus()

    def _refused(self, error: BaseException) -> bool:
        self._set_busy(False)
        self.feedback.setText(str(error) if isinstance(error, TillError) else repr(error))
        set_role(self.feedback, "error")
        return False


class OpenShiftDialog(QDialog):
    """No shift is open on this till: count the opening float into the drawer and open one."""

    def __init__(self, session: Session, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("openShiftDialog")
        self.setWindowTitle(_("Open shift"))
        self.session = session
        prompt = label(
            "openShiftPrompt",
            _("No shift is open. Count the cash in the drawer and enter the opening float."),
        )
        prompt.setWordWrap(True)
        self.amount = _line_edit("floatInput")
        self.amount.setPlaceholderText("0.00")
        self.amount.returnPressed.connect(self._confirm)
        self.feedback = label("openShiftMessage", role="info")
        keypad = Keypad("floatKeypad", lambda: self.amount, star=False)
        buttons = QHBoxLayout()
        buttons.addWidget(touch_button(_("Open shift"), "openShiftButton", self._confirm))
        buttons.addWidget(touch_button(_("Cancel (Esc)"), "openShiftCancelButton", self.reject))
        layout = QVBoxLayout(self)
        layout.addWidget(prompt)
        layout.addWidget(self.amount)
        layout.addWidget(self.feedback)
        layout.addWidget(keypad)
        layout.addLayout(buttons)
        self.amount.setFocus()

    def _confirm(self) -> None:
        text = self.amount.text().strip() or "0"
        till = self.session.till

        def failed(error: BaseException) -> bool:
            self.feedback.setText(str(error))
            set_role(self.feedback, "error")
            return True

        self.session.act("open_shift", lambda: till.open_shift(text), lambda _id: self.accept(), failed)
