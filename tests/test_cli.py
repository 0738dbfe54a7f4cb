"""The `pos` command line: every command documented, bad input refused whole with data unchanged."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from ledger_support import DEMO_CATALOG, ROOT, quick_sale, ready_terminal, table_digest

from pos.cli import cli

DOCS = ROOT / "docs" / "cli.md"


def commands(group: click.Group, prefix: str = "pos") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        found.append((path, command))
        if isinstance(command, click.Group):
            found.extend(commands(command, path))
    return found


def sections() -> dict[str, str]:
    text = DOCS.read_text(encoding="utf-8")
    parts = re.split(r"^## `([^`]+)`\s*$", text, flags=re.MULTILINE)
    return {
        re.sub(r" [A-Z][A-Z.]*\.?\w*$", "", title): body
        for title, body in zip(parts[1::2], parts[2::2], strict=True)
    }


def test_every_command_and_option_is_documented_in_docs_cli_md() -> None:
    documented = sections()
    missing: list[str] = []
    for path, command in [("pos", cli), *commands(cli)]:
        if path not in documented:
            missing.append(path)
            continue
        for param in command.params:
            if isinstance(param, click.Option):
                for opt in param.opts:
                    if opt.startswith("--") and opt not in documented[path]:
                        missing.append(f"{path} {opt}")
    assert missing == [], f"undocumented in docs/cli.md: {missing}"


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in ["catalog", "demo", "enroll", "export", "gui", "ledger", "staff", "status", "sync"]:
        assert re.search(rf"^\s+{name}\s", result.output, flags=re.MULTILINE), name


def run(*args: str, input: str | None = None) -> click.testing.Result:
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def test_import_the_demo_catalog_then_search_it(tmp_path: Path) -> None:
    result = run("--data-dir", str(tmp_path), "catalog", "import", str(DEMO_CATALOG))
    assert result.exit_code == 0, result.output
    rows = len(list(csv.DictReader(io.StringIO(DEMO_CATALOG.read_text(encoding="utf-8")))))
    assert f"Imported {rows} products" in result.output
    found = run("catalog", "search", "coffee beans", "--data-dir", str(tmp_path))
    assert "Coffee beans, house blend" in found.output


BAD_ROWS = """sku,name,price,tax_rate,barcodes,unit
OK1,Good product,1.99,19,4006381333931,piece
BAD1,Bad price,1.999,19,,piece
BAD2,Bad check digit,2.00,19,4006381333932,piece
,No sku,2.00,19,,piece
BAD4,Bad unit,2.00,19,,litre
BAD5,Bad tax,2.00,100,,piece
OK1,Duplicate sku,3.00,7,,piece
BAD7,Duplicate barcode,3.00,7,4006381333931,piece
BAD8,Too few columns,3.00
BAD9,Comma price,"3,50",7,,piece
"""


def test_a_catalog_with_bad_rows_is_refused_whole_naming_every_bad_row(tmp_path: Path) -> None:
    data = tmp_path / "till"
    assert run("--data-dir", str(data), "catalog", "import", str(DEMO_CATALOG)).exit_code == 0
    before = table_digest(data / "ledger.sqlite3")
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD_ROWS, encoding="utf-8")
    result = run("--data-dir", str(data), "catalog", "import", str(bad))
    assert result.exit_code == 1
    named = sorted(int(n) for n in re.findall(r"line (\d+):", result.output))
    assert named == [3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert "price '1.999'" in result.output
    assert "check digit" in result.output
    assert "SKU OK1 is already on line 2" in result.output
    assert "barcode 4006381333931 is already on line 2" in result.output
    assert "expected 6 columns, found 3" in result.output
    assert "nothing was imported" in result.output
    assert table_digest(data / "ledger.sqlite3") == before


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty"),
        (b"sku,name,price\nA,B,1.00\n", "lacks tax_rate, barcodes, unit"),
        (b"sku,name,price,tax_rate,barcodes,unit\nA,\xff\xfe,1.00,7,,piece\n", "not UTF-8"),
        (b"sku,name,price,tax_rate,barcodes,unit\n", "no product rows"),
        (b'sku,name,price,tax_rate,barcodes,unit\nA,"unterminated,1.00,7,,piece\n', "not valid CSV"),
    ],
)
def test_unreadable_catalog_files_are_refused_clearly(tmp_path: Path, content: bytes, words: str) -> None:
    data = tmp_path / "till"
    run("--data-dir", str(data), "status")
    before = table_digest(data / "ledger.sqlite3")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    result = run("--data-dir", str(data), "catalog", "import", str(bad))
    assert result.exit_code == 1
    assert words in result.output
    assert table_digest(data / "ledger.sqlite3") == before


def test_a_barcode_of_another_product_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "till"
    first = tmp_path / "first.csv"
    first.write_text("sku,name,price,tax_rate,barcodes,unit\nA,Alpha,1.00,7,4006381333931,piece\n")
    assert run("--data-dir", str(data), "catalog", "import", str(first)).exit_code == 0
    second = tmp_path / "second.csv"
    second.write_text("sku,name,price,tax_rate,barcodes,unit\nB,Beta,1.00,7,4006381333931,piece\n")
    result = run("--data-dir", str(data), "catalog", "import", str(second))
    assert result.exit_code == 1
    assert "line 2: barcode 4006381333931 already belongs to product A" in result.output
    missing = run("--data-dir", str(data), "catalog", "import", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 1 and "no such file" in missing.output


def test_status_shows_the_terminal_the_queue_and_the_journal_head(tmp_path: Path) -> None:
    terminal = ready_terminal(tmp_path)
    done = quick_sale(terminal)
    terminal.ledger.close()
    result = run("status", "--data-dir", str(tmp_path))
    assert result.exit_code == 0
    assert "T0 (id 0, standalone)" in result.output
    assert re.search(r"Queued events:\s+4 ", result.output)  # catalog import, sign-in, shift, sale: unsent
    assert done.receipt_no in result.output
    info = json.loads(run("status", "--json", "--data-dir", str(tmp_path)).output)
    assert info["journal_head_seq"] == info["queued_events"] == 4
    assert info["sqlite_version"]


def test_export_journal_as_jsonl_and_csv_and_sales_as_csv(tmp_path: Path) -> None:
    terminal = ready_terminal(tmp_path)
    done = quick_sale(terminal)
    terminal.ledger.close()
    lines = run("export", "--format", "jsonl", "--data-dir", str(tmp_path)).output.splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    assert entries[-1]["payload"]["sale_id"] == done.sale_id
    table = list(
        csv.DictReader(io.StringIO(run("export", "--format", "csv", "--data-dir", str(tmp_path)).output))
    )
    assert table[-1]["hash"] == entries[-1]["hash"]
    assert json.loads(table[-1]["payload"]) == entries[-1]["payload"]
    out = tmp_path / "sales.csv"
    assert (
        run(
            "export", "--format", "csv", "--what", "sales", "-o", str(out), "--data-dir", str(tmp_path)
        ).exit_code
        == 0
    )
    sales = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert sales[0]["receipt_no"] == done.receipt_no and sales[0]["sku"] == "A1"
    bad = CliRunner().invoke(cli, ["export", "--format", "xml", "--data-dir", str(tmp_path)])
    assert bad.exit_code == 2 and "xml" in bad.output


def test_staff_add_and_list_and_bad_pins_are_refused(tmp_path: Path) -> None:
    added = run(
        "staff", "add", "--name", "Ann", "--role", "manager", "--pin", "5555", "--data-dir", str(tmp_path)
    )
    assert added.exit_code == 0 and "Added manager Ann" in added.output
    prompted = run("staff", "add", "--name", "Bob", "--data-dir", str(tmp_path), input="6666\n6666\n")
    assert prompted.exit_code == 0, prompted.output
    before = table_digest(tmp_path / "ledger.sqlite3")
    taken = run("staff", "add", "--name", "Cy", "--pin", "5555", "--data-dir", str(tmp_path))
    assert taken.exit_code == 1 and "already taken" in taken.output
    short = run("staff", "add", "--name", "Cy", "--pin", "12", "--data-dir", str(tmp_path))
    assert short.exit_code == 1 and "4 to 8 digits" in short.output
    assert table_digest(tmp_path / "ledger.sqlite3") == before
    listed = run("staff", "list", "--data-dir", str(tmp_path)).output
    assert "manager  Ann" in listed and "cashier  Bob" in listed and "5555" not in listed


def test_ledger_backup_writes_a_backup(tmp_path: Path) -> None:
    result = run("ledger", "backup", "--data-dir", str(tmp_path))
    assert result.exit_code == 0
    path = Path(result.output.split("Backup written: ")[1].strip())
    assert path.is_file() and path.parent == tmp_path / "backups"


def test_a_damaged_ledger_is_reported_with_the_backup_to_restore(tmp_path: Path) -> None:
    run("ledger", "backup", "--data-dir", str(tmp_path))
    (tmp_path / "ledger.sqlite3").write_bytes(b"garbage" * 1000)
    for name in ("ledger.sqlite3-wal", "ledger.sqlite3-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    result = CliRunner().invoke(cli, ["status", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "integrity check" in result.output and "backups" in result.output


def test_export_and_verify_without_a_ledger_say_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["export", "--format", "jsonl", "--data-dir", str(tmp_path / "none")])
    assert result.exit_code == 1 and "no ledger" in result.output
    assert not (tmp_path / "none").exists()  # nothing was created
