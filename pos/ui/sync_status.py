"""Background sync in the app, and the words the status line uses for it.

:class:`SyncMonitor` starts the sync loop (``pos.services.syncing.start_background_sync``) off the
UI thread once the till is open, and brings what the loop reports back to the UI thread as Qt
signals: the loop's callbacks run on the sync thread, so they only emit. About once a second it
re-reads what is queued -- on its own small thread, never the UI thread and never behind a scan --
and emits a :class:`SyncView`, which :func:`sync_text` turns into the status line's text in the
cashier's language.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from babel.dates import format_timedelta
from PySide6.QtCore import QObject, Qt, QTimer, Signal

from pos.ui.i18n import _, current_language
from pos.ui.tasks import TaskRunner
from sync.client import parse_server_time
from sync.engine import PullProgress, RoundReport, SyncLoop, SyncStatus

log = logging.getLogger(__name__)

#: How often the status line re-reads the queue and the age of the last sync.
REFRESH_MS = 1000
#: States in which the cashier must call IT (the line is shown as an error).
NEEDS_IT = frozenset({"revoked", "protocol_too_old", "rejected", "forked"})

#: Starts the loop with the two callbacks (run on the sync thread) and returns it.
LoopStarter = Callable[[Callable[[RoundReport], None], Callable[[PullProgress], None]], SyncLoop]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SyncView:
    """What the status line shows about sync, as of ``at``."""

    status: SyncStatus
    #: Seconds since the oldest entry head office has not acknowledged was made (0: none queued).
    lag_seconds: float = 0.0
    at: datetime | None = None


def _span(seconds: float) -> str:
    locale = {"zh_CN": "zh_Hans_CN"}.get(current_language(), current_language())
    return str(format_timedelta(timedelta(seconds=max(0.0, seconds)), format="short", locale=locale))


def sync_text(view: SyncView) -> str:
    """The sync part of the status line, in the cashier's language; true to the last round."""
    status = view.status
    words = {
        "never": _("Connecting to head office"),
        "online": _("Online"),
        "offline": _("Offline"),
        "revoked": _(
            "This till is no longer enrolled: call IT. Sales are kept and sent when IT re-enrols it"
        ),
        "protocol_too_old": _("Protocol too old: tell IT. This till needs newer software; sales are kept"),
        "rejected": _("Head office refused the last sync: call IT if this persists"),
        "forked": _("Another device is sending as this till: call IT. Sales are kept here and not sent"),
    }
    parts = [words.get(status.state, status.state), _("{count} queued").format(count=status.queued)]
    last = parse_server_time(status.last_success_at) if status.last_success_at else None
    if last is None:
        parts.append(_("never synced"))
    elif view.at is not None:
        parts.append(_("last sync {ago} ago").format(ago=_span(view.at.timestamp() - last)))
    if status.queued and view.lag_seconds >= 1:
        parts.append(_("oldest waiting {ago}").format(ago=_span(view.lag_seconds)))
    if status.clock_offset_is_large and status.clock_offset_seconds is not None:
        parts.append(_("clock off by {ago}").format(ago=_span(abs(status.clock_offset_seconds))))
    if status.flagged:
        parts.append(_("{count} flagged by head office").format(count=status.flagged))
    return " · ".join(parts)


