# ruff: noqa: F811  (pytest fixtures imported from central_fixtures are parameters by name)
"""Every `pos` and `pos-central` command, given wrong, missing and malformed input, answers with a
clear message and a non-zero exit status -- never a traceback; `--verbose` shows the trace."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from central_fixtures import central_db, postgres_available  # noqa: F401  (fixtures are used by name)
from click.testing import CliRunner, Result
from sqlalchemy import select

from pos.cli import cli as pos_cli
from sync.server import schema
from sync.server.cli import main as central_cli
from sync.server.db import Database

POS = Path(sys.executable).with_name("pos")
CENTRAL = Path(sys.executable).with_name("pos-central")


def leaves(
    group: click.Group, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from leaves(command, (*prefix, name))
        else:
            yield (*prefix, name), command


#: Valid arguments of every pos-central command (the database is added by the test). A new command
#: must be added here, so it is put through the same wrong input.
CENTRAL_ARGS: dict[tuple[str, ...], list[str]] = {
    ("admin", "add"): ["--email", "it@example.com", "--password", "long enough 1"],
    ("catalog", "import"): ["CATALOG"],
    ("changes", "compact"): [],
    ("enroll-code",): ["--store", "S01"],
    ("init",): [],
    ("migrate",): [],
    ("serve",): ["--port", "1"],
    ("staff", "add"): ["--store", "S01", "--name", "Ann", "--role", "cashier", "--pin", "4821"],
    ("stock", "import"): ["--store", "S01", "STOCK"],
    ("store", "add"): [
        "--code",
        "S02",
        "--name",
        "Second",
        "--currency",
        "EUR",
        "--locale",
        "de_DE",
        "--tax-mode",
        "inclusive",
        "--timezone",
        "Europe/Berlin",
    ],
    ("store", "set"): ["S01", "--points-meaning", "100 points = 1 EUR", "--return-policy", "30 days"],
    ("terminal", "list"): [],
    ("terminal", "rekey"): ["S01-T1"],
    ("terminal", "revoke"): ["S01-T1"],
}

#: Valid arguments of every `pos` command (the data dir is added by the test).
POS_ARGS: dict[tuple[str, ...], list[str]] = {
    ("catalog", "import"): ["CATALOG"],
    ("catalog", "search"): ["coffee"],
    ("demo",): [],
    ("enroll",): ["--server", "http://127.0.0.1:9", "--code", "ABCD-EFGH-JKMN-PQRS"],
    ("export",): ["--format", "csv"],
    ("gui",): [],
    ("ledger", "backup"): [],
    ("ledger", "restore"): ["BACKUP"],
    ("ledger", "unsynced"): [],
    ("ledger", "verify"): [],
    ("sell",): ["--pin", "4821", "--scan", "4006381333931", "--cash", "20.00"],
    ("staff", "add"): ["--name", "Ann", "--pin", "4821"],
    ("staff", "list"): [],
    ("status",): [],
    ("sync",): ["--wait", "0"],
}
POS_STARTS_A_WINDOW = {("gui",), ("demo",)}

MALFORMED = ["", " ", "\x00", "-1", "9" * 400, "²", "x" * 5000, "ümlaut/../..", "%s%n"]


def assert_one_clear_line(result: Result, what: str) -> None:
    """No traceback; a failure ends in one `Error: ...` line."""
    output = result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{what}: raised {result.exception!r}\n{output[-800:]}"
    )
    assert "Traceback" not in output, f"{what}: {output[-800:]}"
    if result.exit_code != 0:
        errors = result.stderr.strip()
        last = errors.splitlines()[-1] if errors else ""
        # `pos ledger verify` names the first bad entry on a FAILED line (docs/cli.md).
        assert last.startswith(("Error:", "FAILED:")) or last == "Aborted!", f"{what}: {output[-800:]}"
        assert len(last) < 600, f"{what}: an error line of {len(last)} characters"


def test_the_tables_cover_every_command() -> None:
    assert {path for path, _ in leaves(central_cli)} == set(CENTRAL_ARGS)
    assert {path for path, _ in leaves(pos_cli)} == set(POS_ARGS)


def _files(tmp_path: Path) -> dict[str, str]:
    catalog = tmp_path / "catalog.csv"
    catalog.write_text("sku,name,price,tax_rate,barcodes,unit\nA1,Apple,1.00,7,,piece\n", encoding="utf-8")
    stock = tmp_path / "stock.csv"
    stock.write_text("sku,on_hand\nA1,5\n", encoding="utf-8")
    return {"CATALOG": str(catalog), "STOCK": str(stock)}


def _central(db_url: str, path: tuple[str, ...], args: list[str]) -> Result:
    return CliRunner().invoke(central_cli, [*path, *args, "--database", db_url], input="")


def _variants(args: list[str]) -> Iterator[tuple[str, list[str]]]:
    """The arguments with each value in turn malformed, each option in turn missing its value."""
    for index, value in enumerate(args):
        if value.startswith("--"):
            yield f"{value} without its value", args[: index + 1]
            continue
        for bad in MALFORMED:
            yield (
                f"{args[index - 1] if index else 'argument'}={bad[:12]!r}",
                [
                    *args[:index],
                    bad,
                    *args[index + 1 :],
                ],
            )


@pytest.fixture
def shop_db(tmp_path: Path) -> Iterator[Database]:
    """What input is refused does not depend on the database kind: SQLite only, for speed (the
    wrong-PostgreSQL cases are below)."""
    from central_fixtures import add_store

    db = Database.from_url(str(tmp_path / "central.sqlite3"), pool_size=2)
    db.migrate()
    add_store(db, "S01")
    yield db
    db.dispose()


def test_every_pos_central_command_with_malformed_input_answers_in_one_line(
    shop_db: Database, tmp_path: Path
) -> None:
    url = shop_db.engine.url.render_as_string(hide_password=False)
    files = _files(tmp_path)
    for path, args in CENTRAL_ARGS.items():
        args = [files.get(a, a) for a in args]
        for what, variant in _variants(args):
            # serve's only argument is its port: every variant is refused, none starts serving.
            result = _central(url, path, variant)
            assert_one_clear_line(result, f"pos-central {' '.join(path)} {what}")
    with shop_db.begin() as conn:  # what was refused left nothing behind
        codes = {r.code for r in conn.execute(select(schema.stores.c.code))}
    assert "" not in codes and " " not in codes and "\x00" not in codes


WRONG_DATABASES = {
    "a mistyped SQLite path": "{tmp}/typo/dir/c.sqlite3",
    "a file that is not a database": "{tmp}/not-a-db.sqlite3",
    "an unsupported kind of database": "mysql://root@127.0.0.1/x",
    "a URL that is not one": "postgresql://:::",
}


@pytest.mark.parametrize("kind", sorted(WRONG_DATABASES))
def test_every_pos_central_command_with_a_wrong_database_answers_in_one_line(
    kind: str, tmp_path: Path
) -> None:
    (tmp_path / "not-a-db.sqlite3").write_bytes(b"this is a spreadsheet, not SQLite " * 100)
    database = WRONG_DATABASES[kind].format(tmp=tmp_path)
    files = _files(tmp_path)
    for path, args in CENTRAL_ARGS.items():
        if path == ("init",) and kind == "a mistyped SQLite path":
            continue  # init is how a new database is made, folders and all
        result = _central(database, path, [files.get(a, a) for a in args])
        assert result.exit_code == 1, f"{path} on {kind}: {result.output}"
        assert_one_clear_line(result, f"pos-central {' '.join(path)} on {kind}")
    assert not (tmp_path / "typo").exists(), "a mistyped path was created"


@pytest.mark.postgres
def test_pos_central_with_a_wrong_postgresql_role_or_database_says_so_in_one_line() -> None:
    assert postgres_available()
    missing_db = f"postgresql://postgres@127.0.0.1:5432/missing_{uuid.uuid4().hex[:8]}"
    wrong_role = f"postgresql://nobody_{uuid.uuid4().hex[:6]}@127.0.0.1:5432/postgres"
    for url, expected in ((missing_db, "database"), (wrong_role, "role")):
        for path in (("migrate",), ("serve",), ("store", "add"), ("terminal", "list")):
            args = [a for a in CENTRAL_ARGS[path] if a not in ("--port", "1")]
            result = _central(url, path, args)
            assert result.exit_code == 1, result.output
            assert_one_clear_line(result, f"{path} on {url}")
            assert f'{expected} "' in result.output and "does not exist" in result.output, result.output
            assert "serving" not in result.output and "pos-central on" not in result.output


def test_serve_with_a_missing_database_exits_1_in_one_line_before_announcing(tmp_path: Path) -> None:
    """The real program, as IT runs it: one line on stderr, nothing about serving, exit 1."""
    typo = tmp_path / "typo" / "central.sqlite3"
    done = subprocess.run(
        [str(CENTRAL), "serve", "--database", str(typo), "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"Error: no database at {typo}: check --database (or POS_CENTRAL_DATABASE), or create a new one "
        f"with `pos-central init --database {typo}`"
    ]
    assert not typo.parent.exists()
    verbose = subprocess.run(
        [str(CENTRAL), "--verbose", "migrate", "--database", str(tmp_path / "x.sqlite3")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verbose.returncode == 1 and "no database at" in verbose.stderr


def test_init_creates_a_database_and_migrate_then_upgrades_it(tmp_path: Path) -> None:
    target = tmp_path / "new" / "central.sqlite3"
    refused = CliRunner().invoke(central_cli, ["migrate", "--database", str(target)])
    assert refused.exit_code == 1 and "pos-central init" in refused.output
    assert not target.parent.exists()
    made = CliRunner().invoke(central_cli, ["init", "--database", str(target)])
    assert made.exit_code == 0, made.output
    assert target.is_file() and "database at revision" in made.output
    again = CliRunner().invoke(central_cli, ["migrate", "--database", str(target)])
    assert again.exit_code == 0 and made.output == again.output


def test_an_unexpected_error_is_one_line_and_the_trace_only_with_verbose(tmp_path: Path) -> None:
    not_a_db = tmp_path / "central.sqlite3"
    not_a_db.write_bytes(b"\x00garbage" * 512)
    quiet = subprocess.run(
        [str(CENTRAL), "terminal", "list", "--database", str(not_a_db)], capture_output=True, text=True
    )
    assert quiet.returncode == 1
    assert len(quiet.stderr.strip().splitlines()) == 1 and quiet.stderr.startswith("Error: database:")
    loud = subprocess.run(
        [str(CENTRAL), "--verbose", "terminal", "list", "--database", str(not_a_db)],
        capture_output=True,
        text=True,
    )
    assert loud.returncode == 1
    assert "Traceback (most recent call last)" in loud.stderr
    assert loud.stderr.strip().splitlines()[-1] == quiet.stderr.strip()


# --- pos ----------------------------------------------------------------------------------------------


def _pos(data_dir: Path, path: tuple[str, ...], args: list[str]) -> Result:
    return CliRunner().invoke(pos_cli, ["--data-dir", str(data_dir), *path, *args], input="")


def test_every_pos_command_with_malformed_input_answers_in_one_line(tmp_path: Path) -> None:
    files = _files(tmp_path)
    data = tmp_path / "till"
    for path, args in POS_ARGS.items():
        if path in POS_STARTS_A_WINDOW:
            continue  # they take no input beyond the data dir (below)
        args = [files.get(a, a) for a in args]
        for what, variant in _variants(args):
            result = _pos(data, path, variant)
            assert_one_clear_line(result, f"pos {' '.join(path)} {what}")


def test_every_pos_command_on_a_damaged_or_wrong_data_dir_answers_in_one_line(tmp_path: Path) -> None:
    files = _files(tmp_path)
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "ledger.sqlite3").write_bytes(b"not a ledger at all " * 400)
    (damaged / "terminal.json").write_text("{not json", encoding="utf-8")
    a_file = tmp_path / "a-file"
    a_file.write_text("x", encoding="utf-8")
    for path, args in POS_ARGS.items():
        args = [files.get(a, a) for a in args]
        for data_dir in (damaged, a_file):
            if path in POS_STARTS_A_WINDOW and data_dir == damaged:
                continue  # the window reports a damaged ledger itself (tests/test_ui.py)
            result = _pos(data_dir, path, args)
            assert result.exit_code != 0, f"pos {path} on {data_dir.name}: {result.output}"
            assert_one_clear_line(result, f"pos {' '.join(path)} on {data_dir.name}")


def test_pos_enroll_with_a_bad_code_says_so_before_asking_the_server(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            str(POS),
            "--data-dir",
            str(tmp_path / "till"),
            "enroll",
            "--server",
            "http://127.0.0.1:9",
            "--code",
            "BAD",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: 'BAD' is not an enrollment code: it looks like ABCD-EFGH-JKMN-PQRS "
        "(IT creates one with `pos-central enroll-code`)"
    ]
    assert not (tmp_path / "till").exists(), "the data dir was touched"


def test_pos_version_prints_the_installed_version() -> None:
    from pos.services.fleet import app_version

    done = subprocess.run([str(POS), "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"storelink-pos {app_version()}"
    assert app_version() != "0+unknown"


def test_store_add_refuses_an_unknown_timezone_naming_the_nearest(central_db: Database) -> None:
    url = central_db.engine.url.render_as_string(hide_password=False)
    base = CENTRAL_ARGS[("store", "add")][:-2]
    for given, hint in (
        ("Berlin", "did you mean Europe/Berlin?"),
        ("europe/berlin", "did you mean Europe/Berlin?"),
        ("New York", "did you mean America/New_York?"),
        ("Europe/Berln", "Europe/Berlin"),
        ("Mars/Olympus_Mons", "is not a time zone name"),
    ):
        result = _central(url, ("store", "add"), [*base, "--timezone", given])
        assert result.exit_code == 1, result.output
        assert hint in result.output and f"timezone: {given!r}" in result.output
    with central_db.begin() as conn:
        assert conn.execute(select(schema.stores)).first() is None
    ok = _central(url, ("store", "add"), [*base, "--timezone", "Europe/Berlin"])
    assert ok.exit_code == 0, ok.output
    with central_db.begin() as conn:
        assert conn.execute(select(schema.stores.c.timezone)).scalar_one() == "Europe/Berlin"


# --- no display -------------------------------------------------------------------------------------------


def _without_display(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    return {**env, **extra}


@pytest.mark.parametrize("command", ["gui", "demo"])
def test_pos_without_a_display_says_so_and_how_to_run_headless(command: str, tmp_path: Path) -> None:
    for env, expected in (
        (_without_display(), "no display found (DISPLAY and WAYLAND_DISPLAY are not set)"),
        (_without_display(DISPLAY=":93"), "no display found: nothing answers at DISPLAY=:93"),
    ):
        done = subprocess.run(
            [str(POS), "--data-dir", str(tmp_path / "till"), command],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 1
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0] and "xvfb-run pos" in lines[0], done.stderr
        assert "libxcb-cursor0" not in done.stderr
        assert not (tmp_path / "till").exists()


def test_a_real_x_server_is_found() -> None:
    """Under xvfb-run (a real X server) the check passes: it does not refuse working displays."""
    done = subprocess.run(
        [
            "xvfb-run",
            "-a",
            sys.executable,
            "-c",
            "from pos.cli import display_problem; print(repr(display_problem()))",
        ],
        env=_without_display(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "None"


def test_an_unknown_zone_already_stored_shows_utc_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    """A store added before zones were checked: its pages show UTC, and the log says why (once)."""
    import logging

    from sync.server.stores import zone_or_utc

    zone_or_utc.cache_clear()
    with caplog.at_level(logging.WARNING, logger="sync.server.stores"):
        assert str(zone_or_utc("Berlin")) == "UTC"
        assert str(zone_or_utc("Berlin")) == "UTC"
        assert str(zone_or_utc("Europe/Berlin")) == "Europe/Berlin"
    assert [r.getMessage() for r in caplog.records] == [
        "store time zone 'Berlin' is not known here: times are shown in UTC"
    ]


@pytest.mark.parametrize(
    ("program", "args", "expected"),
    [
        (CENTRAL, ["--bogus"], "Error: No such option '--bogus'"),
        (
            CENTRAL,
            ["store", "add", "--code", "S1"],
            "Error: Missing option '--name'. (see `pos-central store add --help`)",
        ),
        (CENTRAL, ["serve", "--port", "http"], "Error: Invalid value for '--port'"),
        (POS, ["export", "--format", "xml"], "Error: Invalid value for '--format'"),
        (POS, ["staff", "add", "--role", "boss"], "(see `pos staff add --help`)"),
    ],
)
def test_a_usage_mistake_is_one_line_naming_the_help_with_exit_2(
    program: Path, args: list[str], expected: str
) -> None:
    done = subprocess.run([str(program), *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], done.stderr
    assert "--help`)" in lines[0]
