"""Helpers for the sync tests: a journal generator, an in-memory SyncStore, and a small stand-in
central server (for engine behaviour that does not depend on the real server's storage)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlite_utils
import uuid_utils
from central_fixtures import LiveServer, add_store, free_port, live_server
from sqlalchemy import func, select

from pos.ledger import journal, sales
from pos.services.terminal import Terminal
from sync.engine import OutgoingEntry, SyncStatus
from sync.protocol import (
    GENESIS_HASH,
    ChangesPage,
    EntryResult,
    EventType,
    JournalEntry,
    chain_hash,
    entry_body,
)
from sync.server import schema
from sync.server.db import Database

T0 = datetime(2026, 11, 20, 8, 0, 0, tzinfo=UTC)


def new_id() -> str:
    """A fresh UUIDv7 text (event ids are unique across the whole chain)."""
    return str(uuid_utils.uuid7())


def sale_payload(n: int, *, total: int = 1299, tender: str = "cash", currency: str = "EUR") -> dict[str, Any]:
    """A valid sale.completed payload (sync.protocol.SalePayload) for test sale number ``n``."""
    return {
        "sale_id": new_id(),
        "receipt_no": f"T1-{n:06d}",
        "currency": currency,
        "tax_mode": "inclusive",
        "lines": [
            {
                "line_no": 1,
                "sku": "SKU-1",
                "name": "Tea",
                "unit": "piece",
                "quantity_milli": 1000,
                "unit_price": total,
                "discount": 0,
                "total": total,
                "tax_rate": "19",
            }
        ],
        "taxes": [{"rate": "19", "net": total - total * 19 // 119, "tax": total * 19 // 119, "gross": total}],
        "total": total,
        "tenders": [{"kind": tender, "amount": total}],
        "completed_at": (T0 + timedelta(seconds=n)).isoformat(),
    }


def make_journal(
    count: int,
    *,
    start: int = 1,
    prev_hash: str = GENESIS_HASH,
    t0: datetime = T0,
    step: timedelta = timedelta(seconds=26),
    payload: Any = None,
    type: str = EventType.SALE_COMPLETED.value,
) -> list[JournalEntry]:
    """``count`` chained entries (sales unless ``type``/``payload`` say otherwise) from sequence ``start``, ``step`` apart from ``t0``."""
    entries: list[JournalEntry] = []
    for seq in range(start, start + count):
        body = entry_body(
            seq=seq,
            event_id=new_id(),
            type=type,
            schema_version=1,
            occurred_at=(t0 + step * (seq - 1)).isoformat().replace("+00:00", "Z"),
            payload=payload(seq) if payload else sale_payload(seq),
        )
        digest = chain_hash(prev_hash, body)
        entries.append(JournalEntry(**body, prev_hash=prev_hash, hash=digest))
        prev_hash = digest
    return entries


@dataclass
class MemoryStore:
    """A SyncStore in memory, with the same promises as the ledger adapter."""

    journal: list[JournalEntry] = field(default_factory=list)
    acked: int = 0
    feed_cursor: str | None = None
    applied: dict[tuple[str, str], Any] = field(default_factory=dict)
    staged: list[Any] = field(default_factory=list)
    flagged: list[EntryResult] = field(default_factory=list)
    status: SyncStatus | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def append(self, entries: list[JournalEntry]) -> None:
        with self.lock:
            self.journal.extend(entries)

    def acknowledged_seq(self) -> int:
        return self.acked

    def pending_entries(self, after_seq: int, limit: int) -> list[JournalEntry]:
        with self.lock:
            return [e for e in self.journal if e.seq > after_seq][:limit]

    def pending_wire(self, after_seq: int, limit: int) -> list[OutgoingEntry]:
        return [OutgoingEntry.of(e) for e in self.pending_entries(after_seq, limit)]

    def queued_count(self) -> int:
        with self.lock:
            return sum(1 for e in self.journal if e.seq > self.acked)

    def record_push(self, high_seq: int, flagged: list[EntryResult]) -> None:
        with self.lock:
            self.acked = max(self.acked, high_seq)
            self.flagged.extend(flagged)

    def flagged_count(self) -> int:
        return len({r.seq for r in self.flagged})

    def cursor(self) -> str | None:
        return self.feed_cursor

    def apply_changes_page(self, page: ChangesPage) -> None:
        with self.lock:
            for change in page.changes:
                self.staged.append(change)
                if change.last_in_update:
                    for done in [c for c in self.staged if c.update_id == change.update_id]:
                        self.applied[(done.kind.value, done.key)] = done.data
                    self.staged = [c for c in self.staged if c.update_id != change.update_id]
            self.feed_cursor = page.cursor

    def load_status(self) -> SyncStatus | None:
        return self.status

    def save_status(self, status: SyncStatus) -> None:
        self.status = status


class StandInCentral:
    """A minimal central server as an httpx handler: exactly-once push by sequence and hash,
    a change feed of fixed pages that holds a long-poll (``wait=``) until :meth:`add_page` or
    :meth:`answer_waiters`, optional canned failures. Counts what it received."""

    def __init__(self, *, max_batch: int = 500, pages: list[dict[str, Any]] | None = None) -> None:
        self.max_batch = max_batch
        self.held: dict[int, str] = {}
        self.pushes: list[list[int]] = []
        self.pages = pages or []
        self.fail_next: list[httpx.Response] = []
        self.in_flight = 0
        self.max_in_flight = 0
        #: Every change-feed request as (cursor, wait), and how many long-polls are held now.
        self.feed_requests: list[tuple[str | None, float]] = []
        self.waiting = 0
        self.max_waiting = 0
        #: Served pages, by index (a page handed over by the long-poll is not asked for again).
        self.pages_served: list[int] = []
        self._lock = threading.Lock()
        self._news = threading.Condition(self._lock)
        self._answer_waiters_with: httpx.Response | None = None
        self._waiter_round = 0

    def add_page(self, page: dict[str, Any]) -> None:
        """Head office saves a change: the page becomes the feed's next one; held long-polls answer."""
        with self._news:
            self.pages.append(page)
            self._news.notify_all()

    def answer_waiters(self, response: httpx.Response) -> None:
        """Every long-poll held now is answered with ``response`` (a 503, a 401...)."""
        with self._news:
            self._answer_waiters_with = response
            self._waiter_round += 1
            self._news.notify_all()

    def high_seq(self) -> int:
        seq = 0
        while seq + 1 in self.held:
            seq += 1
        return seq

    def __call__(self, request: httpx.Request) -> httpx.Response:
        now = datetime.now(UTC).isoformat()
        with self._lock:
            if self.fail_next:
                return self.fail_next.pop(0)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            path = request.url.path
            if path == "/v1/hello":
                return httpx.Response(
                    200,
                    json={
                        "protocol_versions": [1],
                        "server_time": now,
                        "max_batch_entries": self.max_batch,
                        "max_batch_bytes": 4_000_000,
                        "public_url": "http://central.test",
                    },
                )
            if path == "/v1/push":
                body = json.loads(request.content)
                results = []
                with self._lock:
                    self.pushes.append([e["seq"] for e in body["entries"]])
                    for e in body["entries"]:
                        seq = e["seq"]
                        if seq in self.held:
                            status = "duplicate" if self.held[seq] == e["hash"] else "conflict"
                        elif seq == self.high_seq() + 1 and e["prev_hash"] == self.held.get(
                            seq - 1, GENESIS_HASH
                        ):
                            self.held[seq] = e["hash"]
                            status = "accepted"
                        else:
                            status = "rejected"
                        results.append({"seq": seq, "event_id": e["event_id"], "status": status})
                    high = self.high_seq()
                return httpx.Response(200, json={"results": results, "high_seq": high, "server_time": now})
            if path == "/v1/changes":
                cursor = request.url.params.get("cursor")
                wait = float(request.url.params.get("wait", "0"))
                index = int(cursor) if cursor else 0
                with self._news:
                    self.feed_requests.append((cursor, wait))
                    if wait > 0 and index >= len(self.pages):
                        self.waiting += 1
                        self.max_waiting = max(self.max_waiting, self.waiting)
                        round_ = self._waiter_round
                        try:
                            self._news.wait_for(
                                lambda: index < len(self.pages) or self._waiter_round != round_, timeout=wait
                            )
                        finally:
                            self.waiting -= 1
                        if self._waiter_round != round_ and self._answer_waiters_with is not None:
                            return self._answer_waiters_with
                    if index < len(self.pages):
                        self.pages_served.append(index)
                if index >= len(self.pages):
                    return httpx.Response(
                        200, json={"changes": [], "cursor": str(index), "has_more": False, "server_time": now}
                    )
                page = dict(self.pages[index])
                page.setdefault("server_time", now)
                page["cursor"] = str(index + 1)
                page["has_more"] = index + 1 < len(self.pages)
                return httpx.Response(200, json=page)
            return httpx.Response(404, json={"error": "not_found", "detail": path})
        finally:
            with self._lock:
                self.in_flight -= 1


