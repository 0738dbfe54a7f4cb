# ruff: noqa: F811  (pytest fixtures imported from central_fixtures are parameters by name)
"""Catalog and stock files as spreadsheets save them: semicolons (a German Excel or LibreOffice),
a UTF-8 byte-order mark, decimal commas where the store's locale writes them -- read, or refused
saying exactly what to change. At the till (`pos catalog import`) and at head office."""

from __future__ import annotations

from pathlib import Path

import pytest
from central_fixtures import add_store, central_db  # noqa: F401  (fixtures are used by name)
from click.testing import CliRunner
from ledger_support import new_terminal
from sqlalchemy import select

from pos.cli import cli as pos_cli
from pos.ledger import catalog as catalog_ledger
from pos.ledger import state
from sync.server import schema
from sync.server.cli import main as central_cli
from sync.server.db import Database

GERMAN_EXCEL = (
    "\ufeffsku;name;price;tax_rate;barcodes;unit\r\n"
    "K1;Kaffee, gemahlen;12,99;7;4006381333931;piece\r\n"
    'K2;"Tee; schwarz";3,5;19,0;;piece\r\n'
    "K3;Käse;1,234;7;;kg\r\n"
)
COMMA_FILE = "sku,name,price,tax_rate,barcodes,unit\nK1,Coffee,12.99,7,4006381333931,piece\n"


def _till(tmp_path: Path, locale: str) -> Path:
    folder = tmp_path / f"till-{locale}"
    terminal = new_terminal(folder)
    terminal.ledger.transact(lambda db: state.put_settings(db, {"locale": locale, "currency": "EUR"}))
    terminal.ledger.close()
    return folder


def _import(folder: Path, text: str, name: str = "katalog.csv") -> tuple[int, str]:
    file = folder.parent / name
    file.write_text(text, encoding="utf-8", newline="")
    result = CliRunner().invoke(pos_cli, ["--data-dir", str(folder), "catalog", "import", str(file)])
    return result.exit_code, result.output


def _prices(folder: Path) -> dict[str, tuple[int, str]]:
    terminal = new_terminal(folder)
    try:
        db = terminal.ledger.read()
        return {
            sku: (price, rate)
            for sku, price, rate in db.execute("SELECT sku, price, tax_rate FROM products ORDER BY sku")
        }
    finally:
        terminal.ledger.close()


def test_the_till_reads_a_german_spreadsheet_with_semicolons_bom_and_decimal_commas(tmp_path: Path) -> None:
    folder = _till(tmp_path, "de_DE")
    code, output = _import(folder, GERMAN_EXCEL)
    # K3's price 1,234 has three decimals: refused naming the row; nothing imported.
    assert code == 1 and "line 4" in output and "price" in output, output
    assert _prices(folder) == {}
    code, output = _import(folder, GERMAN_EXCEL.replace("1,234", "1,23"))
    assert code == 0, output
    prices = _prices(folder)
    assert {sku: price for sku, (price, _rate) in prices.items()} == {"K1": 1299, "K2": 350, "K3": 123}
    assert prices["K2"][1] in ("19", "19.0")
    terminal = new_terminal(folder)
    try:
        product = catalog_ledger.by_sku(terminal.ledger.read(), "K2")
    finally:
        terminal.ledger.close()
    assert product is not None and product.name == "Tee; schwarz"


def test_the_till_refuses_a_decimal_comma_its_locale_does_not_write_saying_what_to_change(
    tmp_path: Path,
) -> None:
    folder = _till(tmp_path, "en_GB")
    code, output = _import(folder, GERMAN_EXCEL.replace("1,234", "1,23"))
    assert code == 1
    assert "price '12,99' has a decimal comma, but the store's locale (en_GB) writes 12.99" in output
    assert "use a dot in the price column" in output
    code, output = _import(folder, "sku;name;price;tax_rate;barcodes;unit\nK1;Coffee;12.99;7,5;;piece\n")
    assert code == 1 and "tax_rate '7,5' has a decimal comma" in output, output
    assert _prices(folder) == {}
    code, output = _import(folder, COMMA_FILE.replace("12.99", '"1,299.00"'))
    assert code == 1 and "thousands separator" in output and "like 1234.50" in output, output
    code, output = _import(folder, COMMA_FILE)
    assert code == 0, output


