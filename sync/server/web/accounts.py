"""Shopper and head-office sign-in: passwords, sessions, CSRF tokens and sign-in rate limits.

Design (docs/shopper-and-hq.md says the same for people):

- Passwords are hashed with Argon2id (argon2-cffi's defaults). A sign-in with an unknown email
  still verifies against a dummy hash, so the answer time does not tell which emails exist.
- A session is a random 256-bit token in a cookie (HttpOnly, SameSite=Lax, Secure when the public
  URL is https). The server keeps only its SHA-256 in ``web_sessions``, so a leaked database
  cannot be replayed as cookies. Shopper and head-office sessions use different cookies and kinds.
- Every form POST carries a CSRF token. A signed-in form carries the session's token; a form
  shown before signing in carries a random token that is also set as a cookie (double submit).
  A POST whose token is missing or different changes nothing and gets 403.
- Failed sign-ins are written to ``login_attempts`` under the client address and the account.
  A client address over its allowance inside the window gets 429 with Retry-After until it
  passes (an attacker's own source is stopped). The account itself is only ever slowed: after
  FREE_ACCOUNT_FAILURES failures each further try waits a doubling delay after the last failure,
  at most MAX_ACCOUNT_DELAY, and a browser that signed in to that account before (a cookie head
  office signs) skips it. Strangers cannot lock an owner out; sign-in by mail has its own limits.
- ``X-Forwarded-For`` counts only from a configured proxy (:func:`client_address`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fastapi import Request, Response
from sqlalchemy import Connection, Table, delete, func, insert, select

from sync.server import schema
from sync.server.web.i18n import N_, Translator, ngettext_marker

SessionKind = Literal["shopper", "admin"]

SHOPPER_COOKIE = "sl_shopper"
ADMIN_COOKIE = "sl_hq"
CSRF_COOKIE = "sl_csrf"
CSRF_FIELD = "csrf_token"
SHOPPER_SESSION_LIFETIME = timedelta(days=30)
ADMIN_SESSION_LIFETIME = timedelta(hours=8)
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256  # hashing is deliberately slow; a megabyte password must not be
MAX_EMAIL_LENGTH = 254

#: Used when the app has no settings: failed sign-ins allowed per email inside the window.
DEFAULT_ATTEMPTS_ALLOWED = 10
DEFAULT_WINDOW_SECONDS = 900
#: A client address may fail this many times the per-email allowance (many shoppers share a NAT).
CLIENT_ALLOWANCE_FACTOR = 5

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a real password; equalises timing for unknown emails")


def table(name: str) -> Table:
    """A table of the server schema, by name."""
    return schema.metadata.tables[name]


def utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (SQLite hands back naive ones)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def now_utc(request: Request) -> datetime:
    """The server's current time; tests may set ``app.state.clock`` to a callable."""
    clock = getattr(request.app.state, "clock", None)
    value = clock() if callable(clock) else datetime.now(UTC)
    return utc(value)


# --- passwords -----------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password``."""
    return _hasher.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    """True if ``password`` is the one hashed; always costs one Argon2 verification."""
    try:
        # An account without a password ("": it signs in by mail) never matches, not even the dummy's.
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def normalise_email(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True)
class Problem:
    """What is wrong with a form field, in words any page language can show."""

    message: str
    plural: str = ""
    n: int = 0

    def text(self, t: Translator) -> str:
        return t.ngettext(self.message, self.plural, self.n) if self.plural else t.gettext(self.message)


def email_problem(email: str) -> Problem | None:
    """Why ``email`` cannot be an account's email, or None if it can."""
    if not email or len(email) > MAX_EMAIL_LENGTH or not _EMAIL.match(email):
        return Problem(N_("Please enter a valid email address."))
    return None


def password_problem(password: str) -> Problem | None:
    """Why ``password`` cannot be used, or None if it can."""
    if len(password) < MIN_PASSWORD_LENGTH or len(password) > MAX_PASSWORD_LENGTH:
        return Problem(
            *ngettext_marker(
                "The password must have at least {n} character.",
                "The password must have at least {n} characters.",
            ),
            n=MIN_PASSWORD_LENGTH,
        )
    return None


