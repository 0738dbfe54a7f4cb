"""The `pos` command line. Filled in by the terminal core."""

from __future__ import annotations


def main() -> None:
    raise SystemExit("pos: not built yet")
