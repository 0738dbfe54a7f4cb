"""The `pos-central` command line. Filled in by the central API."""

from __future__ import annotations


def main() -> None:
    raise SystemExit("pos-central: not built yet")
