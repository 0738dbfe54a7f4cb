"""Taking in a terminal's journal entries: the server side of push.

:func:`ingest` runs inside the caller's transaction. It stores each entry, checks the hash chain
against what the server already holds for the terminal, and applies the entry's effects (the sale,
its lines and tenders, stock movements, a pending claim becoming a purchase, member points) in
that same transaction. The caller commits before answering, so an ``accepted`` answer means
durable.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from babel.numbers import get_currency_precision
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError
from sqlalchemy import Connection, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from sync.codes import (
    MEMBER_CODE_MAX_USES,
    MEMBER_LEEWAY_SECONDS,
    CodeError,
    ForgedCode,
    parse_claim_code,
    read_member_code,
    verify_claim_code,
)
from sync.protocol import (
    EntryResult,
    EntryStatus,
    EventType,
    JournalEntry,
    PushRequest,
    PushResponse,
    SalePayload,
    canonical_body,
    canonical_json,
    chain_hash_of,
)
from sync.server import keys, schema
from sync.server.changes import JsonText, bulk_insert
from sync.server.errors import describe_validation_errors

log = logging.getLogger(__name__)

#: Event types whose payload is a SalePayload, and what the server does with them.
SALE_KINDS: dict[str, str | None] = {
    EventType.SALE_COMPLETED.value: "sale",
    EventType.RETURN_COMPLETED.value: "return",
    EventType.TRAINING_SALE.value: None,  # checked, stored, never counted
}
KNOWN_TYPES = frozenset(t.value for t in EventType)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def points_for(total: int, currency: str) -> int:
    """Loyalty points: one per whole major currency unit of the total (negative for a return)."""
    unit = 10 ** get_currency_precision(currency)
    return int(total // unit if total >= 0 else -((-total) // unit))


def parse_time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass
class _Sale:
    row: dict[str, Any]
    lines: list[dict[str, Any]]
    tenders: list[dict[str, Any]]
    #: The pending claim this sale settles, if any.
    claim_id: int | None = None
    #: A pending claim by another shopper that a verified member code took precedence over.
    lost_claim_id: int | None = None
    #: (member code as read, member id) the till sent, if it named a shopper.
    asserted: tuple[str | None, int | None] | None = None


class _Batch:
    """Effects gathered while walking the batch, written together at the end."""

    def __init__(self) -> None:
        self.journal: list[dict[str, Any]] = []
        self.conflicts: list[dict[str, Any]] = []
        self.sales: list[_Sale] = []
        self.sale_ids: set[str] = set()
        self.nonces: set[str] = set()
        self.stock: dict[str, int] = {}
        self.movements: list[dict[str, Any]] = []
        #: Sale ids and claim nonces of this batch the server already held before it.
        self.held_sale_ids: set[str] = set()
        self.held_nonces: set[str] = set()


@dataclass(frozen=True)
class Ingested:
    """What :func:`ingest` did: the answer, and why the batch forks the terminal's chain (None
    when it does not). The caller commits, then refuses a forked push (409 ``terminal_forked``)."""

    response: PushResponse
    forked: str | None = None


def ingest(conn: Connection, *, terminal_id: int, request: PushRequest, now: datetime) -> Ingested:
    """Store and apply one pushed batch for ``terminal_id``; see the module docstring.

    A batch that does not continue the chain head office holds for the terminal -- an entry under
    a held sequence number with other contents, or the next entry's ``prev_hash`` not the held
    head -- comes from a second device pushing as this terminal (a cloned disk, a ledger restored
    from an older backup while the terminal went on elsewhere). Nothing of it is merged: the entry
    is kept aside as a conflict, the batch stops there, and the terminal is marked forked
    (``forked_at``, ``fork_detail``) for /hq Fleet. Entries that do continue the chain (the other
    device's) are still taken."""
    terms = schema.terminals
    # Row lock: two pushes from the same terminal are taken in one after the other.
    terminal = conn.execute(select(terms).where(terms.c.id == terminal_id).with_for_update()).one()
    store = conn.execute(select(schema.stores).where(schema.stores.c.id == terminal.store_id)).one()
    high = int(terminal.last_high_seq)
    head = str(terminal.head_hash)

    journal = schema.journal
    event_ids = [e.event_id for e in request.entries]
    by_event = {
        r.event_id: (r.terminal_id, r.seq, r.hash)
        for r in conn.execute(
            select(journal.c.event_id, journal.c.terminal_id, journal.c.seq, journal.c.hash).where(
                journal.c.event_id.in_(event_ids)
            )
        )
    }
    old_seqs = [e.seq for e in request.entries if e.seq <= high]
    by_seq = (
        {
            r.seq: (r.event_id, r.hash)
            for r in conn.execute(
                select(journal.c.seq, journal.c.event_id, journal.c.hash).where(
                    journal.c.terminal_id == terminal_id, journal.c.seq.in_(old_seqs)
                )
            )
        }
        if old_seqs
        else {}
    )

    batch = _Batch()
    _prefetch(conn, batch, request.entries)
    results: list[EntryResult] = []
    forked: str | None = None
    for entry in request.entries:
        known = by_event.get(entry.event_id)
        if known is not None:
            if known == (terminal_id, entry.seq, entry.hash):
                results.append(_result(entry, EntryStatus.DUPLICATE, "already held"))
            else:
                detail = (
                    f"event id already held as seq {known[1]} of terminal {known[0]} with another hash"
                    if known[0] == terminal_id
                    else f"event id already held from terminal {known[0]}"
                )
                _conflict(batch, terminal_id, entry, "event_id_reused", detail, now)
                results.append(_result(entry, EntryStatus.CONFLICT, detail))
                if known[0] == terminal_id and known[1] == entry.seq:
                    forked = f"entry {entry.seq} differs from the one held for this terminal"
                    break
        elif entry.seq <= high:
            held = by_seq.get(entry.seq)
            detail = f"seq {entry.seq} is already held as event {held[0] if held else '?'}"
            _conflict(batch, terminal_id, entry, "seq_reused", detail, now)
            results.append(_result(entry, EntryStatus.CONFLICT, detail))
            forked = f"entry {entry.seq} differs from the one held for this terminal"
            break
        elif entry.seq > high + 1:
            results.append(
                _result(entry, EntryStatus.REJECTED, f"out of order: the server expects seq {high + 1} next")
            )
        elif entry.prev_hash != head:
            detail = f"chain broken: prev_hash does not match the hash held for seq {high}"
            _conflict(batch, terminal_id, entry, "chain_broken", detail, now)
            results.append(_result(entry, EntryStatus.REJECTED, detail))
            forked = f"entry {entry.seq} does not continue the chain held up to entry {high}"
            break
        elif (payload_json := _hashed_payload(entry)) is None:
            detail = "chain broken: hash does not match the entry's contents"
            _conflict(batch, terminal_id, entry, "chain_broken", detail, now)
            results.append(_result(entry, EntryStatus.REJECTED, detail))
        else:
            problem = _apply(conn, batch, entry, payload_json, terminal, store, now)
            status = EntryStatus.ACCEPTED if problem is None else EntryStatus.QUARANTINED
            batch.journal.append(
                {
                    "terminal_id": terminal_id,
                    "seq": entry.seq,
                    "event_id": entry.event_id,
                    "type": entry.type,
                    "schema_version": entry.schema_version,
                    "occurred_at": entry.occurred_at,
                    "payload": payload_json,
                    "prev_hash": entry.prev_hash,
                    "hash": entry.hash,
                    "received_at": now,
                    "status": "applied" if problem is None else "quarantined",
                    "reason": problem,
                }
            )
            by_event[entry.event_id] = (terminal_id, entry.seq, entry.hash)
            high, head = entry.seq, entry.hash
            results.append(_result(entry, status, problem))

    _write(conn, batch, terminal.store_id, now)
    offset = None
    if request.client_time and (client := parse_time(request.client_time)):
        offset = int((client - now).total_seconds() * 1000)
    conn.execute(
        update(terms)
        .where(terms.c.id == terminal_id)
        .values(
            last_high_seq=high,
            head_hash=head,
            last_seen_at=now,
            last_push_at=now,
            last_queued=min(request.queued, 2**31 - 1),
            clock_offset_ms=offset if offset is not None else terminal.clock_offset_ms,
        )
    )
    if forked is not None:
        conn.execute(
            update(terms)
            .where(terms.c.id == terminal_id)
            .values(forked_at=terminal.forked_at or now, fork_detail=forked[:300])
        )
    return Ingested(PushResponse(results=results, high_seq=high, server_time=iso(now)), forked)


def _prefetch(conn: Connection, batch: _Batch, entries: list[JournalEntry]) -> None:
    """Look up in two queries which of the batch's sales and claim codes the server already holds."""
    sale_ids: set[str] = set()
    nonces: set[str] = set()
    for entry in entries:
        if entry.type in SALE_KINDS:
            sale_id = entry.payload.get("sale_id")
            if isinstance(sale_id, str) and len(sale_id) <= 36:
                sale_ids.add(sale_id)
            code = entry.payload.get("claim_code")
            if isinstance(code, str):
                with contextlib.suppress(CodeError):
                    nonces.add(parse_claim_code(code).nonce_hex)
    sales = schema.sales
    if sale_ids:
        batch.held_sale_ids = set(conn.execute(select(sales.c.id).where(sales.c.id.in_(sale_ids))).scalars())
    if nonces:
        batch.held_nonces = set(
            conn.execute(select(sales.c.claim_nonce).where(sales.c.claim_nonce.in_(nonces))).scalars()
        )


def _hashed_payload(entry: JournalEntry) -> JsonText | None:
    """The entry's payload in canonical form when the entry's hash is right, else None.

    The payload is serialized once: for the hash, and as the text the journal and the sale keep.
    """
    # Text no UTF-8 can hold raises UnicodeEncodeError: the request is answered 422 invalid_text.
    payload = canonical_json(entry.payload)
    body = canonical_body(
        seq=entry.seq,
        event_id=entry.event_id,
        type=entry.type,
        schema_version=entry.schema_version,
        occurred_at=entry.occurred_at,
        canonical_payload=payload,
    )
    if chain_hash_of(entry.prev_hash, body) != entry.hash:
        return None
    return JsonText(payload.decode("utf-8"))


def _result(entry: JournalEntry, status: EntryStatus, reason: str | None) -> EntryResult:
    return EntryResult(seq=entry.seq, event_id=entry.event_id, status=status, reason=reason)


def _conflict(
    batch: _Batch, terminal_id: int, entry: JournalEntry, reason: str, detail: str, now: datetime
) -> None:
    batch.conflicts.append(
        {
            "terminal_id": terminal_id,
            "seq": entry.seq,
            "event_id": entry.event_id,
            "type": entry.type,
            "payload": entry.payload,
            "prev_hash": entry.prev_hash,
            "hash": entry.hash,
            "reason": reason,
            "detail": detail,
            "received_at": now,
        }
    )


def _apply(
    conn: Connection,
    batch: _Batch,
    entry: JournalEntry,
    payload_json: JsonText,
    terminal: Any,
    store: Any,
    now: datetime,
) -> str | None:
    """Gather the effects of one entry; returns why it is quarantined, or None when applied."""
    if entry.type not in KNOWN_TYPES:
        return f"unknown event type {entry.type!r}"
    if entry.type not in SALE_KINDS:
        return None  # shifts, cash, sign-ins...: kept in the journal, no effect on the server
    if entry.schema_version != 1:
        return f"unsupported schema version {entry.schema_version} for {entry.type}"
    try:
        sale = SalePayload.model_validate(entry.payload)
    except ValidationError as exc:
        return f"payload is not a valid {entry.type}: {describe_validation_errors(exc.errors())}"
    if (problem := _out_of_range(sale, payload_json)) is not None:
        return problem
    kind = SALE_KINDS[entry.type]
    completed_at = parse_time(sale.completed_at)
    if completed_at is None:
        return f"completed_at {sale.completed_at!r} is not an ISO 8601 time"
    if sale.currency != store.currency:
        return f"currency {sale.currency} is not the store's currency {store.currency}"
    if kind is None:
        return None
    if sale.sale_id in batch.sale_ids or sale.sale_id in batch.held_sale_ids:
        return f"sale {sale.sale_id} is already recorded under another event"
    nonce = _claim_nonce(sale, terminal, completed_at.date())
    if nonce is not None and (nonce in batch.nonces or nonce in batch.held_nonces):
        nonce = None  # a code printed twice: the first sale keeps it
    batch.sale_ids.add(sale.sale_id)
    if nonce:
        batch.nonces.add(nonce)
    row = {
        "id": sale.sale_id,
        "store_id": store.id,
        "terminal_id": terminal.id,
        "receipt_no": sale.receipt_no,
        "event_id": entry.event_id,
        "kind": kind,
        "total": sale.total,
        "currency": sale.currency,
        "completed_at": completed_at,
        "claim_nonce": nonce,
        "member_id": None,  # decided by _settle_members, never taken from the till
        "points": 0,
        "member_check": None,
        "asserted_member_id": None,
        "member_code_id": None,
        "original_sale_id": sale.original_sale_id,
        "payload": payload_json,
    }
    lines = [
        {
            "sale_id": sale.sale_id,
            "line_no": line.line_no,
            "sku": line.sku,
            "name": line.name,
            "quantity_milli": line.quantity_milli,
            "unit_price": line.unit_price,
            "discount": line.discount,
            "total": line.total,
            "tax_rate": line.tax_rate,
        }
        for line in sale.lines
    ]
    if len({line["line_no"] for line in lines}) != len(lines):
        batch.sale_ids.discard(sale.sale_id)
        batch.nonces.discard(nonce or "")
        return "payload has two lines with the same line_no"
    tenders = [
        {
            "sale_id": sale.sale_id,
            "tender_no": n,
            "kind": t.kind,
            "amount": t.amount,
            "reference": t.reference,
        }
        for n, t in enumerate(sale.tenders, start=1)
    ]
    asserted = (sale.member_code, sale.member_id) if sale.member_code or sale.member_id is not None else None
    batch.sales.append(_Sale(row, lines, tenders, asserted=asserted))
    for line in sale.lines:
        # A sale takes goods off the shelf; a return (negative quantity) puts them back.
        batch.stock[line.sku] = batch.stock.get(line.sku, 0) - line.quantity_milli
        batch.movements.append(
            {
                "store_id": store.id,
                "sku": line.sku,
                "delta_milli": -line.quantity_milli,
                "reason": kind,
                "event_id": entry.event_id,
                "at": now,
            }
        )
    return None


#: Amounts and quantities larger than this are not a real sale (and would overflow storage).
_LIMIT = 10**15


def _out_of_range(sale: SalePayload, payload_json: str) -> str | None:
    # Checked in bulk first: every number of a real sale is in range, and naming the field is only
    # needed when one is not.
    lines, tenders = sale.lines, sale.tenders
    largest = max(
        abs(sale.total),
        abs(sale.rounding),
        abs(sale.change),
        abs(sale.sale_discount),
        abs(sale.member_id or 0),
        max(
            max(abs(ln.quantity_milli), abs(ln.unit_price), abs(ln.discount), abs(ln.total), abs(ln.line_no))
            for ln in lines
        ),
        max((abs(t.amount) for t in tenders), default=0),
    )
    if largest >= _LIMIT:
        return _first_out_of_range(sale)
    # Canonical JSON escapes NUL as \u0000: only a payload showing that needs its texts looked at.
    if "\\u0000" in payload_json and any("\x00" in text for text in _texts(sale)):
        return "payload holds a NUL character"
    if sale.original_sale_id is not None and len(sale.original_sale_id) > 36:
        return "payload field original_sale_id is longer than a sale id"
    return None


def _first_out_of_range(sale: SalePayload) -> str:
    numbers = [("total", sale.total), ("rounding", sale.rounding), ("change", sale.change)]
    numbers += [("sale_discount", sale.sale_discount)]
    for line in sale.lines:
        numbers += [
            (f"lines.{line.line_no}.quantity_milli", line.quantity_milli),
            (f"lines.{line.line_no}.unit_price", line.unit_price),
            (f"lines.{line.line_no}.discount", line.discount),
            (f"lines.{line.line_no}.total", line.total),
            (f"lines.{line.line_no}.line_no", line.line_no),
        ]
    numbers += [(f"tenders.{n}.amount", t.amount) for n, t in enumerate(sale.tenders)]
    numbers += [("member_id", sale.member_id or 0)]
    return next(
        f"payload field {name} is out of range ({value})" for name, value in numbers if abs(value) >= _LIMIT
    )


def _texts(sale: SalePayload) -> list[str]:
    texts = [sale.sale_id, sale.receipt_no, sale.completed_at]
    texts += [line.sku for line in sale.lines] + [line.name for line in sale.lines]
    texts += [t.reference or "" for t in sale.tenders] + [line.barcode or "" for line in sale.lines]
    return texts


def _claim_nonce(sale: SalePayload, terminal: Any, sold_on: date) -> str | None:
    """The nonce of the sale's claim code, if it is a genuine code of this terminal."""
    if not sale.claim_code:
        return None
    try:
        code = verify_claim_code(sale.claim_code, claim_key=bytes(terminal.claim_key), today=sold_on)
    except CodeError as exc:
        log.warning("sale %s carries a claim code that is not valid: %s", sale.sale_id, exc)
        return None
    return code.nonce_hex if code.terminal_id == terminal.id else None


def _write(conn: Connection, batch: _Batch, store_id: int, now: datetime) -> None:
    if batch.conflicts:
        _insert_ignoring_duplicates(conn, schema.conflicts, batch.conflicts)
    if batch.sales:
        _settle_members(conn, batch)
        bulk_insert(conn, schema.sales, [s.row for s in batch.sales])
        bulk_insert(conn, schema.sale_lines, [line for s in batch.sales for line in s.lines])
        tenders = [t for s in batch.sales for t in s.tenders]
        if tenders:
            bulk_insert(conn, schema.sale_tenders, tenders)
        claims = schema.claims
        for sale in batch.sales:
            if sale.claim_id is not None:
                conn.execute(
                    update(claims).where(claims.c.id == sale.claim_id).values(sale_id=sale.row["id"])
                )
            if sale.lost_claim_id is not None:
                conn.execute(update(claims).where(claims.c.id == sale.lost_claim_id).values(outcome="member"))
    if batch.journal:
        bulk_insert(conn, schema.journal, batch.journal)
    if batch.stock:
        _apply_stock(conn, store_id, batch.stock, now)
        bulk_insert(conn, schema.stock_movements, batch.movements)


#: A member code is good for the sale it was shown at: from a little before its window opened (a
#: till's clock a few minutes slow) to this long after it closed (a long sale, a slow payment).
MEMBER_SALE_WINDOW = timedelta(minutes=30)
#: How many sales one member code may credit (a shopper paying in two goes, or at two tills).
MEMBER_CODE_MAX_SALES = MEMBER_CODE_MAX_USES


class MemberCheck(StrEnum):
    """How a sale's shopper was decided (``sales.member_check``)."""

    VERIFIED = "verified"  # a member code head office verified
    CLAIMED = "claimed"  # a receipt code the shopper added before the sale arrived
    RETURN = "return"  # a return: the returned sale's shopper
    # Refused: the sale is kept without a shopper and /hq lists the attempt.
    NO_CODE = "no_code"  # a member id with no member code shown
    MALFORMED = "malformed"
    FORGED = "forged"
    OUTSIDE_WINDOW = "outside_window"  # not valid at the time of the sale
    REUSED = "reused"  # already credited MEMBER_CODE_MAX_SALES sales
    UNKNOWN_MEMBER = "unknown_member"  # genuine, but no such account (closed)

    @property
    def refused(self) -> bool:
        return self not in (MemberCheck.VERIFIED, MemberCheck.CLAIMED, MemberCheck.RETURN)


def check_member_code(
    code: str | None, completed_at: datetime, public_key: Ed25519PublicKey
) -> tuple[MemberCheck, int | None, str | None]:
    """Whether ``code`` (as the till read it) is a genuine member code valid at ``completed_at``;
    the member it names and the code's id (the same for every copy of it, to count its uses).
    Reuse and the account's existence are checked by the caller."""
    if not code:
        return MemberCheck.NO_CODE, None, None
    try:
        member = read_member_code(code, public_key=public_key)
    except ForgedCode:
        return MemberCheck.FORGED, None, None
    except CodeError:
        return MemberCheck.MALFORMED, None, None
    earliest = member.issued_at - timedelta(seconds=MEMBER_LEEWAY_SECONDS)
    latest = member.expires_at + MEMBER_SALE_WINDOW
    if not earliest <= completed_at <= latest:
        return MemberCheck.OUTSIDE_WINDOW, member.member_id, member.code_id
    return MemberCheck.VERIFIED, member.member_id, member.code_id


def _settle_members(conn: Connection, batch: _Batch) -> None:
    """Decide each sale's shopper, in this one place, and compute its points here.

    - A sale credits a shopper only through a member code head office verifies itself (its own
      signature, valid at the time of the sale, crediting at most MEMBER_CODE_MAX_SALES sales)
      and whose account exists. A member id the till sends is never trusted: without such a code
      the sale is kept without a shopper, and the refused attempt is recorded (``member_check``,
      ``asserted_member_id``) for /hq.
    - Otherwise a receipt code claimed before the sale arrived adds it to the claimant.
    - A verified member code wins over a pending claim by someone else: the shopper who showed
      their code at the till has it; the claim is closed as ``outcome='member'`` and its
      claimant sees that, never the purchase (:mod:`sync.server.claims`).
    - A return goes to the returned sale's shopper.
    - Points: :func:`points_for` of the total, worked out here, never taken from the till.
    """
    nonces = [s.row["claim_nonce"] for s in batch.sales if s.row["claim_nonce"]]
    pending: dict[str, Any] = {}
    if nonces:
        claims = schema.claims
        pending = {
            r.nonce: r
            for r in conn.execute(
                select(claims.c.id, claims.c.nonce, claims.c.shopper_id).where(
                    claims.c.nonce.in_(nonces), claims.c.sale_id.is_(None), claims.c.outcome.is_(None)
                )
            )
        }
    checked: dict[int, tuple[MemberCheck, int | None, str | None]] = {}
    codes = [(i, s) for i, s in enumerate(batch.sales) if s.row["kind"] == "sale" and s.asserted is not None]
    if codes:
        public_key = keys.signing_key(conn).public_key()
        for i, sale in codes:
            code, _member_id = sale.asserted or (None, None)
            checked[i] = check_member_code(code, sale.row["completed_at"], public_key)
    code_ids = {code_id for _check, _m, code_id in checked.values() if code_id is not None}
    uses: dict[str, int] = {}
    if code_ids:
        sales = schema.sales
        verified = sales.c.member_check == MemberCheck.VERIFIED.value
        uses = {
            r.member_code_id: int(r.n)
            for r in conn.execute(
                select(sales.c.member_code_id, func.count().label("n"))
                .where(sales.c.member_code_id.in_(code_ids), verified)
                .group_by(sales.c.member_code_id)
            )
        }
    named = {m for check, m, _id in checked.values() if check is MemberCheck.VERIFIED and m is not None}
    known_members = (
        set(conn.execute(select(schema.shoppers.c.id).where(schema.shoppers.c.id.in_(named))).scalars())
        if named
        else set()
    )
    originals = [s.row["original_sale_id"] for s in batch.sales if s.row["kind"] == "return"]
    original_members: dict[str, int] = {}
    if originals:
        original_members = {
            r.id: r.member_id
            for r in conn.execute(
                select(schema.sales.c.id, schema.sales.c.member_id).where(
                    schema.sales.c.id.in_([o for o in originals if o]), schema.sales.c.member_id.is_not(None)
                )
            )
        }
    for i, sale in enumerate(batch.sales):
        row = sale.row
        row["member_id"] = None
        member: int | None = None
        how: MemberCheck | None = None
        if i in checked:
            how, member, code_id = checked[i]
            _code, asserted_id = sale.asserted or (None, None)
            row["member_code_id"] = code_id
            if how is MemberCheck.VERIFIED and member not in known_members:
                how = MemberCheck.UNKNOWN_MEMBER
            if how is MemberCheck.VERIFIED and code_id is not None:
                used = uses.get(code_id, 0)
                if used >= MEMBER_CODE_MAX_SALES:
                    how = MemberCheck.REUSED
                else:
                    uses[code_id] = used + 1
            if how.refused:
                log.warning(
                    "sale %s: member %s not credited (%s)", row["id"], asserted_id or member, how.value
                )
                row["asserted_member_id"] = asserted_id if asserted_id is not None else member
                member = None
        claim = pending.get(row["claim_nonce"] or "")
        if claim is not None:
            if member is None:
                member, how = claim.shopper_id, MemberCheck.CLAIMED
                sale.claim_id = claim.id
            elif member == claim.shopper_id:
                sale.claim_id = claim.id  # the same shopper both ways: the claim is simply done
            else:
                sale.lost_claim_id = claim.id
        if row["kind"] == "return" and member is None:
            member = original_members.get(row["original_sale_id"] or "")
            how = MemberCheck.RETURN if member is not None else None
        row["member_id"] = member
        row["member_check"] = how.value if how is not None else None
        row["points"] = points_for(row["total"], row["currency"]) if member is not None else 0


def _apply_stock(conn: Connection, store_id: int, deltas: dict[str, int], now: datetime) -> None:
    """Add ``deltas`` to the store's on-hand figures and mark them for the change feed.

    The feed gets them from :func:`sync.server.changes.publish_stock`, outside this transaction:
    pushes then never queue behind one another for the feed lock.

    Skus go in sorted order so two pushes of one store never lock rows in opposite orders.
    """
    skus = sorted(deltas)
    if conn.dialect.name == "postgresql":
        # Two array parameters instead of a parameter per row: the statement stays short.
        conn.execute(
            text(
                "INSERT INTO stock (store_id, sku, on_hand_milli, updated_at, feed_pending) "
                "SELECT :store_id, u.sku, u.delta, :now, true "
                "FROM unnest(CAST(:skus AS text[]), CAST(:deltas AS bigint[])) AS u(sku, delta) ORDER BY u.sku "
                "ON CONFLICT (store_id, sku) DO UPDATE SET on_hand_milli = stock.on_hand_milli + "
                "excluded.on_hand_milli, updated_at = excluded.updated_at, feed_pending = true"
            ),
            {"store_id": store_id, "now": now, "skus": skus, "deltas": [deltas[s] for s in skus]},
        )
        return
    # One plain executemany: SQLAlchemy's per-row parameter building cost more than the upsert.
    stamp = schema.stock.c.updated_at.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    at = stamp(now) if stamp is not None else now
    conn.exec_driver_sql(
        "INSERT INTO stock (store_id, sku, on_hand_milli, updated_at, feed_pending) VALUES (?, ?, ?, ?, 1) "
        "ON CONFLICT (store_id, sku) DO UPDATE SET on_hand_milli = on_hand_milli + excluded.on_hand_milli, "
        "updated_at = excluded.updated_at, feed_pending = 1",
        [(store_id, sku, deltas[sku], at) for sku in skus],
    )


def _insert_ignoring_duplicates(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    # A terminal retrying a conflicting entry must not pile up copies of the same conflict.
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    seen = set()
    unique_rows = []
    for row in rows:
        key = (row["terminal_id"], row["event_id"], row["hash"])
        if key not in seen:
            seen.add(key)
            unique_rows.append(row)
    conn.execute(dialect_insert(table).on_conflict_do_nothing(), unique_rows)
