"""Helpers for the sync tests: a journal generator, an in-memory SyncStore, and a small stand-in
central server (for engine behaviour that does not depend on the real server's storage)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import uuid_utils

from sync.engine import SyncStatus
from sync.protocol import (
    GENESIS_HASH,
    ChangesPage,
    EntryResult,
    EventType,
    JournalEntry,
    chain_hash,
    entry_body,
)

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

    def queued_count(self) -> int:
        with self.lock:
            return sum(1 for e in self.journal if e.seq > self.acked)

    def record_push(self, high_seq: int, flagged: list[EntryResult]) -> None:
        with self.lock:
            self.acked = max(self.acked, high_seq)
            self.flagged.extend(flagged)

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
    a change feed of fixed pages, optional canned failures. Counts what it received."""

    def __init__(self, *, max_batch: int = 500, pages: list[dict[str, Any]] | None = None) -> None:
        self.max_batch = max_batch
        self.held: dict[int, str] = {}
        self.pushes: list[list[int]] = []
        self.pages = pages or []
        self.fail_next: list[httpx.Response] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

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
                index = int(cursor) if cursor else 0
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


def extend_journal(store: MemoryStore, count: int, **kwargs: Any) -> list[JournalEntry]:
    """Append ``count`` more entries to ``store``'s journal, chained onto its head."""
    prev = store.journal[-1].hash if store.journal else GENESIS_HASH
    entries = make_journal(count, start=len(store.journal) + 1, prev_hash=prev, **kwargs)
    store.append(entries)
    return entries
