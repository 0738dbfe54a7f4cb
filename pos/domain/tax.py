"""Tax: shelf prices with tax included (EU, China) or tax added at the till (US).

A receipt's tax summary has one row per rate. Each row is computed from the SUM of the line
amounts at that rate, rounded half-up ONCE, so every row satisfies ``net + tax == gross`` and the
receipt total is exactly the sum of the rows' gross amounts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from fractions import Fraction

from pos.domain.money import round_half_up


class TaxMode(StrEnum):
    """Whether shelf prices include tax (``inclusive``) or tax is added at the till (``exclusive``)."""

    INCLUSIVE = "inclusive"
    EXCLUSIVE = "exclusive"


_RATE = re.compile(r"[0-9]{1,2}(?:\.[0-9]{1,3})?")


def normalize_rate(rate: str | Decimal | int) -> str:
    """The canonical text of a tax rate in percent: "19", "7", "8.875", "0", "7.5".

    Accepts "19", "19.0", "19,0", Decimal("19.00") or 19. Refuses (ValueError naming the input)
    anything negative, 100 or more, or with more than three decimals.
    """
    if isinstance(rate, bool):
        raise ValueError(f"not a tax rate: {rate!r}")
    try:
        value = Decimal(rate.strip().replace(",", ".")) if isinstance(rate, str) else Decimal(rate)
    except (InvalidOperation, ValueError, TypeError) as exc:
        raise ValueError(f"not a tax rate: {rate!r} (expected percent like 19 or 8.875)") from exc
    if not value.is_finite() or value < 0 or value >= 100:
        raise ValueError(f"not a tax rate: {rate!r} (must be from 0 to below 100 percent)")
    text = format(value.normalize(), "f")
    if not _RATE.fullmatch(text):
        raise ValueError(f"not a tax rate: {rate!r} (at most three decimals)")
    return text


def _rate_fraction(rate: str) -> Fraction:
    return Fraction(Decimal(rate)) / 100


@dataclass(frozen=True, slots=True)
class TaxRow:
    """One line of the receipt's tax summary, in minor units: ``net + tax == gross``."""

    rate: str
    net: int
    tax: int
    gross: int


def tax_row(rate: str | Decimal | int, amount: int, mode: TaxMode) -> TaxRow:
    """The row for ``amount`` (sum of line totals at ``rate``, as shelf prices) in ``mode``."""
    text = normalize_rate(rate)
    r = _rate_fraction(text)
    if mode is TaxMode.INCLUSIVE:
        gross = amount
        exact_net = Fraction(amount) / (1 + r)
        net = round_half_up(exact_net.numerator, exact_net.denominator)
        return TaxRow(rate=text, net=net, tax=gross - net, gross=gross)
    exact_tax = Fraction(amount) * r
    tax = round_half_up(exact_tax.numerator, exact_tax.denominator)
    return TaxRow(rate=text, net=amount, tax=tax, gross=amount + tax)


def tax_summary(amounts: Iterable[tuple[str | Decimal | int, int]], mode: TaxMode) -> list[TaxRow]:
    """Per-rate rows for ``(rate, line amount)`` pairs, lowest rate first.

    Line amounts are after discounts and in shelf-price terms: gross in inclusive mode, net in
    exclusive mode. Amounts are summed per rate first and rounded once per rate.
    """
    sums: dict[str, int] = {}
    for rate, amount in amounts:
        key = normalize_rate(rate)
        sums[key] = sums.get(key, 0) + amount
    return [tax_row(rate, sums[rate], mode) for rate in sorted(sums, key=Decimal)]


def summary_total(rows: Iterable[TaxRow]) -> int:
    """What the customer pays for these rows: the sum of their gross amounts."""
    return sum(row.gross for row in rows)
