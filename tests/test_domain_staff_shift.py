"""Staff approval rules and the drawer's cash over a shift."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos.domain.shift import DrawerCash, expected_drawer_cash
from pos.domain.staff import MANAGER_ONLY, Action, Role, can_approve, needs_approval
from pos.domain.tender import Tender, TenderKind


@pytest.mark.parametrize(
    "action",
    [
        Action.VOID_AFTER_PAYMENT,
        Action.RETURN,
        Action.PRICE_OVERRIDE,
        Action.CASH_OUT,
        Action.CLOSE_SHIFT,
    ],
)
def test_a_cashier_asks_a_manager(action: Action) -> None:
    assert needs_approval(action, Role.CASHIER)
    assert not needs_approval(action, Role.MANAGER)


@pytest.mark.parametrize(
    "action", [Action.SELL, Action.REMOVE_LINE, Action.VOID_SALE, Action.CASH_IN, Action.OPEN_SHIFT]
)
def test_everyday_actions_need_no_approval(action: Action) -> None:
    assert not needs_approval(action, "cashier")


def test_discounts_need_approval_only_above_the_store_limit() -> None:
    assert not needs_approval(Action.DISCOUNT, Role.CASHIER, discount_percent=10, discount_limit_percent=10)
    assert needs_approval(
        Action.DISCOUNT, Role.CASHIER, discount_percent=Decimal("10.01"), discount_limit_percent=10
    )
    assert not needs_approval(Action.DISCOUNT, Role.MANAGER, discount_percent=90)
    with pytest.raises(ValueError, match="percent"):
        needs_approval(Action.DISCOUNT, Role.CASHIER)


def test_unknown_roles_and_actions_are_refused() -> None:
    with pytest.raises(ValueError):
        needs_approval("dance", Role.CASHIER)
    with pytest.raises(ValueError):
        needs_approval(Action.SELL, "owner")


def test_only_managers_approve() -> None:
    assert can_approve(Role.MANAGER) and not can_approve("cashier")
    assert Action.RETURN in MANAGER_ONLY


def test_expected_drawer_cash() -> None:
    # 100.00 float + 50.00 handed over - 12.34 change + 20.00 in - 30.00 out.
    assert (
        expected_drawer_cash(
            opening_float=10000, cash_sales=5000, change_given=1234, cash_in=2000, cash_out=3000
        )
        == 12766
    )


def test_drawer_follows_the_sales_and_the_count_shows_the_difference() -> None:
    drawer = DrawerCash(opening_float=10000)
    drawer = drawer.with_sale([Tender(TenderKind.CASH, amount=1299, tendered=2000)])
    drawer = drawer.with_sale([Tender(TenderKind.CARD, amount=5000, reference="APPR01")])
    drawer = drawer.with_sale([Tender(TenderKind.CASH, amount=500, tendered=500)])
    drawer = drawer.with_cash_in(1000).with_cash_out(2000).with_refund(300)
    assert drawer.expected == 10000 + 2000 - 701 + 500 + 1000 - 2000 - 300
    assert drawer.difference(drawer.expected) == 0
    assert drawer.difference(drawer.expected - 50) == -50  # short
    assert drawer.difference(drawer.expected + 20) == 20  # over


def test_drawer_refuses_impossible_figures() -> None:
    with pytest.raises(ValueError, match="cannot take out"):
        DrawerCash(opening_float=100).with_cash_out(101)
    with pytest.raises(ValueError, match="opening float"):
        DrawerCash(opening_float=-1)
    with pytest.raises(ValueError, match="counted cash"):
        DrawerCash(opening_float=0).difference(-5)


@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)), max_size=20))
def test_drawer_gains_exactly_what_the_sales_kept(sales: list[tuple[int, int]]) -> None:
    drawer = DrawerCash(opening_float=5000)
    kept = 0
    for amount, extra in sales:
        drawer = drawer.with_sale([Tender(TenderKind.CASH, amount=amount, tendered=amount + extra)])
        kept += amount
    assert drawer.expected == 5000 + kept
