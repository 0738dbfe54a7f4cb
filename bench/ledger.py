"""Ledger benchmark: a generated catalog of N products (default 1,000,000) on a real disk.

Prints: import time (through the same import code as `pos catalog import`), barcode lookup
p50/p99, product search p99 by name and by code prefix, sale commit p50/p99 next to a bare SQLite
`synchronous=FULL` WAL commit measured in the same run on the same disk (and their ratio), the
start-up integrity check, and resident memory.

    .venv/bin/python bench/ledger.py                   # 1,000,000 products
    .venv/bin/python bench/ledger.py --products 20000  # quick
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("STORELINK_SECRETS", "file")

from biip.checksums import gs1_standard_check_digit

from pos.ledger import catalog
from pos.services import sale, shift, staff
from pos.services.catalog import import_catalog, search_products
from pos.services.terminal import open_terminal

BRANDS = [
    "Nordlicht",
    "Hansen",
    "Alpenhof",
    "Kieler",
    "Rosenthal",
    "Marlow",
    "Brightwell",
    "Ferro",
    "Linde",
    "Oakridge",
    "Aurora",
    "Baltic",
]
ADJECTIVES = [
    "organic",
    "classic",
    "slim",
    "cotton",
    "wool",
    "leather",
    "smart",
    "wireless",
    "large",
    "small",
    "red",
    "blue",
    "green",
    "black",
    "white",
]
NOUNS = [
    "shirt",
    "jeans",
    "socks",
    "jacket",
    "scarf",
    "belt",
    "shoes",
    "sneakers",
    "towel",
    "sheet",
    "mug",
    "knife",
    "pan",
    "glasses",
    "cushion",
    "frame",
    "novel",
    "atlas",
    "puzzle",
    "bricks",
    "bear",
    "shampoo",
    "gel",
    "cream",
    "toothpaste",
    "notebook",
    "pens",
    "paper",
    "highlighter",
    "kettle",
    "toaster",
    "charger",
    "earbuds",
    "speaker",
    "cable",
    "plug",
    "milk",
    "butter",
    "eggs",
    "bread",
    "rice",
    "pasta",
    "oil",
    "coffee",
    "tea",
    "chocolate",
]
SIZES = ["S", "M", "L", "XL", "250 g", "500 g", "1 kg", "1 l", "2 pack", "4 pack", "30 cm", "A5"]


def gtin13(n: int) -> str:
    body = f"{400 + n % 40}{n:09d}"[-12:]
    return body + str(gs1_standard_check_digit(body))


def write_catalog(path: Path, count: int, rng: random.Random) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("sku,name,price,tax_rate,barcodes,unit\n")
        for n in range(count):
            name = f"{rng.choice(BRANDS)} {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {rng.choice(SIZES)}"
            price = f"{rng.randint(49, 19999) / 100:.2f}"
            rate = "7" if n % 3 == 0 else "19"
            unit = "kg" if n % 50 == 0 else "piece"
            out.write(f"SKU{n:07d},{name},{price},{rate},{gtin13(n)},{unit}\n")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def timed(fn: Callable[[], object], times: int) -> list[float]:
    result = []
    for _ in range(times):
        start = time.perf_counter()
        fn()
        result.append((time.perf_counter() - start) * 1000)
    return result


class BareCommit:
    """One small INSERT + COMMIT per transaction on a WAL file with synchronous=FULL, same disk."""

    def __init__(self, folder: Path) -> None:
        self.conn = sqlite3.connect(str(folder / "bare.sqlite3"), isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, data TEXT)")
        self.payload = "x" * 600

    def once(self) -> float:
        start = time.perf_counter()
        self.conn.execute("BEGIN")
        self.conn.execute("INSERT INTO t (data) VALUES (?)", (self.payload,))
        self.conn.execute("COMMIT")
        return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--products", type=int, default=1_000_000)
    parser.add_argument("--sales", type=int, default=300, help="sales committed (and bare commits)")
    parser.add_argument("--queries", type=int, default=1000, help="lookups and searches of each kind")
    parser.add_argument("--dir", type=Path, default=None, help="work here (default: a temp dir on /tmp)")
    args = parser.parse_args()
    rng = random.Random(7)
    base = args.dir or Path(tempfile.mkdtemp(prefix="pos-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    data_dir = base / "till"
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()},"
        f" SQLite {sqlite3.sqlite_version}; dir {base}"
    )

    csv_path = base / "catalog.csv"
    start = time.perf_counter()
    write_catalog(csv_path, args.products, rng)
    print(
        f"generated {args.products:,} products in {time.perf_counter() - start:.1f} s"
        f" ({csv_path.stat().st_size / 1e6:.0f} MB CSV)"
    )

    terminal = open_terminal(data_dir, secrets_backend="file", daily_backup=False)
    start = time.perf_counter()
    report = import_catalog(terminal, csv_path)
    elapsed = time.perf_counter() - start
    print(f"import: {report.rows:,} products in {elapsed:.1f} s ({report.rows / elapsed:,.0f} rows/s)")
    terminal.ledger.close()

    start = time.perf_counter()
    terminal = open_terminal(data_dir, secrets_backend="file", daily_backup=False)
    print(
        f"open with the start-up integrity check: {(time.perf_counter() - start) * 1000:.0f} ms"
        f" (ledger {(data_dir / 'ledger.sqlite3').stat().st_size / 1e6:.0f} MB)"
    )
    start = time.perf_counter()
    problems = terminal.ledger.integrity_problems()
    print(
        f"full quick_check (as pos ledger verify runs it): {(time.perf_counter() - start) * 1000:.0f} ms,"
        f" {'ok' if not problems else problems[:3]}"
    )
    reader = terminal.ledger.read()

    codes = [gtin13(rng.randrange(args.products)) for _ in range(args.queries)]
    it = iter(codes)
    lookups = timed(lambda: catalog.by_barcode(reader, next(it)), len(codes))
    print(f"barcode lookup: p50 {percentile(lookups, 50):.3f} ms, p99 {percentile(lookups, 99):.3f} ms")

    words = [
        " ".join(
            w[: rng.randint(2, len(w))] for w in rng.sample(BRANDS + NOUNS + ADJECTIVES, rng.randint(1, 2))
        )
        for _ in range(args.queries)
    ]
    it = iter(words)
    names = timed(lambda: search_products(terminal, next(it), 20), len(words))
    print(f"search by name: p50 {percentile(names, 50):.2f} ms, p99 {percentile(names, 99):.2f} ms")
    prefixes = [gtin13(rng.randrange(args.products))[: rng.randint(3, 10)] for _ in range(args.queries)]
    it = iter(prefixes)
    code_search = timed(lambda: search_products(terminal, next(it), 20), len(prefixes))
    print(
        f"search by code prefix: p50 {percentile(code_search, 50):.2f} ms,"
        f" p99 {percentile(code_search, 99):.2f} ms"
    )

    staff.add_staff(terminal, name="Bench", role="manager", pin="2468")
    staff.sign_in(terminal, "2468")
    shift.open_shift(terminal, 0)
    commits: list[float] = []
    bare: list[float] = []
    baseline = BareCommit(base)
    for n in range(args.sales):
        s = sale.start_sale(terminal)
        for i in range(3):
            sale.set_next_quantity(s, 1000)  # one piece, or 1 kg of a weighed item
            sale.scan(terminal, s, codes[(n * 3 + i) % len(codes)])
        sale.tender_cash(terminal, s, s.totals().total + 1000)
        start = time.perf_counter()
        sale.complete_sale(terminal, s)
        commits.append((time.perf_counter() - start) * 1000)
        # Interleaved, so both see the same disk and the same neighbours on a shared machine.
        bare.append(baseline.once())
    baseline.conn.close()
    print(
        f"sale commit (3 lines, journal entry durable): p50 {percentile(commits, 50):.2f} ms,"
        f" p99 {percentile(commits, 99):.2f} ms"
    )
    print(
        f"bare SQLite WAL synchronous=FULL commit:      p50 {percentile(bare, 50):.2f} ms,"
        f" p99 {percentile(bare, 99):.2f} ms"
    )
    print(
        f"ratio sale/bare: p50 {percentile(commits, 50) / percentile(bare, 50):.2f}x,"
        f" p99 {percentile(commits, 99) / percentile(bare, 99):.2f}x"
        f" (median of per-run means {statistics.mean(commits) / statistics.mean(bare):.2f}x)"
    )
    rss = psutil.Process().memory_info().rss / 1e6
    print(f"resident memory: {rss:.0f} MB")
    terminal.ledger.close()


if __name__ == "__main__":
    main()
