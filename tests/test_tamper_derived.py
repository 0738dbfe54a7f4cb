"""Tampering with the tables derived from the journal (sales, lines, tenders, shifts, cash
movements: everything a report or the drawer count reads) is caught by `pos ledger verify`,
naming the row; the drawer count at shift close reads the journal, so an edited table cannot move
it; a till whose ledger fails verification says so to head office (issue 9, defect 1)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from ledger_support import MANAGER_PIN, quick_sale, raw_connection, ready_terminal

from pos.cli import cli
from pos.ledger import journal
from pos.services import returns, sale, shift, staff
from pos.services.fleet import ledger_health
from sync.protocol import LedgerHealth

#: Every table a report, the export or the drawer count reads, and how its rows are named.
TABLES = {
    "sales": "id",
    "sale_lines": "sale_id, line_no",
    "sale_tenders": "sale_id, n",
    "shifts": "id",
    "cash_movements": "id",
}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two shifts (one closed), cash and card sales, a partial return, cash in and out, training."""
    folder = tmp_path_factory.mktemp("derived")
    terminal = ready_terminal(folder)
    quick_sale(terminal)
    s = sale.start_sale(terminal)
    sale.set_next_quantity(s, 3000)
    sale.scan(terminal, s, "5012345678900")
    sale.scan(terminal, s, "4000417025005")
    sale.tender_card(terminal, s, "AUTH-1", 1000)
    sale.tender_cash(terminal, s, 5000)
    mugs = sale.complete_sale(terminal, s)
    r = returns.start_return(terminal, mugs.receipt_no)
    returns.set_return_quantity(r, 1, 1000)
    returns.complete_return(terminal, r, manager_pin=MANAGER_PIN)
    shift.cash_in(terminal, 700, "change from the safe")
    shift.cash_out(terminal, 300, "to the safe", manager_pin=MANAGER_PIN)
    t = sale.start_sale(terminal, training=True)
    sale.scan(terminal, t, "4006381333931")
    sale.tender_cash(terminal, t)
    sale.complete_sale(terminal, t)
    shift.close_shift(terminal, 12_000, manager_pin=MANAGER_PIN)
    shift.open_shift(terminal, 5_000)
    quick_sale(terminal, "5012345678900")
    staff.sign_out(terminal)
    terminal.ledger.close()
    return folder


def in_memory(folder: Path) -> sqlite3.Connection:
    source = sqlite3.connect(f"{(folder / 'ledger.sqlite3').as_uri()}?mode=ro", uri=True)
    conn = sqlite3.connect(":memory:", isolation_level=None)
    source.backup(conn)
    source.close()
    return conn


def verify_cli(folder: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["ledger", "verify", "--data-dir", str(folder)])
    return result.exit_code, result.output


def test_the_untouched_ledger_verifies_with_every_derived_table_populated(baseline: Path) -> None:
    conn = in_memory(baseline)
    for table in TABLES:
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] >= 2, table
    assert conn.execute("SELECT count(*) FROM sales WHERE kind = 'return'").fetchone()[0] == 1
    result = journal.verify(conn)
    assert result.ok, result.problem


def _other_values(conn: sqlite3.Connection, table: str, column: str, value: Any) -> list[Any]:
    """Values to put in place of ``value``: a nudge of the same kind, then the column's other values."""
    nudged: list[Any] = []
    if value is None:
        nudged = ["x", 1]
    elif isinstance(value, int):
        nudged = [value - 1, value + 1]
    else:
        nudged = [str(value)[:-1] + ("0" if str(value)[-1:] != "0" else "1")]
    others = [v for (v,) in conn.execute(f"SELECT DISTINCT {column} FROM {table}") if v != value]
    return nudged + others + ([None] if value is not None else [])


