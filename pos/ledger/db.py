"""The terminal's ledger file: one SQLite database, one writer thread, many readers.

Promises:

* The database runs in WAL mode with ``synchronous=FULL`` and foreign keys on, so a transaction
  that returned is on disk and survives a power cut.
* Exactly one connection writes, and it lives on one thread (:class:`Ledger`'s writer). The UI,
  the services and the sync engine hand it work with :meth:`Ledger.write` (a Future) or
  :meth:`Ledger.transact` (blocks for the result). Each job runs inside one transaction: all of it
  is committed or none of it. One writer also sidesteps the WAL race of the SQLite 3.40 bundled
  with this Python when two connections write or checkpoint at once.
* Readers use their own read-only connection per thread (:meth:`Ledger.read`).
* At open: the SQLite version is logged, a quick integrity check of everything but the catalog
  runs (a failure raises :class:`LedgerDamaged` naming the newest backup), a backup is taken before any pending migration,
  the pending migrations run in one transaction (a failure rolls all of them back, to the state of
  that backup, and raises :class:`MigrationFailed`: the till says so and does not start), and a
  backup is taken once a day while the ledger is open.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from pos.ledger import migrations

log = logging.getLogger(__name__)

T = TypeVar("T")

LEDGER_FILE = "ledger.sqlite3"
BACKUP_DIR = "backups"
#: How many backups are kept; older ones are deleted after a new one is taken.
BACKUPS_KEPT = 7
BACKUP_EVERY = timedelta(days=1)


_Job = tuple[Callable[[sqlite_utils.Database], Any], "Future[Any]", bool]


class LedgerError(Exception):
    """Something is wrong with the ledger file itself. ``str()`` is for a person."""


class LedgerDamaged(LedgerError):
    """The integrity check failed at start. ``newest_backup`` is the file to restore from, if any."""

    def __init__(self, message: str, newest_backup: Path | None) -> None:
        super().__init__(message)
        self.newest_backup = newest_backup


class MigrationFailed(LedgerError):
    """A schema migration of this version failed at open; the ledger was rolled back to the state
    of ``backup`` (the copy taken just before) and this version cannot run on it."""

    def __init__(self, message: str, backup: Path | None) -> None:
        super().__init__(message)
        self.backup = backup


class LedgerClosed(LedgerError):
    """Work was handed to a ledger that is closed."""


@dataclass(frozen=True)
class OpenReport:
    """What happened when the ledger was opened, for the start-up log and ``pos status``."""

    sqlite_version: str
    migrations_applied: tuple[str, ...]
    backups_taken: tuple[Path, ...]


def _configure(conn: sqlite3.Connection, *, writer: bool) -> None:
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 5000")
    if writer:
        conn.execute("PRAGMA synchronous = FULL")
    else:
        conn.execute("PRAGMA query_only = ON")


def _connect(path: Path, *, writer: bool) -> sqlite3.Connection:
    # Each connection is used by one thread only; readers are made shareable so close() can
    # run on the thread that closes the ledger.
    conn = sqlite3.connect(str(path), timeout=5.0, check_same_thread=writer)
    if writer:
        # WAL is persistent in the file; PRAGMA opens no implicit transaction, so this is allowed.
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise LedgerError(f"{path}: cannot switch the ledger to WAL mode (got {mode!r})")
    _configure(conn, writer=writer)
    return conn


@contextmanager
def _immediate_transaction(db: sqlite_utils.Database) -> Iterator[None]:
    """One write transaction that takes the write lock at BEGIN.

    ``pos sync`` in another process writes to the same file. A deferred transaction that reads
    before it writes (the journal append reads the chain head) takes its snapshot first and then
    fails at once with "database is locked" if that process committed meanwhile; BEGIN IMMEDIATE
    waits for the lock (busy_timeout) and then reads current data.
    """
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.conn.in_transaction:
            db.conn.rollback()
        raise
    else:
        db.conn.commit()


def newest_backup(data_dir: Path) -> Path | None:
    """The most recent backup file in ``<data_dir>/backups``, or None when there is none."""
    files = sorted((data_dir / BACKUP_DIR).glob("ledger-*.sqlite3"))
    return files[-1] if files else None


def quick_check(conn: sqlite3.Connection) -> list[str]:
    """``PRAGMA quick_check`` of the whole file: empty when it is sound, else SQLite's complaints."""
    rows = [str(r[0]) for r in conn.execute("PRAGMA quick_check").fetchall()]
    return [] if rows == ["ok"] else rows


#: Tables the start-up check leaves out: the catalog is most of the file (a 1,000,000-product
#: catalog takes a second to check) and head office can send it again. The full check runs in
#: ``pos ledger verify`` and :meth:`Ledger.integrity_problems`.
_CATALOG_TABLES = ("products", "barcodes", "stock")


