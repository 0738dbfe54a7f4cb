"""Long-poll: how soon a price saved at head office is on tills waiting on the change feed.

    .venv/bin/python bench/longpoll.py                                   # 1,000 tills, PostgreSQL
    .venv/bin/python bench/longpoll.py --tills 200 --changes 10 --database sqlite

One ``pos-central serve`` process (a fresh PostgreSQL database on 127.0.0.1, dropped after; or a
SQLite file) with ``--tills`` light tills and one real till waiting on ``GET /v1/changes?wait=``:

* the light tills are one asyncio process of httpx clients, each holding a long-poll from the
  feed's head and asking again as soon as an answer comes, like the real loop;
* the real till is the product: a ledger on disk, enrolled through the API, its background
  ``SyncLoop`` (``pos.services.syncing.start_background_sync``, hour-long timer) waiting on the
  feed. What is timed is its *applied* price: from head office's commit to the round that wrote
  the new price into the till's ledger (what the next scan or search shows) having returned.

Head office saves ``--changes`` price changes, a few seconds apart, through the same code as
``pos-central catalog import``. Prints the real till's latency (p50, p95, max), the light tills'
answer latency, and the server process's CPU time and memory over the run.
"""

# ruff: noqa: E402 - the path fix below must run before `import sync`
from __future__ import annotations

import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import psutil
import psycopg

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
POS_CENTRAL = str(Path(sys.executable).with_name("pos-central"))
SKU = "PRICE-ME"
BASE_PRICE = 1000  # minor units; generation g costs BASE_PRICE + g


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield str(folder / "central.sqlite3")
        return
    name = f"bench_longpoll_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def catalog_csv(products: int, generation: int) -> str:
    rows = ["sku,name,price,tax_rate,barcodes,unit"]
    rows += [f"P{i:06d},Product {i},{1 + i % 50}.99,19,,piece" for i in range(products)]
    price = BASE_PRICE + generation
    rows.append(f"{SKU},Changing price,{price // 100}.{price % 100:02d},19,,piece")
    return "\n".join(rows) + "\n"


def price_change_csv(generation: int) -> str:
    price = BASE_PRICE + generation
    return f"sku,name,price,tax_rate,barcodes,unit\n{SKU},Changing price,{price // 100}.{price % 100:02d},19,,piece\n"


def prepare(url: str, tills: int, products: int) -> tuple[list[str], str, str]:
    """Stores, catalog and the light tills (enrolled straight in the database); returns their
    tokens, the feed's head cursor, and an enrollment code for the real till."""
    from sync.server import changes
    from sync.server.catalog import import_catalog
    from sync.server.db import Database, utcnow
    from sync.server.stores import add_store, create_enrollment_code, enroll_terminal

    db = Database.from_url(url, pool_size=2)
    db.migrate()
    stores = max(1, (tills + 1) // 20)
    tokens = []
    with db.begin() as conn:
        now = utcnow()
        for s in range(stores):
            add_store(
                conn, code=f"S{s:03d}", name=f"Store {s}", currency="EUR", locale="de_DE",
                tax_mode="inclusive", now=now,
            )  # fmt: skip
        import_catalog(conn, catalog_csv(products, 0), now=now)
        for t in range(tills):
            code, _ = create_enrollment_code(conn, store_code=f"S{t % stores:03d}", now=now)
            tokens.append(enroll_terminal(conn, code=code, terminal_name=f"light {t}", now=now).token)
        real_code, _ = create_enrollment_code(conn, store_code="S000", now=now)
    with db.engine.connect() as conn:
        head = changes.encode_cursor(changes.head_seq(conn))
    db.dispose()
    return tokens, head, real_code


def save_price(url: str, generation: int) -> float:
    """Head office saves generation ``generation`` of the price; returns when it was committed."""
    from sync.server.catalog import import_catalog
    from sync.server.db import Database, utcnow

    db = Database.from_url(url, pool_size=1)
    try:
        with db.begin() as conn:
            import_catalog(conn, price_change_csv(generation), now=utcnow())
        return time.time()
    finally:
        db.dispose()


# --- the light tills (a child process) ------------------------------------------------------------


async def light_tills(base: str, tokens: list[str], cursor: str, wait: float) -> None:
    """Each token long-polls from ``cursor``; prints "ready" once every till asked, then on stdin's
    end prints what each saw: {price: [arrival times]} and the failures."""
    seen: dict[int, list[float]] = {}
    failures: dict[str, int] = {}
    stopping = asyncio.Event()
    limits = httpx.Limits(max_connections=len(tokens) + 10, max_keepalive_connections=len(tokens) + 10)
    timeout = httpx.Timeout(wait + 30, connect=30)
    asked = 0
    all_asked = asyncio.Event()

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=timeout) as client:

        async def till(token: str) -> None:
            nonlocal asked
            after = cursor
            headers = {"Authorization": f"Bearer {token}", "X-Storelink-Protocol": "1"}
            first = True
            while not stopping.is_set():
                request = client.get(
                    "/v1/changes", params={"cursor": after, "wait": wait, "limit": 500}, headers=headers
                )
                if first:
                    first = False
                    asked += 1
                    if asked == len(tokens):
                        all_asked.set()
                try:
                    answer = await request
                except httpx.HTTPError as exc:
                    failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
                    await asyncio.sleep(1)
                    continue
                arrived = time.time()
                if answer.status_code != 200:
                    failures[str(answer.status_code)] = failures.get(str(answer.status_code), 0) + 1
                    await asyncio.sleep(float(answer.headers.get("Retry-After", "1")))
                    continue
                page = orjson.loads(answer.content)
                for change in page["changes"]:
                    if change["key"] == SKU and change["data"]:
                        seen.setdefault(int(change["data"]["price"]), []).append(arrived)
                after = page["cursor"]

        tasks = [asyncio.create_task(till(token)) for token in tokens]
        await all_asked.wait()
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        stopping.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps({"seen": seen, "failures": failures}), flush=True)


