"""The sale screen: the sale table, running totals, the last item large, the scan input, the keypad
and a touch button for every action. A scanner's code + Enter lands here wherever the focus is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QSizePolicy,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from pos.ui.dialogs import DiscountDialog, OpenShiftDialog, PaymentDialog, PinDialog, SearchDialog
from pos.ui.i18n import N_, _
from pos.ui.returns_dialog import ReturnDialog
from pos.ui.shift_dialogs import CashMovementDialog, CloseShiftDialog
from pos.ui.state import Session
from pos.ui.views import (
    LineView,
    NeedsManager,
    ProductHit,
    ReturnView,
    SaleView,
    ScanOutcome,
    ShiftView,
    TillError,
)
from pos.ui.widgets import TOUCH_MIN, Keypad, label, set_role, touch_button

COLUMNS = (N_("Item"), N_("Qty"), N_("Price"), N_("Discount"), N_("Amount"))


class SaleLinesModel(QStandardItemModel):
    """The sale's lines for the table view. Items live in C++ (QStandardItemModel), so painting the
    table calls no Python; :meth:`set_lines` touches only the rows that changed."""

    def __init__(self) -> None:
        super().__init__(0, len(COLUMNS))
        self.lines: tuple[LineView, ...] = ()
        self.retranslate()

    def retranslate(self) -> None:
        self.setHorizontalHeaderLabels([_(column) for column in COLUMNS])

    @staticmethod
    def _items(line: LineView) -> list[QStandardItem]:
        items = []
        for column, text in enumerate(
            (line.name, line.quantity, line.unit_price, line.discount, line.amount)
        ):
            item = QStandardItem(text)
            item.setEditable(False)
            item.setToolTip(line.code)
            if column:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            items.append(item)
        return items

    def set_lines(self, lines: tuple[LineView, ...]) -> None:
        """Show ``lines``, touching only the rows that changed (a scan usually appends one row)."""
        old = self.lines
        self.lines = lines
        if len(lines) == len(old) + 1 and lines[:-1] == old:
            self.appendRow(self._items(lines[-1]))
        elif len(lines) == len(old):
            for row, (before, after) in enumerate(zip(old, lines, strict=True)):
                if before != after:
                    for column, item in enumerate(self._items(after)):
                        self.setItem(row, column, item)
        else:
            self.setRowCount(0)
            for line in lines:
                self.appendRow(self._items(line))


class ScannerRouter(QObject):
    """Application-wide key filter: while the sale screen is up and no dialog is open, keys typed into
    any other widget of the till's window go to the scan input, so a scan is never lost to focus."""

    def __init__(self, screen: SaleScreen) -> None:
        super().__init__(screen)
        self.screen = screen
        self._sending = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent):
            return False
        target = self.screen.scan_input
        if (
            self._sending
            or not isinstance(watched, QWidget)
            or (isinstance(watched, (QLineEdit, QComboBox)) and watched is not target)
            or not self.screen.isVisible()
            or watched.window() is not self.screen.window()
            or QApplication.activeModalWidget() is not None
        ):
            return False
        action = self.screen.function_keys.get(Qt.Key(event.key()))
        if action is not None:
            if not event.isAutoRepeat():
                action()
            return True
        if watched is target:
            return False
        is_enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        text = event.text()
        if not (is_enter or event.key() == Qt.Key.Key_Backspace or (text and text.isprintable())):
            return False
        # Consumed at its first stop, so the event never reaches a parent to be sent twice. While it is
        # re-sent, the scan input may pass it on to its parents (QLineEdit ignores Enter): let it go.
        target.setFocus()
        self._sending = True
        try:
            QApplication.sendEvent(target, QKeyEvent(event.type(), event.key(), event.modifiers(), text))
        finally:
            self._sending = False
        return True


