"""The ledger shares its file with `pos sync` in another process: a sale must wait for that
process's write lock, never fail with "database is locked". The second test runs that other
process for real (a separate Python process holding the write lock until told to commit)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
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


#: Another process (as `pos sync` is): takes the write lock, writes a row, says "locked", and
#: commits only when told to on stdin.
OTHER_PROCESS = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('test.other', '1')")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("COMMIT")
print("committed", flush=True)
"""


def test_a_ledger_job_that_reads_before_writing_waits_for_the_lock(tmp_path: Path) -> None:
    # The journal append reads the chain head before it inserts. A deferred transaction would take
    # its read snapshot while the other process holds the lock, and its write would then fail at
    # once (SQLITE_BUSY_SNAPSHOT) instead of waiting: the writer must take the lock at BEGIN.
    terminal = ready_terminal(tmp_path)
    other = subprocess.Popen(
        [sys.executable, "-c", OTHER_PROCESS, str(terminal.ledger.path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    pool = ThreadPoolExecutor(1)
    try:
        assert other.stdout is not None and other.stdin is not None
        assert other.stdout.readline().strip() == "locked"

        def read_then_write(db):  # type: ignore[no-untyped-def]
            seen = db.execute("SELECT count(*) FROM settings WHERE key = 'test.other'").fetchone()[0]
            db.execute("INSERT INTO settings (key, value) VALUES ('test.mine', ?)", [str(seen)])
            return seen

        job = terminal.ledger.write(read_then_write)
        sale = pool.submit(quick_sale, terminal)
        # Neither can be done while the other process holds the lock (nor may they have failed).
        assert not job.done() and not sale.done()
        other.stdin.write("commit\n")
        other.stdin.flush()
        assert other.stdout.readline().strip() == "committed"
        seen = job.result(timeout=60)
        completed = sale.result(timeout=60)
        assert other.wait(timeout=60) == 0
    finally:
        pool.shutdown(wait=True)
        if other.poll() is None:
            other.kill()
            other.wait()
        for pipe in (other.stdin, other.stdout):
            if pipe is not None:
                pipe.close()
    try:
        # The job ran after the other process committed, and saw its row (it was not there before).
        assert seen == 1
        row = terminal.ledger.read().execute("SELECT value FROM settings WHERE key = 'test.mine'").fetchone()
        assert row is not None and row[0] == "1"
        assert completed.receipt_no and reports.verify_ledger(terminal.data_dir).ok
    finally:
        close_terminal(terminal)
