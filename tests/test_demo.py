"""`pos demo`: the whole system on one machine (embedded central server, enrolled terminal, GUI and
customer display), and the standalone terminal demo."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from pos.demo import (
    DEMO_ADMIN,
    DEMO_STAFF,
    DEMO_STORE_CODE,
    DemoError,
    demo_catalog,
    demo_member_code,
    prepare_demo,
    prepare_full_demo,
)
from pos.ledger.catalog import CatalogRefused
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
    # every Qt test after this one. The child looks at the running demo until the till has synced.
    script = textwrap.dedent(
        """
        import json, sys, time
        from pathlib import Path
        import httpx
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication, QWidget
        from click.testing import CliRunner
        from pos.app import application
        from pos.cli import cli

        application()  # the timer below needs the application's event loop to exist
        data_dir = Path(sys.argv[1])
        seen = {"health": None, "sync_states": []}
        started = time.monotonic()

        def look() -> None:
            windows = {w.objectName(): w for w in QApplication.topLevelWidgets() if w.isVisible()}
            for widget in windows.values():
                seen[widget.windowTitle()] = widget.objectName()
            main = windows.get("mainWindow")
            if main is not None:
                seen["pins"] = main.findChild(QWidget, "demoPins").text()
                seen["head_office"] = main.findChild(QWidget, "demoHeadOffice").text()
                status = main.findChild(QWidget, "statusSync")
                state = status.property("syncState")
                if not seen["sync_states"] or seen["sync_states"][-1] != state:
                    seen["sync_states"].append(state)
                if seen["health"] is None:
                    url = json.loads((data_dir / "terminal.json").read_text())["server_url"]
                    seen["server_url"] = url
                    seen["health"] = httpx.get(url + "/healthz", timeout=5).json()
                if state == "online" or time.monotonic() - started > 60:
                    QApplication.instance().quit()
                    return
            QTimer.singleShot(100, look)

        QTimer.singleShot(100, look)
        result = CliRunner().invoke(cli, ["demo", "--data-dir", str(data_dir)])
        print(json.dumps({"exit_code": result.exit_code, "output": result.output, "seen": seen}))
        """
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "STORELINK_SECRETS": "file"}
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
    # The embedded central server answered, on the loopback, and the head office is named on screen.
    url = seen["server_url"]
    assert url.startswith("http://127.0.0.1:") and seen["health"] == {"status": "ok"}
    assert f"{url}/hq" in seen["head_office"] and DEMO_ADMIN[0] in seen["head_office"]
    console = report["output"] + done.stderr
    assert f"{url}/hq" in console and DEMO_ADMIN[1] in console
    assert seen["sync_states"][-1] == "online", seen["sync_states"]
    # The terminal enrolled and got the demo catalog and staff through the real sync.
    with demo_catalog().open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    with open_terminal(tmp_path / "pos", daily_backup=False) as terminal:
        assert terminal.config.enrolled and terminal.config.store_code == DEMO_STORE_CODE
        assert terminal.config.public_url == url
        products = terminal.ledger.read().execute("SELECT count(*) FROM products WHERE active").fetchone()[0]
        assert products == len(rows)
        signed = staff_service.sign_in(terminal, DEMO_STAFF[0][2])
        assert signed.name == DEMO_STAFF[0][0]


def test_running_the_full_demo_again_reuses_its_store_and_enrolled_till(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORELINK_SECRETS", "file")
    first = prepare_full_demo(tmp_path / "pos", port=None)
    try:
        with open_terminal(first.data_dir, daily_backup=False) as terminal:
            enrolled_as = (terminal.config.terminal_id, terminal.config.terminal_code)
            assert terminal.config.enrolled and terminal.config.server_url == first.central.url
        assert httpx.get(first.central.url + "/healthz").json() == {"status": "ok"}
        # The head-office user signs in to /hq with the printed credentials.
        with httpx.Client(base_url=first.central.url) as client:
            signin = client.get("/hq/signin")
            token = re.search(r'name="csrf_token" value="([^"]+)"', signin.text)
            assert token is not None
            form = {"email": DEMO_ADMIN[0], "password": DEMO_ADMIN[1], "csrf_token": token.group(1)}
            answer = client.post("/hq/signin", data=form)
            assert answer.status_code == 303, answer.text
            assert client.get("/hq").status_code == 200
    finally:
        first.central.stop()

    again = prepare_full_demo(tmp_path / "pos", port=None)  # another port this time
    try:
        with open_terminal(again.data_dir, daily_backup=False) as terminal:
            assert (terminal.config.terminal_id, terminal.config.terminal_code) == enrolled_as
            assert terminal.config.server_url == again.central.url == terminal.config.public_url
        assert httpx.get(again.central.url + "/healthz").status_code == 200
    finally:
        again.central.stop()


def test_the_full_demo_refuses_a_folder_that_holds_another_terminal(demo_dir: Path) -> None:
    with pytest.raises(DemoError, match="standalone demo"):
        prepare_full_demo(demo_dir, port=None)


BAD_CATALOG = "sku,name,price,tax_rate,barcodes,unit\nX1,Broken,1.999,19,,piece\n"


def test_a_failed_standalone_set_up_leaves_nothing_and_the_next_run_succeeds(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD_CATALOG, encoding="utf-8")
    folder = tmp_path / "pos"
    with pytest.raises(CatalogRefused):
        prepare_demo(folder, catalog=bad)
    assert not folder.exists(), sorted(p.name for p in folder.iterdir())
    # A folder that held something before keeps exactly that.
    folder.mkdir()
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(CatalogRefused):
        prepare_demo(folder, catalog=bad)
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    demo = prepare_demo(folder)  # not "That PIN is already taken"
    assert demo.products > 200 and (folder / "demo.ready").exists()
    assert not (folder / "demo.building").exists()


def test_a_killed_standalone_set_up_is_cleared_by_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process killed half-way cannot clean up: the next run finds its marker and starts afresh."""
    import pos.demo as demo_module

    bad = tmp_path / "bad.csv"
    bad.write_text(BAD_CATALOG, encoding="utf-8")
    folder = tmp_path / "pos"
    with monkeypatch.context() as patched:
        patched.setattr(demo_module, "_discard_set_up", lambda _folder: None)  # as if killed
        with pytest.raises(CatalogRefused):
            prepare_demo(folder, catalog=bad)
    assert (folder / "ledger.sqlite3").exists() and (folder / "demo.building").exists()
    demo = prepare_demo(folder)
    with open_terminal(demo.data_dir, daily_backup=False) as terminal:
        assert staff_service.sign_in(terminal, DEMO_STAFF[0][2]).name == DEMO_STAFF[0][0]


