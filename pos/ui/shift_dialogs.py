"""The drawer's dialogs: closing the shift with the counted cash (F10) and cash in or out (F6).

Both are keyboard-first (Enter does it, Esc steps back) with a keypad for touch. Closing the shift
and taking cash out need a manager: when the till says so, a manager's PIN is asked for and the
action retried with it; a wrong PIN changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QButtonGroup, QDialog, QHBoxLayout, QRadioButton, QVBoxLayout, QWidget

from pos.ui.dialogs import PinDialog, _line_edit
from pos.ui.i18n import _
from pos.ui.state import Session
from pos.ui.views import NeedsManager, ShiftClosedView, ShiftView, TillError
from pos.ui.widgets import Keypad, label, set_role, touch_button


def _with_manager(
    parent: QDialog,
    say: Callable[[str, bool], None],
    retry: Callable[[str], None],
    manager_pin: str | None,
    done: Callable[[], None],
) -> Callable[[BaseException], bool]:
    """An ``on_error`` for Session.act: asks for a manager's PIN once when the till needs one."""

    def failed(error: BaseException) -> bool:
        done()
        if isinstance(error, NeedsManager) and manager_pin is None:
            say(str(error), False)
            approval = PinDialog(parent, _("Manager approval"), str(error))
            approval.accepted.connect(lambda: retry(approval.value()))
            approval.open()
            return True
        say(str(error) if isinstance(error, TillError) else repr(error), True)
        return True

    return failed


class CloseShiftDialog(QDialog):
    """Count the drawer: the expected cash shows, the counted amount and the difference as typed;
    Enter closes the shift (a manager approves). Then the result shows and Enter signs out."""

    def __init__(self, session: Session, parent: QWidget, drawer: ShiftView) -> None:
        super().__init__(parent)
        self.setObjectName("closeShiftDialog")
        self.setWindowTitle(_("Close shift"))
        self.session = session
        self.drawer = drawer
        self.closed: ShiftClosedView | None = None
        self._busy = False
        self.expected = label(
            "expectedCash", _("Expected in the drawer: {amount}").format(amount=drawer.expected)
        )
        self.expected.setProperty("role", "big")
        prompt = label("closeShiftPrompt", _("Count the cash in the drawer and enter the amount."))
        prompt.setWordWrap(True)
        self.counted = _line_edit("countedInput")
        self.counted.setPlaceholderText("0.00")
        self.counted.textChanged.connect(self._show_difference)
        self.counted.returnPressed.connect(self._enter)
        self.difference = label("cashDifference", role="big")
        self.feedback = label("closeShiftMessage", role="info")
        self.feedback.setWordWrap(True)
        keypad = Keypad("countedKeypad", lambda: self.counted, star=False)
        self.confirm = touch_button(_("Close shift (Enter)"), "closeShiftButton", self._enter)
        self.confirm.setProperty("role", "primary")
        buttons = QHBoxLayout()
        buttons.addWidget(self.confirm)
        buttons.addWidget(touch_button(_("Cancel (Esc)"), "closeShiftCancelButton", self.reject))
        layout = QVBoxLayout(self)
        layout.addWidget(self.expected)
        layout.addWidget(prompt)
        layout.addWidget(self.counted)
        layout.addWidget(self.difference)
        layout.addWidget(self.feedback)
        layout.addWidget(keypad)
        layout.addLayout(buttons)
        self.counted.setFocus()

    def _say(self, text: str, error: bool) -> None:
        self.feedback.setText(text)
        set_role(self.feedback, "error" if error else "info")

    def _show_difference(self, text: str) -> None:
        try:
            difference = self.session.till.cash_difference(self.drawer.expected_minor, text)
        except TillError:
            difference = ""
        self.difference.setText(_("Difference: {amount}").format(amount=difference) if difference else "")

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self.closed is not None and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.accept()
            return
        super().keyPressEvent(event)

    def _enter(self) -> None:
        if self.closed is not None:
            self.accept()
        elif self.counted.text().strip():
            self.close_shift(None)

    def close_shift(self, manager_pin: str | None) -> None:
        if self._busy:
            return
        self._busy = True
        text = self.counted.text().strip()
        till = self.session.till

        def idle() -> None:
            self._busy = False

        failed = _with_manager(self, self._say, self.close_shift, manager_pin, idle)
        self.session.act("close_shift", lambda: till.close_shift(text, manager_pin), self._closed, failed)

    def _closed(self, closed: ShiftClosedView) -> None:
        self._busy = False
        self.closed = closed
        self.counted.setReadOnly(True)
        self.difference.setText(_("Difference: {amount}").format(amount=closed.difference))
        self._say(
            _("Shift closed. Counted {counted}, expected {expected}. Enter signs out.").format(
                counted=closed.counted, expected=closed.expected
            ),
            False,
        )
        self.confirm.setText(_("Sign out (Enter)"))
        self.session.refresh_status()
        self.setFocus()


