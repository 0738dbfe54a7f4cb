"""Head-office actions on stores, terminals, staff and admins (the CLI and the API call these).

Each function takes an open connection inside a transaction and either does the whole action or
raises :class:`InputError` (or a subclass) naming what was wrong, having changed nothing.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import hmac
import logging
import re
import secrets
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from babel import Locale, UnknownLocaleError
from babel.numbers import get_currency_name
from sqlalchemy import Connection, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from sync.codes import new_claim_key
from sync.protocol import ChangeKind, StoreInfo
from sync.server import schema
from sync.server.changes import NewChange, record_standalone

log = logging.getLogger(__name__)

ENROLLMENT_TTL = timedelta(hours=24)
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud over the phone
_PIN = re.compile(r"^\d{4,8}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

password_hasher = PasswordHasher()  # Argon2id with argon2-cffi's recommended parameters


class InputError(ValueError):
    """Bad input from a person: the message says what was wrong. Nothing was changed."""


class EnrollmentRefused(InputError):
    """An enrollment code was refused; ``reason`` is 'unknown_code', 'code_used' or 'code_expired'."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- stores -----------------------------------------------------------------------------------------


def store_info(row: Row[Any]) -> StoreInfo:
    return StoreInfo(
        code=row.code,
        name=row.name,
        currency=row.currency,
        locale=row.locale,
        tax_mode=row.tax_mode,
        discount_limit_percent=row.discount_limit_percent,
        timezone=row.timezone,
    )


def find_store(conn: Connection, code: str) -> Row[Any]:
    row = conn.execute(select(schema.stores).where(schema.stores.c.code == code.strip())).first()
    if row is None:
        raise InputError(f"no store with code {code!r}")
    return row


