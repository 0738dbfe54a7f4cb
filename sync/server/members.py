"""Member short codes at head office: issued with the account page's member codes, resolved for a
till that was typed one (``GET /v1/member-codes/{short}``, sync/server/api.py).

Each shopper has one short code per member-code window (hour); it names the shopper and the window
and nothing else. Resolving one gives the till that window's signed member code, which the till
verifies and sends with the sale like a scanned one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from sync.codes import MEMBER_LEEWAY_SECONDS, new_short_member_code
from sync.server import schema

_ATTEMPTS = 5  # a clash of two random 10-digit codes is rare; a few tries always find a free one


def short_code_for(conn: Connection, shopper_id: int, valid_from: datetime, valid_until: datetime) -> str:
    """The short code of ``shopper_id``'s window starting ``valid_from``, issued now if new."""
    table = schema.member_short_codes
    existing = conn.execute(
        select(table.c.code).where(table.c.shopper_id == shopper_id, table.c.valid_from == valid_from)
    ).scalar()
    if existing is not None:
        return str(existing)
    for _ in range(_ATTEMPTS):
        code = new_short_member_code()
        try:
            with conn.begin_nested():
                conn.execute(
                    table.insert().values(
                        code=code, shopper_id=shopper_id, valid_from=valid_from, valid_until=valid_until
                    )
                )
            return code
        except IntegrityError:  # the code is taken, or a parallel request issued this window's
            existing = conn.execute(
                select(table.c.code).where(table.c.shopper_id == shopper_id, table.c.valid_from == valid_from)
            ).scalar()
            if existing is not None:
                return str(existing)
    raise RuntimeError("no free member short code found")  # pragma: no cover - 1 in 10**50


def resolve_short_code(conn: Connection, code: str, now: datetime) -> tuple[int, datetime] | None:
    """``(shopper id, window start)`` of the short code valid ``now`` (with the till's leeway)."""
    from datetime import timedelta

    table = schema.member_short_codes
    leeway = timedelta(seconds=MEMBER_LEEWAY_SECONDS)
    row = conn.execute(
        select(table.c.shopper_id, table.c.valid_from).where(
            table.c.code == code, table.c.valid_from <= now + leeway, table.c.valid_until >= now - leeway
        )
    ).first()
    if row is None:
        return None
    from sync.server.web.accounts import utc

    return int(row.shopper_id), utc(row.valid_from)
