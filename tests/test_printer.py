"""Receipts reach the printer as ESC/POS through python-escpos (a file printer stands in for the device)."""

from __future__ import annotations

from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from pos.hardware.printer import PrinterError, PrinterSettings, open_cash_drawer, print_receipt

CLAIM = "HTTPS://CLAIM.EXAMPLE/C/ABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCDEFGHIJKLMNOP"


def test_file_printer_gets_the_receipt_text_the_native_qr_and_a_cut(tmp_path: Path) -> None:
    out = tmp_path / "printer.bin"
    settings = PrinterSettings(kind="file", path=str(out))
    print_receipt(settings, "Receipt T1-000042\nTOTAL 12.50\n", claim_url=CLAIM, qr_caption="Scan me")
    data = out.read_bytes()
    assert b"Receipt T1-000042" in data and b"TOTAL 12.50" in data
    # GS ( k: store the QR data, then print it; the URL travels verbatim.
    assert b"\x1d(k" in data and b"1P0" + CLAIM.encode() in data
    assert data.index(b"TOTAL") < data.index(CLAIM.encode())
    assert data.rstrip().endswith(b"\x1dV\x00")  # full cut


def test_image_qr_for_printers_without_native_qr(tmp_path: Path) -> None:
    out = tmp_path / "printer.bin"
    print_receipt(PrinterSettings(kind="file", path=str(out), native_qr=False), "Hello\n", claim_url=CLAIM)
    data = out.read_bytes()
    assert b"Hello" in data and b"\x1dv0" in data  # a raster image instead of GS ( k
    assert CLAIM.encode() not in data
    # The raster, decoded as a phone would read the paper: the claim URL exactly.
    decoded = [r.text for r in zxingcpp.read_barcodes(raster_image(data))]
    assert decoded == [CLAIM]


def raster_image(data: bytes) -> Image.Image:
    """The GS v 0 raster images in ``data``, stacked top to bottom, with a white quiet zone."""
    strips: list[Image.Image] = []
    at = data.find(b"\x1dv0")
    while at >= 0:
        width_bytes = data[at + 4] + 256 * data[at + 5]
        rows = data[at + 6] + 256 * data[at + 7]
        start = at + 8
        bits = data[start : start + width_bytes * rows]
        # ESC/POS: a set bit is a black dot; PIL's mode "1" reads a set bit as white.
        strips.append(Image.frombytes("1", (width_bytes * 8, rows), bytes(b ^ 0xFF for b in bits)))
        at = data.find(b"\x1dv0", start + len(bits))
    assert strips, "no raster image"
    width = max(s.width for s in strips)
    page = Image.new("L", (width + 80, sum(s.height for s in strips) + 80), 255)
    y = 40
    for strip in strips:
        page.paste(strip.convert("L"), (40, y))
        y += strip.height
    return page


def test_cash_drawer_kick(tmp_path: Path) -> None:
    out = tmp_path / "printer.bin"
    open_cash_drawer(PrinterSettings(kind="file", path=str(out)))
    assert out.read_bytes().startswith(b"\x1bp")


def test_no_printer_configured_is_a_clear_error() -> None:
    with pytest.raises(PrinterError, match="no receipt printer"):
        print_receipt(PrinterSettings(), "x")


def test_unreachable_network_printer_names_the_problem() -> None:
    with pytest.raises(PrinterError, match="network printer"):
        print_receipt(PrinterSettings(kind="network", host="127.0.0.1", port=1), "x")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"kind": "laser"}, "printer kind must be"),
        ({"kind": "file", "colour": "red"}, "unknown printer setting"),
    ],
)
def test_bad_printer_settings_are_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(PrinterError, match=message):
        PrinterSettings.from_mapping(values)


def test_usb_ids_may_be_written_in_hex() -> None:
    settings = PrinterSettings.from_mapping({"kind": "usb", "usb_vendor": "0x04b8", "usb_product": "0x0202"})
    assert (settings.usb_vendor, settings.usb_product) == (0x04B8, 0x0202)


def test_a_cash_sale_kicks_the_drawer_before_the_receipt(tmp_path: Path) -> None:
    out = tmp_path / "printer.bin"
    print_receipt(PrinterSettings(kind="file", path=str(out)), "Receipt 7\n", open_drawer=True)
    data = out.read_bytes()
    assert data.startswith(b"\x1bp") and data.index(b"\x1bp") < data.index(b"Receipt 7")
    print_receipt(PrinterSettings(kind="file", path=str(out)), "Receipt 8\n")
    assert b"\x1bp" not in out.read_bytes()


def test_printer_profiles_are_parsed_once_and_kept_in_the_users_cache(tmp_path: Path) -> None:
    """python-escpos parses its printer profiles (about half a second) into a pickle in a new temp
    folder per start; the till keeps it in its cache folder instead, and imports python-escpos
    only when it prints."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    cache, temp = tmp_path / "cache", tmp_path / "tmp"
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "ESCPOS_CAPABILITIES_PICKLE_DIR"}
    env.update(XDG_CACHE_HOME=str(cache), TMPDIR=str(temp), PYTHONPATH=str(root))
    code = (
        "import os, sys, pos.hardware.printer as p; assert 'escpos' not in sys.modules;"
        "p.escpos_printers(); print(os.environ['ESCPOS_CAPABILITIES_PICKLE_DIR'])"
    )
    first = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    folder = Path(first.stdout.strip())
    assert folder == cache / "storelink-pos" / "escpos"
    (pickle,) = folder.glob("*.capabilities.pickle")
    written = pickle.stat().st_mtime_ns
    subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert pickle.stat().st_mtime_ns == written  # read back, not parsed and written again
    # python-escpos still makes an (empty) temp folder per import; no pickle goes there any more.
    assert list(temp.rglob("*.pickle")) == []
