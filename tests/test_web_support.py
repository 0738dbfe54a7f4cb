"""Helpers for the shopper and head-office page tests (no tests here).

A real pos-central app on a real SQLite file (or a fresh PostgreSQL database): a store, an admin,
and :class:`Till` terminals enrolled through the real ``POST /v1/enroll`` that push real,
hash-chained journal entries through ``POST /v1/push``, each sale carrying a claim code made with
the terminal's claim key, exactly as a terminal prints it. The HTTP client is either a TestClient
(in-process) or an ``httpx.Client`` pointed at a real uvicorn on a real port.
"""

from __future__ import annotations

import base64
import re
import socket
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from central_fixtures import fresh_postgres_url, postgres_available
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import FastAPI
from sqlalchemy import insert

from sync.codes import ClaimCode, claim_url, load_public_key, make_claim_code
from sync.protocol import (
    GENESIS_HASH,
    PROTOCOL_VERSION,
    EventType,
    JournalEntry,
    PushRequest,
    PushResponse,
    chain_hash,
    entry_body,
)
from sync.server import schema, stores
from sync.server.app import create_app
from sync.server.db import Database
from sync.server.settings import ServerSettings
from sync.server.web.accounts import hash_password

with warnings.catch_warnings():
    # Starlette 1.x warns at import that it would rather drive httpx2; httpx works and is what we ship.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: F401  (re-exported for the page tests)

ADMIN_EMAIL = "hq@storelink.example"
ADMIN_PASSWORD = "head-office-secret"
PUBLIC_URL = "http://shop.storelink.example"


def new_app(
    tmp_path: Path, *, public_url: str = PUBLIC_URL, database_url: str = "", **settings: Any
) -> FastAPI:
    """A pos-central app on ``database_url``, or on a fresh SQLite file in ``tmp_path``."""
    url = database_url or f"sqlite:///{tmp_path / 'central.sqlite3'}"
    return create_app(ServerSettings(database_url=url, public_url=public_url, **settings))


