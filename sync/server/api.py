"""The terminal API under ``/v1``: hello, enroll, push, changes, stock.

Authenticated calls carry ``Authorization: Bearer <token>``; store and terminal come from the
token, never from the body. Each one is counted against the terminal's token bucket and records
when the terminal was last seen.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from sync.codes import looks_like_short_member_code, make_member_code, public_key_bytes
from sync.protocol import (
    MAX_BATCH_BYTES,
    MAX_BATCH_ENTRIES,
    PROTOCOL_HEADER,
    SUPPORTED_PROTOCOL_VERSIONS,
    ChangesPage,
    Enrollment,
    EnrollRequest,
    Hello,
    MemberCodeAnswer,
    PushRequest,
    PushResponse,
    StockLevel,
)
from sync.server import changes, fleet, schema
from sync.server.db import Database, utcnow
from sync.server.errors import ERROR_RESPONSES, ApiError, error_response
from sync.server.members import resolve_short_code
from sync.server.push import ingest, iso
from sync.server.stores import EnrollmentRefused, LedgerHead, enroll_terminal, sha256_hex

log = logging.getLogger(__name__)


class _ValidatedBody(Request):
    """A request whose JSON body :class:`_ModelBodyRoute` already parsed and validated."""

    def __init__(self, request: Request, body: bytes, model: BaseModel) -> None:
        super().__init__(request.scope, request.receive)
        self._body = body
        self._model = model

    async def json(self) -> Any:
        # FastAPI validates what this returns against the same model: an instance passes as is.
        return self._model


def _model_body_route(model: type[BaseModel]) -> type[APIRoute]:
    """A route class whose JSON body is parsed and validated in one pass by pydantic's own JSON
    parser, instead of the standard library's ``json.loads`` followed by validating the dicts it
    made (a push body is up to 4 MiB). A body that does not pass (not JSON, NaN, a lone surrogate
    such as "\\ud800", a bad field) goes FastAPI's usual way, so it gets the same answer as always."""

    class ModelBodyRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def validate_first(request: Request) -> Response:
                if not _is_json(request.headers.get("content-type")):
                    return await handler(request)
                body = await request.body()
                try:
                    parsed = model.model_validate_json(body)
                except ValidationError:
                    # FastAPI's way decides what to answer (a bad header before a bad body...).
                    return await handler(request)
                return await handler(_ValidatedBody(request, body, parsed))

            return validate_first

    return ModelBodyRoute


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


router = APIRouter()
#: On every /v1 route: documents the terminal report headers and refuses malformed ones with 400
#: (sync.server.fleet); authenticated routes also record them with the contact.
REPORTED = [Depends(fleet.report_dependency)]
bearer = HTTPBearer(auto_error=False, description="The token the terminal got at enrollment")


@dataclass(frozen=True)
class Terminal:
    id: int
    store_id: int
    code: str
    #: The terminal's recorded last contact after this request's (None: not recorded).
    seen_at: datetime | None = None


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def check_protocol(version: int) -> None:
    """426 for a protocol version this server does not speak (older or newer)."""
    if version in SUPPORTED_PROTOCOL_VERSIONS:
        return
    speaks = ", ".join(map(str, SUPPORTED_PROTOCOL_VERSIONS))
    if version < min(SUPPORTED_PROTOCOL_VERSIONS):
        raise ApiError(
            426,
            "protocol_too_old",
            f"protocol version {version} is no longer supported (this server speaks {speaks}): update the terminal",
        )
    raise ApiError(
        426,
        "protocol_too_new",
        f"protocol version {version} is newer than this server speaks ({speaks}): update the central server",
    )


class ProtocolGate:
    """ASGI middleware: a /v1 request whose protocol header names a version this server does not
    speak gets 426 before its body is read."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            header = PROTOCOL_HEADER.lower().encode("ascii")
            value = next((v for k, v in scope.get("headers") or [] if k == header), None)
            if value is not None:
                try:
                    check_protocol(int(value.decode("ascii", "replace").strip()))
                except ValueError:
                    refusal = ApiError(
                        400, "bad_protocol_header", f"{PROTOCOL_HEADER} must be a whole number"
                    )
                    await _answer(refusal, scope, receive, send)
                    return
                except ApiError as exc:
                    await _answer(exc, scope, receive, send)
                    return
        await self.app(scope, receive, send)


async def _answer(exc: ApiError, scope: Any, receive: Any, send: Any) -> None:
    await error_response(exc.status, exc.error, exc.detail, exc.headers)(scope, receive, send)


def _authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Terminal:
    """The terminal behind the bearer token (401 otherwise); counts the call and notes it was seen."""
    with _db(request).begin() as conn:
        return authenticate_in(conn, request, credentials, mark_seen=True)


def authenticate_in(
    conn: Connection, request: Request, credentials: HTTPAuthorizationCredentials | None, *, mark_seen: bool
) -> Terminal:
    """:func:`_authenticate` inside the caller's transaction."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise ApiError(
            401,
            "missing_token",
            "send the terminal's token as 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    terms = schema.terminals
    report = fleet.reported(request)
    row = conn.execute(
        select(terms.c.id, terms.c.store_id, terms.c.code, terms.c.revoked_at, *fleet.CONTACT_COLUMNS).where(
            terms.c.token_hash == sha256_hex(credentials.credentials)
        )
    ).first()
    if row is None:
        raise ApiError(401, "unknown_token", "this token is not known: enroll the terminal again")
    if row.revoked_at is not None:
        raise ApiError(401, "terminal_revoked", f"terminal {row.code} was revoked by head office: call IT")
    request.app.state.limits.take(row.id)
    seen_at = row.last_seen_at
    if mark_seen:
        settings = request.app.state.settings
        now = utcnow()
        if fleet.note_contact(
            conn,
            row,
            report,
            now=now,
            write_every=timedelta(seconds=settings.seen_write_every_seconds),
        ):
            seen_at = now
    return Terminal(id=row.id, store_id=row.store_id, code=row.code, seen_at=seen_at)


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


