"""Shoppers claiming in-store purchases with the receipt's claim code, and their points.

The pages call these functions; each runs inside the caller's transaction.

- :func:`check_claim` says what a scanned code is: malformed, forged, expired, already claimed,
  pending (genuine, but its sale has not reached the server yet) or ready (the sale is here).
- :func:`claim_purchase` adds the purchase to a shopper's account, at most once per code. A pending
  claim is kept and becomes a purchase when the sale is pushed (``sync.server.push``).
- Points: one per whole major currency unit of the sale total (:func:`sync.server.push.points_for`),
  worked out here. A sale pushed with a member code head office verifies credits that shopper at
  once, and wins over a claim made before it arrived (``sync.server.push._settle_members``: the one
  place a sale's shopper is decided); the claimant sees that claim as "made with a member code",
  never the purchase.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from sync.codes import ClaimCode, CodeError, ExpiredCode, ForgedCode, parse_claim_code, verify_claim_code
from sync.server import schema
from sync.server.push import points_for


class ClaimStatus(StrEnum):
    MALFORMED = "malformed"
    FORGED = "forged"
    EXPIRED = "expired"
    CLAIMED = "claimed"  # already claimed (by this shopper or another), or bought as a member
    PENDING = "pending"  # genuine code, the sale has not arrived yet
    READY = "ready"  # genuine code and the sale is here, unclaimed


@dataclass(frozen=True)
class SaleSummary:
    """A sale as a shopper sees it."""

    id: str
    store_name: str
    receipt_no: str
    total: int
    currency: str
    completed_at: datetime
    points: int
    member_id: int | None
    lines: list[dict[str, Any]]  # sku, name, quantity_milli, total


@dataclass(frozen=True)
class ClaimCheck:
    status: ClaimStatus
    #: For a person: what the code is and what happens next.
    message: str
    code: ClaimCode | None = None
    sale: SaleSummary | None = None
    #: Who already holds the purchase (status CLAIMED), so a page can say "already yours".
    claimed_by: int | None = None

    @property
    def shopper_id(self) -> int | None:
        """Alias of ``claimed_by``."""
        return self.claimed_by

    @property
    def claimable(self) -> bool:
        return self.status in (ClaimStatus.PENDING, ClaimStatus.READY)


class ClaimRefused(Exception):
    """The code cannot be claimed; ``check`` says why."""

    def __init__(self, check: ClaimCheck) -> None:
        super().__init__(check.message)
        self.check = check


def sale_summary(conn: Connection, sale_id: str) -> SaleSummary | None:
    sales = schema.sales
    row = conn.execute(
        select(sales, schema.stores.c.name.label("store_name"))
        .join(schema.stores, schema.stores.c.id == sales.c.store_id)
        .where(sales.c.id == sale_id)
    ).first()
    if row is None:
        return None
    lines = [
        {"sku": r.sku, "name": r.name, "quantity_milli": r.quantity_milli, "total": r.total}
        for r in conn.execute(
            select(schema.sale_lines)
            .where(schema.sale_lines.c.sale_id == sale_id)
            .order_by(schema.sale_lines.c.line_no)
        )
    ]
    return SaleSummary(
        id=row.id,
        store_name=row.store_name,
        receipt_no=row.receipt_no,
        total=row.total,
        currency=row.currency,
        completed_at=row.completed_at,
        points=row.points,
        member_id=row.member_id,
        lines=lines,
    )


def check_claim(conn: Connection, code_text: str, today: date) -> ClaimCheck:
    """What ``code_text`` (any case, as scanned) is, without changing anything."""
    try:
        parsed = parse_claim_code(code_text)
    except CodeError as exc:
        return ClaimCheck(ClaimStatus.MALFORMED, f"This is not a receipt code we know ({exc}).")
    key = conn.execute(
        select(schema.terminals.c.claim_key).where(schema.terminals.c.id == parsed.terminal_id)
    ).scalar_one_or_none()
    if key is None:
        return ClaimCheck(ClaimStatus.FORGED, "This code was not issued by our stores.")
    try:
        code = verify_claim_code(parsed.text, claim_key=bytes(key), today=today)
    except ForgedCode:
        return ClaimCheck(ClaimStatus.FORGED, "This code was not issued by our stores.")
    except ExpiredCode:
        return ClaimCheck(
            ClaimStatus.EXPIRED,
            f"This receipt code expired on {parsed.expires_on.isoformat()}; purchases can be added "
            "for 30 days.",
            code=parsed,
        )
    except CodeError as exc:
        return ClaimCheck(ClaimStatus.MALFORMED, f"This is not a receipt code we know ({exc}).")
    claim = conn.execute(select(schema.claims).where(schema.claims.c.nonce == code.nonce_hex)).first()
    sale_id = conn.execute(
        select(schema.sales.c.id).where(schema.sales.c.claim_nonce == code.nonce_hex)
    ).scalar_one_or_none()
    sale = sale_summary(conn, sale_id) if sale_id else None
    if claim is not None and claim.outcome == "member" and sale is not None:
        # The sale came with another shopper's verified member code: theirs (push._settle_members).
        return ClaimCheck(
            ClaimStatus.CLAIMED,
            "This purchase was made with a member code and is already in that account.",
            code=code,
            claimed_by=sale.member_id,
        )
    if claim is not None:
        return ClaimCheck(
            ClaimStatus.CLAIMED,
            "This purchase has already been added to an account.",
            code=code,
            sale=sale,
            claimed_by=claim.shopper_id,
        )
    if sale is not None and sale.member_id is not None:
        return ClaimCheck(
            ClaimStatus.CLAIMED,
            "This purchase was made with a member code and is already in that account.",
            code=code,
            sale=sale,
            claimed_by=sale.member_id,
        )
    if sale is None:
        return ClaimCheck(
            ClaimStatus.PENDING,
            "We have received your code. The purchase will appear in your account when the store syncs.",
            code=code,
        )
    return ClaimCheck(ClaimStatus.READY, "Add this purchase to your account.", code=code, sale=sale)


@dataclass(frozen=True)
class ClaimOutcome:
    #: READY: the purchase and its points are in the account now; PENDING: they will be on sync.
    status: ClaimStatus
    sale: SaleSummary | None
    points: int

    @property
    def sale_id(self) -> str | None:
        """The purchase's sale id; None while the claim is pending."""
        return self.sale.id if self.sale else None


