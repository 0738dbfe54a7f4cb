"""Work off the UI thread, results back on it (the Anki taskman pattern).

Every ledger or service call the screens make goes through :class:`TaskRunner`: it runs on one
background thread, in the order submitted (scans must land in the order they were scanned), and the
callback runs on the UI thread through a queued signal. The UI thread never waits on disk or network.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Qt, Signal, Slot

log = logging.getLogger(__name__)
T = TypeVar("T")


class TaskRunner(QObject):
    """Runs callables on one worker thread; delivers results and errors on the UI thread."""

    _delivered = Signal(object)
    #: Emitted on the UI thread after any operation that changed data ran (name of the operation).
    operation_executed = Signal(str)
    #: Number of tasks submitted and not yet delivered; the UI shows a busy cue when it is > 0.
    busy_changed = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pos-ui-task")
        self._pending = 0
        self._closed = False
        self._delivered.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def run(
        self,
        work: Callable[[], T],
        on_done: Callable[[T], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        *,
        operation: str | None = None,
    ) -> Future[T]:
        """Run ``work()`` off the UI thread. ``on_done(result)`` or ``on_error(exc)`` run on the UI thread
        afterwards; if ``operation`` is given, :attr:`operation_executed` fires after a success."""
        if self._closed:
            raise RuntimeError("the task runner is closed")
        self._pending += 1
        self.busy_changed.emit(self._pending)
        future = self._pool.submit(work)

        def finished(done: Future[T]) -> None:
            # Runs on the worker thread: hand the outcome to the UI thread via the queued signal.
            self._delivered.emit((done, on_done, on_error, operation))

        future.add_done_callback(finished)
        return future

    @Slot(object)
    def _deliver(self, packet: tuple[Future[Any], Any, Any, str | None]) -> None:
        future, on_done, on_error, operation = packet
        self._pending -= 1
        self.busy_changed.emit(self._pending)
        error = future.exception()
        if self._closed:
            # The window is closing: the work itself has run (close() waits for it), but a callback
            # would touch screens being torn down or queue new work on a stopped thread.
            if error is not None:
                log.error("background task failed while closing", exc_info=error)
            return
        if error is not None:
            if on_error is not None:
                on_error(error)
            else:
                log.error("background task failed", exc_info=error)
            return
        if on_done is not None:
            on_done(future.result())
        if operation:
            self.operation_executed.emit(operation)

    @property
    def pending(self) -> int:
        return self._pending

    def is_worker_thread(self) -> bool:
        return threading.current_thread().name.startswith("pos-ui-task")

    def close(self) -> None:
        """Finish queued work (a sale being committed must land) and stop the thread."""
        self._closed = True
        self._pool.shutdown(wait=True)