# --- sessions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebSession:
    """A signed-in browser: who (``subject_id`` in ``kind``'s table) and its CSRF token."""

    kind: SessionKind
    subject_id: int
    csrf_token: str
    expires_at: datetime


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def cookie_name(kind: SessionKind) -> str:
    return SHOPPER_COOKIE if kind == "shopper" else ADMIN_COOKIE


def start_session(
    conn: Connection, kind: SessionKind, subject_id: int, now: datetime
) -> tuple[str, WebSession]:
    """Create a session for ``subject_id``; returns the cookie token (kept nowhere else) and it."""
    token = secrets.token_urlsafe(32)
    lifetime = SHOPPER_SESSION_LIFETIME if kind == "shopper" else ADMIN_SESSION_LIFETIME
    sessions = table("web_sessions")
    # Housekeeping on the way in: sessions past their expiry are dead weight.
    conn.execute(delete(sessions).where(sessions.c.expires_at <= now))
    session = WebSession(
        kind=kind, subject_id=subject_id, csrf_token=secrets.token_urlsafe(32), expires_at=now + lifetime
    )
    conn.execute(
        insert(table("web_sessions")).values(
            token_hash=_token_hash(token),
            kind=kind,
            subject_id=subject_id,
            csrf_token=session.csrf_token,
            created_at=now,
            expires_at=session.expires_at,
        )
    )
    return token, session


def find_session(conn: Connection, kind: SessionKind, token: str | None, now: datetime) -> WebSession | None:
    """The live session of ``kind`` whose cookie is ``token``, or None."""
    if not token or len(token) > 200:
        return None
    sessions = table("web_sessions")
    row = conn.execute(
        select(sessions.c.subject_id, sessions.c.csrf_token, sessions.c.expires_at).where(
            sessions.c.token_hash == _token_hash(token), sessions.c.kind == kind
        )
    ).first()
    if row is None or utc(row.expires_at) <= now:
        return None
    return WebSession(
        kind=kind, subject_id=int(row.subject_id), csrf_token=row.csrf_token, expires_at=utc(row.expires_at)
    )


def end_session(conn: Connection, token: str | None) -> None:
    """Forget the session behind ``token`` (signing out)."""
    if token:
        sessions = table("web_sessions")
        conn.execute(delete(sessions).where(sessions.c.token_hash == _token_hash(token)))


def request_session(request: Request, kind: SessionKind) -> WebSession | None:
    """The session the request's cookie names, if it is live."""
    engine = request.app.state.db.engine
    with engine.connect() as conn:
        return find_session(conn, kind, request.cookies.get(cookie_name(kind)), now_utc(request))


def _setting(request: Request, name: str, default: Any) -> Any:
    return getattr(getattr(request.app.state, "settings", None), name, default)


def _secure(request: Request) -> bool:
    """Secure cookies when the public URL is https (unless settings turn them off for a demo)."""
    public_url = str(_setting(request, "public_url", "") or "")
    return bool(_setting(request, "secure_cookies", True)) and public_url.lower().startswith("https://")


def set_session_cookie(response: Response, request: Request, kind: SessionKind, token: str) -> None:
    lifetime = SHOPPER_SESSION_LIFETIME if kind == "shopper" else ADMIN_SESSION_LIFETIME
    response.set_cookie(
        cookie_name(kind),
        token,
        max_age=int(lifetime.total_seconds()),
        path="/" if kind == "shopper" else "/hq",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )


def clear_session_cookie(response: Response, request: Request, kind: SessionKind) -> None:
    response.delete_cookie(
        cookie_name(kind),
        path="/" if kind == "shopper" else "/hq",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )


# --- CSRF ----------------------------------------------------------------------------------------


def csrf_token_for(request: Request, session: WebSession | None) -> str:
    """The token forms on this page must carry: the session's, or the anonymous cookie's."""
    if session is not None:
        return session.csrf_token
    existing = request.cookies.get(CSRF_COOKIE, "")
    return existing if 20 <= len(existing) <= 100 else secrets.token_urlsafe(32)