def claim_purchase(conn: Connection, code_text: str, shopper_id: int, now: datetime) -> ClaimOutcome:
    """Add the purchase behind ``code_text`` to ``shopper_id``'s account, once.

    Raises :class:`ClaimRefused` for a code that is malformed, forged, expired or already claimed
    (including by a request racing this one).
    """
    check = check_claim(conn, code_text, now.date())
    if not check.claimable or check.code is None:
        raise ClaimRefused(check)
    code = check.code
    try:
        with conn.begin_nested():
            conn.execute(
                insert(schema.claims).values(
                    nonce=code.nonce_hex,
                    code=code.text,
                    terminal_id=code.terminal_id,
                    shopper_id=shopper_id,
                    claimed_at=now,
                    sale_id=check.sale.id if check.sale else None,
                    expires_on=code.expires_on,
                )
            )
            if check.sale is None:
                return ClaimOutcome(ClaimStatus.PENDING, None, 0)
            points = points_for(check.sale.total, check.sale.currency)
            taken = conn.execute(
                update(schema.sales)
                .where(schema.sales.c.id == check.sale.id, schema.sales.c.member_id.is_(None))
                .values(member_id=shopper_id, points=points, member_check="claimed")
            ).rowcount
            if taken != 1:
                raise _LostRace
    except (IntegrityError, _LostRace):
        raise ClaimRefused(check_claim(conn, code_text, now.date())) from None
    return ClaimOutcome(ClaimStatus.READY, sale_summary(conn, check.sale.id), points)


class _LostRace(Exception):
    pass


def shopper_points(conn: Connection, shopper_id: int) -> int:
    """The shopper's points: the sum over every purchase in their account (returns subtract)."""
    return int(
        conn.execute(
            select(func.coalesce(func.sum(schema.sales.c.points), 0)).where(
                schema.sales.c.member_id == shopper_id
            )
        ).scalar_one()
    )


@dataclass(frozen=True)
class Purchase:
    """One line of the shopper's purchase list: a sale in the account, or a pending claim."""

    sale: SaleSummary | None
    #: 'member' (member code scanned at the till), 'claimed' (receipt code) or 'pending'.
    how: str
    claimed_at: datetime | None


def shopper_purchases(conn: Connection, shopper_id: int, limit: int = 100) -> list[Purchase]:
    """The shopper's purchases, newest first, then claims still waiting for their sale."""
    sales = schema.sales
    claims = schema.claims
    claimed = {
        r.sale_id: r.claimed_at
        for r in conn.execute(
            select(claims.c.sale_id, claims.c.claimed_at).where(
                claims.c.shopper_id == shopper_id, claims.c.sale_id.is_not(None)
            )
        )
    }
    out: list[Purchase] = []
    for sale_id in conn.execute(
        select(sales.c.id)
        .where(sales.c.member_id == shopper_id)
        .order_by(sales.c.completed_at.desc())
        .limit(limit)
    ).scalars():
        summary = sale_summary(conn, sale_id)
        out.append(Purchase(summary, "claimed" if sale_id in claimed else "member", claimed.get(sale_id)))
    for row in conn.execute(
        select(claims.c.claimed_at)
        .where(claims.c.shopper_id == shopper_id, claims.c.sale_id.is_(None), claims.c.outcome.is_(None))
        .order_by(claims.c.claimed_at.desc())
    ):
        out.append(Purchase(None, "pending", row.claimed_at))
    return out
