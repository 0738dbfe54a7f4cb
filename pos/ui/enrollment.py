"""First start of a till IT installed with a branch configuration: it enrolls itself before selling.

:class:`EnrollmentScreen` stands in for the sale screen until :func:`pos.branch.enroll_from_branch`
succeeds. Each try runs off the UI thread; a refused code or an unreachable head office is shown in
words with what to do, and the screen tries again by itself: after 5 s, doubling up to every 5
minutes, and at once when branch.conf changes (IT fixed it) or the cashier presses *Try now*. The
file is read again before every try. Nothing is lost: the code stays in the file until it worked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QDialog, QHBoxLayout, QVBoxLayout, QWidget

from pos.branch import EnrollResult, Outcome
from pos.ui.i18n import N_, _
from pos.ui.tasks import TaskRunner
from pos.ui.widgets import label, touch_button

log = logging.getLogger(__name__)

#: Seconds before the next try after the first failure, doubled after each one up to the last.
FIRST_DELAY = 5
LONGEST_DELAY = 300

ADVICE = {
    Outcome.REFUSED: N_(
        "Head office refused the enrollment code (wrong, already used or expired). Call IT: they make "
        "a new code and put it in {path}. The till tries again by itself."
    ),
    Outcome.UNREACHABLE: N_(
        "Head office cannot be reached. Check the network cable or Wi-Fi; if it persists, call IT to "
        "check the server address in {path}. The till keeps trying by itself."
    ),
    Outcome.INVALID: N_("The branch configuration {path} is wrong. Call IT to correct it."),
    Outcome.NO_CODE: N_("The branch configuration {path} has no enrollment code. Call IT to add one."),
}


def _signature(path: Path) -> tuple[float, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_mtime, info.st_size)


class EnrollmentScreen(QDialog):
    """Tries ``attempt`` until it enrolls (accepted) or someone presses Quit (rejected)."""

    def __init__(
        self, attempt: Callable[[], EnrollResult], path: Path, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("enrollment")
        self.setWindowTitle(_("Storelink POS"))
        self.setMinimumSize(720, 420)
        self._attempt = attempt
        self._path = path
        self._runner = TaskRunner(self)
        self._trying = False
        self._finished = False
        self._delay = FIRST_DELAY
        self._wait = 0
        self._seen = _signature(path)
        #: The outcome of the last try (tests and the log read it).
        self.last: EnrollResult | None = None

        self.title = label("enrollmentTitle", _("Enrolling this till with head office"), role="title")
        self.state = label("enrollmentState", _("Contacting head office…"))
        self.advice = label("enrollmentAdvice", "", role="error")
        self.detail = label("enrollmentDetail", "", role="info")
        self.next_try = label("enrollmentNextTry", "")
        for widget in (self.state, self.advice, self.detail):
            widget.setWordWrap(True)
            widget.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.try_now = touch_button(_("Try now"), "enrollmentTryNow", self.try_again)
        self.quit = touch_button(_("Quit"), "enrollmentQuit", self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.try_now)
        buttons.addWidget(self.quit)
        layout = QVBoxLayout(self)
        for widget in (self.title, self.state, self.advice, self.detail, self.next_try):
            layout.addWidget(widget)
        layout.addStretch(1)
        layout.addLayout(buttons)

        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._second)
        self._tick.start()
        QTimer.singleShot(0, self.try_again)

    def try_again(self) -> None:
        """Try now (unless a try is running)."""
        if self._trying:
            return
        self._trying = True
        self.try_now.setEnabled(False)
        self.state.setText(_("Contacting head office…"))
        self.next_try.setText("")
        self._seen = _signature(self._path)
        self._runner.run(self._attempt, self._done, self._failed)

    def _second(self) -> None:
        if self._trying:
            return
        if _signature(self._path) != self._seen:
            log.info("%s changed: trying to enroll again now", self._path)
            self._delay = FIRST_DELAY
            self.try_again()
            return
        self._wait -= 1
        if self._wait <= 0:
            self.try_again()
        else:
            self.next_try.setText(_("Next try in {seconds} s.").format(seconds=self._wait))

    def _done(self, result: EnrollResult) -> None:
        self._trying = False
        if self._finished:
            return
        self.last = result
        if not result.retry:
            log.info("first start: %s", result.message)
            self._stop()
            self.accept()
            return
        log.warning("first start: %s (next try in %d s)", result.message, self._delay)
        self.try_now.setEnabled(True)
        self.state.setText(_("This till is not enrolled yet and cannot sell until it is."))
        self.advice.setText(_(ADVICE[result.outcome]).format(path=result.path or self._path))
        self.detail.setText(result.message)
        self._wait = self._delay
        self._delay = min(self._delay * 2, LONGEST_DELAY)
        self.next_try.setText(_("Next try in {seconds} s.").format(seconds=self._wait))

    def _failed(self, error: BaseException) -> None:
        # Not expected (enroll_from_branch reports instead of raising), but never strand the screen.
        log.error("first start: enrolling failed", exc_info=error)
        self._done(EnrollResult(Outcome.UNREACHABLE, f"enrolling failed: {error}", self._path))

    def _stop(self) -> None:
        self._finished = True
        self._tick.stop()
        self._runner.close()

    def reject(self) -> None:
        self._stop()
        super().reject()


def enroll_before_selling(core: object) -> bool:
    """On a till not yet enrolled that has a branch.conf, show the screen until it enrolled.

    Returns False when the person at the till chose Quit. A till with no branch.conf (or already
    enrolled) returns True at once: it runs as it is (standalone or enrolled).
    """
    from pos import branch

    config = getattr(core, "config", None)
    if config is None or config.enrolled:
        return True
    path = branch.config_path()
    if not path.exists():
        return True
    screen = EnrollmentScreen(lambda: branch.enroll_from_branch(core), path)  # type: ignore[arg-type]
    return screen.exec() == QDialog.DialogCode.Accepted
