"""The terminal GUI's entry points: build the window on a till, run it, or run the demo."""

from __future__ import annotations

import gc
import logging
import os
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from pos.ledger.db import LedgerError
from pos.ui.customer_display import OWN_WINDOW_HINT, CustomerDisplay
from pos.ui.i18n import _, normalise, set_language
from pos.ui.main_window import MainWindow
from pos.ui.state import Session
from pos.ui.sync_status import SyncMonitor
from pos.ui.tasks import TaskRunner
from pos.ui.theme import apply_theme
from pos.ui.till import Till

log = logging.getLogger(__name__)


class MainThreadGarbageCollector(QObject):
    """Python's cycle collector runs only here, on the UI thread (as Anki does).

    Left alone it may run on the ledger's or the task runner's thread and free Qt objects there,
    which crashes Qt. Young objects are collected every second (well under a millisecond); a full
    collection waits until the till is idle, so it never lands between a scan and its line.
    Reference counting still frees everything acyclic at once.
    """

    YOUNG_MS = 1000
    FULL_EVERY = 60  # young collections between full ones

    def __init__(self, runner: TaskRunner | None = None) -> None:
        super().__init__()
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._runner = runner
        self._ticks = 0
        self._timer = QTimer(self)
        self._timer.setInterval(self.YOUNG_MS)
        self._timer.timeout.connect(self.collect)
        self._timer.start()

    def settle(self) -> None:
        """After start-up: collect once and move what exists to the permanent generation."""
        if not self._timer.isActive():
            return  # already stopped
        gc.collect()
        gc.freeze()

    def collect(self) -> None:
        self._ticks += 1
        busy = self._runner is not None and self._runner.pending > 0
        if self._ticks >= self.FULL_EVERY and not busy:
            self._ticks = 0
            gc.collect()
        else:
            gc.collect(1)

    def stop(self) -> None:
        self._timer.stop()
        gc.unfreeze()
        gc.collect()
        if self._was_enabled:
            gc.enable()


@dataclass
class Terminal:
    """The running GUI: its window, the customer display and the shared session."""

    window: MainWindow
    display: CustomerDisplay
    session: Session
    runner: TaskRunner
    till: Till
    collector: MainThreadGarbageCollector
    #: Background sync (an enrolled till only).
    sync: SyncMonitor | None = None

    def close(self) -> None:
        """Close both windows, stop background sync, finish queued ledger work, close the till,
        and free the Qt objects on this (the UI) thread."""
        self.window.close()
        self.display.close()
        if self.sync is not None:
            self.sync.stop()
        self.runner.close()
        self.till.close()
        # Results still queued for the UI thread must not reach the windows being deleted.
        self.runner.blockSignals(True)
        self.session.blockSignals(True)
        for widget in (self.window, self.display):
            widget.deleteLater()
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        self.collector.stop()


