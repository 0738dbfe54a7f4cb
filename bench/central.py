"""Central ingest: many terminals reconnecting at once and pushing their queued sales.

Starts a real ``pos-central serve`` on PostgreSQL (a fresh database on 127.0.0.1, dropped after),
enrolls ``--terminals`` terminals, and lets them all push ``--sales`` queued sales each, in batches,
at the same moment, over HTTP with httpx (asyncio). A terminal told 429 waits the Retry-After
(with jitter) and tries again, as the real sync engine does. Prints sales/s, push latency
percentiles, how many 429s and errors there were, and beside it a bare baseline measured in the
same run: the same journal, sale and line rows INSERTed straight into PostgreSQL over one
connection, one transaction per batch.

    .venv/bin/python bench/central.py --terminals 1000 --sales 20 --batch 50 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import uuid_utils

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sync.codes import make_claim_code  # noqa: E402
from sync.protocol import GENESIS_HASH, PROTOCOL_VERSION, chain_hash, entry_body  # noqa: E402
from sync.server.db import Database, utcnow  # noqa: E402
from sync.server.stores import add_store, create_enrollment_code, enroll_terminal  # noqa: E402

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass
class Till:
    id: int
    token: str
    bodies: list[bytes] = field(default_factory=list)
    rows: list[list[dict[str, Any]]] = field(default_factory=list)  # entries per batch, for the baseline


def sale(till_id: int, claim_key: bytes, n: int) -> dict[str, Any]:
    lines = [
        {
            "line_no": i,
            "sku": f"SKU-{random.randrange(5000):05d}",
            "name": "Thing",
            "unit": "piece",
            "quantity_milli": 1000,
            "unit_price": 250 * i,
            "discount": 0,
            "total": 250 * i,
            "tax_rate": "19",
            "barcode": None,
        }
        for i in (1, 2)
    ]
    total = sum(line["total"] for line in lines)
    return {
        "sale_id": str(uuid.uuid4()),
        "receipt_no": f"R-{n:06d}",
        "currency": "EUR",
        "tax_mode": "inclusive",
        "lines": lines,
        "taxes": [
            {"rate": "19", "net": round(total / 1.19), "tax": total - round(total / 1.19), "gross": total}
        ],
        "sale_discount": 0,
        "total": total,
        "rounding": 0,
        "tenders": [{"kind": "cash", "amount": total, "tendered": total, "reference": None}],
        "change": 0,
        "claim_code": make_claim_code(terminal_id=till_id, claim_key=claim_key, today=utcnow().date()).text,
        "member_id": None,
        "cashier_id": "1",
        "approved_by": None,
        "shift_id": None,
        "original_sale_id": None,
        "completed_at": datetime.now(UTC).isoformat(),
    }


def prepare(url: str, terminals: int, sales: int, batch: int) -> list[Till]:
    db = Database.from_url(url, pool_size=2)
    db.migrate()
    tills = []
    with db.begin() as conn:
        now = utcnow()
        stores = max(1, terminals // 20)
        for s in range(stores):
            add_store(
                conn,
                code=f"S{s:03d}",
                name=f"Store {s}",
                currency="EUR",
                locale="de_DE",
                tax_mode="inclusive",
                now=now,
            )
        for t in range(terminals):
            code, _ = create_enrollment_code(conn, store_code=f"S{t % stores:03d}", now=now)
            new = enroll_terminal(conn, code=code, terminal_name=f"till {t}", now=now)
            till = Till(new.terminal_id, new.token)
            head, entries = GENESIS_HASH, []
            for seq in range(1, sales + 1):
                body = entry_body(
                    seq=seq,
                    event_id=str(uuid_utils.uuid7()),
                    type="sale.completed",
                    schema_version=1,
                    occurred_at=datetime.now(UTC).isoformat(),
                    payload=sale(new.terminal_id, new.claim_key, seq),
                )
                entry = {**body, "prev_hash": head, "hash": chain_hash(head, body)}
                head = entry["hash"]
                entries.append(entry)
            for start in range(0, sales, batch):
                chunk = entries[start : start + batch]
                till.rows.append(chunk)
                till.bodies.append(
                    json.dumps(
                        {
                            "protocol_version": PROTOCOL_VERSION,
                            "entries": chunk,
                            "queued": sales - start - len(chunk),
                        }
                    ).encode()
                )
            tills.append(till)
    db.dispose()
    return tills


async def _post(conn: list[Any], port: int, request: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
    """One HTTP/1.1 request on the terminal's keep-alive connection (opened on first use)."""
    if not conn:
        conn.extend(await asyncio.open_connection("127.0.0.1", port))
    reader, writer = conn
    writer.write(request)
    await writer.drain()
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed")
    headers: dict[bytes, bytes] = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
    if headers.get(b"connection", b"").lower() == b"close":
        writer.close()
        conn.clear()
    return int(status_line.split()[1]), headers, body


