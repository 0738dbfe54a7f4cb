"""Boundaries and exact fields of the shop's rules that mutation testing (``make mutation``) found
no test pinned down: the drawer at exactly zero, a return payload field by field, a member
attached and detached, money compared at equality, the default discount limit."""

from __future__ import annotations

from fractions import Fraction

import pytest

from pos.domain.keypad import QuantityError, parse_quantity, split_quantity_prefix
from pos.domain.money import Money
from pos.domain.returns import Return, ReturnError
from pos.domain.sale import Product, Sale, SaleError, Unit
from pos.domain.scanning import InvalidScan, ProductScan, ScanConfig, route_scan
from pos.domain.shift import DrawerCash, expected_drawer_cash
from pos.domain.staff import Action, needs_approval
from pos.domain.tax import TaxMode
from pos.domain.tender import Payment, Tender, TenderKind, sale_payload

SALE_ID = "01937a4e-5b6c-7d8e-9f00-112233445566"
RETURN_ID = "01937a4e-5b6c-7d8e-9f00-112233445599"
MUG = Product("C3", "Coffee mug", 990, "19", barcode="5012345678900")
TEA = Product("T1", "Tea", 450, "7")


def test_the_drawer_may_be_emptied_exactly_and_counted_at_zero() -> None:
    drawer = DrawerCash(opening_float=500)
    assert drawer.with_cash_out(500).expected == 0  # all of it, not a cent more
    with pytest.raises(ValueError, match="only hold 500"):
        drawer.with_cash_out(501)
    assert drawer.difference(0) == -500  # an empty drawer can be counted
    assert drawer.difference(500) == 0
    for bad in (-1, True, 1.5):
        with pytest.raises(ValueError, match="non-negative"):
            drawer.difference(bad)  # type: ignore[arg-type]


def test_expected_cash_takes_refunds_off() -> None:
    assert (
        expected_drawer_cash(
            opening_float=1000, cash_sales=700, change_given=50, cash_in=100, cash_out=200, cash_refunds=300
        )
        == 1000 + 700 - 50 + 100 - 200 - 300
    )


def test_scan_config_bounds_and_messages() -> None:
    assert ScanConfig(plu_max_digits=0).plu_max_digits == 0
    assert ScanConfig(plu_max_digits=7).plu_max_digits == 7
    for bad in (-1, 8):
        with pytest.raises(ValueError, match=r"^plu_max_digits must be from 0 to 7$"):
            ScanConfig(plu_max_digits=bad)
    with pytest.raises(ValueError, match=r"unknown RCN region 'xx': known are dk, ee, fi, de, "):
        ScanConfig(rcn_region="xx")


def _original(member_id: int | None = 42) -> object:
    s = Sale("EUR", TaxMode.INCLUSIVE)
    s.add(MUG, 2000)
    s.add(TEA, 1000)
    if member_id is not None:
        s.attach_member(member_id)
    p = Payment.for_sale(s)
    p.add_exact_cash()
    return sale_payload(s, p, sale_id=SALE_ID, receipt_no="R-1", completed_at="2026-11-25T12:00:00Z")


