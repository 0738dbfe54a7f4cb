"""The ``pos`` command line: the terminal GUI, and the commands IT and support use.

Every command takes ``--data-dir DIR`` (before or after the command name; default: the platform's
user data directory, or ``$POS_DATA_DIR``). Each command is documented in docs/cli.md; a test
fails when one is not.
"""

from __future__ import annotations

import csv
import json
import logging
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from pos.config import ConfigError, default_data_dir
from sync.cli_errors import FriendlyGroup

F = TypeVar("F", bound=Callable[..., Any])


def _data_dir(ctx: click.Context, value: Path | None) -> Path:
    if value is not None:
        return value
    root = ctx.find_root()
    found: Path | None = root.params.get("data_dir") if root is not ctx else None
    return found if found is not None else default_data_dir()


def data_dir_option(fn: F) -> F:
    """Add ``--data-dir`` to a subcommand; without it the group's ``--data-dir`` applies."""
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Where the ledger and the terminal's configuration live.",
    )(fn)


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"Error: {message}", err=True)
    raise SystemExit(code)


@contextmanager
def _terminal(ctx: click.Context, data_dir: Path | None) -> Iterator[Any]:
    """Open the terminal for one command, turning known failures into a clear message."""
    from pos.ledger.db import LedgerError
    from pos.services.terminal import open_terminal

    try:
        terminal = open_terminal(_data_dir(ctx, data_dir))
    except (LedgerError, ConfigError, OSError) as exc:
        _fail(str(exc))
    try:
        yield terminal
    finally:
        terminal.ledger.close()


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from pos.services.fleet import app_version

    click.echo(f"storelink-pos {app_version()}")
    ctx.exit()