@router.get("/healthz", tags=["ops"])
def healthz() -> dict[str, str]:
    """Liveness: answers while the process runs."""
    return {"status": "ok"}


@router.get(
    "/v1/hello", response_model=Hello, responses=ERROR_RESPONSES, tags=["terminal"], dependencies=REPORTED
)
def hello(request: Request) -> Hello:
    """Protocol versions this server speaks, its clock, and the batch limits."""
    return Hello(
        protocol_versions=list(SUPPORTED_PROTOCOL_VERSIONS),
        server_time=iso(datetime.now(UTC)),
        max_batch_entries=MAX_BATCH_ENTRIES,
        max_batch_bytes=MAX_BATCH_BYTES,
        public_url=request.app.state.settings.public_url,
    )


@router.post(
    "/v1/enroll",
    response_model=Enrollment,
    responses=ERROR_RESPONSES,
    tags=["terminal"],
    dependencies=REPORTED,
)
def enroll(body: EnrollRequest, request: Request) -> Enrollment:
    """Exchange a single-use enrollment code for the terminal's identity and secrets.

    The same code with the same ``device_key`` gets the same terminal again (a lost answer), with
    a new token replacing the first, while that terminal has never been in touch."""
    check_protocol(body.protocol_version)
    try:
        with _db(request).begin() as conn:
            terminal = enroll_terminal(
                conn,
                code=body.code,
                terminal_name=body.terminal_name,
                now=utcnow(),
                device_key=body.device_key,
                ledger=LedgerHead(body.ledger_seq, body.ledger_head)
                if body.ledger_seq is not None and body.ledger_head is not None
                else None,
            )
    except EnrollmentRefused as exc:
        status = 404 if exc.reason == "unknown_code" else 409
        raise ApiError(status, exc.reason, str(exc)) from None
    except IntegrityError:
        raise ApiError(409, "code_used", "this enrollment code was just used by another terminal") from None
    return Enrollment(
        terminal_id=terminal.terminal_id,
        terminal_code=terminal.terminal_code,
        store=terminal.store,
        token=terminal.token,
        claim_key=base64.b64encode(terminal.claim_key).decode("ascii"),
        server_public_key=base64.b64encode(public_key_bytes(request.app.state.signing_key)).decode("ascii"),
        public_url=request.app.state.settings.public_url,
    )


def push(body: PushRequest, request: Request, credentials: Credentials) -> Response:
    """Store a batch of journal entries; the answer is committed and says what became of each."""
    check_protocol(body.protocol_version)
    # The concurrency cap (limits.PushGate) was passed before the body was read. The token is
    # checked, and the contact noted, in the same transaction that stores the batch.
    for attempt in range(3):
        try:
            with _db(request).begin() as conn:
                terminal = authenticate_in(conn, request, credentials, mark_seen=True)
                ingested = ingest(conn, terminal_id=terminal.id, request=body, now=utcnow())
            if ingested.forked is not None:
                # Committed: the conflict kept aside and the terminal marked forked for /hq.
                raise ApiError(
                    409,
                    "terminal_forked",
                    f"this till's journal does not continue the one head office holds for terminal "
                    f"{terminal.code} ({ingested.forked}): another device is sending as this terminal, "
                    "or this ledger was restored from an older backup. Nothing of it was merged; "
                    "call IT (docs/deploying.md, Replacing a till)",
                )
            # Serialized here, once: FastAPI would validate the answer again and dump it twice.
            answer = ingested.response
            return Response(answer.model_dump_json(), media_type="application/json")
        except IntegrityError:
            # Another terminal stored the same event id or sale at the same moment: take the
            # batch again, now seeing theirs.
            if attempt == 2:
                raise
        except DBAPIError as exc:
            if not _is_transient(exc) or attempt == 2:
                raise
        time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


router.add_api_route(
    "/v1/push",
    push,
    methods=["POST"],
    response_model=PushResponse,
    responses=ERROR_RESPONSES,
    tags=["terminal"],
    dependencies=REPORTED,
    route_class_override=_model_body_route(PushRequest),
)


