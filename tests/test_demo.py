"""`pos demo`: a standalone terminal with the demo store, staff, catalog, GUI and customer display."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

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


def test_pos_demo_opens_the_till_and_the_customer_display(tmp_path: Path) -> None:
    # A real `pos demo` in its own process: once QApplication.exec() has run and quit inside the
    # pytest process, Qt no longer delivers queued cross-thread signals there, which would break
    # every Qt test after this one.
    script = textwrap.dedent(
        """
        import json, sys
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication, QWidget
        from click.testing import CliRunner
        from pos.app import application
        from pos.cli import cli

        application()  # the timer below needs the application's event loop to exist
        seen = {}

        def look_and_quit():
            for widget in QApplication.topLevelWidgets():
                if widget.isVisible():
                    seen[widget.windowTitle()] = widget.objectName()
            pins = [w for w in QApplication.topLevelWidgets() if w.objectName() == "mainWindow"]
            seen["pins"] = pins[0].findChild(QWidget, "demoPins").text() if pins else ""
            QApplication.instance().quit()

        QTimer.singleShot(1500, look_and_quit)
        result = CliRunner().invoke(cli, ["demo", "--data-dir", sys.argv[1]])
        print(json.dumps({"exit_code": result.exit_code, "output": result.output, "seen": seen}))
        """
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "pos")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["exit_code"] == 0, report["output"]
    seen = report["seen"]
    assert seen.get("Storelink POS") == "mainWindow"
    assert seen.get("Customer Display") == "customerDisplay"
    for _name, _role, pin in DEMO_STAFF:
        assert pin in seen["pins"]
