"""QR codes drawn on the server as inline SVG, so the page needs nothing from the internet."""

from __future__ import annotations

import functools

import qrcode
from qrcode.constants import ERROR_CORRECT_M


def qr_matrix(text: str, *, border: int = 4) -> list[list[bool]]:
    """``text`` as QR modules (error correction M), with a quiet zone of ``border`` modules."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=border)
    code.add_data(text)
    code.make(fit=True)
    return [[bool(cell) for cell in row] for row in code.get_matrix()]


@functools.lru_cache(maxsize=8192)
def qr_rows(text: str) -> tuple[str, ...]:
    """The modules without quiet zone as rows of ``0``/``1``: the account page draws them offline.

    Cached: a shopper's codes for the coming hours are the same on every fetch (Ed25519 signatures
    are deterministic), and choosing the QR mask is most of the cost (about 8 ms a code).
    """
    return tuple("".join("1" if cell else "0" for cell in row) for row in qr_matrix(text, border=0))


def qr_svg(text: str, *, label: str) -> str:
    """``text`` as a QR code (error correction M, 4-module quiet zone) in one SVG element.

    Dark runs of each row become one path segment, which keeps a member code's SVG small.
    ``label`` is the accessible name a screen reader reads instead of the picture.
    """
    matrix = qr_matrix(text)  # includes the quiet zone
    size = len(matrix)
    segments: list[str] = []
    for y, row in enumerate(matrix):
        x = 0
        while x < size:
            if row[x]:
                start = x
                while x < size and row[x]:
                    x += 1
                segments.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    escaped = label.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" role="img" '
        f'aria-label="{escaped}" shape-rendering="crispEdges" class="qr">'
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(segments)}"/></svg>'
    )