class CashMovementDialog(QDialog):
    """Cash into the drawer (change from the bank) or out of it (to the safe): amount and reason;
    taking cash out needs a manager."""

    def __init__(self, session: Session, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("cashMovementDialog")
        self.setWindowTitle(_("Cash in / out"))
        self.session = session
        self._busy = False
        self.cash_in = QRadioButton(_("Cash in"))
        self.cash_in.setObjectName("cashInChoice")
        self.cash_out = QRadioButton(_("Cash out"))
        self.cash_out.setObjectName("cashOutChoice")
        group = QButtonGroup(self)
        kinds = QHBoxLayout()
        for radio in (self.cash_in, self.cash_out):
            radio.setMinimumHeight(44)
            radio.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            group.addButton(radio)
            kinds.addWidget(radio)
        self.cash_in.setChecked(True)
        self.amount = _line_edit("cashAmountInput")
        self.amount.setPlaceholderText(_("Amount"))
        self.amount.returnPressed.connect(lambda: self.reason.setFocus())
        self.reason = _line_edit("cashReasonInput")
        self.reason.setPlaceholderText(_("Reason (e.g. change from the bank, to the safe)"))
        self.reason.returnPressed.connect(lambda: self.move_cash(None))
        self.feedback = label("cashMovementMessage", role="info")
        self.feedback.setWordWrap(True)
        keypad = Keypad("cashKeypad", lambda: self.amount, star=False)
        buttons = QHBoxLayout()
        ok = touch_button(_("OK (Enter)"), "cashMovementOkButton", lambda: self.move_cash(None))
        ok.setProperty("role", "primary")
        buttons.addWidget(ok)
        buttons.addWidget(touch_button(_("Cancel (Esc)"), "cashMovementCancelButton", self.reject))
        layout = QVBoxLayout(self)
        hint = label("cashMovementHelp", _("F6 switches between cash in and cash out."), role="hint")
        layout.addLayout(kinds)
        layout.addWidget(hint)
        layout.addWidget(self.amount)
        layout.addWidget(self.reason)
        layout.addWidget(self.feedback)
        layout.addWidget(keypad)
        layout.addLayout(buttons)
        self.amount.setFocus()

    def _say(self, text: str, error: bool) -> None:
        self.feedback.setText(text)
        set_role(self.feedback, "error" if error else "info")

    def kind(self) -> str:
        return "out" if self.cash_out.isChecked() else "in"

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # F6 (the key that opened the dialog) switches between cash in and cash out.
        if event.key() == Qt.Key.Key_F6:
            (self.cash_out if self.cash_in.isChecked() else self.cash_in).setChecked(True)
            return
        super().keyPressEvent(event)

    def move_cash(self, manager_pin: str | None) -> None:
        amount, reason, kind = self.amount.text().strip(), self.reason.text().strip(), self.kind()
        if self._busy:
            return
        if not amount:
            self._say(_("Enter an amount."), True)
            self.amount.setFocus()
            return
        if not reason:
            self._say(_("Say why the cash goes in or out (up to 200 characters)."), True)
            self.reason.setFocus()
            return
        self._busy = True
        till = self.session.till

        def idle() -> None:
            self._busy = False

        def done(left: str) -> None:
            self._busy = False
            self.session.refresh_status()
            self.session.message.emit(
                (_("Cash out: {amount}") if kind == "out" else _("Cash in: {amount}")).format(amount=amount)
                + " · "
                + _("the drawer should now hold {amount}").format(amount=left),
                False,
            )
            self.accept()

        failed = _with_manager(self, self._say, self.move_cash, manager_pin, idle)
        self.session.act(
            "cash_movement", lambda: till.cash_movement(kind, amount, reason, manager_pin), done, failed
        )
