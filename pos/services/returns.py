"""Returns of an earlier sale, found by its receipt number or claim code.

A return needs a manager (a cashier passes ``manager_pin``). Refunds are computed by the domain
(:class:`pos.domain.returns.Return`) so partial returns add up exactly to what was paid. The
return, its lines, its refund tender and the ``return.completed`` journal entry are written in one
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils
import uuid_utils

from pos.domain.returns import Return, ReturnError
from pos.domain.staff import Action, needs_approval
from pos.domain.tender import TenderKind
from pos.ledger import journal
from pos.ledger import sales as sales_ledger
from pos.ledger import shifts as shift_ledger
from pos.services.sale import find_sale
from pos.services.staff import approver_for
from pos.services.terminal import ApprovalNeeded, ServiceError, Terminal
from sync.codes import claim_code_from_scan
from sync.protocol import EventType, SalePayload


@dataclass
class ReturnInProgress:
    """The return being prepared; choose lines with :func:`set_return_quantity` or ``ret.return_all()``."""

    return_id: str
    original: SalePayload
    ret: Return
    completed_receipt_no: str | None = None


@dataclass(frozen=True)
class CompletedReturn:
    sale_id: str
    receipt_no: str
    refund: int
    journal_seq: int


def start_return(terminal: Terminal, code: str) -> ReturnInProgress:
    """Open the return of the sale with receipt number, claim code or claim URL ``code``."""
    terminal.require_cashier()
    text = (code or "").strip()
    claim = claim_code_from_scan(text)
    record = find_sale(terminal, claim or text)
    if record is None:
        raise ServiceError(f"No sale with receipt or code {text[:60]!r} on this terminal.")
    if record.kind != "sale":
        raise ServiceError(f"Receipt {record.receipt_no} is not a sale that can be returned.")
    reader = terminal.ledger.read()
    payload = sales_ledger.payload_of(reader, record.id)
    assert payload is not None
    original = SalePayload.model_validate(payload)
    try:
        ret = Return(original, already_returned=sales_ledger.returned_quantities(reader, record.id))
    except ReturnError as exc:
        raise ServiceError(str(exc)) from exc
    return ReturnInProgress(str(uuid_utils.uuid7()), original, ret)


def set_return_quantity(r: ReturnInProgress, line_no: int, quantity_milli: int) -> None:
    """Return ``quantity_milli`` of line ``line_no`` of the original sale (0 takes it off)."""
    try:
        r.ret.set_quantity(line_no, quantity_milli)
    except ReturnError as exc:
        raise ServiceError(str(exc)) from exc


def complete_return(
    terminal: Terminal,
    r: ReturnInProgress,
    *,
    manager_pin: str | None = None,
    refund_kind: str = "cash",
    reference: str | None = None,
    action: Action = Action.RETURN,
) -> CompletedReturn:
    """Pay back the chosen lines and record the return durably (manager approval needed).

    ``action`` names what the manager approves (a return, or a void after payment).
    """
    if r.completed_receipt_no is not None:
        raise ServiceError("This return is already complete.")
    cashier = terminal.require_cashier()
    if not r.ret.lines:
        raise ServiceError("Choose at least one line to return.")
    try:
        kind = TenderKind(refund_kind)
    except ValueError as exc:
        raise ServiceError(f"Unknown refund kind {refund_kind!r}: use cash, card or voucher.") from exc
    approver = None
    if needs_approval(action, cashier.role):
        if manager_pin is None:
            what = "A return" if action is Action.RETURN else "Voiding a paid sale"
            raise ApprovalNeeded(action.value, f"{what} needs a manager's PIN.")
        approver = approver_for(terminal, action, manager_pin)
    else:
        approver = cashier
    stamp = terminal.stamp()
    code = terminal.config.terminal_code
    line_nos = [line.line_no for line in r.ret.lines]

    def job(db: sqlite_utils.Database) -> CompletedReturn:
        shift = shift_ledger.current(db)
        if shift is None:
            raise ServiceError("Open a shift before taking a return.")
        # Re-check against what is returned now, in this transaction, so nothing is refunded twice.
        fresh = Return(r.original, already_returned=sales_ledger.returned_quantities(db, r.original.sale_id))
        try:
            for line in r.ret.lines:
                fresh.set_quantity(line.line_no, line.quantity_milli)
        except ReturnError as exc:
            raise ServiceError(f"{exc} (part of this sale was returned meanwhile)") from exc
        receipt_seq = sales_ledger.next_receipt_seq(db)
        receipt_no = f"{code}-R{receipt_seq:06d}"
        try:
            wire = fresh.payload(
                sale_id=r.return_id,
                receipt_no=receipt_no,
                completed_at=stamp,
                refund_kind=kind,
                reference=reference,
                cashier_id=cashier.id,
                shift_id=shift.id,
                approved_by=approver.id if approver else None,
            )
        except (ReturnError, ValueError) as exc:
            raise ServiceError(str(exc)) from exc
        payload = wire.model_dump(mode="json")
        entry = journal.append(db, EventType.RETURN_COMPLETED, payload, occurred_at=stamp)
        sales_ledger.record_sale(
            db,
            payload,
            kind="return",
            receipt_seq=receipt_seq,
            journal_seq=entry.seq,
            original_line_nos=line_nos,
        )
        return CompletedReturn(r.return_id, receipt_no, -wire.total, entry.seq)

    done = terminal.ledger.transact(job)
    r.completed_receipt_no = done.receipt_no
    return done


def void_paid_sale(
    terminal: Terminal,
    code: str,
    *,
    manager_pin: str | None = None,
    refund_kind: str = "cash",
    reference: str | None = None,
) -> CompletedReturn:
    """Void a sale after payment (receipt number or claim code): everything not yet returned is
    returned and refunded in one ``return.completed`` entry; a manager approves."""
    r = start_return(terminal, code)
    r.ret.return_all()
    if not r.ret.lines:
        raise ServiceError("Everything on this receipt was already returned.")
    return complete_return(
        terminal,
        r,
        manager_pin=manager_pin,
        refund_kind=refund_kind,
        reference=reference,
        action=Action.VOID_AFTER_PAYMENT,
    )
