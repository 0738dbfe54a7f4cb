"""Scanner routing: product barcodes, variable-measure codes, GS1 element strings, member and
claim codes, PLUs, and a clear reason for everything else. Also the "N*" quantity prefix."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from biip.checksums import gs1_price_weight_check_digit, gs1_standard_check_digit
from hypothesis import given, settings
from hypothesis import strategies as st

from pos.domain.keypad import QuantityError, parse_quantity, split_quantity_prefix
from pos.domain.sale import Product, Unit
from pos.domain.scanning import (
    ClaimScan,
    InvalidScan,
    LookupScan,
    MemberScan,
    MemberShortScan,
    ProductScan,
    ScanConfig,
    line_for_scan,
    normalize_gtin,
    route_scan,
)
from sync.codes import (
    claim_url,
    make_claim_code,
    make_member_code,
    new_claim_key,
    new_short_member_code,
    new_signing_key,
)

PLAIN = ScanConfig(currency="EUR")
GERMANY = ScanConfig(currency="EUR", rcn_region="de")


def with_check_digit(payload: str) -> str:
    return payload + str(gs1_standard_check_digit(payload))


def german_rcn(prefix: str, item: str, measure: str) -> str:
    """A German variable-measure EAN-13: PP IIII C VVVVV + check digit (biip computes both)."""
    return with_check_digit(prefix + item + str(gs1_price_weight_check_digit(measure)) + measure)


def test_an_ean13_routes_as_product() -> None:
    assert route_scan("4006381333931", PLAIN) == ProductScan("4006381333931", "4006381333931")


def test_a_wrong_check_digit_is_named() -> None:
    assert route_scan("4006381333932", PLAIN) == InvalidScan(
        "4006381333932", "check digit wrong in 4006381333932"
    )


@pytest.mark.parametrize(
    ("text", "gtin"),
    [
        ("036000291452", "0036000291452"),  # UPC-A / GTIN-12
        ("96385074", "0000096385074"),  # GTIN-8
        ("04006381333931", "4006381333931"),  # GTIN-14 with indicator 0
        ("14006381333938", "14006381333938"),  # a case of them: stays GTIN-14
        (" 4006381333931\n", "4006381333931"),
        ("]E04006381333931", "4006381333931"),  # with the scanner's symbology identifier
    ],
)
def test_gtins_are_normalised_to_gtin13_where_they_fit(text: str, gtin: str) -> None:
    scan = route_scan(text, PLAIN)
    assert isinstance(scan, ProductScan)
    assert scan.gtin == gtin
    assert normalize_gtin(text.strip().removeprefix("]E0")) == gtin


def test_normalize_gtin_refuses_with_the_reason() -> None:
    with pytest.raises(ValueError, match="check digit wrong in 4006381333932"):
        normalize_gtin("4006381333932")
    with pytest.raises(ValueError, match="8, 12, 13 or 14 digits"):
        normalize_gtin("12345")


gtin_payloads = st.one_of(
    st.text("0123456789", min_size=7, max_size=7),
    st.text("0123456789", min_size=11, max_size=11),
    # GTIN-13 outside the 02/2x restricted ranges, GTIN-14 too.
    st.tuples(st.sampled_from("13456789"), st.text("0123456789", min_size=11, max_size=11)).map("".join),
    st.tuples(
        st.sampled_from("012345678"),
        st.sampled_from("13456789"),
        st.text("0123456789", min_size=11, max_size=11),
    ).map("".join),
)


@settings(deadline=None)  # no timing in tests: the machine is shared
@given(gtin_payloads, st.data())
def test_check_digits_round_trip(payload: str, data: st.DataObject) -> None:
    code = with_check_digit(payload)
    scan = route_scan(code, PLAIN)
    assert isinstance(scan, ProductScan), scan
    assert scan.gtin == normalize_gtin(code)
    assert len(scan.gtin) in (13, 14)
    # Change any one digit: the check digit no longer fits, and the scan is refused as such.
    position = data.draw(st.integers(0, len(code) - 1))
    digit = data.draw(st.sampled_from([d for d in "0123456789" if d != code[position]]))
    broken = code[:position] + digit + code[position + 1 :]
    refused = route_scan(broken, PLAIN)
    assert refused == InvalidScan(broken, f"check digit wrong in {broken}")


def test_german_price_code() -> None:
    code = german_rcn("22", "1234", "00299")
    scan = route_scan(code, GERMANY)
    assert isinstance(scan, ProductScan)
    assert (scan.price, scan.weight_milli, scan.variable_measure) == (299, None, True)
    # Looked up by the code with the price zeroed, whatever the price on the label.
    assert scan.gtin == route_scan(german_rcn("22", "1234", "01999"), GERMANY).gtin  # type: ignore[union-attr]


def test_german_weight_code() -> None:
    scan = route_scan(german_rcn("28", "1234", "01250"), GERMANY)
    assert isinstance(scan, ProductScan)
    assert (scan.weight_milli, scan.price) == (1250, None)


def test_a_wrong_measure_check_digit_is_named() -> None:
    good = german_rcn("22", "1234", "00299")
    wrong = "9" if good[6] != "9" else "8"
    bad = with_check_digit(good[:6] + wrong + good[7:12])
    scan = route_scan(bad, GERMANY)
    assert scan == InvalidScan(bad, f"price/weight check digit wrong in {bad}")


def test_without_a_region_rcns_are_plain_product_numbers() -> None:
    code = german_rcn("22", "1234", "00299")
    assert route_scan(code, PLAIN) == ProductScan(code, code)
    limited = ScanConfig(currency="EUR", rcn_region="de", rcn_prefixes=frozenset({"28"}))
    assert route_scan(code, limited) == ProductScan(code, code)


def test_store_config_is_checked() -> None:
    with pytest.raises(ValueError, match="unknown RCN region 'xx'"):
        ScanConfig(rcn_region="xx")
    with pytest.raises(ValueError, match="two digits"):
        ScanConfig(rcn_prefixes=frozenset({"5"}))
    with pytest.raises(ValueError, match="currency"):
        ScanConfig(currency="EURO")


@pytest.mark.parametrize(
    "text",
    [
        "(01)04006381333931(3103)000750",
        "0104006381333931\x1d3103000750",
        "]C10104006381333931\x1d3103000750",
        "\x1d0104006381333931\x1d3103000750",
        "01040063813339313103000750",
    ],
)
def test_gs1_element_strings_give_gtin_and_weight(text: str) -> None:
    scan = route_scan(text, PLAIN)
    assert isinstance(scan, ProductScan)
    assert (scan.gtin, scan.weight_milli) == ("4006381333931", 750)


def test_gs1_digital_link_qr() -> None:
    scan = route_scan("https://id.gs1.org/01/04006381333931/10/ABC?3103=000750", PLAIN)
    assert isinstance(scan, ProductScan)
    assert (scan.gtin, scan.weight_milli) == ("4006381333931", 750)
    bad = route_scan("https://id.gs1.org/01/04006381333932", PLAIN)
    assert isinstance(bad, InvalidScan) and "04006381333932" in bad.reason


def test_gs1_price_and_count() -> None:
    scan = route_scan("(01)04006381333931(3922)00299", PLAIN)
    assert isinstance(scan, ProductScan) and scan.price == 299
    scan = route_scan("(01)04006381333931(30)12", PLAIN)
    assert isinstance(scan, ProductScan) and scan.count == 12


def test_member_and_claim_codes() -> None:
    key = new_signing_key()
    member = make_member_code(member_id=42, signing_key=key, now=datetime(2026, 11, 25, tzinfo=UTC))
    assert route_scan(member, PLAIN) == MemberScan(member, member)
    code = make_claim_code(terminal_id=3, claim_key=new_claim_key(), today=date(2026, 11, 25))
    url = claim_url("https://shop.example.com", code)
    assert route_scan(url, PLAIN) == ClaimScan(url, code.text)
    assert route_scan(code.text.lower(), PLAIN) == ClaimScan(code.text.lower(), code.text)


def test_a_typed_member_short_code_is_routed_to_head_office() -> None:
    short = new_short_member_code()
    assert route_scan(short, PLAIN) == MemberShortScan(short, short)
    typo = short[:-1] + str((int(short[-1]) + 1) % 10)
    assert isinstance(route_scan(typo, PLAIN), InvalidScan)


def test_short_numbers_are_plu_lookups() -> None:
    assert route_scan("42", PLAIN) == LookupScan("42", "42")
    assert route_scan("123456", PLAIN) == LookupScan("123456", "123456")
    assert isinstance(route_scan("1234567", PLAIN), InvalidScan)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "nothing was scanned"),
        ("  \t", "nothing was scanned"),
        ("hello", "not a barcode we know: hello"),
        ("1234567", "not a barcode we know: 7 digits"),
        ("(01)04006381333932", "check digit wrong in 04006381333932"),
        ("(01)04006381333931(3103)000000", "is not usable"),
        ("(99)abc", "no product number"),
        ("(01)123", "not a barcode we know"),
        ("SLM" + "A" * 20, "not a barcode we know"),
        ("x" * 1000, "far too long"),
    ],
)
def test_bad_scans_get_a_reason(text: str, reason: str) -> None:
    scan = route_scan(text, GERMANY)
    assert isinstance(scan, InvalidScan)
    assert reason in scan.reason


@given(st.text(max_size=80))
def test_route_scan_never_raises(text: str) -> None:
    scan = route_scan(text, GERMANY)
    if isinstance(scan, InvalidScan):
        assert scan.reason


@given(st.text("0123456789()\x1d]CeQ", max_size=60))
def test_route_scan_never_raises_on_barcode_like_noise(text: str) -> None:
    scan = route_scan(text, GERMANY)
    assert not isinstance(scan, InvalidScan) or scan.reason


def test_line_for_scan_uses_the_label() -> None:
    cheese = Product("K1", "Cheese", 1999, "7", Unit.KG)
    apple = Product("A1", "Apple", 129, "7")
    weighed = ProductScan("x", "2812340000002", weight_milli=1250, variable_measure=True)
    assert line_for_scan(cheese, weighed) == (cheese, 1250)
    with pytest.raises(ValueError, match="sold by the piece"):
        line_for_scan(apple, weighed)
    priced = ProductScan("x", "2212340000000", price=299, variable_measure=True)
    product, milli = line_for_scan(cheese, priced)
    assert (product.unit_price, product.unit, milli) == (299, Unit.PIECE, 1000)
    assert line_for_scan(apple, ProductScan("x", "1", count=6)) == (apple, 6000)
    assert line_for_scan(apple, ProductScan("x", "1")) == (apple, 1000)


@pytest.mark.parametrize(
    ("text", "milli"),
    [
        ("3*", 3000),
        ("3", 3000),
        ("0.250*", 250),
        ("0,250*", 250),
        ("1.5*", 1500),
        ("9999*", 9_999_000),
        (" 2 * ", 2000),
    ],
)
def test_quantity_prefix(text: str, milli: int) -> None:
    assert parse_quantity(text) == milli


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("0*", "above zero"),
        ("0.000*", "above zero"),
        ("10000*", "too large"),
        ("1.2345*", "three decimals"),
        ("-1*", "not a quantity"),
        ("abc*", "not a quantity"),
        ("*", "not a quantity"),
        ("", "not a quantity"),
    ],
)
def test_bad_quantity_prefix_is_refused_with_the_reason(text: str, why: str) -> None:
    with pytest.raises(QuantityError, match=why):
        parse_quantity(text)


def test_split_quantity_prefix() -> None:
    assert split_quantity_prefix("3*4006381333931") == (3000, "4006381333931")
    assert split_quantity_prefix("4006381333931") == (None, "4006381333931")
    with pytest.raises(QuantityError):
        split_quantity_prefix("x*4006381333931")


@given(st.text(max_size=20))
def test_parse_quantity_raises_only_quantity_error(text: str) -> None:
    try:
        milli = parse_quantity(text)
    except QuantityError as exc:
        assert str(exc)
    else:
        assert 0 < milli <= 9_999_000


@given(st.text(max_size=40))
def test_route_scan_never_raises_on_odd_links(tail: str) -> None:
    scan = route_scan("https://id.gs1.org/01/" + tail, GERMANY)
    assert not isinstance(scan, InvalidScan) or scan.reason
