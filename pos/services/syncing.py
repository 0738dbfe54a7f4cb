"""The terminal's side of sync: the engine's :class:`~sync.engine.SyncStore` on the ledger, and
the stock figure the till shows.

Every write goes through the ledger's one writer (:meth:`Ledger.transact`), one transaction each:

* a push answer sets the acknowledged sequence to the server's ``high_seq`` (the ledger refuses
  to move it back, and refuses a sequence the journal does not hold) and keeps what the server
  flagged, so the cashier and IT can see it;
* a change-feed page is staged and applied together with its cursor. Changes of an update stay in
  ``feed_staging`` -- not visible to the till -- until the change marked ``last_in_update`` has
  arrived; then the whole update is applied at once. A snapshot (the server's answer to a cursor it
  no longer knows) is staged whole, across pages, and replaces the catalog, staff and stock only
  when its last page has arrived, so a half-received snapshot never shows a price.

If the process dies between pages, the cursor and the staged rows it covers are either both
written or both not, so the next round resumes exactly where the last committed page ended.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlite_utils

from pos.config import atomic_write_text, update_config
from pos.ledger import journal, staff, state
from pos.ledger.db import Ledger
from pos.services import fleet
from pos.services.fleet import report_source
from pos.services.terminal import Terminal
from sync.client import CentralClient, Rejected, SyncFailure
from sync.engine import (
    FileLock,
    OutgoingEntry,
    PullProgress,
    RoundReport,
    SyncEngine,
    SyncLoop,
    SyncStatus,
)
from sync.protocol import (
    Change,
    ChangeKind,
    ChangesPage,
    Enrollment,
    EntryResult,
    JournalEntry,
    StockLevel,
    StoreInfo,
)

#: Settings keys this module owns (the settings table is the ledger's key/value store).
STATUS_KEY = "sync.status"
FLAGGED_KEY = "sync.flagged"
TAX_RATES_KEY = "tax_rates"
#: Most flagged verdicts kept for display; older ones are on the server's fleet page.
FLAGGED_KEPT = 200
#: feed_staging update_id under which finished updates of a snapshot in progress wait.
SNAPSHOT = "__snapshot__"
#: The lock file next to the ledger that makes sync rounds exclusive across processes.
LOCK_FILE = "sync.lock"

_STORE_SETTING_KEYS = {
    "code": "store_code",
    "name": "store_name",
    "currency": "currency",
    "locale": "locale",
    "tax_mode": "tax_mode",
    "discount_limit_percent": "discount_limit_percent",
    "timezone": "timezone",
}


def _stamp(now: datetime | None = None) -> str:
    return journal.utc_stamp(now or datetime.now(UTC))


def sync_lock(data_dir: Path) -> FileLock:
    """The lock every sync round on this terminal holds (the app's loop and ``pos sync`` alike)."""
    return FileLock(Path(data_dir) / LOCK_FILE)


class LedgerSyncStore:
    """:class:`sync.engine.SyncStore` on an open :class:`Ledger`."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    # --- push side ------------------------------------------------------------------------------

    def acknowledged_seq(self) -> int:
        return state.sync_state(self.ledger.read()).acked_seq

    def pending_entries(self, after_seq: int, limit: int) -> list[JournalEntry]:
        return [e.to_wire() for e in journal.entries_after(self.ledger.read(), after_seq, limit)]

    def pending_wire(self, after_seq: int, limit: int) -> list[OutgoingEntry]:
        return [
            OutgoingEntry(seq, text) for seq, text in journal.wire_after(self.ledger.read(), after_seq, limit)
        ]

    def queued_count(self) -> int:
        return state.queued_events(self.ledger.read())

    def record_push(self, high_seq: int, flagged: list[EntryResult]) -> None:
        def job(db: sqlite_utils.Database) -> None:
            _write_first(db)
            state.acknowledge(db, high_seq, _stamp())
            if flagged:
                # One verdict per entry: a conflict sent again in the next round is not a new one.
                again = {r.seq for r in flagged}
                kept = [r for r in _setting(db, FLAGGED_KEY, []) if r.get("seq") not in again]
                kept.extend(r.model_dump(mode="json") for r in flagged)
                state.put_settings(db, {FLAGGED_KEY: kept[-FLAGGED_KEPT:]})

        try:
            self.ledger.transact(job)
        except state.AckError as exc:
            # The server holds entries this terminal does not: restored from an old backup?
            # Pushing on would reuse sequence numbers, so stop and have IT look.
            raise Rejected(f"{exc}; this terminal's journal is behind head office: call IT") from exc

    def flagged_count(self) -> int:
        return len(_setting(self.ledger.read(), FLAGGED_KEY, []))

    def flagged(self) -> list[EntryResult]:
        """What the server quarantined or flagged as conflicting, newest last."""
        return [EntryResult.model_validate(r) for r in _setting(self.ledger.read(), FLAGGED_KEY, [])]

    # --- pull side ------------------------------------------------------------------------------

    def cursor(self) -> str | None:
        return state.sync_state(self.ledger.read()).feed_cursor

    def apply_changes_page(self, page: ChangesPage) -> None:
        try:
            self.ledger.transact(lambda db: _writing(db, apply_page, page, _stamp()))
        except (KeyError, TypeError, ValueError, sqlite3.IntegrityError) as exc:
            # Rolled back whole, cursor included: the next round asks for the same page again.
            raise Rejected(
                f"head office sent a change this terminal cannot apply ({type(exc).__name__}: {exc})"
            ) from exc

    def snapshot_in_progress(self) -> bool:
        return _snapshot_started(self.ledger.read())

    # --- status ---------------------------------------------------------------------------------

    def load_status(self) -> SyncStatus | None:
        raw = _setting(self.ledger.read(), STATUS_KEY, None)
        if not isinstance(raw, str):
            return None
        try:
            return SyncStatus.from_json(raw)
        except (ValueError, TypeError):
            return None  # written by a build that no longer matches; the next round rewrites it

    def save_status(self, status: SyncStatus) -> None:
        self.ledger.transact(lambda db: _writing(db, state.put_settings, {STATUS_KEY: status.to_json()}))

    def lock(self) -> AbstractContextManager[bool]:
        return sync_lock(self.ledger.data_dir).hold(0)


def _write_first(db: sqlite_utils.Database) -> None:
    """Take the ledger's write lock as this transaction's first step.

    The writer opens transactions with a deferred BEGIN; one that reads first and writes later
    cannot wait for another process's write (SQLITE_BUSY_SNAPSHOT: "database is locked") -- and
    ``pos sync`` is another process while the app runs. Writing first makes SQLite wait
    (busy_timeout) for the lock instead."""
    db.execute("UPDATE sync_state SET id = id WHERE id = 1")


def _writing(db: sqlite_utils.Database, job: Callable[..., None], *args: Any) -> None:
    _write_first(db)
    job(db, *args)


def _setting(db: sqlite_utils.Database, key: str, default: Any) -> Any:
    row = db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return json.loads(row[0]) if row else default


# --- applying the change feed ------------------------------------------------------------------


def _snapshot_started(db: sqlite_utils.Database) -> bool:
    return (
        db.execute("SELECT 1 FROM feed_staging WHERE update_id = ? AND seq = 0", (SNAPSHOT,)).fetchone()
        is not None
    )


def apply_page(db: sqlite_utils.Database, page: ChangesPage, now: str) -> None:
    """Stage and apply one page of the change feed and move the cursor (call inside one transaction)."""
    if page.snapshot:
        # A snapshot starts over: whatever was staged belongs to a feed position we have left.
        db.execute("DELETE FROM feed_staging")
        db.execute(
            "INSERT INTO feed_staging (update_id, seq, kind, key, data) VALUES (?, 0, 'snapshot', '', NULL)",
            (SNAPSHOT,),
        )
    in_snapshot = _snapshot_started(db)
    _stage(db, page.changes)
    for change in page.changes:
        if not change.last_in_update:
            continue
        if in_snapshot:
            # Complete, but shown only with the whole snapshot.
            db.execute(
                "UPDATE feed_staging SET update_id = ? WHERE update_id = ?", (SNAPSHOT, change.update_id)
            )
        else:
            _apply_update(db, change.update_id, now)
    if in_snapshot and not page.has_more:
        _finish_snapshot(db, now)
    state.set_feed_cursor(db, page.cursor, now)


def _stage(db: sqlite_utils.Database, changes: list[Change]) -> None:
    db.conn.executemany(
        "INSERT OR REPLACE INTO feed_staging (update_id, seq, kind, key, data) VALUES (?, ?, ?, ?, ?)",
        [
            (
                change.update_id,
                change.seq,
                change.kind.value,
                change.key,
                None if change.data is None else json.dumps(change.data, sort_keys=True),
            )
            for change in changes
        ],
    )


@dataclass(frozen=True)
class _Staged:
    seq: int
    kind: str
    key: str
    data: dict[str, Any] | None


#: The newest staged change per product of one update (the feed may send a product twice).
_LATEST_PRODUCTS = (
    "SELECT key, data FROM feed_staging WHERE update_id = :update AND kind = 'product' AND seq IN"
    " (SELECT max(seq) FROM feed_staging WHERE update_id = :update AND kind = 'product' GROUP BY key)"
)


#: pos.domain.scanning.normalize_gtin in SQL, for set-based apply (a Python function per barcode
#: would add seconds to a million-product first sync): GTIN-13 where the number fits, else GTIN-14.
#: Check digits were verified by head office's import.
_NORMAL_GTIN_SQL = (
    "(CASE WHEN length({code}) = 14 AND substr({code}, 1, 1) = '0' THEN substr({code}, 2)"
    " WHEN length({code}) IN (8, 12) THEN substr('0000000000000' || {code}, length({code}) + 1)"
    " ELSE {code} END)"
)


def _apply_update(db: sqlite_utils.Database, update_id: str, now: str) -> None:
    """Apply every staged change of one complete update, then drop them from staging."""
    _apply_products(db, update_id, now)
    rows = db.execute(
        "SELECT seq, kind, key, data FROM feed_staging WHERE update_id = ? AND seq > 0 AND kind != 'product'"
        " ORDER BY seq",
        (update_id,),
    ).fetchall()
    _apply(
        db,
        (
            _Staged(int(r[0]), str(r[1]), str(r[2]), json.loads(r[3]) if r[3] is not None else None)
            for r in rows
        ),
        now,
    )
    db.execute("DELETE FROM feed_staging WHERE update_id = ?", (update_id,))


def _apply_products(db: sqlite_utils.Database, update_id: str, now: str) -> None:
    # Set-based, straight from staging: a first sync brings a million products in one update.
    args = {"update": update_id, "now": now}
    db.execute(
        "INSERT INTO products (sku, name, price, tax_rate, unit, active, updated_at)"
        " SELECT key, json_extract(data, '$.name'), json_extract(data, '$.price'),"
        " CAST(json_extract(data, '$.tax_rate') AS TEXT), coalesce(json_extract(data, '$.unit'), 'piece'),"
        " coalesce(json_extract(data, '$.active'), 1), :now"
        f" FROM ({_LATEST_PRODUCTS}) WHERE data IS NOT NULL"
        " ON CONFLICT(sku) DO UPDATE SET name = excluded.name, price = excluded.price,"
        " tax_rate = excluded.tax_rate, unit = excluded.unit, active = excluded.active,"
        " updated_at = excluded.updated_at",
        args,
    )
    db.execute(
        f"UPDATE products SET active = 0, updated_at = :now WHERE sku IN (SELECT key FROM ({_LATEST_PRODUCTS})"
        " WHERE data IS NULL)",
        args,
    )
    db.execute(
        "DELETE FROM barcodes WHERE product_id IN (SELECT p.id FROM products p JOIN feed_staging f ON f.key = p.sku"
        " WHERE f.update_id = :update AND f.kind = 'product' AND f.data IS NOT NULL)",
        args,
    )
    # A barcode moved from another product follows the newest data. Head office sends barcodes as
    # written (UPC-A, EAN-8, GTIN-14); scans are looked up in normal form, so store that form.
    db.execute(
        "INSERT INTO barcodes (code, product_id)"
        f" SELECT {_NORMAL_GTIN_SQL.format(code='CAST(j.value AS TEXT)')}, p.id"
        f" FROM ({_LATEST_PRODUCTS}) f JOIN products p ON p.sku = f.key,"
        " json_each(f.data, '$.barcodes') j WHERE f.data IS NOT NULL"
        " ON CONFLICT(code) DO UPDATE SET product_id = excluded.product_id",
        args,
    )


def _finish_snapshot(db: sqlite_utils.Database, now: str) -> None:
    # The snapshot is the whole truth: what it does not mention is gone. Products and staff are
    # kept but deactivated (old receipts and returns still name them); stock figures are dropped.
    mentioned = "SELECT key FROM feed_staging WHERE update_id = :update AND kind = :kind AND data IS NOT NULL"
    db.execute(
        f"UPDATE products SET active = 0, updated_at = :now WHERE active AND sku NOT IN ({mentioned})",
        {"update": SNAPSHOT, "kind": "product", "now": now},
    )
    db.execute(
        f"UPDATE staff SET active = 0, updated_at = :now WHERE active AND id NOT IN ({mentioned})",
        {"update": SNAPSHOT, "kind": "staff", "now": now},
    )
    db.execute(f"DELETE FROM stock WHERE sku NOT IN ({mentioned})", {"update": SNAPSHOT, "kind": "stock"})
    _apply_update(db, SNAPSHOT, now)


def _apply(db: sqlite_utils.Database, rows: Iterable[_Staged], now: str) -> None:
    tax_rates: dict[str, Any] | None = None
    for row in rows:
        kind = ChangeKind(row.kind)
        data = row.data
        if kind is ChangeKind.PRODUCT:
            continue  # applied set-based by _apply_products
        elif kind is ChangeKind.STAFF:
            if data is None:
                staff.deactivate(db, row.key, now)
            else:
                staff.upsert(
                    db,
                    id=row.key,
                    name=str(data["name"]),
                    role=str(data["role"]),
                    pin_hash=str(data["pin_hash"]),
                    active=bool(data.get("active", True)),
                    now=now,
                )
        elif kind is ChangeKind.STOCK:
            if data is None:
                db.execute("DELETE FROM stock WHERE sku = ?", (row.key,))
            else:
                db.execute(
                    "INSERT INTO stock (sku, on_hand_milli, updated_at) VALUES (?, ?, ?)"
                    " ON CONFLICT(sku) DO UPDATE SET on_hand_milli = excluded.on_hand_milli,"
                    " updated_at = excluded.updated_at",
                    (row.key, int(data["on_hand_milli"]), now),
                )
        elif kind is ChangeKind.STORE:
            if data is not None:
                info = StoreInfo.model_validate(data)
                state.put_settings(
                    db, {setting: getattr(info, field) for field, setting in _STORE_SETTING_KEYS.items()}
                )
        elif kind is ChangeKind.TAX_RATE:
            if tax_rates is None:
                tax_rates = dict(_setting(db, TAX_RATES_KEY, {}))
            if data is None:
                tax_rates.pop(row.key, None)
            else:
                tax_rates[row.key] = data.get("rate", row.key)
    if tax_rates is not None:
        state.put_settings(db, {TAX_RATES_KEY: tax_rates})


# --- what the till shows -------------------------------------------------------------------------


def unsynced_sold_milli(db: sqlite_utils.Database, sku: str) -> int:
    """Quantity of ``sku`` (thousandths) this terminal sold (net of returns) that the server has not
    acknowledged yet. Training sales move no stock."""
    row = db.execute(
        "SELECT coalesce(sum(l.quantity_milli), 0) FROM sale_lines l JOIN sales s ON s.id = l.sale_id"
        " WHERE l.sku = ? AND s.kind != 'training'"
        " AND s.journal_seq > (SELECT acked_seq FROM sync_state WHERE id = 1)",
        (sku,),
    ).fetchone()
    return int(row[0])


def shown_on_hand_milli(db: sqlite_utils.Database, sku: str) -> int | None:
    """Stock the till shows for ``sku``: the server's last on-hand figure minus this terminal's
    unsynced sales; None when the server never sent a figure for it."""
    row = db.execute("SELECT on_hand_milli FROM stock WHERE sku = ?", (sku,)).fetchone()
    if row is None:
        return None
    return int(row[0]) - unsynced_sold_milli(db, sku)


def shown_on_hand_many(db: sqlite_utils.Database, skus: Sequence[str]) -> dict[str, int]:
    """:func:`shown_on_hand_milli` for many SKUs at once (product search): SKUs the server never
    sent a figure for are left out. Two queries, whatever the number of SKUs."""
    wanted = list(dict.fromkeys(skus))
    if not wanted:
        return {}
    marks = ",".join("?" * len(wanted))
    figures = {
        str(sku): int(on_hand)
        for sku, on_hand in db.execute(f"SELECT sku, on_hand_milli FROM stock WHERE sku IN ({marks})", wanted)
    }
    if not figures:
        return {}
    # Walks only the unsynced sales (sales.journal_seq is indexed), not every line ever sold.
    sold = db.execute(
        "SELECT l.sku, coalesce(sum(l.quantity_milli), 0) FROM sales s JOIN sale_lines l ON l.sale_id = s.id"
        " WHERE s.journal_seq > (SELECT acked_seq FROM sync_state WHERE id = 1) AND s.kind != 'training'"
        f" AND l.sku IN ({marks}) GROUP BY l.sku",
        wanted,
    ).fetchall()
    for sku, quantity in sold:
        if str(sku) in figures:
            figures[str(sku)] -= int(quantity)
    return figures


# --- enrollment and running sync for an open terminal --------------------------------------------

#: Secret names in the terminal's SecretStore.
TOKEN_SECRET = "token"
CLAIM_KEY_SECRET = "claim_key"


class EnrollmentError(ValueError):
    """Enrollment was refused or could not be done; str() says why, in words for IT."""


def check_enrollment_input(server_url: str, code: str, terminal_name: str = "") -> tuple[str, str]:
    """The server URL and code as used, or :class:`EnrollmentError` saying what is wrong with them.

    Nothing is asked of the server and nothing is changed."""
    server_url = server_url.strip().rstrip("/")
    if not server_url.startswith(("http://", "https://")):
        raise EnrollmentError(f"the server URL must start with http:// or https://, got {server_url!r}")
    if len(terminal_name) > 100:
        raise EnrollmentError("the terminal name is too long: at most 100 characters")
    code = code.strip()
    if not code:
        raise EnrollmentError("give the enrollment code IT created with `pos-central enroll-code`")
    if not 4 <= len(code) <= 64:
        raise EnrollmentError(
            f"{code[:70]!r} is not an enrollment code: it looks like ABCD-EFGH-JKMN-PQRS "
            "(IT creates one with `pos-central enroll-code`)"
        )
    return server_url, code


#: The till's enrollment key in its data directory (see :func:`enrollment_device_key`).
DEVICE_KEY_FILE = "enrollment.key"


def enrollment_device_key(data_dir: Path) -> str:
    """The random key this till sends with every enrollment attempt, made and written to
    ``data_dir`` (readable by the till's user only) before the first one and kept after.

    Head office remembers it with the code: if the answer to an attempt is lost (the server
    enrolled the till, the connection dropped), asking again with the same code and this key gets
    the same terminal again instead of "code already used"."""
    path = data_dir / DEVICE_KEY_FILE
    try:
        key = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        key = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise EnrollmentError(f"cannot read the enrollment key {path}: {exc}") from exc
    if re.fullmatch(r"[A-Za-z0-9_-]{22,64}", key):
        return key
    key = secrets.token_urlsafe(32)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, key + "\n", mode=0o600)
    except OSError as exc:
        raise EnrollmentError(f"cannot keep the enrollment key in {path}: {exc}") from exc
    return key


def _synced_head(terminal: Terminal) -> tuple[int, str] | None:
    """The journal's head when this ledger has synced before (it is some terminal's journal: a
    ledger restored onto new hardware), else None. Head office checks it against the terminal a
    re-key code is for."""
    db = terminal.ledger.read()
    if state.sync_state(db).acked_seq <= 0:
        return None
    return journal.head(db)


def enroll(
    terminal: Terminal,
    server_url: str,
    code: str,
    *,
    terminal_name: str = "",
    http: httpx.Client | None = None,
) -> Enrollment:
    """Exchange ``code`` at ``server_url`` for this terminal's identity and secrets, and keep them:
    the token and claim key in the OS keyring (or the 0600 secrets file), the rest in
    ``terminal.json``, the store's settings in the ledger.

    Refuses (and changes nothing) when the terminal is already enrolled and has journal entries:
    a new terminal id would make the server refuse the old sequence numbers.
    """
    server_url, code = check_enrollment_input(server_url, code, terminal_name)
    if terminal.config.enrolled and journal.count(terminal.ledger.read()) > 0:
        raise EnrollmentError(
            f"this terminal is already enrolled as {terminal.config.terminal_code} of store "
            f"{terminal.config.store_code} and has sold with that identity; use a fresh data directory"
        )
    device_key = enrollment_device_key(terminal.data_dir)
    owns_http = http is None
    client = CentralClient(server_url, http or httpx.Client(), None, report=report_source(terminal))
    try:
        enrollment = client.enroll(
            code, terminal_name or socket.gethostname(), device_key=device_key, ledger=_synced_head(terminal)
        )
    except Rejected as exc:
        detail = exc.body.detail if exc.body else exc.detail
        raise EnrollmentError(f"the server refused the enrollment code: {detail}") from exc
    except SyncFailure as exc:
        raise EnrollmentError(f"could not enroll: {exc.detail}") from exc
    finally:
        if owns_http:
            client.http.close()
    terminal.secrets.set(TOKEN_SECRET, enrollment.token)
    terminal.secrets.set(CLAIM_KEY_SECRET, enrollment.claim_key)
    terminal.config = update_config(
        terminal.data_dir,
        terminal_id=enrollment.terminal_id,
        terminal_code=enrollment.terminal_code,
        terminal_name=terminal_name,
        store_code=enrollment.store.code,
        store_name=enrollment.store.name,
        server_url=server_url,
        public_url=enrollment.public_url,
        server_public_key=enrollment.server_public_key,
        enrolled=True,
    )
    info = enrollment.store
    terminal.ledger.transact(
        lambda db: state.put_settings(
            db, {setting: getattr(info, field) for field, setting in _STORE_SETTING_KEYS.items()}
        )
    )
    terminal.reload_settings()
    return enrollment


def make_engine(
    terminal: Terminal,
    *,
    http: httpx.Client | None = None,
    on_progress: Callable[[PullProgress], None] | None = None,
) -> SyncEngine:
    """A sync engine for ``terminal``: its server, token, ledger and the terminal-wide sync lock.

    Raises :class:`EnrollmentError` when the terminal is not enrolled."""
    config = terminal.config
    if not config.enrolled or not config.server_url:
        raise EnrollmentError("this terminal is not enrolled: run `pos enroll --server URL --code CODE`")
    client = CentralClient(
        config.server_url,
        http or httpx.Client(),
        terminal.secrets.get(TOKEN_SECRET),
        report=report_source(terminal),
    )
    return SyncEngine(
        client,
        LedgerSyncStore(terminal.ledger),
        terminal.clock,
        lock=sync_lock(terminal.data_dir),
        on_progress=on_progress,
    )


def sync_once(
    terminal: Terminal, *, wait_for_lock: float = 30.0, http: httpx.Client | None = None
) -> RoundReport:
    """One round now (``pos sync``): waits up to ``wait_for_lock`` s for a round the app is running.

    The ledger is verified first unless that passed within the hour, so the round reports its health."""
    engine = make_engine(terminal, http=http)
    fleet.check_ledger(terminal.data_dir, unless_checked_within=fleet.RECHECK_AFTER)
    try:
        report = engine.round(wait_for_lock=wait_for_lock)
    finally:
        engine.client.http.close()
    if report.pages:
        terminal.reload_settings()
    return report


def _verify_quietly(data_dir: Path) -> None:
    try:
        fleet.check_ledger(data_dir)
    except Exception:  # a background check must never take the app down; the log says why
        logging.getLogger(__name__).exception("verifying the ledger failed")


#: Seconds the background loop's long-poll asks head office to hold (the server caps it at 30;
#: below the usual 60 s idle timeout of proxies in between).
WATCH_SECONDS = 25.0


def start_background_sync(
    terminal: Terminal,
    *,
    interval: float = 30.0,
    watch: float | None = WATCH_SECONDS,
    on_round: Callable[[RoundReport], None] | None = None,
    on_progress: Callable[[PullProgress], None] | None = None,
) -> SyncLoop:
    """Start syncing on a background thread (the app); stop it with ``loop.stop()``.

    Between rounds the loop waits on head office's change feed (a long-poll of ``watch`` seconds;
    None: every ``interval`` seconds instead), so a price saved at head office arrives at once."""
    engine = make_engine(terminal, on_progress=on_progress)
    # Verify the ledger off the UI thread; the next request reports the outcome to head office.
    threading.Thread(
        target=_verify_quietly, args=(terminal.data_dir,), name="ledger-verify", daemon=True
    ).start()
    loop = SyncLoop(
        engine, interval=interval, watch=watch, on_round=on_round, on_stop=engine.client.http.close
    )
    loop.start()
    return loop


def stock_elsewhere(terminal: Terminal, sku: str, *, http: httpx.Client | None = None) -> list[StockLevel]:
    """On-hand figures for ``sku`` in every store of the chain, asked of head office now (a few
    seconds at most). Raises :class:`sync.client.SyncFailure` (e.g. Offline) when it cannot say;
    the till then shows only its own figure (:func:`shown_on_hand_milli`)."""
    config = terminal.config
    if not config.enrolled or not config.server_url:
        raise EnrollmentError("this terminal is not enrolled: run `pos enroll --server URL --code CODE`")
    owns_http = http is None
    client = CentralClient(
        config.server_url,
        http or httpx.Client(),
        terminal.secrets.get(TOKEN_SECRET),
        timeout=httpx.Timeout(3.0, connect=2.0),
        report=report_source(terminal),
    )
    try:
        return client.stock(sku)
    finally:
        if owns_http:
            client.http.close()


def member_code_by_short(terminal: Terminal, short: str, *, http: httpx.Client | None = None) -> str:
    """The signed member code of the hour a typed member short code names, asked of head office now
    (a few seconds at most). Raises :class:`sync.client.SyncFailure` (e.g. Offline, or the server's
    refusal of an unknown code) when it cannot say."""
    config = terminal.config
    if not config.enrolled or not config.server_url:
        raise EnrollmentError("this terminal is not enrolled: run `pos enroll --server URL --code CODE`")
    owns_http = http is None
    client = CentralClient(
        config.server_url,
        http or httpx.Client(),
        terminal.secrets.get(TOKEN_SECRET),
        timeout=httpx.Timeout(3.0, connect=2.0),
        report=report_source(terminal),
    )
    try:
        return client.member_code(short).member_code
    finally:
        if owns_http:
            client.http.close()


def current_status(terminal: Terminal) -> SyncStatus:
    """The last saved status with the queue counted now (``pos status``; no network)."""
    store = LedgerSyncStore(terminal.ledger)
    saved = store.load_status() or SyncStatus()
    return replace(saved, queued=store.queued_count(), acknowledged_seq=store.acknowledged_seq())


__all__ = [
    "LOCK_FILE",
    "EnrollmentError",
    "LedgerSyncStore",
    "apply_page",
    "current_status",
    "enroll",
    "make_engine",
    "member_code_by_short",
    "shown_on_hand_many",
    "shown_on_hand_milli",
    "start_background_sync",
    "stock_elsewhere",
    "sync_lock",
    "sync_once",
    "unsynced_sold_milli",
]