class SaleScreen(QWidget):
    def __init__(self, session: Session) -> None:
        super().__init__()
        self.setObjectName("saleScreen")
        self.session = session
        self.pending_quantity: str | None = None

        self.last_item = label("lastItem", role="last-item")
        self.last_amount = label("lastItemAmount", role="last-item")
        self.last_amount.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        last_row = QHBoxLayout()
        last_row.addWidget(self.last_item, 1)
        last_row.addWidget(self.last_amount)

        self.model = SaleLinesModel()
        self.table = QTableView()
        self.table.setObjectName("saleTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(44)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        # Fixed widths sized for the widest usual text: measuring contents on every scan costs time.
        metrics = self.table.fontMetrics()
        widest = {1: "9,999.999 kg", 2: "€99,999.99", 3: "-€99,999.99", 4: "€999,999.99"}
        for column, sample in widest.items():
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
            header.resizeSection(column, metrics.horizontalAdvance(sample) + 24)

        self.message = label("saleMessage", role="info")
        self.message.setWordWrap(True)

        left = QVBoxLayout()
        left.addLayout(last_row)
        left.addWidget(self.table, 1)
        left.addWidget(self.message)

        self.total_caption = label("totalCaption", role="big")
        self.total = label("saleTotal", role="total")
        self.total.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.tax = label("saleTax", role="info")
        self.tax.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.discount = label("saleDiscount", role="info")
        self.discount.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.member = label("saleMember", role="member")
        self.quantity = label("pendingQuantity", role="quantity")

        self.scan_input = QLineEdit()
        self.scan_input.setObjectName("scanInput")
        self.scan_input.setMinimumHeight(TOUCH_MIN + 4)
        self.scan_input.textEdited.connect(self._on_typed)
        self.scan_input.returnPressed.connect(self._on_enter)
        self.keypad = Keypad("saleKeypad", lambda: self.scan_input)

        self.buttons: dict[str, Any] = {}
        # Two rows across the whole screen, Pay in the corner: on a 1024×768 till every button stays
        # at least TOUCH_MIN high and wide enough for its German caption.
        actions = [
            ("searchButton", self.open_search),
            ("discountButton", self.open_discount),
            ("removeLineButton", self.remove_selected_line),
            ("voidSaleButton", self.void_sale),
            ("reprintButton", self.reprint_last),
            ("cashMovementButton", self.open_cash_movement),
            ("closeShiftButton", self.open_close_shift),
            ("lockButton", self.lock),
            ("signOutButton", self.sign_out),
            ("payButton", self.open_payment),
        ]
        grid = QGridLayout()
        grid.setSpacing(6)
        for index, (name, slot) in enumerate(actions):
            button = touch_button("", name, slot)
            self.buttons[name] = button
            if name == "payButton":
                button.setProperty("role", "primary")
            grid.addWidget(button, index // 5, index % 5)
        for column in range(5):
            grid.setColumnStretch(column, 1)

        right = QVBoxLayout()
        total_row = QHBoxLayout()
        total_row.addWidget(self.total_caption)
        total_row.addWidget(self.total, 1)
        right.addLayout(total_row)
        right.addWidget(self.tax)
        right.addWidget(self.discount)
        right.addWidget(self.member)
        right.addWidget(self.quantity)
        right.addWidget(self.scan_input)
        right.addWidget(self.keypad, 1)

        top = QHBoxLayout()
        top.addLayout(left, 3)
        top.addLayout(right, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(top, 1)
        layout.addLayout(grid)
        # Labels whose text changes on every scan keep their size, so a scan repaints only them and
        # the new row, never a relayout of the whole screen.
        for changing in (self.last_item, self.message, self.tax):
            changing.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        for changing in (self.last_item, self.last_amount, self.message, self.total, self.tax):
            changing.setFixedHeight(changing.sizeHint().height() + 8)
        self.last_amount.setMinimumWidth(170)

        #: The sale screen's function keys (a contract, docs/cashier.md); the router delivers them from any widget.
        self.function_keys = {
            Qt.Key.Key_F2: self.open_search,
            Qt.Key.Key_F4: self.open_discount,
            Qt.Key.Key_F6: self.open_cash_movement,
            Qt.Key.Key_Delete: self.remove_selected_line,
            Qt.Key.Key_F9: self.reprint_last,
            Qt.Key.Key_F10: self.open_close_shift,
            Qt.Key.Key_F11: self.lock,
            Qt.Key.Key_F12: self.open_payment,
        }
        self.router = ScannerRouter(self)
        app = QApplication.instance()
        assert app is not None, "the QApplication exists before any screen"
        app.installEventFilter(self.router)
        session.changed.connect(self.refresh)
        session.message.connect(self.show_message)
        self.retranslate()
        self.refresh("init")

    # --- rendering --------------------------------------------------------------------------------

    def retranslate(self) -> None:
        captions = {
            "searchButton": _("Search (F2)"),
            "discountButton": _("Discount (F4)"),
            "removeLineButton": _("Remove line (Del)"),
            "voidSaleButton": _("Cancel sale"),
            "reprintButton": _("Reprint (F9)"),
            "lockButton": _("Lock (F11)"),
            "signOutButton": _("Sign out"),
            "cashMovementButton": _("Cash in/out (F6)"),
            "closeShiftButton": _("Close shift (F10)"),
            "payButton": _("Pay (F12)"),
        }
        for name, text in captions.items():
            # The key on a line of its own: German captions fit the five-wide bar on a 1024 px till.
            self.buttons[name].setText(text.replace(" (", "\n("))
        self.total_caption.setText(_("Total"))
        self.scan_input.setPlaceholderText(_("Scan or type a code, Enter"))
        self.model.retranslate()
        self.refresh("language")

    def refresh(self, operation: str) -> None:
        staff = self.session.staff
        if operation in ("sign_in", "unlock") and staff is not None and not staff.shift_open:
            self.open_shift()
        sale = self.session.sale
        if self.model.lines != sale.lines:
            self.model.set_lines(sale.lines)
            last = sale.last_line
            if last is not None:
                row = sale.lines.index(last)
                if self.table.currentIndex().row() != row:
                    self.table.setCurrentIndex(self.model.index(row, 0))
                self.table.scrollTo(self.model.index(row, 0))
        last = sale.last_line
        self.last_item.setText(f"{last.quantity} × {last.name}" if last else _("Ready for the next sale"))
        self.last_amount.setText(last.amount if last else "")
        self.total.setText(sale.total)
        self.tax.setText(_("incl. tax {amount}").format(amount=sale.tax) if sale.tax else "")
        self.discount.setText(_("Discount {amount}").format(amount=sale.discount) if sale.discount else "")
        self.member.setText(_("Member {number}").format(number=sale.member) if sale.member else "")
        self.quantity.setText(
            _("Quantity for the next item: {qty}").format(qty=self.pending_quantity)
            if self.pending_quantity
            else ""
        )

    def show_message(self, text: str, error: bool) -> None:
        self.message.setText(text)
        set_role(self.message, "error" if error else "info")

    def selected_line(self) -> LineView | None:
        rows = self.table.selectionModel().selectedRows()
        if rows and rows[0].row() < len(self.model.lines):
            return self.model.lines[rows[0].row()]
        return None

    # --- scanning ---------------------------------------------------------------------------------

    def _on_typed(self, text: str) -> None:
        # "N*" sets the quantity of the next scan: taken the moment * is typed.
        if text.endswith("*"):
            self._take_quantity(text[:-1])

    def _take_quantity(self, text: str) -> bool:
        self.scan_input.clear()
        try:
            self.pending_quantity = self.session.till.parse_quantity(text)
        except Exception as error:
            self.pending_quantity = None
            self.session.report(error)
            self.refresh("quantity")
            return False
        self.show_message("", False)
        self.refresh("quantity")
        return True

    def _on_enter(self) -> None:
        text = self.scan_input.text().strip()
        self.scan_input.clear()
        if "*" in text:
            quantity, _sep, text = text.partition("*")
            if not self._take_quantity(quantity):
                return
        if not text:
            return
        self.scan(text)

    def scan(self, code: str) -> None:
        """Add what ``code`` names (product, member code, ...) with the pending quantity."""
        quantity, self.pending_quantity = self.pending_quantity, None
        till = self.session.till

        def done(outcome: ScanOutcome) -> None:
            self.session.set_sale(outcome.sale)
            self.show_message(outcome.message, False)
            if outcome.return_code:
                self.open_return(outcome.return_code)

        self.session.act("scan", lambda: till.scan(code, quantity), done)

    def add_product(self, hit: ProductHit) -> None:
        quantity, self.pending_quantity = self.pending_quantity, None
        till = self.session.till

        def done(sale: SaleView) -> None:
            self.session.set_sale(sale)
            self.show_message(_("Added {name}").format(name=hit.name), False)

        self.session.act("add_product", lambda: till.add_product(hit.sku, quantity), done)

    # --- actions ----------------------------------------------------------------------------------

    def open_shift(self) -> None:
        dialog = OpenShiftDialog(self.session, self)
        dialog.finished.connect(lambda _r: self.scan_input.setFocus())
        dialog.open()

    def _sale_then(self, note: str) -> Callable[[SaleView], None]:
        """A callback that shows the new sale, then ``note`` for the cashier."""

        def done(sale: SaleView) -> None:
            self.session.set_sale(sale)
            self.show_message(note, False)

        return done

    def open_search(self) -> None:
        dialog = SearchDialog(self.session, self, self.add_product)
        dialog.open()

    def remove_selected_line(self) -> None:
        line = self.selected_line()
        if line is None:
            self.session.report(TillError(_("Select a line first")))
            return
        till = self.session.till
        self.session.act(
            "remove_line",
            lambda: till.remove_line(line.line_id),
            self._sale_then(_("Removed {name}").format(name=line.name)),
        )

    def open_discount(self) -> None:
        if self.session.sale.is_empty:
            self.session.report(TillError(_("The sale has no items yet")))
            return
        line = self.selected_line()
        dialog = DiscountDialog(self, line.name if line else None)
        dialog.accepted.connect(
            lambda: self._apply_discount(None if dialog.whole_sale() else line, dialog.value(), None)
        )
        dialog.open()

    def _apply_discount(self, line: LineView | None, text: str, manager_pin: str | None) -> None:
        till = self.session.till
        line_id = line.line_id if line else None

        def needs_manager(error: BaseException) -> bool:
            if isinstance(error, NeedsManager) and manager_pin is None:
                approval = PinDialog(self, _("Manager approval"), str(error))
                approval.accepted.connect(lambda: self._apply_discount(line, text, approval.value()))
                approval.open()
                return True
            return False

        self.session.act(
            "discount",
            lambda: till.discount(line_id, text, manager_pin),
            self._sale_then(_("Discount applied")),
            needs_manager,
        )

    def void_sale(self) -> None:
        till = self.session.till
        self.session.act(
            "void_sale",
            till.void_sale,
            self._sale_then(_("Sale cancelled")),
        )

    def open_return(self, code: str) -> None:
        """The return of the sale whose receipt code was scanned (the sale in progress is untouched)."""
        till = self.session.till

        def show(view: ReturnView) -> None:
            dialog = ReturnDialog(self.session, self, view)
            dialog.finished.connect(lambda _r: self.scan_input.setFocus())
            dialog.open()

        self.session.act("start_return", lambda: till.start_return(code), show)

    def open_close_shift(self) -> None:
        if not self.session.sale.is_empty:
            self.session.report(TillError(_("Finish or cancel the sale before closing the shift.")))
            return
        till = self.session.till

        def show(drawer: ShiftView) -> None:
            dialog = CloseShiftDialog(self.session, self, drawer)
            dialog.finished.connect(lambda _r: self._after_close_shift(dialog))
            dialog.open()

        self.session.act("shift_drawer", till.shift_drawer, show)

    def _after_close_shift(self, dialog: CloseShiftDialog) -> None:
        if dialog.closed is None:
            self.scan_input.setFocus()
            return
        # The shift is closed: the till goes back to sign-in; the next cashier opens a new shift.
        self.sign_out()

    def open_cash_movement(self) -> None:
        dialog = CashMovementDialog(self.session, self)
        dialog.finished.connect(lambda _r: self.scan_input.setFocus())
        dialog.open()

    def open_payment(self) -> None:
        if self.session.sale.is_empty:
            self.session.report(TillError(_("The sale has no items yet")))
            return
        dialog = PaymentDialog(self.session, self)
        dialog.finished.connect(lambda _r: self.scan_input.setFocus())
        dialog.open()

    def reprint_last(self) -> None:
        till = self.session.till

        def done(completed: Any) -> None:
            note = _("Receipt {number} printed again").format(number=completed.receipt_number)
            if completed.print_problem:
                note = _("The receipt did not print: {reason}").format(reason=completed.print_problem)
            self.show_message(note, bool(completed.print_problem))

        self.session.act("reprint", till.reprint_last, done)

    def lock(self) -> None:
        till = self.session.till

        def done(_none: object) -> None:
            self.session.locked = True

        self.session.act("lock", till.lock, done)

    def sign_out(self) -> None:
        till = self.session.till
        self.session.act("sign_out", till.sign_out, lambda _none: self.session.set_staff(None))

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.scan_input.setFocus()
