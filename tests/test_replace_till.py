"""Replacing a till's hardware, and two devices sending as one terminal (issue 8, "Fleet health").

Real ledgers on disk, real `pos` and `pos-central` commands, a real server on a real port:

- a ledger restored from backup onto new hardware (`pos ledger restore`) and enrolled with a re-key
  code (`pos-central terminal rekey`) continues the same terminal: its unsynced sales arrive, the
  chain on the server runs on without a gap, the old device's token is refused;
- a restore that is behind what head office holds is refused at enrollment, the code unspent;
- a broken backup is refused by `pos ledger restore`, and nothing is changed;
- two devices with one terminal's identity (a cloned disk): the one whose push does not continue
  head office's chain is refused (409 terminal_forked, shown on the till), nothing of it is merged,
  and the terminal is flagged forked at /hq Fleet; the other goes on syncing.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from central_fixtures import LiveServer, enrollment_code
from click.testing import CliRunner
from sqlalchemy import select
from sync_support import T0, central_server, record_sales, server_journal
from test_fleet_health import _figures, _row, _sign_in

from pos.cli import cli as pos_cli
from pos.ledger import journal
from pos.services import syncing
from pos.services.terminal import Terminal, open_terminal
from sync.client import Forked
from sync.engine import status_line
from sync.server import schema
from sync.server.cli import main as central_cli


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with central_server(tmp_path) as live:
        yield live


def _open(folder: Path) -> Terminal:
    return open_terminal(folder, secrets_backend="file", daily_backup=False)


def _chain(terminal: Terminal) -> list[tuple[int, str]]:
    return [(e.seq, e.event_id) for e in journal.iter_entries(terminal.ledger.read())]


def _central(server: LiveServer, *args: str) -> str:
    result = CliRunner().invoke(central_cli, [*args, "--database", str(server.db.engine.url)])
    assert result.exit_code == 0, result.output
    return result.output


def _pos(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(pos_cli, list(args))
    return result.exit_code, result.output


def _terminal_row(server: LiveServer, terminal_id: int) -> object:
    with server.db.begin() as conn:
        return conn.execute(select(schema.terminals).where(schema.terminals.c.id == terminal_id)).one()


def test_a_ledger_restored_on_new_hardware_continues_the_same_terminal(
    server: LiveServer, tmp_path: Path
) -> None:
    old = _open(tmp_path / "old")
    enrolled = syncing.enroll(old, server.url, enrollment_code(server.db, "S01"))
    record_sales(old, 3)
    assert syncing.sync_once(old).ok
    record_sales(old, 2, t0=T0 + timedelta(hours=1))  # sold, then the till died before syncing them
    backup = old.ledger.backup("nightly")
    old_chain = _chain(old)
    old_token = old.secrets.get(syncing.TOKEN_SECRET)
    old.ledger.close()
    assert len(server_journal(server.db, enrolled.terminal_id)) == 3

    new_dir = tmp_path / "new"
    code, output = _pos("ledger", "restore", str(backup), "--data-dir", str(new_dir))
    assert code == 0, output
    assert "5 journal entries verified" in output and "acknowledged up to 3" in output
    rekey = _central(server, "terminal", "rekey", enrolled.terminal_code).split()[0]

    with _open(new_dir) as new:
        again = syncing.enroll(new, server.url, rekey)
        assert (again.terminal_id, again.terminal_code) == (enrolled.terminal_id, enrolled.terminal_code)
        assert again.claim_key == enrolled.claim_key, "receipts printed by the old till stay claimable"
        assert _chain(new) == old_chain
        report = syncing.sync_once(new)
        assert report.ok, report.summary()
        assert report.accepted == 2
        assert server_journal(server.db, enrolled.terminal_id) == old_chain
        record_sales(new, 1, t0=T0 + timedelta(hours=2))
        assert syncing.sync_once(new).ok
        assert len(server_journal(server.db, enrolled.terminal_id)) == 6
    stale = server.client.get("/v1/changes", headers={"Authorization": f"Bearer {old_token}"})
    assert stale.status_code == 401, "the old device's token is refused"
    assert _terminal_row(server, enrolled.terminal_id).forked_at is None  # type: ignore[attr-defined]


def test_a_restore_behind_head_office_is_refused_and_the_code_stays_unspent(
    server: LiveServer, tmp_path: Path
) -> None:
    with _open(tmp_path / "old") as old:
        enrolled = syncing.enroll(old, server.url, enrollment_code(server.db, "S01"))
        record_sales(old, 3)
        assert syncing.sync_once(old).ok
        backup = old.ledger.backup("nightly")
        record_sales(old, 2, t0=T0 + timedelta(hours=1))
        assert syncing.sync_once(old).ok  # head office now holds 5 entries; the backup has 3
    code, output = _pos("ledger", "restore", str(backup), "--data-dir", str(tmp_path / "new"))
    assert code == 0, output
    rekey = _central(server, "terminal", "rekey", enrolled.terminal_code).split()[0]
    with _open(tmp_path / "new") as new:
        with pytest.raises(syncing.EnrollmentError, match="only up to entry 3") as refused:
            syncing.enroll(new, server.url, rekey)
        assert "holds terminal S01-T1's journal up to entry 5" in str(refused.value)
        assert not new.config.enrolled
    with server.db.begin() as conn:
        used = conn.execute(
            select(schema.enrollment_codes.c.used_at).where(
                schema.enrollment_codes.c.rekey_terminal_id == enrolled.terminal_id
            )
        ).scalar_one()
    assert used is None, "a refused re-key leaves the code unspent"
    # An ordinary code is refused too: this ledger is some terminal's journal.
    with _open(tmp_path / "new") as new, pytest.raises(syncing.EnrollmentError, match="re-key code"):
        syncing.enroll(new, server.url, enrollment_code(server.db, "S01"))


def test_a_broken_backup_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    with _open(tmp_path / "till") as till:
        record_sales(till, 4)
        backup = till.ledger.backup("nightly")
    with sqlite3.connect(backup) as raw:  # a sale's total lowered in the backup file
        raw.execute("UPDATE sales SET total = total - 500 WHERE journal_seq = 2")
    target = tmp_path / "new"
    code, output = _pos("ledger", "restore", str(backup), "--data-dir", str(target))
    assert code == 1 and "the backup does not verify" in output and "nothing was restored" in output
    assert not (target / "ledger.sqlite3").exists()
    assert not list(target.glob(".restore-*")), "the staging copy is cleaned up"

    # A ledger that holds entries is never overwritten, even by a good backup.
    good = tmp_path / "good.sqlite3"
    shutil.copy(backup, good)
    with sqlite3.connect(good) as raw:
        raw.execute("UPDATE sales SET total = total + 500 WHERE journal_seq = 2")
    code, output = _pos("ledger", "restore", str(good), "--data-dir", str(tmp_path / "till"))
    assert code == 1 and "never overwritten" in output
    code, output = _pos("ledger", "restore", str(tmp_path / "missing"), "--data-dir", str(target))
    assert code == 1 and "no backup file" in output


def test_two_devices_sending_as_one_terminal_are_caught_by_the_chain_never_merged(
    server: LiveServer, tmp_path: Path
) -> None:
    first = _open(tmp_path / "first")
    try:
        enrolled = syncing.enroll(first, server.url, enrollment_code(server.db, "S01"))
        record_sales(first, 3)
        assert syncing.sync_once(first).ok
        # A disk image of the till is copied onto a second machine: same identity, same token.
        clone = tmp_path / "clone"
        clone.mkdir()
        shutil.copy(first.ledger.backup("image"), clone / "ledger.sqlite3")
        for name in ("terminal.json", "secrets.json"):
            shutil.copy(first.data_dir / name, clone / name)
        record_sales(first, 2, t0=T0 + timedelta(hours=1))
        assert syncing.sync_once(first).ok
        held = server_journal(server.db, enrolled.terminal_id)
        assert held == _chain(first) and len(held) == 5

        with _open(clone) as second:
            record_sales(second, 2, t0=T0 + timedelta(hours=2))  # its own sales 4 and 5
            report = syncing.sync_once(second)
            assert isinstance(report.error, Forked), report.summary()
            assert "terminal_forked" in report.error.detail
            status = syncing.current_status(second)
            assert status.state == "forked" and status.queued == 2, "kept on the till, not dropped"
            assert "another device is sending as this terminal" in status_line(status)
            assert not syncing.sync_once(second).ok, "asking again changes nothing"
            second_chain = _chain(second)

        # Nothing of the second device was merged; the conflict is kept aside for a person.
        assert server_journal(server.db, enrolled.terminal_id) == held
        assert not set(second_chain[3:]) & set(server_journal(server.db, enrolled.terminal_id))
        row = _terminal_row(server, enrolled.terminal_id)
        assert row.forked_at is not None and "entry 4" in row.fork_detail  # type: ignore[attr-defined]
        with server.db.begin() as conn:
            conflicts = conn.execute(
                select(schema.conflicts.c.seq, schema.conflicts.c.reason).where(
                    schema.conflicts.c.terminal_id == enrolled.terminal_id
                )
            ).all()
        assert [(c.seq, c.reason) for c in conflicts] == [(4, "seq_reused")]

        with _sign_in(server) as hq:
            shown = _figures(_row(hq.get("/hq/fleet").text, enrolled.terminal_code))
        assert shown["state"].startswith("forked") and "not merged" in shown["state"]
        listed = _central(server, "terminal", "list")
        assert f"{enrolled.terminal_code}\t" in listed and "forked (entry 4" in listed

        # The device that continues the chain goes on as before.
        record_sales(first, 1, t0=T0 + timedelta(hours=3))
        assert syncing.sync_once(first).ok
        assert len(server_journal(server.db, enrolled.terminal_id)) == 6
    finally:
        first.ledger.close()


def test_the_till_says_another_device_sends_as_it_in_the_cashiers_language() -> None:
    from pos.ui.i18n import current_language, set_language
    from pos.ui.sync_status import NEEDS_IT, SyncView, sync_text
    from sync.engine import SyncStatus

    view = SyncView(SyncStatus(state="forked", queued=2))
    assert "forked" in NEEDS_IT, "shown as an error the cashier calls IT about"
    before = current_language()
    try:
        set_language("de")
        assert sync_text(view).startswith("Ein anderes Gerät sendet als diese Kasse")
        set_language("zh_CN")
        assert sync_text(view).startswith("另一台设备")
        set_language("en")
        assert sync_text(view).startswith("Another device is sending as this till: call IT")
    finally:
        set_language(before)