@pytest.mark.parametrize("kind", [TenderKind.CASH, TenderKind.CARD])
def test_a_return_payload_carries_every_field_exactly(kind: TenderKind) -> None:
    original = _original()
    ret = Return(original)  # type: ignore[arg-type]
    ret.set_quantity(1, 1000)  # one of the two mugs
    ret.set_quantity(2, 1000)
    payload = ret.payload(
        sale_id=RETURN_ID,
        receipt_no="R-2",
        completed_at="2026-11-26T09:00:00Z",
        refund_kind=kind,
        reference=None if kind is TenderKind.CASH else "AUTH-9",
        cashier_id="c1",
        shift_id="s1",
        approved_by="m1",
    )
    assert (payload.member_id, payload.cashier_id, payload.shift_id, payload.approved_by) == (
        42,
        "c1",
        "s1",
        "m1",
    )
    assert [line.line_no for line in payload.lines] == [1, 2]
    mug, tea = payload.lines
    assert (mug.sku, mug.barcode, mug.discount, mug.total, mug.quantity_milli) == (
        "C3",
        "5012345678900",
        0,
        -990,
        -1000,
    )
    assert (tea.total, tea.barcode) == (-450, None)
    assert payload.total == -1440
    assert all(t.net < 0 and t.tax < 0 and t.gross < 0 for t in payload.taxes)
    assert sum(t.net + t.tax for t in payload.taxes) == -1440
    (tender,) = payload.tenders
    assert (tender.kind, tender.amount) == (kind.value, -1440)
    if kind is TenderKind.CASH:
        assert (tender.tendered, tender.reference) == (-1440, None)
    else:
        assert (tender.tendered, tender.reference) == (None, "AUTH-9")


def test_return_all_takes_only_what_is_left_and_skips_what_is_gone() -> None:
    original = _original(None)
    ret = Return(original, already_returned={1: 1000, 2: 1000})  # type: ignore[arg-type]
    ret.return_all()
    assert [(line.line_no, line.quantity_milli) for line in ret.lines] == [(1, 1000)]
    partly = Return(original, already_returned={1: 1999})  # type: ignore[arg-type]
    partly.return_all()
    assert [(line.line_no, line.quantity_milli) for line in partly.lines] == [(1, 1), (2, 1000)]


def test_a_member_is_attached_with_the_code_shown_and_detached_completely() -> None:
    s = Sale("EUR", TaxMode.INCLUSIVE)
    s.attach_member(1, "9" + "1" * 184)
    assert (s.member_id, s.member_code) == (1, "9" + "1" * 184)
    s.attach_member(2, "x" * 200)
    assert s.member_code == "x" * 200
    s.detach_member()
    assert s.member_id is None and s.member_code is None
    for bad_id in (0, -1, True, "7"):
        with pytest.raises(SaleError, match="not a member id"):
            s.attach_member(bad_id)  # type: ignore[arg-type]
    for bad_code in ("", "x" * 201, 7):
        with pytest.raises(SaleError, match=r"^not a member code$"):
            s.attach_member(3, bad_code)  # type: ignore[arg-type]
    assert s.member_id is None


def test_an_empty_sale_has_no_discount_percent_and_lines_are_found_by_id() -> None:
    s = Sale("EUR", TaxMode.INCLUSIVE)
    assert s.discount_percent() == Fraction(0)
    free = Product("F", "Free bag", 0, "19")
    s.add(free, 1000)
    assert s.discount_percent() == Fraction(0)
    line = s.add(TEA, 1000)
    totals = s.totals()
    assert totals.line(line.line_id).line_id == line.line_id
    with pytest.raises(SaleError, match=r"^no line 999 in this sale$"):
        totals.line(999)


def test_money_compares_strictly_and_names_what_it_cannot_combine() -> None:
    a, b = Money(100, "EUR"), Money(100, "EUR")
    assert not a < b and not a > b and a <= b and a >= b
    assert Money(99, "EUR") < a and a > Money(99, "EUR")
    with pytest.raises(TypeError, match=r"^cannot combine Money with int$"):
        a + 1  # type: ignore[operator]


def test_the_default_discount_limit_is_ten_percent() -> None:
    assert not needs_approval(Action.DISCOUNT, "cashier", discount_percent=10)
    assert needs_approval(Action.DISCOUNT, "cashier", discount_percent=Fraction(1001, 100))
    with pytest.raises(
        ValueError, match=r"^a discount needs its percent to decide whether it needs approval$"
    ):
        needs_approval(Action.DISCOUNT, "cashier")


def test_a_quantity_prefix_is_split_at_the_first_star() -> None:
    assert split_quantity_prefix("2*4006381333931") == (2000, "4006381333931")
    assert split_quantity_prefix("2*AB*C") == (2000, "AB*C")
    assert split_quantity_prefix("4006381333931") == (None, "4006381333931")


