"""Wire models shared by the terminal and the central server.

Everything that crosses the network between a terminal and ``pos-central`` is defined here, with
the protocol version. ``sync/server`` and ``pos`` both import this module; it imports neither.

The journal hash chain is defined here too, so the terminal (``pos ledger verify``) and the server
(chain check on push) compute it the same way:

    hash = SHA-256( prev_hash (64 lowercase hex chars, ASCII) || canonical_json(body) )

where ``body`` is the entry without its hashes: ``seq``, ``event_id``, ``type``,
``schema_version``, ``occurred_at`` and ``payload``. Canonical JSON is UTF-8, keys sorted, no
insignificant whitespace, no NaN. The first entry's ``prev_hash`` is :data:`GENESIS_HASH`.
Covering the envelope (not just the payload) means reordering, renumbering or retyping an entry
also breaks the chain.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

PROTOCOL_VERSION = 1
#: Versions this build can speak. A server answers 426 to a terminal whose version it dropped.
SUPPORTED_PROTOCOL_VERSIONS: tuple[int, ...] = (1,)

#: Request header carrying the sender's protocol version, so the server can answer 426 before
#: parsing a body it may not understand (sync.client sends it on every call).
PROTOCOL_HEADER = "X-Storelink-Protocol"

#: What a terminal reports about itself with every request (``sync.client`` sends them on every
#: call, hello and enroll included; the server validates them strictly and keeps the latest per
#: terminal for the fleet view). See :class:`TerminalReport`.
APP_VERSION_HEADER = "X-Storelink-App-Version"
PLATFORM_HEADER = "X-Storelink-Platform"
LEDGER_SCHEMA_HEADER = "X-Storelink-Ledger-Schema"
QUEUED_HEADER = "X-Storelink-Queued"
LEDGER_HEALTH_HEADER = "X-Storelink-Ledger-Health"
LEDGER_PROBLEM_HEADER = "X-Storelink-Ledger-Problem"

GENESIS_HASH = "0" * 64
#: Most entries a terminal may push in one batch; the server also announces it in ``hello``.
MAX_BATCH_ENTRIES = 500
#: Most bytes a push body may have.
MAX_BATCH_BYTES = 4 * 1024 * 1024


class EventType(StrEnum):
    """Every business event a terminal journals. Values are stable on the wire."""

    SALE_COMPLETED = "sale.completed"
    SALE_VOIDED = "sale.voided"
    RETURN_COMPLETED = "return.completed"
    TRAINING_SALE = "sale.training"
    SHIFT_OPENED = "shift.opened"
    SHIFT_CLOSED = "shift.closed"
    CASH_IN = "cash.in"
    CASH_OUT = "cash.out"
    DRAWER_OPENED = "drawer.opened"
    SIGNED_IN = "staff.signed_in"
    SIGNED_OUT = "staff.signed_out"
    MANAGER_OVERRIDE = "override.approved"
    RECEIPT_REPRINTED = "receipt.reprinted"
    CATALOG_IMPORTED = "catalog.imported"


def canonical_json(value: Any) -> bytes:
    """The one byte form of a JSON value that hashes and MACs are computed over.

    That form is the standard library's ``json.dumps(value, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False, allow_nan=False)`` in UTF-8. orjson writes the same bytes several times
    faster for dicts with text keys, lists, text, booleans, None and integers that fit 64 bits; a
    value holding a float (orjson spells exponents differently and writes NaN as null), a bigger
    integer or a subclass goes the standard library's way. For every value the standard library
    can write the bytes are the same (``tests/test_canonical_json.py`` checks it on generated
    values).
    """
    if not _has_float(value):
        try:
            return orjson.dumps(value, option=_ORJSON_CANONICAL)
        except orjson.JSONEncodeError:
            pass  # a big integer, a lone surrogate, a type JSON has not: the reference decides
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


#: Sorted keys; dates, dataclasses and subclasses of str/int/dict are refused (then the standard
#: library decides what they become, as it always did).
_ORJSON_CANONICAL = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _has_float(value: Any) -> bool:
    """True when ``value`` holds a float anywhere (a walk over its dicts and lists)."""
    stack = [value]
    pop, push = stack.pop, stack.append
    while stack:
        item = pop()
        kind = type(item)
        if kind is dict:
            item = item.values()
        elif kind is not list and kind is not tuple:
            if isinstance(item, float):
                return True
            continue
        for child in item:
            kind = type(child)
            if kind is str or kind is int or child is None or kind is bool:
                continue
            if kind is float:
                return True
            push(child)
    return False


def _json_text(value: Any) -> bytes:
    """``canonical_json`` of one entry field (text or a whole number), without the walk."""
    kind = type(value)
    if kind is int:
        return b"%d" % value
    if kind is str:
        try:
            return orjson.dumps(value)
        except orjson.JSONEncodeError:
            pass
    return canonical_json(value)


def entry_body(
    *,
    seq: int,
    event_id: str,
    type: str,
    schema_version: int,
    occurred_at: str,
    payload: dict[str, Any],
) -> dict[str, Any]:
    """The hashed part of a journal entry."""
    return {
        "seq": seq,
        "event_id": event_id,
        "type": type,
        "schema_version": schema_version,
        "occurred_at": occurred_at,
        "payload": payload,
    }


def chain_hash(prev_hash: str, body: dict[str, Any]) -> str:
    """SHA-256 over the previous entry's hash and this entry's canonical body, as hex."""
    return chain_hash_of(prev_hash, canonical_json(body))


def chain_hash_of(prev_hash: str, canonical_body: bytes) -> str:
    """:func:`chain_hash` for a body already in canonical form (see :func:`canonical_body`)."""
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(canonical_body)
    return digest.hexdigest()


def canonical_body(
    *, seq: int, event_id: str, type: str, schema_version: int, occurred_at: str, canonical_payload: bytes
) -> bytes:
    """``canonical_json(entry_body(...))`` around a payload already in canonical form.

    The server checks a pushed entry's hash with it and stores the same payload bytes, so each
    payload is serialized once. The keys are written in their sorted order.
    """
    return b"".join(
        (
            b'{"event_id":',
            _json_text(event_id),
            b',"occurred_at":',
            _json_text(occurred_at),
            b',"payload":',
            canonical_payload,
            b',"schema_version":',
            _json_text(schema_version),
            b',"seq":',
            _json_text(seq),
            b',"type":',
            _json_text(type),
            b"}",
        )
    )


_HEX64 = r"^[0-9a-f]{64}$"
_UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class WireModel(BaseModel):
    """Base of every wire model: exactly what the schema says is accepted.

    ``strict``: no number from a bool, a float or a string, no string from a number (``"queued":
    false`` is a 422, not 0); ``extra="forbid"``: no unknown field. Enum fields take their values
    as text when parsed from JSON, which is how everything here travels.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class JournalEntry(WireModel):
    """One journal entry as it travels from terminal to server."""

    seq: int = Field(ge=1, description="Gapless per-terminal sequence number, from 1")
    event_id: str = Field(pattern=_UUID, description="UUIDv7, the idempotency key")
    type: str = Field(min_length=1, max_length=64)
    schema_version: int = Field(ge=1, le=1000)
    occurred_at: str = Field(min_length=1, max_length=40, description="ISO 8601 UTC, terminal clock")
    payload: dict[str, Any]
    prev_hash: str = Field(pattern=_HEX64)
    hash: str = Field(pattern=_HEX64)

    def body(self) -> dict[str, Any]:
        return entry_body(
            seq=self.seq,
            event_id=self.event_id,
            type=self.type,
            schema_version=self.schema_version,
            occurred_at=self.occurred_at,
            payload=self.payload,
        )

    def hash_is_valid(self) -> bool:
        return chain_hash(self.prev_hash, self.body()) == self.hash


