"""The change feed terminals pull: catalog, prices, tax rates, staff, stock on hand, store settings.

Rows of ``changes`` are numbered by ``seq``; a terminal's cursor is the last seq it applied.
Writers take the feed lock (a PostgreSQL advisory lock held to commit; SQLite writers are
serialized anyway) just before inserting rows, so seqs become visible in order and a reader
never skips a row committed late. Changes of one update share ``update_id``; the last one carries
``last_in_update``.

:func:`compact_changes` drops rows that a later row for the same thing supersedes, and deleted
things' tombstones, up to a *floor*. A cursor below the floor gets a snapshot: the feed again from
the start, its first page flagged ``snapshot`` so the terminal replaces what it holds.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Connection, Table, and_, delete, func, insert, or_, select, text, update
from sqlalchemy.exc import DBAPIError

from sync.protocol import Change, ChangeKind
from sync.server import schema
from sync.server.db import get_meta, utcnow

_FEED_LOCK = 7_305_001
_FLOOR_KEY = "changes_floor"


class BadCursor(ValueError):
    """The cursor was not one this server gave out."""


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"c1:{seq}".encode()).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> int | None:
    """The seq in ``cursor``; None for an empty cursor (start from scratch)."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise BadCursor(
            "the cursor is not one this server gave out; start again with an empty cursor"
        ) from exc
    prefix, _, number = raw.partition(":")
    if prefix != "c1" or not number.isdigit() or len(number) > 18:
        raise BadCursor("the cursor is not one this server gave out; start again with an empty cursor")
    return int(number)


class JsonText(str):
    """A JSON value already serialized; :func:`bulk_insert` stores the text as it is (push keeps a
    payload in the canonical form it hashed instead of serializing it again)."""


def bulk_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT many rows fast: COPY on PostgreSQL, one plain executemany on SQLite.

    Rows are plain dicts of column values, as for ``conn.execute(insert(table), rows)``, all with
    the same keys; columns a row leaves out get their defaults. A JSON column's value may be a
    :class:`JsonText`. Errors come as SQLAlchemy's (``IntegrityError`` for a duplicate key).
    """
    if not rows:
        return
    names = list(rows[0])
    if any(
        c.name not in rows[0] and c.default is not None and not c.default.is_scalar for c in table.columns
    ):
        conn.execute(insert(table), rows)  # a default computed per row: SQLAlchemy knows how
        return
    defaults = {
        c.name: c.default.arg  # type: ignore[attr-defined]
        for c in table.columns
        if c.name not in rows[0] and c.default is not None and c.default.is_scalar
    }
    columns = [table.c[name] for name in names] + [table.c[name] for name in defaults]
    json_columns = {c.name for c in columns if isinstance(c.type, JSON)}
    quoted = ", ".join(f'"{c.name}"' for c in columns)
    if conn.dialect.name == "postgresql":
        _copy_rows(conn, table, quoted, names, defaults, json_columns, rows)
        return
    # SQLite: SQLAlchemy's own executemany spends more time building each row's parameters than
    # SQLite spends storing it; convert with the columns' bind processors once per value instead.
    converters: list[tuple[int, Callable[[Any], Any]]] = []
    for i, column in enumerate(columns):
        processor = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        if processor is not None:
            converters.append(
                (i, _json_or(processor) if column.name in json_columns else _same_as_last(processor))
            )
    fixed = list(defaults.values())
    params = []
    for row in rows:
        values = [row[name] for name in names] + fixed
        for i, convert in converters:
            values[i] = convert(values[i])
        params.append(tuple(values))
    marks = ", ".join("?" * len(columns))
    conn.exec_driver_sql(f'INSERT INTO "{table.name}" ({quoted}) VALUES ({marks})', params)


def _json_or(processor: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: value if isinstance(value, JsonText) else processor(value)


def _same_as_last(processor: Callable[[Any], Any]) -> Callable[[Any], Any]:
    # A batch's rows share their timestamps: convert each distinct object once.
    last: list[Any] = [object(), None]

    def convert(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, processor(value)
        return last[1]

    return convert


def _copy_rows(
    conn: Connection,
    table: Table,
    quoted: str,
    names: list[str],
    defaults: dict[str, Any],
    json_columns: set[str],
    rows: list[dict[str, Any]],
) -> None:
    import psycopg

    raw = conn.connection.driver_connection
    assert raw is not None
    statement = f'COPY "{table.name}" ({quoted}) FROM STDIN'
    fixed = [json.dumps(v) if k in json_columns else v for k, v in defaults.items()]
    as_json = [name in json_columns for name in names]
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                values = [row[name] for name in names]
                for i, is_json in enumerate(as_json):
                    value = values[i]
                    if is_json and value is not None and not isinstance(value, JsonText):
                        values[i] = json.dumps(value)
                copy.write_row(values + fixed)
    except psycopg.Error as exc:
        # As SQLAlchemy would raise it (IntegrityError for a duplicate key...), so callers that
        # retry a race or answer 4xx see the same exceptions on both databases.
        raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc


def lock_feed(conn: Connection) -> None:
    """Hold the feed lock until this transaction ends (see module docstring)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _FEED_LOCK})


