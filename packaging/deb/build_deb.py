"""Build ``storelink-pos_<version>_amd64.deb`` from the onedir bundle (``make deb``).

Stages the package tree next to the output, then ``dpkg-deb --root-owner-group --build``: no
debhelper, no fakeroot. The runtime dependencies are the Debian packages that provide, on the
build machine, the libraries the bundle's ELF files need (``readelf`` NEEDED) and that the bundle
does not carry (PyInstaller leaves out libc, GL/EGL, libxcb, ...), plus fontconfig's configuration
and a font, which no ELF file names.

Usage: python3 packaging/deb/build_deb.py [--bundle dist/pos] [--out dist] [--version V]

Standard library only: it runs with Debian's python3 as well as the project's venv.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PACKAGE = "storelink-pos"
PREFIX = Path("opt") / PACKAGE
#: What the bundle needs at run time that is no library's NEEDED entry: the configuration and a font
#: for the fontconfig it carries (Qt draws no text without one).
RUNTIME_EXTRA = ["fontconfig-config", "fonts-dejavu-core"]
BASE_DEPENDS = ["adduser", "debconf (>= 0.5) | debconf-2.0"]
RECOMMENDS = ["fonts-noto-cjk"]  # Simplified Chinese on screen and on receipts
DESCRIPTION = """\
Storelink POS till (offline-first point of sale)
 The cashier's till of Storelink POS: sells, takes payments and prints
 receipts, keeps every sale in a hash-chained local ledger and syncs it with
 head office, working for days offline.
 .
 Installs the till under /opt/storelink-pos and `pos` on the PATH. The branch
 configuration (head office, store, one-time enrollment code) comes from
 debconf or /etc/storelink-pos/branch.conf; the till enrolls itself on its
 first start.
"""


def project_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return str(tomllib.load(handle)["project"]["version"])


def debian_version(version: str) -> str:
    """PEP 440 to Debian ordering: pre-releases sort before the release (``1.0rc1`` -> ``1.0~rc1``,
    ``1.0.dev2`` -> ``1.0~dev2``); ``1.0.post1`` and ``1.0+local`` already sort after ``1.0``."""
    text = re.sub(r"(?<=\d)\.?(a|b|rc|dev)(?=\d)", r"~\1", version)
    if not re.fullmatch(r"[0-9][A-Za-z0-9.+~]*", text):
        raise SystemExit(f"build_deb: version {version!r} cannot be a Debian version")
    return text


def elf_files(folder: Path) -> list[Path]:
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as handle:
                if handle.read(4) == b"\x7fELF":
                    found.append(path)
    return found


def needed_from_system(bundle: Path) -> list[str]:
    """Sonames the bundle's ELF files need (``NEEDED``) that the bundle does not carry itself."""
    files = elf_files(bundle)
    out = subprocess.run(
        ["readelf", "--dynamic", "--wide", *map(str, files)], capture_output=True, text=True, check=True
    ).stdout
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out))
    carried = {p.name for p in bundle.rglob("*")}
    return sorted(needed - carried)


