"""The receipt: rendered from resources/receipts, in the store's language, adding up on paper."""

from __future__ import annotations

from pos.hardware.receipt import (
    RECEIPT_WIDTH,
    Receipt,
    ReceiptLine,
    ReceiptTax,
    ReceiptTender,
    columns,
    render_receipt,
    text_width,
)
from pos.ui.i18n import gettext_for


def sample(**changes: object) -> Receipt:
    values: dict[str, object] = {
        "store_name": "Storelink Kaufhaus Mitte",
        "receipt_number": "T1-000042",
        "issued_at": "25.11.2026 11:30",
        "cashier": "Anna",
        "terminal": "Kasse 1",
        "total": "12,50 €",
        "lines": [
            ReceiptLine("Kaffeebecher", "7,98 €", "A", "2 x 3,99 €"),
            ReceiptLine("Brot", "4,52 €", "B"),
        ],
        "taxes": [
            ReceiptTax("A", "19 %", "6,71 €", "1,27 €", "7,98 €"),
            ReceiptTax("B", "7 %", "4,22 €", "0,30 €", "4,52 €"),
        ],
        "tenders": [ReceiptTender("Bar", "10,00 €"), ReceiptTender("Karte", "2,50 €", "A12345")],
        "change": "0,00 €",
        "claim_url": "HTTPS://CLAIM.EXAMPLE/C/ABC",
    }
    values.update(changes)
    return Receipt(**values)  # type: ignore[arg-type]


def test_receipt_shows_lines_taxes_tenders_number_and_claim_caption_in_german() -> None:
    text = render_receipt(sample(), gettext_for("de"))
    for expected in ("Kaffeebecher", "2 x 3,99 €", "T1-000042", "19 %", "7 %", "1,27 €", "A12345", "12,50 €"):
        assert expected in text
    assert "Bon T1-000042" in text
    assert "SUMME" in text
    assert (
        "Scannen Sie, um diesen Einkauf Ihrem Konto" in text and "hinzuzufügen" in text
    )  # wrapped to the paper


def test_receipt_in_chinese_keeps_columns_within_the_paper_width() -> None:
    text = render_receipt(
        sample(store_name="Storelink 百货", lines=[ReceiptLine("咖啡杯", "¥7.98", "A")]), gettext_for("zh_CN")
    )
    assert "合计" in text
    for line in text.splitlines():
        assert text_width(line) <= RECEIPT_WIDTH, line


def test_a_reprint_is_marked_as_a_copy() -> None:
    assert "COPY" in render_receipt(sample(reprint=True), gettext_for("en"))
    assert "COPY" not in render_receipt(sample(), gettext_for("en"))


def test_columns_wrap_when_both_sides_do_not_fit() -> None:
    left, right = "x" * 40, "12,50 €"
    lines = columns(left, right).splitlines()
    assert lines[0] == left
    assert lines[1].endswith(right) and text_width(lines[1]) == RECEIPT_WIDTH