class SyncMonitor(QObject):
    """Runs background sync for the app and reports it on the UI thread."""

    #: A fresh :class:`SyncView` (after each round and about once a second).
    status_changed = Signal(object)
    #: A page of a first sync or snapshot arrived (:class:`PullProgress`), or None: none is running.
    progress_changed = Signal(object)
    #: A round ended (:class:`RoundReport`).
    round_finished = Signal(object)

    # Emitted from the sync thread and the refresh thread; delivered queued on the UI thread.
    _round_from_thread = Signal(object)
    _progress_from_thread = Signal(object)
    _view_from_thread = Signal(object)

    def __init__(
        self,
        start_loop: LoopStarter,
        runner: TaskRunner,
        *,
        after_changes: Callable[[], object] | None = None,
        first_sync: Callable[[], bool] | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        super().__init__()
        self._start_loop = start_loop
        self._first_sync = first_sync
        self._runner = runner
        self._after_changes = after_changes
        self._clock = clock
        self._lock = threading.Lock()
        self._loop: SyncLoop | None = None
        self._closed = False
        self._refreshing = False
        self._refresher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pos-sync-status")
        self.view = SyncView(SyncStatus())
        self.progress: PullProgress | None = None
        self.rounds = 0
        queued = Qt.ConnectionType.QueuedConnection
        self._round_from_thread.connect(self._round_done, queued)
        self._progress_from_thread.connect(self._progress, queued)
        self._view_from_thread.connect(self._view, queued)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)

    @property
    def loop(self) -> SyncLoop | None:
        return self._loop

    @property
    def online(self) -> bool:
        return self.view.status.online

    def start(self) -> None:
        """Start the loop off the UI thread (reading the secrets and the saved status may wait on disk)."""

        def work() -> None:
            with self._lock:
                if self._closed:
                    return
                if self._first_sync is not None and self._first_sync():
                    # Nothing pulled yet: the first round brings the whole catalog; show that it is
                    # coming. Emitted before the loop exists, so it arrives before the round's end.
                    self._progress_from_thread.emit(
                        PullProgress(pages=0, changes=0, snapshot=True, done=False)
                    )
                self._loop = self._start_loop(self._round_from_thread.emit, self._progress_from_thread.emit)

        def started(_nothing: None) -> None:
            self.refresh()

        def failed(error: BaseException) -> None:
            log.error("background sync did not start: %s", error)

        self._runner.run(work, started, failed)
        self._timer.start()

    def sync_now(self) -> None:
        """A round as soon as possible (the "Sync now" button; after a sale while online)."""
        loop = self._loop
        if loop is not None:
            loop.sync_now()

    def refresh(self) -> None:
        """Re-read the queue and the lag on the status thread; at most one read in flight."""
        loop = self._loop
        if loop is None or self._refreshing or self._closed:
            return
        self._refreshing = True
        try:
            self._refresher.submit(self._read_view, loop)
        except RuntimeError:  # shut down while closing
            self._refreshing = False

    def _read_view(self, loop: SyncLoop) -> None:
        # Not engine.refresh_queued(): it writes the status back and could undo a round that ends
        # meanwhile. Counting is a read of two rows; the status itself is in memory.
        try:
            status = loop.engine.status
            store = loop.engine.store
            acked = store.acknowledged_seq()
            status = replace(status, queued=store.queued_count(), acknowledged_seq=acked)
            now = self._clock()
            lag = 0.0
            oldest = store.pending_entries(acked, 1) if status.queued else []
            if oldest:
                made = parse_server_time(oldest[0].occurred_at)
                lag = max(0.0, now.timestamp() - made) if made is not None else status.lag_seconds
            view = SyncView(status, lag, now)
        except Exception:  # the ledger closing under us, or a busy database: try again next tick
            view = None
        self._view_from_thread.emit(view)

    def _view(self, view: SyncView | None) -> None:
        self._refreshing = False
        if view is not None and not self._closed:
            self.view = view
            self.status_changed.emit(view)

    def _round_done(self, report: RoundReport) -> None:
        if self._closed:
            return
        self.rounds += 1
        if self.progress is not None:
            self._progress(None)
        if report.changes and self._after_changes is not None:
            self._runner.run(self._after_changes, None, lambda _e: None)
        self.round_finished.emit(report)
        self.refresh()

    def _progress(self, progress: PullProgress | None) -> None:
        if self._closed:
            return
        if progress is not None and (progress.done or not progress.snapshot):
            progress = None  # only a first sync or a snapshot gets the bar
        self.progress = progress
        self.progress_changed.emit(progress)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop refreshing and end the loop (waits up to ``timeout`` s for a round in progress)."""
        self._timer.stop()
        with self._lock:
            self._closed = True
            loop = self._loop
        if loop is not None:
            loop.stop(timeout)
        self._refresher.shutdown(wait=True)
        self.blockSignals(True)
