"""The sale flow: start, ring up (scan, product, quantity), discount, pay, complete or void.

The sale in progress is a :class:`SaleInProgress` the UI keeps in memory (it wraps the domain's
``Sale`` and ``Payment``); nothing about it is durable until :func:`complete_sale`, which writes the
sale, its lines, tenders, claim code and the ``sale.completed`` journal entry in ONE transaction.
Only when that returns is the sale complete.

:func:`begin_payment` writes a small "sale in progress" marker; :func:`last_sale_outcome` reads it
at the next start, so after a crash the cashier is told whether the last sale completed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC
from decimal import Decimal
from typing import Any

import sqlite_utils
import uuid_utils

from pos.domain.sale import Discount, Product, Sale, SaleError, SaleLine, SaleTotals, Unit
from pos.domain.scanning import (
    ClaimScan,
    InvalidScan,
    LookupScan,
    MemberScan,
    MemberShortScan,
    ProductScan,
    line_for_scan,
    route_scan,
)
from pos.domain.staff import Action, needs_approval
from pos.domain.tender import Payment, PaymentError, Tender, sale_payload
from pos.ledger import catalog, journal
from pos.ledger import sales as sales_ledger
from pos.ledger import shifts as shift_ledger
from pos.ledger.catalog import Product as CatalogProduct
from pos.ledger.staff import StaffMember
from pos.services.staff import approver_for, override_payload
from pos.services.terminal import ApprovalNeeded, ServiceError, Terminal
from sync.codes import CodeError, claim_url, load_public_key, make_claim_code, verify_member_code
from sync.protocol import EventType


@dataclass
class SaleInProgress:
    """A sale being rung up. Pass it back to the sale services; read ``sale`` and ``totals()``."""

    sale_id: str
    sale: Sale
    cashier_id: str
    training: bool = False
    payment: Payment | None = None
    #: Managers who approved something on this sale (discounts over the limit, price overrides).
    approved_by: str | None = None
    #: A quantity typed before the next scan ("3*"), in thousandths.
    next_quantity: int | None = None
    completed: CompletedSale | None = None
    started_at: str = ""
    notes: list[str] = field(default_factory=list)

    def totals(self) -> SaleTotals:
        return self.sale.totals()

    @property
    def lines(self) -> tuple[SaleLine, ...]:
        return self.sale.lines


@dataclass(frozen=True)
class CompletedSale:
    """A durable sale. ``claim_url`` is what the receipt QR encodes (None for training sales)."""

    sale_id: str
    receipt_no: str
    total: int
    change: int
    claim_code: str | None
    claim_url: str | None
    journal_seq: int
    payload: dict[str, Any]


@dataclass(frozen=True)
class ScanResult:
    """What a scan did. ``kind``: "line" (``line`` set), "member" (``member_id``), "return"
    (``return_sale_id``: open the return of that sale)."""

    kind: str
    line: SaleLine | None = None
    member_id: int | None = None
    return_sale_id: str | None = None
    message: str = ""


def _open(s: SaleInProgress) -> None:
    if s.completed is not None:
        raise ServiceError("This sale is already complete: start a new one.")
    if s.payment is not None and s.payment.tenders:
        raise ServiceError("Payment has started: take back the tenders before changing the sale.")


def _to_domain(p: CatalogProduct) -> Product:
    return Product(
        sku=p.sku, name=p.name, unit_price=p.price, tax_rate=p.tax_rate, unit=Unit(p.unit), barcode=p.barcode
    )


def start_sale(terminal: Terminal, *, training: bool = False) -> SaleInProgress:
    """A new, empty sale for whoever is signed in. Needs an open shift (except a training sale)."""
    cashier = terminal.require_cashier()
    if not training and shift_ledger.current(terminal.ledger.read()) is None:
        raise ServiceError("Open a shift before selling.")
    settings = terminal.settings
    return SaleInProgress(
        sale_id=str(uuid_utils.uuid7()),
        sale=Sale(settings.currency, settings.tax_mode),
        cashier_id=cashier.id,
        training=training,
        started_at=terminal.stamp(),
    )


def set_next_quantity(s: SaleInProgress, quantity_milli: int | None) -> None:
    """Use ``quantity_milli`` for the next scan or product added (the keypad's "3*")."""
    if quantity_milli is not None and (isinstance(quantity_milli, bool) or quantity_milli <= 0):
        raise ServiceError("Quantity must be above zero.")
    s.next_quantity = quantity_milli


def _ring_up(s: SaleInProgress, product: Product, quantity: int, *, merge: bool = True) -> SaleLine:
    try:
        line = s.sale.add(product, quantity, merge=merge)
    except SaleError as exc:
        raise ServiceError(str(exc)) from exc
    s.next_quantity = None
    return line


def add_product(
    terminal: Terminal, s: SaleInProgress, sku: str, quantity_milli: int | None = None
) -> SaleLine:
    """Ring up the product with ``sku`` (e.g. picked from search). Default quantity: the typed
    prefix, else 1 piece; a kg item needs a quantity (grams)."""
    _open(s)
    found = catalog.by_sku(terminal.ledger.read(), sku)
    if found is None or not found.active:
        raise ServiceError(f"No product with SKU {sku!r}.")
    quantity = quantity_milli if quantity_milli is not None else s.next_quantity
    if quantity is None:
        if found.unit == "kg":
            raise ServiceError(f"{found.name} is sold by weight: enter the weight first (e.g. 0.250*).")
        quantity = 1000
    return _ring_up(s, _to_domain(found), quantity)


def scan(terminal: Terminal, s: SaleInProgress, text: str) -> ScanResult:
    """Route scanner input: product barcode -> a line; member code -> attach the member (verified
    offline); receipt claim code -> ``kind="return"`` with the sale to return. Anything the till
    cannot use raises ServiceError naming what was wrong; the sale is then unchanged."""
    _open(s)
    routed = route_scan(text, terminal.settings.scan_config())
    reader = terminal.ledger.read()
    if isinstance(routed, InvalidScan):
        raise ServiceError(routed.reason[:1].upper() + routed.reason[1:] + ".")
    if isinstance(routed, LookupScan):
        found = catalog.by_sku(reader, routed.code)
        if found is None or not found.active:
            raise ServiceError(f"No product with code {routed.code}.")
        return ScanResult("line", line=add_product(terminal, s, found.sku))
    if isinstance(routed, ProductScan):
        found = catalog.by_barcode(reader, routed.gtin)
        if found is None:
            raise ServiceError(f"Barcode {routed.gtin} is not in the catalog.")
        try:
            product, quantity = line_for_scan(_to_domain(found), routed)
        except ValueError as exc:
            raise ServiceError(str(exc)) from exc
        if not routed.variable_measure and s.next_quantity is not None:
            quantity = s.next_quantity
        elif not routed.variable_measure and product.unit is Unit.KG:
            raise ServiceError(f"{product.name} is sold by weight: enter the weight first (e.g. 0.250*).")
        line = _ring_up(s, product, quantity, merge=not routed.variable_measure)
        return ScanResult("line", line=line)
    if isinstance(routed, MemberShortScan):
        # Typed when the QR would not scan: head office names the member and hands over that
        # hour's signed member code, which is then checked and sent exactly like a scanned one.
        from pos.services.syncing import member_code_by_short
        from sync.client import SyncFailure

        if terminal.server_public_key() is None:
            raise ServiceError("This terminal cannot check member codes until it is enrolled.")
        try:
            code = member_code_by_short(terminal, routed.code)
        except SyncFailure as exc:
            raise ServiceError(
                f"Short member code not accepted ({exc}). Check the digits, or scan the QR code."
            ) from exc
        return _attach_member_code(terminal, s, code)
    if isinstance(routed, MemberScan):
        return _attach_member_code(terminal, s, routed.code)
    if isinstance(routed, ClaimScan):
        record = sales_ledger.by_claim_code(reader, routed.code)
        if record is None or record.kind != "sale":
            raise ServiceError("No sale with this receipt code on this terminal.")
        return ScanResult(
            "return", return_sale_id=record.id, message=f"Return of receipt {record.receipt_no}."
        )
    raise ServiceError("Not a barcode we know.")  # pragma: no cover - route_scan covers every case


def _attach_member_code(terminal: Terminal, s: SaleInProgress, code: str) -> ScanResult:
    """Verify a member code offline with head office's public key and attach its member."""
    key = terminal.server_public_key()
    if key is None:
        raise ServiceError("This terminal cannot check member codes until it is enrolled.")
    try:
        member = verify_member_code(code, public_key=load_public_key(key), now=terminal.now())
    except CodeError as exc:
        raise ServiceError(f"Member code refused: {exc}.") from exc
    try:
        s.sale.attach_member(member.member_id, code.strip().upper())
    except SaleError as exc:
        raise ServiceError(str(exc)) from exc
    return ScanResult("member", member_id=member.member_id, message="Member added to the sale.")


def set_quantity(s: SaleInProgress, line_id: int, quantity_milli: int) -> SaleLine:
    """Change a line's quantity (thousandths: pieces x 1000 or grams)."""
    _open(s)
    try:
        return s.sale.set_quantity(line_id, quantity_milli)
    except SaleError as exc:
        raise ServiceError(str(exc)) from exc


def remove_line(s: SaleInProgress, line_id: int) -> SaleLine:
    """Take a line off the sale before payment."""
    _open(s)
    try:
        return s.sale.remove_line(line_id)
    except SaleError as exc:
        raise ServiceError(str(exc)) from exc


def parse_discount(text: str) -> Discount:
    """A percent discount typed as "10%", "10" or "7.5%"; ServiceError for anything else.

    Amounts are made with ``Discount.of_amount(minor_units)`` (parse with pos.domain.money).
    """
    cleaned = (text or "").strip().rstrip("%").strip()
    try:
        return Discount.of_percent(cleaned)
    except SaleError as exc:
        raise ServiceError(str(exc)) from exc


def _discount_approval(
    terminal: Terminal, s: SaleInProgress, manager_pin: str | None, details: dict[str, Any], percent: Any
) -> StaffMember | None:
    cashier = terminal.require_cashier()
    limit = terminal.settings.discount_limit_percent
    if not needs_approval(
        Action.DISCOUNT, cashier.role, discount_percent=percent, discount_limit_percent=limit
    ):
        return None
    if manager_pin is None:
        raise ApprovalNeeded(Action.DISCOUNT.value, f"A discount above {limit}% needs a manager's PIN.")
    approver = approver_for(terminal, Action.DISCOUNT, manager_pin)
    stamp = terminal.stamp()
    payload = override_payload(terminal, Action.DISCOUNT, approver, {"sale_id": s.sale_id, **details})
    terminal.ledger.transact(
        lambda db: journal.append(db, EventType.MANAGER_OVERRIDE, payload, occurred_at=stamp)
    )
    s.approved_by = approver.id
    return approver


def discount_line(
    terminal: Terminal,
    s: SaleInProgress,
    line_id: int,
    discount: Discount | None,
    *,
    manager_pin: str | None = None,
) -> SaleLine:
    """Discount one line (None clears it). Above the store's limit (all discounts as a share of the
    sale) a cashier needs ``manager_pin``; the approval is journaled as ``override.approved``."""
    _open(s)
    try:
        before = s.sale.line(line_id).discount
    except SaleError as exc:
        raise ServiceError(str(exc)) from exc
    try:
        s.sale.set_line_discount(line_id, discount)
        percent = s.sale.asked_discount_percent()
        _discount_approval(
            terminal,
            s,
            manager_pin,
            {"line_id": line_id, "discount": _describe(discount), "discount_percent": _percent_text(percent)},
            percent,
        )
    except SaleError as exc:
        s.sale.set_line_discount(line_id, before)
        raise ServiceError(str(exc)) from exc
    except BaseException:
        s.sale.set_line_discount(line_id, before)
        raise
    return s.sale.line(line_id)


def discount_sale(
    terminal: Terminal, s: SaleInProgress, discount: Discount | None, *, manager_pin: str | None = None
) -> SaleTotals:
    """Discount the whole sale (None clears it); same approval rule as :func:`discount_line`."""
    _open(s)
    before = s.sale.sale_discount
    try:
        s.sale.set_sale_discount(discount)
        percent = s.sale.asked_discount_percent()
        _discount_approval(
            terminal,
            s,
            manager_pin,
            {"discount": _describe(discount), "discount_percent": _percent_text(percent)},
            percent,
        )
    except SaleError as exc:
        s.sale.set_sale_discount(before)
        raise ServiceError(str(exc)) from exc
    except BaseException:
        s.sale.set_sale_discount(before)
        raise
    return s.sale.totals()


def override_price(
    terminal: Terminal, s: SaleInProgress, line_id: int, unit_price: int, *, manager_pin: str | None = None
) -> SaleLine:
    """Change a line's unit price (minor units). A cashier needs ``manager_pin``; the approval is
    journaled as ``override.approved`` with the old and new price."""
    _open(s)
    cashier = terminal.require_cashier()
    try:
        line = s.sale.line(line_id)
    except SaleError as exc:
        raise ServiceError(str(exc)) from exc
    if isinstance(unit_price, bool) or not isinstance(unit_price, int) or not 0 <= unit_price <= 10**10:
        raise ServiceError(f"Not a price: {unit_price!r}.")
    approver: StaffMember | None = cashier if cashier.role == "manager" else None
    if needs_approval(Action.PRICE_OVERRIDE, cashier.role):
        if manager_pin is None:
            raise ApprovalNeeded(Action.PRICE_OVERRIDE.value, "Changing a price needs a manager's PIN.")
        approver = approver_for(terminal, Action.PRICE_OVERRIDE, manager_pin)
    assert approver is not None
    details = {
        "sale_id": s.sale_id,
        "sku": line.product.sku,
        "old_unit_price": line.product.unit_price,
        "new_unit_price": unit_price,
    }
    payload = override_payload(terminal, Action.PRICE_OVERRIDE, approver, details)
    stamp = terminal.stamp()
    terminal.ledger.transact(
        lambda db: journal.append(db, EventType.MANAGER_OVERRIDE, payload, occurred_at=stamp)
    )
    s.approved_by = approver.id
    try:
        return s.sale.override_price(line_id, unit_price)
    except SaleError as exc:  # pragma: no cover - checked above
        raise ServiceError(str(exc)) from exc


def _percent_text(percent: Any) -> str:
    return str(round(Decimal(percent.numerator) / Decimal(percent.denominator), 2))


def _describe(discount: Discount | None) -> dict[str, Any] | None:
    if discount is None:
        return None
    if discount.percent is not None:
        return {"percent": str(discount.percent)}
    return {"amount": discount.amount}


# --- payment -----------------------------------------------------------------------------------


def begin_payment(terminal: Terminal, s: SaleInProgress) -> Payment:
    """Start taking payment: freezes the total and writes the "sale in progress" marker."""
    if s.completed is not None:
        raise ServiceError("This sale is already complete.")
    if s.sale.is_empty:
        raise ServiceError("The sale has no lines yet.")
    total = s.sale.totals().total_money
    if s.payment is not None and s.payment.total == total:
        return s.payment
    try:
        s.payment = Payment(total, cash_increment=terminal.settings.cash_increment)
    except PaymentError as exc:
        raise ServiceError(str(exc)) from exc
    stamp = terminal.stamp()
    terminal.ledger.transact(
        lambda db: sales_ledger.mark_in_progress(
            db, sale_id=s.sale_id, started_at=stamp, cashier_id=s.cashier_id, total=total.minor
        )
    )
    return s.payment


def _payment(terminal: Terminal, s: SaleInProgress) -> Payment:
    if s.payment is None or s.payment.total != s.sale.totals().total_money:
        return begin_payment(terminal, s)
    return s.payment


def tender_cash(terminal: Terminal, s: SaleInProgress, tendered: int | None = None) -> Tender:
    """Take cash: ``tendered`` minor units handed over, or None for exactly what is due."""
    payment = _payment(terminal, s)
    try:
        return payment.add_exact_cash() if tendered is None else payment.add_cash(tendered)
    except PaymentError as exc:
        raise ServiceError(str(exc)) from exc


def tender_card(terminal: Terminal, s: SaleInProgress, reference: str, amount: int | None = None) -> Tender:
    """A card payment approved by the card terminal (``reference``); default all that is due."""
    payment = _payment(terminal, s)
    try:
        return payment.add_card(reference, amount)
    except PaymentError as exc:
        raise ServiceError(str(exc)) from exc


def tender_voucher(
    terminal: Terminal, s: SaleInProgress, reference: str, amount: int | None = None
) -> Tender:
    payment = _payment(terminal, s)
    try:
        return payment.add_voucher(reference, amount)
    except PaymentError as exc:
        raise ServiceError(str(exc)) from exc


def remove_tender(s: SaleInProgress, index: int) -> Tender:
    """Take back tender ``index`` (0-based), e.g. a card payment reversed at the card terminal."""
    if s.payment is None or s.completed is not None:
        raise ServiceError("There is no payment to change.")
    try:
        return s.payment.remove_tender(index)
    except PaymentError as exc:
        raise ServiceError(str(exc)) from exc


def complete_sale(terminal: Terminal, s: SaleInProgress) -> CompletedSale:
    """Make the paid sale durable: sale, lines, tenders, claim code and journal entry in ONE
    transaction. Calling it again for the same sale returns the same result."""
    if s.completed is not None:
        return s.completed
    terminal.require_cashier()
    if s.payment is None:
        raise ServiceError("Take payment first.")
    completed_at = terminal.stamp()
    today = terminal.now().astimezone(UTC).date()
    claim = None
    if not s.training:
        claim = make_claim_code(
            terminal_id=terminal.config.terminal_id, claim_key=terminal.secrets.claim_key(), today=today
        )
    code = terminal.config.terminal_code
    kind = "training" if s.training else "sale"
    event = EventType.TRAINING_SALE if s.training else EventType.SALE_COMPLETED

    def job(db: sqlite_utils.Database) -> CompletedSale:
        shift = shift_ledger.current(db)
        if shift is None and not s.training:
            raise ServiceError("No shift is open: open a shift to complete the sale.")
        receipt_seq = sales_ledger.next_receipt_seq(db)
        receipt_no = f"{code}-{receipt_seq:06d}" if not s.training else f"{code}-TR{receipt_seq:06d}"
        try:
            wire = sale_payload(
                s.sale,
                s.payment,  # type: ignore[arg-type]
                sale_id=s.sale_id,
                receipt_no=receipt_no,
                completed_at=completed_at,
                claim_code=claim.text if claim else None,
                cashier_id=s.cashier_id,
                shift_id=shift.id if shift else None,
                approved_by=s.approved_by,
            )
        except PaymentError as exc:
            raise ServiceError(str(exc)) from exc
        payload = wire.model_dump(mode="json")
        entry = journal.append(db, event, payload, occurred_at=completed_at)
        sales_ledger.record_sale(db, payload, kind=kind, receipt_seq=receipt_seq, journal_seq=entry.seq)
        sales_ledger.clear_in_progress(db)
        return CompletedSale(
            sale_id=s.sale_id,
            receipt_no=receipt_no,
            total=wire.total,
            change=wire.change,
            claim_code=claim.text if claim else None,
            claim_url=claim_url(terminal.config.public_url, claim) if claim else None,
            journal_seq=entry.seq,
            payload=payload,
        )

    s.completed = terminal.ledger.transact(job)
    return s.completed


def void_sale(terminal: Terminal, s: SaleInProgress, reason: str = "") -> None:
    """Abandon the sale before payment is complete; journal ``sale.voided`` with what was abandoned
    (an empty sale leaves no trace). Card tenders already taken must be reversed first."""
    if s.completed is not None:
        raise ServiceError("This sale is complete: a return is the way to undo it.")
    if s.payment is not None and any(t.kind.value != "cash" for t in s.payment.tenders):
        raise ServiceError("Reverse the card or voucher payments first (take back the tenders).")
    cashier = terminal.require_cashier()
    stamp = terminal.stamp()
    totals = s.sale.totals()
    payload = {
        "sale_id": s.sale_id,
        "staff_id": cashier.id,
        "reason": (reason or "").strip()[:200],
        "lines": len(s.sale.lines),
        "total": totals.total,
        "currency": totals.currency,
        "training": s.training,
    }

    def job(db: sqlite_utils.Database) -> None:
        if s.sale.lines:
            journal.append(db, EventType.SALE_VOIDED, payload, occurred_at=stamp)
        marker = sales_ledger.in_progress(db)
        if marker is not None and marker.sale_id == s.sale_id:
            sales_ledger.clear_in_progress(db)

    terminal.ledger.transact(job)
    s.payment = None


# --- after a crash ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SaleOutcome:
    """What happened to the last sale: ``completed`` with its receipt, or not (``sale_id`` and
    ``total`` of the sale that was being paid when the terminal stopped). ``message`` is for the
    cashier."""

    completed: bool
    receipt_no: str | None
    sale_id: str | None
    total: int | None
    message: str


def last_sale_outcome(terminal: Terminal) -> SaleOutcome | None:
    """Whether the last sale completed; None when this terminal never sold anything.

    Call at start-up: a sale whose payment began but never completed is reported as NOT completed
    (the customer must pay again); the marker is then cleared by :func:`acknowledge_interrupted_sale`.
    """
    reader = terminal.ledger.read()
    marker = sales_ledger.in_progress(reader)
    if marker is not None:
        done = sales_ledger.get(reader, marker.sale_id)
        if done is None:
            return SaleOutcome(
                completed=False,
                receipt_no=None,
                sale_id=marker.sale_id,
                total=marker.total,
                message="The last sale was NOT completed: nothing was recorded. Ring it up again.",
            )
    last = sales_ledger.last(reader)
    if last is None:
        return None
    return SaleOutcome(
        completed=True,
        receipt_no=last.receipt_no,
        sale_id=last.id,
        total=last.total,
        message=f"The last sale completed: receipt {last.receipt_no}.",
    )


def acknowledge_interrupted_sale(terminal: Terminal) -> None:
    """The cashier has seen that the last sale did not complete: clear the marker."""
    terminal.ledger.transact(sales_ledger.clear_in_progress)


# --- receipts ----------------------------------------------------------------------------------


def reprint_last_receipt(terminal: Terminal) -> dict[str, Any]:
    """The last completed sale's payload for printing again; journal ``receipt.reprinted``."""
    cashier = terminal.require_cashier()
    reader = terminal.ledger.read()
    last = sales_ledger.last(reader, ("sale", "return"))
    if last is None:
        raise ServiceError("There is no receipt to reprint yet.")
    payload = sales_ledger.payload_of(reader, last.id)
    assert payload is not None
    stamp = terminal.stamp()
    terminal.ledger.transact(
        lambda db: journal.append(
            db,
            EventType.RECEIPT_REPRINTED,
            {"sale_id": last.id, "receipt_no": last.receipt_no, "staff_id": cashier.id},
            occurred_at=stamp,
        )
    )
    return payload


def find_sale(terminal: Terminal, code: str) -> sales_ledger.SaleRecord | None:
    """The sale with this receipt number or claim code (any case), or None."""
    reader = terminal.ledger.read()
    text = (code or "").strip()
    return sales_ledger.by_receipt_no(reader, text) or sales_ledger.by_claim_code(reader, text.upper())
