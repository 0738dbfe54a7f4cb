"""A purchase's receipt as a PDF the shopper downloads (fpdf2), 80 mm wide like the paper one.

Text is set in a font from the operating system: Noto Sans CJK when the receipt or the page language
needs Chinese characters (Debian ``fonts-noto-cjk``), DejaVu Sans otherwise (``fonts-dejavu-core``);
without either, PDF's built-in Helvetica, which shows Latin-1 text only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fpdf import FPDF

from sync.server.web.i18n import Translator
from sync.server.web.purchases import Receipt

_CJK_FONTS = [
    (Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"), 2),  # 2: Simplified Chinese
    (Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.otf"), 0),
]
_LATIN_FONTS = [(Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"), 0)]
WIDTH_MM = 80


def _needs_cjk(text: str) -> bool:
    return any(ord(ch) >= 0x2E80 for ch in text)


def _font(pdf: FPDF, cjk: bool) -> bool:
    """Load a Unicode font into ``pdf``; False when only the built-in Latin-1 font is left."""
    for path, index in (_CJK_FONTS if cjk else []) + _LATIN_FONTS:
        if path.exists():
            pdf.add_font("receipt", fname=str(path), collection_font_number=index)
            pdf.set_font("receipt", size=9)
            return True
    pdf.set_font("helvetica", size=9)
    return False


def receipt_pdf(
    r: Receipt, t: Translator, *, tender_names: dict[str, str], points_meaning: str, return_policy: str
) -> bytes:
    """The receipt ``r`` as PDF bytes, in ``t``'s language."""

    def money(amount: int) -> str:
        return t.money(amount, r.currency)

    rows: list[tuple[str, str]] = []
    for line in r.lines:
        rows.append((f"{line.quantity} × {line.name}", money(line.total)))
        detail = f"  {money(line.unit_price)} · " + t.gettext("VAT {rate} %", rate=line.tax_rate)
        rows.append((detail, ""))
        if line.discount:
            rows.append(("  " + t.gettext("Discount"), "−" + money(line.discount)))
    if r.sale_discount:
        rows.append((t.gettext("Discount on the sale"), "−" + money(r.sale_discount)))
    if r.rounding:
        rows.append((t.gettext("Rounding"), money(r.rounding)))
    head = [
        r.store_name,
        t.gettext("Receipt {number}", number=r.receipt_no),
        f"{t.gettext('Till')}: {r.till}",
        t.moment(r.completed_at, r.timezone),
    ]
    taxes = [
        (
            f"{tax.get('rate')} %",
            money(int(tax.get("net", 0))),
            money(int(tax.get("tax", 0))),
            money(int(tax.get("gross", 0))),
        )
        for tax in r.taxes
    ]
    tenders = [
        (tender_names.get(str(x.get("kind")), str(x.get("kind"))), money(int(x.get("amount", 0))))
        for x in r.tenders
    ]
    if r.change:
        tenders.append((t.gettext("Change"), money(r.change)))
    points = t.ngettext("This purchase earned {n} point.", "This purchase earned {n} points.", r.points)
    if points_meaning:
        points += " " + points_meaning
    returns = [
        (f"{t.moment(ret.completed_at, r.timezone)} · {ret.receipt_no}", money(ret.total))
        for ret in r.returns
    ]
    every_text = " ".join([*head, *(a + b for a, b in rows), points, return_policy, *(a for a, _ in returns)])

    pdf = FPDF(unit="mm", format=(WIDTH_MM, 297))
    pdf.set_margins(5, 5, 5)
    pdf.set_auto_page_break(True, margin=5)
    pdf.set_title(t.gettext("Receipt {number}", number=r.receipt_no))
    pdf.set_lang(t.html_lang)
    pdf.add_page()
    unicode_font = _font(pdf, _needs_cjk(every_text) or t.language == "zh")

    def text(value: str) -> str:
        return value if unicode_font else value.encode("latin-1", "replace").decode("latin-1")

    width = WIDTH_MM - 10

    def pair(left: str, right: str, bold: bool = False) -> None:
        pdf.set_font(style="B" if bold and not unicode_font else "")
        pdf.multi_cell(width * 0.68, 4.5, text(left), new_x="RIGHT", new_y="TOP")
        pdf.multi_cell(width * 0.32, 4.5, text(right), align="R", new_x="LMARGIN", new_y="NEXT")

    for value in head:
        pdf.multi_cell(width, 5, text(value), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    for left, right in rows:
        pair(left, right)
    pdf.ln(1)
    pair(t.gettext("Total"), money(r.total + r.rounding), bold=True)
    pdf.ln(2)
    pdf.multi_cell(width, 5, text(t.gettext("Tax")), new_x="LMARGIN", new_y="NEXT")
    header: tuple[Any, ...] = (t.gettext("Rate"), t.gettext("Net"), t.gettext("Tax"), t.gettext("Gross"))
    for row in [header, *taxes]:
        for cell in row:
            pdf.cell(width / 4, 4.5, text(str(cell)), align="R")
        pdf.ln(4.5)
    pdf.ln(2)
    pdf.multi_cell(width, 5, text(t.gettext("Paid")), new_x="LMARGIN", new_y="NEXT")
    for left, right in tenders:
        pair(left, right)
    pdf.ln(2)
    pdf.multi_cell(width, 4.5, text(points), new_x="LMARGIN", new_y="NEXT")
    if returns:
        pdf.ln(2)
        pdf.multi_cell(width, 5, text(t.gettext("Returns")), new_x="LMARGIN", new_y="NEXT")
        for left, right in returns:
            pair(left, right)
    if return_policy:
        pdf.ln(2)
        pdf.multi_cell(
            width,
            4.5,
            text(t.gettext("Returns and exchanges") + ": " + return_policy),
            new_x="LMARGIN",
            new_y="NEXT",
        )
    return bytes(pdf.output())