# --- the real till --------------------------------------------------------------------------------


class RealTill:
    """A till with its ledger on disk and its background sync loop waiting on the feed."""

    def __init__(self, folder: Path, base: str, code: str) -> None:
        from pos.services import syncing
        from pos.services.terminal import open_terminal

        os.environ.setdefault("STORELINK_SECRETS", "file")
        self._stack = contextlib.ExitStack()
        self.terminal = self._stack.enter_context(
            open_terminal(folder, secrets_backend="file", daily_backup=False)
        )
        syncing.enroll(self.terminal, base, code, terminal_name="real till")
        self.applied: dict[int, float] = {}
        self._changed = threading.Condition()
        self.loop = syncing.start_background_sync(self.terminal, interval=3600, on_round=self._on_round)

    def _on_round(self, report: Any) -> None:
        from pos.ledger import catalog

        if not report.changes:
            return
        product = catalog.by_sku(self.terminal.ledger.read(), SKU)
        if product is None:
            return
        at = time.time()
        with self._changed:
            self.applied.setdefault(product.price, at)
            self._changed.notify_all()

    def wait_for(self, price: int, timeout: float) -> float | None:
        with self._changed:
            self._changed.wait_for(lambda: price in self.applied, timeout=timeout)
            return self.applied.get(price)

    def close(self) -> None:
        self.loop.stop()
        self._stack.close()


# --- the run --------------------------------------------------------------------------------------


