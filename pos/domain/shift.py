"""Cash in the drawer over a shift, and the difference found when it is counted at closing.

    expected = opening float + cash taken for sales - change given - cash refunds
               + cash in - cash out

"Cash taken for sales" is what customers handed over (the tendered amounts), so the change given
back is subtracted once. All amounts are minor units.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from pos.domain.tender import Tender, TenderKind


@dataclass(frozen=True, slots=True)
class DrawerCash:
    """Running cash figures of one shift's drawer. Each ``with_*`` returns an updated copy."""

    opening_float: int
    cash_tendered: int = 0
    change_given: int = 0
    cash_refunds: int = 0
    cash_in: int = 0
    cash_out: int = 0

    def __post_init__(self) -> None:
        for name in ("opening_float", "cash_tendered", "change_given", "cash_refunds", "cash_in", "cash_out"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name.replace('_', ' ')} must be a non-negative amount, got {value!r}")

    @property
    def expected(self) -> int:
        """What the drawer should hold now."""
        return (
            self.opening_float
            + self.cash_tendered
            - self.change_given
            - self.cash_refunds
            + self.cash_in
            - self.cash_out
        )

    def with_sale(self, tenders: Iterable[Tender]) -> DrawerCash:
        """After a sale paid with ``tenders`` (only cash counts)."""
        cash = [t for t in tenders if t.kind is TenderKind.CASH]
        handed = sum(t.tendered if t.tendered is not None else t.amount for t in cash)
        change = sum(t.change for t in cash)
        return replace(
            self, cash_tendered=self.cash_tendered + handed, change_given=self.change_given + change
        )

    def with_refund(self, amount: int) -> DrawerCash:
        return replace(self, cash_refunds=self.cash_refunds + amount)

    def with_cash_in(self, amount: int) -> DrawerCash:
        return replace(self, cash_in=self.cash_in + amount)

    def with_cash_out(self, amount: int) -> DrawerCash:
        """Cash taken out (to the safe); refused if the drawer would go below zero."""
        if amount > self.expected:
            raise ValueError(f"cannot take out {amount}: the drawer should only hold {self.expected}")
        return replace(self, cash_out=self.cash_out + amount)

    def difference(self, counted: int) -> int:
        """Counted minus expected at closing: positive means over, negative means short."""
        if isinstance(counted, bool) or not isinstance(counted, int) or counted < 0:
            raise ValueError(f"counted cash must be a non-negative amount, got {counted!r}")
        return counted - self.expected


def expected_drawer_cash(
    *,
    opening_float: int,
    cash_sales: int,
    change_given: int,
    cash_in: int,
    cash_out: int,
    cash_refunds: int = 0,
) -> int:
    """opening float + cash handed over for sales - change given - refunds + cash in - cash out."""
    return DrawerCash(
        opening_float=opening_float,
        cash_tendered=cash_sales,
        change_given=change_given,
        cash_refunds=cash_refunds,
        cash_in=cash_in,
        cash_out=cash_out,
    ).expected
