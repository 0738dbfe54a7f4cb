"""The sync engine: push the journal up, pull the change feed down, and say truthfully how it went.

One *round* (:meth:`SyncEngine.round`) is

1. push every journal entry the server has not acknowledged, in sequence order, in batches of
   at most the server's limit, one batch in flight. The terminal's acknowledged sequence moves
   only to the ``high_seq`` the server answers -- never to what was merely sent -- so a batch
   lost on the way (or whose answer was lost) is sent again and the server answers it as
   duplicates;
2. pull the store's change feed page by page until ``has_more`` is false; the store applies each
   page and its cursor in one transaction.

Only one round runs at a time per terminal, across processes (the app and ``pos sync``): the
round holds a :class:`SyncLock` (a lock file next to the ledger). A round never retries by
itself; it stops at the first failure, records it, and :class:`SyncLoop` -- a background thread
woken by a timer, not by the next sale -- tries again after a jittered exponential backoff capped
at a few minutes, or after the server's Retry-After when it is longer.

The engine knows nothing of the terminal's database: it talks to a :class:`SyncStore`, which the
terminal implements on its ledger (``pos/services/syncing.py``) and tests implement in memory.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, NamedTuple, Protocol

import tenacity

from sync.client import (
    CentralClient,
    FailureKind,
    Forked,
    Offline,
    ProtocolTooOld,
    Rejected,
    Revoked,
    SyncFailure,
    parse_server_time,
)
from sync.protocol import (
    MAX_BATCH_BYTES,
    MAX_BATCH_ENTRIES,
    PROTOCOL_VERSION,
    ChangesPage,
    EntryResult,
    EntryStatus,
    JournalEntry,
)

log = logging.getLogger(__name__)

#: The server's verdicts a cashier or IT should hear about: the entry is held but not applied.
FLAGGED = frozenset({EntryStatus.CONFLICT, EntryStatus.QUARANTINED})
#: A clock further off the server's than this (seconds) is shown on the status line.
LARGE_CLOCK_OFFSET = 120.0
#: Bytes a push request adds around its entries (envelope, separators), kept out of each batch.
_PUSH_ENVELOPE_BYTES = 1024


class SyncStore(Protocol):
    """What the engine needs from the terminal's storage. Every method is one transaction."""

    def acknowledged_seq(self) -> int:
        """Highest journal sequence the server has acknowledged (0 before the first push)."""
        ...

    def pending_entries(self, after_seq: int, limit: int) -> list[JournalEntry]:
        """Up to ``limit`` journal entries with sequence above ``after_seq``, in sequence order."""
        ...

    def pending_wire(self, after_seq: int, limit: int) -> list[OutgoingEntry]:
        """:meth:`pending_entries` as they go on the wire: each entry's JSON, ready to push.

        The ledger writes it straight from what it stores (the payload is kept in canonical JSON),
        so a push never parses and re-serializes what it sends; :meth:`OutgoingEntry.of` makes one
        from a :class:`JournalEntry` for stores that keep models."""
        ...

    def queued_count(self) -> int:
        """How many journal entries the server has not acknowledged yet."""
        ...

    def record_push(self, high_seq: int, flagged: list[EntryResult]) -> None:
        """Set the acknowledged sequence to ``high_seq`` and keep the ``flagged`` verdicts
        (quarantined, conflict) for the cashier and IT to see, in one transaction.

        The engine calls it on its own thread while the next batch is on the way, one call at a
        time and in order; raising stops the round."""
        ...

    def flagged_count(self) -> int:
        """How many distinct entries the server has flagged (kept by :meth:`record_push`)."""
        ...

    def cursor(self) -> str | None:
        """The change-feed cursor the last applied page ended at (None: nothing pulled yet)."""
        ...

    def apply_changes_page(self, page: ChangesPage) -> None:
        """Apply one page of changes and set the cursor to ``page.cursor``, in one transaction.

        Changes of an update that has not ended yet (no change with ``last_in_update`` seen) are
        staged and not shown; when ``page.snapshot`` is true the page starts a full snapshot,
        which replaces what the terminal holds once its last update is complete."""
        ...

    def load_status(self) -> SyncStatus | None:
        """The status the last round saved (None if never synced)."""
        ...

    def save_status(self, status: SyncStatus) -> None:
        """Keep ``status`` so ``pos status`` and the app's next start can show it."""
        ...


