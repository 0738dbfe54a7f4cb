"""Tampering with the journal in the SQLite file is caught by `pos ledger verify`, naming the first
bad entry: flipped bytes, deleted, reordered and truncated entries. See docs/ledger.md for what
verification can and cannot detect."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from ledger_support import quick_sale, raw_connection, ready_terminal

from pos.cli import cli
from pos.ledger import journal, state
from pos.services import shift, staff
from sync.protocol import GENESIS_HASH

MARKER = "MARKERQ"
COLUMNS = ["event_id", "type", "schema_version", "occurred_at", "payload", "prev_hash", "hash"]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger with sign-ins, a shift, sales, a cash movement and a drawer event: ~15 entries."""
    folder = tmp_path_factory.mktemp("baseline")
    terminal = ready_terminal(folder)
    for _ in range(4):
        quick_sale(terminal)
    shift.cash_in(terminal, 500, "change from the safe")
    shift.open_drawer(terminal, MARKER)
    quick_sale(terminal, "5012345678900")
    staff.sign_out(terminal)
    terminal.ledger.close()
    return folder


@pytest.fixture
def ledger_copy(baseline: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(baseline, target)
    return target


def entry_count(folder: Path) -> int:
    with raw_connection(folder / "ledger.sqlite3") as conn:
        return int(conn.execute("SELECT count(*) FROM journal").fetchone()[0])


def tamper(folder: Path, *statements: tuple[str, tuple[object, ...]]) -> None:
    """Run SQL on the file as an attacker would: drop the guarding triggers first."""
    with raw_connection(folder / "ledger.sqlite3") as conn:
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'journal%'"
        ).fetchall():
            conn.execute(f"DROP TRIGGER {name}")
        for sql, params in statements:
            conn.execute(sql, params)


def verify_cli(folder: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["ledger", "verify", "--data-dir", str(folder)])
    return result.exit_code, result.output


def verify_fn(folder: Path) -> journal.Verification:
    conn = sqlite3.connect(f"{(folder / 'ledger.sqlite3').as_uri()}?mode=ro", uri=True)
    try:
        return journal.verify(conn)
    finally:
        conn.close()


def test_the_untouched_ledger_verifies(ledger_copy: Path) -> None:
    code, output = verify_cli(ledger_copy)
    assert code == 0, output
    assert "OK" in output
    assert entry_count(ledger_copy) >= 10


def _altered(value: object) -> object:
    if isinstance(value, int):
        return value + 1
    text = str(value)
    # Change one character to another of the same kind so the field stays well formed where possible.
    for i in range(len(text) - 1, -1, -1):
        ch = text[i]
        if ch in "0123456789abcdef":
            return text[:i] + ("1" if ch == "0" else "0") + text[i + 1 :]
        if ch.isalpha():
            return text[:i] + ("b" if ch != "b" else "c") + text[i + 1 :]
    return text + "x"


def test_every_single_field_change_of_every_entry_is_caught_at_that_entry(
    baseline: Path, tmp_path: Path
) -> None:
    total = entry_count(baseline)
    caught = 0
    tried = 0
    for seq in range(1, total + 1):
        for column in COLUMNS:
            folder = tmp_path / f"{seq}-{column}"
            shutil.copytree(baseline, folder)
            with raw_connection(folder / "ledger.sqlite3") as conn:
                (value,) = conn.execute(f"SELECT {column} FROM journal WHERE seq = ?", (seq,)).fetchone()
            tamper(folder, (f"UPDATE journal SET {column} = ? WHERE seq = ?", (_altered(value), seq)))
            result = verify_fn(folder)
            tried += 1
            # A changed hash shows at its own entry, or (the chain link) at the next one.
            expected = {seq, seq + 1} if column == "hash" else {seq}
            if result.problem is not None and result.problem.seq in expected:
                caught += 1
            else:
                pytest.fail(
                    f"changing {column} of seq {seq} was not caught where it happened: {result.problem}"
                )
            shutil.rmtree(folder)
    assert caught == tried == total * len(COLUMNS)


def test_a_flipped_byte_in_the_file_itself_is_caught_and_named(ledger_copy: Path) -> None:
    path = ledger_copy / "ledger.sqlite3"
    with raw_connection(path) as conn:
        (seq,) = conn.execute("SELECT seq FROM journal WHERE payload LIKE ?", (f"%{MARKER}%",)).fetchone()
    raw = bytearray(path.read_bytes())
    at = raw.find(MARKER.encode())
    assert at > 0 and raw.find(MARKER.encode(), at + 1) == -1  # only in the journal payload
    raw[at] ^= 0x01  # 'M' -> 'L'
    path.write_bytes(bytes(raw))
    code, output = verify_cli(ledger_copy)
    assert code == 1
    assert f"entry seq {seq}:" in output


@pytest.mark.parametrize("victim", [1, 2, 7])
def test_a_deleted_entry_is_caught_at_its_sequence(ledger_copy: Path, victim: int) -> None:
    tamper(ledger_copy, ("DELETE FROM journal WHERE seq = ?", (victim,)))
    code, output = verify_cli(ledger_copy)
    assert code == 1
    assert f"entry seq {victim}: missing" in output


def test_deleted_and_renumbered_entries_are_caught(ledger_copy: Path) -> None:
    # Delete entry 5 and shift every later entry down by one, so the sequence has no gap.
    tamper(
        ledger_copy,
        ("DELETE FROM journal WHERE seq = 5", ()),
        ("UPDATE journal SET seq = seq - 1 WHERE seq > 5", ()),
    )
    code, output = verify_cli(ledger_copy)
    assert code == 1
    assert "entry seq 5:" in output