# --- sale payload (event type sale.completed / sale.training / return.completed, schema 1) -------


class SaleLine(WireModel):
    line_no: int = Field(ge=1)
    sku: str = Field(min_length=1, max_length=64)
    name: str = Field(max_length=200)
    unit: Literal["piece", "kg"]
    #: Quantity in thousandths (pieces x 1000, or grams). Negative on a return.
    quantity_milli: int
    unit_price: int = Field(description="Minor units, as the shelf price (gross or net per tax mode)")
    discount: int = Field(ge=0, description="Minor units taken off this line")
    total: int = Field(description="Minor units, line total after discount, as the shelf price")
    tax_rate: str = Field(pattern=r"^\d{1,2}(\.\d{1,3})?$", description="Percent, e.g. '19' or '7.5'")
    barcode: str | None = None


class TaxRow(WireModel):
    rate: str = Field(pattern=r"^\d{1,2}(\.\d{1,3})?$")
    net: int
    tax: int
    gross: int


class Tender(WireModel):
    kind: Literal["cash", "card", "voucher"]
    amount: int = Field(description="Minor units applied to the sale (cash after change)")
    tendered: int | None = Field(default=None, description="Cash handed over, minor units")
    reference: str | None = Field(default=None, max_length=64, description="Card approval reference")


