"""Returns of lines of an earlier sale: exact refunds that add up to what was paid."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pos.domain.returns import Return, ReturnError
from pos.domain.sale import Discount, Product, Sale, Unit
from pos.domain.tax import TaxMode
from pos.domain.tender import Payment, TenderKind, sale_payload
from sync.protocol import SalePayload

SALE_ID = "01937a4e-5b6c-7d8e-9f00-112233445566"
RETURN_ID = "01937a4e-5b6c-7d8e-9f00-112233445599"


def paid_sale(lines: list[tuple[Product, int]], whole: Discount | None = None) -> SalePayload:
    s = Sale("EUR", TaxMode.INCLUSIVE)
    for product, milli in lines:
        s.add(product, milli, merge=False)
    s.set_sale_discount(whole)
    p = Payment.for_sale(s)
    p.add_exact_cash()
    return sale_payload(s, p, sale_id=SALE_ID, receipt_no="R-1", completed_at="2026-11-25T12:00:00Z")


APPLE = Product("A1", "Apple", 100, "7")
BEER = Product("B1", "Beer", 99, "19")
CHEESE = Product("K1", "Cheese", 1999, "7", Unit.KG)


def test_returning_everything_refunds_exactly_what_was_paid() -> None:
    original = paid_sale([(APPLE, 3000), (BEER, 1000)], Discount.of_percent("10"))
    ret = Return(original)
    ret.return_all()
    assert ret.refund_total == original.total
    payload = ret.payload(sale_id=RETURN_ID, receipt_no="R-2", completed_at="2026-11-26T09:00:00Z")
    assert payload.original_sale_id == SALE_ID
    assert payload.total == -original.total == sum(t.gross for t in payload.taxes)
    assert all(line.quantity_milli < 0 for line in payload.lines)
    assert payload.tenders[0].amount == payload.total


def test_returning_bit_by_bit_adds_up_to_the_line() -> None:
    original = paid_sale([(APPLE, 3000)], Discount.of_amount(1))  # 3 apples for 2.99
    refunds = []
    returned = 0
    for _ in range(3):
        ret = Return(original, already_returned={1: returned})
        ret.set_quantity(1, 1000)
        refunds.append(ret.refund_total)
        returned += 1000
    assert sum(refunds) == 299
    with pytest.raises(ReturnError, match="only 0 of Apple"):
        Return(original, already_returned={1: 3000}).set_quantity(1, 1000)


def test_return_rules() -> None:
    original = paid_sale([(APPLE, 2000), (CHEESE, 250)])
    ret = Return(original)
    with pytest.raises(ReturnError, match="returned whole"):
        ret.set_quantity(1, 500)
    with pytest.raises(ReturnError, match="no line 9"):
        ret.set_quantity(9, 1000)
    with pytest.raises(ReturnError, match="at least one line"):
        ret.payload(sale_id=RETURN_ID, receipt_no="R-2", completed_at="x")
    ret.set_quantity(2, 100)
    with pytest.raises(ValueError, match="approval reference"):
        ret.payload(sale_id=RETURN_ID, receipt_no="R-2", completed_at="x", refund_kind=TenderKind.CARD)
    payload = ret.payload(
        sale_id=RETURN_ID, receipt_no="R-2", completed_at="x", refund_kind=TenderKind.CARD, reference="REF123"
    )
    assert payload.lines[0].quantity_milli == -100
    returned = ret.payload(sale_id=RETURN_ID, receipt_no="R-2", completed_at="x")
    with pytest.raises(ReturnError, match="cannot itself be returned"):
        Return(returned)


@settings(max_examples=50, deadline=None)  # no timing in tests: the machine is shared
@given(
    st.lists(
        st.tuples(st.integers(1, 5000), st.integers(1, 9), st.sampled_from(["0", "7", "19"])),
        min_size=1,
        max_size=6,
    ),
    st.integers(0, 30),
    st.data(),
)
def test_partial_returns_never_exceed_and_finally_equal_the_sale(
    items: list[tuple[int, int, str]], percent: int, data: st.DataObject
) -> None:
    products = [
        (Product(f"S{i}", "item", price, rate), count * 1000) for i, (price, count, rate) in enumerate(items)
    ]
    original = paid_sale(products, Discount.of_percent(percent) if percent else None)
    returned: dict[int, int] = {}
    refunded = 0
    while any(returned.get(line.line_no, 0) < line.quantity_milli for line in original.lines):
        ret = Return(original, already_returned=returned)
        progress = False
        for line in original.lines:
            left = ret.returnable(line.line_no) // 1000
            if left:
                # The first line with something left returns at least one, so every round progresses.
                ret.set_quantity(line.line_no, data.draw(st.integers(0 if progress else 1, left)) * 1000)
                progress = True
        for r in ret.lines:
            returned[r.line_no] = returned.get(r.line_no, 0) + r.quantity_milli
            assert r.refund >= 0
        refunded += sum(r.refund for r in ret.lines)
        assert refunded <= original.total
    assert refunded == original.total
