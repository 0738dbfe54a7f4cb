"""Days offline, then reconnect: a real terminal (ledger on disk, enrolled through the real
endpoint) sells 10,000 times over three simulated days with head office unreachable, then one
``pos sync`` round delivers every sale exactly once, in order, with totals equal to the cent."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import httpx
from click.testing import CliRunner
from sync_support import (
    T0,
    central_server,
    record_sales,
    server_journal,
    server_totals,
    terminal_totals,
)

from pos.cli_sync import enroll as enroll_command
from pos.cli_sync import sync as sync_command
from pos.ledger import journal
from pos.services import syncing
from pos.services.terminal import open_terminal
from sync.engine import status_line

SALES = 10_000
THREE_DAYS = timedelta(days=3)


def test_ten_thousand_sales_over_three_offline_days_arrive_exactly_once_in_order(tmp_path: Path) -> None:
    with central_server(tmp_path) as server:
        from central_fixtures import enrollment_code

        code = enrollment_code(server.db, "S01")
        back_online = T0 + THREE_DAYS + timedelta(hours=1)
        with open_terminal(
            tmp_path / "till", secrets_backend="file", daily_backup=False, clock=lambda: back_online
        ) as terminal:
            syncing.enroll(terminal, server.url, code, terminal_name="Till 1")
            terminal_id = terminal.config.terminal_id

            # Head office unreachable: nothing listens on this address any more.
            dead = httpx.Client(transport=httpx.HTTPTransport(retries=0))
            offline_engine = syncing.make_engine(terminal, http=dead)
            offline_engine.client.base_url = "http://127.0.0.1:9"
            step = THREE_DAYS / SALES
            for day in range(3):
                record_sales(
                    terminal,
                    SALES // 3 + (1 if day == 2 else 0),
                    t0=T0,
                    step=step,
                    per_transaction=250,
                    total=lambda i: 100 + (i * 37) % 9_900,
                    tender=lambda i: "card" if i % 3 == 0 else "cash",
                )
                report = offline_engine.round()
                assert report.error is not None and report.error.kind.value == "offline"
            dead.close()
            status = offline_engine.status
            assert status.state == "offline" and status.queued == SALES
            # The lag is the age of the oldest unsent entry: the first sale, three days and an
            # hour before the till's clock says it is back online.
            oldest = journal.entries_after(terminal.ledger.read(), 0, 1)[0]
            assert datetime.fromisoformat(oldest.occurred_at.replace("Z", "+00:00")) == T0
            assert status.lag_seconds == (back_online - T0).total_seconds()
            assert status.lag_seconds == (THREE_DAYS + timedelta(hours=1)).total_seconds()
            assert "offline" in status_line(status)

            report = syncing.sync_once(terminal)
            assert report.ok, report.summary()
            assert report.accepted == SALES and report.duplicates == 0 and not report.flagged
            assert report.batches == SALES // 500

            ours = [(e.seq, e.event_id) for e in journal.iter_entries(terminal.ledger.read())]
            assert server_journal(server.db, terminal_id) == ours, "missing, doubled or reordered entries"
            assert server_totals(server.db, terminal_id) == terminal_totals(terminal)
            assert syncing.current_status(terminal).queued == 0
            assert journal.verify(terminal.ledger.read().conn).ok


def test_pos_enroll_and_pos_sync_from_the_command_line(tmp_path: Path) -> None:
    from central_fixtures import enrollment_code

    runner = CliRunner()
    till = tmp_path / "till"
    with central_server(tmp_path) as server:
        bad = runner.invoke(
            enroll_command,
            ["--server", server.url, "--code", "WRONG-CODE", "--data-dir", str(till)],
            env=_file_secrets(),
        )
        assert bad.exit_code == 1 and "refused" in bad.output

        code = enrollment_code(server.db, "S01")
        done = runner.invoke(
            enroll_command,
            ["--server", server.url, "--code", code, "--data-dir", str(till)],
            env=_file_secrets(),
        )
        assert done.exit_code == 0, done.output
        assert "Enrolled as terminal" in done.output and "S01" in done.output
        secrets = till / "secrets.json"
        assert secrets.stat().st_mode & 0o077 == 0, "the secrets file is readable by others"

        with open_terminal(till, secrets_backend="file", daily_backup=False) as terminal:
            assert terminal.config.enrolled and terminal.secrets.get("token")
            record_sales(terminal, 3)

        synced = runner.invoke(sync_command, ["--data-dir", str(till)], env=_file_secrets())
        assert synced.exit_code == 0, synced.output
        assert "pushed 3 entries" in synced.output and "Status: online" in synced.output

        again = runner.invoke(sync_command, ["--data-dir", str(till)], env=_file_secrets())
        assert "pushed 0 entries" in again.output

    offline = runner.invoke(sync_command, ["--data-dir", str(till), "--wait", "0"], env=_file_secrets())
    assert offline.exit_code == 1 and "offline" in offline.output


def _file_secrets() -> dict[str, str]:
    return {"STORELINK_SECRETS": "file"}


def test_the_sync_commands_take_the_groups_data_dir(tmp_path: Path) -> None:
    import click

    @click.group()
    @click.option("--data-dir", type=click.Path(path_type=Path), default=None)
    def group(data_dir: Path | None) -> None:
        pass

    group.add_command(sync_command)
    till = tmp_path / "till"
    result = CliRunner().invoke(group, ["--data-dir", str(till), "sync"], env=_file_secrets())
    assert result.exit_code == 1 and "not enrolled" in result.output
    assert (till / "ledger.sqlite3").exists(), "the group's --data-dir was not used"
