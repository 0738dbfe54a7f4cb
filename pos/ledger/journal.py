"""The journal: the terminal's append-only, hash-chained outbox of business events.

Each entry has a gapless per-terminal ``seq`` (from 1), a UUIDv7 ``event_id``, a ``type`` from
:class:`sync.protocol.EventType`, a ``schema_version``, ``occurred_at`` (ISO 8601 UTC), a JSON
``payload`` stored in canonical form, and ``prev_hash``/``hash`` computed exactly as
:func:`sync.protocol.chain_hash` over :func:`sync.protocol.entry_body` (the server checks the same
chain). Triggers in the schema refuse any UPDATE or DELETE of a journal row and any insert that does
not continue the chain head.

:func:`append` must be called on the writer connection inside the transaction that writes the
event's effects, so the event and its effects commit together.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlite_utils
import uuid_utils

from pos.ledger import derived
from sync.protocol import GENESIS_HASH, EventType, JournalEntry, canonical_json, chain_hash, entry_body

SCHEMA_VERSION = 1
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_KNOWN_TYPES = {t.value for t in EventType}


@dataclass(frozen=True)
class Entry:
    """One journal row as stored."""

    seq: int
    event_id: str
    type: str
    schema_version: int
    occurred_at: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str

    def to_wire(self) -> JournalEntry:
        """The entry as :class:`sync.protocol.JournalEntry`, ready to push."""
        return JournalEntry(
            seq=self.seq,
            event_id=self.event_id,
            type=self.type,
            schema_version=self.schema_version,
            occurred_at=self.occurred_at,
            payload=self.payload,
            prev_hash=self.prev_hash,
            hash=self.hash,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "event_id": self.event_id,
            "type": self.type,
            "schema_version": self.schema_version,
            "occurred_at": self.occurred_at,
            "payload": self.payload,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def utc_stamp(moment: datetime | None = None) -> str:
    """``moment`` (default now) as the ISO 8601 UTC text the journal uses, to the microsecond."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def new_event_id() -> str:
    """A fresh UUIDv7 as text."""
    return str(uuid_utils.uuid7())


def head(db: sqlite_utils.Database) -> tuple[int, str]:
    """The chain head as recorded with the last append: ``(seq, hash)``; ``(0, GENESIS_HASH)`` if empty."""
    row = db.execute("SELECT seq, hash FROM journal_head WHERE id = 1").fetchone()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)


def append(
    db: sqlite_utils.Database,
    type: EventType,
    payload: dict[str, Any],
    *,
    occurred_at: str | None = None,
    event_id: str | None = None,
    schema_version: int = SCHEMA_VERSION,
) -> Entry:
    """Append one event onto the chain head and return it (call inside the effects' transaction)."""
    seq, prev = head(db)
    body = entry_body(
        seq=seq + 1,
        event_id=event_id or new_event_id(),
        type=str(type),
        schema_version=schema_version,
        occurred_at=occurred_at or utc_stamp(),
        payload=payload,
    )
    digest = chain_hash(prev, body)
    db.execute(
        "INSERT INTO journal (seq, event_id, type, schema_version, occurred_at, payload, prev_hash, hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            body["seq"],
            body["event_id"],
            body["type"],
            body["schema_version"],
            body["occurred_at"],
            canonical_json(payload).decode("utf-8"),
            prev,
            digest,
        ),
    )
    return Entry(
        seq=body["seq"],
        event_id=body["event_id"],
        type=body["type"],
        schema_version=schema_version,
        occurred_at=body["occurred_at"],
        payload=payload,
        prev_hash=prev,
        hash=digest,
    )


_COLUMNS = "seq, event_id, type, schema_version, occurred_at, payload, prev_hash, hash"


def _row_to_entry(row: tuple[Any, ...]) -> Entry:
    return Entry(
        seq=int(row[0]),
        event_id=str(row[1]),
        type=str(row[2]),
        schema_version=int(row[3]),
        occurred_at=str(row[4]),
        payload=json.loads(row[5]),
        prev_hash=str(row[6]),
        hash=str(row[7]),
    )


def entries_after(db: sqlite_utils.Database, seq: int, limit: int = 500) -> list[Entry]:
    """Up to ``limit`` entries with a sequence above ``seq``, in order (what the sync engine pushes)."""
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM journal WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
    ).fetchall()
    return [_row_to_entry(r) for r in rows]


def wire_after(db: sqlite_utils.Database, seq: int, limit: int = 500) -> list[tuple[int, bytes]]:
    """:func:`entries_after` as ``(seq, JSON of the JournalEntry)``, ready to push.

    The stored payload is already canonical JSON: it goes out as it is, never parsed here."""
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM journal WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
    ).fetchall()
    return [
        (
            int(row[0]),
            orjson.dumps(
                {
                    "seq": row[0],
                    "event_id": row[1],
                    "type": row[2],
                    "schema_version": row[3],
                    "occurred_at": row[4],
                    "payload": orjson.Fragment(row[5]),
                    "prev_hash": row[6],
                    "hash": row[7],
                }
            ),
        )
        for row in rows
    ]


def iter_entries(db: sqlite_utils.Database) -> Iterator[Entry]:
    """Every entry in sequence order (streamed)."""
    for row in db.execute(f"SELECT {_COLUMNS} FROM journal ORDER BY seq"):
        yield _row_to_entry(row)


def count(db: sqlite_utils.Database) -> int:
    return int(db.execute("SELECT count(*) FROM journal").fetchone()[0])