@pytest.mark.parametrize(("a", "b"), [(1, 2), (3, 9), (4, 5)])
def test_reordered_entries_are_caught_at_the_first_moved_one(ledger_copy: Path, a: int, b: int) -> None:
    tamper(
        ledger_copy,
        ("UPDATE journal SET seq = -1 WHERE seq = ?", (a,)),
        ("UPDATE journal SET seq = ? WHERE seq = ?", (a, b)),
        ("UPDATE journal SET seq = ? WHERE seq = -1", (b,)),
    )
    code, output = verify_cli(ledger_copy)
    assert code == 1
    assert f"entry seq {a}:" in output


def test_an_entry_whose_payload_is_copied_from_another_is_caught(ledger_copy: Path) -> None:
    tamper(
        ledger_copy,
        (
            "UPDATE journal SET payload = (SELECT payload FROM journal WHERE seq = 3) WHERE seq = 2",
            (),
        ),
    )
    code, output = verify_cli(ledger_copy)
    assert code == 1
    assert "entry seq 2:" in output


@pytest.mark.parametrize("keep", [0, 3, 10])
def test_a_truncated_tail_is_caught_against_the_recorded_head(ledger_copy: Path, keep: int) -> None:
    total = entry_count(ledger_copy)
    tamper(ledger_copy, ("DELETE FROM journal WHERE seq > ?", (keep,)))
    code, output = verify_cli(ledger_copy)
    assert code == 1
    assert f"entry seq {keep + 1}: missing" in output
    assert total > keep


def test_a_truncated_tail_with_a_forged_head_is_caught_by_the_servers_acknowledgement(
    ledger_copy: Path,
) -> None:
    total = entry_count(ledger_copy)
    with raw_connection(ledger_copy / "ledger.sqlite3") as conn:
        import sqlite_utils

        db = sqlite_utils.Database(conn)
        state.acknowledge(db, total, "2026-03-02T10:00:00Z")  # the server holds everything
    keep = total - 2  # drop the last sale and the sign-out after it
    tamper(
        ledger_copy,
        ("DELETE FROM journal WHERE seq > ?", (keep,)),
        ("DELETE FROM sales WHERE journal_seq > ?", (keep,)),
        (
            "UPDATE journal_head SET seq = ?, hash = (SELECT hash FROM journal WHERE seq = ?)",
            (keep, keep),
        ),
    )
    code, output = verify_cli(ledger_copy)
    assert code == 1
    assert f"entry seq {keep + 1}: missing" in output
    assert "acknowledged" in output


def test_a_truncated_sale_entry_with_a_forged_head_is_caught_by_its_sale_row(ledger_copy: Path) -> None:
    with raw_connection(ledger_copy / "ledger.sqlite3") as conn:
        (sale_seq,) = conn.execute("SELECT max(journal_seq) FROM sales").fetchone()
    tamper(
        ledger_copy,
        ("DELETE FROM journal WHERE seq >= ?", (sale_seq,)),
        (
            "UPDATE journal_head SET seq = ?, hash = (SELECT hash FROM journal WHERE seq = ?)",
            (sale_seq - 1, sale_seq - 1),
        ),
    )
    code, output = verify_cli(ledger_copy)
    assert code == 1
    assert f"entry seq {sale_seq}: sales row" in output and "has no journal entry behind it" in output


def test_a_whole_journal_emptied_with_its_head_reset_is_caught_by_the_sales(ledger_copy: Path) -> None:
    tamper(
        ledger_copy,
        ("DELETE FROM journal", ()),
        ("UPDATE journal_head SET seq = 0, hash = ?", (GENESIS_HASH,)),
    )
    code, output = verify_cli(ledger_copy)
    assert code == 1
    assert "has no journal entry behind it" in output


def test_verify_changes_nothing_and_refuses_a_missing_ledger(tmp_path: Path, ledger_copy: Path) -> None:
    before = (ledger_copy / "ledger.sqlite3").read_bytes()
    verify_cli(ledger_copy)
    assert (ledger_copy / "ledger.sqlite3").read_bytes() == before
    code, output = verify_cli(tmp_path / "nothing-here")
    assert code == 1
    assert "no ledger" in output


def test_verify_names_a_damaged_file_instead_of_crashing(ledger_copy: Path) -> None:
    path = ledger_copy / "ledger.sqlite3"
    raw = bytearray(path.read_bytes())
    raw[100:4096] = b"\x00" * (4096 - 100)
    path.write_bytes(bytes(raw))
    code, output = verify_cli(ledger_copy)
    assert code == 1
    assert "FAILED" in output


def test_an_entry_altered_and_rehashed_alone_breaks_the_link_to_the_next_one(ledger_copy: Path) -> None:
    """Only the chain link catches this: the altered entry's own hash recomputes (issue 9)."""
    from sync.protocol import canonical_json, chain_hash, entry_body

    with raw_connection(ledger_copy / "ledger.sqlite3") as conn:
        row = conn.execute(
            "SELECT seq, event_id, type, schema_version, occurred_at, payload, prev_hash FROM journal"
            " WHERE payload LIKE ?",
            (f"%{MARKER}%",),
        ).fetchone()
    seq, event_id, type_, version, occurred_at, payload, prev = row
    forged = json.loads(payload)
    forged["reason"] = "nothing to see"
    body = entry_body(
        seq=seq,
        event_id=event_id,
        type=type_,
        schema_version=version,
        occurred_at=occurred_at,
        payload=forged,
    )
    tamper(
        ledger_copy,
        (
            "UPDATE journal SET payload = ?, hash = ? WHERE seq = ?",
            (canonical_json(forged).decode(), chain_hash(prev, body), seq),
        ),
    )
    result = verify_fn(ledger_copy)
    assert result.problem is not None
    assert result.problem.seq == seq + 1 and "chain broken" in result.problem.what