class ServerWatch:
    """CPU seconds and resident memory of the server process (sampled for the peak)."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def cpu(self) -> float:
        times = self.process.cpu_times()
        return float(times.user + times.system)

    def rss(self) -> int:
        return int(self.process.memory_info().rss)

    def _sample(self) -> None:
        while not self._stop.wait(0.25):
            with contextlib.suppress(psutil.Error):
                self.peak_rss = max(self.peak_rss, self.rss())

    def __enter__(self) -> ServerWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-longpoll-"))
    print(
        f"bench/longpoll.py: {args.tills:,} light tills + 1 real till, one pos-central process on"
        f" {args.database}, {args.changes} price changes, long-poll wait {args.wait:g} s, {os.cpu_count()} CPUs"
    )
    try:
        with database(args.database, folder) as url:
            started = time.perf_counter()
            tokens, head, real_code = prepare(url, args.tills, args.products)
            print(
                f"set-up (stores, {args.products} products, {args.tills} tills): {time.perf_counter() - started:.1f} s"
            )
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            with open(folder / "server.log", "wb") as log:
                server = subprocess.Popen(
                    [POS_CENTRAL, "serve", "--database", url, "--port", str(port)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            try:
                deadline = time.monotonic() + 120
                while True:
                    with contextlib.suppress(httpx.TransportError):
                        if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                            break
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit(f"pos-central serve did not start; see {folder / 'server.log'}")
                    time.sleep(0.2)
                measure(args, url, base, server.pid, tokens, head, real_code, folder)
            finally:
                server.terminate()
                server.wait(timeout=60)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def measure(
    args: argparse.Namespace,
    url: str,
    base: str,
    pid: int,
    tokens: list[str],
    head: str,
    real_code: str,
    folder: Path,
) -> None:
    till = RealTill(folder / "till", base, real_code)
    try:
        if till.wait_for(BASE_PRICE, 120) is None:
            raise SystemExit("the real till's first sync did not bring the catalog")
        tokens_file = folder / "tokens.json"
        tokens_file.write_text(json.dumps(tokens))
        light = subprocess.Popen(
            [sys.executable, __file__, "--light", base, str(tokens_file), head, str(args.wait)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert light.stdout is not None and light.stdin is not None
        if light.stdout.readline().strip() != "ready":
            raise SystemExit("the light tills did not start")
        time.sleep(2)  # let their first long-polls reach the server
        saved: dict[int, float] = {}
        real: list[float] = []
        rng = random.Random(1)
        with ServerWatch(pid) as watch:
            cpu_before, rss_before = watch.cpu(), watch.rss()
            window = time.perf_counter()
            for generation in range(1, args.changes + 1):
                time.sleep(args.gap * rng.uniform(0.7, 1.3))
                saved[generation] = save_price(url, generation)
                applied = till.wait_for(BASE_PRICE + generation, 30)
                if applied is None:
                    print(f"  change {generation}: the real till did not show it within 30 s")
                    continue
                real.append(applied - saved[generation])
            time.sleep(2)  # the light tills' last answers
            window = time.perf_counter() - window
            cpu = watch.cpu() - cpu_before
            rss_after = watch.rss()
        light.stdin.close()
        result = json.loads(light.stdout.read().strip().splitlines()[-1])
        light.wait(timeout=60)
    finally:
        till.close()
    light_latency = []
    missing = 0
    for generation, at in saved.items():
        arrivals = result["seen"].get(str(BASE_PRICE + generation), [])
        missing += len(tokens) - len(arrivals)
        light_latency += [a - at for a in arrivals]
    print(
        f"real till, head office commit -> new price applied in its ledger ({len(real)} of {args.changes} changes):"
        f" p50 {percentile(real, 0.5) * 1000:,.0f} ms, p95 {percentile(real, 0.95) * 1000:,.0f} ms,"
        f" max {max(real, default=float('nan')) * 1000:,.0f} ms"
    )
    print(
        f"light tills, commit -> long-poll answer ({len(light_latency):,} answers, {missing} missing):"
        f" p50 {percentile(light_latency, 0.5) * 1000:,.0f} ms, p95 {percentile(light_latency, 0.95) * 1000:,.0f} ms,"
        f" p99 {percentile(light_latency, 0.99) * 1000:,.0f} ms; failures {result['failures'] or 'none'}"
    )
    print(
        f"server process over {window:.0f} s: {cpu:.1f} CPU seconds ({cpu / window * 100:.0f}% of one core),"
        f" resident memory {rss_before / 2**20:.0f} MB before, {rss_after / 2**20:.0f} MB after,"
        f" peak {watch.peak_rss / 2**20:.0f} MB"
    )
    if real:
        print(f"median of changes: {statistics.median(real) * 1000:,.0f} ms")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--light":
        base, tokens_file, cursor, wait = sys.argv[2:6]
        asyncio.run(light_tills(base, json.loads(Path(tokens_file).read_text()), cursor, float(wait)))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tills", type=int, default=1000, help="light tills long-polling (default 1000)")
    parser.add_argument("--changes", type=int, default=40, help="price changes saved at head office")
    parser.add_argument("--gap", type=float, default=3.0, help="seconds between changes (jittered)")
    parser.add_argument("--products", type=int, default=200, help="catalog size")
    parser.add_argument("--wait", type=float, default=25.0, help="long-poll wait the light tills ask for")
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
