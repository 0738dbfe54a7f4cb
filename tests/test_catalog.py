"""The demo catalog and product search on the ledger."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from biip.gtin import Gtin
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_support import DEMO_CATALOG, new_terminal

from pos.services.catalog import import_catalog, product_by_barcode, search_products
from pos.services.terminal import Terminal


def demo_rows() -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(DEMO_CATALOG.read_text(encoding="utf-8"))))


def test_the_demo_catalog_is_a_believable_department_store() -> None:
    rows = demo_rows()
    assert 250 <= len(rows) <= 1000
    codes = [code for row in rows for code in row["barcodes"].split()]
    assert len(codes) == len(set(codes))
    for code in codes:
        Gtin.parse(code)  # raises on a bad check digit
    assert {row["tax_rate"] for row in rows} >= {"7", "19"}
    assert sum(1 for row in rows if row["unit"] == "kg") >= 10
    assert len({row["sku"] for row in rows}) == len(rows)
    assert all(len(row["name"]) > 3 for row in rows)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    terminal = new_terminal(tmp_path_factory.mktemp("demo"))
    import_catalog(terminal, DEMO_CATALOG)
    yield terminal
    terminal.ledger.close()


def test_every_demo_barcode_finds_its_product(demo: Terminal) -> None:
    for row in demo_rows():
        for code in row["barcodes"].split():
            found = product_by_barcode(demo, code)
            assert found is not None and found.sku == row["sku"]


def test_search_by_name_words_in_any_case_and_by_code_prefix(demo: Terminal) -> None:
    names = [p.name for p in search_products(demo, "COFFEE bea")]
    assert names == ["Coffee beans, house blend"]
    first = demo_rows()[0]
    code = first["barcodes"].split()[0]
    assert first["sku"] in [p.sku for p in search_products(demo, code[:9], limit=50)]
    assert [p.sku for p in search_products(demo, first["sku"])] == [first["sku"]]
    assert len(search_products(demo, "shirt", limit=3)) == 3


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=40))
def test_search_never_fails_on_odd_input(demo: Terminal, text: str) -> None:
    found = search_products(demo, text, limit=5)
    assert len(found) <= 5


def test_search_with_fts_syntax_is_taken_literally(demo: Terminal) -> None:
    for text in ['"', "NEAR(a b)", "name:coffee", "*", "a OR b", "-", "coffee AND"]:
        assert isinstance(search_products(demo, text), list)


def test_reimporting_updates_prices_and_replaces_barcodes(tmp_path: Path) -> None:
    terminal = new_terminal(tmp_path)
    try:
        first = tmp_path / "a.csv"
        first.write_text("sku,name,price,tax_rate,barcodes,unit\nA,Alpha,1.00,7,4006381333931,piece\n")
        import_catalog(terminal, first)
        second = tmp_path / "b.csv"
        second.write_text(
            "sku,name,price,tax_rate,barcodes,unit,colour\nA,Alpha new,2.50,19,96385074,piece,red\n"
        )
        report = import_catalog(terminal, second)
        assert (report.products_before, report.products_after) == (1, 1)
        assert product_by_barcode(terminal, "4006381333931") is None
        found = product_by_barcode(terminal, "96385074")
        assert found is not None and (found.name, found.price, found.tax_rate) == ("Alpha new", 250, "19")
        assert [p.sku for p in search_products(terminal, "new")] == ["A"]
        assert search_products(terminal, "alpha") and not search_products(terminal, "beta")
    finally:
        terminal.ledger.close()
