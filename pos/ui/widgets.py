"""Small building blocks shared by the screens: touch-sized buttons and the numeric keypad."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QApplication, QGridLayout, QLabel, QLineEdit, QPushButton, QSizePolicy, QWidget

#: Side a finger-pressed button has where there is room (about 12 mm on a 15" counter screen) ...
TOUCH_SIZE = 56
#: ... and never less than this, on the smallest till screen (1024×768): the usual touch minimum.
TOUCH_MIN = 44


class TouchButton(QPushButton):
    """A push button that asks for :data:`TOUCH_SIZE` and gives way down to :data:`TOUCH_MIN`."""

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(max(hint.width(), TOUCH_SIZE), max(hint.height(), TOUCH_SIZE))


def touch_button(text: str, name: str, on_click: Callable[[], None] | None = None) -> QPushButton:
    """A large push button that never takes keyboard focus (the scan input keeps it)."""
    button = TouchButton(text)
    button.setObjectName(name)
    button.setMinimumSize(TOUCH_MIN, TOUCH_MIN)
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
    if on_click is not None:
        button.clicked.connect(on_click)
    return button


def label(name: str, text: str = "", *, role: str = "") -> QLabel:
    """A label with an objectName (tests and screen readers find it) and a style role."""
    widget = QLabel(text)
    widget.setObjectName(name)
    if role:
        widget.setProperty("role", role)
    return widget


class ElidedLabel(QLabel):
    """A one-line label that may be narrower than its text: it paints the text cut with "…" and
    shows the whole text as its tooltip (:meth:`text` is always the whole text)."""

    def __init__(self, name: str, *, role: str = "") -> None:
        super().__init__()
        self.setObjectName(name)
        if role:
            self.setProperty("role", role)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setToolTip(text)

    def minimumSizeHint(self) -> QSize:
        return QSize(0, super().minimumSizeHint().height())

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        rect = self.contentsRect()
        shown = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, rect.width())
        painter.drawText(rect, int(self.alignment()), shown)


def set_role(widget: QWidget, role: str) -> None:
    """Change a widget's style role (e.g. "error" / "info") and make the style sheet notice."""
    if widget.property("role") == role:
        return  # re-polishing costs milliseconds with a style sheet: only when the role changes
    widget.setProperty("role", role)
    widget.style().unpolish(widget)
    widget.style().polish(widget)


class Keypad(QWidget):
    """On-screen digits, ``*``, decimal mark, backspace, clear and Enter, typed into a target line edit.

    Keys are delivered as real key events so a tap does exactly what the keyboard key does.
    """

    entered = Signal()

    def __init__(self, name: str, target: Callable[[], QLineEdit | None], *, star: bool = True) -> None:
        super().__init__()
        self.setObjectName(name)
        self._target = target
        grid = QGridLayout(self)
        grid.setSpacing(6)
        grid.setContentsMargins(0, 0, 0, 0)
        keys = ["7", "8", "9", "4", "5", "6", "1", "2", "3", "0", "00", "."]
        for index, key in enumerate(keys):
            suffix = {"00": "00", ".": "Dot"}.get(key, key)
            grid.addWidget(self._key(key, f"{name}Key{suffix}", key), index // 3, index % 3)
        grid.addWidget(self._key("⌫", f"{name}KeyBackspace", None, Qt.Key.Key_Backspace), 0, 3)
        grid.addWidget(self._key("C", f"{name}KeyClear", None, None, clear=True), 1, 3)
        if star:
            grid.addWidget(self._key("×", f"{name}KeyTimes", "*"), 2, 3)
        enter = self._key("↵", f"{name}KeyEnter", None, Qt.Key.Key_Return)
        enter.setProperty("role", "primary")
        grid.addWidget(enter, 3, 3) if star else grid.addWidget(enter, 2, 3, 2, 1)

    def _key(
        self, caption: str, name: str, text: str | None, key: Qt.Key | None = None, *, clear: bool = False
    ) -> QPushButton:
        button = touch_button(caption, name)
        button.clicked.connect(lambda: self._press(text, key, clear))
        return button

    def _press(self, text: str | None, key: Qt.Key | None, clear: bool) -> None:
        target = self._target()
        if target is None:
            return
        target.setFocus()
        if clear:
            target.clear()
            return
        if text is not None:
            for ch in text:
                code = Qt.Key.Key_Asterisk if ch == "*" else Qt.Key(ord(ch.upper()))
                for kind in (QKeyEvent.Type.KeyPress, QKeyEvent.Type.KeyRelease):
                    QApplication.sendEvent(target, QKeyEvent(kind, code, Qt.KeyboardModifier.NoModifier, ch))
            return
        if key is not None:
            for kind in (QKeyEvent.Type.KeyPress, QKeyEvent.Type.KeyRelease):
                QApplication.sendEvent(target, QKeyEvent(kind, key, Qt.KeyboardModifier.NoModifier, ""))