def add_store(
    conn: Connection,
    *,
    code: str,
    name: str,
    currency: str,
    locale: str,
    tax_mode: str,
    now: datetime,
    discount_limit_percent: int = 10,
    timezone: str = "UTC",
) -> int:
    """Create a store and announce its settings to its future terminals; returns its id."""
    code = code.strip()
    problems = []
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", code):
        problems.append("code: use 1 to 32 letters, digits, '-' or '_'")
    if not name.strip() or len(name) > 200:
        problems.append("name: give a name of 1 to 200 characters")
    currency = currency.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", currency) or get_currency_name(currency, locale="en") == currency:
        problems.append(f"currency: {currency!r} is not an ISO 4217 currency code")
    try:
        locale = str(Locale.parse(locale.strip().replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError):
        problems.append(f"locale: {locale!r} is not a known locale (e.g. de_DE, en_GB)")
    if tax_mode not in ("inclusive", "exclusive"):
        problems.append("tax mode: use 'inclusive' (prices include tax) or 'exclusive'")
    if not 0 <= discount_limit_percent <= 100:
        problems.append("discount limit: a percentage from 0 to 100")
    timezone = timezone.strip()
    zone_problem = timezone_problem(timezone)
    if zone_problem:
        problems.append(zone_problem)
    if problems:
        raise InputError("; ".join(problems))
    if conn.execute(select(schema.stores.c.id).where(schema.stores.c.code == code)).first():
        raise InputError(f"a store with code {code!r} already exists")
    store_id = int(
        conn.execute(
            insert(schema.stores)
            .values(
                code=code,
                name=name.strip(),
                currency=currency,
                locale=locale,
                tax_mode=tax_mode,
                discount_limit_percent=discount_limit_percent,
                timezone=timezone,
                created_at=now,
            )
            .returning(schema.stores.c.id)
        ).scalar_one()
    )
    announce_store(conn, store_id, now=now)
    return store_id


#: Longest texts a store may set (the serve options are cut to the same lengths).
POINTS_MEANING_MAX = 500
RETURN_POLICY_MAX = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def set_store_texts(
    conn: Connection, *, store_code: str, points_meaning: str | None = None, return_policy: str | None = None
) -> Row[Any]:
    """Set what a store tells its shoppers: what its points are worth, its return policy.

    ``None`` leaves a text as it is; an empty (or blank) text clears it, so the store shows the
    chain's default again (``pos-central serve --points-meaning / --return-policy``). Returns the
    store's row as it is now. Raises :class:`InputError` (nothing changed) for an unknown store,
    nothing to set, a text too long or one with control characters."""
    store = find_store(conn, store_code)
    if points_meaning is None and return_policy is None:
        raise InputError("nothing to set: give --points-meaning and/or --return-policy")
    values: dict[str, str | None] = {}
    problems = []
    for column, label, text, limit in (
        ("points_meaning", "points meaning", points_meaning, POINTS_MEANING_MAX),
        ("return_policy", "return policy", return_policy, RETURN_POLICY_MAX),
    ):
        if text is None:
            continue
        text = text.strip()
        if len(text) > limit:
            problems.append(f"{label}: at most {limit} characters (this one has {len(text)})")
        elif _CONTROL.search(text):
            problems.append(f"{label}: control characters are not allowed (only text, line breaks, tabs)")
        values[column] = text or None
    if problems:
        raise InputError("; ".join(problems))
    conn.execute(update(schema.stores).where(schema.stores.c.id == store.id).values(**values))
    return conn.execute(select(schema.stores).where(schema.stores.c.id == store.id)).one()


def latest_store_id(conn: Connection, shopper_id: int) -> int | None:
    """The store of a shopper's most recent purchase (their store, as far as head office can
    tell), or None when they have none."""
    s = schema.sales
    return conn.execute(
        select(s.c.store_id)
        .where(s.c.member_id == shopper_id, s.c.kind == "sale")
        .order_by(s.c.completed_at.desc())
        .limit(1)
    ).scalar()


def store_texts(conn: Connection, store_id: int | None) -> tuple[str | None, str | None]:
    """A store's own (points meaning, return policy); None where it keeps the chain's default."""
    if store_id is None:
        return None, None
    st = schema.stores
    row = conn.execute(select(st.c.points_meaning, st.c.return_policy).where(st.c.id == store_id)).first()
    return (row.points_meaning, row.return_policy) if row is not None else (None, None)


def timezone_problem(name: str) -> str | None:
    """None for an IANA time zone name this machine knows (``Europe/Berlin``), else what to write.

    Receipts, dashboards and day boundaries run on it: an unknown name must never become UTC."""
    zones = zoneinfo.available_timezones()
    if name in zones:
        return None
    hints = nearest_timezones(name, zones)
    advice = (
        f"did you mean {' or '.join(hints)}?"
        if hints
        else "use a name like Europe/Berlin or America/New_York"
    )
    return f"timezone: {name!r} is not a time zone name; {advice}"


@functools.cache
def zone_or_utc(name: str) -> zoneinfo.ZoneInfo:
    """The store's zone for showing times; a name this machine does not know (a store added before
    zones were checked, or tzdata lacking it) shows UTC -- said once in the log, never silently."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        log.warning("store time zone %r is not known here: times are shown in UTC", name)
        return zoneinfo.ZoneInfo("UTC")


def nearest_timezones(name: str, zones: set[str] | None = None, limit: int = 3) -> list[str]:
    """Up to ``limit`` valid names closest to ``name``: same spelling in another case, a city's
    name alone ('Berlin', 'new york'), then the most similar names."""
    zones = zones if zones is not None else zoneinfo.available_timezones()

    def key(text: str) -> str:
        return text.strip().lower().replace("_", " ").replace("-", " ")

    wanted = key(name)
    if not wanted:
        return []
    by_name: dict[str, list[str]] = {}
    by_city: dict[str, list[str]] = {}
    for zone in sorted(zones):
        by_name.setdefault(key(zone), []).append(zone)
        if "/" in zone and not zone.startswith(("Etc/", "SystemV/", "US/", "posix/", "right/")):
            by_city.setdefault(key(zone.rsplit("/", 1)[1]), []).append(zone)
    found: list[str] = []
    for group in (by_name.get(wanted, []), by_city.get(wanted, [])):
        found.extend(z for z in group if z not in found)
    if found:
        return found[:limit]
    for close in difflib.get_close_matches(wanted, [*by_city, *by_name], n=limit * 2, cutoff=0.6):
        found.extend(z for z in by_city.get(close, []) + by_name.get(close, []) if z not in found)
    return found[:limit]


def announce_store(conn: Connection, store_id: int, *, now: datetime) -> None:
    row = conn.execute(select(schema.stores).where(schema.stores.c.id == store_id)).one()
    record_standalone(
        conn,
        [NewChange(ChangeKind.STORE, row.code, store_info(row).model_dump(), store_id)],
        now=now,
    )


# --- enrollment -------------------------------------------------------------------------------------


def normalize_enrollment_code(code: str) -> str:
    return re.sub(r"[\s-]", "", code).upper()


def create_enrollment_code(conn: Connection, *, store_code: str, now: datetime) -> tuple[str, datetime]:
    """A single-use code a terminal exchanges for its identity at ``store_code``, valid 24 hours.

    Returns the code (only shown now; the server keeps its hash) and when it expires.
    """
    store = find_store(conn, store_code)
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(16))
    code = "-".join(raw[i : i + 4] for i in range(0, 16, 4))
    expires_at = now + ENROLLMENT_TTL
    conn.execute(
        insert(schema.enrollment_codes).values(
            code_hash=sha256_hex(normalize_enrollment_code(code)),
            store_id=store.id,
            created_at=now,
            expires_at=expires_at,
        )
    )
    return code, expires_at


@dataclass(frozen=True)
class NewTerminal:
    terminal_id: int
    terminal_code: str
    store: StoreInfo
    token: str
    claim_key: bytes


@dataclass(frozen=True)
class LedgerHead:
    """The head of the journal a till already holds when it enrolls (a restored ledger)."""

    seq: int
    hash: str


def enroll_terminal(
    conn: Connection,
    *,
    code: str,
    terminal_name: str,
    now: datetime,
    device_key: str | None = None,
    ledger: LedgerHead | None = None,
) -> NewTerminal:
    """Spend an enrollment code on a new terminal: its id, bearer token and claim key.

    Idempotent for the device that spent it: the same code with the same ``device_key`` (the
    answer was lost on the way) gets the same terminal again, with a new token that replaces the
    first one -- as long as that terminal was never in touch and is not revoked (once it synced,
    it had its answer). A re-key code (``rekey_terminal_id``) gives an existing terminal new
    credentials instead of making one (:func:`create_rekey_code`): only for a till whose ledger
    (``ledger``, the head of a restored journal) is not behind the chain head office holds for
    that terminal, and a till with such a ledger gets no new terminal from an ordinary code --
    either would make a second chain under one terminal. Those refusals leave the code unspent.

    Raises :class:`EnrollmentRefused` for an unknown, used or expired code.
    """
    table = schema.enrollment_codes
    row = conn.execute(
        select(table).where(table.c.code_hash == sha256_hex(normalize_enrollment_code(code)))
    ).first()
    if row is None:
        raise EnrollmentRefused("unknown_code", "this enrollment code is not known: check it with IT")
    key_hash = sha256_hex(device_key) if device_key else None
    if row.used_at is not None:
        if key_hash is not None and row.device_key_hash == key_hash and row.terminal_id is not None:
            again = _answer_again(conn, row.terminal_id, now)
            if again is not None:
                return again
        raise EnrollmentRefused(
            "code_used", "this enrollment code was already used: ask IT for a new one (each works once)"
        )
    if now >= row.expires_at:
        raise EnrollmentRefused(
            "code_expired", "this enrollment code has expired (codes last 24 hours): ask IT for a new one"
        )
    _check_ledger(conn, row.rekey_terminal_id, ledger)
    # Spend the code first, conditionally, so two terminals racing for it cannot both win.
    spent = conn.execute(
        update(table)
        .where(table.c.id == row.id, table.c.used_at.is_(None))
        .values(used_at=now, device_key_hash=key_hash)
    ).rowcount
    if spent != 1:
        raise EnrollmentRefused("code_used", "this enrollment code was just used by another terminal")
    if row.rekey_terminal_id is not None:
        terminal = _new_credentials(conn, row.rekey_terminal_id, now, keep_seen=False)
        conn.execute(update(table).where(table.c.id == row.id).values(terminal_id=terminal.terminal_id))
        return terminal
    store = conn.execute(select(schema.stores).where(schema.stores.c.id == row.store_id)).one()
    count = conn.execute(
        select(func.count()).select_from(schema.terminals).where(schema.terminals.c.store_id == store.id)
    ).scalar_one()
    token = secrets.token_urlsafe(32)
    claim_key = new_claim_key()
    terminal_id = None
    for n in range(count + 1, count + 50):
        try:
            with conn.begin_nested():
                terminal_id = conn.execute(
                    insert(schema.terminals)
                    .values(
                        store_id=store.id,
                        code=f"{store.code}-T{n}",
                        name=terminal_name.strip(),
                        token_hash=sha256_hex(token),
                        claim_key=claim_key,
                        enrolled_at=now,
                    )
                    .returning(schema.terminals.c.id)
                ).scalar_one()
                terminal_code = f"{store.code}-T{n}"
            break
        except IntegrityError:
            continue
    if terminal_id is None:
        raise InputError("could not number the new terminal; try again")
    conn.execute(update(table).where(table.c.id == row.id).values(terminal_id=terminal_id))
    return NewTerminal(
        terminal_id=int(terminal_id),
        terminal_code=terminal_code,
        store=store_info(store),
        token=token,
        claim_key=claim_key,
    )


def _check_ledger(conn: Connection, rekey_terminal_id: int | None, ledger: LedgerHead | None) -> None:
    if rekey_terminal_id is None:
        if ledger is not None:
            raise EnrollmentRefused(
                "ledger_not_new",
                f"this till's ledger already holds a terminal's journal (up to entry {ledger.seq}): to "
                "continue that terminal here, ask IT for a re-key code (pos-central terminal rekey); "
                "for a new terminal, start from an empty data directory",
            )
        return
    terms = schema.terminals
    held = conn.execute(
        select(terms.c.code, terms.c.last_high_seq, terms.c.head_hash).where(terms.c.id == rekey_terminal_id)
    ).one()
    mine = ledger.seq if ledger is not None else 0
    if mine < held.last_high_seq:
        raise EnrollmentRefused(
            "ledger_behind",
            f"head office holds terminal {held.code}'s journal up to entry {held.last_high_seq}, this "
            f"till's ledger only up to entry {mine}: continuing would fork the terminal. Restore a newer "
            "backup (pos ledger restore), or enroll this till as a new terminal from an empty data "
            "directory",
        )
    if ledger is not None and ledger.seq == held.last_high_seq and ledger.hash != held.head_hash:
        raise EnrollmentRefused(
            "ledger_foreign",
            f"this till's ledger is not terminal {held.code}'s: its entry {ledger.seq} differs from the "
            "one head office holds",
        )


def create_rekey_code(conn: Connection, *, terminal: str, now: datetime) -> tuple[str, datetime, Row[Any]]:
    """A single-use code that gives ``terminal`` (its code or id) new credentials on new hardware
    (``pos enroll`` with it, after ``pos ledger restore``): the same id, code and claim key, a new
    token, the old token refused from then on; a revoked or forked terminal is active again.
    Valid 24 hours. Returns the code, when it expires, and the terminal's row."""
    row = find_terminal(conn, terminal)
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(16))
    code = "-".join(raw[i : i + 4] for i in range(0, 16, 4))
    expires_at = now + ENROLLMENT_TTL
    conn.execute(
        insert(schema.enrollment_codes).values(
            code_hash=sha256_hex(normalize_enrollment_code(code)),
            store_id=row.store_id,
            created_at=now,
            expires_at=expires_at,
            rekey_terminal_id=row.id,
        )
    )
    return code, expires_at, row


