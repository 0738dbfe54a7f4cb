"""Mutation testing of the critical modules, module by module (``make mutation``; not run by CI).

For each group below, the tree (files git knows, with uncommitted changes) is copied to
``build/mutation/<group>/``, mutmut is configured there to mutate only that group's files and to
run only that group's tests, and ``mutmut run`` works through the mutants with ONE worker at
``nice -n 19`` (the machine is shared). The figures are printed and written to
``build/mutation/summary.txt``; the survivors of each group to ``build/mutation/<group>.survivors``.

    python tools/mutation.py                 # every group
    python tools/mutation.py domain codes    # some groups
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "mutation"

#: group -> (files to mutate, the tests that cover them, extra pytest arguments)
GROUPS: dict[str, tuple[list[str], list[str], list[str]]] = {
    "domain": (
        ["pos/domain/*"],
        [
            "tests/test_tax.py",
            "tests/test_money.py",
            "tests/test_sale.py",
            "tests/test_tenders.py",
            "tests/test_scanning.py",
            "tests/test_domain_returns.py",
            "tests/test_domain_staff_shift.py",
            "tests/test_domain_edges.py",
        ],
        [],
    ),
    "journal": (["pos/ledger/journal.py"], ["tests/test_journal.py", "tests/test_tamper.py"], []),
    "codes": (
        ["sync/codes.py"],
        ["tests/test_codes.py", "tests/test_codes_edges.py", "tests/test_scanning.py"],
        [],
    ),
    "protocol": (
        ["sync/protocol.py"],
        ["tests/test_canonical_json.py", "tests/test_wire_strict.py", "tests/test_fleet_report.py"],
        ["-k", "not postgresql"],
    ),
    "engine": (["sync/engine.py"], ["tests/test_engine.py"], []),
    "push": (
        ["sync/server/push.py"],
        ["tests/test_central_api.py", "tests/test_central_claims.py", "tests/test_member_trust.py"],
        ["-k", "not postgresql"],
    ),
}


def copy_tree(target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split("\n")
    for name in files:
        source = ROOT / name
        if name and source.is_file() and not name.startswith(("build/", "dist/")):
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def configure(target: Path, mutate: list[str], tests: list[str], extra: list[str]) -> None:
    def toml_list(items: list[str]) -> str:
        return "[" + ", ".join(json.dumps(i) for i in items) + "]"

    with (target / "pyproject.toml").open("a", encoding="utf-8") as f:
        f.write(
            "\n[tool.mutmut]\n"
            'source_paths = ["pos/", "sync/"]\n'
            f"only_mutate = {toml_list(mutate)}\n"
            'also_copy = ["resources/"]\n'
            f"pytest_add_cli_args_test_selection = {toml_list(tests)}\n"
            f"pytest_add_cli_args = {toml_list(['-p', 'no:randomly', '-q', '-x', '-p', 'no:cacheprovider', '--hypothesis-profile=mutation', *extra])}\n"
        )


def run_group(name: str) -> dict[str, int]:
    mutate, tests, extra = GROUPS[name]
    target = OUT / name
    copy_tree(target)
    configure(target, mutate, tests, extra)
    beside = Path(sys.executable).parent / "mutmut"  # the venv's, as `make mutation` runs it
    mutmut = [str(beside)] if beside.exists() else [sys.executable, "-m", "mutmut"]
    started = time.monotonic()
    log = (OUT / f"{name}.log").open("w", encoding="utf-8")
    subprocess.run(
        ["nice", "-n", "19", *mutmut, "run", "--max-children", "1"], cwd=target, stdout=log, stderr=log
    )
    subprocess.run([*mutmut, "export-cicd-stats"], cwd=target, stdout=log, stderr=log)
    stats = json.loads((target / "mutants" / "mutmut-cicd-stats.json").read_text(encoding="utf-8"))
    survivors = subprocess.run([*mutmut, "results"], cwd=target, capture_output=True, text=True).stdout
    (OUT / f"{name}.survivors").write_text(survivors, encoding="utf-8")
    stats["seconds"] = int(time.monotonic() - started)
    return stats


def rate(stats: dict[str, int]) -> str:
    """mutmut's own score: (killed + timed out) / (all mutants - skipped); uncovered ones count
    as not killed."""
    tested = stats.get("total", 0) - stats.get("skipped", 0)
    caught = stats.get("killed", 0) + stats.get("timeout", 0)
    return f"{100 * caught / tested:.1f} %" if tested else "n/a"


def main(names: list[str]) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    unknown = [n for n in names if n not in GROUPS]
    if unknown:
        print(f"unknown group(s) {', '.join(unknown)}: choose from {', '.join(GROUPS)}", file=sys.stderr)
        return 2
    lines = []
    for name in names or list(GROUPS):
        stats = run_group(name)
        line = (
            f"{name}: {rate(stats)} killed ({stats.get('killed', 0)} killed, {stats.get('timeout', 0)} timed out,"
            f" {stats.get('survived', 0)} survived, {stats.get('no_tests', 0)} not covered,"
            f" {stats.get('skipped', 0)} skipped; {stats['seconds']} s)"
        )
        print(line, flush=True)
        lines.append(line)
    (OUT / "summary.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
