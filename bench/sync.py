"""Sync figures, end to end on this machine, each beside a bare baseline measured in the same run.

    .venv/bin/python bench/sync.py                  # everything (1,000,000 products: minutes)
    .venv/bin/python bench/sync.py --products 100000 --terminals 200 --skip catalog

Prints:

* first catalog sync: a freshly enrolled terminal pulls the whole catalog (snapshot, pages of
  5,000) from ``pos-central serve`` on SQLite and can sell from it; beside it, a bare
  ``executemany`` of the same rows into a table of the same shape on the same disk;
* 10,000 queued sales drained after reconnecting (real ledger, real server, loopback); beside it,
  the same batches POSTed by a bare httpx loop for a second terminal;
* bytes per sale on the wire (request + answer) beside the entry's own canonical JSON;
* 1,000 simulated terminals reconnecting at once against ``pos-central serve`` on PostgreSQL:
  sales/s sustained, p50/p99 push latency, 429s and any other error.
"""

# ruff: noqa: E402 - the path fix below must run before `import sync`
from __future__ import annotations

import sys
from pathlib import Path

# This file is called sync.py: drop its folder from the path so `import sync` finds the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import contextlib
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psutil
import psycopg
import uuid_utils

from pos.ledger import journal, sales
from pos.services import syncing
from pos.services.terminal import Terminal, open_terminal
from sync.client import CentralClient, Offline
from sync.engine import OutgoingEntry, RoundReport, SyncEngine, SyncStatus
from sync.protocol import (
    GENESIS_HASH,
    PROTOCOL_VERSION,
    ChangesPage,
    EntryResult,
    EventType,
    JournalEntry,
    canonical_json,
    chain_hash,
    entry_body,
)
from sync.server.catalog import import_catalog
from sync.server.db import Database, utcnow
from sync.server.stores import add_store, create_enrollment_code

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
POS_CENTRAL = str(Path(sys.executable).with_name("pos-central"))


