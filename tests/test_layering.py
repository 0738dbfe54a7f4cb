"""The layers in docs/architecture.md, enforced: dependencies point down, Qt stays in the UI, the server
stands alone, and the shop's rules do no I/O and read no clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

IO_MODULES = {
    "sqlite3",
    "sqlite_utils",
    "httpx",
    "socket",
    "requests",
    "PySide6",
    "shiboken6",
    "os",
    "subprocess",
}
CLOCK_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("date", "today"),
    ("time", "time"),
    ("time", "monotonic"),
    ("time", "perf_counter"),
    ("datetime", "today"),
}


def python_files(*parts: str) -> list[Path]:
    base = ROOT.joinpath(*parts)
    return sorted(p for p in base.rglob("*.py") if "migrations" not in p.parts or parts[:1] != ("sync",))


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def top(name: str) -> str:
    return name.split(".")[0]


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def is_ui(path: Path) -> bool:
    r = rel(path)
    return r.startswith("pos/ui/") or r == "pos/app.py"


def test_qt_is_imported_only_by_the_ui_layer() -> None:
    offenders = [
        rel(p)
        for p in python_files("pos") + python_files("sync")
        if not is_ui(p) and any(top(m) in {"PySide6", "shiboken6"} for m in imported_modules(p))
    ]
    assert offenders == [], f"Qt imported below pos/ui: {offenders}"


def test_sync_never_imports_the_terminal() -> None:
    offenders = [rel(p) for p in python_files("sync") if any(top(m) == "pos" for m in imported_modules(p))]
    assert offenders == [], f"sync/ imports pos: {offenders}"


def test_domain_does_no_io() -> None:
    offenders = {
        rel(p): sorted(
            m
            for m in imported_modules(p)
            if top(m) in IO_MODULES or (m.startswith("pos.") and not m.startswith("pos.domain"))
        )
        for p in python_files("pos", "domain")
    }
    offenders = {k: v for k, v in offenders.items() if v}
    assert offenders == {}, f"pos/domain must stay pure: {offenders}"


def test_domain_reads_no_clock() -> None:
    found: list[str] = []
    for path in python_files("pos", "domain"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", None)
                if (owner_name, node.func.attr) in CLOCK_CALLS:
                    found.append(f"{rel(path)}:{node.lineno}")
    assert found == [], f"pos/domain reads the clock (pass time in instead): {found}"


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("ledger", {"pos.services", "pos.ui", "pos.app", "pos.cli"}),
        ("services", {"pos.ui", "pos.app"}),
        ("hardware", {"pos.services", "pos.ui", "pos.app", "pos.ledger"}),
    ],
)
def test_lower_layers_do_not_import_upper_ones(layer: str, forbidden: set[str]) -> None:
    offenders = {
        rel(p): sorted(
            m for m in imported_modules(p) if any(m == f or m.startswith(f + ".") for f in forbidden)
        )
        for p in python_files("pos", layer)
    }
    offenders = {k: v for k, v in offenders.items() if v}
    assert offenders == {}, f"pos/{layer} imports a layer above it: {offenders}"


def test_the_checks_see_the_code() -> None:
    # Guard against the tests above passing because they looked at nothing.
    assert python_files("sync"), "no files found under sync/"
    assert any(p.name == "protocol.py" for p in python_files("sync"))
