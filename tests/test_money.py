"""Money: integer minor units, currency checks, half-up multiplication, parsing and formatting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos.domain.money import (
    CurrencyMismatch,
    Money,
    format_money,
    minor_digits,
    parse_money,
    round_half_up,
)


def test_adding_and_subtracting_keep_the_currency() -> None:
    assert Money(1299, "EUR") + Money(1, "EUR") == Money(1300, "EUR")
    assert Money(1299, "EUR") - Money(1300, "EUR") == Money(-1, "EUR")
    assert -Money(5, "EUR") == Money(-5, "EUR")


def test_mixing_currencies_is_refused() -> None:
    with pytest.raises(CurrencyMismatch, match="EUR with USD"):
        _ = Money(1, "EUR") + Money(1, "USD")
    with pytest.raises(CurrencyMismatch):
        _ = Money(1, "EUR") < Money(2, "CHF")


def test_comparisons() -> None:
    assert Money(1, "EUR") < Money(2, "EUR") <= Money(2, "EUR")
    assert Money(3, "EUR") > Money(2, "EUR") >= Money(2, "EUR")
    assert not Money.zero("EUR")


def test_unknown_currency_and_float_minor_units_are_refused() -> None:
    with pytest.raises(ValueError, match="'EURO'"):
        Money(1, "EURO")
    with pytest.raises(TypeError):
        Money(1.5, "EUR")  # type: ignore[arg-type]


def test_minor_digits_come_from_babel() -> None:
    assert minor_digits("EUR") == 2
    assert minor_digits("JPY") == 0
    assert minor_digits("BHD") == 3


@pytest.mark.parametrize(
    ("minor", "milli", "expected"),
    [(129, 1000, 129), (1999, 250, 500), (1999, 251, 502), (10, 50, 1), (10, 49, 0), (-10, 50, -1)],
)
def test_times_milli_rounds_half_up(minor: int, milli: int, expected: int) -> None:
    # 19.99 x 0.250 = 4.9975 -> 5.00; 0.10 x 0.050 = 0.005 -> 0.01; refunds round like sales.
    assert Money(minor, "EUR").times_milli(milli) == Money(expected, "EUR")


@given(st.integers(-(10**12), 10**12), st.integers(1, 10**6))
def test_round_half_up_is_within_half_and_symmetric(n: int, d: int) -> None:
    r = round_half_up(n, d)
    assert abs(2 * (r * d - n)) <= d
    assert round_half_up(-n, d) == -r


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("12.99", "EUR", 1299),
        ("12,99", "EUR", 1299),
        (" 12 ", "EUR", 1200),
        ("0.5", "EUR", 50),
        ("12.", "EUR", 1200),
        ("1299", "JPY", 1299),
        ("1.234", "BHD", 1234),
    ],
)
def test_parse_major_units(text: str, currency: str, minor: int) -> None:
    assert parse_money(text, currency) == minor
    assert Money.parse(text, currency) == Money(minor, currency)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("12.999", "2 decimal places"),
        ("-1", "without a sign"),
        ("abc", "expected digits"),
        ("", "expected digits"),
        ("1.2.3", "expected digits"),
        ("1,234.56", "expected digits"),
        ("€12", "expected digits"),
        ("12e3", "expected digits"),
        ("٣", "expected digits"),
        ("99999999999999", "too large"),
    ],
)
def test_bad_amounts_are_refused_naming_the_input(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why) as info:
        parse_money(text, "EUR")
    assert repr(text) in str(info.value)


def test_yen_has_no_decimals() -> None:
    with pytest.raises(ValueError, match="JPY has 0 decimal places"):
        parse_money("12.5", "JPY")


@given(st.text(max_size=30))
def test_parse_money_raises_only_value_error(text: str) -> None:
    try:
        minor = parse_money(text, "EUR")
    except ValueError as exc:
        assert str(exc)
    else:
        assert minor >= 0


@given(st.integers(0, 10**10))
def test_format_then_parse_round_trips(minor: int) -> None:
    text = format_money(minor, "EUR", "en").replace("€", "").replace(",", "")
    assert parse_money(text, "EUR") == minor


def test_formatting_follows_the_locale() -> None:
    assert format_money(1299, "EUR", "en") == "€12.99"
    assert format_money(1299, "EUR", "de") == "12,99\xa0€"
    assert format_money(1299, "CNY", "zh_CN") == "¥12.99"
    assert format_money(1299, "CNY", "en") == "CN¥12.99"
    assert Money(1299, "JPY").format("en") == "¥1,299"
    assert format_money(-1299, "EUR", "de").startswith("-12,99")


def test_unknown_locale_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="xx_YY"):
        format_money(1, "EUR", "xx_YY")