def _answer_again(conn: Connection, terminal_id: int, now: datetime) -> NewTerminal | None:
    """The enrollment answer again for a terminal whose device lost it: a new token (the first
    stops working); None when the terminal was in touch since (it had its answer) or is revoked."""
    terms = schema.terminals
    terminal = conn.execute(
        select(terms.c.revoked_at, terms.c.last_seen_at).where(terms.c.id == terminal_id)
    ).one()
    if terminal.revoked_at is not None or terminal.last_seen_at is not None:
        return None
    return _new_credentials(conn, terminal_id, now, keep_seen=True)


def _new_credentials(conn: Connection, terminal_id: int, now: datetime, *, keep_seen: bool) -> NewTerminal:
    """A new bearer token for ``terminal_id`` (the old one stops working at once); its id, code
    and claim key stay, so its journal and the receipts it printed stay its own."""
    terms = schema.terminals
    token = secrets.token_urlsafe(32)
    values: dict[str, Any] = {"token_hash": sha256_hex(token)}
    if not keep_seen:
        # New hardware (a re-key): "never synced" until it is in touch, no longer revoked and no
        # longer forked -- the old device's token is gone now, and this ledger was checked.
        values.update(last_seen_at=None, revoked_at=None, forked_at=None, fork_detail=None)
    conn.execute(update(terms).where(terms.c.id == terminal_id).values(**values))
    row = conn.execute(
        select(terms.c.code, terms.c.claim_key, terms.c.store_id).where(terms.c.id == terminal_id)
    ).one()
    store = conn.execute(select(schema.stores).where(schema.stores.c.id == row.store_id)).one()
    return NewTerminal(
        terminal_id=terminal_id,
        terminal_code=row.code,
        store=store_info(store),
        token=token,
        claim_key=bytes(row.claim_key),
    )


