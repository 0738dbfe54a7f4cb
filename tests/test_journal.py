"""The journal's hash chain is exactly the one sync/protocol.py defines (the server checks the same)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pos.ledger import journal
from pos.ledger.db import Ledger
from sync.protocol import GENESIS_HASH, EventType, JournalEntry

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
payloads = st.dictionaries(st.text(max_size=10), json_values, max_size=5)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(list(EventType)), payloads), min_size=1, max_size=8))
def test_any_appended_events_form_a_chain_the_wire_model_and_verify_accept(
    tmp_path_factory: Any, events: list[tuple[EventType, dict[str, Any]]]
) -> None:
    folder: Path = tmp_path_factory.mktemp("chain")
    with Ledger.open(folder, daily_backup=False) as ledger:
        appended = [ledger.transact(lambda db, t=t, p=p: journal.append(db, t, p)) for t, p in events]
        stored = list(journal.iter_entries(ledger.read()))
        assert [e.as_dict() for e in stored] == [e.as_dict() for e in appended]
        prev = GENESIS_HASH
        for entry in stored:
            wire = JournalEntry.model_validate(entry.as_dict())
            assert wire.prev_hash == prev and wire.hash_is_valid()
            prev = entry.hash
        # Arbitrary payloads write no sales or shifts: the chain alone is what is checked here.
        assert journal.verify(ledger.read().conn, tables=False).ok
        assert journal.head(ledger.read()) == (len(events), prev)


def test_entries_carry_uuid7_ids_in_time_order_and_utc_timestamps(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as ledger:
        made = [
            ledger.transact(lambda db: journal.append(db, EventType.DRAWER_OPENED, {})) for _ in range(20)
        ]
    ids = [e.event_id for e in made]
    assert all(i[14] == "7" for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == 20
    assert all(e.occurred_at.endswith("Z") for e in made)
    assert journal.utc_stamp().endswith("Z")


def test_entries_after_pages_in_sequence_order(tmp_path: Path) -> None:
    with Ledger.open(tmp_path) as ledger:
        for n in range(10):
            ledger.transact(lambda db, n=n: journal.append(db, EventType.CASH_IN, {"n": n}))
        page = journal.entries_after(ledger.read(), 3, limit=4)
    assert [e.seq for e in page] == [4, 5, 6, 7]
    assert [e.to_wire().payload["n"] for e in page] == [3, 4, 5, 6]


def test_the_standalone_snippet_in_docs_verifies_a_real_ledger(tmp_path: Path) -> None:
    """docs/ledger.md promises anyone can verify a chain with hashlib/json/sqlite3 only."""
    with Ledger.open(tmp_path) as ledger:
        for n in range(5):
            ledger.transact(lambda db, n=n: journal.append(db, EventType.CASH_IN, {"amount": n, "note": "ü"}))
    doc = (Path(__file__).resolve().parent.parent / "docs" / "ledger.md").read_text(encoding="utf-8")
    snippet = doc.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {"hashlib": hashlib, "json": json, "sqlite3": sqlite3}
    exec(compile(snippet, "ledger.md", "exec"), namespace)
    assert namespace["verify"](str(tmp_path / "ledger.sqlite3")) == 5
    conn = sqlite3.connect(tmp_path / "ledger.sqlite3")
    conn.execute("DROP TRIGGER journal_no_update")
    conn.execute('UPDATE journal SET payload = \'{"amount":9,"note":"ü"}\' WHERE seq = 3')
    conn.commit()
    conn.close()
    try:
        namespace["verify"](str(tmp_path / "ledger.sqlite3"))
    except ValueError as exc:
        assert "seq 3" in str(exc)
    else:
        raise AssertionError("the snippet accepted an altered entry")
