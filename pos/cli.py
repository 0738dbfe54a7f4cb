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
from sync.cli_errors import FriendlyGroup, shorten

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
    click.echo(f"Error: {shorten(message)}", err=True)
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
    """Check, back up and restore the ledger."""


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


@ledger.command("unsynced")
@data_dir_option
@click.pass_context
def ledger_unsynced(ctx: click.Context, data_dir: Path | None) -> None:
    """Print how many journal entries head office has not acknowledged (0: all synced).

    Opens the ledger read-only (the package's removal scripts run it as root before purging);
    no ledger prints 0. Exit 1 when the ledger cannot be read: count nothing as synced then."""
    import sqlite_utils

    from pos.ledger import state
    from pos.services.reports import open_read_only

    try:
        conn = open_read_only(_data_dir(ctx, data_dir))
    except FileNotFoundError:
        click.echo("0")
        return
    try:
        count = state.queued_events(sqlite_utils.Database(conn))
    except sqlite3.Error as exc:
        _fail(f"the ledger cannot be read: {exc}")
    finally:
        conn.close()
    click.echo(str(count))


@ledger.command("restore")
@click.argument("backup", type=click.Path(dir_okay=False, path_type=Path))
@data_dir_option
@click.pass_context
def ledger_restore(ctx: click.Context, backup: Path, data_dir: Path | None) -> None:
    """Put BACKUP (a ledger backup file) in place as this till's ledger, on new hardware.

    Verifies the backup's chain and derived tables first and refuses a broken one; never
    overwrites a ledger holding journal entries or an enrolled till. Then enroll with a re-key
    code from head office (`pos-central terminal rekey`) to continue the same terminal.
    """
    from pos.services.restore import RestoreError, restore_ledger

    try:
        done = restore_ledger(_data_dir(ctx, data_dir), backup)
    except (RestoreError, OSError) as exc:
        _fail(str(exc))
    click.echo(
        f"Restored {done.path}: {done.entries} journal entries verified, up to entry {done.head_seq} "
        f"(head office had acknowledged up to {done.acked_seq})."
    )
    click.echo(
        "Next: ask IT for a re-key code (pos-central terminal rekey TERMINAL), then "
        "`pos enroll --server URL --code CODE`."
    )


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


# --- sell --------------------------------------------------------------------------------------------


@cli.command()
@click.option("--pin", required=True, help="The PIN of the cashier who sells (as at the till).")
@click.option(
    "--scan",
    "scans",
    multiple=True,
    required=True,
    help="A barcode or SKU as the scanner sends it; repeat for more lines.",
)
@click.option("--cash", default=None, help="Cash handed over, e.g. 20.00 (default: exactly the total).")
@click.option(
    "--float", "opening_float", default="0", show_default=True, help="Opening float if no shift is open."
)
@click.option("--training", is_flag=True, help="A training sale: recorded as training, never counted.")
@data_dir_option
@click.pass_context
def sell(
    ctx: click.Context,
    pin: str,
    scans: tuple[str, ...],
    cash: str | None,
    opening_float: str,
    training: bool,
    data_dir: Path | None,
) -> None:
    """Ring up one sale paid in cash without the GUI (IT's smoke test after an install or upgrade).

    Signs in with --pin, opens a shift if none is open, scans each --scan, takes the cash, completes
    the sale exactly as the till does (journal, claim code, queued for head office) and signs out.
    Anything refused exits 1 with the reason, and no sale is recorded."""
    from pos.domain.money import format_money, parse_money
    from pos.domain.tender import Payment, PaymentError
    from pos.services import sale as sale_service
    from pos.services import shift as shift_service
    from pos.services import staff as staff_service
    from pos.services.terminal import ServiceError

    with _terminal(ctx, data_dir) as terminal:
        waiting = _waiting_to_enroll(terminal)
        if waiting:
            _fail(waiting)
        currency = terminal.settings.currency
        try:
            tendered = parse_money(cash, currency) if cash is not None else None
            float_minor = parse_money(opening_float, currency)
        except ValueError as exc:
            _fail(str(exc))
        try:
            staff_service.sign_in(terminal, pin)
            try:
                if not training and shift_service.current_shift(terminal) is None:
                    shift_service.open_shift(terminal, float_minor)
                current = sale_service.start_sale(terminal, training=training)
                for code in scans:
                    sale_service.scan(terminal, current, code)
                # Refuse too little cash before payment starts, so a refused sale leaves no trace.
                probe = Payment(
                    current.sale.totals().total_money, cash_increment=terminal.settings.cash_increment
                )
                due = format_money(probe.cash_due, currency, terminal.settings.locale)
                try:
                    probe.add_exact_cash() if tendered is None else probe.add_cash(tendered)
                except PaymentError as exc:
                    raise ServiceError(str(exc)) from exc
                if not probe.is_complete:
                    raise ServiceError(f"Not enough cash: {due} is due, {cash} was given.")
                sale_service.begin_payment(terminal, current)
                sale_service.tender_cash(terminal, current, tendered)
                done = sale_service.complete_sale(terminal, current)
            finally:
                staff_service.sign_out(terminal)
        except ServiceError as exc:
            _fail(str(exc))
        locale = terminal.settings.locale
        click.echo(
            f"Sale {done.receipt_no}: {len(current.lines)} line(s), total "
            f"{format_money(done.total, currency, locale)}, change {format_money(done.change, currency, locale)}."
        )


def _waiting_to_enroll(terminal: Any) -> str:
    """Why this till may not sell yet: IT gave it a branch configuration and it is not enrolled."""
    from pos import branch

    if terminal.config.enrolled or not branch.config_path().exists():
        return ""
    return (
        f"this till is not enrolled yet and cannot sell until it is: run `pos enroll` "
        f"(branch configuration: {branch.config_path()})"
    )


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="pos")