@dataclass(frozen=True)
class NewChange:
    kind: ChangeKind
    key: str
    data: dict[str, Any] | None
    store_id: int | None = None


def new_update_id() -> str:
    return str(uuid.uuid4())


def append_to_update(
    conn: Connection, update_id: str, items: Sequence[NewChange], *, now: datetime | None = None
) -> None:
    """Append ``items`` to the feed under ``update_id``, none of them marked last yet.

    For updates written in chunks; :func:`finish_update` marks the end. The feed lock taken here is
    held to commit, so the whole update gets consecutive seqs.
    """
    if not items:
        return
    at = now or utcnow()
    lock_feed(conn)
    rows = [
        {
            "store_id": item.store_id,
            "kind": item.kind.value,
            "key": item.key,
            "data": item.data,
            "update_id": update_id,
            "last_in_update": False,
            "created_at": at,
        }
        for item in items
    ]
    for start in range(0, len(rows), 5000):
        bulk_insert(conn, schema.changes, rows[start : start + 5000])


def finish_update(conn: Connection, update_id: str) -> None:
    """Mark the last change of ``update_id``: terminals may now show the whole update."""
    table = schema.changes
    last = conn.execute(select(func.max(table.c.seq)).where(table.c.update_id == update_id)).scalar_one()
    if last is not None:
        conn.execute(update(table).where(table.c.seq == last).values(last_in_update=True))


#: Kinds whose rows each carry the whole truth about one thing and are always their own update.
STANDALONE_KINDS = frozenset({ChangeKind.STOCK, ChangeKind.STAFF, ChangeKind.STORE})


def record_standalone(conn: Connection, items: Iterable[NewChange], *, now: datetime | None = None) -> None:
    """Append ``items`` (of :data:`STANDALONE_KINDS`) each as its own update, dropping older rows
    for the same things: a terminal whose cursor is before a dropped row still gets the newer one.
    """
    items = list(items)
    if not items:
        return
    if any(item.kind not in STANDALONE_KINDS for item in items):
        raise ValueError("only stock, staff and store changes stand alone")
    at = now or utcnow()
    lock_feed(conn)
    table = schema.changes
    groups: dict[tuple[str, int | None], list[str]] = {}
    for item in items:
        groups.setdefault((item.kind.value, item.store_id), []).append(item.key)
    for (kind, store_id), keys in groups.items():
        store_cond = table.c.store_id.is_(None) if store_id is None else table.c.store_id == store_id
        if conn.dialect.name == "postgresql":
            # One array parameter instead of one per key.
            conn.execute(delete(table).where(table.c.kind == kind, store_cond, table.c.key == func.any(keys)))
            continue
        for start in range(0, len(keys), 500):
            conn.execute(
                delete(table).where(
                    table.c.kind == kind, store_cond, table.c.key.in_(keys[start : start + 500])
                )
            )
    rows = [
        {
            "store_id": item.store_id,
            "kind": item.kind.value,
            "key": item.key,
            "data": item.data,
            "update_id": str(uuid.uuid4()),
            "last_in_update": True,
            "created_at": at,
        }
        for item in items
    ]
    for start in range(0, len(rows), 5000):
        bulk_insert(conn, schema.changes, rows[start : start + 5000])