def find_terminal(conn: Connection, terminal: str) -> Row[Any]:
    """A terminal by its code (e.g. ``S01-T2``) or its numeric id."""
    table = schema.terminals
    text = terminal.strip()
    cond = table.c.code == text
    # ASCII digits and a size an id can have: "²" passes isdigit() but not int().
    if re.fullmatch(r"[0-9]{1,18}", text):
        cond = cond | (table.c.id == int(text))
    row = conn.execute(select(table).where(cond)).first()
    if row is None:
        raise InputError(f"no terminal {terminal!r} (give its code, e.g. S01-T1, or its id)")
    return row


def revoke_terminal(conn: Connection, *, terminal: str, now: datetime) -> Row[Any]:
    """Make a terminal's token fail with 401 from now on; returns the terminal row."""
    row = find_terminal(conn, terminal)
    if row.revoked_at is None:
        conn.execute(update(schema.terminals).where(schema.terminals.c.id == row.id).values(revoked_at=now))
    return row


# --- staff and admins --------------------------------------------------------------------------------


def pin_fingerprint(secret: bytes, pin: str) -> str:
    return hmac.new(secret, pin.encode("ascii"), hashlib.sha256).hexdigest()


def staff_data(row: Row[Any]) -> dict[str, Any]:
    return {"name": row.name, "role": row.role, "pin_hash": row.pin_hash, "active": row.active}