async def push_all(port: int, tills: list[Till]) -> dict[str, Any]:
    """Every terminal pushes all its batches at once, each on its own connection.

    A bare asyncio HTTP client: with a thousand terminals on a small machine, a full HTTP client
    library would spend more CPU than the server and measure itself.
    """
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    transport_errors = 0

    async def one(till: Till) -> None:
        nonlocal transport_errors
        conn: list[Any] = []
        head = (
            f"POST /v1/push HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {till.token}\r\n"
        ).encode()
        try:
            for number, body in enumerate(till.bodies, start=1):
                request = head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
                while True:
                    started = time.perf_counter()
                    try:
                        status, headers, answer = await _post(conn, port, request)
                    except (OSError, ConnectionError, asyncio.IncompleteReadError):
                        transport_errors += 1
                        conn.clear()
                        await asyncio.sleep(1)
                        continue
                    statuses[status] = statuses.get(status, 0) + 1
                    if status == 200:
                        latencies.append(time.perf_counter() - started)
                        if number == len(till.bodies):
                            assert json.loads(answer)["high_seq"] == sum(len(c) for c in till.rows)
                        break
                    # Like a till: at least all of Retry-After, plus up to half again as jitter.
                    pause = float(headers.get(b"retry-after", b"1")) * random.uniform(1.0, 1.5)
                    if pause > 4 and conn:
                        # The server drops idle keep-alive connections after 5 s: hang up first.
                        conn[1].close()
                        conn.clear()
                    await asyncio.sleep(pause)
        finally:
            if conn:
                conn[1].close()

    started = time.perf_counter()
    await asyncio.gather(*(one(t) for t in tills))
    wall = time.perf_counter() - started
    return {"wall": wall, "latencies": latencies, "statuses": statuses, "transport_errors": transport_errors}


