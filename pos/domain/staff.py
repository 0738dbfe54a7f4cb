"""Who may do what at the till without asking a manager.

Roles are cashier and manager. A cashier asks for a manager's PIN before: a void after payment, a
return, a discount above the store's limit, a price override, taking cash out of the drawer, and
closing the shift. A manager's own actions need no further approval (the journal records the
manager as the approver).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from fractions import Fraction


class Role(StrEnum):
    CASHIER = "cashier"
    MANAGER = "manager"


class Action(StrEnum):
    """Actions at the till. Values are stable: they go into the journal (override.approved)."""

    SELL = "sell"
    REMOVE_LINE = "remove_line"  # before payment
    VOID_SALE = "void_sale"  # a sale in progress, before payment
    VOID_AFTER_PAYMENT = "void_after_payment"
    RETURN = "return"
    DISCOUNT = "discount"
    PRICE_OVERRIDE = "price_override"
    CASH_IN = "cash_in"
    CASH_OUT = "cash_out"
    OPEN_SHIFT = "open_shift"
    CLOSE_SHIFT = "close_shift"
    REPRINT_RECEIPT = "reprint_receipt"
    OPEN_DRAWER = "open_drawer"


#: Actions a cashier may never do alone, whatever the amount.
MANAGER_ONLY: frozenset[Action] = frozenset(
    {
        Action.VOID_AFTER_PAYMENT,
        Action.RETURN,
        Action.PRICE_OVERRIDE,
        Action.CASH_OUT,
        Action.CLOSE_SHIFT,
    }
)


def needs_approval(
    action: Action | str,
    role: Role | str,
    *,
    discount_percent: Decimal | Fraction | int | None = None,
    discount_limit_percent: Decimal | Fraction | int = 10,
) -> bool:
    """Whether ``role`` needs a manager's approval to do ``action``.

    For :attr:`Action.DISCOUNT`, pass the discount as a percent of what it applies to
    (``discount_percent``; ``Sale.asked_discount_percent()``: the percent asked, not the rounded result) and the store's limit: a cashier
    needs approval above the limit, not at it. Unknown actions or roles raise ValueError.
    """
    action = Action(action)
    role = Role(role)
    if role is Role.MANAGER:
        return False
    if action in MANAGER_ONLY:
        return True
    if action is Action.DISCOUNT:
        if discount_percent is None:
            raise ValueError("a discount needs its percent to decide whether it needs approval")
        return Fraction(discount_percent) > Fraction(discount_limit_percent)
    return False


def can_approve(role: Role | str) -> bool:
    """Whether a person with ``role`` may approve what a cashier may not do alone."""
    return Role(role) is Role.MANAGER
