"""The till's main window: sign-in, sale and lock screens in one stack, the status line under them,
and the Customer Display beside it. Everything refreshes from :attr:`Session.changed`."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QHBoxLayout,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QWidget,
)

from pos.ui.customer_display import CustomerDisplay
from pos.ui.i18n import _, forget_listener, on_language_changed
from pos.ui.sale_screen import SaleScreen
from pos.ui.sign_in import PinScreen
from pos.ui.state import Session
from pos.ui.sync_status import NEEDS_IT, SyncMonitor, SyncView, sync_text
from pos.ui.widgets import TOUCH_MIN, ElidedLabel, label, set_role

WINDOW_TITLE = "Storelink POS"
#: How long after the till's own screen the Customer Display follows a change (one frame or so).
DISPLAY_DELAY_MS = 20


class StatusLine(QWidget):
    """Signed-in cashier, shift, and the sync state the ledger knows."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.setObjectName("statusLine")
        self.session = session
        self.cashier = label("statusCashier", role="status")
        self.shift = label("statusShift", role="status")
        # The sync line is the longest: on a narrow screen it is cut with "…" (whole in its tooltip)
        # rather than pushing the sync button out of the window.
        self.sync = ElidedLabel("statusSync", role="status")
        self.busy = label("statusBusy", role="status")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 2, 8, 2)
        layout.addWidget(self.cashier)
        layout.addWidget(self.shift)
        layout.addWidget(self.sync, 1)
        layout.addWidget(self.busy)
        session.changed.connect(lambda _op: self.refresh())
        session.runner.busy_changed.connect(lambda n: self.busy.setText("…" if n else ""))
        self._layout = layout
        #: Background sync of an enrolled till; None on a standalone one.
        self.monitor: SyncMonitor | None = None
        self.progress = QProgressBar()
        self.progress.setObjectName("syncProgress")
        self.progress.setRange(0, 0)  # the feed does not say how much is still to come
        self.progress.setTextVisible(False)
        self.progress.setMaximumWidth(160)
        self.progress.setVisible(False)
        self.progress_text = label("syncProgressText", role="status")
        self.progress_text.setVisible(False)
        self.sync_now = QPushButton()
        self.sync_now.setObjectName("syncNowButton")
        self.sync_now.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # scans keep going to the sale screen
        self.sync_now.setVisible(False)
        self.refresh()

    def attach_sync(self, monitor: SyncMonitor) -> None:
        """Show ``monitor``'s state instead of the ledger's bare queue count, with its progress bar."""
        self.monitor = monitor
        index = self._layout.indexOf(self.sync) + 1
        for offset, widget in enumerate((self.progress, self.progress_text, self.sync_now)):
            self._layout.insertWidget(index + offset, widget)
        self.sync_now.setVisible(True)
        # The status bar keeps one height whether or not the bar and the button are showing.
        self.sync_now.setMinimumHeight(TOUCH_MIN)
        self.setMinimumHeight(self.sync_now.minimumHeight() + 8)
        self.sync_now.clicked.connect(monitor.sync_now)
        monitor.status_changed.connect(lambda _view: self._show_sync())
        monitor.progress_changed.connect(lambda _progress: self._show_progress())
        self.refresh()

    def refresh(self) -> None:
        staff, status = self.session.staff, self.session.status
        if staff is None:
            self.cashier.setText(_("Not signed in"))
        else:
            role = _("Manager") if staff.is_manager else _("Cashier")
            self.cashier.setText(f"{role}: {staff.name}")
        self.shift.setText(
            _("Shift: {shift}").format(shift=status.shift) if status.shift else _("No shift open")
        )
        if self.monitor is not None:
            self.sync_now.setText(_("Sync now"))
            self._show_sync()
            self._show_progress()
            return
        last = status.last_sync or _("never synced")
        self.sync.setText(
            _("Queued: {count} · Last sync: {last} · not connected to head office").format(
                count=status.queued, last=last
            )
        )

    def _show_sync(self) -> None:
        if self.monitor is None:
            return
        view: SyncView = self.monitor.view
        self.sync.setText(sync_text(view))
        self.sync.setProperty("syncState", view.status.state)
        self.sync.setProperty("queued", view.status.queued)
        set_role(self.sync, "error" if view.status.state in NEEDS_IT else "status")

    def _show_progress(self) -> None:
        progress = self.monitor.progress if self.monitor is not None else None
        if progress is not None:
            self.progress_text.setText(
                _("Receiving the catalog: {count} changes").format(count=progress.changes)
            )
        self.progress.setVisible(progress is not None)
        self.progress_text.setVisible(progress is not None)


class MainWindow(QMainWindow):
    def __init__(self, session: Session, display: CustomerDisplay) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle(WINDOW_TITLE)
        self.session = session
        self.display = display
        self.sign_in = PinScreen(session, locked=False)
        self.lock_screen = PinScreen(session, locked=True)
        self.sale_screen = SaleScreen(session)
        self.stack = QStackedWidget()
        self.stack.setObjectName("screens")
        for screen in (self.sign_in, self.sale_screen, self.lock_screen):
            self.stack.addWidget(screen)
        self.status_line = StatusLine(session)
        self.statusBar().addPermanentWidget(self.status_line, 1)
        self.statusBar().setSizeGripEnabled(False)
        self.setCentralWidget(self.stack)
        self._display_timer = QTimer(self)
        self._display_timer.setSingleShot(True)
        self._display_timer.setInterval(DISPLAY_DELAY_MS)
        self._display_timer.timeout.connect(self._show_sale_on_display)
        session.changed.connect(self.refresh)
        self._language_listener = self._language_changed
        on_language_changed(self._language_listener)
        self.resize(1366, 768)
        self.refresh("init")

    def current_screen(self) -> QWidget | None:
        return self.stack.currentWidget()

    def refresh(self, operation: str) -> None:
        session = self.session
        if session.staff is None:
            target: QWidget = self.sign_in
        elif session.locked:
            target = self.lock_screen
        else:
            target = self.sale_screen
        if self.stack.currentWidget() is not target:
            self.stack.setCurrentWidget(target)
            if isinstance(target, PinScreen):
                target.reset()
            else:
                self.sale_screen.scan_input.setFocus()
        if session.showing_claim and session.last_completed is not None and session.sale.is_empty:
            if self.display.claim_url != session.last_completed.claim_url or operation == "payment":
                self.display.show_claim(session.last_completed)
        elif operation in ("status", "search", "language"):
            return
        else:
            # A frame after the till's own repaint: the cashier's line first, the shopper's just after
            # (fast scans coalesce into one update of the display).
            if not self._display_timer.isActive():
                self._display_timer.start()

    def _show_sale_on_display(self) -> None:
        if not self.session.showing_claim:
            self.display.show_sale(self.session.sale)

    def _language_changed(self, _language: str) -> None:
        for screen in (self.sign_in, self.lock_screen, self.sale_screen):
            screen.retranslate()
        self.status_line.refresh()

    def closeEvent(self, event: QCloseEvent) -> None:
        forget_listener(self._language_listener)
        for dialog in self.findChildren(QDialog):
            dialog.close()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self.sale_screen.router)
        self.session.stop()
        self.display.close()
        super().closeEvent(event)