#: Parametrize an app fixture with these so every page test runs on SQLite and on PostgreSQL.
DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@contextmanager
def database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    """A fresh SQLite file, or a fresh PostgreSQL database dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'central.sqlite3'}"
        return
    if not postgres_available():
        pytest.skip("PostgreSQL on 127.0.0.1:5432 is not reachable")
    with fresh_postgres_url() as url:
        yield url


def db_of(app: FastAPI) -> Database:
    database: Database = app.state.db
    return database


def add_store(
    app: FastAPI, code: str = "S01", name: str = "Berlin Mitte", currency: str = "EUR", timezone: str = "UTC"
) -> int:
    with db_of(app).begin() as conn:
        return stores.add_store(
            conn,
            code=code,
            name=name,
            currency=currency,
            locale="de_DE",
            tax_mode="inclusive",
            now=datetime.now(UTC),
            timezone=timezone,
        )


def add_admin(app: FastAPI, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> int:
    with db_of(app).begin() as conn:
        return stores.add_admin(
            conn, email=email, password=password, display_name="Head office", now=datetime.now(UTC)
        )


def add_shopper(app: FastAPI, email: str = "mia@example.org", password: str = "correct horse battery") -> int:
    """A shopper account made the way sign-up makes it; returns its id (the member id)."""
    with db_of(app).begin() as conn:
        shopper_id: int = conn.execute(
            insert(schema.shoppers)
            .values(
                email=email,
                password_hash=hash_password(password),
                display_name="",
                created_at=datetime.now(UTC),
            )
            .returning(schema.shoppers.c.id)
        ).scalar_one()
    return shopper_id


def enrollment_code(app: FastAPI, store_code: str = "S01") -> str:
    with db_of(app).begin() as conn:
        code, _expires = stores.create_enrollment_code(conn, store_code=store_code, now=datetime.now(UTC))
    return code


def uuid7_text() -> str:
    """A UUIDv7-shaped text (the protocol checks the shape only)."""
    raw = uuid.uuid4().int
    raw = (raw & ~(0xF << 76)) | (0x7 << 76)
    return str(uuid.UUID(int=raw))


@dataclass
class Till:
    """A terminal enrolled through the real API, pushing real journal entries."""

    client: httpx.Client
    terminal_id: int
    token: str
    claim_key: bytes
    server_public_key: bytes
    seq: int = 0
    head: str = GENESIS_HASH
    receipts: int = 0
    pushed: list[JournalEntry] = field(default_factory=list)

    @classmethod
    def enroll(cls, client: httpx.Client, app: FastAPI, store_code: str = "S01") -> Till:
        """Enroll a terminal at ``store_code`` with a fresh enrollment code, through ``/v1/enroll``."""
        request = {
            "code": enrollment_code(app, store_code),
            "terminal_name": "Till",
            "protocol_version": PROTOCOL_VERSION,
        }
        answer = client.post("/v1/enroll", json=request)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        return cls(
            client=client,
            terminal_id=body["terminal_id"],
            token=body["token"],
            claim_key=base64.b64decode(body["claim_key"]),
            server_public_key=base64.b64decode(body["server_public_key"]),
        )

    def claim_code(self, today: date | None = None, ttl_days: int = 30) -> ClaimCode:
        return make_claim_code(
            terminal_id=self.terminal_id,
            claim_key=self.claim_key,
            today=today or datetime.now(UTC).date(),
            ttl_days=ttl_days,
        )

    def public_key(self) -> Ed25519PublicKey:
        """The server's member-code key, as this terminal got it at enrollment."""
        return load_public_key(self.server_public_key)

    def sale_entry(
        self,
        lines: list[tuple[str, str, int, int]],
        *,
        claim: ClaimCode | None = None,
        member_id: int | None = None,
        completed_at: datetime | None = None,
        currency: str = "EUR",
        member_code: str | None = None,
        type: str = EventType.SALE_COMPLETED.value,
        **extra: Any,
    ) -> JournalEntry:
        """The next journal entry: a completed sale of ``lines`` (sku, name, pieces, unit price);
        ``extra`` replaces payload fields (a return: ``type`` and ``original_sale_id``)."""
        when = completed_at or datetime.now(UTC)
        self.receipts += 1
        total = sum(qty * price for _sku, _name, qty, price in lines)
        payload = {
            "sale_id": uuid7_text(),
            "receipt_no": f"T{self.terminal_id}-{self.receipts:06d}",
            "currency": currency,
            "tax_mode": "inclusive",
            "lines": [
                {
                    "line_no": n,
                    "sku": sku,
                    "name": name,
                    "unit": "piece",
                    "quantity_milli": qty * 1000,
                    "unit_price": price,
                    "discount": 0,
                    "total": qty * price,
                    "tax_rate": "19",
                }
                for n, (sku, name, qty, price) in enumerate(lines, start=1)
            ],
            "taxes": [
                {"rate": "19", "net": total - total * 19 // 119, "tax": total * 19 // 119, "gross": total}
            ],
            "total": total,
            "tenders": [{"kind": "card", "amount": total, "reference": "A1"}],
            "claim_code": claim.text if claim else None,
            "member_id": member_id,
            "member_code": member_code,
            "completed_at": when.isoformat(),
        }
        payload.update(extra)
        return self.entry(type, payload, when)

    def entry(self, type: str, payload: dict[str, Any], when: datetime | None = None) -> JournalEntry:
        """The next journal entry in this terminal's chain, with any type and payload."""
        when = when or datetime.now(UTC)
        self.seq += 1
        body = entry_body(
            seq=self.seq,
            event_id=uuid7_text(),
            type=type,
            schema_version=1,
            occurred_at=when.isoformat().replace("+00:00", "Z"),
            payload=payload,
        )
        digest = chain_hash(self.head, body)
        entry = JournalEntry(**body, prev_hash=self.head, hash=digest)
        self.head = digest
        return entry

    def push(
        self,
        entries: list[JournalEntry],
        queued: int = 0,
        *,
        expect: str = "accepted",
        clock_ahead: timedelta = timedelta(0),
    ) -> PushResponse:
        """Push ``entries`` as one batch; every entry must come back with status ``expect``."""
        request = PushRequest(
            protocol_version=PROTOCOL_VERSION,
            entries=entries,
            queued=queued,
            client_time=(datetime.now(UTC) + clock_ahead).isoformat(),
        )
        response = self.client.post(
            "/v1/push",
            content=request.model_dump_json(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.text
        answer = PushResponse.model_validate_json(response.text)
        self.pushed.extend(entries)
        assert all(r.status == expect for r in answer.results), answer
        return answer

    def sell(self, lines: list[tuple[str, str, int, int]], **kwargs: Any) -> tuple[ClaimCode, JournalEntry]:
        """Sell ``lines`` with a fresh claim code and push the sale at once."""
        code = kwargs.pop("claim", None) or self.claim_code()
        entry = self.sale_entry(lines, claim=code, **kwargs)
        self.push([entry])
        return code, entry


def url_path_of_claim(code: ClaimCode) -> str:
    """The path part of the receipt QR's URL, upper case as printed."""
    return re.sub(r"^HTTPS?://[^/]+", "", claim_url(PUBLIC_URL, code))


CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    """The CSRF token a page's forms carry."""
    match = CSRF_INPUT.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_server(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free 127.0.0.1 port in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def today_utc() -> date:
    return datetime.now(UTC).date()


def days_ago(n: int, hour: int = 12) -> datetime:
    return datetime.combine(today_utc() - timedelta(days=n), datetime.min.time(), tzinfo=UTC).replace(
        hour=hour
    )


# --- a real SMTP server for the sign-in mails ------------------------------------------------------


class Mailbox:
    """A real SMTP server (aiosmtpd) on a free 127.0.0.1 port; the mails it received, to read."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self._arrived = threading.Condition()
        self.port = free_port()
        self._controller: Any = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from email import message_from_bytes
        from email.policy import default

        message = message_from_bytes(envelope.content, policy=default)
        with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()
        return "250 OK"

    def start(self) -> Mailbox:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()

    def settings(self) -> dict[str, Any]:
        """ServerSettings values that send the sign-in mails here."""
        return {"smtp_host": "127.0.0.1", "smtp_port": self.port}

    def wait_for(self, to: str, count: int = 1, timeout: float = 20.0) -> Any:
        """The ``count``-th mail to ``to`` (waits on its arrival, not on a clock)."""
        with self._arrived:
            got = self._arrived.wait_for(lambda: len(self.to(to)) >= count, timeout=timeout)
        assert got, f"no mail number {count} to {to} arrived; got {[m['To'] for m in self.messages]}"
        return self.to(to)[count - 1]

    def to(self, address: str) -> list[Any]:
        return [m for m in self.messages if m["To"] == address]


def mail_code_and_link(message: Any) -> tuple[str, str]:
    """The 6-digit code and the sign-in link in a sign-in mail."""
    body = message.get_content()
    code = re.search(r"\b([0-9]{6})\b", body)
    link = re.search(r"(https?://\S+/account/link/\S+)", body)
    assert code and link, body
    return code.group(1), link.group(1)
