"""``pos --self-test`` from source: every check passes here, and a broken installation fails the
check it breaks, by name, with exit status 1 (the bundle's run is in tests/test_bundle.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from pos.selftest import CHECKS

ROOT = Path(__file__).resolve().parent.parent


def self_test(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("POS_RESOURCES_DIR", "QT_QPA_PLATFORM")}
    full.update(PYTHONPATH=str(ROOT), STORELINK_SECRETS="file", **env)
    return subprocess.run(
        [sys.executable, "-m", "pos", "--self-test"],
        cwd=tmp_path,
        env=full,
        capture_output=True,
        text=True,
        timeout=300,
    )


def outcomes(out: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """check name -> 'ok' or 'FAIL', from the one line each check prints."""
    found = {}
    for line in out.stdout.splitlines()[1:]:
        status, name, *_ = line.split()
        found[name] = status
    return found


def test_every_check_passes_from_source(tmp_path: Path) -> None:
    out = self_test(tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert outcomes(out) == dict.fromkeys(CHECKS, "ok")
    assert out.stdout.splitlines()[0].startswith("Storelink POS ")
    assert "SQLite " in out.stdout and "FTS5 and JSON" in out.stdout
    assert "platform plugin 'offscreen' rendered" in out.stdout


def test_a_missing_resource_folder_fails_resources_and_receipt_by_name(tmp_path: Path) -> None:
    empty = tmp_path / "resources"
    empty.mkdir()
    out = self_test(tmp_path, POS_RESOURCES_DIR=str(empty))
    assert out.returncode == 1
    assert outcomes(out) == {**dict.fromkeys(CHECKS, "ok"), "resources": "FAIL", "receipt": "FAIL"}
    assert out.stderr.strip() == "Self-test FAILED: resources, receipt"
    assert "receipts/receipt.txt.j2" in out.stdout


def test_an_untranslated_language_fails_the_receipt_check(tmp_path: Path) -> None:
    copy = tmp_path / "resources"
    shutil.copytree(ROOT / "resources", copy)
    po = copy / "translations" / "de.po"
    header = po.read_text(encoding="utf-8").split("\n\n")[0]
    po.write_text(header + "\n", encoding="utf-8")  # the catalog with no translations left
    out = self_test(tmp_path, POS_RESOURCES_DIR=str(copy))
    assert out.returncode == 1
    assert outcomes(out)["receipt"] == "FAIL"
    assert "no de translation" in out.stdout
    assert out.stderr.strip() == "Self-test FAILED: receipt"


def test_a_qt_platform_plugin_that_cannot_load_fails_the_qt_check(tmp_path: Path) -> None:
    out = self_test(tmp_path, QT_QPA_PLATFORM="no-such-platform")
    assert out.returncode == 1
    line = next(line for line in out.stdout.splitlines() if line.split()[1] == "qt")
    assert line.startswith("FAIL") and "'no-such-platform' did not start" in line
    assert out.stderr.strip() == "Self-test FAILED: qt"