def feed_floor(conn: Connection) -> int:
    value = get_meta(conn, _FLOOR_KEY)
    return int(value) if value else 0


def head_seq(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(schema.changes.c.seq), 0))).scalar_one())


def compact_changes(conn: Connection) -> tuple[int, int]:
    """Drop superseded rows and tombstones up to the current head; returns (floor, rows dropped).

    Cursors older than the floor get a snapshot from then on.
    """
    lock_feed(conn)
    table = schema.changes
    floor = head_seq(conn)
    newer = table.alias("newer")
    superseded = (
        select(newer.c.seq)
        .where(
            newer.c.kind == table.c.kind,
            newer.c.key == table.c.key,
            or_(
                and_(newer.c.store_id.is_(None), table.c.store_id.is_(None)),
                newer.c.store_id == table.c.store_id,
            ),
            newer.c.seq > table.c.seq,
        )
        .exists()
    )
    dropped = conn.execute(delete(table).where(table.c.seq <= floor, superseded)).rowcount
    dropped += conn.execute(delete(table).where(table.c.seq <= floor, table.c.data.is_(None))).rowcount
    # Everything below the floor is settled state now, each row complete on its own.
    conn.execute(update(table).where(table.c.seq <= floor).values(last_in_update=True))
    values = {"key": _FLOOR_KEY, "value": str(floor)}
    if get_meta(conn, _FLOOR_KEY) is None:
        conn.execute(insert(schema.meta).values(values))
    else:
        conn.execute(update(schema.meta).where(schema.meta.c.key == _FLOOR_KEY).values(value=str(floor)))
    return floor, dropped


@dataclass(frozen=True)
class Page:
    changes: list[Change]
    next_seq: int
    has_more: bool
    snapshot: bool


def read_page(conn: Connection, *, store_id: int, after: int | None, limit: int) -> Page:
    """Up to ``limit`` changes for ``store_id`` after seq ``after`` (None: from scratch)."""
    snapshot = after is None or after < feed_floor(conn)
    start = 0 if snapshot or after is None else after
    table = schema.changes
    rows = conn.execute(
        select(table)
        .where(table.c.seq > start, or_(table.c.store_id.is_(None), table.c.store_id == store_id))
        .order_by(table.c.seq)
        .limit(limit + 1)
    ).all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    changes = [
        Change(
            seq=row.seq,
            kind=ChangeKind(row.kind),
            key=row.key,
            data=row.data,
            update_id=row.update_id,
            last_in_update=row.last_in_update,
        )
        for row in rows
    ]
    next_seq = rows[-1].seq if rows else start
    return Page(changes=changes, next_seq=next_seq, has_more=has_more, snapshot=snapshot)


def publish_stock(conn: Connection, *, now: datetime | None = None, limit: int = 5000) -> int:
    """Put stock figures that pushes changed into the feed; returns how many.

    Pushes only mark a changed figure (``stock.feed_pending``) so they never wait for the feed
    lock; whoever reads the feed publishes first. Rows a push is still writing are skipped (they
    are published by the next call), so this never waits on a push either.
    """
    table = schema.stock
    if conn.execute(select(table.c.sku).where(table.c.feed_pending.is_(True)).limit(1)).first() is None:
        return 0
    lock_feed(conn)
    query = (
        select(table.c.store_id, table.c.sku, table.c.on_hand_milli)
        .where(table.c.feed_pending.is_(True))
        .order_by(table.c.store_id, table.c.sku)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = conn.execute(query).all()
    if not rows:
        return 0
    record_standalone(
        conn,
        [
            NewChange(ChangeKind.STOCK, row.sku, {"on_hand_milli": row.on_hand_milli}, row.store_id)
            for row in rows
        ],
        now=now,
    )
    by_store: dict[int, list[str]] = {}
    for row in rows:
        by_store.setdefault(row.store_id, []).append(row.sku)
    for store_id, skus in by_store.items():
        for start in range(0, len(skus), 500):
            conn.execute(
                update(table)
                .where(table.c.store_id == store_id, table.c.sku.in_(skus[start : start + 500]))
                .values(feed_pending=False)
            )
    return len(rows)
