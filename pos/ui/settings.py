"""This terminal's cashier-app settings, kept beside the ledger in ``<data dir>/ui.json``.

``{"language": "de", "printer": {"kind": "network", "host": "10.0.0.50", "port": 9100}}``

The language is the cashier's (per terminal); the customer display and the receipt follow the
store's language. The printer table is :class:`pos.hardware.printer.PrinterSettings`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pos.hardware.printer import PrinterError, PrinterSettings
from pos.ui.i18n import LANGUAGES

SETTINGS_FILE = "ui.json"


class SettingsError(ValueError):
    """ui.json cannot be read; str() names the file and the problem."""


@dataclass(frozen=True)
class UiSettings:
    language: str | None = None
    printer: PrinterSettings = field(default_factory=PrinterSettings)


def load_ui_settings(data_dir: Path) -> UiSettings:
    """The settings in ``data_dir/ui.json`` (defaults when the file does not exist)."""
    path = data_dir / SETTINGS_FILE
    if not path.exists():
        return UiSettings()
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SettingsError(f"{path}: cannot read the cashier app settings: {exc}") from exc
    if not isinstance(raw, dict):
        raise SettingsError(f"{path}: expected a JSON object")
    language = raw.get("language")
    if language is not None and language not in LANGUAGES:
        raise SettingsError(f"{path}: language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    try:
        printer = PrinterSettings.from_mapping(raw.get("printer") or {})
    except (PrinterError, TypeError, ValueError) as exc:
        raise SettingsError(f"{path}: printer: {exc}") from exc
    return UiSettings(language=language, printer=printer)


def save_ui_settings(data_dir: Path, settings: UiSettings) -> None:
    from dataclasses import asdict

    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SETTINGS_FILE
    temp = path.with_suffix(".tmp")
    temp.write_text(json.dumps(asdict(settings), indent=2, sort_keys=True), encoding="utf-8")
    temp.replace(path)
