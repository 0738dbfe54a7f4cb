"""The sale in progress: lines, merges, quantities, discounts and totals that add up."""

from __future__ import annotations

import contextlib
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pos.domain.sale import Discount, Product, Sale, SaleError, Unit, allocate
from pos.domain.tax import TaxMode

APPLE = Product("A1", "Apple", 129, "7", Unit.PIECE, "4006381333931")
BEER = Product("B1", "Beer", 99, "19")
CHEESE = Product("K1", "Cheese", 1999, "7", Unit.KG)


def sale(mode: TaxMode = TaxMode.INCLUSIVE) -> Sale:
    return Sale("EUR", mode)


def test_scanning_the_same_piece_item_again_adds_to_the_last_line() -> None:
    s = sale()
    s.add(APPLE)
    line = s.add(APPLE, 2000)
    assert len(s.lines) == 1
    assert line.quantity_milli == 3000
    assert s.totals().total == 387


def test_merging_only_joins_the_last_line() -> None:
    s = sale()
    s.add(APPLE)
    s.add(BEER)
    s.add(APPLE)
    assert [line.product.sku for line in s.lines] == ["A1", "B1", "A1"]


def test_weighed_items_always_get_their_own_line() -> None:
    s = sale()
    s.add(CHEESE, 250)
    s.add(CHEESE, 250)
    assert [line.quantity_milli for line in s.lines] == [250, 250]
    # 19.99/kg x 0.250 kg = 4.9975 -> 5.00 per line.
    assert s.totals().total == 1000


def test_merge_can_be_turned_off_and_skips_discounted_lines() -> None:
    s = sale()
    first = s.add(APPLE)
    s.set_line_discount(first.line_id, Discount.of_percent("10"))
    s.add(APPLE)
    s.add(APPLE, merge=False)
    assert len(s.lines) == 3


@pytest.mark.parametrize(
    ("product", "milli", "why"),
    [
        (APPLE, 0, "above zero"),
        (APPLE, -1000, "returns"),
        (APPLE, 1500, "pieces are counted whole"),
        (CHEESE, 10_000_000, "too large"),
    ],
)
def test_bad_quantities_are_refused_and_change_nothing(product: Product, milli: int, why: str) -> None:
    s = sale()
    s.add(APPLE)
    with pytest.raises(SaleError, match=why):
        s.add(product, milli)
    assert [line.quantity_milli for line in s.lines] == [1000]


def test_merging_past_the_quantity_limit_is_refused() -> None:
    s = sale()
    s.add(APPLE, 9_999_000)
    with pytest.raises(SaleError, match="too large"):
        s.add(APPLE)
    assert s.lines[0].quantity_milli == 9_999_000


def test_change_quantity_and_remove_line() -> None:
    s = sale()
    a = s.add(APPLE)
    b = s.add(BEER)
    s.set_quantity(a.line_id, 4000)
    assert s.line(a.line_id).quantity_milli == 4000
    removed = s.remove_line(b.line_id)
    assert removed.product == BEER
    assert [line.line_id for line in s.lines] == [a.line_id]
    with pytest.raises(SaleError, match="no line"):
        s.remove_line(b.line_id)
    with pytest.raises(SaleError, match="pieces"):
        s.set_quantity(a.line_id, 2500)


def test_line_discounts_in_percent_and_amount() -> None:
    s = sale()
    a = s.add(APPLE, 3000)  # 3.87
    b = s.add(BEER)  # 0.99
    s.set_line_discount(a.line_id, Discount.of_percent("10"))  # 0.387 -> 0.39
    s.set_line_discount(b.line_id, Discount.of_amount(50))
    t = s.totals()
    assert (t.subtotal, t.line_discounts, t.total) == (486, 89, 397)
    with pytest.raises(SaleError, match="more than the line"):
        s.set_line_discount(b.line_id, Discount.of_amount(100))


def test_whole_sale_discount_is_allocated_exactly() -> None:
    s = sale()
    s.add(APPLE)  # 1.29 at 7%
    s.add(BEER)  # 0.99 at 19%
    s.add(CHEESE, 500)  # 10.00 (9.995) at 7%
    s.set_sale_discount(Discount.of_amount(100))
    t = s.totals()
    assert t.sale_discount == 100
    assert sum(lt.sale_discount for lt in t.lines) == 100
    assert t.total == t.subtotal - 100
    assert t.total == sum(row.gross for row in t.taxes)


def test_discounts_are_checked() -> None:
    with pytest.raises(SaleError, match="at most 100"):
        Discount.of_percent("120")
    with pytest.raises(SaleError, match="two decimals"):
        Discount.of_percent("1.234")
    with pytest.raises(SaleError, match="not a discount percent"):
        Discount.of_percent("ten")
    with pytest.raises(SaleError, match="above zero"):
        Discount.of_amount(0)
    s = sale()
    s.add(BEER)
    with pytest.raises(SaleError, match="more than the sale"):
        s.set_sale_discount(Discount.of_amount(100))
    assert s.sale_discount is None


