"""The set-based catalog apply normalises barcodes in SQL; it must agree with the domain's rule."""

from __future__ import annotations

import sqlite3

from biip.checksums import gs1_standard_check_digit
from hypothesis import given
from hypothesis import strategies as st

from pos.domain.scanning import normalize_gtin
from pos.services.syncing import _NORMAL_GTIN_SQL


@st.composite
def gtins(draw: st.DrawFn) -> str:
    length = draw(st.sampled_from([8, 12, 13, 14]))
    body = draw(st.text(alphabet="0123456789", min_size=length - 1, max_size=length - 1))
    return body + str(gs1_standard_check_digit(body))


@given(gtins())
def test_sql_normal_form_equals_normalize_gtin(code: str) -> None:
    conn = sqlite3.connect(":memory:")
    try:
        (in_sql,) = conn.execute(f"SELECT {_NORMAL_GTIN_SQL.format(code=':code')}", {"code": code}).fetchone()
    finally:
        conn.close()
    try:
        expected = normalize_gtin(code)
    except ValueError:
        return  # codes head office's import refuses (e.g. restricted ranges) never arrive
    assert in_sql == expected
