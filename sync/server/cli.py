"""The ``pos-central`` command line: run the server and look after stores, staff, catalog and terminals.

Every command takes ``--database URL`` (or the ``POS_CENTRAL_DATABASE`` environment variable):
a SQLite file path or ``sqlite:///`` URL, or a ``postgresql://`` URL. Without it, a SQLite file in
the user data directory is used. Bad input exits with status 1 and a message saying what was
wrong; nothing is changed then.

A new SQLite database is made only by ``pos-central init`` (or the default one, on first use): a
mistyped ``--database`` path is an error, not a new empty database.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy import Connection
from sqlalchemy.engine import make_url

from sync.cli_errors import FriendlyGroup
from sync.csvfile import SAVE_AS_UTF8
from sync.server.db import Database, normalize_url, utcnow
from sync.server.settings import ServerSettings, default_database_url
from sync.server.stores import POINTS_MEANING_MAX, RETURN_POLICY_MAX, InputError

F = TypeVar("F", bound=Callable[..., Any])


def database_option(func: F) -> F:
    return click.option(
        "--database",
        "database",
        envvar="POS_CENTRAL_DATABASE",
        default=None,
        metavar="URL",
        help="SQLite file or URL, or postgresql://user@host/db (default: a SQLite file in the user "
        "data directory; env POS_CENTRAL_DATABASE).",
    )(func)


def _missing_sqlite_file(database: str | None) -> Path | None:
    """The file a SQLite ``--database`` names when it does not exist yet (None for PostgreSQL)."""
    url = make_url(normalize_url(database or default_database_url()))
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    path = Path(url.database)
    return None if path.exists() else path


def _open(database: str | None, *, create: bool = False, pool_size: int = 2) -> Database:
    """The database, migrated to this version. A SQLite file that does not exist is created only
    with ``create`` (``pos-central init``) or when it is the default one; otherwise a typo in the
    path would silently start an empty head office."""
    missing = _missing_sqlite_file(database)
    if missing is not None and database and not create:
        raise click.ClickException(
            f"no database at {missing}: check --database (or POS_CENTRAL_DATABASE), or create a new "
            f"one with `pos-central init --database {database}`"
        )
    db = Database.from_url(database or default_database_url(), pool_size=pool_size)
    try:
        db.migrate()
    except BaseException:
        db.dispose()
        raise
    return db


@contextmanager
def _transaction(database: str | None) -> Iterator[Connection]:
    """One transaction on the database, closed with its connections afterwards."""
    db = _open(database)
    try:
        with db.begin() as conn:
            yield conn
    finally:
        db.dispose()


def reports_input_errors(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InputError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]


@click.group(cls=FriendlyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="storelink-pos", prog_name="pos-central")
@click.option("-v", "--verbose", is_flag=True, help="Log more, and on an error print the full trace.")
def main(verbose: bool) -> None:
    """pos-central: the head-office server of Storelink POS."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )


def _check_version(value: str | None) -> str | None:
    from packaging.version import InvalidVersion, Version

    if value is None:
        return None
    try:
        return str(Version(value))
    except InvalidVersion:
        raise click.BadParameter(f"{value!r} is not a version number such as 1.4.0") from None