def start_check(conn: sqlite3.Connection) -> list[str]:
    """``PRAGMA quick_check`` of every table but the catalog's (sales, journal, staff, shifts ...)."""
    names = [
        str(r[0])
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'products_fts%'"
            " AND name NOT LIKE 'sqlite_%'"
        )
        if r[0] not in _CATALOG_TABLES
    ]
    problems: list[str] = []
    for name in names:
        rows = [str(r[0]) for r in conn.execute(f'PRAGMA quick_check("{name}")').fetchall()]
        if rows != ["ok"]:
            problems.extend(rows)
    return problems


def backup_to(conn: sqlite3.Connection, data_dir: Path, reason: str, now: datetime) -> Path:
    """Copy the open database to ``<data_dir>/backups`` with SQLite's online backup API.

    The copy is consistent even while readers are busy. Only the newest :data:`BACKUPS_KEPT`
    backups are kept.
    """
    folder = data_dir / BACKUP_DIR
    folder.mkdir(parents=True, exist_ok=True)
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = folder / f"ledger-{stamp}-{reason}.sqlite3"
    partial = target.with_suffix(".partial")
    dest = sqlite3.connect(str(partial))
    try:
        conn.backup(dest)
    finally:
        dest.close()
    partial.replace(target)
    for old in sorted(folder.glob("ledger-*.sqlite3"))[:-BACKUPS_KEPT]:
        old.unlink(missing_ok=True)
    log.info("ledger backup written: %s", target)
    return target


def restore_backup(backup: Path, ledger: Path) -> None:
    """Replace the (closed) ledger file with ``backup``: copied beside it, then renamed over it."""
    partial = ledger.with_name(ledger.name + ".restoring")
    source = sqlite3.connect(f"{backup.resolve().as_uri()}?mode=ro", uri=True)
    dest = sqlite3.connect(str(partial))
    try:
        source.backup(dest)
    finally:
        source.close()
        dest.close()
    for suffix in ("-wal", "-shm"):
        ledger.with_name(ledger.name + suffix).unlink(missing_ok=True)
    partial.replace(ledger)
    log.warning("ledger %s restored from %s", ledger, backup)


