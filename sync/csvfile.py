"""Reading the CSV files people save from spreadsheets (catalog and stock imports, till and head office).

A spreadsheet in a German (or French, Dutch, ...) locale saves "CSV" with semicolons between the
fields, often with a UTF-8 byte-order mark, and writes prices with a decimal comma (``12,99``).
:func:`detect_delimiter` finds the separator from the header row (comma, semicolon or tab), and
:func:`decimal_text` reads a number written the way the store's locale writes it; anything it
cannot read unambiguously is refused with a message that says exactly what to change.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable

from babel import Locale, UnknownLocaleError
from babel.numbers import get_decimal_symbol

DELIMITERS = (",", ";", "\t")
_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs"}
#: What to tell someone whose file is not UTF-8 (Excel's plain "CSV" is the Windows code page).
SAVE_AS_UTF8 = (
    "save it as UTF-8 CSV (Excel: File > Save As > 'CSV UTF-8'; LibreOffice: character set 'Unicode (UTF-8)')"
)


def detect_delimiter(header_line: str, required: Iterable[str]) -> str:
    """The separator that splits ``header_line`` into a header with every ``required`` column.

    Falls back to the one that splits it into the most fields (the caller then names the columns
    the header lacks)."""
    wanted = [name.lower() for name in required]
    best, most = ",", 0
    for delimiter in DELIMITERS:
        names = [h.strip().lower() for h in next(csv.reader([header_line], delimiter=delimiter), [])]
        if all(name in names for name in wanted):
            return delimiter
        if len(names) > most:
            best, most = delimiter, len(names)
    return best


def delimiter_name(delimiter: str) -> str:
    return _NAMES.get(delimiter, repr(delimiter))


def uses_decimal_comma(locale: str) -> bool:
    """True when ``locale`` (``de_DE``) writes 12,99 rather than 12.99."""
    try:
        return get_decimal_symbol(Locale.parse(locale.replace("-", "_"))) == ","
    except (UnknownLocaleError, ValueError, TypeError):
        return False


_COMMA_NUMBER = re.compile(r"[0-9]+,[0-9]+")
_GROUPED = re.compile(r"[0-9]{1,3}([.,' ][0-9]{3})+([.,][0-9]+)?")


def decimal_text(text: str, *, comma: bool, column: str, locale: str) -> str:
    """``text`` as a number with a dot (``12,99`` -> ``12.99`` where ``comma``), unchanged when it
    has no comma. Raises ValueError saying what to change for a comma the locale does not use, or
    a thousands separator."""
    text = text.strip()
    if _COMMA_NUMBER.fullmatch(text):
        if comma:
            return text.replace(",", ".")
        raise ValueError(
            f"{column} {text!r} has a decimal comma, but the store's locale ({locale}) writes "
            f"{text.replace(',', '.')}: use a dot in the {column} column"
        )
    if _GROUPED.fullmatch(text) and not re.fullmatch(r"[0-9]+\.[0-9]+", text):
        example = "1234,50" if comma else "1234.50"
        raise ValueError(
            f"{column} {text!r} has a thousands separator: write the number without one, like {example}"
        )
    return text