def test_unit_is_kept_on_weighed_products() -> None:
    assert Product("K1", "Cheese", 1999, "7", Unit.KG).unit is Unit.KG


def test_return_quantities_at_their_bounds_with_exact_messages() -> None:
    original = _original(None)
    ret = Return(original)  # type: ignore[arg-type]
    ret.set_quantity(1, 2000)
    ret.set_quantity(1, 0)  # 0 takes the line off again
    assert ret.lines == ()
    ret.set_quantity(2, 1000)
    ret.set_quantity(2, 0)
    assert ret.lines == ()
    for bad in (-1, True, 1.0):
        with pytest.raises(ReturnError, match=r"^not a quantity: "):
            ret.set_quantity(1, bad)  # type: ignore[arg-type]
    with pytest.raises(ReturnError, match=r"^pieces are returned whole$"):
        ret.set_quantity(1, 1500)
    with pytest.raises(ReturnError, match=r"^only 2 of Coffee mug can still be returned$"):
        ret.set_quantity(1, 3000)
    ret.set_quantity(1, 1000)
    ret.set_quantity(2, 1000)
    ret.set_quantity(2, 0)  # only line 2 goes; line 1 stays
    assert [(line.line_no, line.quantity_milli) for line in ret.lines] == [(1, 1000)]


def test_keypad_quantities_name_what_was_wrong() -> None:
    with pytest.raises(QuantityError, match=r"^not a quantity: 'abc' "):
        parse_quantity("abc")
    with pytest.raises(QuantityError, match=r"^quantity must be above zero$"):
        parse_quantity("0")


def test_the_drawer_refuses_bools_and_counts_what_was_handed_over() -> None:
    with pytest.raises(ValueError, match="opening float must be a non-negative amount"):
        DrawerCash(opening_float=True)  # type: ignore[arg-type]
    drawer = DrawerCash(opening_float=0)
    handed = drawer.with_sale([Tender(TenderKind.CASH, 450, tendered=500), Tender(TenderKind.CASH, 100)])
    assert (handed.cash_tendered, handed.change_given, handed.expected) == (600, 50, 550)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("(01)04006381333931(30)0", "count '0' in (01)04006381333931(30)0 is not usable"),
        ("(01)04006381333931(3923)00299", "price 0.299 has more decimals than JPY"),
        ("(99)abc", "no product number (AI 01) in (99)abc"),
    ],
)
def test_gs1_scans_that_cannot_be_used_keep_what_was_scanned_and_say_why(text: str, reason: str) -> None:
    scan = route_scan(text, ScanConfig(currency="JPY") if "3923" in text else ScanConfig())
    assert scan == InvalidScan(text, reason)


def test_gs1_price_weight_and_count_make_a_variable_measure_line() -> None:
    price = route_scan("(01)04006381333931(3922)00299", ScanConfig())
    assert isinstance(price, ProductScan) and (price.price, price.variable_measure) == (299, True)
    weight = route_scan("(01)04006381333931(3103)000750", ScanConfig())
    assert isinstance(weight, ProductScan) and (weight.weight_milli, weight.variable_measure) == (750, True)
    one = route_scan("(01)04006381333931(30)1", ScanConfig())
    assert isinstance(one, ProductScan) and one.count == 1


def test_a_label_priced_in_another_currency_is_refused_not_read_as_ours() -> None:
    """GS1 AI 393n carries the ISO 4217 currency of the price: 756 is CHF, 978 EUR."""
    swiss = "(01)04006381333931(3932)75600299"
    assert route_scan(swiss, ScanConfig()) == InvalidScan(swiss, "price in CHF, this store takes EUR")
    euro = route_scan("(01)04006381333931(3932)97800299", ScanConfig())
    assert isinstance(euro, ProductScan) and (euro.price, euro.variable_measure) == (299, True)
