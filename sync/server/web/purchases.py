"""What a shopper's pages show: one receipt's purchase, and an account's purchases and points."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, select

from sync.server import schema
from sync.server.claims import SaleSummary
from sync.server.push import points_for
from sync.server.web.accounts import utc


@dataclass(frozen=True)
class PurchaseLine:
    name: str
    quantity_milli: int
    total: int

    @property
    def quantity(self) -> str:
        """Pieces as a whole number, weights in kg with up to three decimals."""
        whole, milli = divmod(abs(self.quantity_milli), 1000)
        sign = "-" if self.quantity_milli < 0 else ""
        return f"{sign}{whole}" if milli == 0 else f"{sign}{whole}.{milli:03d}".rstrip("0")


@dataclass(frozen=True)
class Purchase:
    """A sale as the shopper sees it."""

    sale_id: str
    store_name: str
    receipt_no: str
    completed_at: datetime
    total: int
    currency: str
    points: int
    #: 'claimed' (receipt code added online) or 'member' (member code scanned at the till).
    how: str
    lines: tuple[PurchaseLine, ...] = ()
    #: The store's time zone: the shopper sees the time on the store's clock, as on the receipt.
    timezone: str = "UTC"


@dataclass(frozen=True)
class PendingClaim:
    """A valid receipt code added before its sale reached head office."""

    claimed_at: datetime
    expires_on: date


def _lines(conn: Connection, sale_id: str) -> tuple[PurchaseLine, ...]:
    sl = schema.sale_lines
    rows = conn.execute(
        select(sl.c.name, sl.c.quantity_milli, sl.c.total)
        .where(sl.c.sale_id == sale_id)
        .order_by(sl.c.line_no)
    )
    return tuple(PurchaseLine(name=r.name, quantity_milli=r.quantity_milli, total=r.total) for r in rows)


def _purchase_query() -> Select[Any]:
    s, st, c = schema.sales, schema.stores, schema.claims
    return (
        select(
            s.c.id,
            st.c.name.label("store_name"),
            st.c.timezone,
            s.c.receipt_no,
            s.c.completed_at,
            s.c.total,
            s.c.currency,
            s.c.points,
            c.c.shopper_id.label("claimed_by"),
        )
        .select_from(s.join(st, st.c.id == s.c.store_id).outerjoin(c, c.c.sale_id == s.c.id))
        .where(s.c.kind == "sale")
    )


def purchase_from_summary(conn: Connection, sale: SaleSummary, how: str) -> Purchase:
    """A sale the claim page shows, with the points it earns once it is in an account."""
    s, st = schema.sales, schema.stores
    timezone = conn.execute(
        select(st.c.timezone).select_from(s.join(st, st.c.id == s.c.store_id)).where(s.c.id == sale.id)
    ).scalar()
    points = sale.points if sale.member_id is not None else points_for(sale.total, sale.currency)
    return Purchase(
        sale_id=sale.id,
        store_name=sale.store_name,
        receipt_no=sale.receipt_no,
        completed_at=utc(sale.completed_at),
        total=sale.total,
        currency=sale.currency,
        points=points,
        how=how,
        lines=tuple(
            PurchaseLine(
                name=str(line["name"]), quantity_milli=int(line["quantity_milli"]), total=int(line["total"])
            )
            for line in sale.lines
        ),
        timezone=timezone or "UTC",
    )


def account_purchases(conn: Connection, shopper_id: int, *, limit: int = 100) -> list[Purchase]:
    """The shopper's purchases, newest first: receipts added online and sales their code was scanned on."""
    s = schema.sales
    rows = conn.execute(
        _purchase_query()
        # sales.member_id is the one owner (push._settle_members, claims.claim_purchase): a claim
        # that lost to another shopper's member code never shows that shopper's purchase.
        .where(s.c.member_id == shopper_id)
        .order_by(s.c.completed_at.desc())
        .limit(limit)
    ).all()
    return [
        Purchase(
            sale_id=row.id,
            store_name=row.store_name,
            receipt_no=row.receipt_no,
            completed_at=utc(row.completed_at),
            total=row.total,
            currency=row.currency,
            points=row.points,
            how="claimed" if row.claimed_by == shopper_id else "member",
            lines=_lines(conn, row.id),
            timezone=row.timezone,
        )
        for row in rows
    ]


def pending_claims(conn: Connection, shopper_id: int) -> list[PendingClaim]:
    """Receipt codes the shopper added whose sale has not arrived yet, newest first."""
    c = schema.claims
    rows = conn.execute(
        select(c.c.claimed_at, c.c.expires_on)
        .where(and_(c.c.shopper_id == shopper_id, c.c.sale_id.is_(None), c.c.outcome.is_(None)))
        .order_by(c.c.claimed_at.desc())
    )
    return [PendingClaim(claimed_at=utc(r.claimed_at), expires_on=r.expires_on) for r in rows]


