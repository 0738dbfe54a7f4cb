"""The till's task runner: results reach the UI thread in order, and nothing runs after close."""

from __future__ import annotations

import threading

from PySide6.QtCore import QCoreApplication
from pytestqt.qtbot import QtBot

from pos.ui.tasks import TaskRunner


def test_results_arrive_on_the_ui_thread_in_the_order_submitted(qtbot: QtBot) -> None:
    runner = TaskRunner()
    seen: list[tuple[int, str]] = []
    for n in range(5):
        runner.run(lambda n=n: n, lambda r: seen.append((r, threading.current_thread().name)))
    qtbot.waitUntil(lambda: len(seen) == 5)
    runner.close()
    assert [n for n, _ in seen] == [0, 1, 2, 3, 4]
    assert {name for _, name in seen} == {threading.main_thread().name}


def test_a_result_delivered_after_close_runs_no_callback(qtbot: QtBot) -> None:
    """A dialog's callback that refreshes the status after the window closed queued new work on a
    stopped runner ("the task runner is closed", raised inside Qt's event loop)."""
    runner = TaskRunner()
    release = threading.Event()
    done: list[int] = []
    ran: list[str] = []

    def after(result: int) -> None:
        done.append(result)
        runner.run(lambda: ran.append("refresh"))  # what refresh_status() does

    runner.run(lambda: (release.wait(10), 7)[1], after)
    release.set()
    runner.close()  # waits for the work; its result is still queued for the UI thread
    QCoreApplication.processEvents()  # deliver the queued result (an exception here fails the test)
    assert done == [] and ran == []
    assert runner.pending == 0
