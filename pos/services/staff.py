"""Staff: adding people, signing in and out by PIN, and manager approvals.

PINs are 4 to 8 digits, hashed with Argon2id (argon2-cffi) and unique within the store, so a PIN
alone says who is signing in. Five wrong PINs in a row close PIN entry on this terminal for five
minutes; every attempt is recorded in the ledger (``pin_attempts``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils
import uuid_utils
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from pos.domain.staff import Action, Role, can_approve
from pos.ledger import journal
from pos.ledger import staff as staff_ledger
from pos.ledger.staff import StaffMember
from pos.services.terminal import LockedOut, ServiceError, Terminal
from sync.protocol import EventType

MAX_WRONG_PINS = 5
LOCKOUT = timedelta(minutes=5)
_PIN = re.compile(r"[0-9]{4,8}")

# OWASP's Argon2id minimum (19 MiB, 2 passes): sign-in checks every active PIN hash, so each
# check must stay in the tens of milliseconds on a till.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@dataclass(frozen=True)
class SignedIn:
    staff_id: str
    name: str
    role: str


def hash_pin(pin: str) -> str:
    """The Argon2id hash of a PIN (after checking it is 4 to 8 digits)."""
    return _hasher.hash(check_pin(pin))


def check_pin(pin: str) -> str:
    if not isinstance(pin, str) or not _PIN.fullmatch(pin.strip()):
        raise ServiceError("A PIN is 4 to 8 digits.")
    return pin.strip()


def _matches(pin_hash: str, pin: str) -> bool:
    try:
        return _hasher.verify(pin_hash, pin)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _find_by_pin(db: sqlite_utils.Database, pin: str) -> StaffMember | None:
    for member in staff_ledger.active_staff(db):
        if _matches(member.pin_hash, pin):
            return member
    return None


def add_staff(terminal: Terminal, *, name: str, role: str, pin: str, staff_id: str | None = None) -> str:
    """Add a staff member who signs in with ``pin``; return their id.

    Refuses (ServiceError, nothing stored) an empty name, an unknown role, a PIN that is not 4-8
    digits, or a PIN another active staff member already uses.
    """
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ServiceError("A staff member needs a name (up to 100 characters).")
    try:
        role = Role(role).value
    except ValueError as exc:
        raise ServiceError(f"Unknown role {role!r}: use cashier or manager.") from exc
    pin = check_pin(pin)
    pin_hash = _hasher.hash(pin)
    new_id = staff_id or str(uuid_utils.uuid7())
    now = terminal.stamp()

    def job(db: sqlite_utils.Database) -> str:
        holder = _find_by_pin(db, pin)
        if holder is not None and holder.id != new_id:
            raise ServiceError("That PIN is already taken in this store: choose another.")
        staff_ledger.upsert(db, id=new_id, name=name, role=role, pin_hash=pin_hash, active=True, now=now)
        return new_id

    return terminal.ledger.transact(job)


def _check_pin_attempt(terminal: Terminal, pin: str, purpose: str) -> StaffMember | None:
    """Match ``pin`` against active staff, record the attempt, and enforce the lockout."""
    now = terminal.now()
    reader = terminal.ledger.read()
    until = staff_ledger.locked_until(reader, now)
    if until is not None:
        raise LockedOut(until)
    cleaned = pin.strip() if isinstance(pin, str) else ""
    member = _find_by_pin(reader, cleaned) if _PIN.fullmatch(cleaned) else None

    def job(db: sqlite_utils.Database) -> datetime | None:
        return staff_ledger.record_attempt(
            db,
            ok=member is not None,
            purpose=purpose,
            staff_id=member.id if member else None,
            now=now,
            max_failures=MAX_WRONG_PINS,
            lock_for=LOCKOUT,
        )

    locked = terminal.ledger.transact(job)
    if locked is not None:
        raise LockedOut(locked)
    return member


def sign_in(terminal: Terminal, pin: str) -> SignedIn:
    """Sign in whoever has ``pin``; journal ``staff.signed_in``. A signed-in person is signed out first.

    Raises ServiceError for a wrong PIN, LockedOut after too many.
    """
    member = _check_pin_attempt(terminal, pin, "sign_in")
    if member is None:
        raise ServiceError("Wrong PIN.")
    if terminal.cashier is not None and terminal.cashier.id != member.id:
        sign_out(terminal)
    stamp = terminal.stamp()
    terminal.ledger.transact(
        lambda db: journal.append(
            db,
            EventType.SIGNED_IN,
            {"staff_id": member.id, "name": member.name, "role": member.role},
            occurred_at=stamp,
        )
    )
    terminal.cashier = member
    return SignedIn(member.id, member.name, member.role)


def sign_out(terminal: Terminal) -> None:
    """Sign out whoever is signed in (journal ``staff.signed_out``); nothing happens if nobody is."""
    member = terminal.cashier
    if member is None:
        return
    stamp = terminal.stamp()
    terminal.ledger.transact(
        lambda db: journal.append(db, EventType.SIGNED_OUT, {"staff_id": member.id}, occurred_at=stamp)
    )
    terminal.cashier = None


def lockout_until(terminal: Terminal) -> datetime | None:
    """When PIN entry opens again, or None if it is open now."""
    return staff_ledger.locked_until(terminal.ledger.read(), terminal.now())


def approver_for(terminal: Terminal, action: Action, manager_pin: str) -> StaffMember:
    """The manager whose PIN this is, for ``action``; ServiceError if it is no manager's PIN."""
    member = _check_pin_attempt(terminal, manager_pin, f"approve:{action.value}")
    if member is None:
        raise ServiceError("Wrong manager PIN.")
    if not can_approve(member.role):
        raise ServiceError(f"{member.name} is not a manager and cannot approve this.")
    return member


def override_payload(
    terminal: Terminal, action: Action, approver: StaffMember, details: dict[str, Any]
) -> dict[str, Any]:
    """The payload of an ``override.approved`` journal entry."""
    cashier = terminal.cashier
    return {
        "action": action.value,
        "approved_by": approver.id,
        "approver_name": approver.name,
        "cashier_id": cashier.id if cashier else None,
        "details": details,
    }