class Ledger:
    """The open ledger of one terminal. Create with :meth:`open`; close with :meth:`close`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / LEDGER_FILE
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        self._last_backup: datetime | None = None
        self.report = OpenReport(sqlite3.sqlite_version, (), ())

    # --- opening and closing ----------------------------------------------------------------

    @classmethod
    def open(cls, data_dir: Path | str, *, daily_backup: bool = True) -> Ledger:
        """Open (creating if needed) the ledger in ``data_dir`` and start its writer thread.

        Raises :class:`LedgerDamaged` if the quick integrity check fails, with the newest backup's
        path in the message, and :class:`LedgerError` if the file cannot be used at all.
        """
        ledger = cls(Path(data_dir))
        ledger.data_dir.mkdir(parents=True, exist_ok=True)
        ready: Future[OpenReport] = Future()
        ledger._thread = threading.Thread(
            target=ledger._writer_main, args=(ready, daily_backup), name="ledger-writer", daemon=True
        )
        ledger._thread.start()
        try:
            ledger.report = ready.result()
        except BaseException:
            ledger._thread.join()
            ledger._closed = True
            raise
        return ledger

    def close(self) -> None:
        """Finish queued writes, stop the writer thread and close every connection."""
        if self._closed:
            return
        self._closed = True
        self._jobs.put(None)
        if self._thread is not None:
            self._thread.join()
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the writer thread ------------------------------------------------------------------

    def _start_writer(self, daily_backup: bool) -> tuple[sqlite_utils.Database, OpenReport]:
        log.info("SQLite %s (Python sqlite3 module); ledger %s", sqlite3.sqlite_version, self.path)
        existed = self.path.exists() and self.path.stat().st_size > 0
        try:
            conn = _connect(self.path, writer=True)
            problems = start_check(conn) if existed else []
        except sqlite3.DatabaseError as exc:
            problems = [str(exc)]
            conn = None
        if problems:
            if conn is not None:
                conn.close()
            backup = newest_backup(self.data_dir)
            where = f"restore the newest backup: {backup}" if backup else "no backup was found"
            raise LedgerDamaged(
                f"The ledger file {self.path} failed its integrity check ({'; '.join(problems[:3])}). "
                f"Do not sell on this terminal; call IT and {where}.",
                backup,
            )
        assert conn is not None
        db = sqlite_utils.Database(conn)
        backups: list[Path] = []
        pending = migrations.pending(db)
        now = datetime.now(UTC)
        before = migrations.applied(db)
        taken: Path | None = None
        if pending and existed and before:
            taken = backup_to(conn, self.data_dir, "before-migration", now)
            backups.append(taken)
        try:
            applied = self._migrate(db, now)
        except Exception as exc:
            raise self._migration_failed(conn, db, before, taken, exc) from exc
        if daily_backup and existed:
            last = newest_backup(self.data_dir)
            last_time = datetime.fromtimestamp(last.stat().st_mtime, UTC) if last is not None else None
            if last_time is None or now - last_time >= BACKUP_EVERY:
                backups.append(backup_to(conn, self.data_dir, "daily", now))
                last_time = now
            self._last_backup = last_time
        elif daily_backup:
            self._last_backup = now
        return db, OpenReport(sqlite3.sqlite_version, tuple(applied), tuple(backups))

    @staticmethod
    def _migrate(db: sqlite_utils.Database, now: datetime) -> list[str]:
        """Every pending migration in ONE transaction (each in its own savepoint): all or none."""
        with db.atomic():
            return migrations.migrate(db, now)

    def _migration_failed(
        self,
        conn: sqlite3.Connection,
        db: sqlite_utils.Database,
        before: list[str],
        backup: Path | None,
        error: Exception,
    ) -> MigrationFailed:
        """Put the ledger back as it was before the failed migration; say so, for IT and the till."""
        if conn.in_transaction:
            conn.rollback()
        try:
            unchanged = migrations.applied(db) == before
        except sqlite3.Error:
            unchanged = False
        conn.close()
        if not unchanged and backup is not None:
            # A migration committed on its own (it should not): the backup is the state before.
            restore_backup(backup, self.path)
        where = f"the backup taken before it, {backup}" if backup else "the state before it"
        log.error("ledger migration failed (%s); rolled back to %s", error, where)
        return MigrationFailed(
            f"This version could not update the ledger {self.path} ({error}). The ledger was rolled "
            f"back to {where}: no sale is lost. Call IT: reinstall the previous version of the till.",
            backup,
        )

    def _writer_main(self, ready: Future[OpenReport], daily_backup: bool) -> None:
        try:
            db, report = self._start_writer(daily_backup)
        except BaseException as exc:
            ready.set_exception(exc)
            return
        ready.set_result(report)
        try:
            while True:
                item = self._jobs.get()
                if item is None:
                    break
                job, future, atomic = item
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    if atomic:
                        with _immediate_transaction(db):
                            result = job(db)
                    else:
                        result = job(db)
                except BaseException as exc:
                    future.set_exception(exc)
                else:
                    future.set_result(result)
                if daily_backup:
                    self._maybe_daily_backup(db)
        finally:
            # Anything queued after close gets a clear error instead of hanging its caller.
            while True:
                try:
                    item = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[1].set_exception(LedgerClosed("the ledger is closed"))
            db.conn.close()

    def _maybe_daily_backup(self, db: sqlite_utils.Database) -> None:
        now = datetime.now(UTC)
        if self._last_backup is None or now - self._last_backup >= BACKUP_EVERY:
            try:
                backup_to(db.conn, self.data_dir, "daily", now)
            except (OSError, sqlite3.Error):
                log.exception("daily ledger backup failed; selling continues")
            self._last_backup = now

    # --- the public API ---------------------------------------------------------------------

    def write(self, job: Callable[[sqlite_utils.Database], T], *, atomic: bool = True) -> Future[T]:
        """Queue ``job(db)`` for the writer thread; it runs inside one transaction.

        The Future holds the job's return value once the transaction committed, or the exception
        that rolled it back. ``atomic=False`` runs the job outside a transaction (backups, VACUUM).
        """
        if self._closed:
            raise LedgerClosed("the ledger is closed")
        future: Future[T] = Future()
        self._jobs.put((job, future, atomic))
        return future

    def transact(self, job: Callable[[sqlite_utils.Database], T]) -> T:
        """Run ``job(db)`` in one transaction on the writer thread and return its result."""
        if threading.current_thread() is self._thread:
            raise LedgerError("transact() called from the writer thread itself (would deadlock)")
        return self.write(job).result()

    def read(self) -> sqlite_utils.Database:
        """This thread's read-only connection (made on first use) as a sqlite-utils Database."""
        db: sqlite_utils.Database | None = getattr(self._local, "db", None)
        if db is None:
            if self._closed:
                raise LedgerClosed("the ledger is closed")
            conn = _connect(self.path, writer=False)
            with self._readers_lock:
                self._readers.append(conn)
            db = sqlite_utils.Database(conn)
            self._local.db = db
        return db

    def backup(self, reason: str = "manual") -> Path:
        """Take an online backup now (on the writer thread) and return its path."""
        job = self.write(
            lambda db: backup_to(db.conn, self.data_dir, reason, datetime.now(UTC)), atomic=False
        )
        return job.result()

    def integrity_problems(self) -> list[str]:
        """Run ``PRAGMA quick_check`` on a reader connection: empty when the file is sound."""
        return quick_check(self.read().conn)
