"""Moving a till's ledger to new hardware: ``pos ledger restore BACKUP``.

The restored ledger continues the same terminal (docs/deploying.md, "Replacing a till"): its
journal goes on from the backup's head, and ``pos enroll`` with a re-key code from head office
(``pos-central terminal rekey``) gives it the terminal's credentials again. Head office refuses
that code to a ledger that is behind what it holds for the terminal, so a restore can never
quietly start a second chain under one terminal; pushes that do not continue its chain are
refused as ``terminal_forked`` in any case.

The backup is copied with SQLite's backup API into a staging file beside the ledger, verified
there exactly as ``pos ledger verify`` does (the file's integrity, the journal's hash chain and
every table derived from it), and only then moved into place in one rename. A data directory that
already holds journal entries, or a till that is enrolled, is never overwritten.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path

from pos.config import CONFIG_FILE
from pos.ledger.db import LEDGER_FILE
from pos.services.fleet import record_ledger_health
from pos.services.reports import open_read_only, verify_ledger


class RestoreError(ValueError):
    """The restore was refused; str() says why and what to do. Nothing was changed."""


@dataclass(frozen=True)
class Restored:
    path: Path
    entries: int
    head_seq: int
    #: What the server had acknowledged when the backup was taken (0: never synced).
    acked_seq: int


def restore_ledger(data_dir: Path, backup: Path) -> Restored:
    """Put the verified copy of ``backup`` in place as ``data_dir``'s ledger; see the module."""
    try:
        found = backup.is_file()
    except OSError as exc:  # a name too long, a path through a file...
        raise RestoreError(f"cannot read the backup {_shown(backup)}: {exc.strerror}") from None
    if not found:
        raise RestoreError(f"no backup file at {_shown(backup)}")
    _refuse_if_in_use(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    staging = data_dir / f".restore-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        try:
            source = sqlite3.connect(f"{backup.resolve().as_uri()}?mode=ro", uri=True)
            try:
                target = sqlite3.connect(staging / LEDGER_FILE)
                try:
                    source.backup(target)
                finally:
                    target.close()
            finally:
                source.close()
        except sqlite3.DatabaseError as exc:
            raise RestoreError(
                f"{_shown(backup)} is not a ledger backup: {exc}; nothing was restored"
            ) from None
        result = verify_ledger(staging)
        if not result.ok:
            raise RestoreError(f"the backup does not verify: {result.problem}; nothing was restored")
        entries, head_seq, acked = _facts(staging)
        if entries == 0:
            raise RestoreError(f"{_shown(backup)} holds no journal entries: nothing to restore")
        for suffix in ("-wal", "-shm", ""):
            with contextlib.suppress(FileNotFoundError):
                os.remove(data_dir / f"{LEDGER_FILE}{suffix}")
        os.replace(staging / LEDGER_FILE, data_dir / LEDGER_FILE)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    with contextlib.suppress(OSError):
        record_ledger_health(data_dir, ok=True, problem=None)
    return Restored(data_dir / LEDGER_FILE, entries, head_seq, acked)


def _shown(path: Path) -> str:
    """A path as an error message shows it: at most 120 characters."""
    text = str(path)
    return text if len(text) <= 120 else f"{text[:60]}...{text[-57:]}"


def _refuse_if_in_use(data_dir: Path) -> None:
    config = data_dir / CONFIG_FILE
    if config.is_file():
        try:
            enrolled = json.loads(config.read_text(encoding="utf-8")).get("enrolled") is True
        except (OSError, ValueError, AttributeError):
            enrolled = True  # cannot tell: do not risk it
        if enrolled:
            raise RestoreError(
                f"this till is already enrolled ({config}): restore into an empty data directory "
                "on the new hardware, then enroll it with a re-key code"
            )
    if (data_dir / LEDGER_FILE).exists():
        try:
            entries, _head, _acked = _facts(data_dir)
        except sqlite3.DatabaseError as exc:
            raise RestoreError(
                f"{data_dir / LEDGER_FILE} exists and cannot be read ({exc}): move it away first"
            ) from None
        if entries:
            raise RestoreError(
                f"{data_dir / LEDGER_FILE} already holds {entries} journal entries: a ledger is never "
                "overwritten; restore into an empty data directory"
            )


def _facts(data_dir: Path) -> tuple[int, int, int]:
    conn = open_read_only(data_dir)
    try:
        entries = int(conn.execute("SELECT count(*) FROM journal").fetchone()[0])
        head = conn.execute("SELECT seq FROM journal_head WHERE id = 1").fetchone()
        acked = conn.execute("SELECT acked_seq FROM sync_state WHERE id = 1").fetchone()
    finally:
        conn.close()
    return entries, int(head[0]) if head else 0, int(acked[0]) if acked else 0
