"""Where the terminal's bundled files (``resources/``) are, from source and from a frozen bundle."""

from __future__ import annotations

import sys
from pathlib import Path


def resources_dir() -> Path:
    """The ``resources/`` directory: next to the package in a checkout, in ``sys._MEIPASS`` when frozen."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "resources"
    return Path(__file__).resolve().parent.parent.parent / "resources"


def resource_path(*parts: str) -> Path:
    """The path of one bundled file, e.g. ``resource_path("receipts", "receipt.txt.j2")``."""
    return resources_dir().joinpath(*parts)
