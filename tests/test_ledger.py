"""The ledger file: pragmas, migrations, the one writer, append-only journal, integrity check, backups."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils
from ledger_support import raw_connection

from pos.ledger import db as ledger_db
from pos.ledger import journal, migrations
from pos.ledger.db import Ledger, LedgerDamaged, LedgerError
from sync.protocol import EventType


@pytest.fixture
def ledger(tmp_path: Path):
    opened = Ledger.open(tmp_path)
    yield opened
    opened.close()


def test_the_file_runs_in_wal_with_full_sync_and_foreign_keys(ledger: Ledger) -> None:
    mode = ledger.transact(lambda db: db.execute("PRAGMA journal_mode").fetchone()[0])
    sync = ledger.transact(lambda db: db.execute("PRAGMA synchronous").fetchone()[0])
    fks = ledger.transact(lambda db: db.execute("PRAGMA foreign_keys").fetchone()[0])
    assert (mode, sync, fks) == ("wal", 2, 1)  # 2 == FULL
    assert ledger.report.sqlite_version == sqlite3.sqlite_version


def test_every_registered_migration_is_applied_once_and_recorded(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as first:
        assert first.report.migrations_applied == tuple(migrations.REGISTRY)
        names = [r["name"] for r in first.read().query("SELECT name FROM _migrations")]
        assert names == list(migrations.REGISTRY)
    with Ledger.open(tmp_path) as again:
        assert again.report.migrations_applied == ()


def test_a_new_migration_is_backed_up_before_it_runs(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as first:
        first.transact(lambda db: journal.append(db, EventType.DRAWER_OPENED, {"reason": "test"}))

    def add_column(db: sqlite_utils.Database) -> None:
        db.execute("ALTER TABLE settings ADD COLUMN note TEXT")

    migrations.REGISTRY["9999_test_note"] = add_column
    try:
        with Ledger.open(tmp_path, daily_backup=False) as second:
            assert second.report.migrations_applied == ("9999_test_note",)
            (backup,) = second.report.backups_taken
            assert "before-migration" in backup.name
            copy = sqlite3.connect(backup)
            # The backup is the state before the migration, with the data in it.
            assert copy.execute("SELECT count(*) FROM journal").fetchone()[0] == 1
            assert "note" not in [r[1] for r in copy.execute("PRAGMA table_info(settings)")]
            copy.close()
    finally:
        del migrations.REGISTRY["9999_test_note"]


def test_a_failing_job_rolls_back_everything_it_wrote(ledger: Ledger) -> None:
    def job(db: sqlite_utils.Database) -> None:
        journal.append(db, EventType.DRAWER_OPENED, {"reason": "one"})
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        ledger.transact(job)
    assert journal.count(ledger.read()) == 0
    assert journal.head(ledger.read())[0] == 0


def test_many_threads_writing_through_the_one_writer_get_a_gapless_sequence(ledger: Ledger) -> None:
    writer_threads: set[str] = set()

    def job(db: sqlite_utils.Database) -> int:
        writer_threads.add(threading.current_thread().name)
        return journal.append(db, EventType.DRAWER_OPENED, {"reason": "x"}).seq

    results: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(25):
            seq = ledger.transact(job)
            with lock:
                results.append(seq)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == list(range(1, 101))
    assert writer_threads == {"ledger-writer"}
    assert journal.verify(ledger.read().conn).ok


def test_journal_rows_can_never_be_updated_or_deleted(ledger: Ledger) -> None:
    ledger.transact(lambda db: journal.append(db, EventType.DRAWER_OPENED, {"reason": "x"}))
    with pytest.raises(sqlite3.IntegrityError, match="never changed"):
        ledger.transact(lambda db: db.execute("UPDATE journal SET payload = '{}'"))
    with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
        ledger.transact(lambda db: db.execute("DELETE FROM journal"))
    assert journal.count(ledger.read()) == 1


def test_an_entry_that_does_not_continue_the_chain_head_is_refused(ledger: Ledger) -> None:
    ledger.transact(lambda db: journal.append(db, EventType.DRAWER_OPENED, {"reason": "x"}))
    bad = (
        "INSERT INTO journal VALUES (5, '01890000-0000-7000-8000-000000000000', 'drawer.opened', 1,"
        " '2026-01-01T00:00:00Z', '{}', ?, ?)"
    )
    with pytest.raises(sqlite3.IntegrityError, match="appended in sequence"):
        ledger.transact(lambda db: db.execute(bad, ("0" * 64, "1" * 64)))
    assert journal.count(ledger.read()) == 1


def test_readers_see_committed_data_only(ledger: Ledger) -> None:
    started = threading.Event()
    release = threading.Event()

    def slow(db: sqlite_utils.Database) -> None:
        journal.append(db, EventType.DRAWER_OPENED, {"reason": "x"})
        started.set()
        release.wait(5)

    pending = ledger.write(slow)
    started.wait(5)
    assert journal.count(ledger.read()) == 0  # not committed yet
    release.set()
    pending.result()
    assert journal.count(ledger.read()) == 1


def test_transact_from_the_writer_thread_is_refused_instead_of_deadlocking(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="deadlock"):
        ledger.transact(lambda db: ledger.transact(lambda inner: None))


def test_a_damaged_file_is_refused_at_start_naming_the_newest_backup(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as first:
        for _ in range(200):
            first.transact(lambda db: journal.append(db, EventType.DRAWER_OPENED, {"reason": "x" * 200}))
        backup = first.backup("manual")
    path = tmp_path / "ledger.sqlite3"
    with raw_connection(path) as conn:
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'journal'").fetchone()[0]
        page = conn.execute("PRAGMA page_size").fetchone()[0]
    raw = bytearray(path.read_bytes())
    # Scribble over the journal table's root page, as a failing disk would.
    start = (root - 1) * page
    raw[start : start + page] = b"\xa5" * page
    path.write_bytes(bytes(raw))
    with pytest.raises(LedgerDamaged) as caught:
        Ledger.open(tmp_path)
    assert str(backup) in str(caught.value)
    assert caught.value.newest_backup == backup
    assert "integrity check" in str(caught.value)


def test_not_a_database_is_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / "ledger.sqlite3").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LedgerDamaged, match="no backup was found"):
        Ledger.open(tmp_path)


def test_backups_keep_only_the_newest_few(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as opened:
        made = [opened.backup(f"b{i}") for i in range(ledger_db.BACKUPS_KEPT + 3)]
    kept = sorted((tmp_path / "backups").glob("ledger-*.sqlite3"))
    assert kept == made[-ledger_db.BACKUPS_KEPT :]
    assert ledger_db.newest_backup(tmp_path) == made[-1]


def test_a_daily_backup_is_taken_when_the_last_one_is_a_day_old(tmp_path: Path) -> None:
    Ledger.open(tmp_path).close()  # new file: nothing worth backing up yet
    assert ledger_db.newest_backup(tmp_path) is None
    with Ledger.open(tmp_path) as second:
        (daily,) = second.report.backups_taken
    assert "daily" in daily.name
    with Ledger.open(tmp_path) as third:
        assert third.report.backups_taken == ()  # the last one is fresh
    old = (datetime.now(UTC) - timedelta(days=2)).timestamp()
    import os

    os.utime(daily, (old, old))
    with Ledger.open(tmp_path) as fourth:
        assert len(fourth.report.backups_taken) == 1


def test_work_after_close_gets_a_clear_error(tmp_path: Path) -> None:
    opened = Ledger.open(tmp_path)
    opened.close()
    with pytest.raises(ledger_db.LedgerClosed):
        opened.write(lambda db: None)


def test_a_raw_tool_cannot_sneak_an_update_past_the_triggers(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as opened:
        opened.transact(lambda db: journal.append(db, EventType.DRAWER_OPENED, {"reason": "x"}))
    with raw_connection(tmp_path / "ledger.sqlite3") as conn, pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE journal SET type = 'cash.out'")


def test_a_damaged_catalog_does_not_stop_the_till_but_the_full_check_reports_it(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as first:
        first.transact(
            lambda db: db.conn.executemany(
                "INSERT INTO products (sku, name, price, tax_rate, unit, updated_at) VALUES (?, ?, 100, '7', 'piece', 'x')",
                [(f"S{n:05d}", f"Product {n} " + "y" * 100) for n in range(3000)],
            )
        )
    path = tmp_path / "ledger.sqlite3"
    with raw_connection(path) as conn:
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'products'").fetchone()[0]
        page = conn.execute("PRAGMA page_size").fetchone()[0]
    raw = bytearray(path.read_bytes())
    raw[(root - 1) * page : root * page] = b"\xa5" * page
    path.write_bytes(bytes(raw))
    # The catalog can be sent again by head office; the sales and the journal are what must be sound.
    with Ledger.open(tmp_path, daily_backup=False) as opened:
        assert opened.integrity_problems() != []
