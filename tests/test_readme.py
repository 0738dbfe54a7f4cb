"""The README and docs stand alone in a fresh clone: every link resolves inside the repository, the
architecture is documented here, the desktop packages the demo needs are named, and what the README
says about the demo's language and the test run is true."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import PySide6

from pos.demo import DEMO_STORE

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))


def _links(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r"`(\.\./[^`]+)`", text)


def test_every_link_in_the_readme_and_docs_resolves_inside_the_repository() -> None:
    broken = []
    for doc in [README, *DOCS]:
        for link in _links(doc):
            if re.match(r"[a-z]+://|mailto:", link):
                continue
            target = (doc.parent / link.split("#", 1)[0]).resolve()
            if not target.is_relative_to(ROOT) or not target.exists():
                broken.append(f"{doc.relative_to(ROOT)}: {link}")
    assert broken == []
    for path in [
        README,
        *DOCS,
        *ROOT.glob("pos/**/*.py"),
        *ROOT.glob("sync/**/*.py"),
        *ROOT.glob("tests/*.py"),
    ]:
        if path == Path(__file__):
            continue
        text = path.read_text(encoding="utf-8")
        assert "../shared" not in text and "DESIGN.md" not in text, path


def test_the_architecture_is_documented_in_the_repository() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert "docs/architecture.md" in README.read_text(encoding="utf-8")
    for heading in ("## Layers", "## A sale, from the scanner to head office", "## Contracts"):
        assert heading in text
    # Every module the sale's path names exists, so the walk-through stays true as code moves.
    for module in set(re.findall(r"`((?:pos|sync)/[\w/]+\.py)`", text)):
        assert (ROOT / module).is_file(), module
    for package in ("pos/domain", "pos/ledger", "pos/services", "pos/ui", "sync/server"):
        assert f"`{package}" in text, package


def _readme_apt_packages() -> set[str]:
    text = README.read_text(encoding="utf-8").replace("\\\n", " ")
    found = re.search(r"sudo apt install ([^\n`]+)", text)
    assert found, "the README names no Debian packages"
    return set(found.group(1).split())


def test_the_readme_names_the_debian_packages_qts_window_system_plugin_needs() -> None:
    """ldd of PySide6's xcb plugin, each library traced to its Debian package with dpkg: every X11,
    xkb, EGL/GL, fontconfig, D-Bus and GLib package must be in the README's apt line."""
    assert shutil.which("dpkg") and shutil.which("ldd")
    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    libraries = re.findall(
        r"=> (/\S+)", subprocess.run(["ldd", str(plugin)], capture_output=True, text=True).stdout
    )
    paths = sorted(
        {p for lib in libraries if "site-packages" not in lib for p in (lib, str(Path(lib).resolve()))}
    )
    # One dpkg call for all (each call reads the whole package database); unknown paths are skipped.
    owners = subprocess.run(["dpkg", "-S", *paths], capture_output=True, text=True).stdout
    needed = {line.split(":", 1)[0] for line in owners.splitlines() if ": " in line}
    wanted = {
        p
        for p in needed
        if p.startswith(
            ("libxcb-", "libxkbcommon-x11", "libegl", "libgl1", "libfontconfig", "libdbus", "libglib2")
        )
        and p not in ("libxcb-render0", "libxcb-shm0", "libxcb-sync1", "libxcb-util1", "libxcb-xfixes0")
    }
    assert "libxcb-cursor0" in wanted  # the one a minimal desktop lacks
    assert wanted - _readme_apt_packages() == set()


def test_the_readme_says_the_demo_is_german_and_where_to_switch() -> None:
    text = README.read_text(encoding="utf-8")
    assert DEMO_STORE["locale"] == "de_DE"
    assert "**The demo is in German.**" in text and "language box on the sign-in screen" in text
    sign_in = (ROOT / "pos" / "ui" / "sign_in.py").read_text(encoding="utf-8")
    assert 'setObjectName("languageBox")' in sign_in


def test_every_test_run_prints_its_slowest_tests() -> None:
    options = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"][
        "ini_options"
    ]
    assert "--durations=15" in options["addopts"].split()
    assert "`--durations=15`" in README.read_text(encoding="utf-8")
