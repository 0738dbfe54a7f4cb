"""The catalog: importing the CSV file and searching products.

CSV contract: a header row with at least ``sku,name,price,tax_rate,barcodes,unit`` (other columns
are ignored), fields separated by commas, semicolons or tabs (found from the header, as spreadsheets
in many locales save semicolons), UTF-8 with or without a byte-order mark; ``price`` in major units
with a dot (``12.99``), or a decimal comma (``12,99``) where the store's locale writes one;
``tax_rate`` in percent (``19``, ``7.5``); ``barcodes`` space-separated GTIN-8/12/13/14 with valid check digits
(may be empty); ``unit`` ``piece`` or ``kg``. A file with any bad row is refused whole: nothing is
imported and every bad row's line number and reason is reported.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from pos.domain.money import minor_digits
from pos.domain.scanning import normalize_gtin
from pos.domain.tax import normalize_rate
from pos.ledger import catalog, journal
from pos.ledger.catalog import CatalogRefused, Product, ProductRow
from pos.services.terminal import ServiceError, Terminal
from sync.csvfile import SAVE_AS_UTF8, decimal_text, delimiter_name, detect_delimiter, uses_decimal_comma
from sync.protocol import EventType

REQUIRED_COLUMNS = ("sku", "name", "price", "tax_rate", "barcodes", "unit")
MAX_SKU = 64
MAX_NAME = 200
MAX_PRICE_MINOR = 10**10
_RATE = re.compile(r"[0-9]{1,2}(\.[0-9]{1,3})?")

Progress = Callable[[int], None]


@dataclass(frozen=True)
class ImportReport:
    rows: int
    products_before: int
    products_after: int
    sha256: str


class CatalogFileError(ServiceError):
    """The file cannot be read as a catalog at all (missing, not UTF-8, bad header)."""


@dataclass(frozen=True)
class _Numbers:
    """How numbers are written in this file: the price pattern, decimals, and the locale's comma."""

    price_re: re.Pattern[str]
    digits: int
    comma: bool
    locale: str


def _parse_row(values: dict[str, str], line: int, numbers: _Numbers) -> ProductRow | str:
    sku = (values.get("sku") or "").strip()
    name = (values.get("name") or "").strip()
    digits, price_re = numbers.digits, numbers.price_re
    try:
        price_text = decimal_text(
            values.get("price") or "", comma=numbers.comma, column="price", locale=numbers.locale
        )
        rate_text = decimal_text(
            values.get("tax_rate") or "", comma=numbers.comma, column="tax_rate", locale=numbers.locale
        )
    except ValueError as exc:
        return str(exc)
    unit = (values.get("unit") or "").strip()
    codes_text = values.get("barcodes") or ""
    if not sku:
        return "sku is empty"
    if len(sku) > MAX_SKU or any(ch.isspace() or not ch.isprintable() for ch in sku):
        return f"sku {sku[:40]!r} is not usable (up to {MAX_SKU} characters, no spaces)"
    if not name:
        return "name is empty"
    if len(name) > MAX_NAME or not name.isprintable():
        return f"name is too long or has control characters (up to {MAX_NAME} characters)"
    if not price_re.fullmatch(price_text):
        return f"price {price_text[:20]!r} is not an amount like 12.99 (dot, at most {digits} decimals)"
    whole, _, frac = price_text.partition(".")
    price = int(whole) * 10**digits + int(frac.ljust(digits, "0") or "0")
    if price > MAX_PRICE_MINOR:
        return f"price {price_text} is too large"
    if not _RATE.fullmatch(rate_text):
        return f"tax_rate {rate_text[:20]!r} is not a percent like 19 or 7.5"
    try:
        rate = normalize_rate(rate_text)
    except ValueError as exc:
        return str(exc)
    if unit not in ("piece", "kg"):
        return f"unit {unit[:20]!r} must be piece or kg"
    codes: list[str] = []
    for raw in codes_text.split():
        try:
            codes.append(normalize_gtin(raw))
        except ValueError as exc:
            return f"barcode {raw[:30]!r}: {exc}"
    if len(set(codes)) != len(codes):
        return "the same barcode is listed twice"
    return ProductRow(
        line=line, sku=sku, name=name, price=price, tax_rate=rate, unit=unit, barcodes=tuple(codes)
    )


