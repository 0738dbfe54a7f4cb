"""Crashes and overlaps during sync, on a real ledger against a real server in its own process.

* A child process sells and syncs in a loop (push, then a 2,000-product catalog snapshot and
  full price change in pages) and is killed with SIGKILL at a random moment, 200 times. After
  every kill: the acknowledged sequence is not ahead of what the server holds, the server holds a
  gapless prefix of this terminal's journal, the feed cursor covers nothing that is not applied
  or staged, and no product shows a price from a half-received update.
* The app's background loop and `pos sync` in another process sync one terminal at the same time:
  nothing is sent twice, nothing is lost.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from central_fixtures import enrollment_code
from sqlalchemy import or_, select
from sync_support import catalog_csv, record_sales, server_journal, server_process

from pos.ledger.db import LEDGER_FILE
from pos.services import syncing
from pos.services.terminal import open_terminal
from sync.server import schema
from sync.server.catalog import import_catalog
from sync.server.changes import decode_cursor
from sync.server.db import Database, utcnow
from sync.server.stores import add_store

KILLS = 200
PRODUCTS = 2_000
#: Price generations sent during the run (the first is the snapshot at enrollment).
GENERATIONS = 5
#: `pos sync` runs while the app's loop syncs and the till sells.
CLI_RUNS = 3
#: Kills per price generation aimed at a half-received update (the rest land at random moments).
TARGETED_PER_GENERATION = 3
SOLD_AT_LEAST = 1_000


def _seller_and_syncer(till: str, seed: int) -> None:
    """The child: sell a few, sync, forever (until killed)."""
    terminal = open_terminal(till, secrets_backend="file", daily_backup=False)
    engine = syncing.make_engine(terminal)
    engine.page_limit = 10  # many pages per update: more chances to die between two of them
    rng = random.Random(seed)
    while True:
        record_sales(terminal, rng.randint(1, 6), per_transaction=3)
        engine.round(wait_for_lock=5)


def _setup_central(folder: Path) -> Database:
    db = Database.from_url(str(folder / "central.sqlite3"))
    db.migrate()
    with db.begin() as conn:
        add_store(
            conn, code="S01", name="Main", currency="EUR", locale="de_DE", tax_mode="inclusive", now=utcnow()
        )
        import_catalog(conn, catalog_csv(PRODUCTS, 1), now=utcnow())
    return db


def _enroll(till: Path, url: str, db: Database) -> int:
    with open_terminal(till, secrets_backend="file", daily_backup=False) as terminal:
        syncing.enroll(terminal, url, enrollment_code(db, "S01"), terminal_name="Crash till")
        return terminal.config.terminal_id


def _feed(db: Database) -> list[Any]:
    """The product changes of the store's feed. Only this test writes them (the catalog imports),
    so it reads them again only after an import, not after every kill."""
    table = schema.changes
    with db.engine.connect() as conn:
        return list(
            conn.execute(
                select(table.c.seq, table.c.kind, table.c.key, table.c.data)
                .where(or_(table.c.store_id.is_(None), table.c.store_id == 1), table.c.kind == "product")
                .order_by(table.c.seq)
            )
        )


def _staged_count(till: Path) -> int:
    conn = sqlite3.connect(f"file:{till / LEDGER_FILE}?mode=ro", uri=True, timeout=10)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM feed_staging WHERE seq > 0").fetchone()[0])
    finally:
        conn.close()


def _wait_for_more_staged(till: Path, before: int, limit: float = 30.0) -> None:
    """Return once the child has staged part of an update (or after ``limit`` seconds)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and _staged_count(till) <= before:
        time.sleep(0.005)


