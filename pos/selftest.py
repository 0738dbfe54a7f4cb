"""``pos --self-test``: is this installation able to run a till? Checked inside whatever it runs from
(a checkout, an installed wheel, the PyInstaller bundle), with nothing on the real data dir touched.

One line per check (``ok`` or ``FAIL``, the check's name, what was found); exit status 1 naming the
checks that failed. The checks:

- ``resources``: the receipt template, the translations, the style sheet and the demo catalog exist;
- ``qt``: the Qt platform plugin loads and renders a window offscreen (in a child process, because
  Qt aborts the process when a platform plugin cannot load; the plugin is ``$QT_QPA_PLATFORM`` if
  set, else ``offscreen``);
- ``sqlite``: the SQLite library's version, with FTS5 (product search) and JSON;
- ``ledger``: a fresh ledger in a temporary folder migrates to the latest schema;
- ``qr``: a claim-code QR, drawn as the customer display draws it, decodes back (zxing-cpp);
- ``receipt``: a receipt renders in every shipped language, with that language's labels;
- ``printer``: ESC/POS bytes (text, QR, cut) come out for a file printer;
- ``keyring``: the keyring backend in use (or the secrets file the till falls back to).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

#: Set in the child process that runs one check alone (the Qt check).
ONLY_ENV = "POS_SELF_TEST_ONLY"
#: The files a till cannot run without, under the resource folder.
REQUIRED_RESOURCES = (
    ("receipts", "receipt.txt.j2"),
    ("styles", "terminal.qss"),
    ("demo", "catalog.csv"),
)


class CheckFailed(Exception):
    """A check found a problem; str() says what."""


def check_resources(_tmp: Path) -> str:
    from pos.hardware.resources import resources_dir
    from pos.ui.i18n import LANGUAGES, SOURCE_LANGUAGE

    folder = resources_dir()
    wanted = [*REQUIRED_RESOURCES]
    wanted += [("translations", f"{lang}.po") for lang in LANGUAGES if lang != SOURCE_LANGUAGE]
    missing = [str(Path(*parts)) for parts in wanted if not folder.joinpath(*parts).is_file()]
    if missing:
        raise CheckFailed(f"missing in {folder}: {', '.join(missing)}")
    return f"{folder}: receipt template, style sheet, demo catalog, {len(LANGUAGES) - 1} translations"


def check_qt(_tmp: Path) -> str:
    """Run :func:`pos.ui.selftest_qt.qt_window` in a child process: a plugin that cannot load
    aborts the process."""
    env = {**os.environ, ONLY_ENV: "qt"}
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        child = subprocess.run(
            [*_this_program(), "--self-test"], env=env, capture_output=True, text=True, timeout=120
        )
    except subprocess.TimeoutExpired as exc:
        raise CheckFailed("Qt did not render a window within 120 s") from exc
    lines = child.stdout.strip().splitlines()
    if child.returncode != 0 or not lines:
        said = [line.strip() for line in child.stderr.strip().splitlines() if line.strip()]
        plugin = [line for line in said if "could not" in line.lower()]
        reason = (plugin or said or [f"exit status {child.returncode}"])[-1]
        raise CheckFailed(f"the Qt platform plugin {env['QT_QPA_PLATFORM']!r} did not start: {reason}")
    return lines[-1]


def check_sqlite(_tmp: Path) -> str:
    conn = sqlite3.connect(":memory:")
    try:
        try:
            conn.execute("CREATE VIRTUAL TABLE t USING fts5(name)")
            conn.execute("INSERT INTO t VALUES ('organic whole milk')")
            hits = conn.execute("SELECT count(*) FROM t WHERE t MATCH 'milk'").fetchone()[0]
        except sqlite3.Error as exc:
            raise CheckFailed(f"SQLite {sqlite3.sqlite_version} has no FTS5: {exc}") from exc
        try:
            value = conn.execute("""SELECT json_extract('{"a": [1, 2]}', '$.a[1]')""").fetchone()[0]
        except sqlite3.Error as exc:
            raise CheckFailed(f"SQLite {sqlite3.sqlite_version} has no JSON functions: {exc}") from exc
    finally:
        conn.close()
    if hits != 1 or value != 2:
        raise CheckFailed(f"SQLite {sqlite3.sqlite_version}: FTS5 or JSON gave wrong answers")
    return f"SQLite {sqlite3.sqlite_version} with FTS5 and JSON"


def check_ledger(tmp: Path) -> str:
    from pos.ledger import migrations
    from pos.ledger.db import Ledger

    ledger = Ledger.open(tmp / "ledger", daily_backup=False)
    try:
        applied = migrations.applied(ledger.read())
    finally:
        ledger.close()
    latest = list(migrations.REGISTRY)
    if applied != latest:
        raise CheckFailed(f"a new ledger has migrations {applied}, expected {latest}")
    count = f"{len(latest)} migration{'s' if len(latest) != 1 else ''}"
    return f"a new ledger migrated to the latest schema, {latest[-1]} ({count})"


def check_qr(_tmp: Path) -> str:
    import zxingcpp

    from pos.ui.selftest_qt import qr_pixels
    from sync.codes import claim_code_from_scan, claim_url, make_claim_code, new_claim_key

    code = make_claim_code(terminal_id=1, claim_key=new_claim_key(), today=date.today())
    url = claim_url("https://claim.storelink.example", code)
    found = zxingcpp.read_barcodes(qr_pixels(url, 300))
    texts = [barcode.text for barcode in found]
    if texts != [url]:
        raise CheckFailed(f"the claim-code QR for {url} decoded as {texts}")
    if claim_code_from_scan(texts[0]) != code.text:
        raise CheckFailed(f"the decoded QR {texts[0]} does not give back the claim code")
    return "a claim-code QR, drawn as the customer display draws it, decoded back (zxing-cpp)"


def sample_receipt(store_name: str = "Storelink Self-Test") -> object:
    from pos.hardware.receipt import Receipt, ReceiptLine, ReceiptTax, ReceiptTender

    return Receipt(
        store_name=store_name,
        receipt_number="K1-000001",
        issued_at="2026-01-02 10:30",
        cashier="Anna Becker",
        total="3,38 €",
        lines=[
            ReceiptLine("Organic whole milk 1 l", "1,19 €", "B"),
            ReceiptLine("Bread 500 g", "2,19 €", "B"),
        ],
        taxes=[ReceiptTax("B", "7 %", "3,16 €", "0,22 €", "3,38 €")],
        tenders=[ReceiptTender("Cash", "5,00 €")],
        change="1,62 €",
    )


def check_receipt(_tmp: Path) -> str:
    from pos.hardware.receipt import render_receipt
    from pos.ui.i18n import LANGUAGES, SOURCE_LANGUAGE, translate

    receipt = sample_receipt()
    for language in LANGUAGES:
        label = translate("TOTAL", language)
        if language != SOURCE_LANGUAGE and label == "TOTAL":
            raise CheckFailed(f"no {language} translation of the receipt's labels")
        text = render_receipt(receipt, lambda s, lang=language: translate(s, lang))  # type: ignore[arg-type]
        if label not in text or "Organic whole milk" not in text:
            raise CheckFailed(f"the {language} receipt lacks its total or its lines")
    return f"rendered in {', '.join(LANGUAGES)}"


def check_printer(tmp: Path) -> str:
    from pos.hardware.printer import PrinterSettings, print_receipt

    target = tmp / "printer.bin"
    target.touch()
    settings = PrinterSettings(kind="file", path=str(target))
    # Plain text, not the rendered receipt: this checks the printer path alone.
    text = "Storelink Self-Test\nTOTAL                3,38 EUR\n"
    print_receipt(settings, text, claim_url="HTTPS://CLAIM.STORELINK.EXAMPLE/C/SELFTEST", qr_caption="Claim")
    data = target.read_bytes()
    wanted = {"the text": b"Storelink Self-Test", "a QR code": b"\x1d(k", "a cut": b"\x1dV"}
    missing = [what for what, marker in wanted.items() if marker not in data]
    if missing:
        raise CheckFailed(f"the file printer's {len(data)} bytes lack {', '.join(missing)}")
    return f"{len(data)} bytes of ESC/POS for a file printer (text, QR code, cut)"


def check_keyring(_tmp: Path) -> str:
    import keyring

    from pos.config import _usable_keyring

    backend = keyring.get_keyring()
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    if os.environ.get("STORELINK_SECRETS") == "file":
        return f"{name}; STORELINK_SECRETS=file: secrets go to secrets.json (0600) in the data dir"
    if _usable_keyring() is None:
        return f"{name}: no usable OS keyring here, secrets go to secrets.json (0600) in the data dir"
    return f"{name}: secrets go to the OS keyring"


CHECKS: dict[str, Callable[[Path], str]] = {
    "resources": check_resources,
    "qt": check_qt,
    "sqlite": check_sqlite,
    "ledger": check_ledger,
    "qr": check_qr,
    "receipt": check_receipt,
    "printer": check_printer,
    "keyring": check_keyring,
}


def _this_program() -> list[str]:
    """The command that runs this same ``pos`` (the bundle's executable, or this Python on the package)."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "pos"]


def where() -> str:
    import pos

    if getattr(sys, "frozen", False):
        return f"bundle {Path(sys.executable).resolve().parent}"
    return f"Python {sys.executable}, package {Path(pos.__file__).resolve().parent}"


def run_self_test(echo: Callable[[str], None] = print) -> list[str]:
    """Run every check, printing one line each; return the names of those that failed."""
    if os.environ.get(ONLY_ENV) == "qt":
        from pos.ui.selftest_qt import qt_window

        echo(qt_window())
        return []
    from pos.services.fleet import app_version

    echo(f"Storelink POS {app_version()} self-test ({where()}), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="pos-self-test-") as folder:
        for name, check in CHECKS.items():
            tmp = Path(folder) / name
            tmp.mkdir()
            try:
                detail = check(tmp)
            except Exception as exc:  # every failure is a finding, reported in one line
                failed.append(name)
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                echo(f"FAIL  {name:<10} {reason}")
            else:
                echo(f"ok    {name:<10} {detail}")
    return failed