# --- verification -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """The first thing wrong with a journal: at which ``seq`` (as stored or expected) and what."""

    seq: int
    what: str

    def __str__(self) -> str:
        return f"entry seq {self.seq}: {self.what}" if self.seq > 0 else self.what


@dataclass(frozen=True)
class Verification:
    """The result of :func:`verify`: ``problem`` is None when the chain is sound."""

    entries: int
    head_seq: int
    head_hash: str
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(conn: sqlite3.Connection, *, tables: bool = True) -> Verification:
    """Check the whole chain and its anchors; report the first bad entry.

    Checks, entry by entry in the order the rows are stored by ``seq``: the sequence continues
    without a gap from 1; the envelope fields are well formed; the payload is canonical JSON; the
    ``prev_hash`` equals the previous entry's hash; the ``hash`` recomputes. Then the anchors: the
    last entry must match the head recorded at append time (``journal_head``), reach at least the
    sequence the server acknowledged (``sync_state.acked_seq``, with the acknowledged hash). Last, every table derived from
    the journal (sales, lines, tenders, shifts, cash movements) is rebuilt from it and compared row
    by row (:func:`pos.ledger.derived.check`; ``tables=False`` checks the chain alone). See docs/ledger.md for what this can and cannot
    detect.
    """
    prev_hash = GENESIS_HASH
    expected = 1
    n = 0
    try:
        cursor = conn.execute(
            "SELECT seq, event_id, type, schema_version, occurred_at, payload, prev_hash, hash"
            " FROM journal ORDER BY seq"
        )
        for seq, event_id, type_, version, occurred_at, payload_text, stored_prev, stored_hash in cursor:
            bad = _check_row(
                expected, prev_hash, seq, event_id, type_, version, occurred_at, payload_text, stored_prev
            )
            if bad is None:
                body = entry_body(
                    seq=seq,
                    event_id=event_id,
                    type=type_,
                    schema_version=version,
                    occurred_at=occurred_at,
                    payload=json.loads(payload_text),
                )
                if chain_hash(stored_prev, body) != stored_hash:
                    bad = Problem(seq, "hash does not match the entry's contents (entry altered)")
            if bad is not None:
                return Verification(n, expected - 1, prev_hash, bad)
            prev_hash = stored_hash
            expected += 1
            n += 1
        last_seq = expected - 1
        anchor = _check_anchors(conn, last_seq, prev_hash)
        if anchor is None and tables:
            mismatch = derived.check(conn)
            if mismatch is not None:
                anchor = Problem(mismatch.seq, mismatch.what)
    except sqlite3.DatabaseError as exc:
        return Verification(n, expected - 1, prev_hash, Problem(expected, f"cannot be read: {exc}"))
    return Verification(n, last_seq, prev_hash, anchor)


def _check_row(
    expected: int,
    prev_hash: str,
    seq: Any,
    event_id: Any,
    type_: Any,
    version: Any,
    occurred_at: Any,
    payload_text: Any,
    stored_prev: Any,
) -> Problem | None:
    if seq != expected:
        if isinstance(seq, int) and seq > expected:
            what = f"missing (the next stored entry is seq {seq}: entries deleted)"
        else:
            what = f"out of order (found seq {seq!r})"
        return Problem(expected, what)
    if not isinstance(event_id, str) or not _UUID.match(event_id):
        return Problem(seq, f"event id {event_id!r} is not a UUIDv7")
    if type_ not in _KNOWN_TYPES:
        return Problem(seq, f"unknown event type {type_!r}")
    if not isinstance(version, int) or version < 1:
        return Problem(seq, f"bad schema version {version!r}")
    if not isinstance(occurred_at, str) or not occurred_at:
        return Problem(seq, "missing occurred_at")
    if not isinstance(payload_text, str):
        return Problem(seq, "payload is not text")
    try:
        payload = json.loads(payload_text)
    except ValueError:
        return Problem(seq, "payload is not valid JSON")
    if not isinstance(payload, dict):
        return Problem(seq, "payload is not a JSON object")
    if canonical_json(payload).decode("utf-8") != payload_text:
        return Problem(seq, "payload is not in canonical form (entry altered)")
    if not isinstance(stored_prev, str) or not _HEX64.match(stored_prev):
        return Problem(seq, "prev_hash is not 64 hex characters")
    if stored_prev != prev_hash:
        return Problem(seq, "prev_hash does not match the previous entry's hash (chain broken)")
    return None


def _check_anchors(conn: sqlite3.Connection, last_seq: int, last_hash: str) -> Problem | None:
    head_row = conn.execute("SELECT seq, hash FROM journal_head WHERE id = 1").fetchone()
    if head_row is not None:
        head_seq, head_hash = int(head_row[0]), str(head_row[1])
        if head_seq > last_seq:
            return Problem(
                last_seq + 1, f"missing: the journal ends at seq {last_seq} but its head was seq {head_seq}"
            )
        if head_seq < last_seq or head_hash != last_hash:
            return Problem(head_seq, "the recorded chain head does not match the last entry")
    sync = conn.execute("SELECT acked_seq, acked_hash FROM sync_state WHERE id = 1").fetchone()
    if sync is not None:
        acked_seq, acked_hash = int(sync[0]), sync[1]
        if acked_seq > last_seq:
            return Problem(
                last_seq + 1,
                f"missing: the server acknowledged up to seq {acked_seq} but the journal ends at {last_seq}",
            )
        if acked_seq and acked_hash:
            row = conn.execute("SELECT hash FROM journal WHERE seq = ?", (acked_seq,)).fetchone()
            if row is None or row[0] != acked_hash:
                return Problem(acked_seq, "differs from the entry the server acknowledged")
    return None
