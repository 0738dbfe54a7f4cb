# ruff: noqa: F811  (pytest fixtures imported from central_fixtures are parameters by name)
"""The pos-central command line, on SQLite and PostgreSQL, and `pos-central serve` as a real process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import httpx
from central_fixtures import central_db, free_port  # noqa: F401  (fixtures are used by name)
from click.testing import CliRunner
from sqlalchemy import select

from sync.protocol import PROTOCOL_VERSION
from sync.server import schema
from sync.server.cli import main
from sync.server.db import Database

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "central.md"
CENTRAL = Path(sys.executable).with_name("pos-central")


def _commands(group: click.Group, prefix: str = "pos-central") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found.extend(_commands(command, path))
        else:
            found.append((path, command))
    return found


def _section(doc: str, heading: str) -> str:
    start = doc.find(f"### `{heading}`")
    assert start >= 0, f"docs/central.md has no section for `{heading}`"
    end = doc.find("\n## ", start + 1)
    following = doc.find("\n### ", start + 1)
    ends = [e for e in (end, following) if e > 0]
    return doc[start : min(ends)] if ends else doc[start:]


def test_every_command_and_option_is_documented() -> None:
    doc = DOCS.read_text(encoding="utf-8")
    commands = _commands(main)
    assert len(commands) >= 10
    for path, command in commands:
        section = _section(doc, path)
        for param in command.params:
            if isinstance(param, click.Option):
                long_names = [o for o in param.opts if o.startswith("--")]
                assert any(f"`{o}" in section for o in long_names), f"{path}: {long_names} undocumented"


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in main.commands:
        assert name in result.output


def _run(db: Database, *args: str, input: str | None = None) -> click.testing.Result:
    url = db.engine.url.render_as_string(hide_password=False)
    return CliRunner().invoke(main, [*args, "--database", url], input=input)


def _shop(db: Database) -> None:
    result = _run(
        db,
        "store",
        "add",
        "--code",
        "S01",
        "--name",
        "Main Street",
        "--currency",
        "EUR",
        "--locale",
        "de_DE",
        "--tax-mode",
        "inclusive",
    )
    assert result.exit_code == 0, result.output


def test_store_add_refuses_bad_input_naming_each_problem(central_db: Database) -> None:
    result = _run(
        central_db,
        "store",
        "add",
        "--code",
        "S 1",
        "--name",
        "X",
        "--currency",
        "EUX",
        "--locale",
        "xx_QQ",
        "--tax-mode",
        "inclusive",
    )
    assert result.exit_code == 1
    assert "code:" in result.output and "currency:" in result.output and "locale:" in result.output
    with central_db.begin() as conn:
        assert conn.execute(select(schema.stores)).first() is None
    _shop(central_db)
    again = _run(
        central_db,
        "store",
        "add",
        "--code",
        "S01",
        "--name",
        "X",
        "--currency",
        "EUR",
        "--locale",
        "de_DE",
        "--tax-mode",
        "exclusive",
    )
    assert again.exit_code == 1 and "already exists" in again.output


def test_staff_pins_are_hashed_and_unique_within_a_store(central_db: Database) -> None:
    _shop(central_db)
    ok = _run(
        central_db, "staff", "add", "--store", "S01", "--name", "Ann", "--role", "manager", "--pin", "4711"
    )
    assert ok.exit_code == 0, ok.output
    taken = _run(
        central_db, "staff", "add", "--store", "S01", "--name", "Bob", "--role", "cashier", "--pin", "4711"
    )
    assert taken.exit_code == 1 and "has this PIN" in taken.output
    prompted = _run(
        central_db,
        "staff",
        "add",
        "--store",
        "S01",
        "--name",
        "Cy",
        "--role",
        "cashier",
        input="1357\n1357\n",
    )
    assert prompted.exit_code == 0, prompted.output
    bad = _run(
        central_db, "staff", "add", "--store", "S01", "--name", "Di", "--role", "cashier", "--pin", "12"
    )
    assert bad.exit_code == 1 and "PIN" in bad.output
    with central_db.begin() as conn:
        hashes = list(conn.execute(select(schema.staff.c.pin_hash)).scalars())
    assert len(hashes) == 2 and all(h.startswith("$argon2id$") for h in hashes)


def test_catalog_import_is_refused_whole_with_every_bad_row(central_db: Database, tmp_path: Path) -> None:
    _shop(central_db)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "sku,name,price,tax_rate,barcodes,unit\n"
        "A,Apple,0.99,7,4006381333931,piece\n"
        "B,,1.999,7,,piece\n"
        "C,Cheese,12.90,19,4006381333932,box\n"
        "A,Again,1.00,7,,piece\n",
        encoding="utf-8",
    )
    result = _run(central_db, "catalog", "import", str(bad))
    assert result.exit_code == 1
    assert "line 3:" in result.output and "more than 2 decimals" in result.output
    assert "line 4:" in result.output and "check digit" in result.output and "'box'" in result.output
    assert "line 5:" in result.output and "already appears on line 2" in result.output
    assert "line 2:" not in result.output
    with central_db.begin() as conn:
        assert conn.execute(select(schema.products)).first() is None
        assert conn.execute(select(schema.changes).where(schema.changes.c.kind == "product")).first() is None
    good = tmp_path / "good.csv"
    good.write_text(
        "sku,name,price,tax_rate,barcodes,unit\nA,Apple,0.99,7,4006381333931,piece\n", encoding="utf-8"
    )
    assert _run(central_db, "catalog", "import", str(good)).exit_code == 0
    stock = tmp_path / "stock.csv"
    stock.write_text("sku,on_hand\nA,12.5\nZ,1\n", encoding="utf-8")
    refused = _run(central_db, "stock", "import", "--store", "S01", str(stock))
    assert refused.exit_code == 1 and "line 3: sku 'Z' is not in the catalog" in refused.output
    stock.write_text("sku,on_hand\nA,12.5\n", encoding="utf-8")
    assert _run(central_db, "stock", "import", "--store", "S01", str(stock)).exit_code == 0
    with central_db.begin() as conn:
        assert conn.execute(select(schema.stock.c.on_hand_milli)).scalar_one() == 12_500
        assert conn.execute(select(schema.products.c.price)).scalar_one() == 99


def test_enroll_code_admin_add_and_terminal_revoke(central_db: Database) -> None:
    _shop(central_db)
    result = _run(central_db, "enroll-code", "--store", "S01")
    assert result.exit_code == 0
    assert re.search(r"^[A-Z2-9]{4}(-[A-Z2-9]{4}){3}$", result.stdout.strip())
    missing = _run(central_db, "enroll-code", "--store", "NOPE")
    assert missing.exit_code == 1 and "no store with code 'NOPE'" in missing.output
    added = _run(
        central_db,
        "admin",
        "add",
        "--email",
        "IT@Example.com",
        "--name",
        "IT",
        "--password",
        "long enough pw",
    )
    assert added.exit_code == 0, added.output
    short = _run(central_db, "admin", "add", "--email", "b@example.com", "--password", "short")
    assert short.exit_code == 1 and "at least 10" in short.output
    with central_db.begin() as conn:
        admin = conn.execute(select(schema.admins)).one()
    assert admin.email == "it@example.com" and admin.password_hash.startswith("$argon2id$")
    assert _run(central_db, "terminal", "revoke", "S01-T9").exit_code == 1
    # Digits int() cannot read ("²", 4,301 of them, or an id beyond the column) are just unknown.
    for odd in ("²", "9" * 4301, "99999999999999999999"):
        refused = _run(central_db, "terminal", "revoke", odd)
        assert refused.exit_code == 1 and "no terminal" in refused.output, refused.output[-300:]


def test_serve_runs_as_a_real_process_and_answers_terminals(tmp_path: Path) -> None:
    database = str(tmp_path / "central.sqlite3")
    env = {**os.environ, "POS_CENTRAL_DATABASE": database}
    subprocess.run([str(CENTRAL), "init"], check=True, env=env, capture_output=True)
    subprocess.run(
        [
            str(CENTRAL),
            "store",
            "add",
            "--code",
            "S01",
            "--name",
            "Main Street",
            "--currency",
            "EUR",
            "--locale",
            "de_DE",
            "--tax-mode",
            "inclusive",
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    code = subprocess.run(
        [str(CENTRAL), "enroll-code", "--store", "S01"], check=True, env=env, capture_output=True, text=True
    ).stdout.strip()
    port = free_port()
    public = f"http://shop.example:{port}"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(CENTRAL), "serve", "--port", str(port), "--public-url", public],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "pos-central serve did not come up"
            time.sleep(0.1)
        with httpx.Client(base_url=url, timeout=10) as client:
            assert client.get("/v1/hello").json()["public_url"] == public
            enrolled = client.post(
                "/v1/enroll",
                json={"code": code, "terminal_name": "Till 1", "protocol_version": PROTOCOL_VERSION},
            )
            assert enrolled.status_code == 200, enrolled.text
            token = enrolled.json()["token"]
            page = client.get("/v1/changes", headers={"Authorization": f"Bearer {token}"})
            assert page.status_code == 200
            assert page.json()["snapshot"] is True
            assert [c["key"] for c in page.json()["changes"] if c["kind"] == "store"] == ["S01"]
            assert client.get("/openapi.json").json()["paths"].keys() >= {"/v1/push", "/v1/changes"}
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
