"""What the terminal currently shows, and the one "operation executed" notification.

Screens never call each other. An action runs on the worker thread through :class:`Session`; when it
returns, the session stores the result (the sale, the signed-in cashier, the last receipt) and emits
:attr:`Session.changed` once. Every screen, the customer display and the status line refresh from it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication

from pos.ui.i18n import _
from pos.ui.tasks import TaskRunner
from pos.ui.till import Till
from pos.ui.views import CompletedSale, SaleView, StaffView, StatusView, StoreView, TillError

T = TypeVar("T")

#: Operations that may change what the status line shows (cashier, shift, queued events).
JOURNALED = frozenset(
    {"sign_in", "unlock", "sign_out", "lock", "payment", "void_sale", "reprint", "open_shift", "discount"}
)

#: How often the status line re-reads the sync state the ledger knows.
STATUS_INTERVAL_MS = 5000


class Session(QObject):
    """The terminal's shared state and the single change notification the screens listen to."""

    #: An operation executed: the name says which ("scan", "sign_in", "payment", "sale_completed", ...).
    changed = Signal(str)
    #: A message for the cashier: (text, is_error).
    message = Signal(str, bool)

    def __init__(self, till: Till, runner: TaskRunner, store: StoreView) -> None:
        super().__init__()
        self.till = till
        self.runner = runner
        self.store = store
        self.staff: StaffView | None = None
        self.locked = False
        self.sale = SaleView(currency=store.currency)
        self.status = StatusView()
        self.last_completed: CompletedSale | None = None
        #: The sale just paid for stays on the customer display until the next scan.
        self.showing_claim = False
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(STATUS_INTERVAL_MS)
        self._status_timer.timeout.connect(self.refresh_status)
        runner.operation_executed.connect(self._after_operation)

    def start(self) -> None:
        self._status_timer.start()
        self.refresh_status()

    def act(
        self,
        operation: str,
        work: Callable[[], T],
        on_done: Callable[[T], None] | None = None,
        on_error: Callable[[BaseException], bool] | None = None,
    ) -> None:
        """Run ``work`` off the UI thread; then ``on_done(result)`` and one :attr:`changed` (operation).

        A refused action (TillError) becomes a message (and a beep when the error asks for one) unless
        ``on_error`` handles it and returns True. Other errors are shown too and never crash the till.
        """

        def failed(error: BaseException) -> None:
            if on_error is not None and on_error(error):
                return
            self.report(error)

        self.runner.run(work, on_done, failed, operation=operation)

    def report(self, error: BaseException) -> None:
        if isinstance(error, TillError):
            if error.beep:
                QApplication.beep()
            self.message.emit(str(error), True)
        else:
            QApplication.beep()
            self.message.emit(_("Something went wrong: {error}").format(error=error), True)

    def _after_operation(self, operation: str) -> None:
        self.changed.emit(operation)
        # Scans and searches write no journal entry: re-reading the status after them would only
        # queue behind the next scan on the worker thread.
        if operation in JOURNALED:
            self.refresh_status()

    def refresh_status(self) -> None:
        def store_status(status: StatusView) -> None:
            self.status = status

        self.runner.run(self.till.status, store_status, lambda _e: None, operation="status")

    # --- setters the actions' callbacks use ----------------------------------------------------------

    def set_sale(self, sale: SaleView) -> None:
        self.sale = sale
        if not sale.is_empty:
            self.showing_claim = False

    def set_completed(self, completed: CompletedSale) -> None:
        self.last_completed = completed
        self.showing_claim = True
        self.sale = SaleView(currency=self.store.currency)

    def set_staff(self, staff: StaffView | None) -> None:
        self.staff = staff
        self.locked = False
        if staff is None:
            self.sale = SaleView(currency=self.store.currency)
            self.showing_claim = False

    def stop(self) -> None:
        self._status_timer.stop()
