"""The till's style sheet (resources/styles/terminal.qss) and a font that renders Chinese too."""

from __future__ import annotations

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication

from pos.hardware.resources import resource_path


def apply_theme(app: QApplication) -> None:
    """Use the terminal's style sheet and a font family list with a CJK fallback."""
    font = QFont()
    font.setFamilies(["Noto Sans", "DejaVu Sans", "Noto Sans CJK SC", "Noto Sans SC"])
    app.setFont(font)
    app.setStyleSheet(resource_path("styles", "terminal.qss").read_text(encoding="utf-8"))
