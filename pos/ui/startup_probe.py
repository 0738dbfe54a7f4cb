"""``POS_STARTUP_PROBE=<PIN>``: how long the till takes from start to a usable sale screen.

With the variable set, the app signs in with that PIN as soon as the sign-in screen has painted,
prints one JSON line when the sale screen has painted (with the scan field focused), and exits 0 --
or prints the reason and exits 1 when the sign-in is refused. It measures the app as shipped, from
source or from the bundle (bench/startup.py runs both); nothing else reads the variable.

The line holds the wall-clock times (``time.time()``) of the sign-in screen's first paint and of the
sale screen's; the caller subtracts the time it started the process.
"""

from __future__ import annotations

import json
import sys
import time

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

from pos.ui.main_window import MainWindow

PROBE_ENV = "POS_STARTUP_PROBE"


class StartupProbe(QObject):
    """Watches the main window's screens paint; signs in with ``pin``; reports and quits."""

    def __init__(self, window: MainWindow, pin: str) -> None:
        super().__init__(window)
        self.window = window
        self.pin = pin
        self.times: dict[str, float] = {}
        window.sign_in.installEventFilter(self)
        window.sale_screen.installEventFilter(self)
        window.session.message.connect(self._message)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            if watched is self.window.sign_in and "sign_in_painted" not in self.times:
                self.times["sign_in_painted"] = time.time()
                QTimer.singleShot(0, self._sign_in)
            elif watched is self.window.sale_screen and "sale_screen_painted" not in self.times:
                self.times["sale_screen_painted"] = time.time()
                QTimer.singleShot(0, self._report)
        return False

    def _sign_in(self) -> None:
        screen = self.window.sign_in
        screen.pin.setText(self.pin)
        screen.submit()

    def _message(self, text: str, error: bool) -> None:
        if error and "sale_screen_painted" not in self.times:
            print(f"startup probe: sign-in refused: {text}", file=sys.stderr, flush=True)
            QApplication.exit(1)

    def _report(self) -> None:
        report = {
            **self.times,
            "scan_field_focused": self.window.sale_screen.scan_input.hasFocus(),
        }
        print(json.dumps(report), flush=True)
        QApplication.exit(0)
