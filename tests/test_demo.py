"""`pos demo`: a standalone terminal with the demo store, staff, catalog, GUI and customer display."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget

from pos.demo import DEMO_STAFF, demo_catalog, demo_member_code, prepare_demo
from pos.services import sale as sale_service
from pos.services import staff as staff_service
from pos.services.terminal import open_terminal


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prepare_demo(tmp_path_factory.mktemp("demo") / "pos").data_dir


def test_demo_has_the_store_staff_whole_catalog_and_an_open_shift(demo_dir: Path) -> None:
    with demo_catalog().open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) >= 200
    with open_terminal(demo_dir, daily_backup=False) as terminal:
        assert terminal.settings.store_name == "Storelink Kaufhaus Mitte"
        assert terminal.settings.currency == "EUR"
        for name, role, pin in DEMO_STAFF:
            signed = staff_service.sign_in(terminal, pin)
            assert (signed.name, signed.role) == (name, role)
        sale = sale_service.start_sale(terminal)  # needs the open shift
        first = rows[0]
        result = sale_service.scan(terminal, sale, first["barcodes"].split()[0])
        assert result.line is not None and result.line.product.name == first["name"]
        member = sale_service.scan(terminal, sale, demo_member_code(demo_dir, 42, datetime.now(UTC)))
        assert member.member_id == 42


def test_preparing_again_keeps_the_demo(demo_dir: Path) -> None:
    again = prepare_demo(demo_dir)
    assert again.data_dir == demo_dir and again.pins == DEMO_STAFF and again.products >= 200


def test_pos_demo_opens_the_till_and_the_customer_display(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from pos.cli import cli

    seen: dict[str, str] = {}

    def look_and_quit() -> None:
        for widget in QApplication.topLevelWidgets():
            if widget.isVisible():
                seen[widget.windowTitle()] = widget.objectName()
        pins = [w for w in QApplication.topLevelWidgets() if w.objectName() == "mainWindow"]
        seen["pins"] = pins[0].findChild(QWidget, "demoPins").text() if pins else ""
        QApplication.instance().quit()

    QTimer.singleShot(1500, look_and_quit)
    result = CliRunner().invoke(cli, ["demo", "--data-dir", str(tmp_path / "pos")])
    assert result.exit_code == 0, result.output
    assert seen.get("Storelink POS") == "mainWindow"
    assert seen.get("Customer Display") == "customerDisplay"
    for _name, _role, pin in DEMO_STAFF:
        assert pin in seen["pins"]
