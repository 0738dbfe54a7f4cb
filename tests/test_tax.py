"""Tax: inclusive and exclusive modes, one rounding per rate, rows that always add up."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos.domain.tax import TaxMode, TaxRow, normalize_rate, summary_total, tax_row, tax_summary

RATES = ["0", "5", "7", "8.875", "9", "13", "19", "20", "21", "7.5"]


def test_inclusive_rows_split_the_shelf_price() -> None:
    # 11.90 gross at 19% is 10.00 net + 1.90 tax.
    assert tax_row("19", 1190, TaxMode.INCLUSIVE) == TaxRow(rate="19", net=1000, tax=190, gross=1190)


def test_exclusive_rows_add_the_tax() -> None:
    # US: 10.00 at 8.875% = 0.8875 -> 0.89.
    assert tax_row("8.875", 1000, TaxMode.EXCLUSIVE) == TaxRow(rate="8.875", net=1000, tax=89, gross=1089)


def test_amounts_are_summed_per_rate_before_rounding_once() -> None:
    # Three lines of 0.10 at 19% inclusive: rounding each line's net (0.084 -> 0.08) would give
    # 0.24 net; summing first gives 0.30 / 1.19 = 0.2521 -> 0.25.
    rows = tax_summary([("19", 10), ("19", 10), ("19.0", 10)], TaxMode.INCLUSIVE)
    assert rows == [TaxRow(rate="19", net=25, tax=5, gross=30)]


def test_rows_are_ordered_by_rate_and_merge_spellings() -> None:
    rows = tax_summary([("19", 100), ("7", 100), ("0", 5), ("7.0", 1), ("8.875", 1)], TaxMode.EXCLUSIVE)
    assert [r.rate for r in rows] == ["0", "7", "8.875", "19"]
    assert rows[1].net == 101


@pytest.mark.parametrize(
    ("given_rate", "text"),
    [("19", "19"), ("19.00", "19"), ("7,5", "7.5"), (Decimal("8.875"), "8.875"), (0, "0"), ("20", "20")],
)
def test_rates_have_one_canonical_text(given_rate: str | Decimal | int, text: str) -> None:
    assert normalize_rate(given_rate) == text


@pytest.mark.parametrize("bad", ["-1", "100", "1.2345", "abc", "NaN", "", "Infinity"])
def test_bad_rates_are_refused_naming_the_input(bad: str) -> None:
    with pytest.raises(ValueError, match="not a tax rate") as info:
        normalize_rate(bad)
    assert repr(bad) in str(info.value)


@given(
    st.lists(st.tuples(st.sampled_from(RATES), st.integers(-(10**7), 10**8)), min_size=1, max_size=30),
    st.sampled_from(list(TaxMode)),
)
def test_rows_always_add_up(lines: list[tuple[str, int]], mode: TaxMode) -> None:
    rows = tax_summary(lines, mode)
    for row in rows:
        assert row.net + row.tax == row.gross
    if mode is TaxMode.INCLUSIVE:
        assert summary_total(rows) == sum(amount for _, amount in lines)
    else:
        assert sum(r.net for r in rows) == sum(amount for _, amount in lines)
    assert summary_total(rows) == sum(r.gross for r in rows)
    # Tax is within half a minor unit of the exact figure, per rate.
    for row in rows:
        rate = Decimal(row.rate) / 100
        exact = row.gross * rate / (1 + rate) if mode is TaxMode.INCLUSIVE else row.net * rate
        assert abs(row.tax - exact) <= Decimal("0.5")


@pytest.mark.parametrize(
    ("rate", "amount", "mode", "tax"),
    [
        ("19", 150, TaxMode.EXCLUSIVE, 29),  # 28.5 exactly: half-up, not half-to-even (28)
        ("19", 50, TaxMode.EXCLUSIVE, 10),  # 9.5 -> 10 (half-to-even would also say 10)
        ("7", 50, TaxMode.EXCLUSIVE, 4),  # 3.5 -> 4
        ("7", 150, TaxMode.EXCLUSIVE, 11),  # 10.5 -> 11 (half-to-even: 10)
        ("7", -150, TaxMode.EXCLUSIVE, -11),  # a return mirrors the sale: half away from zero
    ],
)
def test_exact_halves_round_half_up(rate: str, amount: int, mode: TaxMode, tax: int) -> None:
    row = tax_row(rate, amount, mode)
    assert row.tax == tax and row.net + row.tax == row.gross


@given(st.sampled_from(RATES), st.integers(-(10**7), 10**8), st.sampled_from(list(TaxMode)))
def test_tax_is_the_exact_figure_rounded_half_up(rate: str, amount: int, mode: TaxMode) -> None:
    """Not merely within half a cent: exactly the commercial rounding of the exact tax."""
    from fractions import Fraction

    r = Fraction(Decimal(rate)) / 100
    row = tax_row(rate, amount, mode)
    if mode is TaxMode.INCLUSIVE:
        exact_net = Fraction(amount) / (1 + r)
        sign = -1 if exact_net < 0 else 1
        net = sign * int(abs(exact_net) + Fraction(1, 2))
        assert row.net == net and row.tax == amount - net
    else:
        exact_tax = Fraction(amount) * r
        sign = -1 if exact_tax < 0 else 1
        assert row.tax == sign * int(abs(exact_tax) + Fraction(1, 2))
