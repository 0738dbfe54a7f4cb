"""Returns: giving money back for lines of an earlier sale.

A return refers to the original sale's wire payload (``sync.protocol.SalePayload``). Returning
``q`` of a line bought as ``Q`` for ``T`` (after all discounts) refunds::

    round_half_up(T x (already + q) / Q) - round_half_up(T x already / Q)

so however the line is returned, in one go or bit by bit, the refunds add up to exactly ``T``.
Tax on the refund is summed per rate and rounded once per rate, like a sale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pos.domain.money import round_half_up
from pos.domain.tax import TaxMode, TaxRow, summary_total, tax_summary
from pos.domain.tender import TenderKind, check_reference
from sync import protocol


class ReturnError(ValueError):
    """A return was refused; str() says why, for a person."""


@dataclass(frozen=True, slots=True)
class ReturnLine:
    line_no: int
    quantity_milli: int
    refund: int


class Return:
    """The return of (part of) ``original``. ``already_returned`` maps line_no to thousandths
    returned by earlier returns of the same sale."""

    def __init__(
        self, original: protocol.SalePayload, *, already_returned: Mapping[int, int] | None = None
    ) -> None:
        if original.original_sale_id is not None or any(line.quantity_milli < 0 for line in original.lines):
            raise ReturnError("a return cannot itself be returned")
        self.original = original
        self.already_returned = dict(already_returned or {})
        self._quantities: dict[int, int] = {}

    def _line(self, line_no: int) -> protocol.SaleLine:
        for line in self.original.lines:
            if line.line_no == line_no:
                return line
        raise ReturnError(f"the sale has no line {line_no}")

    def returnable(self, line_no: int) -> int:
        """Thousandths of line ``line_no`` that may still be returned."""
        line = self._line(line_no)
        return line.quantity_milli - self.already_returned.get(line_no, 0)

    def set_quantity(self, line_no: int, quantity_milli: int) -> None:
        """Return ``quantity_milli`` of a line (0 takes it off the return)."""
        line = self._line(line_no)
        if isinstance(quantity_milli, bool) or not isinstance(quantity_milli, int) or quantity_milli < 0:
            raise ReturnError(f"not a quantity: {quantity_milli!r}")
        if line.unit == "piece" and quantity_milli % 1000:
            raise ReturnError("pieces are returned whole")
        left = self.returnable(line_no)
        if quantity_milli > left:
            raise ReturnError(f"only {left / 1000:g} of {line.name} can still be returned")
        if quantity_milli == 0:
            self._quantities.pop(line_no, None)
        else:
            self._quantities[line_no] = quantity_milli

    def return_all(self) -> None:
        for line in self.original.lines:
            left = self.returnable(line.line_no)
            if left > 0:
                self._quantities[line.line_no] = left

    @property
    def lines(self) -> tuple[ReturnLine, ...]:
        result = []
        for line in self.original.lines:
            q = self._quantities.get(line.line_no)
            if not q:
                continue
            before = self.already_returned.get(line.line_no, 0)
            whole = line.quantity_milli
            refund = round_half_up(line.total * (before + q), whole) - round_half_up(
                line.total * before, whole
            )
            result.append(ReturnLine(line.line_no, q, refund))
        return tuple(result)

    @property
    def taxes(self) -> tuple[TaxRow, ...]:
        rates = {line.line_no: line.tax_rate for line in self.original.lines}
        return tuple(
            tax_summary(((rates[r.line_no], r.refund) for r in self.lines), TaxMode(self.original.tax_mode))
        )

    @property
    def refund_total(self) -> int:
        """What the shopper gets back (positive), equal to the sum of the tax rows' gross."""
        return summary_total(self.taxes)

    def payload(
        self,
        *,
        sale_id: str,
        receipt_no: str,
        completed_at: str,
        refund_kind: TenderKind = TenderKind.CASH,
        reference: str | None = None,
        cashier_id: str | None = None,
        shift_id: str | None = None,
        approved_by: str | None = None,
    ) -> protocol.SalePayload:
        """The ``return.completed`` payload: negative quantities and amounts, one refund tender."""
        lines = self.lines
        if not lines:
            raise ReturnError("choose at least one line to return")
        if refund_kind is not TenderKind.CASH:
            reference = check_reference(reference, refund_kind)
        by_no = {line.line_no: line for line in self.original.lines}
        total = self.refund_total
        return protocol.SalePayload(
            sale_id=sale_id,
            receipt_no=receipt_no,
            currency=self.original.currency,
            tax_mode=self.original.tax_mode,
            lines=[
                protocol.SaleLine(
                    line_no=n,
                    sku=by_no[r.line_no].sku,
                    name=by_no[r.line_no].name,
                    unit=by_no[r.line_no].unit,
                    quantity_milli=-r.quantity_milli,
                    unit_price=by_no[r.line_no].unit_price,
                    discount=0,
                    total=-r.refund,
                    tax_rate=by_no[r.line_no].tax_rate,
                    barcode=by_no[r.line_no].barcode,
                )
                for n, r in enumerate(lines, start=1)
            ],
            taxes=[protocol.TaxRow(rate=t.rate, net=-t.net, tax=-t.tax, gross=-t.gross) for t in self.taxes],
            total=-total,
            tenders=[
                protocol.Tender(
                    kind=refund_kind.value,
                    amount=-total,
                    tendered=-total if refund_kind is TenderKind.CASH else None,
                    reference=reference,
                )
            ],
            member_id=self.original.member_id,
            cashier_id=cashier_id,
            approved_by=approved_by,
            shift_id=shift_id,
            original_sale_id=self.original.sale_id,
            completed_at=completed_at,
        )