class SalePayload(WireModel):
    sale_id: str = Field(pattern=_UUID)
    receipt_no: str = Field(min_length=1, max_length=40)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    tax_mode: Literal["inclusive", "exclusive"]
    lines: list[SaleLine] = Field(min_length=1)
    taxes: list[TaxRow]
    sale_discount: int = Field(default=0, ge=0)
    total: int
    rounding: int = Field(default=0, description="Cash rounding, minor units (total + rounding is paid)")
    tenders: list[Tender]
    change: int = Field(default=0, ge=0)
    claim_code: str | None = Field(default=None, max_length=64)
    member_id: int | None = None
    #: The member code the shopper showed (or typed), exactly as the till read it. Head office
    #: verifies it itself and credits only the member it names; ``member_id`` is what the till
    #: believed and is never trusted for points.
    member_code: str | None = Field(default=None, max_length=200)
    cashier_id: str | None = None
    approved_by: str | None = None
    shift_id: str | None = None
    original_sale_id: str | None = Field(default=None, description="For a return: the sale returned")
    completed_at: str


# --- push ------------------------------------------------------------------------------------


class PushRequest(WireModel):
    protocol_version: int = Field(ge=1)
    entries: list[JournalEntry] = Field(min_length=1, max_length=MAX_BATCH_ENTRIES)
    #: What the terminal still had queued when it sent this batch, for the fleet view.
    queued: int = Field(default=0, ge=0)
    client_time: str | None = None


class EntryStatus(StrEnum):
    ACCEPTED = "accepted"  # stored and applied now
    DUPLICATE = "duplicate"  # already held with the same hash: a retry, nothing applied again
    CONFLICT = "conflict"  # same event id or sequence, different hash: kept aside, flagged
    QUARANTINED = "quarantined"  # stored in the chain, effects not applied (malformed payload)
    REJECTED = "rejected"  # not stored: out of order or chain broken; resend from high_seq + 1


class EntryResult(WireModel):
    seq: int
    event_id: str
    #: The value as text is the enum (strict mode would want an EntryStatus object from a dict).
    status: EntryStatus = Field(strict=False)
    reason: str | None = None


class PushResponse(WireModel):
    results: list[EntryResult]
    #: Highest sequence the server holds with no gap before it. The terminal advances to this.
    high_seq: int
    server_time: str


# --- hello / enrollment -------------------------------------------------------------------------


class Hello(WireModel):
    protocol_versions: list[int]
    server_time: str
    max_batch_entries: int
    max_batch_bytes: int
    public_url: str


