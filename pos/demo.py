"""``pos demo``: the whole system on one machine, or (``--standalone``) a terminal on its own.

The full demo (:func:`prepare_full_demo`) runs the central server embedded in the process
(:class:`EmbeddedCentral`: uvicorn on 127.0.0.1, a SQLite file in the demo's data dir) with the demo
store, its staff, the demo catalog imported centrally and a head-office user; the demo terminal
enrolls with it and gets catalog and staff through the real sync. Running it again reuses all of
it: the central database, the enrolled terminal and its sales.

The standalone demo (:func:`prepare_demo`) sets up a terminal with no server in a fresh data dir.
Member codes are verified with a demo public key kept in the terminal's config;
:func:`demo_member_code` makes one to scan.

Set-up is all or nothing: while it runs, a ``demo.building`` file lists what the folder held
before. A set-up that fails removes what it made; one that was killed is cleared by the next run
(see :func:`_begin_set_up`), so a second run never trips over a half-built first one.

Either way the store sells in euros with German prices (tax-inclusive, 19 % and 7 %); the cashier's
language can be switched on the sign-in screen, which shows the demo PINs.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import platformdirs
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from pos.config import load_config, update_config
from pos.hardware.resources import resource_path
from pos.services import catalog as catalog_service
from pos.services import shift as shift_service
from pos.services import staff as staff_service
from pos.services.terminal import Terminal, close_terminal, open_terminal, set_store_settings
from sync.codes import make_member_code, public_key_bytes

#: (name, role, PIN): shown on the demo's sign-in screen.
DEMO_STAFF: tuple[tuple[str, str, str], ...] = (
    ("Anna Becker", "cashier", "1111"),
    ("Li Wei", "cashier", "2222"),
    ("Maria Schmidt", "manager", "9999"),
)
DEMO_STORE = {
    "store_name": "Storelink Kaufhaus Mitte",
    "currency": "EUR",
    "locale": "de_DE",
    "tax_mode": "inclusive",
    "discount_limit_percent": 10,
    "timezone": "Europe/Berlin",
    "rcn_region": "de",
}
DEMO_PUBLIC_URL = "https://claim.storelink.example"
#: Opening float of the demo shift, in cents.
DEMO_FLOAT = 15000
_KEY_FILE = "demo-member-signing.key"


@dataclass(frozen=True)
class Demo:
    data_dir: Path
    pins: tuple[tuple[str, str, str], ...]
    products: int


_BUILDING = "demo.building"


def _begin_set_up(folder: Path) -> None:
    """Start a first-time set-up in ``folder``: clear what an earlier, unfinished one left, and
    note what the folder holds now (which a failed set-up must leave alone)."""
    building = folder / _BUILDING
    if building.exists():
        _discard_set_up(folder)
    folder.mkdir(parents=True, exist_ok=True)
    before = sorted(p.name for p in folder.iterdir())
    building.write_text(json.dumps(before), encoding="utf-8")


def _discard_set_up(folder: Path) -> None:
    """Remove what the unfinished set-up in ``folder`` made: everything not listed in its marker."""
    building = folder / _BUILDING
    try:
        kept = set(json.loads(building.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return  # no (readable) marker: nothing here is known to be ours
    for path in folder.iterdir():
        if path.name in kept or path.name == _BUILDING:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    building.unlink(missing_ok=True)
    if not kept:
        with contextlib.suppress(OSError):
            folder.rmdir()


def _finish_set_up(folder: Path) -> None:
    (folder / _BUILDING).unlink(missing_ok=True)


def demo_catalog() -> Path:
    return resource_path("demo", "catalog.csv")


def prepare_demo(
    data_dir: Path | None = None, *, catalog: Path | None = None, store: dict[str, object] | None = None
) -> Demo:
    """Set up a demo terminal in ``data_dir`` (a fresh temporary dir if None) and return where.

    A dir that already holds the demo is reused as it is (its sales stay). ``store`` overrides
    the demo store's settings (e.g. ``{"locale": "zh_CN", "currency": "CNY"}``).
    """
    folder = Path(data_dir) if data_dir is not None else Path(tempfile.mkdtemp(prefix="storelink-demo-"))
    marker = folder / "demo.ready"
    if marker.exists():
        return Demo(folder, DEMO_STAFF, int(marker.read_text() or 0))
    _begin_set_up(folder)
    try:
        products = _set_up_standalone(folder, catalog, store)
        marker.write_text(str(products))
    except BaseException:
        _discard_set_up(folder)
        raise
    _finish_set_up(folder)
    return Demo(folder, DEMO_STAFF, products)


def _set_up_standalone(folder: Path, catalog: Path | None, store: dict[str, object] | None) -> int:
    signing = Ed25519PrivateKey.generate()
    (folder / _KEY_FILE).write_bytes(signing.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    update_config(
        folder,
        terminal_id=1,
        terminal_code="K1",
        terminal_name="Kasse 1",
        store_code="DEMO",
        store_name=str((store or {}).get("store_name", DEMO_STORE["store_name"])),
        public_url=DEMO_PUBLIC_URL,
        server_public_key=base64.b64encode(public_key_bytes(signing)).decode("ascii"),
    )
    terminal = open_terminal(folder, daily_backup=False)
    try:
        set_store_settings(terminal, **{**DEMO_STORE, **(store or {})})
        for name, role, pin in DEMO_STAFF:
            staff_service.add_staff(terminal, name=name, role=role, pin=pin)
        products = catalog_service.import_catalog(terminal, catalog or demo_catalog()).rows
        # The manager opens the day's shift so the demo starts at the sale screen after sign-in.
        staff_service.sign_in(terminal, DEMO_STAFF[-1][2])
        shift_service.open_shift(terminal, DEMO_FLOAT)
        staff_service.sign_out(terminal)
    finally:
        close_terminal(terminal)
    return products


def demo_member_code(data_dir: Path, member_id: int, now: datetime) -> str:
    """A member code the demo terminal accepts (signed with the demo's key), as a phone would show."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key((data_dir / _KEY_FILE).read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return make_member_code(member_id=member_id, signing_key=key, now=now)


# --- the full demo: an embedded central server and an enrolled terminal ------------------------------

#: Port the embedded server tries first; another free one when it is taken.
DEMO_PORT = 8765
DEMO_STORE_CODE = "DEMO"
#: The head-office user of the demo (/hq): (e-mail, password).
DEMO_ADMIN = ("admin@storelink.example", "demo-admin-2026")
CENTRAL_DIR = "central"
_FULL_MARKER = "demo-full.ready"


def default_demo_dir() -> Path:
    """Where ``pos demo`` keeps the full demo between runs (the platform's user data directory)."""
    return Path(platformdirs.user_data_dir("storelink-pos-demo", appauthor=False))


@dataclass
class EmbeddedCentral:
    """pos-central served by uvicorn on a thread of this process."""

    url: str
    db: object  # sync.server.db.Database (imported lazily: the standalone demo does not need it)
    server: object  # uvicorn.Server
    thread: threading.Thread

    @property
    def head_office_url(self) -> str:
        return f"{self.url}/hq"

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the requests in flight, stop serving and close the database."""
        self.server.should_exit = True  # type: ignore[attr-defined]
        self.thread.join(timeout)
        self.db.dispose()  # type: ignore[attr-defined]


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        # As uvicorn binds: connections of the last run waiting out TIME_WAIT do not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _any_free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_central(database: Path, port: int | None = DEMO_PORT) -> EmbeddedCentral:
    """Serve the central database file ``database`` on 127.0.0.1: ``port`` if it is free, else
    any free port (``port`` None: any). Returns once the server answers."""
    import uvicorn

    from sync.server.app import create_app
    from sync.server.db import Database
    from sync.server.settings import ServerSettings

    chosen = port if port is not None and _port_free(port) else _any_free_port()
    url = f"http://127.0.0.1:{chosen}"
    db = Database.from_url(str(database), pool_size=2)
    # Plain HTTP on the loopback: cookies without the Secure flag, or the browser drops them.
    settings = ServerSettings(
        database_url=str(database), public_url=url, host="127.0.0.1", port=chosen, secure_cookies=False
    )
    app = create_app(settings, db)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=chosen, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="demo-central", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            db.dispose()
            raise RuntimeError(f"the demo's central server did not start on {url}")
        time.sleep(0.01)
    return EmbeddedCentral(url=url, db=db, server=server, thread=thread)


def prepare_central(database: Path, *, catalog: Path | None = None) -> bool:
    """Create the central database ``database`` with the demo store, its staff (the demo PINs),
    the catalog (imported through the server's own catalog import) and the head-office user.

    All in one transaction; a database that already has the demo store is left as it is.
    Returns True when it set the demo up now."""
    from sync.server.catalog import import_catalog
    from sync.server.db import Database, utcnow
    from sync.server.keys import server_secret
    from sync.server.stores import InputError, add_admin, add_staff, add_store, find_store

    database.parent.mkdir(parents=True, exist_ok=True)
    db = Database.from_url(str(database), pool_size=1)
    try:
        db.migrate()
        with db.begin() as conn:
            with contextlib.suppress(InputError):
                find_store(conn, DEMO_STORE_CODE)
                return False
            now = utcnow()
            add_store(
                conn,
                code=DEMO_STORE_CODE,
                name=str(DEMO_STORE["store_name"]),
                currency=str(DEMO_STORE["currency"]),
                locale=str(DEMO_STORE["locale"]),
                tax_mode=str(DEMO_STORE["tax_mode"]),
                discount_limit_percent=int(str(DEMO_STORE["discount_limit_percent"])),
                timezone=str(DEMO_STORE["timezone"]),
                now=now,
            )
            secret = server_secret(conn)
            for name, role, pin in DEMO_STAFF:
                add_staff(
                    conn, secret=secret, store_code=DEMO_STORE_CODE, name=name, role=role, pin=pin, now=now
                )
            text = (catalog or demo_catalog()).read_text(encoding="utf-8")
            import_catalog(conn, text, now=now, currency=str(DEMO_STORE["currency"]))
            add_admin(
                conn, email=DEMO_ADMIN[0], password=DEMO_ADMIN[1], display_name="Demo head office", now=now
            )
        return True
    finally:
        db.dispose()


@dataclass
class FullDemo:
    data_dir: Path
    pins: tuple[tuple[str, str, str], ...]
    central: EmbeddedCentral
    admin: tuple[str, str]

    @property
    def head_office_url(self) -> str:
        return self.central.head_office_url


class DemoError(ValueError):
    """The demo cannot start in this directory; str() says why."""


def prepare_full_demo(
    data_dir: Path | None = None, *, port: int | None = DEMO_PORT, catalog: Path | None = None
) -> FullDemo:
    """Set up (or reuse) the full demo in ``data_dir`` (default: :func:`default_demo_dir`), start
    its central server and enroll the demo terminal with it (once). The caller stops the server
    (``demo.central.stop()``). Catalog and staff reach the terminal through its first sync."""
    folder = Path(data_dir) if data_dir is not None else default_demo_dir()
    if (folder / "demo.ready").exists():
        raise DemoError(
            f"{folder} holds the standalone demo: use `pos demo --standalone` or another --data-dir"
        )
    first_time = not (folder / _FULL_MARKER).exists()
    if first_time and (folder / _BUILDING).exists():
        _discard_set_up(folder)  # an earlier first run was killed half-way: start afresh
    if (folder / "ledger.sqlite3").exists() and first_time:
        raise DemoError(f"{folder} holds a terminal that is not the demo's: give another --data-dir")
    if first_time:
        _begin_set_up(folder)
    central: EmbeddedCentral | None = None
    try:
        database = folder / CENTRAL_DIR / "central.sqlite3"
        prepare_central(database, catalog=catalog)
        central = start_central(database, port)
        config = load_config(folder)
        if not config.enrolled:
            _enroll_demo_terminal(folder, central)
        elif config.server_url != central.url:
            # The port changed since the last run (the old one was taken): follow the server.
            update_config(folder, server_url=central.url, public_url=central.url)
        (folder / _FULL_MARKER).write_text(central.url)
    except BaseException:
        if central is not None:
            central.stop()
        if first_time:
            _discard_set_up(folder)
        raise
    if first_time:
        _finish_set_up(folder)
    return FullDemo(data_dir=folder, pins=DEMO_STAFF, central=central, admin=DEMO_ADMIN)


def _enroll_demo_terminal(folder: Path, central: EmbeddedCentral) -> None:
    from pos.services.syncing import enroll
    from sync.server.db import utcnow
    from sync.server.stores import create_enrollment_code

    with central.db.begin() as conn:  # type: ignore[attr-defined]
        code, _expires = create_enrollment_code(conn, store_code=DEMO_STORE_CODE, now=utcnow())
    terminal: Terminal = open_terminal(folder, daily_backup=False)
    try:
        enroll(terminal, central.url, code, terminal_name="Kasse 1")
    finally:
        close_terminal(terminal)
