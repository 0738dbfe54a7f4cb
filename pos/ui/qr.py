"""QR codes on screen: qrcode builds the matrix, Qt paints it crisp at any size."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPainter


def qr_matrix(text: str) -> list[list[bool]]:
    """The QR modules for ``text`` (error correction M, with the 4-module quiet zone)."""
    # Imported on the first QR, not at the till's start: qrcode loads Pillow with it.
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4)
    code.add_data(text)
    code.make(fit=True)
    return [[bool(module) for module in row] for row in code.get_matrix()]


def qr_image(text: str, size: int) -> QImage:
    """A square black-on-white QR image of about ``size`` pixels, each module a whole number of pixels."""
    matrix = qr_matrix(text)
    modules = len(matrix)
    scale = max(1, size // modules)
    side = modules * scale
    image = QImage(side, side, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("black"))
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                painter.drawRect(x * scale, y * scale, scale, scale)
    painter.end()
    return image