class EnrollRequest(WireModel):
    code: str = Field(min_length=4, max_length=64)
    terminal_name: str = Field(default="", max_length=100)
    protocol_version: int = Field(ge=1)
    #: A random key the till made and kept in its data directory before its first attempt. Asking
    #: again with the same code and the same key (the answer was lost) gets the same terminal again,
    #: with a new token; another key is refused. None: an older till (no retry possible).
    device_key: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{22,64}$")
    #: Sent by a till whose ledger has synced before (a ledger restored onto new hardware): its
    #: journal's head, sequence and hash. Head office then gives it only the terminal a re-key code
    #: is for, and only if the ledger is not behind what head office holds for that terminal.
    ledger_seq: int | None = Field(default=None, ge=0, le=2**62)
    ledger_head: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


class StoreInfo(WireModel):
    code: str
    name: str
    currency: str
    locale: str
    tax_mode: Literal["inclusive", "exclusive"]
    discount_limit_percent: int = 10
    timezone: str = "UTC"


class Enrollment(WireModel):
    terminal_id: int
    terminal_code: str
    store: StoreInfo
    token: str
    claim_key: str = Field(description="Base64 of the terminal's 32-byte claim MAC key")
    server_public_key: str = Field(description="Base64 of the raw 32-byte Ed25519 public key")
    public_url: str


# --- what a terminal reports with every request ---------------------------------------------------


class LedgerHealth(StrEnum):
    """The till's ledger as its last ``pos ledger verify`` (or start-up check) found it."""

    OK = "ok"  # the last verification passed
    UNCHECKED = "unchecked"  # not verified yet on this till
    FAILED = "failed"  # the last verification found a problem (named in the problem header)


_REPORT_PATTERNS: dict[str, tuple[str, re.Pattern[str], str]] = {
    # header -> (field, pattern, what it must be)
    APP_VERSION_HEADER: (
        "app_version",
        re.compile(r"[0-9A-Za-z][0-9A-Za-z.+!_-]{0,63}"),
        "a version such as 1.4.0 (letters, digits, . + ! _ -; at most 64)",
    ),
    PLATFORM_HEADER: (
        "platform",
        re.compile(r"[a-z0-9][a-z0-9._-]{0,63}"),
        "a platform tag such as linux-x86_64 (lower-case letters, digits, . _ -; at most 64)",
    ),
    LEDGER_SCHEMA_HEADER: (
        "ledger_schema",
        re.compile(r"[0-9]{4}_[a-z0-9_]{1,59}"),
        "the newest ledger migration's name, such as 0001_initial",
    ),
    QUEUED_HEADER: ("queued", re.compile(r"[0-9]{1,10}"), "a whole number from 0 to 2147483647"),
    LEDGER_HEALTH_HEADER: (
        "ledger_health",
        re.compile("|".join(h.value for h in LedgerHealth)),
        "one of " + ", ".join(h.value for h in LedgerHealth),
    ),
    LEDGER_PROBLEM_HEADER: (
        "ledger_problem",
        re.compile(r"[\x20-\x7e]{1,200}"),
        "printable ASCII, 1 to 200 characters",
    ),
}
#: Every header of the terminal report, in the order the client sends them.
REPORT_HEADERS: tuple[str, ...] = tuple(_REPORT_PATTERNS)
MAX_QUEUED = 2**31 - 1


class ReportHeaderError(ValueError):
    """A report header is malformed; ``header`` names it and ``str()`` says what it must be."""

    def __init__(self, header: str, message: str) -> None:
        super().__init__(message)
        self.header = header