def bare_insert(url: str, tills: list[Till]) -> float:
    """Seconds to INSERT the same journal, sale and line rows over one connection, a transaction per batch."""
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        conn.execute(
            "CREATE TABLE bare_journal (terminal_id int, seq bigint, event_id text PRIMARY KEY, type text,"
            " payload json, prev_hash text, hash text, UNIQUE (terminal_id, seq));"
            "CREATE TABLE bare_sales (id text PRIMARY KEY, terminal_id int, total bigint, claim_code text UNIQUE,"
            " payload json);"
            "CREATE TABLE bare_lines (sale_id text, line_no int, sku text, quantity_milli bigint, total bigint,"
            " PRIMARY KEY (sale_id, line_no))"
        )
        conn.commit()
        started = time.perf_counter()
        for till in tills:
            for chunk in till.rows:
                with conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO bare_journal VALUES (%s, %s, %s, %s, %s, %s, %s)",
                        [
                            (
                                till.id,
                                e["seq"],
                                e["event_id"],
                                e["type"],
                                json.dumps(e["payload"]),
                                e["prev_hash"],
                                e["hash"],
                            )
                            for e in chunk
                        ],
                    )
                    cur.executemany(
                        "INSERT INTO bare_sales VALUES (%s, %s, %s, %s, %s)",
                        [
                            (
                                e["payload"]["sale_id"],
                                till.id,
                                e["payload"]["total"],
                                e["payload"]["claim_code"],
                                json.dumps(e["payload"]),
                            )
                            for e in chunk
                        ],
                    )
                    cur.executemany(
                        "INSERT INTO bare_lines VALUES (%s, %s, %s, %s, %s)",
                        [
                            (
                                e["payload"]["sale_id"],
                                line["line_no"],
                                line["sku"],
                                line["quantity_milli"],
                                line["total"],
                            )
                            for e in chunk
                            for line in e["payload"]["lines"]
                        ],
                    )
                conn.commit()
        return time.perf_counter() - started


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_once(args: argparse.Namespace) -> dict[str, float]:
    name = f"bench_central_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    try:
        tills = prepare(url, args.terminals, args.sales, args.batch)
        port = free_port()
        central = Path(sys.executable).with_name("pos-central")
        with tempfile.TemporaryFile() as log:
            server = subprocess.Popen(
                [
                    str(central),
                    "serve",
                    "--database",
                    url,
                    "--port",
                    str(port),
                    "--pool-size",
                    "12",
                    "--workers",
                    str(args.workers),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ},
            )
            try:
                base = f"http://127.0.0.1:{port}"
                for _ in range(600):
                    try:
                        if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                            break
                    except httpx.TransportError:
                        time.sleep(0.1)
                result = asyncio.run(push_all(port, tills))
            finally:
                server.terminate()
                server.wait(timeout=30)
        with psycopg.connect(url) as conn:
            held = conn.execute("SELECT count(*) FROM sales").fetchone()[0]  # type: ignore[index]
        expected = args.terminals * args.sales
        assert held == expected, f"server holds {held} sales, expected {expected}"
        bare = bare_insert(url, tills)
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
    lat = sorted(result["latencies"])
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000  # noqa: E731
    server_rate = expected / result["wall"]
    bare_rate = expected / bare
    s = result["statuses"]
    fivexx = sum(v for k, v in s.items() if k >= 500)
    print(
        f"  {expected} sales from {args.terminals} terminals in {result['wall']:.1f} s: {server_rate:,.0f} sales/s; "
        f"push p50 {p(0.5):.0f} ms, p99 {p(0.99):.0f} ms; 200: {s.get(200, 0)}, 429: {s.get(429, 0)}, "
        f"5xx: {fivexx}, transport errors: {result['transport_errors']}; bare INSERT {bare_rate:,.0f} sales/s "
        f"(server at {server_rate / bare_rate:.2f}x of bare)",
        flush=True,
    )
    return {
        "rate": server_rate,
        "p99": p(0.99),
        "p50": p(0.5),
        "bare": bare_rate,
        "fivexx": fivexx,
        "429": s.get(429, 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--terminals", type=int, default=1000)
    parser.add_argument("--sales", type=int, default=20, help="queued sales per terminal")
    parser.add_argument("--batch", type=int, default=50, help="entries per push")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="pos-central serve --workers")
    args = parser.parse_args()
    print(
        f"central ingest on PostgreSQL: {args.terminals} terminals x {args.sales} sales, batches of {args.batch}"
    )
    runs = [run_once(args) for _ in range(args.runs)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(
        f"median of {len(runs)} runs: {med['rate']:,.0f} sales/s, push p50 {med['p50']:.0f} ms, p99 {med['p99']:.0f} ms, "
        f"bare INSERT {med['bare']:,.0f} sales/s, ratio {med['rate'] / med['bare']:.2f}; "
        f"5xx in all runs: {sum(r['fivexx'] for r in runs)}"
    )


if __name__ == "__main__":
    main()
