"""A migration that fails when a new version first opens the ledger: the backup was taken first,
every pending migration is rolled back (to the backup's state, restored from it if a migration
committed on its own), the till says so in one message naming the backup, and no sale is lost."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner
from ledger_support import quick_sale, ready_terminal, table_digest

from pos.cli import cli
from pos.ledger import migrations
from pos.ledger.db import Ledger, MigrationFailed
from pos.services.reports import verify_ledger


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STORELINK_SECRETS", "file")
    folder = tmp_path / "till"
    terminal = ready_terminal(folder)
    try:
        for _ in range(3):
            quick_sale(terminal)
    finally:
        terminal.ledger.close()
    return folder


def good(db: sqlite_utils.Database) -> None:
    db.execute("CREATE TABLE upgrade_note (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")


def bad(db: sqlite_utils.Database) -> None:
    db.execute("ALTER TABLE sales ADD COLUMN flavour TEXT")
    raise RuntimeError("flavour cannot be filled in")


def commits_then_fails(db: sqlite_utils.Database) -> None:
    db.execute("ALTER TABLE sales ADD COLUMN flavour TEXT")
    db.conn.commit()  # a migration must never do this; the backup still saves the day
    raise RuntimeError("half done")


def backups(folder: Path) -> list[str]:
    return sorted(p.name for p in (folder / "backups").glob("ledger-*-before-migration.sqlite3"))


@pytest.mark.parametrize("failing", [bad, commits_then_fails])
def test_a_failed_migration_rolls_back_to_the_backup_and_says_so(
    data: Path, monkeypatch: pytest.MonkeyPatch, failing: object
) -> None:
    before = table_digest(data / "ledger.sqlite3")
    monkeypatch.setitem(migrations.REGISTRY, "9001_upgrade_note", good)
    monkeypatch.setitem(migrations.REGISTRY, "9002_flavour", failing)
    with pytest.raises(MigrationFailed) as caught:
        Ledger.open(data, daily_backup=False)
    assert caught.value.backup is not None and caught.value.backup.exists()
    assert backups(data) == [caught.value.backup.name]
    message = str(caught.value)
    assert str(caught.value.backup) in message and "no sale is lost" in message
    assert "reinstall the previous version" in message
    assert table_digest(data / "ledger.sqlite3") == before  # nothing of 9001 or 9002 is left
    assert verify_ledger(data).ok

    # The till says so, in one line, without a traceback.
    result = CliRunner().invoke(cli, ["--data-dir", str(data), "status"])
    assert result.exit_code == 1
    assert "could not update the ledger" in result.output and "Traceback" not in result.output

    # The fixed version (the failing migration corrected) opens it and keeps every sale.
    monkeypatch.setitem(migrations.REGISTRY, "9002_flavour", lambda db: None)
    with Ledger.open(data, daily_backup=False) as ledger:
        assert migrations.applied(ledger.read())[-2:] == ["9001_upgrade_note", "9002_flavour"]
        assert ledger.read()["sales"].count == 3
    assert verify_ledger(data).ok


def test_pending_migrations_take_a_backup_first_and_apply_all(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(migrations.REGISTRY, "9001_upgrade_note", good)
    with Ledger.open(data, daily_backup=False) as ledger:
        assert ledger.report.migrations_applied == ("9001_upgrade_note",)
        assert [p.name for p in ledger.report.backups_taken] == backups(data)
    backup = sqlite_utils.Database(data / "backups" / backups(data)[0])
    assert "upgrade_note" not in backup.table_names() and backup["sales"].count == 3
