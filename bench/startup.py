"""The till's bundle: its size on disk, and start to usable sale screen on a 1,000,000-product
ledger, from the bundle (dist/pos/pos) beside the same start from source, in one run.

Each start is a fresh process of ``pos --data-dir DIR gui`` with ``POS_STARTUP_PROBE`` set to a demo
PIN (pos/ui/startup_probe.py): the app signs in as soon as the sign-in screen has painted and prints
when the sale screen has painted with the scan field focused. The time is from just before the
process is launched to that paint. Bundle and source starts alternate; medians of ``--runs`` each.
The bare start of the Python interpreter (``python -c pass``) is printed as the floor.

    .venv/bin/python bench/startup.py                      # 1,000,000 products, 5 runs each
    .venv/bin/python bench/startup.py --products 20000     # quick
    .venv/bin/python bench/startup.py --dir bench/out/ui   # reuse a ledger bench/ui.py prepared

Builds the bundle first with ``make bundle`` (a no-op when it is up to date). Runs offscreen by
default; set QT_QPA_PLATFORM=xcb under Xvfb for an X11 window. Targets: bundle <= 200 MB, start to
usable sale screen <= 2 s.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("STORELINK_SECRETS", "file")

BUNDLE = ROOT / "dist" / "pos" / "pos"


def bench_ui():  # type: ignore[no-untyped-def]
    """bench/ui.py (its 1,000,000-product demo ledger), loaded by path: bench/ is not a package."""
    spec = importlib.util.spec_from_file_location("bench_ui", HERE / "ui.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def size_on_disk(folder: Path) -> int:
    """Bytes the folder takes on disk (allocated blocks, as du counts them)."""
    return sum(p.lstat().st_blocks * 512 for p in folder.rglob("*") if not p.is_symlink()) + (
        folder.stat().st_blocks * 512
    )


def start_once(command: list[str], data_dir: Path, pin: str) -> dict[str, float]:
    """Start the till once; seconds from launch to the sign-in screen and to the usable sale screen."""
    env = {**os.environ, "POS_STARTUP_PROBE": pin}
    if command[0] == str(BUNDLE):
        env.pop("PYTHONPATH", None)  # the bundle carries everything
    else:
        env["PYTHONPATH"] = str(ROOT)
        # As on a developer's machine: bytecode cached after the first start (the warm-up run).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    launched = time.time()
    out = subprocess.run(
        [*command, "--data-dir", str(data_dir), "gui"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"{command[0]} failed to start (exit {out.returncode}): {out.stderr.strip()[-500:]}")
    report = json.loads(out.stdout.strip().splitlines()[-1])
    if not report["scan_field_focused"]:
        raise SystemExit(f"{command[0]}: the sale screen painted without the scan field focused")
    return {
        "sign_in_s": report["sign_in_painted"] - launched,
        "sale_screen_s": report["sale_screen_painted"] - launched,
        # The whole process's CPU time (it exits right after the sale screen): less sensitive to a
        # busy machine than the wall-clock time.
        "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
    }


def bare_python() -> float:
    launched = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - launched


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--products", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5, help="starts of each (bundle, source)")
    parser.add_argument("--dir", type=Path, default=None, help="work here (default: a temp dir)")
    args = parser.parse_args()

    pyinstaller = Path(sys.executable).parent / "pyinstaller"
    subprocess.run(
        ["make", "-C", str(ROOT), "--no-print-directory", "bundle", f"PYINSTALLER={pyinstaller}"], check=True
    )
    base = args.dir or Path(tempfile.mkdtemp(prefix="pos-startup-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    data_dir = bench_ui().prepare(base, args.products)

    from pos.demo import DEMO_STAFF

    pin = DEMO_STAFF[0][2]
    size = size_on_disk(BUNDLE.parent)
    commands = {"bundle": [str(BUNDLE)], "source": [sys.executable, "-m", "pos"]}
    print(
        f"catalog: {args.products:,} products; Python {sys.version.split()[0]}; {os.cpu_count()} CPUs; "
        f"QT_QPA_PLATFORM={os.environ['QT_QPA_PLATFORM']}"
    )
    print(f"bundle size on disk: {size / 1e6:.0f} MB ({BUNDLE.parent}; target <= 200 MB)")

    results: dict[str, list[dict[str, float]]] = {name: [] for name in commands}
    for command in commands.values():
        start_once(command, data_dir, pin)  # warm-up (page cache), not counted
    for _ in range(args.runs):
        for name, command in commands.items():
            results[name].append(start_once(command, data_dir, pin))
    bare = statistics.median(bare_python() for _ in range(args.runs))
    for name, runs in results.items():
        sale = [r["sale_screen_s"] for r in runs]
        sign_in = statistics.median(r["sign_in_s"] for r in runs)
        cpu = statistics.median(r["cpu_s"] for r in runs)
        print(
            f"{name:<6} start to usable sale screen: median {statistics.median(sale):.2f} s "
            f"(min {min(sale):.2f}, max {max(sale):.2f}, {len(sale)} runs; sign-in screen painted at "
            f"{sign_in:.2f} s; CPU time of the whole run {cpu:.2f} s); target <= 2 s"
        )
    print(f"bare Python interpreter start (python -c pass), median: {bare * 1000:.0f} ms")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