def _row_seq(conn: sqlite3.Connection, table: str, key: tuple[Any, ...]) -> set[int]:
    """The journal entries a row of ``table`` comes from (where verify must point)."""
    if table in ("sales", "sale_lines", "sale_tenders"):
        (seq,) = conn.execute("SELECT journal_seq FROM sales WHERE id = ?", (key[0],)).fetchone()
        return {int(seq)}
    if table == "cash_movements":
        (seq,) = conn.execute("SELECT journal_seq FROM cash_movements WHERE id = ?", (key[0],)).fetchone()
        return {int(seq)}
    return {
        int(seq)
        for (seq,) in conn.execute(
            "SELECT seq FROM journal WHERE type IN ('shift.opened', 'shift.closed')"
            " AND json_extract(payload, '$.shift_id') = ?",
            (key[0],),
        )
    }


def test_every_amount_count_and_link_changed_in_any_derived_table_is_named(baseline: Path) -> None:
    """Each cell of each row of each table, changed alone: verify fails at that row's entry."""
    pristine = in_memory(baseline)
    changed = refused = 0
    for table, key_columns in TABLES.items():
        columns = [r[1] for r in pristine.execute(f"PRAGMA table_info({table})")]
        keys = pristine.execute(f"SELECT {key_columns} FROM {table}").fetchall()
        where = " AND ".join(f"{k.strip()} = ?" for k in key_columns.split(","))
        for key in keys:
            expected_seqs = _row_seq(pristine, table, key)
            for column in columns:
                (value,) = pristine.execute(f"SELECT {column} FROM {table} WHERE {where}", key).fetchone()
                for candidate in _other_values(pristine, table, column, value):
                    conn = in_memory(baseline)
                    try:
                        conn.execute(f"UPDATE {table} SET {column} = ? WHERE {where}", (candidate, *key))
                    except sqlite3.IntegrityError:
                        conn.close()
                        continue  # the schema itself refuses this value: try the next one
                    result = journal.verify(conn)
                    conn.close()
                    assert result.problem is not None, f"{table} {key} {column}: {value!r} -> {candidate!r}"
                    assert result.problem.seq in expected_seqs, (table, key, column, str(result.problem))
                    changed += 1
                    break
                else:
                    refused += 1
    assert changed > 150
    assert refused < changed // 10


@pytest.mark.parametrize("table", list(TABLES))
def test_a_deleted_or_an_added_row_is_named(baseline: Path, table: str) -> None:
    key_columns = TABLES[table]
    pristine = in_memory(baseline)
    for key in pristine.execute(f"SELECT {key_columns} FROM {table}").fetchall():
        where = " AND ".join(f"{k.strip()} = ?" for k in key_columns.split(","))
        conn = in_memory(baseline)
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute(f"DELETE FROM {table} WHERE {where}", key)
        result = journal.verify(conn)
        assert result.problem is not None and table in result.problem.what, (table, key, result.problem)
        conn.close()
    # A row copied under a new key: an extra sale, line, tender, shift or movement nobody journaled.
    conn = in_memory(baseline)
    columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
    first_key = key_columns.split(",")[0].strip()
    values = list(conn.execute(f"SELECT {', '.join(columns)} FROM {table} LIMIT 1").fetchone())
    if table in ("sale_lines", "sale_tenders"):
        values[columns.index("line_no" if table == "sale_lines" else "n")] = 99
    else:
        values[columns.index(first_key)] = "01890000-0000-7000-8000-000000000000"
        for unique in ("receipt_seq", "receipt_no", "journal_seq", "claim_code"):
            if unique in columns:
                values[columns.index(unique)] = 999 if unique.endswith("seq") else None
        if "closed_at" in columns:  # one open shift at a time: the copy is a closed one
            values[columns.index("closed_at")] = "2026-01-01T00:00:00.000000Z"
        if "receipt_no" in columns:
            values[columns.index("receipt_no")] = "T-EXTRA"
    conn.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})", values
    )
    result = journal.verify(conn)
    assert result.problem is not None and table in result.problem.what, (table, result.problem)


