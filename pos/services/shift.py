"""Shifts and the cash drawer: open, close with the counted cash, cash in and out, open the drawer.

Every action is one transaction with its journal entry. Closing a shift and taking cash out need a
manager (a cashier passes ``manager_pin``; a signed-in manager approves their own).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils
import uuid_utils

from pos.domain.staff import Action, needs_approval
from pos.ledger import journal
from pos.ledger import shifts as shift_ledger
from pos.ledger.shifts import Shift
from pos.ledger.staff import StaffMember
from pos.services.staff import approver_for
from pos.services.terminal import ApprovalNeeded, ServiceError, Terminal
from sync.protocol import EventType

MAX_CASH = 10**9


@dataclass(frozen=True)
class ShiftClosed:
    shift_id: str
    expected_cash: int
    counted_cash: int
    #: counted - expected: positive over, negative short.
    difference: int
    approved_by: str | None


def _amount(value: int, what: str, *, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ServiceError(f"{what} must be a whole amount in minor units, got {value!r}.")
    if value < 0 or (value == 0 and not allow_zero) or value > MAX_CASH:
        raise ServiceError(f"{what} out of range: {value}.")
    return value


def _approval(terminal: Terminal, action: Action, manager_pin: str | None, what: str) -> StaffMember | None:
    cashier = terminal.require_cashier()
    if not needs_approval(action, cashier.role):
        return cashier if cashier.role == "manager" else None
    if manager_pin is None:
        raise ApprovalNeeded(action.value, f"{what} needs a manager's PIN.")
    return approver_for(terminal, action, manager_pin)


def current_shift(terminal: Terminal) -> Shift | None:
    """The open shift on this terminal, or None."""
    return shift_ledger.current(terminal.ledger.read())


def open_shift(terminal: Terminal, opening_float: int) -> Shift:
    """Open a shift with ``opening_float`` minor units in the drawer; journal ``shift.opened``."""
    cashier = terminal.require_cashier()
    opening_float = _amount(opening_float, "The opening float", allow_zero=True)
    shift_id = str(uuid_utils.uuid7())
    stamp = terminal.stamp()

    def job(db: sqlite_utils.Database) -> Shift:
        if shift_ledger.current(db) is not None:
            raise ServiceError("A shift is already open on this terminal: close it first.")
        shift_ledger.open_shift(
            db, shift_id=shift_id, opened_by=cashier.id, opened_at=stamp, opening_float=opening_float
        )
        journal.append(
            db,
            EventType.SHIFT_OPENED,
            {"shift_id": shift_id, "staff_id": cashier.id, "opening_float": opening_float},
            occurred_at=stamp,
        )
        shift = shift_ledger.get(db, shift_id)
        assert shift is not None
        return shift

    return terminal.ledger.transact(job)


def expected_cash(terminal: Terminal) -> int:
    """What the drawer of the open shift should hold now (ServiceError if no shift is open)."""
    shift = current_shift(terminal)
    if shift is None:
        raise ServiceError("No shift is open.")
    return shift_ledger.expected_cash(terminal.ledger.read(), shift.id)


def close_shift(terminal: Terminal, counted_cash: int, *, manager_pin: str | None = None) -> ShiftClosed:
    """Close the open shift with the cash counted in the drawer; journal ``shift.closed``.

    A cashier needs ``manager_pin`` (ApprovalNeeded otherwise); the journal records the approver.
    """
    cashier = terminal.require_cashier()
    counted_cash = _amount(counted_cash, "The counted cash", allow_zero=True)
    if current_shift(terminal) is None:
        raise ServiceError("No shift is open.")
    approver = _approval(terminal, Action.CLOSE_SHIFT, manager_pin, "Closing the shift")
    stamp = terminal.stamp()

    def job(db: sqlite_utils.Database) -> ShiftClosed:
        shift = shift_ledger.current(db)
        if shift is None:
            raise ServiceError("No shift is open.")
        expected = shift_ledger.expected_cash(db, shift.id)
        shift_ledger.close_shift(
            db,
            shift_id=shift.id,
            closed_at=stamp,
            closed_by=cashier.id,
            approved_by=approver.id if approver else None,
            counted_cash=counted_cash,
            expected_cash=expected,
        )
        journal.append(
            db,
            EventType.SHIFT_CLOSED,
            {
                "shift_id": shift.id,
                "staff_id": cashier.id,
                "approved_by": approver.id if approver else None,
                "expected_cash": expected,
                "counted_cash": counted_cash,
                "difference": counted_cash - expected,
            },
            occurred_at=stamp,
        )
        return ShiftClosed(
            shift.id, expected, counted_cash, counted_cash - expected, approver.id if approver else None
        )

    return terminal.ledger.transact(job)


def _cash_movement(terminal: Terminal, kind: str, amount: int, reason: str, manager_pin: str | None) -> int:
    cashier = terminal.require_cashier()
    amount = _amount(amount, "The amount")
    reason = (reason or "").strip()
    if not reason or len(reason) > 200:
        raise ServiceError("Say why the cash goes in or out (up to 200 characters).")
    if current_shift(terminal) is None:
        raise ServiceError("Open a shift first.")
    approver = _approval(terminal, Action.CASH_OUT, manager_pin, "Taking cash out") if kind == "out" else None
    stamp = terminal.stamp()
    movement_id = str(uuid_utils.uuid7())

    def job(db: sqlite_utils.Database) -> int:
        shift = shift_ledger.current(db)
        if shift is None:
            raise ServiceError("Open a shift first.")
        if kind == "out":
            held = shift_ledger.expected_cash(db, shift.id)
            if amount > held:
                raise ServiceError(f"Cannot take out {amount}: the drawer should only hold {held}.")
        entry = journal.append(
            db,
            EventType.CASH_IN if kind == "in" else EventType.CASH_OUT,
            {
                "movement_id": movement_id,
                "shift_id": shift.id,
                "amount": amount,
                "reason": reason,
                "staff_id": cashier.id,
                "approved_by": approver.id if approver else None,
            },
            occurred_at=stamp,
        )
        shift_ledger.add_cash_movement(
            db,
            movement_id=movement_id,
            shift_id=shift.id,
            kind=kind,
            amount=amount,
            reason=reason,
            staff_id=cashier.id,
            approved_by=approver.id if approver else None,
            at=stamp,
            journal_seq=entry.seq,
        )
        return shift_ledger.expected_cash(db, shift.id)

    return terminal.ledger.transact(job)


def cash_in(terminal: Terminal, amount: int, reason: str) -> int:
    """Put ``amount`` into the drawer (journal ``cash.in``); return the drawer's expected cash."""
    return _cash_movement(terminal, "in", amount, reason, None)


def cash_out(terminal: Terminal, amount: int, reason: str, *, manager_pin: str | None = None) -> int:
    """Take ``amount`` out of the drawer (journal ``cash.out``, manager approval); return what is left."""
    return _cash_movement(terminal, "out", amount, reason, manager_pin)


def open_drawer(terminal: Terminal, reason: str) -> None:
    """Record that the drawer was opened without a sale (journal ``drawer.opened``)."""
    cashier = terminal.require_cashier()
    reason = (reason or "").strip()
    if not reason or len(reason) > 200:
        raise ServiceError("Say why the drawer is opened (up to 200 characters).")
    stamp = terminal.stamp()
    terminal.ledger.transact(
        lambda db: journal.append(
            db, EventType.DRAWER_OPENED, {"staff_id": cashier.id, "reason": reason}, occurred_at=stamp
        )
    )


__all__ = [
    "ShiftClosed",
    "cash_in",
    "cash_out",
    "close_shift",
    "current_shift",
    "expected_cash",
    "open_drawer",
    "open_shift",
]
