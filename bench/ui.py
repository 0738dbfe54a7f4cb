"""Cashier app benchmark on a generated catalog of N products (default 1,000,000).

Prints, from several runs: scanner Enter to line visible in the sale table p50/p99 (from the Enter
key event to the table's repaint showing the new line), next to a bare barcode lookup on the same
ledger measured in the same run (the floor under any scan); terminal start to usable sign-in screen
and to the sale screen after a PIN, in a fresh process each time; resident memory; F2 product search
from the last keystroke to the results painted, with every product carrying a stock figure from the
change feed (so the Stock column is filled as on an enrolled till), and the CPU time of its two
halves (the search on the worker thread, filling the table on the UI thread).

    .venv/bin/python bench/ui.py                    # 1,000,000 products (generated and imported once)
    .venv/bin/python bench/ui.py --products 20000   # quick
    .venv/bin/python bench/ui.py --dir /tmp/ui-bench  # keep and reuse the imported catalog

Runs offscreen by default; set QT_QPA_PLATFORM=xcb under Xvfb for an X11 window.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("STORELINK_SECRETS", "file")


def bench_ledger():  # type: ignore[no-untyped-def]
    """bench/ledger.py (its catalog generator), loaded by path: bench/ is not a package."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_ledger", HERE / "ledger.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def prepare(base: Path, products: int) -> Path:
    """The demo terminal with the generated catalog imported (reused when ``base`` already has it)."""
    write_catalog = bench_ledger().write_catalog  # the same generator as the ledger benchmark

    from pos.demo import prepare_demo

    data_dir = base / "till"
    if (data_dir / "stock.ready").exists():
        return data_dir
    if (data_dir / "demo.ready").exists():
        give_stock(data_dir, products)
        (data_dir / "stock.ready").write_text("ok")
        return data_dir
    csv_path = base / "catalog.csv"
    start = time.perf_counter()
    write_catalog(csv_path, products, random.Random(7))
    print(f"generated {products:,} products in {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    prepare_demo(data_dir, catalog=csv_path)
    print(f"demo terminal with the catalog imported in {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    give_stock(data_dir, products)
    print(f"a stock figure for every product through the change feed in {time.perf_counter() - start:.1f} s")
    (data_dir / "stock.ready").write_text("ok")
    return data_dir


def give_stock(data_dir: Path, products: int) -> None:
    """Head office's on-hand figure for every product, applied the way the feed brings them, so the
    F2 search shows (and pays for) the stock column as on an enrolled till."""
    from pos.services.syncing import LedgerSyncStore
    from pos.services.terminal import close_terminal, open_terminal
    from sync.protocol import Change, ChangeKind, ChangesPage

    terminal = open_terminal(data_dir, daily_backup=False)
    try:
        store = LedgerSyncStore(terminal.ledger)
        rng = random.Random(3)
        for first in range(0, products, 5000):
            update = f"stock-{first}"
            last = min(first + 5000, products)
            changes = [
                Change(
                    seq=n + 1,
                    kind=ChangeKind.STOCK,
                    key=f"SKU{n:07d}",
                    data={"on_hand_milli": rng.randrange(0, 500) * (1000 if n % 50 else 37)},
                    update_id=update,
                    last_in_update=n == last - 1,
                )
                for n in range(first, last)
            ]
            store.apply_changes_page(
                ChangesPage(changes=changes, cursor=str(last), has_more=last < products, server_time="")
            )
    finally:
        close_terminal(terminal)


def child_start(data_dir: Path, launched: float) -> None:
    """Run in a fresh process: start the GUI, wait until it is usable, print the times as JSON."""
    import psutil
    from PySide6.QtCore import QEvent, QObject, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QWidget

    imported = time.time()
    from pos.app import application, build_terminal
    from pos.demo import DEMO_STAFF
    from pos.ui.service_till import ServiceTill

    painted: dict[str, float] = {}

    class PaintWatch(QObject):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and self.name not in painted:
                painted[self.name] = time.time()
            return False

    application()
    term = build_terminal(ServiceTill.open(data_dir, demo_pins=DEMO_STAFF), language="en")
    sign_in_watch, sale_watch = PaintWatch("sign_in"), PaintWatch("sale")
    term.window.sign_in.installEventFilter(sign_in_watch)
    term.window.sale_screen.installEventFilter(sale_watch)
    term.window.show()
    term.display.show()
    while "sign_in" not in painted:
        QApplication.processEvents()
    pin = term.window.findChild(QWidget, "pinInput")
    typed = time.time()
    QTest.keyClicks(pin, DEMO_STAFF[0][2])
    QTest.keyClick(pin, Qt.Key.Key_Return)
    while "sale" not in painted:
        QApplication.processEvents()
    rss = psutil.Process().memory_info().rss
    print(
        json.dumps(
            {
                "import_s": imported - launched,
                "sign_in_screen_s": painted["sign_in"] - launched,
                "pin_to_sale_screen_s": painted["sale"] - typed,
                "rss_mb": rss / 1e6,
            }
        )
    )
    term.close()


def measure_scans(data_dir: Path, products: int, scans: int) -> dict[str, list[float] | float]:
    """In this process: sign in, then scan ``scans`` random products, timing Enter -> line painted."""
    import psutil

    gtin13 = bench_ledger().gtin13
    from PySide6.QtCore import QEvent, QObject, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QWidget

    from pos.app import application, build_terminal
    from pos.demo import DEMO_STAFF
    from pos.ledger import catalog
    from pos.ui.service_till import ServiceTill

    application()
    till = ServiceTill.open(data_dir, demo_pins=DEMO_STAFF)
    term = build_terminal(till, language="en")
    term.window.show()
    term.display.show()
    screen = term.window.sale_screen
    state = {"want": -1, "at": 0.0}

    class PaintWatch(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and screen.model.rowCount() == state["want"]:
                state["at"] = time.perf_counter()
            return False

    watch = PaintWatch()
    screen.table.viewport().installEventFilter(watch)
    pin = term.window.findChild(QWidget, "pinInput")
    QTest.keyClicks(pin, DEMO_STAFF[0][2])
    QTest.keyClick(pin, Qt.Key.Key_Return)
    while term.window.current_screen() is not screen:
        QApplication.processEvents()

    rng = random.Random(11)
    kg_free = [n for n in (rng.randrange(products) for _ in range(scans * 2)) if n % 50 != 0][:scans]
    latencies: list[float] = []
    for index, n in enumerate(kg_free):
        if index and index % 25 == 0:  # a sale of 25 lines, then the next one
            screen.void_sale()
            while screen.model.rowCount():
                QApplication.processEvents()
        state["want"], state["at"] = screen.model.rowCount() + 1, 0.0
        QTest.keyClicks(screen.scan_input, gtin13(n))  # the scanner's digits (not timed)
        start = time.perf_counter()
        QTest.keyClick(screen.scan_input, Qt.Key.Key_Return)
        while not state["at"]:
            QApplication.processEvents()
        latencies.append((state["at"] - start) * 1000)
    rss = psutil.Process().memory_info().rss / 1e6

    # F2 search: time from the last keystroke of a query to its results shown in the dialog.
    generator = bench_ledger()
    words = [rng.choice(generator.BRANDS + generator.NOUNS) for _ in range(100)]
    queries = [w[: rng.randint(3, len(w))] for w in words if len(w) >= 3]
    screen.void_sale()
    while term.runner.pending:
        QApplication.processEvents()
    screen.open_search()
    dialog = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "searchDialog")
    # "Shown" is the results table's repaint after the answer for the last keystroke was filled in.
    # Beside it, the CPU time of the two halves of an answer (thread CPU clocks: what the code
    # costs, whatever the neighbours on a shared machine do): the search on the worker thread and
    # filling the table on the UI thread.
    shown = {"filled": False, "at": 0.0}
    cpu = {"search": 0.0, "fill": 0.0}
    show = dialog._show  # type: ignore[attr-defined]
    search = till.search

    def timed_search(text: str, limit: int = 50) -> Any:
        begin = time.thread_time()
        hits = search(text, limit)
        cpu["search"] = (time.thread_time() - begin) * 1000
        return hits

    def timed_show(hits: Any, generation: int) -> None:
        begin = time.thread_time()
        show(hits, generation)
        cpu["fill"] = (time.thread_time() - begin) * 1000
        if generation == dialog._generation:  # type: ignore[attr-defined]
            shown["filled"] = True
            # An answer that changed nothing (no hits after no hits) would never repaint.
            dialog.findChild(QWidget, "searchResults").viewport().update()

    class ResultsPainted(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and shown["filled"] and not shown["at"]:
                shown["at"] = time.perf_counter()
            return False

    dialog._show = timed_show  # type: ignore[attr-defined]
    till.search = timed_search  # type: ignore[method-assign]
    results_painted = ResultsPainted()
    dialog.findChild(QWidget, "searchResults").viewport().installEventFilter(results_painted)
    query_input = dialog.findChild(QWidget, "searchInput")
    searches: list[float] = []
    search_cpu: list[float] = []
    fill_cpu: list[float] = []
    for query in queries:
        query_input.clear()
        QTest.keyClicks(query_input, query[:-1])
        while term.runner.pending:
            QApplication.processEvents()
        shown["filled"], shown["at"] = False, 0.0
        start = time.perf_counter()
        QTest.keyClick(query_input, query[-1])
        while not shown["at"]:
            QApplication.processEvents()
        searches.append((shown["at"] - start) * 1000)
        search_cpu.append(cpu["search"])
        fill_cpu.append(cpu["fill"])
    dialog.close()

    # Bare baseline: a plain QTableWidget in its own window gets a row appended and painted, with no
    # till, no thread and no ledger: what this machine needs to make a line visible at all.
    from PySide6.QtWidgets import QTableWidget, QTableWidgetItem

    plain = QTableWidget(0, 3)
    plain.resize(800, 600)
    plain.show()
    plain_state = {"want": -1, "at": 0.0}

    class PlainWatch(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and plain.rowCount() == plain_state["want"]:
                plain_state["at"] = time.perf_counter()
            return False

    plain_watch = PlainWatch()
    plain.viewport().installEventFilter(plain_watch)
    bare_rows: list[float] = []
    for index in range(scans):
        if index % 25 == 0:
            plain.setRowCount(0)
            QApplication.processEvents()
        plain_state["want"], plain_state["at"] = plain.rowCount() + 1, 0.0
        start = time.perf_counter()
        row = plain.rowCount()
        plain.insertRow(row)
        for column, text in enumerate(("Product", "1", "9,99 €")):
            plain.setItem(row, column, QTableWidgetItem(text))
        plain.scrollToBottom()
        while not plain_state["at"]:
            QApplication.processEvents()
        bare_rows.append((plain_state["at"] - start) * 1000)
    plain.close()

    reader = till.terminal.ledger.read()
    codes = [gtin13(rng.randrange(products)) for _ in range(scans)]
    bare: list[float] = []
    for code in codes:
        start = time.perf_counter()
        catalog.by_barcode(reader, code)
        bare.append((time.perf_counter() - start) * 1000)
    term.close()
    return {
        "scan_ms": latencies,
        "lookup_ms": bare,
        "search_ms": searches,
        "search_cpu_ms": search_cpu,
        "fill_cpu_ms": fill_cpu,
        "row_ms": bare_rows,
        "rss_mb": rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--products", type=int, default=1_000_000)
    parser.add_argument("--scans", type=int, default=300, help="scans timed per run")
    parser.add_argument("--runs", type=int, default=3, help="runs of the scan and start-up measurements")
    parser.add_argument("--dir", type=Path, default=None, help="work here (default: a temp dir)")
    parser.add_argument("--child-start", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--launched", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_start is not None:
        child_start(args.child_start, args.launched)
        return

    base = args.dir or Path(tempfile.mkdtemp(prefix="pos-ui-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    data_dir = prepare(base, args.products)
    print(f"catalog: {args.products:,} products; Python {sys.version.split()[0]}; {os.cpu_count()} CPUs")

    starts = []
    for _ in range(max(args.runs, 3)):
        launched = time.time()
        out = subprocess.run(
            [sys.executable, __file__, "--child-start", str(data_dir), "--launched", str(launched)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        starts.append(json.loads(out.strip().splitlines()[-1]))
    med = {k: statistics.median(s[k] for s in starts) for k in starts[0]}
    print(
        f"start to usable sign-in screen (fresh process, median of {len(starts)}): {med['sign_in_screen_s']:.2f} s"
        f" (of which Python + Qt imports {med['import_s']:.2f} s);"
        f" PIN Enter to sale screen {med['pin_to_sale_screen_s'] * 1000:.0f} ms; resident memory {med['rss_mb']:.0f} MB"
    )

    for run in range(1, args.runs + 1):
        result = measure_scans(data_dir, args.products, args.scans)
        scans, bare, searches, rows = (
            result["scan_ms"],
            result["lookup_ms"],
            result["search_ms"],
            result["row_ms"],
        )
        assert isinstance(scans, list) and isinstance(bare, list) and isinstance(searches, list)
        assert isinstance(rows, list)
        search_cpu, fill_cpu = result["search_cpu_ms"], result["fill_cpu_ms"]
        assert isinstance(search_cpu, list) and isinstance(fill_cpu, list)
        print(
            f"run {run}: scanner Enter to line visible p50 {percentile(scans, 50):.2f} ms,"
            f" p99 {percentile(scans, 99):.2f} ms (max {max(scans):.2f});"
            f" bare barcode lookup p50 {percentile(bare, 50):.3f} ms, p99 {percentile(bare, 99):.3f} ms;"
            f" bare Qt table row append to painted p50 {percentile(rows, 50):.2f} ms, p99 {percentile(rows, 99):.2f} ms"
            f" (scan p99 / bare p99 {percentile(scans, 99) / percentile(rows, 99):.1f}x);"
            f" resident memory after {args.scans} scans {result['rss_mb']:.0f} MB;"
            f" F2 search keystroke to results shown p50 {percentile(searches, 50):.1f} ms,"
            f" p99 {percentile(searches, 99):.1f} ms"
            f" (CPU per answer: search p50 {percentile(search_cpu, 50):.2f} / p99 {percentile(search_cpu, 99):.2f} ms"
            f" on the worker, filling the table p50 {percentile(fill_cpu, 50):.2f} / p99 {percentile(fill_cpu, 99):.2f} ms)"
        )


if __name__ == "__main__":
    main()