class OutgoingEntry(NamedTuple):
    """One journal entry ready to push: its sequence number and its JSON (a JournalEntry)."""

    seq: int
    json: bytes

    @classmethod
    def of(cls, entry: JournalEntry) -> OutgoingEntry:
        return cls(entry.seq, entry.model_dump_json().encode("utf-8"))


@dataclass(frozen=True)
class SyncStatus:
    """What the status line shows, as of the last round. Plain data: the UI polls it."""

    #: "never" (not synced yet), "online", "offline", "revoked", "protocol_too_old", "rejected",
    #: "forked" (head office holds another chain for this terminal: see sync.client.Forked).
    state: str = "never"
    #: Journal entries the server has not acknowledged.
    queued: int = 0
    #: When the last round finished without a failure (ISO 8601 UTC).
    last_success_at: str | None = None
    #: When the last round started (ISO 8601 UTC).
    last_attempt_at: str | None = None
    #: Seconds between the oldest unacknowledged entry and now (0 when nothing is queued).
    lag_seconds: float = 0.0
    #: Server clock minus terminal clock, seconds, as last measured.
    clock_offset_seconds: float | None = None
    #: The kind of the last failure (a FailureKind value), None after a clean round.
    last_error_kind: str | None = None
    last_error: str | None = None
    #: Entries the server holds but flagged (quarantined or conflicting), as last reported.
    flagged: int = 0
    #: Highest sequence the server has acknowledged.
    acknowledged_seq: int = 0

    @property
    def online(self) -> bool:
        return self.state == "online"

    @property
    def clock_offset_is_large(self) -> bool:
        return self.clock_offset_seconds is not None and abs(self.clock_offset_seconds) > LARGE_CLOCK_OFFSET

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SyncStatus:
        """Read what :meth:`to_json` wrote; unknown keys (from a newer build) are ignored."""
        data = json.loads(text)
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class RoundReport:
    """What one round did, for ``pos sync`` to print and tests to check."""

    busy: bool = False
    pushed: int = 0
    batches: int = 0
    accepted: int = 0
    duplicates: int = 0
    flagged: list[EntryResult] = field(default_factory=list)
    high_seq: int | None = None
    pages: int = 0
    changes: int = 0
    snapshot: bool = False
    error: SyncFailure | None = None

    @property
    def ok(self) -> bool:
        return not self.busy and self.error is None

    def summary(self) -> str:
        """One line a person can read."""
        if self.busy:
            return "another sync is running on this terminal; nothing done"
        parts = [
            f"pushed {self.pushed} entries in {self.batches} batches"
            f" ({self.accepted} new, {self.duplicates} already held, {len(self.flagged)} flagged)",
            f"pulled {self.changes} changes in {self.pages} pages"
            + (" (full snapshot)" if self.snapshot else ""),
        ]
        if self.high_seq is not None:
            parts.append(f"server holds up to entry {self.high_seq}")
        if self.error is not None:
            parts.append(f"stopped: {self.error.kind.value}: {self.error.detail}")
        return "; ".join(parts)


@dataclass(frozen=True)
class FetchedPage:
    """A change-feed page already fetched for ``cursor`` (by the loop's long-poll)."""

    cursor: str | None
    page: ChangesPage


@dataclass(frozen=True)
class PullProgress:
    """Passed to the progress callback after each applied page (for a first sync's progress bar)."""

    pages: int
    changes: int
    snapshot: bool
    done: bool


class SyncLock(Protocol):
    """Held by a round so two rounds on one terminal (the app and ``pos sync``) never overlap."""

    def hold(self, wait: float) -> AbstractContextManager[bool]:
        """A context that yields True once the lock is held, or False after ``wait`` seconds."""
        ...