class TerminalReport(WireModel):
    """What a terminal says about itself with every request, as HTTP headers.

    Every field is optional on the wire (a till older than this report sends none); a header that
    is sent must be exactly well-formed, or the server answers 400 ``bad_report_header``.
    """

    app_version: str | None = Field(default=None, pattern=r"^[0-9A-Za-z][0-9A-Za-z.+!_-]{0,63}$")
    platform: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    #: Name of the newest migration applied to the till's ledger.
    ledger_schema: str | None = Field(default=None, pattern=r"^[0-9]{4}_[a-z0-9_]{1,59}$")
    #: Journal entries head office has not acknowledged yet.
    queued: int | None = Field(default=None, ge=0, le=MAX_QUEUED)
    ledger_health: LedgerHealth | None = Field(default=None, strict=False)  # the value as text
    #: What the failed verification found (only with ledger_health ``failed``).
    ledger_problem: str | None = Field(default=None, min_length=1, max_length=200, pattern=r"^[\x20-\x7e]+$")

    def headers(self) -> dict[str, str]:
        """The report as request headers (fields that are None are left out)."""
        values = self.model_dump(mode="json")
        return {
            header: str(values[field])
            for header, (field, _pattern, _what) in _REPORT_PATTERNS.items()
            if values[field] is not None
        }

    @classmethod
    def from_headers(cls, get_all: Callable[[str], list[str]]) -> TerminalReport:
        """Read the report from request headers (``get_all(name)`` lists the values sent under
        ``name``). Raises :class:`ReportHeaderError` for a header sent twice or malformed."""
        values: dict[str, Any] = {}
        for header, (field, pattern, what) in _REPORT_PATTERNS.items():
            sent = get_all(header)
            if not sent:
                continue
            if len(sent) > 1:
                raise ReportHeaderError(header, f"{header} was sent {len(sent)} times; send it once")
            value = sent[0]
            if not pattern.fullmatch(value):
                raise ReportHeaderError(header, f"{header} must be {what}, got {value[:80]!r}")
            if field == "queued":
                number = int(value)
                if number > MAX_QUEUED:
                    raise ReportHeaderError(header, f"{header} must be {what}, got {value}")
                values[field] = number
            else:
                values[field] = value
        return cls(**values)


def printable_problem(text: str) -> str:
    """``text`` squeezed into what :data:`LEDGER_PROBLEM_HEADER` may carry (ASCII, <= 200)."""
    ascii_text = "".join(ch if " " <= ch <= "~" else "?" for ch in " ".join(text.split()))
    return (ascii_text[:197] + "...") if len(ascii_text) > 200 else (ascii_text or "?")


# --- change feed ----------------------------------------------------------------------------------


class ChangeKind(StrEnum):
    PRODUCT = "product"  # key: sku; data: name, price, tax_rate, unit, barcodes, active
    TAX_RATE = "tax_rate"  # key: code; data: rate
    STAFF = "staff"  # key: staff id; data: name, role, pin_hash, active
    STOCK = "stock"  # key: sku; data: on_hand_milli (absolute, this store)
    STORE = "store"  # key: store code; data: StoreInfo fields


class Change(WireModel):
    seq: int
    kind: ChangeKind = Field(strict=False)  # the value as text, as for EntryResult.status
    key: str
    #: None means the thing was deleted.
    data: dict[str, Any] | None
    #: Changes of one update (a catalog import, a price change) share an id; the terminal shows
    #: none of them until the one with ``last_in_update`` has arrived.
    update_id: str
    last_in_update: bool


class ChangesPage(WireModel):
    changes: list[Change]
    cursor: str
    has_more: bool
    #: True when this page starts a full snapshot: the terminal replaces what it holds.
    snapshot: bool = False
    server_time: str


class StockLevel(WireModel):
    store_code: str
    store_name: str
    on_hand_milli: int


class MemberCodeAnswer(WireModel):
    """``GET /v1/member-codes/{short}``: the shopper a typed short code names, and that hour's
    signed member code, which the till verifies and sends with the sale like a scanned one."""

    member_id: int
    member_code: str = Field(max_length=200)


class ErrorBody(WireModel):
    """Every 4xx the server sends has this body."""

    error: str = Field(description="Stable machine-readable code, e.g. 'token_revoked'")
    detail: str = Field(description="What was wrong, for a person")
