"""Shared helpers for tests of ``pos-central`` (the API tests and the web pages' tests).

Import from test modules as ``from central_fixtures import ...`` (pytest puts ``tests/`` on the
path). What is here:

Databases
    ``central_db`` (pytest fixture, parametrized ``sqlite`` / ``postgresql``): a migrated
    :class:`sync.server.db.Database`, a fresh SQLite file or a fresh PostgreSQL database created on
    127.0.0.1 as user postgres (copied from a migrated template made once per session) and dropped
    after the test. ``fresh_postgres_url()`` is the context manager behind it; ``postgres_available()``
    says whether the server is reachable (the fixture skips PostgreSQL when it is not).

Servers
    ``live_server(db, **settings)`` (context manager): ``create_app`` on ``db`` served by a real
    uvicorn on a free 127.0.0.1 port in a thread; yields a :class:`LiveServer` with ``url``,
    ``app`` and ``client`` (an ``httpx.Client`` with that base URL).
    ``central`` (pytest fixture): ``live_server(central_db)`` with loose rate limits.

Shop set-up (plain functions on a Database)
    ``add_store(db, code="S01", ...)`` -> store id; ``enrollment_code(db, store_code)`` -> code;
    ``add_shopper(db, email, password="...")`` -> shopper (member) id;
    ``add_product(db, sku, price=...)``; ``set_stock(db, store_code, sku, on_hand_milli)``.

Terminals
    ``enroll(client, db, store_code="S01")`` -> :class:`FakeTerminal`: enrolled through
    ``POST /v1/enroll``. A FakeTerminal keeps its own journal chain: ``entry(type, payload)``
    builds the next correctly chained entry (or a deliberately wrong one with ``seq=``,
    ``prev_hash=``, ``event_id=``, ``hash=``); ``claim_code(today)`` makes a genuine claim code with
    its claim key; ``push(client, entries)`` posts a batch; ``headers`` authenticates.
    ``sale_payload(...)`` builds a valid SalePayload dict; ``push_sale(client, terminal, ...)``
    pushes one completed sale carrying a fresh claim code and returns :class:`PushedSale`
    (response, sale id, claim code text, total).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uuid_utils
import uvicorn
from fastapi import FastAPI
from sqlalchemy import insert

from sync.codes import ClaimCode, make_claim_code
from sync.protocol import GENESIS_HASH, PROTOCOL_VERSION, chain_hash, entry_body
from sync.server import schema
from sync.server.app import create_app
from sync.server.db import Database, utcnow
from sync.server.settings import ServerSettings
from sync.server.stores import add_store as _add_store
from sync.server.stores import create_enrollment_code, password_hasher

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
_template_lock = threading.Lock()
_template: str | None = None


# --- databases -----------------------------------------------------------------------------------


def postgres_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN.replace("postgresql://", "postgresql://"), connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def _admin_execute(sql: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def _pg_template() -> str:
    """A migrated database every test database is copied from (made once per process)."""
    global _template
    with _template_lock:
        if _template is None:
            name = f"central_tmpl_{uuid.uuid4().hex[:12]}"
            _admin_execute(f'CREATE DATABASE "{name}"')
            db = Database.from_url(f"postgresql://postgres@127.0.0.1:5432/{name}", pool_size=1)
            db.migrate()
            db.dispose()
            _template = name
            import atexit

            atexit.register(lambda: _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        return _template


@contextlib.contextmanager
def fresh_postgres_url() -> Iterator[str]:
    """A new, migrated, uniquely named PostgreSQL database on 127.0.0.1; dropped afterwards."""
    name = f"central_test_{uuid.uuid4().hex[:12]}"
    _admin_execute(f'CREATE DATABASE "{name}" TEMPLATE "{_pg_template()}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def central_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated central database on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        db = Database.from_url(str(tmp_path / "central.sqlite3"))
        db.migrate()
        try:
            yield db
        finally:
            db.dispose()
        return
    if not postgres_available():
        pytest.skip("PostgreSQL on 127.0.0.1:5432 is not reachable")
    with fresh_postgres_url() as url:
        db = Database.from_url(url)
        try:
            yield db
        finally:
            db.dispose()


# --- servers ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    app: FastAPI
    client: httpx.Client
    db: Database


@contextlib.contextmanager
def live_server(db: Database, **settings: Any) -> Iterator[LiveServer]:
    """``create_app`` on ``db``, served by uvicorn on a free port in a background thread."""
    port = free_port()
    settings.setdefault("public_url", f"http://127.0.0.1:{port}")
    settings.setdefault("secure_cookies", False)
    app = create_app(
        ServerSettings(database_url=str(db.engine.url), host="127.0.0.1", port=port, **settings), db
    )
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", proxy_headers=False
        )
    )
    thread = threading.Thread(target=server.run, name="live-central", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the central server did not start")
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=url, timeout=30) as client:
        try:
            yield LiveServer(url=url, app=app, client=client, db=db)
        finally:
            server.should_exit = True
            thread.join(timeout=20)


@pytest.fixture
def central(central_db: Database) -> Iterator[LiveServer]:
    """A live server on each database, with rate limits loose enough for tests."""
    with live_server(central_db, terminal_rate_per_second=1000.0, terminal_burst=1000) as server:
        yield server


# --- shop set-up -----------------------------------------------------------------------------------


def add_store(
    db: Database,
    code: str = "S01",
    *,
    name: str = "Main Street",
    currency: str = "EUR",
    locale: str = "de_DE",
    tax_mode: str = "inclusive",
) -> int:
    with db.begin() as conn:
        return _add_store(
            conn, code=code, name=name, currency=currency, locale=locale, tax_mode=tax_mode, now=utcnow()
        )


def enrollment_code(db: Database, store_code: str = "S01") -> str:
    with db.begin() as conn:
        return create_enrollment_code(conn, store_code=store_code, now=utcnow())[0]


def add_shopper(db: Database, email: str = "shopper@example.com", password: str = "correct horse 1") -> int:
    with db.begin() as conn:
        return int(
            conn.execute(
                insert(schema.shoppers)
                .values(
                    email=email,
                    password_hash=password_hasher.hash(password),
                    display_name=email.split("@")[0],
                    created_at=utcnow(),
                )
                .returning(schema.shoppers.c.id)
            ).scalar_one()
        )


def add_product(db: Database, sku: str, *, name: str = "", price: int = 1999, tax_rate: str = "19") -> None:
    with db.begin() as conn:
        conn.execute(
            insert(schema.products).values(
                sku=sku,
                name=name or sku,
                price=price,
                tax_rate=tax_rate,
                unit="piece",
                barcodes="",
                active=True,
                updated_at=utcnow(),
            )
        )


def set_stock(db: Database, store_code: str, sku: str, on_hand_milli: int) -> None:
    """Set one on-hand figure as a stock count would (the change reaches the store's feed)."""
    from sync.server.catalog import import_stock

    amount = f"{on_hand_milli / 1000:.3f}"
    with db.begin() as conn:
        import_stock(conn, f"sku,on_hand\n{sku},{amount}\n", store_code=store_code, now=utcnow())


# --- terminals -------------------------------------------------------------------------------------


def new_event_id() -> str:
    return str(uuid_utils.uuid7())


@dataclass
class FakeTerminal:
    """An enrolled terminal as the server sees it, with its own journal chain."""

    id: int
    code: str
    token: str
    claim_key: bytes
    store_code: str
    server_public_key: bytes
    seq: int = 0
    head: str = GENESIS_HASH
    entries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def entry(
        self,
        type: str,
        payload: dict[str, Any],
        *,
        schema_version: int = 1,
        seq: int | None = None,
        prev_hash: str | None = None,
        event_id: str | None = None,
        hash: str | None = None,
        advance: bool = True,
    ) -> dict[str, Any]:
        """The next journal entry (chained unless told otherwise); advances the chain by default."""
        seq = self.seq + 1 if seq is None else seq
        prev = self.head if prev_hash is None else prev_hash
        body = entry_body(
            seq=seq,
            event_id=event_id or new_event_id(),
            type=type,
            schema_version=schema_version,
            occurred_at=datetime.now(UTC).isoformat(),
            payload=payload,
        )
        entry = {**body, "prev_hash": prev, "hash": hash or chain_hash(prev, body)}
        if advance:
            self.seq, self.head = seq, entry["hash"]
            self.entries.append(entry)
        return entry

    def claim_code(self, today: date | None = None, ttl_days: int = 30) -> ClaimCode:
        return make_claim_code(
            terminal_id=self.id, claim_key=self.claim_key, today=today or utcnow().date(), ttl_days=ttl_days
        )

    def push(self, client: httpx.Client, entries: list[dict[str, Any]], **extra: Any) -> httpx.Response:
        body = {"protocol_version": PROTOCOL_VERSION, "entries": entries, **extra}
        return client.post("/v1/push", json=body, headers=self.headers)


def enroll(client: httpx.Client, db: Database, store_code: str = "S01", name: str = "Till") -> FakeTerminal:
    import base64

    code = enrollment_code(db, store_code)
    response = client.post(
        "/v1/enroll", json={"code": code, "terminal_name": name, "protocol_version": PROTOCOL_VERSION}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return FakeTerminal(
        id=body["terminal_id"],
        code=body["terminal_code"],
        token=body["token"],
        claim_key=base64.b64decode(body["claim_key"]),
        store_code=body["store"]["code"],
        server_public_key=base64.b64decode(body["server_public_key"]),
    )


def sale_payload(
    *,
    total: int = 1999,
    currency: str = "EUR",
    claim_code: str | None = None,
    member_id: int | None = None,
    lines: list[dict[str, Any]] | None = None,
    sale_id: str | None = None,
    receipt_no: str = "R-0001",
    completed_at: datetime | None = None,
    original_sale_id: str | None = None,
    member_code: str | None = None,
) -> dict[str, Any]:
    """A valid SalePayload (sale.completed schema 1) as a dict; one line of ``total`` by default."""
    if lines is None:
        lines = [
            {
                "line_no": 1,
                "sku": "SKU-1",
                "name": "Umbrella",
                "unit": "piece",
                "quantity_milli": 1000 if total >= 0 else -1000,
                "unit_price": abs(total),
                "discount": 0,
                "total": total,
                "tax_rate": "19",
                "barcode": None,
            }
        ]
    net = round(total / 1.19)
    return {
        "sale_id": sale_id or str(uuid.uuid4()),
        "receipt_no": receipt_no,
        "currency": currency,
        "tax_mode": "inclusive",
        "lines": lines,
        "taxes": [{"rate": "19", "net": net, "tax": total - net, "gross": total}],
        "sale_discount": 0,
        "total": total,
        "rounding": 0,
        "tenders": [{"kind": "cash", "amount": total, "tendered": total, "reference": None}],
        "change": 0,
        "claim_code": claim_code,
        "member_id": member_id,
        "member_code": member_code,
        "cashier_id": "1",
        "approved_by": None,
        "shift_id": None,
        "original_sale_id": original_sale_id,
        "completed_at": (completed_at or datetime.now(UTC)).isoformat(),
    }


@dataclass
class PushedSale:
    response: httpx.Response
    sale_id: str
    claim_code: str
    total: int


def push_sale(
    client: httpx.Client,
    terminal: FakeTerminal,
    *,
    total: int = 1999,
    member_id: int | None = None,
    claim_code: str | None = None,
    lines: list[dict[str, Any]] | None = None,
    completed_at: datetime | None = None,
    member_code: str | None = None,
) -> PushedSale:
    """Push one completed sale with a genuine claim code (made now unless ``claim_code`` is given)."""
    code = claim_code or terminal.claim_code((completed_at or utcnow()).date()).text
    payload = sale_payload(
        total=total,
        claim_code=code,
        member_id=member_id,
        member_code=member_code,
        lines=lines,
        completed_at=completed_at,
        receipt_no=f"R-{terminal.seq + 1:05d}",
    )
    entry = terminal.entry("sale.completed", payload)
    response = terminal.push(client, [entry])
    return PushedSale(response=response, sale_id=payload["sale_id"], claim_code=code, total=total)


def member_code_for(db: Database, member_id: int, now: datetime | None = None) -> str:
    """A genuine member code of ``member_id``, signed with head office's key as the account page does."""
    from sync.codes import make_member_code
    from sync.server.keys import signing_key

    with db.begin() as conn:
        key = signing_key(conn)
    return make_member_code(member_id=member_id, signing_key=key, now=now or datetime.now(UTC))
