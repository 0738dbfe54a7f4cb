"""The printed receipt: plain data in, fixed-width text out, rendered from a template in ``resources/``.

The receipt knows nothing of the ledger or Qt: the caller fills a :class:`Receipt` with text already
formatted for the store's locale and passes the store language's ``gettext`` for the labels.
"""

from __future__ import annotations

import functools
import textwrap
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pos.hardware.resources import resource_path

if TYPE_CHECKING:
    import jinja2

#: Characters per line on an 80 mm printer with its standard font.
RECEIPT_WIDTH = 42


@dataclass(frozen=True)
class ReceiptLine:
    name: str
    amount: str
    tax_code: str = ""
    #: Second line under the name, e.g. "3 x 1,99 €" or "10 % off".
    detail: str = ""


@dataclass(frozen=True)
class ReceiptTax:
    code: str
    rate: str
    net: str
    tax: str
    gross: str


@dataclass(frozen=True)
class ReceiptTender:
    label: str
    amount: str
    reference: str = ""


@dataclass(frozen=True)
class Receipt:
    """Everything printed on one receipt, as display text."""

    store_name: str
    receipt_number: str
    issued_at: str
    cashier: str
    total: str
    lines: list[ReceiptLine] = field(default_factory=list)
    taxes: list[ReceiptTax] = field(default_factory=list)
    tenders: list[ReceiptTender] = field(default_factory=list)
    store_address: list[str] = field(default_factory=list)
    terminal: str = ""
    change: str = ""
    discount: str = ""
    member: str = ""
    claim_url: str = ""
    reprint: bool = False


def text_width(text: str) -> int:
    """Columns ``text`` takes on a receipt printer: East Asian wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def columns(left: str, right: str, width: int = RECEIPT_WIDTH) -> str:
    """``left`` and ``right`` on one line, right-aligned to ``width``; wraps when both do not fit."""
    gap = width - text_width(left) - text_width(right)
    if gap >= 1:
        return left + " " * gap + right
    return left + "\n" + " " * max(0, width - text_width(right)) + right


def centered(text: str, width: int = RECEIPT_WIDTH) -> str:
    """``text`` centred, wrapped at word boundaries onto as many lines as it needs."""
    lines: list[str] = []
    for piece in textwrap.wrap(text, width) or [""]:
        lines.append(" " * max(0, (width - text_width(piece)) // 2) + piece)
    return "\n".join(lines)


def row(cells: list[str], widths: list[int]) -> str:
    """Cells in fixed columns: the first left-aligned, the others right-aligned."""
    out = cells[0] + " " * max(0, widths[0] - text_width(cells[0]))
    for cell, size in zip(cells[1:], widths[1:], strict=True):
        out += " " * max(1, size - text_width(cell)) + cell
    return out


@functools.cache
def _environment() -> jinja2.Environment:
    """The receipt templates' environment, built on the first receipt (jinja2 is not needed to
    show the till, so it is not imported with this module)."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_path("receipts"))),
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.globals.update(columns=columns, centered=centered, row=row)
    return environment


def render_receipt(
    receipt: Receipt,
    gettext: Callable[[str], str],
    *,
    width: int = RECEIPT_WIDTH,
    template: str = "receipt.txt.j2",
) -> str:
    """The receipt as fixed-width text (without the QR image, which the printer draws below it)."""
    rule = "-" * width
    text = _environment().get_template(template).render(r=receipt, _=gettext, width=width, rule=rule)
    return text.rstrip("\n") + "\n"
