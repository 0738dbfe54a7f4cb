"""`pos sell` rings up a real sale from a shell (IT's smoke test) and `pos ledger unsynced` counts
what head office has not received, read-only; refusals record nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from ledger_support import DEMO_CATALOG, table_digest

from pos.cli import cli
from pos.ledger import journal
from pos.services.terminal import open_terminal

MILK = "4151397130521"  # 1.19 EUR in the demo catalog
PIN = "4711"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def unsynced(data: Path) -> int:
    result = run("--data-dir", str(data), "ledger", "unsynced")
    assert result.exit_code == 0, result.output
    return int(result.output.strip())


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STORELINK_SECRETS", "file")
    monkeypatch.setenv("POS_BRANCH_CONFIG", str(tmp_path / "no-branch.conf"))
    folder = tmp_path / "till"
    assert run("--data-dir", str(folder), "catalog", "import", str(DEMO_CATALOG)).exit_code == 0
    added = run("--data-dir", str(folder), "staff", "add", "--name", "Ada", "--role", "manager", "--pin", PIN)
    assert added.exit_code == 0, added.output
    return folder


def test_a_sale_from_the_shell_is_recorded_and_counted_as_unsynced(data: Path) -> None:
    before = unsynced(data)
    sold = run("--data-dir", str(data), "sell", "--pin", PIN, "--scan", MILK, "--scan", MILK, "--cash", "5")
    assert sold.exit_code == 0, sold.output
    assert "2 line(s)" not in sold.output  # the same barcode twice is one line of 2
    assert "1 line(s)" in sold.output and "2.38" in sold.output and "2.62" in sold.output
    with open_terminal(data, daily_backup=False) as terminal:
        rows = list(terminal.ledger.read().query("SELECT kind, total, change FROM sales"))
        assert journal.count(terminal.ledger.read()) >= before + 1
    assert rows == [{"kind": "sale", "total": 238, "change": 262}]
    assert unsynced(data) > before


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--pin", "9999", "--scan", MILK], "Wrong PIN."),
        (["--pin", PIN, "--scan", "4006381333931"], "not in the catalog"),
        (["--pin", PIN, "--scan", MILK, "--cash", "1.00"], "Not enough cash: €1.19 is due, 1.00 was given."),
        (["--pin", PIN, "--scan", MILK, "--cash", "abc"], "Error:"),
    ],
)
def test_a_refused_sale_records_nothing(data: Path, args: list[str], reason: str) -> None:
    ledger = data / "ledger.sqlite3"
    before = {k: v for k, v in table_digest(ledger).items() if k.startswith("sale")}
    result = run("--data-dir", str(data), "sell", *args)
    assert result.exit_code == 1
    assert reason in result.output and "Traceback" not in result.output
    assert {k: v for k, v in table_digest(ledger).items() if k.startswith("sale")} == before


def test_unsynced_of_a_missing_ledger_is_zero(tmp_path: Path) -> None:
    assert unsynced(tmp_path / "nothing") == 0
    assert not (tmp_path / "nothing").exists()


def test_a_till_waiting_to_enroll_does_not_sell(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "branch.conf"
    conf.write_text("[branch]\nserver = https://hq.example.com\nstore = B001\ncode = ABCD-EFGH-JKMN-PQRS\n")
    monkeypatch.setenv("POS_BRANCH_CONFIG", str(conf))
    before = table_digest(data / "ledger.sqlite3")
    result = run("--data-dir", str(data), "sell", "--pin", PIN, "--scan", MILK)
    assert result.exit_code == 1
    assert (
        f"not enrolled yet and cannot sell until it is: run `pos enroll` (branch configuration: {conf})"
        in result.output
    )
    assert table_digest(data / "ledger.sqlite3") == before


def test_a_training_sale_needs_no_shift_and_is_recorded_as_training(data: Path) -> None:
    sold = run("--data-dir", str(data), "sell", "--training", "--pin", PIN, "--scan", MILK)
    assert sold.exit_code == 0, sold.output
    assert "TR" in sold.output
    with open_terminal(data, daily_backup=False) as terminal:
        rows = list(terminal.ledger.read().query("SELECT kind, claim_code FROM sales"))
        shifts = terminal.ledger.read()["shifts"].count
    assert rows == [{"kind": "training", "claim_code": None}]
    assert shifts == 0