class ThreadLock:
    """A lock for one process (tests, or a terminal whose data directory is not shared)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    @contextmanager
    def hold(self, wait: float) -> Iterator[bool]:
        got = self._lock.acquire(timeout=wait) if wait > 0 else self._lock.acquire(blocking=False)
        try:
            yield got
        finally:
            if got:
                self._lock.release()


class FileLock:
    """An OS lock on a file (``flock`` on POSIX, ``msvcrt.locking`` on Windows).

    The OS drops it when the holder dies, so a killed sync never leaves the terminal locked. A new
    open file is locked each time, so two threads of one process exclude each other too."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def hold(self, wait: float) -> Iterator[bool]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+b")  # noqa: SIM115 - closed in finally, after unlocking
        got = False
        try:
            deadline = time.monotonic() + wait
            while True:
                got = _try_lock(handle)
                if got or time.monotonic() >= deadline:
                    break
                time.sleep(0.05)
            yield got
        finally:
            if got:
                _unlock(handle)
            handle.close()


if sys.platform == "win32":  # pragma: no cover - the terminal also ships for Windows
    import msvcrt

    def _try_lock(handle: IO[bytes]) -> bool:
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(handle: IO[bytes]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(handle: IO[bytes]) -> bool:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(handle: IO[bytes]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def utc_now() -> datetime:
    return datetime.now(UTC)


class SyncEngine:
    """Runs sync rounds for one terminal. Thread-safe: rounds are serialised by ``lock``."""

    def __init__(
        self,
        client: CentralClient,
        store: SyncStore,
        clock: Callable[[], datetime] = utc_now,
        *,
        lock: SyncLock | None = None,
        page_limit: int = 500,
        on_progress: Callable[[PullProgress], None] | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.clock = clock
        self.lock: SyncLock = lock or ThreadLock()
        self.page_limit = page_limit
        self.on_progress = on_progress
        self.max_batch_entries = MAX_BATCH_ENTRIES
        self.max_batch_bytes = MAX_BATCH_BYTES
        self._greeted = False
        self._acknowledger = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-ack")
        self._status_lock = threading.Lock()
        self._status = store.load_status() or SyncStatus()

    # --- status ---------------------------------------------------------------------------------

    @property
    def status(self) -> SyncStatus:
        """The latest status; cheap, never touches the network or the database."""
        with self._status_lock:
            return self._status

    def _set_status(self, status: SyncStatus) -> None:
        with self._status_lock:
            self._status = status

    # --- a round --------------------------------------------------------------------------------

    def round(self, *, wait_for_lock: float = 0.0, fetched: FetchedPage | None = None) -> RoundReport:
        """Push everything pending, then pull every page of changes. Never raises a SyncFailure:
        the first failure ends the round and is in ``report.error`` and in :attr:`status`.

        ``fetched`` is a page the caller already got (the loop's long-poll): the pull starts with
        it, without asking again, if the store's cursor is still the one it was asked for."""
        report = RoundReport()
        with self.lock.hold(wait_for_lock) as held:
            if not held:
                report.busy = True
                return report
            started = self.clock()
            try:
                self._greet()
                self._push(report)
                self._pull(report, fetched)
            except SyncFailure as exc:
                report.error = exc
            self._finish(report, started)
        return report

    def _greet(self) -> None:
        # Once per engine: learn the batch limits and make sure the server still speaks our version.
        if self._greeted:
            return
        hello = self.client.hello()
        if PROTOCOL_VERSION not in hello.protocol_versions:
            raise ProtocolTooOld(
                f"the server speaks protocol versions {hello.protocol_versions}, this terminal {PROTOCOL_VERSION}"
            )
        self.max_batch_entries = max(1, min(self.max_batch_entries, hello.max_batch_entries))
        self.max_batch_bytes = max(4096, min(self.max_batch_bytes, hello.max_batch_bytes))
        self._greeted = True

    def _push(self, report: RoundReport) -> None:
        acked = self.store.acknowledged_seq()
        rewinds = 0
        # Each acknowledgement is written (on disk, on the acknowledger's thread) while the next
        # batch travels; a failed one stops the round before another batch goes, and the round
        # ends only once the last one is written.
        recording: Future[None] | None = None
        try:
            while True:
                batch = self._next_batch(acked)
                if not batch:
                    return
                held = self.store.acknowledged_seq() + self.store.queued_count()
                answer = self.client.push_json(
                    [entry.json for entry in batch], queued=max(0, held - batch[-1].seq)
                )
                flagged = [r for r in answer.results if r.status in FLAGGED]
                if recording is not None:
                    recording.result()
                # The acknowledgement is the server's high_seq, never what we sent.
                recording = self._acknowledger.submit(self.store.record_push, answer.high_seq, flagged)
                report.batches += 1
                report.pushed += len(batch)
                report.high_seq = answer.high_seq
                report.flagged.extend(flagged)
                for result in answer.results:
                    if result.status is EntryStatus.ACCEPTED:
                        report.accepted += 1
                    elif result.status is EntryStatus.DUPLICATE:
                        report.duplicates += 1
                if answer.high_seq >= batch[0].seq:
                    acked = answer.high_seq
                    continue
                if answer.high_seq < acked and rewinds == 0:
                    # The server holds less than it once acknowledged (restored from a backup):
                    # send again from what it holds; it answers what it already has as duplicates.
                    rewinds += 1
                    acked = answer.high_seq
                    continue
                refused = next((r for r in answer.results if r.seq == batch[0].seq), None)
                reason = refused.reason if refused and refused.reason else "no reason given"
                raise Rejected(f"the server did not take entry {batch[0].seq}: {reason}")
        finally:
            if recording is not None:
                recording.result()

    def _next_batch(self, acked: int) -> list[OutgoingEntry]:
        batch = self.store.pending_wire(acked, self.max_batch_entries)
        budget = self.max_batch_bytes - _PUSH_ENVELOPE_BYTES
        size = 0
        for count, entry in enumerate(batch):
            size += len(entry.json) + 1
            if size > budget:
                # An entry bigger than a whole batch still goes alone; the server decides.
                return batch[: max(1, count)]
        return batch

    def _pull(self, report: RoundReport, fetched: FetchedPage | None = None) -> None:
        cursor = self.store.cursor()
        while True:
            if fetched is not None and fetched.cursor == cursor:
                page, fetched = fetched.page, None
            else:
                page = self.client.changes(cursor, limit=self.page_limit)
            self.store.apply_changes_page(page)
            report.pages += 1
            report.changes += len(page.changes)
            report.snapshot = report.snapshot or page.snapshot
            if self.on_progress is not None:
                self.on_progress(
                    PullProgress(report.pages, report.changes, report.snapshot, not page.has_more)
                )
            if not page.has_more:
                return
            if page.cursor == cursor and not page.changes:
                raise Offline("the server's change feed did not move on; will ask again later")
            cursor = page.cursor

    def _finish(self, report: RoundReport, started: datetime) -> None:
        previous = self.status
        error = report.error
        now = self.clock()
        state = "online" if error is None else _state_for(error)
        try:
            queued = self.store.queued_count()
            acked = self.store.acknowledged_seq()
            oldest = self.store.pending_entries(acked, 1)
            flagged = self.store.flagged_count()
        except Exception:  # the status must still be updated when storage hiccups
            queued, acked, oldest, flagged = previous.queued, previous.acknowledged_seq, [], previous.flagged
        lag = 0.0
        if oldest:
            occurred = parse_server_time(oldest[0].occurred_at)
            if occurred is not None:
                lag = max(0.0, now.timestamp() - occurred)
        status = replace(
            previous,
            state=state,
            queued=queued,
            acknowledged_seq=acked,
            last_attempt_at=started.isoformat(),
            last_success_at=now.isoformat() if error is None else previous.last_success_at,
            lag_seconds=lag,
            clock_offset_seconds=self.client.clock_offset,
            last_error_kind=error.kind.value if error else None,
            last_error=error.detail if error else None,
            flagged=flagged,
        )
        self._set_status(status)
        try:
            self.store.save_status(status)
        except Exception as exc:  # a status we cannot save must not hide what the round did
            report.error = report.error or Offline(f"could not save the sync status: {exc}")

    def refresh_queued(self) -> SyncStatus:
        """Recount what is queued (after a sale) without touching the network."""
        status = replace(self.status, queued=self.store.queued_count())
        self._set_status(status)
        return status


def _state_for(error: SyncFailure) -> str:
    if isinstance(error, Revoked):
        return "revoked"
    if isinstance(error, Forked):
        return "forked"
    if isinstance(error, ProtocolTooOld):
        return "protocol_too_old"
    if isinstance(error, Rejected):
        return "rejected"
    return "offline"


class _RoundFailed(Exception):
    """Raised inside the retry loop so tenacity backs off; carries the failure."""

    def __init__(self, failure: SyncFailure) -> None:
        super().__init__(failure.detail)
        self.failure = failure


class _BackoffHonouringRetryAfter(tenacity.wait.wait_base):
    """Jittered exponential backoff, but never shorter than the server's Retry-After."""

    def __init__(self, initial: float, cap: float) -> None:
        self._jitter = tenacity.wait_random_exponential(multiplier=initial, max=cap)

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        delay = float(self._jitter(retry_state))
        outcome = retry_state.outcome
        if outcome is not None and outcome.failed:
            exc = outcome.exception()
            if isinstance(exc, _RoundFailed) and isinstance(exc.failure, Offline) and exc.failure.retry_after:
                delay = max(delay, exc.failure.retry_after)
        return delay


@dataclass(frozen=True)
class _Watched:
    """What one long-poll brought back: a page, or why there is none."""

    fetched: FetchedPage | None
    failure: SyncFailure | None = None


class SyncLoop:
    """Runs rounds on a background thread. Between rounds it waits on the change feed: a long-poll
    (``GET /v1/changes?wait=``, ``watch`` seconds) that head office answers as soon as a change
    for this store is saved; the answer starts the next round, which applies it. It also starts a
    round at once on :meth:`sync_now` (after a sale), and every ``interval`` seconds when not
    watching (``watch`` None) or when the server does not hold long-polls. After a failure it tries
    again after a jittered exponential backoff (``initial`` doubling up to ``cap`` seconds, or the
    server's Retry-After when longer). Stops trying after Revoked, ProtocolTooOld or Forked -- those
    need IT -- until :meth:`sync_now` is called. Never blocks the caller. ``on_stop`` runs once after the
    loop ended (e.g. to close the HTTP client).

    The long-poll runs on its own thread (``sync-watch``), outside the round's lock, one at a time,
    only after a round that ended well; it never applies anything itself. Every long-poll answer,
    even "nothing new" after ``watch`` seconds, is followed by a round, so the status (online,
    queued, last sync) is never older than ``watch`` seconds while online; a long-poll that fails
    (server gone, revoked) starts a round at once, which records the failure and backs off."""

    def __init__(
        self,
        engine: SyncEngine,
        *,
        interval: float = 30.0,
        watch: float | None = None,
        initial: float = 1.0,
        cap: float = 300.0,
        on_round: Callable[[RoundReport], None] | None = None,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.interval = interval
        self.watch = watch
        self.on_round = on_round
        self.on_stop = on_stop
        self._wait = _BackoffHonouringRetryAfter(initial, cap)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._watch_wanted = threading.Event()
        self._watcher: threading.Thread | None = None
        self._watched: _Watched | None = None
        self._watched_lock = threading.Lock()
        self.rounds = 0
        #: Long-polls answered so far (with news or without).
        self.watches = 0

    def start(self) -> None:
        if self._thread is not None:
            return
        if self.watch is not None:
            # A daemon: a long-poll may hold it up to ``watch`` s; nobody needs to wait for that.
            self._watcher = threading.Thread(target=self._watch_main, name="sync-watch", daemon=True)
            self._watcher.start()
        self._thread = threading.Thread(target=self._run, name="sync-loop", daemon=True)
        self._thread.start()

    def sync_now(self) -> None:
        """Start a round as soon as the current wait ends (at once if idle)."""
        self._wake.set()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Ask the loop to end and wait up to ``timeout`` s for the round in progress to finish."""
        self._stopping.set()
        self._wake.set()
        self._watch_wanted.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self.on_stop is not None:
            on_stop, self.on_stop = self.on_stop, None
            on_stop()  # closing the HTTP client also ends a long-poll being held
        if self._watcher is not None:
            self._watcher.join(timeout)
            self._watcher = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _sleep(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def _one_round(self) -> RoundReport:
        with self._watched_lock:
            watched, self._watched = self._watched, None
        try:
            if watched is not None and watched.failure is not None:
                log.info("waiting on the change feed failed (%s); syncing now", watched.failure.detail)
            fetched = watched.fetched if watched is not None else None
            report = self.engine.round(wait_for_lock=0.0, fetched=fetched)
        except Exception as exc:
            # A bug or a storage fault must not end background sync for the rest of the day.
            log.exception("sync round failed")
            raise _RoundFailed(Offline(f"sync round failed: {type(exc).__name__}: {exc}")) from exc
        self.rounds += 1
        if self.on_round is not None:
            self.on_round(report)
        if report.error is not None and not isinstance(report.error, Revoked | ProtocolTooOld | Forked):
            raise _RoundFailed(report.error)
        return report

    def _run(self) -> None:
        while not self._stopping.is_set():
            retrying = tenacity.Retrying(
                retry=tenacity.retry_if_exception_type(_RoundFailed),
                wait=self._wait,
                sleep=self._sleep,
                stop=lambda _state: self._stopping.is_set(),
                reraise=True,
            )
            report: RoundReport | None = None
            with contextlib.suppress(_RoundFailed):  # raised only when stopping
                report = retrying(self._one_round)
            if report is not None and report.error is not None:
                # Revoked, too old or forked: wait for a person (sync_now) or the end.
                self._wake.wait()
                self._wake.clear()
                continue
            if self._watcher is not None:
                # Wait on the change feed; its answer (or sync_now) wakes us. The interval is only
                # a safety net should the answer never come.
                self._watch_wanted.set()
                self._sleep(self.interval + (self.watch or 0.0))
            else:
                self._sleep(self.interval)

    def _watch_main(self) -> None:
        assert self.watch is not None
        client = self.engine.client.sibling()  # its own clock reading: a long-poll's is skewed
        while True:
            self._watch_wanted.wait()
            self._watch_wanted.clear()
            if self._stopping.is_set():
                return
            started = time.monotonic()
            try:
                cursor = self.engine.store.cursor()
                page = client.changes(cursor, limit=self.engine.page_limit, wait=self.watch)
                watched = _Watched(FetchedPage(cursor, page))
            except SyncFailure as exc:
                watched = _Watched(None, exc)
            except Exception as exc:  # the ledger closing under us, a bug: the round will tell
                if self._stopping.is_set():
                    return
                log.exception("waiting on the change feed failed")
                watched = _Watched(None, Offline(f"waiting on the change feed failed: {exc}"))
            took = time.monotonic() - started
            news = watched.fetched is None or watched.fetched.page.changes or watched.fetched.page.has_more
            if not news and took < self.watch / 2:
                # The server did not hold the request (an older server, a proxy): fall back to
                # the timer instead of asking again at once.
                self._stopping.wait(max(0.0, self.interval - took))
            if self._stopping.is_set():
                return
            # Asked again while this one was held (a round for a sale ran meanwhile): the round
            # this answer starts asks anew, from the cursor it leaves.
            self._watch_wanted.clear()
            self.watches += 1
            with self._watched_lock:
                self._watched = watched
            self._wake.set()


def status_line(status: SyncStatus, now: datetime | None = None) -> str:
    """The status as one short line for a cashier (the app and ``pos status`` show this)."""
    words = {
        "never": "not synced yet",
        "online": "online",
        "offline": "offline",
        "revoked": "terminal not accepted by head office: call IT (selling continues offline)",
        "protocol_too_old": "terminal software too old for head office: call IT",
        "rejected": "head office refused the last sync: call IT if this persists",
        "forked": "another device is sending as this terminal: call IT (sales kept here, not sent)",
    }
    parts = [words.get(status.state, status.state), f"{status.queued} queued"]
    if status.last_success_at:
        when = parse_server_time(status.last_success_at)
        if now is not None and when is not None:
            parts.append(f"last sync {_ago(now.timestamp() - when)} ago")
        else:
            parts.append(f"last sync {status.last_success_at}")
    if status.queued and status.lag_seconds:
        parts.append(f"lag {_ago(status.lag_seconds)}")
    if status.clock_offset_is_large and status.clock_offset_seconds is not None:
        parts.append(f"clock off by {_ago(abs(status.clock_offset_seconds))}")
    if status.flagged:
        parts.append(f"{status.flagged} flagged by head office")
    return " · ".join(parts)


def _ago(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


__all__ = [
    "FLAGGED",
    "FailureKind",
    "FetchedPage",
    "FileLock",
    "OutgoingEntry",
    "PullProgress",
    "RoundReport",
    "SyncEngine",
    "SyncLock",
    "SyncLoop",
    "SyncStatus",
    "SyncStore",
    "ThreadLock",
    "status_line",
]
