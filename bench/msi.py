"""How long the Windows installer takes to author and to install (under wine), and its size.

Authors an MSI from the bundle tree (default dist/pos/, ``make bundle``) with
packaging/windows/msi.py, then in a fresh throwaway WINEPREFIX: ``wineboot``, a silent install with
SERVER/STORE/CODE, and an uninstall. Prints one line per step beside the bundle's size and file
count. Wine stands in for Windows: these are CI's costs, not a Windows till's.

    python bench/msi.py [--bundle dist/pos]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "packaging" / "windows"))
import msi  # noqa: E402


def timed(label: str, args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:  # a file, not a pipe: wine's servers inherit it
        done = subprocess.run(args, env=env, stdout=out, stderr=out, check=False)
    seconds = time.perf_counter() - start
    print(f"{label:<34} {seconds:7.1f} s   (exit {done.returncode})")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--bundle", type=Path, default=ROOT / "dist" / "pos")
    args = parser.parse_args()
    files = [p for p in args.bundle.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    # Symlinks followed: Windows has none in its bundle, and the MSI carries a copy of the target.
    print(f"bundle {args.bundle}: {len(files)} files, {size / 1e6:.0f} MB (symlinks followed)")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "storelink-pos-bench.msi"
        start = time.perf_counter()
        msi.build(args.bundle, out, msi.project_version())
        print(
            f"{'author (msi.py: wixl + msibuild)':<34} {time.perf_counter() - start:7.1f} s   "
            f"{out.stat().st_size / 1e6:.0f} MB"
        )
        env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
        env.update(
            WINEPREFIX=str(Path(tmp) / "prefix"),
            WINEARCH="win64",
            WINEDEBUG="-all",
            WINEDLLOVERRIDES="mscoree,mshtml=",
        )
        try:
            timed("wineboot (fresh prefix)", ["wine", "wineboot", "-i"], env)
            timed(
                "msiexec /i /qn SERVER= STORE= CODE=",
                [
                    "wine",
                    "msiexec",
                    "/i",
                    str(out),
                    "/qn",
                    "SERVER=https://hq.example.com",
                    "STORE=B001",
                    "CODE=ABCD-EFGH-JKMN-PQRS",
                ],
                env,
            )
            timed("msiexec /x /qn", ["wine", "msiexec", "/x", str(out), "/qn"], env)
        finally:
            subprocess.run(["wineserver", "-k"], env=env, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
