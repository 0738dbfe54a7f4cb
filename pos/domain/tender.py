"""Tenders and the payment of a sale: cash with change, cards, vouchers, split across several.

Rules:

- Only cash may be more than what is still due; the difference is the change. A card or voucher
  tender larger than what is still due is refused.
- Cash rounding (a store setting, e.g. 5 minor units for CHF 0.05) applies to what is paid in
  cash: the cash tender that settles the sale rounds the remaining amount half-up to the increment.
  The difference is the sale's ``rounding`` (positive or negative), so
  ``total + rounding == sum of tender amounts`` once the sale is paid.
- A card tender carries the card terminal's approval reference (the POS never sees card numbers).
- The sale is paid when the tenders cover total + rounding exactly; change = cash handed over
  beyond that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from pos.domain.money import Money, round_half_up
from pos.domain.sale import Sale, SaleTotals
from sync import protocol


class PaymentError(ValueError):
    """A tender was refused; str() says why, for a person."""


class TenderKind(StrEnum):
    CASH = "cash"
    CARD = "card"
    VOUCHER = "voucher"


#: A card approval reference / voucher number: 4 to 64 letters, digits and - _ / . (no spaces).
REFERENCE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_/.\-]{3,63}")


def check_reference(reference: str | None, kind: TenderKind) -> str:
    """The reference without surrounding blanks, or PaymentError saying what is wrong with it."""
    what = "approval reference" if kind is TenderKind.CARD else "voucher number"
    if reference is None or not reference.strip():
        raise PaymentError(f"a {kind.value} payment needs the {what}")
    cleaned = reference.strip()
    if not REFERENCE_PATTERN.fullmatch(cleaned):
        raise PaymentError(f"not a valid {what}: {reference!r} (4 to 64 letters and digits)")
    return cleaned


@dataclass(frozen=True, slots=True)
class Tender:
    """One tender applied to the sale. ``amount`` counts towards the sale (cash: after change)."""

    kind: TenderKind
    amount: int
    tendered: int | None = None
    reference: str | None = None

    @property
    def change(self) -> int:
        return (self.tendered - self.amount) if self.tendered is not None else 0


def round_to_increment(amount: int, increment: int) -> int:
    """``amount`` rounded half-up to a multiple of ``increment`` (1 means no rounding)."""
    if increment < 1:
        raise ValueError("cash rounding increment must be at least 1")
    return round_half_up(amount, increment) * increment


class Payment:
    """The payment of one sale, driven step by step by the payment screen.

    ``total`` is what the sale costs; ``cash_increment`` is the store's cash rounding step in
    minor units (1 = none). Refused tenders raise PaymentError and change nothing.
    """

    def __init__(self, total: Money, *, cash_increment: int = 1) -> None:
        if total.minor < 0:
            raise PaymentError("a sale total cannot be negative: refunds are paid out as a return")
        if cash_increment < 1:
            raise PaymentError("cash rounding increment must be at least 1")
        self.total = total
        self.cash_increment = cash_increment
        self._tenders: list[Tender] = []

    @classmethod
    def for_sale(cls, sale: Sale, *, cash_increment: int = 1) -> Payment:
        return cls(sale.totals().total_money, cash_increment=cash_increment)

    @property
    def currency(self) -> str:
        return self.total.currency

    @property
    def tenders(self) -> tuple[Tender, ...]:
        return tuple(self._tenders)

    @property
    def paid(self) -> int:
        """Sum of tender amounts applied so far."""
        return sum(t.amount for t in self._tenders)

    @property
    def rounding(self) -> int:
        """Cash rounding taken so far: tenders minus total once paid, 0 before."""
        return self.paid - self.total.minor if self.is_complete else 0

    @property
    def remaining(self) -> int:
        """What is still due (before cash rounding); 0 when paid."""
        if self.is_complete:
            return 0
        return self.total.minor - self.paid

    @property
    def cash_due(self) -> int:
        """What settles the sale if paid in cash now: ``remaining`` rounded to the cash increment."""
        return round_to_increment(self.remaining, self.cash_increment)

    @property
    def is_complete(self) -> bool:
        if self.total.minor == 0:
            return True
        last = self._tenders[-1] if self._tenders else None
        if last is not None and last.kind is TenderKind.CASH:
            # A settling cash tender pays the rounded remainder, so the sum may differ from total.
            before = self.total.minor - (self.paid - last.amount)
            if last.amount == round_to_increment(before, self.cash_increment):
                return True
        return self.paid == self.total.minor

    @property
    def change(self) -> int:
        """Cash to hand back. Never negative."""
        return sum(t.change for t in self._tenders)

    def _open(self) -> None:
        if self.is_complete:
            raise PaymentError("the sale is already paid")

    def add_cash(self, tendered: int) -> Tender:
        """Take ``tendered`` minor units of cash. More than :attr:`cash_due` settles the sale with change."""
        self._open()
        if isinstance(tendered, bool) or not isinstance(tendered, int) or tendered < 0:
            raise PaymentError(f"not a cash amount: {tendered!r}")
        due = self.cash_due
        if tendered == 0 and due != 0:
            raise PaymentError("enter the cash amount handed over")
        if tendered >= due:
            tender = Tender(TenderKind.CASH, amount=due, tendered=tendered)
        else:
            tender = Tender(TenderKind.CASH, amount=tendered, tendered=tendered)
        self._tenders.append(tender)
        return tender

    def add_exact_cash(self) -> Tender:
        """Take exactly what is due in cash (Enter with no amount)."""
        return self.add_cash(self.cash_due)

    def _add_non_cash(self, kind: TenderKind, amount: int | None, reference: str | None) -> Tender:
        self._open()
        ref = check_reference(reference, kind)
        amount = self.remaining if amount is None else amount
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise PaymentError(f"not a {kind.value} amount: {amount!r}")
        if amount > self.remaining:
            raise PaymentError(
                f"{kind.value} payment of {Money(amount, self.currency)} is more than the "
                f"{Money(self.remaining, self.currency)} still due: only cash can be overpaid"
            )
        tender = Tender(kind, amount=amount, reference=ref)
        self._tenders.append(tender)
        return tender

    def add_card(self, reference: str, amount: int | None = None) -> Tender:
        """A card payment approved by the card terminal; ``amount`` defaults to all that is due."""
        return self._add_non_cash(TenderKind.CARD, amount, reference)

    def add_voucher(self, reference: str, amount: int | None = None) -> Tender:
        return self._add_non_cash(TenderKind.VOUCHER, amount, reference)

    def remove_tender(self, index: int) -> Tender:
        """Take back tender number ``index`` (0-based), e.g. a card payment that was reversed.

        The tenders after it are applied again in order, so a settling cash tender recomputes its
        change and rounding. (Removing a tender only raises what is due, so none becomes too large.)
        """
        if not 0 <= index < len(self._tenders):
            raise PaymentError(f"no tender number {index + 1}")
        before = self._tenders
        removed = before[index]
        self._tenders = []
        try:
            for t in before[:index] + before[index + 1 :]:
                if t.kind is not TenderKind.CASH:
                    self._tenders.append(t)
                elif t.tendered:
                    self.add_cash(t.tendered)
                # else: a zero cash tender (a rounded-away remainder) means nothing any more.
        except PaymentError:
            self._tenders = before
            raise
        return removed


def sale_payload(
    sale: Sale,
    payment: Payment,
    *,
    sale_id: str,
    receipt_no: str,
    completed_at: str,
    claim_code: str | None = None,
    cashier_id: str | None = None,
    shift_id: str | None = None,
    approved_by: str | None = None,
) -> protocol.SalePayload:
    """The ``sale.completed`` wire payload of a paid sale. PaymentError if it is not fully paid."""
    totals: SaleTotals = sale.totals()
    if sale.is_empty:
        raise PaymentError("an empty sale cannot be completed")
    if payment.total != totals.total_money:
        raise PaymentError("the sale changed after payment started: start the payment again")
    if not payment.is_complete:
        raise PaymentError(f"the sale is not fully paid: {Money(payment.remaining, sale.currency)} still due")
    lines = [
        protocol.SaleLine(
            line_no=n,
            sku=line.product.sku,
            name=line.product.name,
            unit=line.product.unit.value,
            quantity_milli=line.quantity_milli,
            unit_price=line.product.unit_price,
            discount=lt.line_discount + lt.sale_discount,
            total=lt.total,
            tax_rate=line.product.tax_rate,
            barcode=line.product.barcode,
        )
        for n, (line, lt) in enumerate(zip(sale.lines, totals.lines, strict=True), start=1)
    ]
    return protocol.SalePayload(
        sale_id=sale_id,
        receipt_no=receipt_no,
        currency=sale.currency,
        tax_mode=sale.tax_mode.value,
        lines=lines,
        taxes=[protocol.TaxRow(rate=r.rate, net=r.net, tax=r.tax, gross=r.gross) for r in totals.taxes],
        sale_discount=totals.sale_discount,
        total=totals.total,
        rounding=payment.rounding,
        tenders=[
            protocol.Tender(kind=t.kind.value, amount=t.amount, tendered=t.tendered, reference=t.reference)
            for t in payment.tenders
        ],
        change=payment.change,
        claim_code=claim_code,
        member_id=sale.member_id,
        member_code=sale.member_code,
        cashier_id=cashier_id,
        approved_by=approved_by,
        shift_id=shift_id,
        completed_at=completed_at,
    )