def _self_test(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from pos.selftest import run_self_test

    try:
        failed = run_self_test(click.echo)
    except Exception as exc:  # the child process of the Qt check: its one line says why
        click.echo(f"Error: {exc}", err=True)
        ctx.exit(1)
    if failed:
        click.echo(f"Self-test FAILED: {', '.join(failed)}", err=True)
        ctx.exit(1)
    ctx.exit(0)


class PosGroup(FriendlyGroup):
    """The root group: a failing command prints one line and exits 1 (the trace with --verbose)."""

    def describe_error(self, exc: BaseException) -> str:
        if isinstance(exc, sqlite3.DatabaseError):
            return f"the ledger cannot be read: {exc}"
        return super().describe_error(exc)


@click.group(
    cls=PosGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Print this build's version (as head office's fleet view shows it) and exit.",
)
@click.option(
    "--self-test",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_self_test,
    help="Check this installation can run a till (Qt, SQLite, ledger, QR, receipt, printer, keyring); "
    "one line per check, exit 1 naming what failed.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="POS_DATA_DIR",
    default=None,
    help="Where the ledger and the terminal's configuration live (default: the user data directory).",
)
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Log what happens (SQLite version, backups, migrations); on an error, print the full trace.",
)
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, verbose: bool) -> None:
    """Storelink POS terminal. With no command, starts the cashier GUI."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )
    if ctx.invoked_subcommand is None:
        ctx.invoke(gui)


HEADLESS_ADVICE = (
    "run `pos` in the desktop session of the till's screen, or without a screen with "
    "`xvfb-run pos ...` (or QT_QPA_PLATFORM=offscreen for no window at all)"
)


def _x_server_answers(display: str) -> bool:
    """Whether an X server listens at ``display`` (``:0``, ``:0.0``, ``unix:1``, ``host:0``)."""
    import socket

    host, _, rest = display.rpartition(":")
    number = rest.split(".", 1)[0]
    if not number.isdigit():
        return False
    if host in ("", "unix") or host.startswith("/"):
        path = host if host.startswith("/") else f"/tmp/.X11-unix/X{number}"
        for address in (path, "\0" + path):  # the socket file, or Linux's abstract socket
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(2)
                try:
                    sock.connect(address)
                    return True
                except OSError:
                    continue
        return False
    try:
        with socket.create_connection((host, 6000 + int(number)), timeout=2):
            return True
    except OSError:
        return False


def display_problem(env: dict[str, str] | None = None) -> str | None:
    """Why the cashier window cannot open on this Linux machine, in words; None when it can (or
    when Qt's platform was chosen explicitly with QT_QPA_PLATFORM, or on Windows and macOS).

    Without this, Qt aborts with a message about ``libxcb-cursor0`` even when it is installed."""
    import os

    env = dict(os.environ) if env is None else env
    if not sys.platform.startswith("linux") or env.get("QT_QPA_PLATFORM"):
        return None
    wayland = env.get("WAYLAND_DISPLAY", "")
    if wayland:
        runtime = env.get("XDG_RUNTIME_DIR", "")
        socket_path = Path(wayland) if wayland.startswith("/") else Path(runtime) / wayland
        if socket_path.exists():
            return None
    display = env.get("DISPLAY", "")
    if not display:
        if wayland:
            return f"no display found: the Wayland display {wayland} is not there and DISPLAY is not set; {HEADLESS_ADVICE}"
        return f"no display found (DISPLAY and WAYLAND_DISPLAY are not set); {HEADLESS_ADVICE}"
    if not _x_server_answers(display):
        return f"no display found: nothing answers at DISPLAY={display}; {HEADLESS_ADVICE}"
    import ctypes.util

    if ctypes.util.find_library("xcb-cursor") is None:
        return (
            "Qt's X11 libraries are missing: install them with `sudo apt install libxcb-cursor0 "
            "libxkbcommon-x11-0 libegl1` (see README.md)"
        )
    return None


def _need_display() -> None:
    problem = display_problem()
    if problem:
        _fail(problem)


@cli.command()
@data_dir_option
@click.pass_context
def gui(ctx: click.Context, data_dir: Path | None) -> None:
    """Start the cashier GUI (what `pos` with no command does)."""
    _need_display()
    try:
        from pos.app import main_gui
    except ImportError:
        _fail("the cashier GUI is not available yet in this build")
    raise SystemExit(main_gui(_data_dir(ctx, data_dir)))


@cli.command()
@data_dir_option
@click.option(
    "--standalone",
    is_flag=True,
    help="Only the terminal, with no central server, in a fresh data dir (the demo before sync).",
)
@click.pass_context
def demo(ctx: click.Context, data_dir: Path | None, standalone: bool) -> None:
    """Start a demo: embedded central server, demo store, staff and catalog, GUI and customer display."""
    _need_display()
    try:
        from pos.app import main_demo
    except ImportError:
        _fail("the demo is not available yet in this build")
    root_dir = data_dir or ctx.find_root().params.get("data_dir")
    raise SystemExit(main_demo(root_dir, standalone=standalone))


def _not_yet(name: str, what: str) -> click.Command:
    @click.command(name=name, help=f"{what} (not available in this build).")
    @data_dir_option
    def command(data_dir: Path | None) -> None:
        _fail(f"{what.lower()} is not available yet in this build")

    return command


try:
    # The sync helper's commands (pos/cli_sync.py): enrollment and a sync round on demand.
    from pos.cli_sync import enroll as _enroll
    from pos.cli_sync import sync as _sync
except ImportError:
    _enroll = _not_yet("enroll", "Enroll this terminal with the central server")
    _sync = _not_yet("sync", "Push queued events and pull changes now")
cli.add_command(_enroll, "enroll")
cli.add_command(_sync, "sync")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON object.")
@data_dir_option
@click.pass_context
def status(ctx: click.Context, as_json: bool, data_dir: Path | None) -> None:
    """Terminal, store, queued events, last sync and journal head."""
    from pos.services.reports import terminal_status

    with _terminal(ctx, data_dir) as terminal:
        info = terminal_status(terminal)
        sync = _sync_facts(terminal) if info.enrolled else None
    if as_json:
        click.echo(json.dumps({**info.as_dict(), "sync": sync}, indent=2, sort_keys=True))
        return
    for label, value in info.lines():
        click.echo(f"{label + ':':<18} {value}")
    if sync is not None:
        # The same line the cashier sees in the app's status bar.
        click.echo(f"{'Sync:':<18} {sync['line']}")


def _sync_facts(terminal: Any) -> dict[str, Any]:
    """What the sync engine last knew (online/offline, lag, clock, flagged), counted now, no network."""
    from datetime import UTC, datetime

    from pos.services.syncing import current_status
    from sync.engine import status_line

    status = current_status(terminal)
    return {
        "state": status.state,
        "queued": status.queued,
        "last_success_at": status.last_success_at,
        "lag_seconds": status.lag_seconds,
        "clock_offset_seconds": status.clock_offset_seconds,
        "flagged": status.flagged,
        "line": status_line(status, datetime.now(UTC)),
    }


# --- ledger ----------------------------------------------------------------------------------------


@cli.group()
def ledger() -> None:
    """Check and back up the ledger."""


@ledger.command("verify")
@data_dir_option
@click.pass_context
def ledger_verify(ctx: click.Context, data_dir: Path | None) -> None:
    """Check the file's integrity and the journal's hash chain; exit 1 naming the first bad entry.

    Opens the ledger read-only: it changes nothing, even on a damaged file.
    """
    from pos.services.fleet import record_ledger_health
    from pos.services.reports import verify_ledger

    folder = _data_dir(ctx, data_dir)
    result = verify_ledger(folder)
    if (folder / "ledger.sqlite3").exists():
        try:
            # Head office hears of the outcome with the till's next request (its fleet view).
            record_ledger_health(folder, ok=result.ok, problem=result.problem)
        except OSError as exc:
            click.echo(f"Warning: could not record the outcome for head office: {exc}", err=True)
    for line in result.lines:
        click.echo(line)
    if not result.ok:
        click.echo(f"FAILED: {result.problem}", err=True)
        raise SystemExit(1)
    click.echo("OK: the journal's chain verifies and the file is sound.")


@ledger.command("backup")
@data_dir_option
@click.pass_context
def ledger_backup(ctx: click.Context, data_dir: Path | None) -> None:
    """Take an online backup of the ledger now into <data-dir>/backups."""
    with _terminal(ctx, data_dir) as terminal:
        path = terminal.ledger.backup("manual")
    click.echo(f"Backup written: {path}")


# --- export ----------------------------------------------------------------------------------------


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), required=True, help="jsonl or csv.")
@click.option(
    "--what",
    type=click.Choice(["journal", "sales"]),
    default="journal",
    show_default=True,
    help="The journal entries (with hashes), or the sales with their lines.",
)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout."
)
@data_dir_option
@click.pass_context
def export(ctx: click.Context, fmt: str, what: str, output: Path | None, data_dir: Path | None) -> None:
    """Export the journal or the sales as JSON lines or CSV."""
    from pos.services.reports import export_rows

    folder = _data_dir(ctx, data_dir)
    try:
        columns, rows = export_rows(folder, what)
    except FileNotFoundError as exc:
        _fail(str(exc))
    handle = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
    try:
        if fmt == "jsonl":
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
        else:
            writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            for row in rows:
                writer.writerow(
                    {
                        k: json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else v
                        for k, v in row.items()
                    }
                )
    finally:
        if output:
            handle.close()


# --- catalog ---------------------------------------------------------------------------------------


@cli.group()
def catalog() -> None:
    """Import and search the product catalog."""


@catalog.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@data_dir_option
@click.pass_context
def catalog_import(ctx: click.Context, file: Path, data_dir: Path | None) -> None:
    """Import FILE.csv (sku,name,price,tax_rate,barcodes,unit); a file with bad rows is refused whole."""
    from pos.ledger.catalog import CatalogRefused
    from pos.services.catalog import CatalogFileError, import_catalog

    if not file.is_file():
        _fail(f"no such file: {file}")
    size = file.stat().st_size
    with _terminal(ctx, data_dir) as terminal:
        show = size > 2_000_000 and sys.stderr.isatty()
        try:
            if show:
                with click.progressbar(length=size, label="Importing", file=sys.stderr) as bar:
                    seen = 0

                    def progress(done: int) -> None:
                        nonlocal seen
                        bar.update(max(0, done - seen))
                        seen = max(seen, done)

                    report = import_catalog(terminal, file, on_progress=progress)
            else:
                report = import_catalog(terminal, file)
        except CatalogRefused as exc:
            for line, reason in exc.problems:
                click.echo(f"{file}: line {line}: {reason}", err=True)
            _fail(f"{len(exc.problems)} bad row(s) in {file}: nothing was imported.")
        except CatalogFileError as exc:
            _fail(str(exc))
    click.echo(
        f"Imported {report.rows} products from {file} "
        f"({report.products_after - report.products_before} new; {report.products_after} in the catalog)."
    )


@catalog.command("search")
@click.argument("text")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 500))
@data_dir_option
@click.pass_context
def catalog_search(ctx: click.Context, text: str, limit: int, data_dir: Path | None) -> None:
    """Find products by barcode or SKU prefix, or by words of the name."""
    from pos.domain.money import format_money
    from pos.services.catalog import search_products

    with _terminal(ctx, data_dir) as terminal:
        found = search_products(terminal, text, limit)
        settings = terminal.settings
    for p in found:
        price = format_money(p.price, settings.currency, settings.locale)
        click.echo(f"{p.sku:<14} {p.barcode or '':<14} {price:>12} /{p.unit:<5} {p.tax_rate:>5}%  {p.name}")
    if not found:
        click.echo("No products found.", err=True)


# --- staff -----------------------------------------------------------------------------------------


@cli.group()
def staff() -> None:
    """Staff on a standalone terminal (an enrolled terminal gets its staff from head office)."""


@staff.command("add")
@click.option("--name", required=True, help="The person's name as shown at the till.")
@click.option("--role", type=click.Choice(["cashier", "manager"]), default="cashier", show_default=True)
@click.option(
    "--pin",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="4 to 8 digits, unique in the store.",
)
@data_dir_option
@click.pass_context
def staff_add(ctx: click.Context, name: str, role: str, pin: str, data_dir: Path | None) -> None:
    """Add a staff member who signs in with a PIN."""
    from pos.services.staff import add_staff
    from pos.services.terminal import ServiceError

    with _terminal(ctx, data_dir) as terminal:
        try:
            staff_id = add_staff(terminal, name=name, role=role, pin=pin)
        except ServiceError as exc:
            _fail(str(exc))
    click.echo(f"Added {role} {name} (id {staff_id}).")


@staff.command("list")
@data_dir_option
@click.pass_context
def staff_list(ctx: click.Context, data_dir: Path | None) -> None:
    """List active staff (never their PINs)."""
    from pos.ledger import staff as staff_ledger

    with _terminal(ctx, data_dir) as terminal:
        people = staff_ledger.active_staff(terminal.ledger.read())
    for person in people:
        click.echo(f"{person.id}  {person.role:<8} {person.name}")
    if not people:
        click.echo("No staff yet: add some with `pos staff add`.", err=True)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="pos")