def read_catalog_rows(
    path: Path,
    currency: str,
    problems: list[tuple[int, str]],
    on_progress: Progress | None = None,
    *,
    locale: str = "en",
) -> Iterator[ProductRow]:
    """Valid rows of the CSV at ``path``, streamed; bad rows go to ``problems`` as (line, reason).

    ``locale`` is the store's: where it writes a decimal comma, ``12,99`` is read as 12.99.
    Raises :class:`CatalogFileError` when the file as a whole cannot be read.
    """
    digits = minor_digits(currency)
    price_re = re.compile(r"[0-9]{1,12}" + (rf"(\.[0-9]{{1,{digits}}})?" if digits else ""))
    numbers = _Numbers(price_re, digits, uses_decimal_comma(locale), locale)
    try:
        handle = path.open("r", encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise CatalogFileError(f"Cannot open {path}: {exc.strerror or exc}.") from exc
    with handle:
        consumed = 0

        def lines() -> Iterator[str]:
            nonlocal consumed
            for text in handle:
                consumed += len(text)
                yield text

        line = 1
        try:
            first = next(lines(), None)
            delimiter = detect_delimiter(first or "", REQUIRED_COLUMNS)
            reader = csv.reader(
                itertools.chain([first] if first is not None else [], lines()),
                strict=True,
                delimiter=delimiter,
            )
            header = next(reader, None)
            if header is None:
                raise CatalogFileError(
                    f"{path} is empty: expected a header row with {', '.join(REQUIRED_COLUMNS)}."
                )
            names = [h.strip().lower() for h in header]
            missing = [c for c in REQUIRED_COLUMNS if c not in names]
            if missing:
                raise CatalogFileError(
                    f"{path}: the header lacks {', '.join(missing)} (needs {', '.join(REQUIRED_COLUMNS)}, "
                    f"separated by commas, semicolons or tabs; read with {delimiter_name(delimiter)}: "
                    f"{', '.join(names[:8])[:120]})."
                )
            if len(set(names)) != len(names):
                raise CatalogFileError(f"{path}: the header names a column twice.")
            index = {name: names.index(name) for name in REQUIRED_COLUMNS}
            n = 0
            while True:
                try:
                    cells = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    problems.append((reader.line_num, f"not valid CSV: {exc}"))
                    break
                line = reader.line_num
                n += 1
                if on_progress is not None and n % 5000 == 0:
                    on_progress(consumed)
                if not cells or all(not c.strip() for c in cells):
                    continue
                if len(cells) != len(names):
                    problems.append((line, f"expected {len(names)} columns, found {len(cells)}"))
                    continue
                parsed = _parse_row({k: cells[i] for k, i in index.items()}, line, numbers)
                if isinstance(parsed, str):
                    problems.append((line, parsed))
                else:
                    yield parsed
        except UnicodeDecodeError as exc:
            raise CatalogFileError(f"{path} is not UTF-8 text (after line {line}): {SAVE_AS_UTF8}.") from exc
        if on_progress is not None:
            on_progress(consumed)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def import_catalog(
    terminal: Terminal, path: Path | str, *, on_progress: Progress | None = None
) -> ImportReport:
    """Import the catalog CSV at ``path`` in one transaction; journal ``catalog.imported``.

    Raises :class:`pos.ledger.catalog.CatalogRefused` (``problems``: every bad row's line and
    reason; nothing imported) or :class:`CatalogFileError` (the file cannot be read at all).
    ``on_progress(characters_read)`` is called now and then for a progress bar.
    """
    source = Path(path)
    if not source.is_file():
        raise CatalogFileError(f"No such file: {source}.")
    sha = _sha256(source)
    currency = terminal.settings.currency
    locale = terminal.settings.locale
    stamp = terminal.stamp()

    def job(db: sqlite_utils.Database) -> ImportReport:
        before = catalog.count_products(db)
        problems: list[tuple[int, str]] = []
        rows = read_catalog_rows(source, currency, problems, on_progress, locale=locale)
        count = catalog.import_products(db, rows, stamp, problems=problems)
        if count == 0:
            raise CatalogRefused([(1, "the file has no product rows")])
        journal.append(
            db,
            EventType.CATALOG_IMPORTED,
            {"file": source.name, "sha256": sha, "rows": count},
            occurred_at=stamp,
        )
        return ImportReport(count, before, catalog.count_products(db), sha)

    return terminal.ledger.transact(job)


def search_products(terminal: Terminal, text: str, limit: int = 20) -> list[Product]:
    """Products whose barcode or SKU starts with ``text``, or whose name has words starting with
    each word of ``text``; at most ``limit``. Never raises for odd input (it just finds nothing)."""
    if not isinstance(text, str):
        return []
    return catalog.search(terminal.ledger.read(), text[:100], limit)


def product_by_barcode(terminal: Terminal, code: str) -> Product | None:
    """The product with this barcode (any GTIN form), or None."""
    try:
        normal = normalize_gtin(code)
    except ValueError:
        return None
    return catalog.by_barcode(terminal.ledger.read(), normal)


__all__ = [
    "REQUIRED_COLUMNS",
    "CatalogFileError",
    "CatalogRefused",
    "ImportReport",
    "import_catalog",
    "product_by_barcode",
    "read_catalog_rows",
    "search_products",
]