def test_the_till_names_the_separator_it_read_when_the_header_is_wrong(tmp_path: Path) -> None:
    folder = _till(tmp_path, "de_DE")
    code, output = _import(folder, "Artikel;Bezeichnung;Preis\nK1;Kaffee;12,99\n")
    assert code == 1
    assert "the header lacks sku, name, price, tax_rate, barcodes, unit" in output
    assert (
        "separated by commas, semicolons or tabs; read with semicolons: artikel, bezeichnung, preis" in output
    )
    file = tmp_path / "latin1.csv"
    file.write_bytes(COMMA_FILE.replace("Coffee", "Café").encode("cp1252"))
    result = CliRunner().invoke(pos_cli, ["--data-dir", str(folder), "catalog", "import", str(file)])
    assert result.exit_code == 1 and "not UTF-8 text" in result.output and "CSV UTF-8" in result.output


def test_tabs_are_read_too(tmp_path: Path) -> None:
    folder = _till(tmp_path, "en_US")
    code, output = _import(folder, COMMA_FILE.replace(",", "\t"))
    assert code == 0, output
    assert _prices(folder) == {"K1": (1299, "7")}


# --- head office ----------------------------------------------------------------------------------------


def _central(db: Database, *args: str) -> tuple[int, str]:
    url = db.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(central_cli, [*args, "--database", url])
    return result.exit_code, result.output


def _products(db: Database) -> dict[str, tuple[int, str]]:
    with db.begin() as conn:
        rows = conn.execute(
            select(schema.products.c.sku, schema.products.c.price, schema.products.c.tax_rate)
        )
        return {sku: (price, rate) for sku, price, rate in rows}


def test_head_office_reads_a_german_spreadsheet_when_its_stores_write_decimal_commas(
    central_db: Database, tmp_path: Path
) -> None:
    add_store(central_db, "S01", locale="de_DE")
    add_store(central_db, "S02", locale="de_AT")
    file = tmp_path / "katalog.csv"
    file.write_text(GERMAN_EXCEL.replace("1,234", "1,23"), encoding="utf-8", newline="")
    code, output = _central(central_db, "catalog", "import", str(file))
    assert code == 0, output
    assert _products(central_db) == {"K1": (1299, "7"), "K2": (350, "19"), "K3": (123, "7")}
    stock = tmp_path / "bestand.csv"
    stock.write_text("\ufeffsku;on_hand\r\nK3;2,5\r\nK1;12\r\n", encoding="utf-8", newline="")
    code, output = _central(central_db, "stock", "import", "--store", "S01", str(stock))
    assert code == 0, output
    with central_db.begin() as conn:
        on_hand = dict(conn.execute(select(schema.stock.c.sku, schema.stock.c.on_hand_milli)).all())
    assert on_hand == {"K3": 2500, "K1": 12000}


def test_head_office_refuses_decimal_commas_when_a_store_writes_dots(
    central_db: Database, tmp_path: Path
) -> None:
    add_store(central_db, "S01", locale="de_DE")
    add_store(central_db, "S02", locale="en_GB")
    file = tmp_path / "katalog.csv"
    file.write_text(GERMAN_EXCEL.replace("1,234", "1,23"), encoding="utf-8", newline="")
    code, output = _central(central_db, "catalog", "import", str(file))
    assert code == 1
    assert (
        "line 2: price '12,99' has a decimal comma, but the store's locale (de_DE/en_GB) writes 12.99"
        in output
    )
    assert _products(central_db) == {}
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("Artikel;Preis\nK1;1\n", encoding="utf-8")
    code, output = _central(central_db, "catalog", "import", str(wrong))
    assert code == 1 and "read with semicolons: Artikel, Preis" in output, output


@pytest.mark.parametrize("text", ["12,99", "1.234,50", "1,234.50", "1 234,50"])
def test_decimal_text_never_reads_a_grouped_number(text: str) -> None:
    from sync.csvfile import decimal_text

    if text == "12,99":
        assert decimal_text(text, comma=True, column="price", locale="de_DE") == "12.99"
        return
    with pytest.raises(ValueError, match="thousands separator"):
        decimal_text(text, comma=True, column="price", locale="de_DE")
