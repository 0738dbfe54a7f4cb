"""Sign-in and lock screens: a PIN field, a keypad, the demo PINs when there are any."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QSizePolicy, QVBoxLayout, QWidget

from pos.ui.i18n import LANGUAGES, N_, _, current_language, set_language
from pos.ui.state import Session
from pos.ui.widgets import TOUCH_MIN, Keypad, label, set_role, touch_button

ROLE_NAMES = {"cashier": N_("Cashier"), "manager": N_("Manager")}


class PinScreen(QWidget):
    """Sign-in (``locked=False``) or the lock screen (``locked=True``: the same cashier or a manager unlocks)."""

    def __init__(self, session: Session, *, locked: bool) -> None:
        super().__init__()
        self.session = session
        self.locked = locked
        self.setObjectName("lockScreen" if locked else "signInScreen")
        prefix = "unlock" if locked else "signIn"

        self.title = label(f"{prefix}Title", role="title")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.prompt = label(f"{prefix}Prompt")
        self.prompt.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.pin = QLineEdit()
        self.pin.setObjectName("unlockPinInput" if locked else "pinInput")
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.pin.setMaxLength(12)
        self.pin.setMinimumHeight(TOUCH_MIN + 4)
        self.pin.returnPressed.connect(self.submit)
        self.feedback = label(f"{prefix}Message", role="info")
        self.feedback.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.feedback.setWordWrap(True)
        self.keypad = Keypad(f"{prefix}Keypad", lambda: self.pin, star=False)
        # 300 px high where there is room, down to four rows of touch-sized keys on a small screen.
        self.keypad.setMinimumSize(4 * TOUCH_MIN + 3 * 6, 4 * TOUCH_MIN + 3 * 6)
        self.keypad.setMaximumSize(400, 300)
        self.keypad.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.button = touch_button("", "unlockButton" if locked else "signInButton", self.submit)
        self.button.setProperty("role", "primary")
        self.demo = label("demoPins", role="hint")
        self.demo.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.demo.setVisible(not locked and bool(session.store.demo_pins))
        self.head_office = label("demoHeadOffice", role="hint")
        self.head_office.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.head_office.setWordWrap(True)
        self.head_office.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.head_office.setVisible(not locked and bool(session.store.demo_head_office))

        self.language = QComboBox()
        self.language.setObjectName("languageBox")
        self.language.setMinimumHeight(44)
        for code, name in LANGUAGES.items():
            self.language.addItem(name, code)
        self.language.setCurrentIndex(list(LANGUAGES).index(current_language()))
        self.language.currentIndexChanged.connect(self._choose_language)
        self.language.setVisible(not locked)

        column = QVBoxLayout()
        column.addStretch(1)
        for widget in (self.title, self.prompt, self.pin, self.feedback):
            column.addWidget(widget)
        column.addWidget(self.keypad, 3, Qt.AlignmentFlag.AlignHCenter)
        column.addWidget(self.button)
        column.addStretch(1)
        box = QWidget()
        box.setLayout(column)
        box.setMaximumWidth(460)
        # The demo's PINs and addresses and the language beside the PIN pad, not under it: the
        # screen fits 768 px of height.
        side = QVBoxLayout()
        side.addStretch(1)
        side.addWidget(self.demo)
        side.addWidget(self.head_office)
        side.addWidget(self.language, 0, Qt.AlignmentFlag.AlignHCenter)
        side.addStretch(1)
        side_box = QWidget()
        side_box.setObjectName(f"{prefix}Side")
        side_box.setLayout(side)
        side_box.setMaximumWidth(420)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(box, 3)
        outer.addWidget(side_box, 2)
        outer.addStretch(1)
        session.changed.connect(self._changed)
        self.retranslate()
        if not locked:
            session.act("startup", session.till.startup_notice, self._notice)

    def _changed(self, operation: str) -> None:
        # Only what changes this screen's text (who locked the till); scans never do.
        if operation in ("sign_in", "unlock", "lock", "sign_out"):
            self.retranslate()

    def _notice(self, text: str) -> None:
        if text:
            self.show_feedback(text, error=True)

    def _choose_language(self, _index: int) -> None:
        language = self.language.currentData()
        set_language(language)
        till = self.session.till
        self.session.act("language", lambda: till.remember_language(language))

    def retranslate(self) -> None:
        store = self.session.store
        if self.locked:
            who = self.session.staff.name if self.session.staff else ""
            self.title.setText(_("Till locked"))
            self.prompt.setText(_("Locked by {name}. Enter your PIN or a manager's PIN.").format(name=who))
            self.button.setText(_("Unlock"))
        else:
            self.title.setText(store.name)
            self.prompt.setText(_("Enter your PIN to sign in"))
            self.button.setText(_("Sign in"))
        if store.demo_pins:
            rows = [f"{name} ({_(ROLE_NAMES.get(role, role))}): {pin}" for name, role, pin in store.demo_pins]
            self.demo.setText(_("Demo PINs") + "\n" + "\n".join(rows))
        if len(store.demo_head_office) == 3:
            url, email, password = store.demo_head_office
            self.head_office.setText(
                _("Head office: {url}\nE-mail: {email}\nPassword: {password}").format(
                    url=url, email=email, password=password
                )
            )

    def reset(self) -> None:
        self.pin.clear()
        self.feedback.clear()
        self.pin.setFocus()

    def submit(self) -> None:
        pin = self.pin.text().strip()
        if not pin:
            self.show_feedback(_("Enter your PIN"), error=True)
            return
        self.pin.clear()
        self.button.setEnabled(False)
        till = self.session.till
        call = till.unlock if self.locked else till.sign_in

        def done(staff: object) -> None:
            self.button.setEnabled(True)
            self.feedback.clear()
            self.session.set_staff(staff)  # type: ignore[arg-type]

        def failed(error: BaseException) -> bool:
            self.button.setEnabled(True)
            self.show_feedback(str(error), error=True)
            self.session.report(error)
            return True

        self.session.act("unlock" if self.locked else "sign_in", lambda: call(pin), done, failed)

    def show_feedback(self, text: str, *, error: bool) -> None:
        self.feedback.setText(text)
        set_role(self.feedback, "error" if error else "info")