def system_packages(sonames: list[str]) -> list[str]:
    """The Debian packages that provide ``sonames`` on this (the build) machine."""
    cache = subprocess.run(["/sbin/ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    paths: dict[str, str] = {}
    for line in cache.splitlines():
        match = re.match(r"\s+(\S+) \(libc6,x86-64[^)]*\) => (\S+)", line)
        if match and match.group(1) not in paths:
            paths[match.group(1)] = match.group(2)
    missing = [name for name in sonames if name not in paths]
    if missing:
        raise SystemExit(
            f"build_deb: the bundle needs {', '.join(missing)}, not installed here to find its package"
        )
    packages = set()
    for name in sonames:
        # dpkg knows the path it installed (/lib or /usr/lib, whichever: merged /usr on Debian 12).
        real = os.path.realpath(paths[name])
        candidates = {paths[name], real}
        candidates |= {c.replace("/usr/lib/", "/lib/", 1) for c in candidates if c.startswith("/usr/lib/")}
        candidates |= {"/usr" + c for c in candidates if c.startswith("/lib")}
        owners = subprocess.run(
            ["dpkg-query", "--search", *sorted(candidates)], capture_output=True, text=True, check=False
        ).stdout
        found = {
            owner.strip().split(":")[0]
            for line in owners.splitlines()
            if not line.startswith("diversion")
            for owner in line.partition(": ")[0].split(",")
        }
        if not found:
            raise SystemExit(f"build_deb: no Debian package owns {paths[name]} ({name})")
        packages |= found
    return sorted(packages)


def shlib_depends(bundle: Path) -> list[str]:
    """The packages of the system libraries the bundle links with and does not carry (ldd's view)."""
    return system_packages(needed_from_system(bundle))


def merge_depends(found: list[str]) -> list[str]:
    names = {re.split(r"[\s(]", d, maxsplit=1)[0] for d in found}
    return [*found, *[p for p in RUNTIME_EXTRA if p not in names], *BASE_DEPENDS]


def stage(bundle: Path, tree: Path, version: str, depends: list[str]) -> None:
    if tree.exists():
        shutil.rmtree(tree)
    shutil.copytree(bundle, tree / PREFIX, symlinks=True)
    install(HERE / "pos.sh", tree / "usr/bin/pos", 0o755)
    install(HERE / "kiosk-start", tree / "usr/libexec" / PACKAGE / "kiosk-start", 0o755)
    install(HERE / "storelink-pos.desktop", tree / "usr/share/applications/storelink-pos.desktop", 0o644)
    install(
        HERE / "storelink-pos-kiosk.desktop",
        tree / "usr/share" / PACKAGE / "storelink-pos-kiosk.desktop",
        0o644,
    )
    doc = tree / "usr/share/doc" / PACKAGE
    install(HERE / "copyright", doc / "copyright", 0o644)
    install(ROOT / "docs/deploying.md", doc / "deploying.md", 0o644)
    changelog = (
        f"{PACKAGE} ({version}) stable; urgency=medium\n\n"
        "  * Built from the Storelink POS repository (see its git log).\n\n"
        " -- Storelink IT <it@storelink.example>  Thu, 01 Jan 2026 00:00:00 +0000\n"
    )
    with gzip.GzipFile(doc / "changelog.gz", "wb", mtime=0, compresslevel=9) as handle:
        handle.write(changelog.encode("utf-8"))
    os.chmod(doc / "changelog.gz", 0o644)
    install(HERE / "lintian-overrides", tree / "usr/share/lintian/overrides" / PACKAGE, 0o644)
    control = tree / "DEBIAN"
    control.mkdir(parents=True)
    for script in ("config", "postinst", "prerm", "postrm"):
        install(HERE / script, control / script, 0o755)
    install(HERE / "templates", control / "templates", 0o644)
    size_kb = sum(p.lstat().st_size for p in tree.rglob("*") if not p.is_dir()) // 1024 + 1
    (control / "control").write_text(
        f"Package: {PACKAGE}\n"
        f"Version: {version}\n"
        "Architecture: amd64\n"
        "Maintainer: Storelink IT <it@storelink.example>\n"
        f"Installed-Size: {size_kb}\n"
        f"Depends: {', '.join(depends)}\n"
        f"Recommends: {', '.join(RECOMMENDS)}\n"
        "Section: misc\n"
        "Priority: optional\n"
        f"Description: {DESCRIPTION}",
        encoding="utf-8",
    )
    # Directories 0755 and nothing group- or world-writable, whoever built it.
    for path in [tree, *tree.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode & 0o7777
        if path.is_dir():
            os.chmod(path, 0o755)
        else:
            # Shared libraries are not programs: 0644 (lintian: shared-library-is-executable).
            program = mode & 0o111 and ".so" not in path.name
            os.chmod(path, 0o755 if program else 0o644)


def install(source: Path, target: Path, mode: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    os.chmod(target, mode)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / "dist/pos", help="the onedir bundle")
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="where the .deb goes")
    parser.add_argument("--version", help="package version (default: pyproject.toml's)")
    args = parser.parse_args(argv)
    bundle: Path = args.bundle
    if not (bundle / "pos").is_file():
        print(f"build_deb: no bundle at {bundle} (run `make bundle` first)", file=sys.stderr)
        return 1
    version = debian_version(args.version or project_version())
    args.out.mkdir(parents=True, exist_ok=True)
    tree = args.out / "deb-staging" / f"{PACKAGE}_{version}_amd64"
    depends = merge_depends(shlib_depends(bundle))
    stage(bundle, tree, version, depends)
    target = args.out / f"{PACKAGE}_{version}_amd64.deb"
    subprocess.run(
        # zstd: 9 s for the bundle on 2 busy cores where xz -6 took 12 minutes, for 25 % more size.
        [
            "dpkg-deb",
            "--root-owner-group",
            "-Zzstd",
            "-z3",
            "--threads-max=2",
            "--build",
            str(tree),
            str(target),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    shutil.rmtree(tree)
    print(f"{target}  ({target.stat().st_size / 1e6:.1f} MB; Depends: {', '.join(depends)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
