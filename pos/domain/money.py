"""Money: an integer number of minor units with its currency.

``Decimal`` appears only where a person's text is parsed (:func:`parse_money`) or an amount is
shown (:func:`format_money`); all arithmetic is on integers. How many minor-unit digits a currency
has (EUR 2, JPY 0) comes from babel's CLDR data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from babel.core import UnknownLocaleError
from babel.numbers import format_currency, get_currency_precision, is_currency

#: Largest amount (in minor units) a person may type; far above any till, far below overflow risks.
MAX_TYPED_MINOR = 10**12


class CurrencyMismatch(ValueError):
    """Two amounts in different currencies were combined."""


def check_currency(code: str) -> str:
    """``code`` if it is a known ISO 4217 currency code (upper case), else ValueError naming it."""
    if not isinstance(code, str) or not re.fullmatch(r"[A-Z]{3}", code) or not is_currency(code):
        raise ValueError(f"unknown currency code {code!r}: expected an ISO 4217 code like 'EUR'")
    return code


def minor_digits(currency: str) -> int:
    """How many digits after the decimal point the currency has (EUR 2, JPY 0, BHD 3)."""
    return int(get_currency_precision(check_currency(currency)))


def round_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to the nearest integer, halves away from zero.

    Away from zero (not towards +inf) so a refund rounds exactly like the sale it reverses.
    """
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    magnitude = (2 * abs(numerator) + denominator) // (2 * denominator)
    return magnitude if numerator >= 0 else -magnitude


@dataclass(frozen=True, slots=True)
class Money:
    """An amount of ``minor`` units (cents, pence, yen) of ``currency``.

    Adding, subtracting and comparing two amounts of different currencies raises
    :class:`CurrencyMismatch`.
    """

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise TypeError(f"Money.minor must be an int, got {self.minor!r}")
        check_currency(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        """See :func:`parse_money`."""
        return cls(parse_money(text, currency), currency)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.minor <= other.minor

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor > other.minor

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.minor >= other.minor

    def __bool__(self) -> bool:
        return self.minor != 0

    def times_milli(self, quantity_milli: int) -> Money:
        """This amount times a quantity in thousandths (1000 = one piece or one kg), half-up."""
        return Money(round_half_up(self.minor * quantity_milli, 1000), self.currency)

    def format(self, locale: str) -> str:
        """See :func:`format_money`."""
        return format_money(self.minor, self.currency, locale)

    def __str__(self) -> str:
        return f"{to_decimal(self.minor, self.currency)} {self.currency}"


def to_decimal(minor: int, currency: str) -> Decimal:
    """The amount in major units as an exact Decimal (for display and export only)."""
    return Decimal(minor).scaleb(-minor_digits(currency))


_AMOUNT = re.compile(r"([0-9]+)(?:[.,]([0-9]*))?")


def parse_money(text: str, currency: str) -> int:
    """Minor units of a major-unit amount a person typed: "12.99", "12,99", "12", "0.5".

    Either "." or "," is the decimal mark; no thousands separators, no sign, no currency symbol,
    at most as many decimals as the currency has. Raises ValueError naming the input otherwise.
    """
    digits = minor_digits(currency)
    if not isinstance(text, str):
        raise ValueError(f"not an amount: {text!r}")
    cleaned = text.strip()
    match = _AMOUNT.fullmatch(cleaned)
    if not match:
        if cleaned.startswith("-"):
            raise ValueError(f"not an amount: {text!r} (amounts are entered without a sign)")
        raise ValueError(f"not an amount: {text!r} (expected digits like 12.99 or 12,99)")
    decimals = match.group(2) or ""
    if len(decimals) > digits:
        raise ValueError(
            f"not an amount: {text!r} ({currency} has {digits} decimal places, got {len(decimals)})"
        )
    try:
        value = Decimal(match.group(1) + "." + (decimals or "0"))
    except InvalidOperation as exc:  # pragma: no cover - the regex already guarantees digits
        raise ValueError(f"not an amount: {text!r}") from exc
    minor = int(value.scaleb(digits))
    if minor > MAX_TYPED_MINOR:
        raise ValueError(f"amount too large: {text!r}")
    return minor


def format_money(minor: int, currency: str, locale: str) -> str:
    """The amount as a person in ``locale`` reads it: "€12.99" (en), "12,99 €" (de), "¥12.99" (zh_CN)."""
    try:
        return str(format_currency(to_decimal(minor, currency), currency, locale=locale))
    except (UnknownLocaleError, ValueError) as exc:
        raise ValueError(f"unknown locale {locale!r}") from exc
