"""The ledger shares its file with `pos sync` in another process: a sale must wait for that
process's write lock, never fail with "database is locked"."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from ledger_support import quick_sale, ready_terminal

from pos.services import reports
from pos.services.terminal import close_terminal


def test_a_sale_waits_for_another_process_holding_the_write_lock(tmp_path: Path) -> None:
    terminal = ready_terminal(tmp_path)
    try:
        before = reports.terminal_status(terminal).journal_head_seq
        # A connection of its own, as another process (pos sync) has; committed from a timer thread.
        other = sqlite3.connect(str(terminal.ledger.path), isolation_level=None, check_same_thread=False)
        try:
            # That process is in the middle of a write when the sale completes.
            other.execute("BEGIN IMMEDIATE")
            other.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('test.other', '1')")
            release = threading.Timer(1.0, lambda: other.execute("COMMIT"))
            release.start()
            try:
                completed = quick_sale(terminal)
            finally:
                release.join()
        finally:
            other.close()
        status = reports.terminal_status(terminal)
        assert status.journal_head_seq == before + 1
        assert completed.receipt_no
        assert reports.verify_ledger(terminal.data_dir).ok
    finally:
        close_terminal(terminal)


def test_a_ledger_job_that_reads_before_writing_waits_for_the_lock(tmp_path: Path) -> None:
    # The journal append reads the chain head before it inserts. A deferred transaction would take
    # its read snapshot while the other process holds the lock, and its write would then fail at
    # once (SQLITE_BUSY_SNAPSHOT) instead of waiting: the writer must take the lock at BEGIN.
    terminal = ready_terminal(tmp_path)
    try:
        other = sqlite3.connect(str(terminal.ledger.path), isolation_level=None, check_same_thread=False)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('test.other', '1')")
            release = threading.Timer(1.0, lambda: other.execute("COMMIT"))
            release.start()

            def read_then_write(db):  # type: ignore[no-untyped-def]
                seen = db.execute("SELECT COUNT(*) FROM settings").fetchone()[0]
                db.execute("INSERT INTO settings (key, value) VALUES ('test.mine', ?)", [str(seen)])
                return seen

            try:
                seen = terminal.ledger.write(read_then_write).result(timeout=30)
            finally:
                release.join()
        finally:
            other.close()
        row = terminal.ledger.read().execute("SELECT value FROM settings WHERE key = 'test.mine'").fetchone()
        # It ran after the other process committed, and saw that commit.
        assert row is not None and int(row[0]) == seen
        assert terminal.ledger.read().execute("SELECT 1 FROM settings WHERE key = 'test.other'").fetchone()
    finally:
        close_terminal(terminal)
