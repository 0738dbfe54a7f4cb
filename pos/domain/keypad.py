"""What the cashier types on the keypad: the quantity prefix "N*" before a scan.

"3*" rings up the next scan three times; "0.250*" or "0,250*" weighs 250 g of a kg item. The
quantity comes back in thousandths (3 pieces = 3000, 0.250 kg = 250); whether it suits the item
(whole pieces only) is checked when the line is added (``sale.check_quantity``).
"""

from __future__ import annotations

import re

from pos.domain.sale import MAX_QUANTITY_MILLI


class QuantityError(ValueError):
    """A typed quantity was refused; str() says why, for a person."""


_QUANTITY = re.compile(r"([0-9]{1,7})(?:[.,]([0-9]*))?")


def parse_quantity(text: str) -> int:
    """Thousandths in a typed quantity like "3", "3*", "0.250*", "0,250". Raises QuantityError.

    Refused: empty, signs, letters, more than three decimals, zero, more than 9999.
    """
    if not isinstance(text, str):
        raise QuantityError(f"not a quantity: {text!r}")
    cleaned = text.strip()
    if cleaned.endswith("*"):
        cleaned = cleaned[:-1].rstrip()
    match = _QUANTITY.fullmatch(cleaned)
    if not match:
        raise QuantityError(f"not a quantity: {text!r} (type a number, e.g. 3 or 0.250, then *)")
    decimals = match.group(2) or ""
    if len(decimals) > 3:
        raise QuantityError(f"not a quantity: {text!r} (at most three decimals, i.e. grams)")
    milli = int(match.group(1)) * 1000 + int(decimals.ljust(3, "0"))
    if milli == 0:
        raise QuantityError("quantity must be above zero")
    if milli > MAX_QUANTITY_MILLI:
        raise QuantityError(f"quantity {cleaned} is too large: at most 9999")
    return milli


def split_quantity_prefix(text: str) -> tuple[int | None, str]:
    """Split "3*4006381333931" into (3000, "4006381333931"); no "*" gives (None, text).

    Raises QuantityError when the part before "*" is not a valid quantity.
    """
    head, star, rest = text.partition("*")
    if not star:
        return None, text
    return parse_quantity(head), rest.strip()