@main.command()
@database_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on."
)
@click.option(
    "--public-url",
    default=None,
    metavar="URL",
    help="The address shoppers' phones and terminals reach this server at, printed in receipt QR "
    "codes (default: http://HOST:PORT).",
)
@click.option(
    "--pool-size",
    "pool_size",
    default=10,
    show_default=True,
    type=click.IntRange(1, 200),
    help="Database connections kept open (per worker).",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes sharing the port (PostgreSQL; use about one per CPU core).",
)
@click.option(
    "--offline-after",
    "offline_after",
    default=300.0,
    show_default=True,
    type=click.FloatRange(min=60.0),
    metavar="SECONDS",
    help="/hq Fleet shows a terminal offline when its last contact is older than this.",
)
@click.option(
    "--trusted-proxy",
    "trusted_proxies",
    multiple=True,
    callback=lambda _ctx, _param, value: _check_proxies(value),
    metavar="ADDRESS[/BITS]",
    help="A reverse proxy (address or network) whose X-Forwarded-For names the client for the "
    "sign-in limits; repeat for more. None by default: the header is ignored.",
)
@click.option(
    "--min-app-version",
    "min_app_version",
    default=None,
    callback=lambda _ctx, _param, value: _check_version(value),
    metavar="VERSION",
    help="/hq Fleet marks tills older than this version outdated (besides those older than the "
    "newest version in the fleet).",
)
@click.option(
    "--smtp-host",
    "smtp_host",
    default=None,
    help="SMTP server for shoppers' sign-in mails (none: mails go to the log).",
)
@click.option("--smtp-port", "smtp_port", default=25, show_default=True, type=click.IntRange(1, 65535))
@click.option("--smtp-starttls/--no-smtp-starttls", "smtp_starttls", default=False, show_default=True)
@click.option(
    "--smtp-user",
    "smtp_username",
    default=None,
    help="SMTP user name; the password is read from $POS_CENTRAL_SMTP_PASSWORD.",
)
@click.option("--mail-from", "mail_from", default="Storelink <no-reply@storelink.example>", show_default=True)
@click.option("--consent-text", "consent_text", default="", help="The chain's consent wording at sign-up.")
@click.option("--privacy-url", "privacy_url", default="", help="The chain's privacy page, linked at sign-up.")
@click.option(
    "--points-meaning",
    "points_meaning",
    default="",
    help="What points are worth, shown beside them (chain default; see `store set`).",
)
@click.option(
    "--return-policy",
    "return_policy",
    default="",
    help="Return policy under each receipt (chain default; see `store set`).",
)
def serve(
    database: str | None,
    host: str,
    port: int,
    public_url: str | None,
    pool_size: int,
    workers: int,
    offline_after: float,
    trusted_proxies: tuple[str, ...],
    min_app_version: str | None,
    smtp_host: str | None,
    smtp_port: int,
    smtp_starttls: bool,
    smtp_username: str | None,
    mail_from: str,
    consent_text: str,
    privacy_url: str,
    points_meaning: str,
    return_policy: str,
) -> None:
    """Run the server: terminal API, shopper pages and head-office pages."""
    import os

    import uvicorn

    from sync.server.app import SETTINGS_ENV, create_app, settings_to_environment

    settings = ServerSettings(
        database_url=database or default_database_url(),
        public_url=(public_url or f"http://{host}:{port}").rstrip("/"),
        host=host,
        port=port,
        pool_size=pool_size,
        secure_cookies=(public_url or "").startswith("https://"),
        offline_after_seconds=offline_after,
        min_app_version=min_app_version,
        trusted_proxies=tuple(trusted_proxies),
        smtp_host=smtp_host,
        smtp_port=smtp_port,
        smtp_starttls=smtp_starttls,
        smtp_username=smtp_username,
        smtp_password=os.environ.get("POS_CENTRAL_SMTP_PASSWORD"),
        mail_from=mail_from,
        consent_text=consent_text.strip()[:1000],
        privacy_url=privacy_url.strip(),
        points_meaning=points_meaning.strip()[:POINTS_MEANING_MAX],
        return_policy=return_policy.strip()[:RETURN_POLICY_MAX],
    )
    # Open and migrate once before announcing anything: a wrong role, a missing database or a
    # mistyped SQLite path is one line and exit 1, not a trace after "serving". It also keeps
    # worker processes starting together from racing to migrate.
    _open(database, pool_size=1).dispose()
    click.echo(f"pos-central on http://{host}:{port} (public URL {settings.public_url})", err=True)
    if workers == 1:
        uvicorn.run(
            create_app(settings),
            host=host,
            port=port,
            log_level="info",
            timeout_graceful_shutdown=10,
            proxy_headers=False,  # X-Forwarded-For only from --trusted-proxy (accounts.client_address)
        )
        return
    os.environ[SETTINGS_ENV] = settings_to_environment(settings)
    uvicorn.run(
        "sync.server.app:app_from_environment",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="info",
        timeout_graceful_shutdown=10,
        proxy_headers=False,
    )


def _check_proxies(values: tuple[str, ...]) -> tuple[str, ...]:
    import ipaddress

    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise click.BadParameter(f"{value[:60]!r} is not an IP address or network") from None
    return values


@main.command()
@database_option
def init(database: str | None) -> None:
    """Create a new database (a SQLite file, with its folder) or the tables in an empty PostgreSQL one."""
    db = _open(database, create=True)
    try:
        click.echo(f"database at revision {db.revision()}")
    finally:
        db.dispose()


@main.command()
@database_option
def migrate(database: str | None) -> None:
    """Upgrade an existing database's schema to this version (serve does it too)."""
    db = _open(database)
    try:
        click.echo(f"database at revision {db.revision()}")
    finally:
        db.dispose()


# --- stores ---------------------------------------------------------------------------------------------


@main.group()
def store() -> None:
    """Stores of the chain."""