# --- plumbing ------------------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def pos_central(database_url: str) -> Iterator[str]:
    """The real ``pos-central serve`` on a free port; yields its URL."""
    port = free_port()
    process = subprocess.Popen(
        [POS_CENTRAL, "serve", "--database", database_url, "--port", str(port), "--pool-size", "20"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    SERVER_PIDS[url] = process.pid
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise SystemExit("pos-central serve exited at start")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("pos-central serve did not start")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


#: Process id of each server started here, by URL (for its CPU time).
SERVER_PIDS: dict[str, int] = {}


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds used so far by process ``pid`` (default: this one, all threads)."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def central_db(url: str, stores: int = 1) -> Database:
    db = Database.from_url(url, pool_size=4)
    db.migrate()
    with db.begin() as conn:
        for n in range(1, stores + 1):
            add_store(
                conn,
                code=f"S{n:02d}",
                name=f"Store {n}",
                currency="EUR",
                locale="de_DE",
                tax_mode="inclusive",
                now=utcnow(),
            )
    return db


def enrollment_code(db: Database, store: str = "S01") -> str:
    with db.begin() as conn:
        return create_enrollment_code(conn, store_code=store, now=utcnow())[0]


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    name = f"bench_sync_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def sale_payload(i: int, terminal_code: str = "T", stamp: str = "") -> dict[str, Any]:
    total = 100 + (i * 7919) % 25_000
    return {
        "sale_id": str(uuid.uuid4()),
        "receipt_no": f"{terminal_code}-{i:06d}",
        "currency": "EUR",
        "tax_mode": "inclusive",
        "lines": [
            {
                "line_no": 1,
                "sku": f"P{i % 1000:07d}",
                "name": "Product",
                "unit": "piece",
                "quantity_milli": 1000,
                "unit_price": total,
                "discount": 0,
                "total": total,
                "tax_rate": "19",
            }
        ],
        "taxes": [
            {"rate": "19", "net": round(total / 1.19), "tax": total - round(total / 1.19), "gross": total}
        ],
        "total": total,
        "tenders": [{"kind": "cash" if i % 3 else "card", "amount": total}],
        "completed_at": stamp or datetime.now(UTC).isoformat(),
    }


def chained(count: int, terminal_code: str = "T") -> list[JournalEntry]:
    prev = GENESIS_HASH
    out = []
    t0 = datetime.now(UTC) - timedelta(days=3)
    for seq in range(1, count + 1):
        stamp = (t0 + timedelta(seconds=26 * seq)).isoformat()
        body = entry_body(
            seq=seq,
            event_id=str(uuid_utils.uuid7()),
            type=EventType.SALE_COMPLETED.value,
            schema_version=1,
            occurred_at=stamp,
            payload=sale_payload(seq, terminal_code, stamp),
        )
        digest = chain_hash(prev, body)
        out.append(JournalEntry(**body, prev_hash=prev, hash=digest))
        prev = digest
    return out


class CountingTransport(httpx.BaseTransport):
    """Counts the bytes of every request and answer (bodies plus a header estimate)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.sent = 0
        self.received = 0
        self.push_latencies: list[float] = []
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        body = request.read()
        head = (
            len(request.method)
            + len(request.url.raw_path)
            + sum(len(k) + len(v) + 4 for k, v in request.headers.raw)
        )
        response = self.inner.handle_request(request)
        response.read()
        took = time.perf_counter() - started
        with self._lock:
            self.sent += len(body) + head + 12
            self.received += (
                len(response.content) + sum(len(k) + len(v) + 4 for k, v in response.headers.raw) + 17
            )
            if request.url.path.endswith("/v1/push"):
                self.push_latencies.append(took)
        return response

    def close(self) -> None:
        self.inner.close()


# --- 1: first catalog sync -----------------------------------------------------------------------


def gtin13(n: int) -> str:
    """The GTIN-13 with the 12 leading digits 200000000000 + n and its check digit."""
    body = f"{200_000_000_000 + n:012d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def catalog_csv(count: int) -> str:
    lines = ["sku,name,price,tax_rate,barcodes,unit"]
    for i in range(count):
        lines.append(f"P{i:07d},Product number {i},{1 + i % 500}.{i % 100:02d},19,{gtin13(i)},piece")
    return "\n".join(lines) + "\n"


def bench_catalog(folder: Path, products: int) -> None:
    print(f"\n== first catalog sync: {products:,} products ==")
    db = central_db(str(folder / "central-catalog.sqlite3"))
    started = time.perf_counter()
    with db.begin() as conn:
        import_catalog(conn, catalog_csv(products), now=utcnow())
    print(f"server catalog import (setup, not counted): {time.perf_counter() - started:.1f} s")
    with (
        pos_central(str(db.engine.url)) as url,
        open_terminal(folder / "till-catalog", secrets_backend="file", daily_backup=False) as terminal,
    ):
        syncing.enroll(terminal, url, enrollment_code(db), terminal_name="bench")
        engine = syncing.make_engine(terminal)
        engine.page_limit = 5000
        applying = [0.0]
        apply_page = engine.store.apply_changes_page

        def timed_apply(page: ChangesPage) -> None:
            begun = time.perf_counter()
            apply_page(page)
            applying[0] += time.perf_counter() - begun

        engine.store.apply_changes_page = timed_apply  # type: ignore[method-assign]
        started = time.perf_counter()
        rounds = 0
        while True:
            rounds += 1
            report = engine.round()
            if report.ok:
                break
            wait = report.error.retry_after if isinstance(report.error, Offline) else None
            time.sleep(wait or 0.5)
        took = time.perf_counter() - started
        count = terminal.ledger.read().execute("SELECT count(*) FROM products WHERE active").fetchone()[0]
        assert count == products, count
        engine.client.http.close()
    db.dispose()

    # Bare: the same rows into a plain table on the same disk, one transaction.
    bare_path = folder / "bare.sqlite3"
    conn = sqlite3.connect(bare_path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE p (sku TEXT PRIMARY KEY, name TEXT, price INTEGER, tax_rate TEXT, unit TEXT, code TEXT)"
    )
    bare_start = time.perf_counter()
    with conn:
        conn.executemany(
            "INSERT INTO p VALUES (?, ?, ?, ?, ?, ?)",
            (
                (f"P{i:07d}", f"Product number {i}", 100 + i, "19", "piece", gtin13(i))
                for i in range(products)
            ),
        )
    bare = time.perf_counter() - bare_start
    conn.close()
    print(
        f"first catalog sync end to end: {took:.1f} s ({report.pages} pages, {rounds} rounds, {products / took:,.0f} products/s)"
    )
    print(f"  of which applying pages on the terminal (staging, then the swap): {applying[0]:.1f} s")
    print(f"bare executemany of the same rows: {bare:.1f} s  -> ratio {took / bare:.1f}x")


# --- 2: 10,000 queued sales drained, and bytes per sale ------------------------------------------


def record_sales(terminal: Terminal, count: int) -> None:
    t0 = datetime.now(UTC) - timedelta(days=3)

    def job(db: Any, first: int, n: int) -> None:
        for i in range(first, first + n):
            stamp = journal.utc_stamp(t0 + timedelta(seconds=26 * i))
            payload = sale_payload(i, terminal.config.terminal_code, stamp)
            receipt_seq = sales.next_receipt_seq(db)
            payload["receipt_no"] = f"{terminal.config.terminal_code}-{receipt_seq:06d}"
            entry = journal.append(db, EventType.SALE_COMPLETED, payload, occurred_at=stamp)
            sales.record_sale(db, payload, kind="sale", receipt_seq=receipt_seq, journal_seq=entry.seq)

    for first in range(0, count, 500):
        terminal.ledger.transact(lambda db, f=first: job(db, f, min(500, count - f)))


def bench_drain(folder: Path, queued: int, runs: int) -> None:
    print(f"\n== {queued:,} queued sales drained after reconnecting (loopback, SQLite server) ==")
    db = central_db(str(folder / "central-drain.sqlite3"))
    drains: list[float] = []
    bares: list[float] = []
    per_sale_wire: list[float] = []
    per_sale_json: list[float] = []
    with pos_central(str(db.engine.url)) as url:
        for run in range(runs):
            with open_terminal(
                folder / f"till-drain-{run}", secrets_backend="file", daily_backup=False
            ) as terminal:
                syncing.enroll(terminal, url, enrollment_code(db), terminal_name=f"drain {run}")
                record_sales(terminal, queued)
                counting = CountingTransport(httpx.HTTPTransport())
                engine = syncing.make_engine(terminal, http=httpx.Client(transport=counting))
                engine._greet()  # learn the batch limits first: the drain is what we time
                sent_before, received_before = counting.sent, counting.received
                started = time.perf_counter()
                report = engine.round()
                drains.append(time.perf_counter() - started)
                assert report.ok and report.accepted == queued, report.summary()
                wire = (counting.sent - sent_before) + (counting.received - received_before)
                per_sale_wire.append(wire / queued)
                entries = list(journal.iter_entries(terminal.ledger.read()))
                per_sale_json.append(sum(len(canonical_json(e.as_dict())) for e in entries) / queued)
                engine.client.http.close()

            # Bare: the same number of entries POSTed straight at /v1/push for a fresh terminal.
            client = CentralClient(url, httpx.Client())
            enrollment = client.enroll(enrollment_code(db), f"bare {run}")
            entries_for_bare = chained(queued, enrollment.terminal_code)
            http = httpx.Client(timeout=60)
            headers = {"Authorization": f"Bearer {enrollment.token}", "Content-Type": "application/json"}
            started = time.perf_counter()
            for first in range(0, queued, 500):
                body = {
                    "protocol_version": PROTOCOL_VERSION,
                    "entries": [e.model_dump(mode="json") for e in entries_for_bare[first : first + 500]],
                }
                while True:
                    answer = http.post(url + "/v1/push", content=json.dumps(body), headers=headers)
                    if answer.status_code != 429:
                        break
                    time.sleep(float(answer.headers.get("Retry-After", "1")))
                answer.raise_for_status()
            bares.append(time.perf_counter() - started)
            http.close()
            client.http.close()
    db.dispose()
    drain, bare = statistics.median(drains), statistics.median(bares)
    print(
        f"drain (engine + ledger), median of {runs}: {drain:.2f} s  ({queued / drain:,.0f} sales/s); runs {[round(d, 2) for d in drains]}"
    )
    print(f"bare httpx POSTs of the same batches:  {bare:.2f} s  -> ratio {drain / bare:.2f}x")
    print(
        f"bytes per sale on the wire: {statistics.median(per_sale_wire):,.0f}"
        f" (the entry's canonical JSON alone: {statistics.median(per_sale_json):,.0f})"
    )


# --- 2b: our push beside PouchDB replication ------------------------------------------------------

PEER_DIR = Path(__file__).resolve().parent / "pouchdb"


def install_pouchdb() -> None:
    """``npm ci`` in bench/pouchdb (pinned by its package-lock.json) unless already done."""
    installed = PEER_DIR / "node_modules" / ".package-lock.json"
    lock = PEER_DIR / "package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    print("installing the PouchDB peer (npm ci in bench/pouchdb) ...", flush=True)
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=PEER_DIR, check=True)


@contextlib.contextmanager
def pouchdb_server(folder: Path) -> Iterator[str]:
    """express-pouchdb (LevelDB) on a free loopback port; yields its URL."""
    process = subprocess.Popen(
        ["node", str(PEER_DIR / "peer.js"), "serve", str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise SystemExit("the PouchDB server did not start")
        url = f"http://127.0.0.1:{json.loads(line)['port']}"
        SERVER_PIDS[url] = process.pid
        yield url
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def pouchdb_replicate(docs: Path, server: str, database: str, batch: int, folder: Path) -> dict[str, Any]:
    """Time one PouchDB replication of the documents in ``docs`` (JSON lines) to ``server``'s
    ``database``; ``cpu_seconds`` adds the server's CPU time in that span to the client's own."""
    process = subprocess.Popen(
        [
            "node",
            str(PEER_DIR / "peer.js"),
            "replicate",
            str(docs),
            f"{server}/{database}",
            str(batch),
            str(folder),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    server_cpu = None
    lines = []
    for line in process.stdout:
        if line.strip() == "loaded":  # the replication starts now
            server_cpu = cpu_seconds(SERVER_PIDS[server])
        else:
            lines.append(line)
    if process.wait() != 0 or server_cpu is None:
        raise SystemExit("the PouchDB replication failed")
    result: dict[str, Any] = json.loads(lines[-1])
    result["cpu_seconds"] += cpu_seconds(SERVER_PIDS[server]) - server_cpu
    return result


@contextlib.contextmanager
def till_with_queue(url: str, db: Database, folder: Path, queued: int, docs: Path) -> Iterator[Terminal]:
    """A freshly enrolled till with ``queued`` recorded sales not yet pushed; its journal entries
    are also written to ``docs`` (JSON lines) for the PouchDB side."""
    with open_terminal(folder, secrets_backend="file", daily_backup=False) as terminal:
        syncing.enroll(terminal, url, enrollment_code(db), terminal_name=folder.name)
        record_sales(terminal, queued)
        with docs.open("w") as out:
            for entry in journal.iter_entries(terminal.ledger.read()):
                out.write(json.dumps(entry.as_dict()) + "\n")
        yield terminal


def our_push(terminal: Terminal, queued: int, batch: int) -> tuple[float, float]:
    """Seconds for the till's engine to push its ``queued`` sales in batches of ``batch``: ledger
    reads, HTTP, the server's checks and commits, the acknowledgements. Only the round's push is
    timed (PouchDB's replication pulls nothing back either)."""
    engine = syncing.make_engine(terminal)
    engine._greet()  # the batch limits first: the push is what we time
    engine.max_batch_entries = batch
    report = RoundReport()
    server = SERVER_PIDS[terminal.config.server_url or ""]
    server_cpu, own_cpu = cpu_seconds(server), cpu_seconds()
    started = time.perf_counter()
    engine._push(report)
    took = time.perf_counter() - started
    cpu = cpu_seconds(server) - server_cpu + cpu_seconds() - own_cpu
    engine.client.http.close()
    assert report.accepted == queued and report.batches == -(-queued // batch), report.summary()
    assert terminal.ledger.read().execute("SELECT acked_seq FROM sync_state").fetchone()[0] == queued
    return took, cpu


def bench_versus_pouchdb(folder: Path, queued: int, rounds: int, batches: list[int], server_db: str) -> None:
    print(
        f"\n== our push vs PouchDB replication: {queued:,} journal entries, loopback, "
        f"pos-central on {server_db} vs express-pouchdb on LevelDB =="
    )
    install_pouchdb()
    with contextlib.ExitStack() as stack:
        if server_db == "postgresql":
            database_url = stack.enter_context(postgres_database())
        else:
            database_url = str(folder / "central-versus.sqlite3")
        db = central_db(database_url)
        url = stack.enter_context(pos_central(database_url))
        couch = stack.enter_context(pouchdb_server(folder / "pouchdb-server"))
        for batch in batches:
            ours: list[float] = []
            theirs: list[float] = []
            ours_cpu: list[float] = []
            theirs_cpu: list[float] = []
            for n in range(rounds):
                docs = folder / f"docs-{batch}-{n}.jsonl"
                till = folder / f"till-versus-{batch}-{n}"
                with till_with_queue(url, db, till, queued, docs) as terminal:
                    # Alternate which side goes first, so neither always runs on a warmer machine.
                    sides = ["ours", "pouchdb"] if n % 2 == 0 else ["pouchdb", "ours"]
                    for side in sides:
                        if side == "ours":
                            took, cpu = our_push(terminal, queued, batch)
                            ours.append(queued / took)
                            ours_cpu.append(cpu)
                        else:
                            result = pouchdb_replicate(
                                docs, couch, f"round-{batch}-{n}", batch, folder / f"pouch-{batch}-{n}"
                            )
                            assert result["docs_written"] == queued == result["doc_count"], result
                            theirs.append(queued / result["seconds"])
                            theirs_cpu.append(result["cpu_seconds"])
                print(
                    f"  batch {batch}, round {n + 1} ({' first, '.join(sides)} second):"
                    f" ours {ours[-1]:,.0f} sales/s, PouchDB {theirs[-1]:,.0f} docs/s,"
                    f" ratio {ours[-1] / theirs[-1]:.2f}; CPU seconds (client + server)"
                    f" ours {ours_cpu[-1]:.2f}, PouchDB {theirs_cpu[-1]:.2f}",
                    flush=True,
                )
                shutil.rmtree(till, ignore_errors=True)
                shutil.rmtree(folder / f"pouch-{batch}-{n}", ignore_errors=True)
                docs.unlink()
            ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
            print(
                f"batch {batch}: ours median {statistics.median(ours):,.0f} sales/s, PouchDB median"
                f" {statistics.median(theirs):,.0f} docs/s -> ratio {statistics.median(ratios):.2f}x"
                f" (median of {rounds} rounds: {', '.join(f'{r:.2f}' for r in ratios)});"
                f" CPU per 1,000 entries ours {statistics.median(ours_cpu) / queued * 1000:.3f} s,"
                f" PouchDB {statistics.median(theirs_cpu) / queued * 1000:.3f} s",
                flush=True,
            )
        db.dispose()


# --- 3: 1,000 terminals reconnecting at once on PostgreSQL ------------------------------------------


@dataclass
class FleetStore:
    """A terminal's queue in memory (the simulated terminals have no ledger)."""

    entries: list[JournalEntry]
    acked: int = 0
    status: SyncStatus | None = None
    errors: list[str] = field(default_factory=list)

    def acknowledged_seq(self) -> int:
        return self.acked

    def pending_entries(self, after_seq: int, limit: int) -> list[JournalEntry]:
        return self.entries[after_seq : after_seq + limit]

    def pending_wire(self, after_seq: int, limit: int) -> list[OutgoingEntry]:
        return [OutgoingEntry.of(e) for e in self.pending_entries(after_seq, limit)]

    def queued_count(self) -> int:
        return len(self.entries) - self.acked

    def record_push(self, high_seq: int, flagged: list[EntryResult]) -> None:
        self.acked = max(self.acked, high_seq)

    def flagged_count(self) -> int:
        return 0

    def cursor(self) -> str | None:
        return None

    def apply_changes_page(self, page: ChangesPage) -> None:
        pass

    def load_status(self) -> SyncStatus | None:
        return self.status

    def save_status(self, status: SyncStatus) -> None:
        self.status = status


def bench_fleet(terminals: int, sales_each: int, workers: int) -> None:
    print(
        f"\n== {terminals:,} terminals x {sales_each} sales reconnecting at once (pos-central serve on PostgreSQL) =="
    )
    with postgres_database() as url:
        db = central_db(url, stores=10)
        with pos_central(url) as server:
            setup = httpx.Client()
            enrolled = []
            for n in range(terminals):
                client = CentralClient(server, setup)
                enrolled.append(client.enroll(enrollment_code(db, f"S{n % 10 + 1:02d}"), f"sim {n}"))
            setup.close()
            queues = [FleetStore(chained(sales_each, e.terminal_code)) for e in enrolled]
            counting = CountingTransport(
                httpx.HTTPTransport(limits=httpx.Limits(max_connections=workers * 2))
            )
            http = httpx.Client(transport=counting, timeout=120)
            statuses: dict[int, int] = {}
            lock = threading.Lock()
            errors: list[str] = []

            def reconnect(index: int) -> None:
                engine = SyncEngine(CentralClient(server, http, enrolled[index].token), queues[index])
                engine._greeted = True  # limits are the protocol defaults; skip hello like a running app
                rng = random.Random(index)
                while True:
                    report = engine.round()
                    if report.ok:
                        return
                    error = report.error
                    with lock:
                        statuses[error.status or 0] = statuses.get(error.status or 0, 0) + 1  # type: ignore[union-attr]
                    if error is not None and error.status != 429:
                        errors.append(error.detail)
                    retry = error.retry_after if isinstance(error, Offline) and error.retry_after else 1.0
                    # Like a till: at least all of Retry-After, plus up to half again as jitter.
                    time.sleep(retry * rng.uniform(1.0, 1.5))

            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(reconnect, range(terminals)))
            took = time.perf_counter() - started
            http.close()
        total = terminals * sales_each
        with db.engine.connect() as conn:
            from sqlalchemy import func, select

            from sync.server import schema

            held = conn.execute(select(func.count()).select_from(schema.sales)).scalar_one()
        db.dispose()
    lat = counting.push_latencies
    non_429 = {k: v for k, v in statuses.items() if k != 429}
    print(
        f"{total:,} sales in {took:.1f} s: {total / took:,.0f} sales/s sustained ({workers} concurrent clients)"
    )
    print(
        f"push latency p50 {percentile(lat, 0.5) * 1000:.0f} ms, p99 {percentile(lat, 0.99) * 1000:.0f} ms ({len(lat)} pushes)"
    )
    print(
        f"429 answers: {statuses.get(429, 0)}; any other error: {sum(non_429.values())} {non_429 or ''} {errors[:3] or ''}"
    )
    print(f"server holds {held:,} sales (expected {total:,})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=1_000_000)
    parser.add_argument("--queued", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--terminals", type=int, default=1_000)
    parser.add_argument("--sales-per-terminal", type=int, default=10)
    parser.add_argument("--workers", type=int, default=100, help="client threads for the fleet")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds against PouchDB")
    parser.add_argument(
        "--batch",
        type=int,
        action="append",
        help="entries per batch against PouchDB (default: 100, PouchDB's default, and 500)",
    )
    parser.add_argument(
        "--server-db", choices=["sqlite", "postgresql"], default="sqlite", help="pos-central's database"
    )
    parser.add_argument(
        "--skip", action="append", default=[], choices=["catalog", "drain", "fleet", "pouchdb"]
    )
    parser.add_argument("--only", choices=["catalog", "drain", "fleet", "pouchdb"], help="run only this part")
    args = parser.parse_args()
    os.environ.setdefault("STORELINK_SECRETS", "file")
    folder = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    print(f"bench/sync.py on {os.cpu_count()} CPUs, SQLite {sqlite3.sqlite_version}, data in {folder}")
    if args.only:
        args.skip = [part for part in ("catalog", "drain", "fleet", "pouchdb") if part != args.only]
    try:
        if "pouchdb" not in args.skip:
            bench_versus_pouchdb(folder, args.queued, args.rounds, args.batch or [100, 500], args.server_db)
        if "drain" not in args.skip:
            bench_drain(folder, args.queued, args.runs)
        if "fleet" not in args.skip:
            bench_fleet(args.terminals, args.sales_per_terminal, args.workers)
        if "catalog" not in args.skip:
            bench_catalog(folder, args.products)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
