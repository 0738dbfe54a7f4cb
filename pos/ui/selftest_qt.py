"""The Qt half of ``pos --self-test`` (pos/selftest.py): a window rendered offscreen, and the
customer display's QR image as pixels a decoder can read. Qt stays in the UI layer."""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QLibraryInfo, qVersion
from PySide6.QtGui import QColor, QImage, QPixmap
from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget

from pos.ui.qr import qr_image


class QtCheckFailed(Exception):
    """The window did not render; str() says how."""


def qr_pixels(text: str, size: int) -> Image.Image:
    """The QR image the customer display shows for ``text``, as a greyscale Pillow image."""
    image = qr_image(text, size).convertToFormat(QImage.Format.Format_Grayscale8)
    return Image.frombuffer(
        "L", (image.width(), image.height()), bytes(image.constBits()), "raw", "L", image.bytesPerLine(), 1
    )


def qt_window() -> str:
    """In this process: start Qt, render a window with text and a QR code, check its pixels."""
    app = QApplication.instance() or QApplication([sys.argv[0]])
    window = QWidget()
    layout = QVBoxLayout(window)
    text = QLabel("Storelink POS · Grüße · 简体中文")
    text.setStyleSheet("color: black; background: white; font-size: 20px")
    layout.addWidget(text)
    code = QLabel()
    code.setPixmap(QPixmap.fromImage(qr_image("HTTPS://STORELINK.EXAMPLE/SELF-TEST", 120)))
    layout.addWidget(code)
    window.resize(360, 240)
    image = window.grab().toImage()
    window.close()
    dark = light = 0
    for y in range(0, image.height(), 2):
        for x in range(0, image.width(), 2):
            value = QColor(image.pixel(x, y)).lightness()
            dark += value < 80
            light += value > 180
    if image.isNull() or dark == 0 or light == 0:
        raise QtCheckFailed(f"the window rendered blank on platform {QApplication.platformName()!r}")
    platforms = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"
    here = sorted(p.name.removeprefix("lib").split(".")[0].removeprefix("q") for p in platforms.glob("*q*"))
    del app
    return (
        f"Qt {qVersion()}: platform plugin {QApplication.platformName()!r} rendered a "
        f"{image.width()}x{image.height()} window (platform plugins here: {', '.join(here) or 'none'})"
    )