def claims_taken_by_members(conn: Connection, shopper_id: int) -> list[PendingClaim]:
    """Receipt codes the shopper added whose sale arrived with another shopper's verified member
    code (that shopper has it): only when they were added, nothing of the purchase."""
    c = schema.claims
    rows = conn.execute(
        select(c.c.claimed_at, c.c.expires_on)
        .where(and_(c.c.shopper_id == shopper_id, c.c.outcome == "member"))
        .order_by(c.c.claimed_at.desc())
    )
    return [PendingClaim(claimed_at=utc(r.claimed_at), expires_on=r.expires_on) for r in rows]


# --- the full receipt of one purchase ------------------------------------------------------------


@dataclass(frozen=True)
class ReceiptLine:
    name: str
    quantity: str
    unit_price: int
    discount: int
    total: int
    tax_rate: str


@dataclass(frozen=True)
class ReturnedSale:
    receipt_no: str
    completed_at: datetime
    total: int
    lines: tuple[PurchaseLine, ...]


@dataclass(frozen=True)
class Receipt:
    """Everything the paper receipt says, from the sale as the till sent it."""

    sale_id: str
    store_name: str
    till: str
    receipt_no: str
    completed_at: datetime
    timezone: str
    currency: str
    tax_mode: str
    lines: tuple[ReceiptLine, ...]
    sale_discount: int
    taxes: tuple[dict[str, Any], ...]
    total: int
    rounding: int
    tenders: tuple[dict[str, Any], ...]
    change: int
    points: int
    returns: tuple[ReturnedSale, ...]
    #: The store the purchase was made at (its points meaning and return policy apply).
    store_id: int | None = None

    @property
    def line_discounts(self) -> int:
        return sum(line.discount for line in self.lines)


def _quantity(quantity_milli: int) -> str:
    return PurchaseLine(name="", quantity_milli=quantity_milli, total=0).quantity


def shopper_receipt(conn: Connection, shopper_id: int, sale_id: str) -> Receipt | None:
    """The receipt of ``sale_id`` if it is one of ``shopper_id``'s purchases, else None."""
    s, st, t = schema.sales, schema.stores, schema.terminals
    row = conn.execute(
        select(
            s.c.id,
            s.c.receipt_no,
            s.c.completed_at,
            s.c.total,
            s.c.currency,
            s.c.points,
            s.c.payload,
            s.c.store_id,
            st.c.name.label("store_name"),
            st.c.timezone,
            t.c.name.label("till_name"),
            t.c.code.label("till_code"),
        )
        .select_from(s.join(st, st.c.id == s.c.store_id).join(t, t.c.id == s.c.terminal_id))
        # sales.member_id is the purchase's one owner (see account_purchases).
        .where(s.c.id == sale_id, s.c.kind == "sale", s.c.member_id == shopper_id)
    ).first()
    if row is None:
        return None
    payload = row.payload if isinstance(row.payload, dict) else {}
    returns = conn.execute(
        select(s.c.id, s.c.receipt_no, s.c.completed_at, s.c.total)
        .where(s.c.kind == "return", s.c.original_sale_id == sale_id)
        .order_by(s.c.completed_at)
    ).all()
    return Receipt(
        sale_id=row.id,
        store_name=row.store_name,
        till=row.till_name or row.till_code,
        receipt_no=row.receipt_no,
        completed_at=utc(row.completed_at),
        timezone=row.timezone or "UTC",
        currency=row.currency,
        tax_mode=str(payload.get("tax_mode", "inclusive")),
        lines=tuple(
            ReceiptLine(
                name=str(line.get("name", "")),
                quantity=_quantity(int(line.get("quantity_milli", 0))),
                unit_price=int(line.get("unit_price", 0)),
                discount=int(line.get("discount", 0)),
                total=int(line.get("total", 0)),
                tax_rate=str(line.get("tax_rate", "")),
            )
            for line in payload.get("lines", [])
        ),
        sale_discount=int(payload.get("sale_discount", 0)),
        taxes=tuple(payload.get("taxes", [])),
        total=row.total,
        rounding=int(payload.get("rounding", 0)),
        tenders=tuple(payload.get("tenders", [])),
        change=int(payload.get("change", 0)),
        points=row.points,
        returns=tuple(
            ReturnedSale(
                receipt_no=r.receipt_no,
                completed_at=utc(r.completed_at),
                total=r.total,
                lines=_lines(conn, r.id),
            )
            for r in returns
        ),
        store_id=row.store_id,
    )