def application() -> QApplication:
    """The process's QApplication (created once, with the till's theme)."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
        app.setApplicationName("Storelink POS")
        apply_theme(app)
    return app


#: Seconds between background sync rounds when nothing else wakes the loop.
SYNC_INTERVAL = 30.0


def build_terminal(
    till: Till, *, language: str | None = None, sync_interval: float = SYNC_INTERVAL
) -> Terminal:
    """Build the main window and the Customer Display on ``till`` (not shown yet).

    ``language`` is the cashier's language for this terminal; the customer display and the
    receipt use the store's language. On an enrolled terminal background sync starts once the
    till is open (every ``sync_interval`` s, at once after a sale while online, or on "Sync now").
    """
    application()
    store = till.store()
    set_language(normalise(language or store.language))
    runner = TaskRunner()
    collector = MainThreadGarbageCollector(runner)
    session = Session(till, runner, store)
    display = CustomerDisplay(language=store.language, store_name=store.name)
    window = MainWindow(session, display)
    session.start()
    monitor = _background_sync(till, session, sync_interval)
    if monitor is not None:
        window.status_line.attach_sync(monitor)
        monitor.start()
    QTimer.singleShot(2000, collector.settle)  # once the till is up, not before its first paint
    return Terminal(
        window=window,
        display=display,
        session=session,
        runner=runner,
        till=till,
        collector=collector,
        sync=monitor,
    )


def _background_sync(till: Till, session: Session, interval: float) -> SyncMonitor | None:
    """A sync monitor for a till on an enrolled terminal (None when standalone)."""
    core = getattr(till, "terminal", None)
    config = getattr(core, "config", None)
    if core is None or config is None or not config.enrolled:
        return None
    from pos.services import syncing
    from sync.engine import SyncLoop

    def start_loop(on_round: Callable[..., None], on_progress: Callable[..., None]) -> SyncLoop:
        return syncing.start_background_sync(
            core, interval=interval, on_round=on_round, on_progress=on_progress
        )

    # Prices, staff or the store's settings may have changed: the till re-reads them between actions.
    monitor = SyncMonitor(
        start_loop,
        session.runner,
        after_changes=core.reload_settings,
        first_sync=lambda: syncing.LedgerSyncStore(core.ledger).cursor() is None,
    )

    def after(operation: str) -> None:
        # A sale reaches head office (and its claim page) within seconds while online; offline,
        # the loop's backoff decides, not the till's sales.
        if operation == "payment" and monitor.online:
            monitor.sync_now()

    session.changed.connect(after)
    return monitor


def run(
    open_till: Callable[[], Till],
    *,
    language: str | None = None,
    sync_interval: float = SYNC_INTERVAL,
    first_start: Callable[[Till], bool] | None = None,
) -> int:
    """Open the till, show the till and the customer display, and run until the window closes.

    A till that cannot open (damaged ledger, unreadable config) is explained in a message box and
    gives exit status 1. ``first_start(till)`` runs before the sale screen is built (the branch
    enrollment screen); when it returns False the till closes with exit status 0.
    """
    app = application()
    log.info("SQLite %s", sqlite3.sqlite_version)
    try:
        till = open_till()
    except (LedgerError, ValueError, OSError) as error:  # damaged ledger, ConfigError, SettingsError
        log.error("the till cannot start: %s", error)
        QMessageBox.critical(None, "Storelink POS", f"The till cannot start:\n\n{error}")
        return 1
    if first_start is not None and not first_start(till):
        till.close()
        return 0
    terminal = build_terminal(
        till, language=language or getattr(till, "language", None), sync_interval=sync_interval
    )
    probe_pin = os.environ.get("POS_STARTUP_PROBE")
    if probe_pin:  # bench/startup.py: start to usable sale screen (pos/ui/startup_probe.py)
        from pos.ui.startup_probe import StartupProbe

        StartupProbe(terminal.window, probe_pin)
    show_terminal(terminal)
    try:
        return app.exec()
    finally:
        terminal.close()


def show_terminal(terminal: Terminal) -> str:
    """Show the till and the Customer Display: on a second screen, beside the till on one wide
    screen, or (a narrow single screen) as a window of its own that the cashier is told how to
    bring forward. Returns where the display went (:meth:`CustomerDisplay.place`)."""
    terminal.window.show()
    placed = terminal.display.place(terminal.window.screen(), terminal.window)
    if placed == "own-window":
        terminal.session.message.emit(_(OWN_WINDOW_HINT), False)
    terminal.window.raise_()
    terminal.window.activateWindow()
    return placed


def main_gui(data_dir: Path | None = None, *, language: str | None = None) -> int:
    """``pos``: the terminal GUI on the ledger in ``data_dir`` (default: the platform's user data dir)."""
    from pos.ui.enrollment import enroll_before_selling
    from pos.ui.service_till import ServiceTill

    # A till IT installed with a branch.conf enrolls itself before its first sale (pos/branch.py).
    return run(
        lambda: ServiceTill.open(data_dir),
        language=language,
        first_start=lambda till: enroll_before_selling(getattr(till, "terminal", None)),
    )


#: The demo syncs more often than a store's till: a sale's claim page works within seconds.
DEMO_SYNC_INTERVAL = 5.0


def main_demo(data_dir: Path | None = None, *, language: str | None = None, standalone: bool = False) -> int:
    """``pos demo``: the whole system on one machine -- the central server embedded on 127.0.0.1,
    the demo store, staff and catalog, an enrolled terminal, the GUI and the customer display.

    ``standalone``: the terminal alone, with no server, in a fresh data dir (the old demo).
    """
    from pos.demo import DemoError, prepare_demo, prepare_full_demo
    from pos.ui.service_till import ServiceTill

    if standalone:
        demo = prepare_demo(data_dir)
        return run(lambda: ServiceTill.open(demo.data_dir, demo_pins=demo.pins), language=language)
    from sync.extras import central_missing_message

    missing = central_missing_message("`pos demo` runs head office's server, so it")
    if missing is not None:
        print(f"Error: {missing}; or run the till alone with `pos demo --standalone`", file=sys.stderr)
        return 1
    try:
        full = prepare_full_demo(data_dir)
    except (DemoError, OSError, RuntimeError) as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    email, password = full.admin
    print(
        "Storelink POS demo: the whole system on this machine\n"
        f"  central server  {full.central.url}  (health: {full.central.url}/healthz)\n"
        f"  head office     {full.head_office_url}  sign in as {email}, password {password}\n"
        f"  claim pages     scan the receipt QR on the Customer Display, or open its URL here\n"
        f"  demo PINs       " + ", ".join(f"{name} {pin}" for name, _role, pin in full.pins) + "\n"
        f"  data            {full.data_dir}  (run `pos demo` again to carry on)",
        file=sys.stderr,
        flush=True,
    )
    try:
        return run(
            lambda: ServiceTill.open(
                full.data_dir, demo_pins=full.pins, demo_head_office=(full.head_office_url, email, password)
            ),
            language=language,
            sync_interval=DEMO_SYNC_INTERVAL,
        )
    finally:
        full.central.stop()
