"""Payment: cash and change, cash rounding, card references, split tenders, no card overpayment."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos.domain.money import Money
from pos.domain.sale import Product, Sale
from pos.domain.tax import TaxMode
from pos.domain.tender import Payment, PaymentError, TenderKind, round_to_increment, sale_payload
from sync.protocol import SalePayload

SALE_ID = "01937a4e-5b6c-7d8e-9f00-112233445566"


def pay(total: int, increment: int = 1, currency: str = "EUR") -> Payment:
    return Payment(Money(total, currency), cash_increment=increment)


def test_cash_with_change() -> None:
    p = pay(1299)
    tender = p.add_cash(2000)
    assert (tender.amount, tender.tendered, p.change, p.is_complete, p.remaining) == (
        1299,
        2000,
        701,
        True,
        0,
    )


def test_exact_cash_by_enter_with_no_amount() -> None:
    p = pay(1299)
    p.add_exact_cash()
    assert p.is_complete and p.change == 0


def test_partial_cash_then_card() -> None:
    p = pay(1299)
    p.add_cash(1000)
    assert (p.is_complete, p.remaining) == (False, 299)
    p.add_card("A1B2C3")
    assert p.is_complete and p.change == 0
    assert [t.kind for t in p.tenders] == [TenderKind.CASH, TenderKind.CARD]


def test_card_overpayment_is_refused() -> None:
    p = pay(1299)
    with pytest.raises(PaymentError, match="only cash can be overpaid"):
        p.add_card("A1B2C3", 1300)
    with pytest.raises(PaymentError, match="only cash"):
        p.add_voucher("GIFT-0001", 5000)
    assert p.tenders == ()


@pytest.mark.parametrize("reference", [None, "", "   ", "ab", "has space", "x" * 65, "ünï1234"])
def test_card_needs_a_valid_approval_reference(reference: str | None) -> None:
    p = pay(1299)
    with pytest.raises(PaymentError, match="approval reference"):
        p.add_card(reference, 100)  # type: ignore[arg-type]
    assert p.tenders == ()


def test_nothing_more_after_paid() -> None:
    p = pay(100)
    p.add_cash(100)
    with pytest.raises(PaymentError, match="already paid"):
        p.add_cash(100)


def test_cash_rounding_to_five_rappen() -> None:
    # CHF 10.02 rounds to 10.00 in cash; 10.03 to 10.05.
    p = pay(1002, increment=5, currency="CHF")
    assert p.cash_due == 1000
    p.add_cash(2000)
    assert (p.is_complete, p.rounding, p.change) == (True, -2, 1000)
    q = pay(1003, increment=5, currency="CHF")
    q.add_cash(1005)
    assert (q.is_complete, q.rounding, q.change) == (True, 2, 0)


def test_card_pays_to_the_exact_rappen() -> None:
    p = pay(1002, increment=5, currency="CHF")
    p.add_card("APPR01")
    assert (p.is_complete, p.rounding) == (True, 0)


def test_removing_a_card_tender_recomputes_the_cash_change() -> None:
    p = pay(1000)
    p.add_card("APPR01", 400)
    p.add_cash(2000)
    assert p.change == 1400
    p.remove_tender(0)
    assert (p.is_complete, p.change, len(p.tenders)) == (True, 1000, 1)
    with pytest.raises(PaymentError, match="no tender number 5"):
        p.remove_tender(4)


def test_a_rounded_away_remainder_settles_with_zero_cash_and_survives_removals() -> None:
    p = pay(1002, increment=5, currency="CHF")
    p.add_card("APPR01", 1000)
    assert p.cash_due == 0
    p.add_exact_cash()
    assert (p.is_complete, p.rounding) == (True, -2)
    p.remove_tender(0)
    assert (p.tenders, p.remaining) == ((), 1002)


def test_zero_cash_is_refused_unless_nothing_is_due() -> None:
    p = pay(1000)
    with pytest.raises(PaymentError, match="enter the cash amount"):
        p.add_cash(0)
    with pytest.raises(PaymentError, match="not a cash amount"):
        p.add_cash(-5)
    assert pay(0).is_complete


@given(
    st.integers(0, 10**7),
    st.sampled_from([1, 5, 10, 50]),
    st.lists(st.tuples(st.sampled_from(["cash", "card", "voucher"]), st.integers(0, 10**7)), max_size=8),
    st.integers(0, 10),
)
def test_change_is_never_negative_and_tenders_cover_the_total_exactly(
    total: int, increment: int, steps: list[tuple[str, int]], removed_index: int
) -> None:
    p = pay(total, increment)
    for kind, amount in steps:
        if p.is_complete:
            break
        try:
            if kind == "cash":
                p.add_cash(amount)
            elif kind == "card":
                p.add_card("APPR01", amount)
            else:
                p.add_voucher("V-1234", amount)
        except PaymentError:
            assert kind != "cash" or amount == 0
    assert p.change >= 0
    assert all(t.change >= 0 for t in p.tenders)
    non_cash = sum(t.amount for t in p.tenders if t.kind is not TenderKind.CASH)
    assert non_cash <= total
    if not p.is_complete:
        p.add_exact_cash()
    assert p.paid == total + p.rounding
    assert abs(p.rounding) * 2 <= increment
    assert p.remaining == 0
    # Taking back any tender leaves a consistent payment that can be finished again.
    if p.tenders:
        p.remove_tender(removed_index % len(p.tenders))
        assert p.change >= 0
        if not p.is_complete:
            assert p.remaining > 0
            p.add_exact_cash()
        assert p.paid == total + p.rounding


def test_round_to_increment() -> None:
    assert [round_to_increment(x, 5) for x in (0, 2, 3, 7, 8)] == [0, 0, 5, 5, 10]


def test_sale_payload_of_a_paid_sale_validates_against_the_wire_model() -> None:
    s = Sale("EUR", TaxMode.INCLUSIVE)
    s.add(Product("A1", "Apple", 129, "7", barcode="4006381333931"), 2000)
    s.add(Product("B1", "Beer", 99, "19"))
    s.attach_member(7)
    p = Payment.for_sale(s)
    with pytest.raises(PaymentError, match="not fully paid"):
        sale_payload(s, p, sale_id=SALE_ID, receipt_no="R-1", completed_at="2026-11-25T12:00:00Z")
    p.add_card("APPR01", 100)
    p.add_cash(500)
    payload = sale_payload(
        s,
        p,
        sale_id=SALE_ID,
        receipt_no="S01-T01-000001",
        completed_at="2026-11-25T12:00:00Z",
        claim_code="X" * 48,
        cashier_id="c1",
        shift_id="sh1",
    )
    assert isinstance(payload, SalePayload)
    assert payload.total == 357 == sum(t.gross for t in payload.taxes)
    assert sum(t.amount for t in payload.tenders) == payload.total + payload.rounding
    assert payload.change == 243
    assert payload.member_id == 7
    assert [line.quantity_milli for line in payload.lines] == [2000, 1000]
    assert SalePayload.model_validate_json(payload.model_dump_json()) == payload


def test_payload_refuses_a_sale_changed_after_payment_started() -> None:
    s = Sale("EUR", TaxMode.INCLUSIVE)
    s.add(Product("A1", "Apple", 129, "7"))
    p = Payment.for_sale(s)
    p.add_exact_cash()
    s.add(Product("B1", "Beer", 99, "19"))
    with pytest.raises(PaymentError, match="changed after payment"):
        sale_payload(s, p, sale_id=SALE_ID, receipt_no="R-1", completed_at="2026-11-25T12:00:00Z")