def test_a_failed_full_demo_set_up_leaves_nothing_and_the_next_run_succeeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pos.demo as demo_module

    monkeypatch.setenv("STORELINK_SECRETS", "file")
    folder = tmp_path / "pos"
    real_enroll = demo_module._enroll_demo_terminal

    def enroll_then_fail(where: Path, central: object) -> None:
        real_enroll(where, central)  # type: ignore[arg-type]
        raise OSError("disk full")

    with monkeypatch.context() as patched:
        patched.setattr(demo_module, "_enroll_demo_terminal", enroll_then_fail)
        with pytest.raises(OSError, match="disk full"):
            prepare_full_demo(folder, port=None)
    assert not folder.exists()
    with monkeypatch.context() as patched:  # killed after enrolling: the next run starts afresh
        patched.setattr(demo_module, "_enroll_demo_terminal", enroll_then_fail)
        patched.setattr(demo_module, "_discard_set_up", lambda _folder: None)
        with pytest.raises(OSError, match="disk full"):
            prepare_full_demo(folder, port=None)
    assert (folder / "ledger.sqlite3").exists()
    full = prepare_full_demo(folder, port=None)
    try:
        with open_terminal(full.data_dir, daily_backup=False) as terminal:
            assert terminal.config.enrolled and terminal.config.server_url == full.central.url
    finally:
        full.central.stop()
    assert not (folder / "demo.building").exists()
