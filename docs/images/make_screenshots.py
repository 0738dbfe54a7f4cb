"""Regenerate the cashier app screenshots in docs/images from a REAL window (X11 under Xvfb).

    xvfb-run -a -s "-screen 0 1024x768x24" .venv/bin/python docs/images/make_screenshots.py [de|zh_CN]

With a language, the cashier's screens are in it and the files get a "-<language>" suffix.

It sets up the demo terminal in a temporary dir, then signs in, scans and pays with key events the
way a cashier and a scanner do, and grabs the windows at each step.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "xcb")

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

from pos.app import application, build_terminal
from pos.demo import DEMO_STAFF, prepare_demo
from pos.ui.service_till import ServiceTill

OUT = Path(__file__).resolve().parent
#: The smallest till screen the window is made for (tests/test_ui_fit.py checks the others).
WIDTH, HEIGHT = 1024, 768
# Products of resources/demo/catalog.csv that make a believable basket.
BASKET = ["4151397130521", "4309211592547"]


def wait(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise SystemExit("timed out waiting for the window")
        QApplication.processEvents()
        time.sleep(0.01)


def settle(seconds: float = 0.4) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.01)


def keys(widget: QWidget, text: str, enter: bool = True) -> None:
    QTest.keyClicks(widget, text)
    if enter:
        QTest.keyClick(widget, Qt.Key.Key_Return)


def dialog(name: str) -> QWidget:
    found: list[QWidget] = []

    def visible() -> bool:
        found[:] = [w for w in QApplication.topLevelWidgets() if w.objectName() == name and w.isVisible()]
        return bool(found)

    wait(visible)
    return found[0]


SUFFIX = ""


def save(widget: QWidget, name: str) -> None:
    settle()
    path = OUT / name.replace(".png", f"{SUFFIX}.png")
    widget.grab().save(str(path))
    print(f"wrote {path.relative_to(OUT.parent.parent)}")


def main() -> int:
    app = application()
    global SUFFIX
    language = sys.argv[1] if len(sys.argv) > 1 else "en"
    SUFFIX = "" if language == "en" else f"-{language}"
    demo = prepare_demo(Path(tempfile.mkdtemp(prefix="storelink-shots-")) / "pos")
    term = build_terminal(ServiceTill.open(demo.data_dir, demo_pins=demo.pins), language=language)
    window, display = term.window, term.display
    window.resize(WIDTH, HEIGHT)
    window.show()
    display.resize(1024, 600)
    display.show()
    wait(lambda: window.isVisible())
    save(window, "sign-in.png")

    keys(window.findChild(QWidget, "pinInput"), DEMO_STAFF[0][2])
    wait(lambda: window.current_screen() is window.sale_screen)
    table = window.sale_screen.table
    keys(table, BASKET[0])
    keys(table, "2*")
    keys(table, BASKET[1])
    QTest.keyClick(table, Qt.Key.Key_F2)
    search = dialog("searchDialog")
    QTest.keyClicks(search.findChild(QWidget, "searchInput"), "scarf")
    wait(lambda: search.findChild(QWidget, "searchResults").rowCount() > 0)
    save(search, "search.png")
    QTest.keyClick(search.findChild(QWidget, "searchInput"), Qt.Key.Key_Return)
    wait(lambda: len(window.sale_screen.model.lines) == 3)
    save(window, "sale-screen.png")
    save(display, "customer-display-sale.png")

    QTest.keyClick(table, Qt.Key.Key_F12)
    payment = dialog("paymentDialog")
    QTest.keyClicks(payment.findChild(QWidget, "amountInput"), "50")
    save(payment, "payment.png")
    QTest.keyClick(payment.findChild(QWidget, "amountInput"), Qt.Key.Key_Return)
    wait(lambda: payment.completed is not None)  # type: ignore[attr-defined]
    save(payment, "payment-done.png")
    wait(lambda: display.current_page() == "customerClaimPage")
    save(display, "customer-display.png")
    QTest.keyClick(payment, Qt.Key.Key_Return)
    settle()
    term.close()
    app.quit()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