def add_staff(
    conn: Connection, *, secret: bytes, store_code: str, name: str, role: str, pin: str, now: datetime
) -> int:
    """Add a cashier or manager to a store and send them (PIN as Argon2id hash) to its terminals."""
    store = find_store(conn, store_code)
    problems = []
    if not name.strip() or len(name) > 100:
        problems.append("name: give a name of 1 to 100 characters")
    if role not in ("cashier", "manager"):
        problems.append("role: use 'cashier' or 'manager'")
    if not _PIN.match(pin):
        problems.append("PIN: use 4 to 8 digits")
    if problems:
        raise InputError("; ".join(problems))
    fingerprint = pin_fingerprint(secret, pin)
    taken = conn.execute(
        select(schema.staff.c.id).where(
            schema.staff.c.store_id == store.id, schema.staff.c.pin_fingerprint == fingerprint
        )
    ).first()
    if taken:
        raise InputError(f"PIN: another person at store {store.code} has this PIN; choose another")
    staff_id = int(
        conn.execute(
            insert(schema.staff)
            .values(
                store_id=store.id,
                name=name.strip(),
                role=role,
                pin_hash=password_hasher.hash(pin),
                pin_fingerprint=fingerprint,
                active=True,
                created_at=now,
            )
            .returning(schema.staff.c.id)
        ).scalar_one()
    )
    row = conn.execute(select(schema.staff).where(schema.staff.c.id == staff_id)).one()
    record_standalone(conn, [NewChange(ChangeKind.STAFF, str(staff_id), staff_data(row), store.id)], now=now)
    return staff_id


def add_admin(conn: Connection, *, email: str, password: str, display_name: str, now: datetime) -> int:
    """A head-office user who can sign in to /hq."""
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise InputError(f"e-mail: {email!r} is not an e-mail address")
    if len(password) < 10:
        raise InputError("password: use at least 10 characters")
    if conn.execute(select(schema.admins.c.id).where(schema.admins.c.email == email)).first():
        raise InputError(f"an admin with e-mail {email} already exists")
    return int(
        conn.execute(
            insert(schema.admins)
            .values(
                email=email,
                password_hash=password_hasher.hash(password),
                display_name=display_name.strip(),
                created_at=now,
            )
            .returning(schema.admins.c.id)
        ).scalar_one()
    )
