"""What the till's start imports before its sale screen is usable: modules the sale screen does not
need wait until they are needed (docs/performance.md, "Bundle and start-up"). The start is real:
``pos demo --standalone`` in a fresh process with ``POS_STARTUP_PROBE`` (it signs in, reports the
painted sale screen and exits); the modules loaded by then are read at the process's exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from biip.rcn import RcnRegion

from pos.domain.scanning import RCN_REGIONS, ScanConfig, route_scan

ROOT = Path(__file__).resolve().parent.parent

# Run pos's command line as `python -m pos` does, and print at exit which of these are loaded.
WATCH = (
    "biip",
    "escpos",
    "jinja2",
    "qrcode",
    "PIL",
    "fastapi",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "sync.server",
)
PROGRAM = f"""
import atexit, json, runpy, sys
watch = {WATCH!r}
atexit.register(lambda: print(json.dumps(sorted(w for w in watch if w in sys.modules))))
sys.argv = ["pos", *sys.argv[1:]]
runpy.run_module("pos", run_name="__main__")
"""


def start(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "POS_STARTUP_PROBE": "1111", "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [sys.executable, "-c", PROGRAM, *args], env=env, capture_output=True, text=True, timeout=600
    )


def test_start_to_the_sale_screen_loads_no_gs1_tables_printer_or_server_code(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    prepared = start("demo", "--standalone", "--data-dir", str(data))  # imports the demo catalog
    assert prepared.returncode == 0, prepared.stderr
    out = start("--data-dir", str(data), "gui")  # the till's everyday start
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    report = json.loads(lines[-2])
    assert report["scan_field_focused"] is True
    # The demo store reads German variable-measure codes (rcn_region "de"), yet biip waits for a scan.
    assert json.loads(lines[-1]) == []


def test_the_regions_checked_at_start_are_biips() -> None:
    assert tuple(region.value for region in RcnRegion) == RCN_REGIONS
    for region in RCN_REGIONS:
        assert ScanConfig(rcn_region=region).rcn_region == region


def test_a_scan_still_reads_a_gs1_code_after_a_start_without_biip() -> None:
    code = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from pos.domain.scanning import ScanConfig, route_scan;"
            "assert 'biip' not in sys.modules;"
            "print(route_scan('(01)04006381333931(3103)000250', ScanConfig(currency='EUR')))",
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert code.returncode == 0, code.stderr
    assert "weight_milli=250" in code.stdout
    assert route_scan("(01)04006381333931(3103)000250", ScanConfig()).weight_milli == 250  # type: ignore[union-attr]