def _check_invariants(till: Path, db: Database, terminal_id: int, feed: list[Any]) -> dict[str, bool]:
    """Assert what must hold at any instant after a crash; say what state the kill interrupted."""
    conn = sqlite3.connect(f"file:{till / LEDGER_FILE}?mode=ro", uri=True)
    try:
        acked, cursor = conn.execute("SELECT acked_seq, feed_cursor FROM sync_state WHERE id = 1").fetchone()
        ours = [(int(s), str(e)) for s, e in conn.execute("SELECT seq, event_id FROM journal ORDER BY seq")]
        staged = {int(r[0]) for r in conn.execute("SELECT seq FROM feed_staging WHERE seq > 0")}
        shown = {
            str(sku): int(price)
            for sku, price in conn.execute("SELECT sku, price FROM products WHERE active")
        }
    finally:
        conn.close()

    held = server_journal(db, terminal_id)
    assert [seq for seq, _ in held] == list(range(1, len(held) + 1)), "the server holds a gap"
    assert held == ours[: len(held)], "the server holds an entry the terminal does not have"
    assert acked <= len(held), f"acknowledged {acked} but the server holds {len(held)}"

    covered = decode_cursor(cursor or "") or 0
    history: dict[str, list[tuple[int, int]]] = {}
    for row in feed:
        if row.kind == "product" and row.seq <= covered:
            history.setdefault(row.key, []).append((row.seq, row.data["price"]))
    for sku, changes in history.items():
        latest_seq, latest_price = changes[-1]
        if latest_seq in staged:
            earlier = {price for seq, price in changes if seq < latest_seq}
            assert sku not in shown or shown[sku] in earlier, f"{sku} shows a price it was never sent before"
        else:
            assert shown.get(sku) == latest_price, f"{sku}: the cursor covers a change that is not applied"
    generations = {price // 100_000 for price in shown.values()}
    assert len(generations) <= 1, f"a half-applied price update is visible: generations {generations}"
    assert not shown or len(shown) == PRODUCTS, "a half-applied snapshot is visible"
    return {"mid_update": bool(staged), "pushed_some": acked > 0}


@pytest.mark.slow
def test_sync_killed_at_random_moments_never_loses_doubles_or_half_applies(tmp_path: Path) -> None:
    db = _setup_central(tmp_path)
    till = tmp_path / "till"
    fork = multiprocessing.get_context("fork")
    rng = random.Random(20261125)
    interrupted = {"mid_update": 0, "pushed_some": 0}
    generation = 1
    try:
        with server_process(
            str(db.engine.url), terminal_rate_per_second=100_000.0, terminal_burst=100_000
        ) as server:
            terminal_id = _enroll(till, server.url, db)
            feed = _feed(db)
            for kill in range(KILLS):
                if kill % (KILLS // GENERATIONS) == 0 and kill:
                    # Every price changes in one update, many pages long.
                    generation += 1
                    with db.begin() as conn:
                        import_catalog(conn, catalog_csv(PRODUCTS, generation), now=utcnow())
                    feed = _feed(db)
                staged_before = _staged_count(till)
                child = fork.Process(target=_seller_and_syncer, args=(str(till), kill), daemon=True)
                child.start()
                if 0 < kill % (KILLS // GENERATIONS) <= TARGETED_PER_GENERATION:
                    # Aimed at the moment a new update is half received, so the case is covered by
                    # construction rather than by luck on a loaded machine.
                    _wait_for_more_staged(till, staged_before)
                else:
                    time.sleep(rng.uniform(0.02, 0.45))
                assert child.pid is not None
                os.kill(child.pid, signal.SIGKILL)
                child.join()
                assert child.exitcode == -signal.SIGKILL, "the child stopped before it was killed"
                state = _check_invariants(till, db, terminal_id, feed)
                for key, value in state.items():
                    interrupted[key] += int(value)

            with open_terminal(till, secrets_backend="file", daily_backup=False) as terminal:
                report = syncing.sync_once(terminal)
                assert report.ok, report.summary()
                from pos.ledger import journal

                ours = [(e.seq, e.event_id) for e in journal.iter_entries(terminal.ledger.read())]
                assert journal.verify(terminal.ledger.read().conn).ok
            assert server_journal(db, terminal_id) == ours
            _check_invariants(till, db, terminal_id, _feed(db))
            final = sqlite3.connect(f"file:{till / LEDGER_FILE}?mode=ro", uri=True)
            prices = {int(p) // 100_000 for (p,) in final.execute("SELECT price FROM products WHERE active")}
            final.close()
            assert prices == {generation}
    finally:
        db.dispose()
    print(f"{KILLS} kills; {len(ours)} entries; interrupted mid-update {interrupted['mid_update']} times")
    assert interrupted["mid_update"] >= 5, "too few kills landed while an update was half received"


def test_the_app_and_pos_sync_at_once_never_send_twice(tmp_path: Path) -> None:
    db = _setup_central(tmp_path)
    till = tmp_path / "till"
    try:
        with server_process(
            str(db.engine.url), terminal_rate_per_second=100_000.0, terminal_burst=100_000
        ) as server:
            terminal_id = _enroll(till, server.url, db)
            with open_terminal(till, secrets_backend="file", daily_backup=False) as terminal:
                reports = []
                loop = syncing.start_background_sync(terminal, interval=0.2, on_round=reports.append)
                cli_outputs: list[str] = []

                def run_pos_sync() -> None:
                    env = {**os.environ, "STORELINK_SECRETS": "file"}
                    for _ in range(CLI_RUNS):
                        done = subprocess.run(
                            [
                                sys.executable,
                                "-c",
                                "from pos.cli import main; main()",
                                "sync",
                                "--data-dir",
                                str(till),
                            ],
                            capture_output=True,
                            text=True,
                            env=env,
                            timeout=120,
                        )
                        cli_outputs.append(done.stdout + done.stderr)

                other = threading.Thread(target=run_pos_sync)
                other.start()
                try:
                    # Sell the whole time `pos sync` runs, at least 1,000 sales, and until the app's
                    # own loop has pushed some: on a loaded machine the three `pos sync` runs can
                    # hold the sync lock back to back and leave the app nothing while they run.
                    sold = 0
                    while (
                        other.is_alive() or sold < SOLD_AT_LEAST or not any(r.pushed for r in reports)
                    ) and sold < 20 * SOLD_AT_LEAST:
                        record_sales(terminal, 25, per_transaction=5)
                        sold += 25
                        time.sleep(0.05)
                finally:
                    other.join()
                    loop.stop()
                report = syncing.sync_once(terminal)
                assert report.ok, report.summary()
                from pos.ledger import journal

                ours = [(e.seq, e.event_id) for e in journal.iter_entries(terminal.ledger.read())]
            assert server_journal(db, terminal_id) == ours
            assert len(ours) == sold
            assert sum(r.duplicates for r in reports) == 0, "the app re-sent entries pos sync had delivered"
            assert cli_outputs, "pos sync never ran"
            for out in cli_outputs:
                assert "0 already held" in out or "another sync" in out, out
            by_cli = sum(int(n) for out in cli_outputs for n in re.findall(r"pushed (\d+) entries", out))
            by_app = sum(r.pushed for r in reports)
            # Every entry crossed the wire exactly once, whichever process sent it.
            assert by_cli + by_app + report.pushed == len(ours), (by_cli, by_app, report.pushed)
            assert by_app > 0 and len(cli_outputs) == CLI_RUNS
    finally:
        db.dispose()