def until(condition: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    """Wait for ``condition()`` to hold (sync loops run on their own threads); fail naming ``what``
    if it does not within ``timeout`` seconds (a hang, not a speed check)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for: {what}"
        time.sleep(0.005)


def extend_journal(store: MemoryStore, count: int, **kwargs: Any) -> list[JournalEntry]:
    """Append ``count`` more entries to ``store``'s journal, chained onto its head."""
    prev = store.journal[-1].hash if store.journal else GENESIS_HASH
    entries = make_journal(count, start=len(store.journal) + 1, prev_hash=prev, **kwargs)
    store.append(entries)
    return entries


# --- the real pieces: a live central server and a terminal on a real ledger ----------------------


@contextlib.contextmanager
def central_server(folder: Path, store_code: str = "S01", **settings: Any) -> Iterator[LiveServer]:
    """A real pos-central (SQLite file in ``folder``) on a free port with one store."""
    db = Database.from_url(str(folder / "central.sqlite3"))
    db.migrate()
    add_store(db, store_code)
    settings.setdefault("terminal_rate_per_second", 100_000.0)
    settings.setdefault("terminal_burst", 100_000)
    try:
        with live_server(db, **settings) as live:
            yield live
    finally:
        db.dispose()


def record_sales(
    terminal: Terminal,
    count: int,
    *,
    t0: datetime = T0,
    step: timedelta = timedelta(seconds=26),
    sku: str = "SKU-1",
    per_transaction: int = 100,
    total: Callable[[int], int] = lambda i: 1299,
    tender: Callable[[int], str] = lambda i: "cash",
) -> None:
    """Complete ``count`` sales through the ledger as the sale service does -- the sale, its lines
    and tenders and its journal entry in one transaction -- several sales per transaction for speed,
    sale ``i`` at ``t0 + i * step``."""

    def job(db: sqlite_utils.Database, first: int, n: int) -> None:
        # Write first, so a concurrent writer in another process (pos sync) is waited for; see
        # pos.services.syncing._write_first (the ledger begins its transactions deferred).
        db.execute("UPDATE sync_state SET id = id WHERE id = 1")
        for i in range(first, first + n):
            payload = sale_payload(i, total=total(i), tender=tender(i))
            payload["lines"][0]["sku"] = sku
            stamp = journal.utc_stamp(t0 + step * i)
            payload["completed_at"] = stamp
            receipt_seq = sales.next_receipt_seq(db)
            payload["receipt_no"] = f"{terminal.config.terminal_code}-{receipt_seq:06d}"
            entry = journal.append(db, EventType.SALE_COMPLETED, payload, occurred_at=stamp)
            sales.record_sale(db, payload, kind="sale", receipt_seq=receipt_seq, journal_seq=entry.seq)

    start = int(terminal.ledger.read().execute("SELECT count(*) FROM sales").fetchone()[0])
    done = 0
    while done < count:
        n = min(per_transaction, count - done)
        terminal.ledger.transact(lambda db, first=start + done, n=n: job(db, first, n))
        done += n


def server_journal(db: Database, terminal_id: int) -> list[tuple[int, str]]:
    """(seq, event id) of every journal entry the server holds for the terminal, by seq."""
    table = schema.journal
    with db.engine.connect() as conn:
        rows = conn.execute(
            select(table.c.seq, table.c.event_id)
            .where(table.c.terminal_id == terminal_id)
            .order_by(table.c.seq)
        ).all()
    return [(int(r.seq), str(r.event_id)) for r in rows]


def server_totals(db: Database, terminal_id: int | None = None) -> dict[tuple[str, str], tuple[int, int]]:
    """(store code, tender kind) -> (number of sales, amount) as the server holds them."""
    s, t, st = schema.sales, schema.sale_tenders, schema.stores
    query = (
        select(st.c.code, t.c.kind, func.count(func.distinct(s.c.id)), func.sum(t.c.amount))
        .select_from(s.join(t, t.c.sale_id == s.c.id).join(st, st.c.id == s.c.store_id))
        .group_by(st.c.code, t.c.kind)
    )
    if terminal_id is not None:
        query = query.where(s.c.terminal_id == terminal_id)
    with db.engine.connect() as conn:
        return {(str(r[0]), str(r[1])): (int(r[2]), int(r[3])) for r in conn.execute(query)}


def terminal_totals(terminal: Terminal) -> dict[tuple[str, str], tuple[int, int]]:
    """The same figures from the terminal's own ledger."""
    rows = terminal.ledger.read().execute(
        "SELECT t.kind, count(DISTINCT s.id), sum(t.amount) FROM sales s JOIN sale_tenders t ON t.sale_id = s.id"
        " WHERE s.kind = 'sale' GROUP BY t.kind"
    )
    code = terminal.settings.store_code
    return {(code, str(kind)): (int(n), int(amount)) for kind, n, amount in rows}


_SERVE_SCRIPT = """
import json, sys
import uvicorn
from sync.server.app import create_app
from sync.server.settings import ServerSettings
url, port, extra = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
settings = ServerSettings(database_url=url, host="127.0.0.1", port=port,
                          public_url=f"http://127.0.0.1:{port}", secure_cookies=False, **extra)
uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
"""


@dataclass
class ServerProcess:
    url: str
    port: int
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def server_process(
    database_url: str, *, command: list[str] | None = None, **settings: Any
) -> Iterator[ServerProcess]:
    """pos-central in its own process on a free port (``command`` given: that command line, with
    ``{port}`` and ``{database}`` filled in -- e.g. the real ``pos-central serve``)."""
    port = free_port()
    if command is not None:
        argv = [part.format(port=port, database=database_url) for part in command]
    else:
        argv = [sys.executable, "-c", _SERVE_SCRIPT, database_url, str(port), json.dumps(settings)]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"the server exited: {process.stderr.read().decode() if process.stderr else ''}"
                )
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start in 60 s")
            time.sleep(0.1)
        yield ServerProcess(url, port, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


def catalog_csv(count: int, generation: int) -> str:
    """A catalog of ``count`` products whose prices say which ``generation`` of prices they are."""
    lines = ["sku,name,price,tax_rate,barcodes,unit"]
    for i in range(count):
        cents = generation * 100_000 + i
        lines.append(f"P{i:05d},Product {i},{cents // 100}.{cents % 100:02d},19,,piece")
    return "\n".join(lines) + "\n"