def _is_transient(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()
    return "deadlock" in text or "could not serialize" in text or "locked" in text


@router.get(
    "/v1/changes",
    response_model=ChangesPage,
    responses=ERROR_RESPONSES,
    tags=["terminal"],
    dependencies=REPORTED,
)
async def changes_feed(
    request: Request,
    credentials: Credentials,
    cursor: Annotated[str, Query(max_length=200, description="Opaque; empty for a snapshot")] = "",
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    wait: Annotated[float, Query(ge=0, le=60, description="Seconds to wait for news when caught up")] = 0,
) -> ChangesPage:
    """The next page of the store's change feed after ``cursor``.

    An empty cursor, or one older than the server keeps, starts a snapshot (``snapshot`` true on
    its first page). When there is nothing new, waits up to ``wait`` seconds for a change.
    """
    terminal = await run_in_threadpool(_authenticate, request, credentials)
    try:
        after = changes.decode_cursor(cursor)
    except changes.BadCursor as exc:
        raise ApiError(400, "bad_cursor", str(exc)) from None
    deadline = time.monotonic() + min(wait, request.app.state.settings.max_wait_seconds)

    def read() -> changes.Page:
        try:
            with _db(request).begin() as conn:
                changes.publish_stock(conn)
        except DBAPIError as exc:
            # Publishing is retried by the next read; the page can be served without it.
            log.warning("stock figures not published this time: %s", exc.orig)
        with _db(request).engine.connect() as conn:
            return changes.read_page(conn, store_id=terminal.store_id, after=after, limit=limit)

    page = await run_in_threadpool(read)
    while not page.changes and time.monotonic() < deadline:
        await asyncio.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        page = await run_in_threadpool(read)
    if wait > 0 and _contact_due(request, terminal.seen_at):
        # The till was in touch all along: its last contact is the end of the wait, not the start.
        # Throttled like every contact, decided here from what the start recorded, so the usual
        # wait (shorter than the throttle) costs no statement at all.
        await run_in_threadpool(_still_there, request, terminal.id)
    return ChangesPage(
        changes=page.changes,
        cursor=changes.encode_cursor(page.next_seq),
        has_more=page.has_more,
        snapshot=page.snapshot,
        server_time=iso(utcnow()),
    )


def _contact_due(request: Request, seen_at: datetime | None) -> bool:
    every = timedelta(seconds=request.app.state.settings.seen_write_every_seconds)
    if seen_at is None:
        return True
    if seen_at.tzinfo is None:
        seen_at = seen_at.replace(tzinfo=UTC)
    return utcnow() - seen_at >= every


def _still_there(request: Request, terminal_id: int) -> None:
    settings = request.app.state.settings
    with _db(request).begin() as conn:
        fleet.note_still_there(
            conn, terminal_id, now=utcnow(), write_every=timedelta(seconds=settings.seen_write_every_seconds)
        )


@router.get(
    "/v1/member-codes/{short}",
    response_model=MemberCodeAnswer,
    responses=ERROR_RESPONSES,
    tags=["terminal"],
    dependencies=REPORTED,
)
def member_code_lookup(short: str, request: Request, credentials: Credentials) -> MemberCodeAnswer:
    """The shopper a member short code (typed by the cashier) names, with that hour's signed code."""
    _authenticate(request, credentials)
    digits = short.replace(" ", "")
    if not looks_like_short_member_code(digits):
        raise ApiError(
            400, "malformed", "not a member short code: expected 11 digits with a valid check digit"
        )
    now = utcnow()
    with _db(request).engine.connect() as conn:
        found = resolve_short_code(conn, digits, now)
    if found is None:
        raise ApiError(404, "unknown_code", "no member short code like this is valid now")
    shopper_id, valid_from = found
    code = make_member_code(member_id=shopper_id, signing_key=request.app.state.signing_key, now=valid_from)
    return MemberCodeAnswer(member_id=shopper_id, member_code=code)


@router.get(
    "/v1/stock/{sku}",
    response_model=list[StockLevel],
    responses=ERROR_RESPONSES,
    tags=["terminal"],
    dependencies=REPORTED,
)
def stock_lookup(sku: str, request: Request, credentials: Credentials) -> list[StockLevel]:
    """On-hand figures for one product in every store of the chain."""
    _authenticate(request, credentials)
    with _db(request).engine.connect() as conn:
        known = conn.execute(select(schema.products.c.sku).where(schema.products.c.sku == sku)).first()
        if known is None:
            raise ApiError(404, "unknown_sku", f"no product with sku {sku!r} in the catalog")
        rows = conn.execute(
            select(schema.stores.c.code, schema.stores.c.name, schema.stock.c.on_hand_milli)
            .join(schema.stock, schema.stock.c.store_id == schema.stores.c.id)
            .where(schema.stock.c.sku == sku)
            .order_by(schema.stores.c.code)
        ).all()
    return [StockLevel(store_code=r.code, store_name=r.name, on_hand_milli=r.on_hand_milli) for r in rows]