def test_member_and_price_override() -> None:
    s = sale()
    line = s.add(APPLE)
    s.attach_member(42)
    assert s.member_id == 42
    with pytest.raises(SaleError, match="member id"):
        s.attach_member(0)
    changed = s.override_price(line.line_id, 100)
    assert (changed.product.unit_price, changed.original_unit_price) == (100, 129)
    assert s.override_price(line.line_id, 90).original_unit_price == 129
    with pytest.raises(SaleError, match="out of range"):
        s.override_price(line.line_id, -1)


def test_discount_percent_for_the_store_limit() -> None:
    s = sale()
    s.add(Product("X", "X", 1000, "19"))
    s.set_sale_discount(Discount.of_amount(150))
    assert s.discount_percent() == Fraction(15)


def test_the_limit_compares_the_percent_asked_not_the_rounded_result() -> None:
    # 10 % off 1.95 rounds to 0.20 off, which is 10.26 % of 1.95: the cashier asked for 10 %.
    s = sale()
    line = s.add(Product("X", "X", 195, "19"))
    s.set_line_discount(line.line_id, Discount.of_percent(10))
    assert s.totals().discounts == 20
    assert s.discount_percent() > 10
    assert s.asked_discount_percent() == Fraction(10)
    # A percent of the whole sale is asked of what the line discounts left.
    s.set_sale_discount(Discount.of_percent(10))
    assert s.asked_discount_percent() == Fraction(19)
    # An amount is asked exactly as typed.
    s.set_line_discount(line.line_id, None)
    s.set_sale_discount(Discount.of_amount(20))
    assert s.asked_discount_percent() == Fraction(2000, 195)


@given(
    st.lists(st.tuples(st.integers(1, 10**6), st.integers(1, 50)), min_size=1, max_size=6),
    st.sampled_from(["line", "sale"]),
    st.decimals(min_value=1, max_value=100, places=2),
)
def test_a_percent_asked_is_exactly_that_percent_whatever_the_prices(
    items: list[tuple[int, int]], where: str, percent: object
) -> None:
    s = sale()
    ids = [
        s.add(Product(f"P{i}", "P", price, "7"), qty * 1000).line_id for i, (price, qty) in enumerate(items)
    ]
    discount = Discount.of_percent(str(percent))
    if where == "line":
        for line_id in ids:
            s.set_line_discount(line_id, discount)
    else:
        s.set_sale_discount(discount)
    assert s.asked_discount_percent() == Fraction(str(percent))


def test_exclusive_mode_adds_tax_on_top() -> None:
    s = sale(TaxMode.EXCLUSIVE)
    s.add(Product("X", "Shirt", 1000, "8.875"))
    t = s.totals()
    assert (t.subtotal, t.tax, t.total) == (1000, 89, 1089)


@given(st.integers(0, 10**6), st.lists(st.integers(0, 10**6), min_size=1, max_size=20))
def test_allocate_is_exact_and_bounded(amount: int, weights: list[int]) -> None:
    amount = min(amount, sum(weights))
    shares = allocate(amount, weights)
    assert sum(shares) == amount
    assert all(0 <= share <= w for share, w in zip(shares, weights, strict=True))


products = st.builds(
    Product,
    sku=st.sampled_from(["A", "B", "C", "D"]),
    name=st.just("item"),
    unit_price=st.integers(0, 100_000),
    tax_rate=st.sampled_from(["0", "5", "7", "8.875", "19", "21"]),
    unit=st.sampled_from(list(Unit)),
)
discounts = st.one_of(
    st.none(),
    st.decimals("0.01", "100", places=2).map(Discount.of_percent),
    st.integers(1, 50_000).map(Discount.of_amount),
)


@settings(deadline=None)  # no timing in tests: the machine is shared
@given(
    st.lists(st.tuples(products, st.integers(1, 20), discounts), min_size=1, max_size=12),
    discounts,
    st.sampled_from(list(TaxMode)),
)
def test_totals_always_add_up(
    lines: list[tuple[Product, int, Discount | None]], whole: Discount | None, mode: TaxMode
) -> None:
    s = sale(mode)
    for product, count, discount in lines:
        milli = count * 1000 if product.unit is Unit.PIECE else count * 137
        line = s.add(product, milli)
        # An amount larger than the line is refused; the sale goes on without it.
        with contextlib.suppress(SaleError):
            s.set_line_discount(line.line_id, discount)
    with contextlib.suppress(SaleError):
        s.set_sale_discount(whole)
    t = s.totals()
    for row in t.taxes:
        assert row.net + row.tax == row.gross
    assert t.total == sum(row.gross for row in t.taxes)
    assert all(lt.total >= 0 for lt in t.lines)
    assert sum(lt.sale_discount for lt in t.lines) == t.sale_discount
    lines_total = sum(lt.total for lt in t.lines)
    assert lines_total == t.subtotal - t.discounts
    if mode is TaxMode.INCLUSIVE:
        assert t.total == lines_total
    else:
        assert sum(row.net for row in t.taxes) == lines_total