def remember_csrf_cookie(
    response: Response, request: Request, token: str, session: WebSession | None
) -> None:
    """Set the anonymous CSRF cookie a page's forms rely on (signed-in pages need none)."""
    if session is None and request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            max_age=24 * 3600,
            path="/",
            httponly=True,
            samesite="lax",
            secure=_secure(request),
        )


def csrf_ok(request: Request, submitted: str | None, session: WebSession | None) -> bool:
    """True if a POST's token matches its session's, or (signed out) the anonymous cookie's."""
    expected = session.csrf_token if session is not None else request.cookies.get(CSRF_COOKIE, "")
    if not submitted or not expected:
        return False
    return hmac.compare_digest(submitted.encode("utf-8"), expected.encode("utf-8"))


# --- sign-in rate limit ---------------------------------------------------------------------------


def _networks(request: Request) -> list[Any]:
    """The configured proxies (``trusted_proxies``: addresses or networks) as ip_network objects;
    a name that is not an address (a test client's) is kept as text."""
    out: list[Any] = []
    for item in _setting(request, "trusted_proxies", ()) or ():
        try:
            out.append(ipaddress.ip_network(str(item), strict=False))
        except ValueError:
            out.append(str(item))
    return out


def _is_proxy(address: str, proxies: list[Any]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address in proxies
    return any(not isinstance(p, str) and ip.version == p.version and ip in p for p in proxies)


def client_address(request: Request) -> str:
    """The client's address as the sign-in limits count it.

    ``X-Forwarded-For`` is believed only when the connection comes from a configured proxy
    (``trusted_proxies``, ``pos-central serve --trusted-proxy``; none by default, and uvicorn's own
    proxy-header handling is off): then the client is the nearest address in the header that is
    not itself a trusted proxy. Anyone else's header is ignored, so a fresh header per request
    buys nothing.
    """
    peer = request.client.host if request.client else "unknown"
    proxies = _networks(request)
    if not proxies or not _is_proxy(peer, proxies):
        return peer
    hops = [h.strip() for v in request.headers.getlist("x-forwarded-for") for h in v.split(",")]
    for hop in reversed([h for h in hops if h]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a malformed chain is not believed
        if not _is_proxy(hop, proxies):
            return hop
    return peer


#: Failed password sign-ins to one account (from anywhere) before it is slowed down, then the
#: delay between further tries doubles up to MAX_ACCOUNT_DELAY: strangers slow an account's
#: attacker, never lock its owner out (and a browser the owner signed in with skips the delay).
FREE_ACCOUNT_FAILURES = 5
MAX_ACCOUNT_DELAY = timedelta(seconds=60)
KNOWN_DEVICE_COOKIE = "sl_known"


@dataclass(frozen=True)
class SigninLimit:
    """Which ``login_attempts`` keys one sign-in counts against, with their allowances.

    ``keys`` are hard allowances inside the window (per source: a client address). The optional
    ``account_key`` is the account's own count, which only ever delays (progressively, at most
    MAX_ACCOUNT_DELAY after its last failure), and not at all for a known device.
    """

    keys: tuple[tuple[str, int], ...]
    window: timedelta
    account_key: str | None = None
    known_device: bool = False

    @property
    def email_key(self) -> str:
        return self.account_key or self.keys[0][0]


def _device_mark(request: Request, kind: SessionKind, email: str) -> str:
    secret = getattr(request.app.state, "secret_key", b"") or b""
    return hmac.new(bytes(secret), f"known-device:{kind}:{email}".encode(), hashlib.sha256).hexdigest()


def known_device(request: Request, kind: SessionKind, email: str) -> bool:
    """Whether this browser signed in to ``email``'s account before (a cookie head office signed)."""
    marks = (request.cookies.get(f"{KNOWN_DEVICE_COOKIE}_{kind}") or "").split(".")
    mark = _device_mark(request, kind, email)
    return any(hmac.compare_digest(m, mark) for m in marks[:8] if len(m) == len(mark))


def remember_device(response: Response, request: Request, kind: SessionKind, email: str) -> None:
    """After a successful sign-in: this browser skips the account's delays next time."""
    name = f"{KNOWN_DEVICE_COOKIE}_{kind}"
    mark = _device_mark(request, kind, email)
    kept = [m for m in (request.cookies.get(name) or "").split(".") if m and m != mark][:7]
    response.set_cookie(
        name,
        ".".join([mark, *kept]),
        max_age=int(timedelta(days=365).total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )


def signin_limit(request: Request, kind: SessionKind, email: str) -> SigninLimit:
    """The rate limit for signing in as ``email`` from this request's client."""
    allowed = int(_setting(request, "login_attempts_allowed", DEFAULT_ATTEMPTS_ALLOWED))
    window = timedelta(seconds=int(_setting(request, "login_window_seconds", DEFAULT_WINDOW_SECONDS)))
    return SigninLimit(
        keys=((f"{kind}:client:{client_address(request)}"[:300], allowed * CLIENT_ALLOWANCE_FACTOR),),
        window=window,
        account_key=f"{kind}:email:{email}"[:300],
        known_device=known_device(request, kind, email),
    )


def signup_limit(request: Request) -> SigninLimit:
    """How many accounts one client address may create inside the window (stops bulk sign-ups)."""
    allowed = int(_setting(request, "login_attempts_allowed", DEFAULT_ATTEMPTS_ALLOWED))
    window = timedelta(seconds=int(_setting(request, "login_window_seconds", DEFAULT_WINDOW_SECONDS)))
    key = f"shopper:signup:{client_address(request)}"[:300]
    return SigninLimit(keys=((key, allowed * CLIENT_ALLOWANCE_FACTOR),), window=window)


def account_delay(failures: int) -> timedelta:
    """How long after an account's last failure the next try waits, with ``failures`` in the window."""
    if failures < FREE_ACCOUNT_FAILURES:
        return timedelta(0)
    return min(MAX_ACCOUNT_DELAY, timedelta(seconds=2 ** min(16, failures - FREE_ACCOUNT_FAILURES)))


def seconds_until_allowed(conn: Connection, limit: SigninLimit, now: datetime) -> int:
    """0 if a sign-in may be tried now, else how many seconds to wait: until the source's oldest
    failure ages out (over its allowance), or the account's progressive delay has passed."""
    attempts = table("login_attempts")
    since = now - limit.window
    wait = 0
    for key, allowed in limit.keys:
        row = conn.execute(
            select(func.count(), func.min(attempts.c.at)).where(attempts.c.key == key, attempts.c.at > since)
        ).one()
        if row[0] >= allowed and row[1] is not None:
            wait = max(wait, int((utc(row[1]) + limit.window - now).total_seconds()) + 1)
    if limit.account_key is not None and not limit.known_device:
        count, last = conn.execute(
            select(func.count(), func.max(attempts.c.at)).where(
                attempts.c.key == limit.account_key, attempts.c.at > since
            )
        ).one()
        if last is not None:
            ready = utc(last) + account_delay(int(count))
            if ready > now:
                wait = max(wait, int((ready - now).total_seconds()) + 1)
    return wait


def record_attempt(conn: Connection, limit: SigninLimit, now: datetime) -> None:
    """Count one attempt (a failed sign-in, or any sign-up) against every key of ``limit``.

    Attempts older than the window are dropped on the way, so the table stays small.
    """
    attempts = table("login_attempts")
    conn.execute(delete(attempts).where(attempts.c.at <= now - limit.window))
    keys = [key for key, _ in limit.keys] + ([limit.account_key] if limit.account_key else [])
    conn.execute(insert(attempts), [{"key": key, "at": now} for key in keys])


def forget_failures(conn: Connection, key: str) -> None:
    """A successful sign-in clears its email's failures (not the client's)."""
    attempts = table("login_attempts")
    conn.execute(delete(attempts).where(attempts.c.key == key))


# --- accounts ------------------------------------------------------------------------------------


def find_account(conn: Connection, kind: SessionKind, email: str) -> Any | None:
    """The shopper or admin row with ``email`` (already normalised), or None."""
    accounts = table("shoppers" if kind == "shopper" else "admins")
    return conn.execute(select(accounts).where(accounts.c.email == email)).first()


def account_email(conn: Connection, kind: SessionKind, subject_id: int) -> str | None:
    accounts = table("shoppers" if kind == "shopper" else "admins")
    return conn.execute(select(accounts.c.email).where(accounts.c.id == subject_id)).scalar()