def test_lowering_a_cash_sale_is_named_and_cannot_hide_a_drawer_shortfall(tmp_path: Path) -> None:
    """The issue's case: an insider lowers one sale's cash tender and total by 5.00 in the file."""
    terminal = ready_terminal(tmp_path)
    for _ in range(3):
        done = quick_sale(terminal)
    honest = shift.expected_cash(terminal)
    with raw_connection(tmp_path / "ledger.sqlite3") as conn:
        conn.execute("UPDATE sales SET total = total - 500 WHERE id = ?", (done.sale_id,))
        conn.execute(
            "UPDATE sale_tenders SET amount = amount - 500 WHERE sale_id = ? AND kind = 'cash'",
            (done.sale_id,),
        )
    code, output = verify_cli(tmp_path)
    assert code == 1
    assert f"entry seq {done.journal_seq}: sales row {done.receipt_no}" in output
    assert "total is" in output
    # Head office hears of it with the next request.
    assert ledger_health(tmp_path).health is LedgerHealth.FAILED
    # The drawer count reads the journal: still the honest figure, at close too.
    assert shift.expected_cash(terminal) == honest
    closed = shift.close_shift(terminal, honest - 500, manager_pin=MANAGER_PIN)
    assert closed.expected_cash == honest and closed.difference == -500
    terminal.ledger.close()


def test_a_shift_closed_on_altered_tables_is_named_even_after_they_are_put_back(tmp_path: Path) -> None:
    """A close whose recorded expected cash the journal's own entries do not add up to."""
    terminal = ready_terminal(tmp_path)
    quick_sale(terminal)
    closed = shift.close_shift(terminal, 10_199, manager_pin=MANAGER_PIN)
    terminal.ledger.close()
    path = tmp_path / "ledger.sqlite3"
    with raw_connection(path) as conn:
        (seq, payload) = conn.execute(
            "SELECT seq, payload FROM journal WHERE type = 'shift.closed'"
        ).fetchone()
    # Re-write the journal from that entry on, as a tool that forged the close would have had to.
    body = json.loads(payload)
    body["expected_cash"] = closed.expected_cash - 500
    _rewrite_tail(path, seq, body)
    with raw_connection(path) as conn:
        conn.execute("UPDATE shifts SET expected_cash = expected_cash - 500")
    code, output = verify_cli(tmp_path)
    assert code == 1
    assert f"entry seq {seq}:" in output and "add up to" in output


def _rewrite_tail(path: Path, seq: int, payload: dict[str, Any]) -> None:
    """Replace entry ``seq``'s payload and re-hash the chain from there on (a determined insider)."""
    from sync.protocol import canonical_json, chain_hash, entry_body

    with raw_connection(path) as conn:
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            conn.execute(f"DROP TRIGGER {name}")
        conn.execute("UPDATE journal SET payload = ? WHERE seq = ?", (canonical_json(payload).decode(), seq))
        (prev,) = conn.execute("SELECT prev_hash FROM journal WHERE seq = ?", (seq,)).fetchone()
        rows = conn.execute(
            "SELECT seq, event_id, type, schema_version, occurred_at, payload FROM journal WHERE seq >= ?"
            " ORDER BY seq",
            (seq,),
        ).fetchall()
        for n, event_id, type_, version, occurred_at, text in rows:
            body = entry_body(
                seq=n,
                event_id=event_id,
                type=type_,
                schema_version=version,
                occurred_at=occurred_at,
                payload=json.loads(text),
            )
            digest = chain_hash(prev, body)
            conn.execute("UPDATE journal SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, digest, n))
            prev = digest
        conn.execute("UPDATE journal_head SET seq = (SELECT max(seq) FROM journal), hash = ?", (prev,))


def test_a_return_pointed_at_another_line_is_named(baseline: Path, tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    shutil.copytree(baseline, folder)
    with raw_connection(folder / "ledger.sqlite3") as conn:
        (sale_id,) = conn.execute("SELECT id FROM sales WHERE kind = 'return'").fetchone()
        conn.execute("UPDATE sale_lines SET original_line_no = 2 WHERE sale_id = ?", (sale_id,))
    code, output = verify_cli(folder)
    assert code == 1
    assert "original_line_no 2 is not a line of the returned sale" in output
