"""The sale in progress: lines, quantities, discounts, the member, and the totals.

Quantities are integer thousandths: a piece item counts in whole pieces (3 pieces = 3000), a
weighed item (unit ``kg``) in grams (0.250 kg = 250). Amounts are integer minor units of the sale's
currency, in shelf-price terms: gross in a tax-inclusive store, net in a tax-exclusive one.

How a line's total is reached::

    amount        = unit price x quantity, half-up to the minor unit
    line discount = percent of amount (half-up) or a fixed amount, never more than the amount
    sale discount = the whole-sale discount's share, allocated over the lines in proportion to what
                    they cost after their own discounts, largest remainder first, so the shares
                    add up exactly and no line goes below zero
    total         = amount - line discount - sale discount share

Tax is then summed per rate over the line totals and rounded once per rate (see ``tax.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from fractions import Fraction

from pos.domain.money import Money, check_currency, round_half_up
from pos.domain.tax import TaxMode, TaxRow, normalize_rate, summary_total, tax_summary

#: Most of one item on a line: 9999 pieces or 9999 kg.
MAX_QUANTITY_MILLI = 9_999_000
#: Highest unit price a line may have (minor units), so totals stay far from any overflow.
MAX_UNIT_PRICE = 10**10


class SaleError(ValueError):
    """A change to the sale was refused; str() says why, for a person."""


class Unit(StrEnum):
    PIECE = "piece"
    KG = "kg"


@dataclass(frozen=True, slots=True)
class Product:
    """What the sale needs to know about a product, copied when it is rung up.

    ``unit_price`` is minor units per piece or per kg, in shelf-price terms.
    """

    sku: str
    name: str
    unit_price: int
    tax_rate: str
    unit: Unit = Unit.PIECE
    barcode: str | None = None

    def __post_init__(self) -> None:
        if not self.sku:
            raise SaleError("a product needs a SKU")
        if isinstance(self.unit_price, bool) or not isinstance(self.unit_price, int):
            raise SaleError(f"price of {self.sku} must be whole minor units, got {self.unit_price!r}")
        if not 0 <= self.unit_price <= MAX_UNIT_PRICE:
            raise SaleError(f"price of {self.sku} out of range: {self.unit_price}")
        object.__setattr__(self, "tax_rate", normalize_rate(self.tax_rate))
        object.__setattr__(self, "unit", Unit(self.unit))


@dataclass(frozen=True, slots=True)
class Discount:
    """A discount: ``percent`` off (0 < p <= 100, up to 2 decimals) or a fixed ``amount`` in minor units.

    Build with :meth:`of_percent` or :meth:`of_amount`.
    """

    percent: Decimal | None = None
    amount: int | None = None

    def __post_init__(self) -> None:
        if (self.percent is None) == (self.amount is None):
            raise SaleError("a discount is either a percent or an amount")
        if self.percent is not None and not (0 < self.percent <= 100):
            raise SaleError(f"discount percent must be above 0 and at most 100, got {self.percent}")
        if self.amount is not None and (isinstance(self.amount, bool) or self.amount <= 0):
            raise SaleError(f"discount amount must be above zero, got {self.amount}")

    @classmethod
    def of_percent(cls, percent: str | Decimal | int) -> Discount:
        try:
            value = (
                Decimal(percent.strip().replace(",", ".")) if isinstance(percent, str) else Decimal(percent)
            )
        except (InvalidOperation, ValueError, TypeError) as exc:
            raise SaleError(f"not a discount percent: {percent!r}") from exc
        if not value.is_finite() or value.as_tuple().exponent < -2:  # type: ignore[operator]
            raise SaleError(f"not a discount percent: {percent!r} (at most two decimals)")
        return cls(percent=value)

    @classmethod
    def of_amount(cls, minor: int) -> Discount:
        return cls(amount=minor)

    def off(self, base: int) -> int:
        """How much this discount takes off ``base`` minor units (never more than ``base``)."""
        if self.percent is not None:
            exact = Fraction(base) * Fraction(self.percent) / 100
            return min(base, round_half_up(exact.numerator, exact.denominator))
        assert self.amount is not None
        return min(base, self.amount)


@dataclass(frozen=True, slots=True)
class SaleLine:
    """One line of the sale. ``line_id`` is stable while the sale lasts; positions may change."""

    line_id: int
    product: Product
    quantity_milli: int
    discount: Discount | None = None
    #: Set when a manager overrode the shelf price; ``product.unit_price`` then holds the new price.
    original_unit_price: int | None = None

    @property
    def amount(self) -> int:
        """Unit price times quantity, half-up, before any discount."""
        return round_half_up(self.product.unit_price * self.quantity_milli, 1000)

    @property
    def line_discount(self) -> int:
        return self.discount.off(self.amount) if self.discount else 0


@dataclass(frozen=True, slots=True)
class LineTotal:
    line_id: int
    amount: int
    line_discount: int
    sale_discount: int
    total: int


@dataclass(frozen=True, slots=True)
class SaleTotals:
    """Everything the sale screen, the receipt and the payment need, in minor units.

    ``subtotal`` is the lines' amounts before discounts; ``total`` is what the customer owes and
    always equals the sum of ``taxes[*].gross``.
    """

    currency: str
    tax_mode: TaxMode
    lines: tuple[LineTotal, ...]
    subtotal: int
    line_discounts: int
    sale_discount: int
    taxes: tuple[TaxRow, ...]
    tax: int
    total: int

    @property
    def discounts(self) -> int:
        return self.line_discounts + self.sale_discount

    @property
    def total_money(self) -> Money:
        return Money(self.total, self.currency)

    def line(self, line_id: int) -> LineTotal:
        for item in self.lines:
            if item.line_id == line_id:
                return item
        raise SaleError(f"no line {line_id} in this sale")


def allocate(amount: int, weights: list[int]) -> list[int]:
    """Split ``amount`` over ``weights`` in proportion, exactly, largest remainder first.

    Shares add up to ``amount`` and none exceeds its weight (given ``amount <= sum(weights)``;
    all numbers non-negative). Ties go to the earlier weight.
    """
    total = sum(weights)
    if amount < 0 or any(w < 0 for w in weights):
        raise ValueError("allocate takes non-negative numbers")
    if amount > total:
        raise ValueError(f"cannot allocate {amount} over {total}")
    if total == 0:
        return [0] * len(weights)
    shares = [amount * w // total for w in weights]
    remainders = [amount * w % total for w in weights]
    left = amount - sum(shares)
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in order[:left]:
        shares[i] += 1
    return shares


def check_quantity(quantity_milli: int, unit: Unit) -> int:
    """``quantity_milli`` if it suits ``unit`` (whole pieces; grams for kg), else SaleError saying why."""
    if isinstance(quantity_milli, bool) or not isinstance(quantity_milli, int):
        raise SaleError(f"quantity must be a whole number of thousandths, got {quantity_milli!r}")
    if quantity_milli <= 0:
        raise SaleError("quantity must be above zero (returns are rung up as a return)")
    if quantity_milli > MAX_QUANTITY_MILLI:
        raise SaleError("quantity too large: at most 9999")
    if unit is Unit.PIECE and quantity_milli % 1000:
        raise SaleError(f"pieces are counted whole, got {quantity_milli / 1000:g}")
    return quantity_milli


class Sale:
    """A sale in progress. Every change is checked; a refused change raises SaleError and changes nothing."""

    def __init__(self, currency: str, tax_mode: TaxMode | str) -> None:
        self.currency = check_currency(currency)
        self.tax_mode = TaxMode(tax_mode)
        self._lines: list[SaleLine] = []
        self._next_id = 1
        self.sale_discount: Discount | None = None
        self.member_id: int | None = None
        self.member_code: str | None = None

    @property
    def lines(self) -> tuple[SaleLine, ...]:
        return tuple(self._lines)

    @property
    def is_empty(self) -> bool:
        return not self._lines

    def line(self, line_id: int) -> SaleLine:
        return self._lines[self._index(line_id)]

    def _index(self, line_id: int) -> int:
        for i, line in enumerate(self._lines):
            if line.line_id == line_id:
                return i
        raise SaleError(f"no line {line_id} in this sale")

    def add(self, product: Product, quantity_milli: int = 1000, *, merge: bool = True) -> SaleLine:
        """Ring up ``product`` and return the line it landed on.

        A piece item scanned again right after itself (same SKU and price, no line discount, no
        override) adds to that last line when ``merge``; weighed items always get their own line.
        """
        check_quantity(quantity_milli, product.unit)
        last = self._lines[-1] if self._lines else None
        if (
            merge
            and last is not None
            and product.unit is Unit.PIECE
            and last.product == product
            and last.discount is None
            and last.original_unit_price is None
        ):
            merged = replace(last, quantity_milli=last.quantity_milli + quantity_milli)
            check_quantity(merged.quantity_milli, product.unit)
            self._lines[-1] = merged
            return merged
        line = SaleLine(line_id=self._next_id, product=product, quantity_milli=quantity_milli)
        self._next_id += 1
        self._lines.append(line)
        return line

    def set_quantity(self, line_id: int, quantity_milli: int) -> SaleLine:
        i = self._index(line_id)
        check_quantity(quantity_milli, self._lines[i].product.unit)
        self._lines[i] = replace(self._lines[i], quantity_milli=quantity_milli)
        return self._lines[i]

    def remove_line(self, line_id: int) -> SaleLine:
        """Take a line off the sale (before payment); returns the removed line."""
        return self._lines.pop(self._index(line_id))

    def set_line_discount(self, line_id: int, discount: Discount | None) -> SaleLine:
        """Discount one line; an amount larger than the line is refused. None clears it."""
        i = self._index(line_id)
        line = self._lines[i]
        if discount is not None and discount.amount is not None and discount.amount > line.amount:
            raise SaleError(f"discount {discount.amount} is more than the line amount {line.amount}")
        self._lines[i] = replace(line, discount=discount)
        return self._lines[i]

    def override_price(self, line_id: int, unit_price: int) -> SaleLine:
        """Change a line's unit price (a manager's decision; see staff rules)."""
        i = self._index(line_id)
        line = self._lines[i]
        product = replace(line.product, unit_price=unit_price)
        original = (
            line.original_unit_price if line.original_unit_price is not None else line.product.unit_price
        )
        self._lines[i] = replace(line, product=product, original_unit_price=original)
        return self._lines[i]

    def set_sale_discount(self, discount: Discount | None) -> None:
        """Discount the whole sale; an amount larger than the lines after their discounts is refused."""
        if discount is not None and discount.amount is not None:
            base = sum(line.amount - line.line_discount for line in self._lines)
            if discount.amount > base:
                raise SaleError(f"discount {discount.amount} is more than the sale amount {base}")
        self.sale_discount = discount

    def attach_member(self, member_id: int, code: str | None = None) -> None:
        """Attach the shopper ``member_id``; ``code`` is the member code they showed, exactly as
        read (it goes with the sale: head office credits points only for a code it verifies)."""
        if isinstance(member_id, bool) or not isinstance(member_id, int) or member_id <= 0:
            raise SaleError(f"not a member id: {member_id!r}")
        if code is not None and (not isinstance(code, str) or not code or len(code) > 200):
            raise SaleError("not a member code")
        self.member_id = member_id
        self.member_code = code

    def detach_member(self) -> None:
        self.member_id = None
        self.member_code = None

    def discount_percent(self) -> Fraction:
        """All discounts as a share of the subtotal, in percent (for the store's discount limit)."""
        totals = self.totals()
        if totals.subtotal == 0:
            return Fraction(0)
        return Fraction(totals.discounts * 100, totals.subtotal)

    def asked_discount_percent(self) -> Fraction:
        """All discounts as the cashier asked for them, as a share of the subtotal in percent.

        The store's limit compares this, not :meth:`discount_percent`: 10 % off 1.95 rounds to
        0.20 (10.26 %), yet the cashier asked for exactly 10 %. A percent counts unrounded; a
        percent of the whole sale applies to what the (unrounded) line discounts left; an amount
        counts as typed.
        """
        subtotal = sum(line.amount for line in self._lines)
        if subtotal == 0:
            return Fraction(0)
        asked = sum((_asked(line.discount, Fraction(line.amount)) for line in self._lines), Fraction(0))
        asked += _asked(self.sale_discount, subtotal - asked)
        return asked * 100 / subtotal

    def totals(self) -> SaleTotals:
        return compute_totals(self.currency, self.tax_mode, self._lines, self.sale_discount)


def _asked(discount: Discount | None, base: Fraction) -> Fraction:
    """What ``discount`` takes off ``base`` before any rounding (never more than ``base``)."""
    if discount is None:
        return Fraction(0)
    if discount.percent is not None:
        return base * Fraction(discount.percent) / 100
    assert discount.amount is not None
    return min(base, Fraction(discount.amount))


def compute_totals(
    currency: str,
    tax_mode: TaxMode,
    lines: list[SaleLine] | tuple[SaleLine, ...],
    sale_discount: Discount | None,
) -> SaleTotals:
    """The totals of ``lines`` with ``sale_discount`` (see the module docstring for the steps)."""
    after_line = [line.amount - line.line_discount for line in lines]
    base = sum(after_line)
    whole = sale_discount.off(base) if sale_discount else 0
    shares = allocate(whole, after_line)
    line_totals = tuple(
        LineTotal(
            line_id=line.line_id,
            amount=line.amount,
            line_discount=line.line_discount,
            sale_discount=share,
            total=rest - share,
        )
        for line, rest, share in zip(lines, after_line, shares, strict=True)
    )
    taxes = tuple(
        tax_summary(
            ((line.product.tax_rate, lt.total) for line, lt in zip(lines, line_totals, strict=True)), tax_mode
        )
    )
    return SaleTotals(
        currency=currency,
        tax_mode=tax_mode,
        lines=line_totals,
        subtotal=sum(lt.amount for lt in line_totals),
        line_discounts=sum(lt.line_discount for lt in line_totals),
        sale_discount=whole,
        taxes=taxes,
        tax=sum(row.tax for row in taxes),
        total=summary_total(taxes),
    )
