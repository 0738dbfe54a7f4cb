"""The Customer Display: a second window facing the shopper.

It shows the lines and total as they are scanned, then after payment the claim QR, large enough for
a phone at arm's length, with "Scan to add this purchase to your account", until the next sale
starts. Its text is in the store's language, not the cashier's.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QPixmap, QResizeEvent, QScreen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QBoxLayout,
    QHBoxLayout,
    QHeaderView,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pos.ui.i18n import N_, translate
from pos.ui.qr import qr_image
from pos.ui.views import CompletedSale, LineView, SaleView
from pos.ui.widgets import label

WINDOW_TITLE = "Customer Display"  # a contract (docs/cashier.md): in English so tools find the window
CLAIM_TEXT = N_("Scan to add this purchase to your account")
#: What the cashier is told when the display could not go on a second screen or beside the till.
OWN_WINDOW_HINT = N_("The Customer Display is a window of its own: Alt+Tab brings it forward.")
#: Narrowest the display is worth placing beside the till on a single screen.
BESIDE_MIN_WIDTH = 400
#: Side of the claim QR on screen. 48 characters of URL fit QR version 5 (37 modules + quiet zone):
#: about 8 px per module, roughly 2 mm on a 15" screen, which a phone reads from an arm's length.
QR_SIDE = 360


class CustomerDisplay(QWidget):
    def __init__(self, language: str = "en", store_name: str = "") -> None:
        super().__init__(None, Qt.WindowType.Window)
        self.setObjectName("customerDisplay")
        self.setWindowTitle(WINDOW_TITLE)
        # The shopper's window must never take the cashier's keystrokes.
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        self.setWindowFlag(Qt.WindowType.WindowDoesNotAcceptFocus)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._language = language
        self.claim_url = ""
        self._shown_lines: tuple[LineView, ...] = ()

        self._pages = QStackedWidget()
        self._pages.setObjectName("customerPages")
        self._welcome = self._build_welcome(store_name)
        self._sale = self._build_sale()
        self._claim = self._build_claim()
        for page in (self._welcome, self._sale, self._claim):
            self._pages.addWidget(page)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._pages)
        self.resize(800, 600)
        self.show_welcome()

    def _t(self, text: str) -> str:
        return translate(text, self._language)

    def _build_welcome(self, store_name: str) -> QWidget:
        page = QWidget()
        page.setObjectName("customerWelcomePage")
        layout = QVBoxLayout(page)
        self._store_label = label("customerStoreName", store_name, role="display-title")
        self._welcome_label = label("customerWelcome", role="display-big")
        for widget in (self._store_label, self._welcome_label):
            widget.setAlignment(Qt.AlignmentFlag.AlignCenter)
            widget.setWordWrap(True)  # a narrow display beside the till wraps the store's name
            layout.addWidget(widget)
        return page

    def _build_sale(self) -> QWidget:
        page = QWidget()
        page.setObjectName("customerSalePage")
        layout = QVBoxLayout(page)
        self._lines = QTableWidget(0, 3)
        self._lines.setObjectName("customerLines")
        self._lines.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self._lines.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self._lines.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._lines.verticalHeader().hide()
        self._lines.verticalHeader().setDefaultSectionSize(52)
        self._lines.setShowGrid(False)
        self._lines.setAlternatingRowColors(True)
        self._lines.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header = self._lines.horizontalHeader()
        for column, width in ((1, 160), (2, 240)):  # sized for the display's 26 px type
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
            header.resizeSection(column, width)
        self._member = label("customerMember", role="display-info")
        total_row = QHBoxLayout()
        self._total_caption = label("customerTotalCaption", role="display-big")
        self._total = label("customerTotal", role="display-total")
        self._total.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        total_row.addWidget(self._total_caption)
        total_row.addWidget(self._total, 1)
        layout.addWidget(self._lines, 1)
        layout.addWidget(self._member)
        layout.addLayout(total_row)
        return page

    def _build_claim(self) -> QWidget:
        page = QWidget()
        page.setObjectName("customerClaimPage")
        layout = QBoxLayout(QBoxLayout.Direction.LeftToRight, page)
        self._claim_layout = layout
        self._qr = label("customerClaimQr")
        self._qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._qr.setMinimumSize(QR_SIDE, QR_SIDE)
        self._qr.setStyleSheet("background: white; padding: 12px;")
        text = QVBoxLayout()
        self._claim_text = label("customerClaimText", role="display-big")
        self._claim_text.setWordWrap(True)
        self._paid = label("customerPaid", role="display-info")
        self._change = label("customerChange", role="display-total")
        self._thanks = label("customerThanks", role="display-info")
        text.addStretch(1)
        for widget in (self._claim_text, self._paid, self._change, self._thanks):
            widget.setWordWrap(True)
            text.addWidget(widget)
        text.addStretch(1)
        layout.addWidget(self._qr, 0)
        layout.addLayout(text, 1)
        return page

    # --- what the terminal tells it -------------------------------------------------------------

    def set_language(self, language: str) -> None:
        """Show the shopper's text in ``language`` (the store's)."""
        self._language = language
        self._welcome_label.setText(self._t("Welcome"))
        self._total_caption.setText(self._t("Total"))
        self._claim_text.setText(self._t(CLAIM_TEXT))
        self._thanks.setText(self._t("Thank you for shopping with us"))
        self._lines.setHorizontalHeaderLabels([self._t("Item"), self._t("Qty"), self._t("Amount")])

    def show_welcome(self) -> None:
        self.claim_url = ""
        self.set_language(self._language)
        self._pages.setCurrentWidget(self._welcome)

    def show_sale(self, sale: SaleView) -> None:
        """Lines and total as they are scanned; an empty sale keeps the claim QR up until the next scan."""
        if sale.is_empty and self._pages.currentWidget() is self._claim:
            return
        if sale.is_empty and not sale.member:
            self.show_welcome()
            return
        self.claim_url = ""
        if sale.lines != self._shown_lines:
            self._show_lines(sale.lines)
        self._member.setText(self._t("Member") + f": {sale.member}" if sale.member else "")
        self._total.setText(sale.total)
        self._pages.setCurrentWidget(self._sale)

    def _show_lines(self, lines: tuple[LineView, ...]) -> None:
        # Only rows that changed are rewritten: a scan usually appends one.
        old = self._shown_lines
        self._lines.setRowCount(len(lines))
        for row, line in enumerate(lines):
            if row < len(old) and old[row] == line:
                continue
            for column, text in enumerate((line.name, line.quantity, line.amount)):
                item = QTableWidgetItem(text)
                if column:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self._lines.setItem(row, column, item)
        self._shown_lines = lines
        if lines:
            self._lines.scrollToBottom()

    def show_claim(self, completed: CompletedSale) -> None:
        """After payment: the claim QR and the change, until the next sale starts."""
        self.claim_url = completed.claim_url
        self._paid.setText(f"{self._t('Total')}: {completed.sale.total}")
        self._change.setText(f"{self._t('Change')}: {completed.change}" if completed.change_minor else "")
        if completed.claim_url:
            self._render_qr()
            self._qr.show()
            self._claim_text.show()
        else:
            self._qr.hide()
            self._claim_text.hide()
        self._pages.setCurrentWidget(self._claim)

    def qr_side(self) -> int:
        """The QR's side: as large as the window allows (about half its width), never below QR_SIDE."""
        return max(QR_SIDE, min(int(self.width() * 0.45), int(self.height() * 0.85)))

    def _render_qr(self) -> None:
        if self.claim_url:
            self._qr.setPixmap(QPixmap.fromImage(qr_image(self.claim_url, self.qr_side())))

    def fit_width(self, width: int) -> None:
        """Lay the claim page out for a window ``width`` wide: the QR beside the text where there
        is room, above it in a narrow window (beside the till on one screen)."""
        direction = (
            QBoxLayout.Direction.LeftToRight
            if width >= 2 * QR_SIDE + 80
            else QBoxLayout.Direction.TopToBottom
        )
        if self._claim_layout.direction() != direction:
            self._claim_layout.setDirection(direction)

    def resizeEvent(self, event: QResizeEvent) -> None:
        self.fit_width(event.size().width())
        super().resizeEvent(event)
        self._render_qr()

    def current_page(self) -> str:
        page = self._pages.currentWidget()
        return page.objectName() if page is not None else ""

    def place(self, main_window_screen: QScreen | None = None, till: QWidget | None = None) -> str:
        """Put the display where the shopper can see it, never hidden behind the till:

        * ``"second-screen"``: full screen on a screen other than the till's, when there is one;
        * ``"beside"``: with one screen wide enough, the till on the left of it and the display
          in the rest (``till`` is moved and resized to make room);
        * ``"own-window"``: a screen too narrow for both (a 1024 px till) or no ``till`` given: a
          window of its own, which the caller tells the cashier how to bring forward.
        """
        till_screen = main_window_screen or QGuiApplication.primaryScreen()
        others = [screen for screen in QGuiApplication.screens() if screen is not till_screen]
        if others:
            self.setScreen(others[0])
            self.setGeometry(others[0].geometry())
            self.showFullScreen()
            return "second-screen"
        if till is not None and till_screen is not None:
            area = till_screen.availableGeometry()
            needed = max(till.minimumSizeHint().width(), till.minimumWidth())
            till_width = max(needed, min(area.width() - BESIDE_MIN_WIDTH, round(area.width() * 0.7)))
            if area.width() - till_width >= BESIDE_MIN_WIDTH:
                # The window manager's frame (title bar, borders) is outside the widget's size.
                frame_w = till.frameGeometry().width() - till.width()
                frame_h = till.frameGeometry().height() - till.height()
                till.move(area.topLeft())
                till.resize(till_width - frame_w, area.height() - frame_h)
                # The display gets the same frame as the till: its inside starts within it.
                outer, inner = till.frameGeometry(), till.geometry()
                frame_left, frame_top = inner.x() - outer.x(), inner.y() - outer.y()
                left = area.x() + till_width
                width = area.right() + 1 - left - frame_w
                self.fit_width(width)
                self.setGeometry(left + frame_left, area.y() + frame_top, width, area.height() - frame_h)
                self.show()
                return "beside"
        self.show()
        return "own-window"
