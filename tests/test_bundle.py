"""The till's PyInstaller bundle (packaging/pos.spec), built by ``make bundle`` and run as shipped.

The fixture runs ``make bundle`` with this environment's PyInstaller: a no-op when dist/pos/ is up to
date (CI builds it first with ``make packaging``), a full build (about two minutes) otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def bundle_env(**extra: str) -> dict[str, str]:
    """No PYTHONPATH or resource override: the bundle must carry everything itself."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "POS_RESOURCES_DIR")}
    env.update({"QT_QPA_PLATFORM": "offscreen", "STORELINK_SECRETS": "file", **extra})
    return env


@pytest.fixture(scope="session")
def bundle() -> Path:
    """dist/pos/pos, built (or found up to date) by ``make bundle``."""
    pyinstaller = Path(sys.executable).parent / "pyinstaller"
    subprocess.run(
        ["make", "-C", str(ROOT), "--no-print-directory", "bundle", f"PYINSTALLER={pyinstaller}"],
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    executable = ROOT / "dist" / "pos" / "pos"
    assert executable.is_file()
    return executable


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=bundle_env(**env), capture_output=True, text=True, timeout=300)


def test_bundle_reports_the_projects_version(bundle: Path, tmp_path: Path) -> None:
    out = run([str(bundle), "--version"], tmp_path)
    assert (out.returncode, out.stdout.strip()) == (0, f"storelink-pos {VERSION}"), out.stderr


def test_bundle_runs_the_standalone_demo_to_the_sale_screen(bundle: Path, tmp_path: Path) -> None:
    data = tmp_path / "demo"
    out = run(
        [str(bundle), "demo", "--standalone", "--data-dir", str(data)], tmp_path, POS_STARTUP_PROBE="1111"
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["sale_screen_painted"] >= report["sign_in_painted"]
    assert report["scan_field_focused"] is True
    # The demo catalog, the translations and the receipt template came from inside the bundle.
    found = run([str(bundle), "--data-dir", str(data), "catalog", "search", "milk"], tmp_path)
    assert found.returncode == 0 and "milk" in found.stdout.lower(), found.stderr


def test_bundle_carries_no_server_package_and_says_so_for_the_full_demo(bundle: Path, tmp_path: Path) -> None:
    internal = bundle.parent / "_internal"
    for name in ("fastapi", "uvicorn", "sqlalchemy", "alembic", "psycopg", "starlette"):
        assert not (internal / name).exists(), name
    assert not (internal / "sync" / "server").exists()
    out = run([str(bundle), "demo", "--data-dir", str(tmp_path / "full")], tmp_path)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [out.stderr.strip()]
    assert "pip install pos-central" in out.stderr and "--standalone" in out.stderr
    assert not (tmp_path / "full").exists()


def self_test_lines(out: subprocess.CompletedProcess[str]) -> dict[str, str]:
    return {line.split()[1]: line for line in out.stdout.splitlines()[1:]}


def test_bundle_self_test_passes_every_check_from_inside_the_bundle(bundle: Path, tmp_path: Path) -> None:
    from pos.selftest import CHECKS

    out = run([str(bundle), "--self-test"], tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = self_test_lines(out)
    assert list(lines) == list(CHECKS)
    assert all(line.startswith("ok ") for line in lines.values()), out.stdout
    assert f"bundle {bundle.parent}" in out.stdout.splitlines()[0]
    assert f"{bundle.parent / '_internal' / 'pos' / 'resources'}:" in lines["resources"]


def test_bundle_qt_check_on_x11_under_xvfb(bundle: Path, tmp_path: Path) -> None:
    """The xcb plugin (X11 and XWayland) loads with the libraries it needs on this Debian."""
    out = subprocess.run(
        ["xvfb-run", "-a", str(bundle), "--self-test"],
        cwd=tmp_path,
        env=bundle_env(QT_QPA_PLATFORM="xcb"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "platform plugin 'xcb' rendered" in self_test_lines(out)["qt"]


def test_bundle_stays_within_its_200_mb_budget(bundle: Path) -> None:
    """Issue 8's size target, on disk as du counts it: a dependency that drags in a toolkit shows here."""
    folder = bundle.parent
    size = sum(p.lstat().st_blocks * 512 for p in folder.rglob("*") if not p.is_symlink())
    assert size <= 200_000_000, f"dist/pos takes {size / 1e6:.0f} MB on disk (budget 200 MB)"