@store.command("add")
@database_option
@click.option("--code", required=True, help="Short store code, e.g. S01 (letters, digits, - and _).")
@click.option("--name", required=True, help="The store's name as shoppers know it.")
@click.option("--currency", required=True, help="ISO 4217 currency code, e.g. EUR.")
@click.option("--locale", required=True, help="Language and region for receipts, e.g. de_DE.")
@click.option(
    "--tax-mode",
    required=True,
    type=click.Choice(["inclusive", "exclusive"]),
    help="Whether shelf prices include tax (inclusive) or have it added (exclusive).",
)
@click.option(
    "--discount-limit",
    default=10,
    show_default=True,
    type=int,
    help="Largest discount in percent a cashier may give without a manager.",
)
@click.option(
    "--timezone", default="UTC", show_default=True, help="The store's time zone, e.g. Europe/Berlin."
)
@reports_input_errors
def store_add(
    database: str | None,
    code: str,
    name: str,
    currency: str,
    locale: str,
    tax_mode: str,
    discount_limit: int,
    timezone: str,
) -> None:
    """Add a store."""
    from sync.server.stores import add_store

    with _transaction(database) as conn:
        add_store(
            conn,
            code=code,
            name=name,
            currency=currency,
            locale=locale,
            tax_mode=tax_mode,
            now=utcnow(),
            discount_limit_percent=discount_limit,
            timezone=timezone,
        )
    click.echo(f"store {code} added")


@store.command("set")
@database_option
@click.argument("code")
@click.option(
    "--points-meaning",
    "points_meaning",
    default=None,
    help="What this store's points are worth or unlock, shown beside them ('' = the chain's default).",
)
@click.option(
    "--return-policy",
    "return_policy",
    default=None,
    help="This store's return policy, shown on its receipts ('' = the chain's default).",
)
@reports_input_errors
def store_set(database: str | None, code: str, points_meaning: str | None, return_policy: str | None) -> None:
    """Set what store CODE tells its shoppers on their account pages.

    Unset texts (or set to '') show the chain's default from `pos-central serve`."""
    from sync.server.stores import set_store_texts

    with _transaction(database) as conn:
        row = set_store_texts(
            conn, store_code=code, points_meaning=points_meaning, return_policy=return_policy
        )
    for label, value in (("points meaning", row.points_meaning), ("return policy", row.return_policy)):
        click.echo(f"store {row.code} {label}: {value if value else '(chain default)'}")


@main.command("enroll-code")
@database_option
@click.option("--store", "store_code", required=True, help="Code of the store the terminal will belong to.")
@reports_input_errors
def enroll_code(database: str | None, store_code: str) -> None:
    """Print a single-use enrollment code for a new terminal (valid 24 hours)."""
    from sync.server.stores import create_enrollment_code

    with _transaction(database) as conn:
        code, expires_at = create_enrollment_code(conn, store_code=store_code, now=utcnow())
    click.echo(code)
    click.echo(f"valid once, until {expires_at:%Y-%m-%d %H:%M} UTC", err=True)


# --- staff and admins -------------------------------------------------------------------------------------


@main.group()
def staff() -> None:
    """Cashiers and managers."""


@staff.command("add")
@database_option
@click.option("--store", "store_code", required=True, help="Code of the store they work at.")
@click.option("--name", required=True, help="Their name, as shown at the terminal.")
@click.option("--role", required=True, type=click.Choice(["cashier", "manager"]), help="What they may do.")
@click.option(
    "--pin",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="4 to 8 digits, unique within the store (asked for when not given).",
)
@reports_input_errors
def staff_add(database: str | None, store_code: str, name: str, role: str, pin: str) -> None:
    """Add a cashier or manager; their PIN goes to the store's terminals only as an Argon2id hash."""
    from sync.server.keys import server_secret
    from sync.server.stores import add_staff

    with _transaction(database) as conn:
        staff_id = add_staff(
            conn,
            secret=server_secret(conn),
            store_code=store_code,
            name=name,
            role=role,
            pin=pin,
            now=utcnow(),
        )
    click.echo(f"{role} {name} added to store {store_code} (staff id {staff_id})")


@main.group()
def admin() -> None:
    """Head-office users of the /hq pages."""


@admin.command("add")
@database_option
@click.option("--email", required=True, help="Their e-mail address, used to sign in.")
@click.option("--name", "display_name", default="", help="Their name, shown on the pages.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="At least 10 characters (asked for when not given).",
)
@reports_input_errors
def admin_add(database: str | None, email: str, display_name: str, password: str) -> None:
    """Add a head-office user who can sign in to /hq."""
    from sync.server.stores import add_admin

    with _transaction(database) as conn:
        add_admin(conn, email=email, password=password, display_name=display_name, now=utcnow())
    click.echo(f"admin {email.strip().lower()} added")


# --- catalog and stock ---------------------------------------------------------------------------------


@main.group()
def catalog() -> None:
    """Products and prices of the whole chain."""


@catalog.command("import")
@database_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--currency", default=None, help="Currency of the prices (default: the one all stores use).")
@reports_input_errors
def catalog_import(database: str | None, file: Path, currency: str | None) -> None:
    """Add or update products from FILE.csv (sku,name,price,tax_rate,barcodes,unit).

    A file with any bad row is refused whole, listing every bad row's line number and reason.
    """
    from sync.server.catalog import import_catalog

    text = _read_text(file)
    with _transaction(database) as conn:
        result = import_catalog(conn, text, now=utcnow(), currency=currency)
    click.echo(f"{result.added} added, {result.updated} updated, {result.unchanged} unchanged")


@main.group()
def stock() -> None:
    """On-hand figures per store."""


@stock.command("import")
@database_option
@click.option("--store", "store_code", required=True, help="Code of the store counted.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@reports_input_errors
def stock_import(database: str | None, store_code: str, file: Path) -> None:
    """Set a store's on-hand figures from FILE.csv (sku,on_hand), e.g. after a stock count."""
    from sync.server.catalog import import_stock

    text = _read_text(file)
    with _transaction(database) as conn:
        result = import_stock(conn, text, store_code=store_code, now=utcnow())
    click.echo(f"{result.added} added, {result.updated} updated, {result.unchanged} unchanged")


def _read_text(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{file}: not UTF-8 text (byte {exc.start}); {SAVE_AS_UTF8}") from None


# --- terminals and the feed ---------------------------------------------------------------------------


@main.group()
def terminal() -> None:
    """Enrolled terminals."""


@terminal.command("revoke")
@database_option
@click.argument("terminal_ref", metavar="TERMINAL")
@reports_input_errors
def terminal_revoke(database: str | None, terminal_ref: str) -> None:
    """Revoke TERMINAL (its code, e.g. S01-T2, or id): its token gets 401 from now on."""
    from sync.server.stores import revoke_terminal

    with _transaction(database) as conn:
        row = revoke_terminal(conn, terminal=terminal_ref, now=utcnow())
    click.echo(f"terminal {row.code} revoked")


@terminal.command("rekey")
@database_option
@click.argument("terminal_ref", metavar="TERMINAL")
@reports_input_errors
def terminal_rekey(database: str | None, terminal_ref: str) -> None:
    """Print a single-use code that moves TERMINAL (its code, e.g. S01-T2, or id) to new hardware.

    On the new till, after `pos ledger restore BACKUP`: `pos enroll --server URL --code CODE`. It
    continues the same terminal with a new token; the old device's token is refused from then on.
    Head office refuses the code to a till whose ledger is behind what it holds for TERMINAL."""
    from sync.server.stores import create_rekey_code

    with _transaction(database) as conn:
        code, expires_at, row = create_rekey_code(conn, terminal=terminal_ref, now=utcnow())
    click.echo(code)
    click.echo(
        f"re-key code for terminal {row.code}: valid once, until {expires_at:%Y-%m-%d %H:%M} UTC", err=True
    )


@terminal.command("list")
@database_option
def terminal_list(database: str | None) -> None:
    """List terminals: code, store, last seen, queued events, highest sequence, and state (active,
    enrolled but never synced, forked, revoked)."""
    from sqlalchemy import select

    from sync.server import schema

    t, s = schema.terminals, schema.stores
    with _transaction(database) as conn:
        rows = conn.execute(
            select(t, s.c.code.label("store_code")).join(s, s.c.id == t.c.store_id).order_by(t.c.id)
        ).all()
    for row in rows:
        seen = f"{row.last_seen_at:%Y-%m-%d %H:%M:%S}" if row.last_seen_at else "never"
        if row.revoked_at:
            state = "revoked"
        elif row.forked_at:
            state = f"forked ({row.fork_detail})"
        elif row.last_seen_at is None:
            state = "enrolled, never synced"
        else:
            state = "active"
        click.echo(
            f"{row.code}\tstore {row.store_code}\tlast seen {seen}\tqueued {row.last_queued}\t"
            f"seq {row.last_high_seq}\t{state}"
        )


@main.group()
def changes() -> None:
    """The change feed terminals pull."""


@changes.command("compact")
@database_option
def changes_compact(database: str | None) -> None:
    """Drop superseded changes; terminals further behind get a full snapshot."""
    from sync.server.changes import compact_changes

    with _transaction(database) as conn:
        floor, dropped = compact_changes(conn)
    click.echo(f"{dropped} changes dropped; terminals behind change {floor} get a snapshot")
