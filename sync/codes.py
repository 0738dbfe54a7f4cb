"""Codes shoppers scan: the receipt's claim code and the shopper's member code.

Claim code (printed on the receipt, scanned by the shopper's phone)
    30 bytes, written as 48 characters of RFC 4648 base32 (A-Z, 2-7, no padding)::

        version (1) | terminal id (4, big-endian) | expiry day (2, days since 2020-01-01)
        | nonce (12 random bytes = 96 bits) | MAC (11 bytes = 88 bits)

    The MAC is HMAC-SHA256 with the terminal's claim key over the first 19 bytes, truncated.
    The server holds every terminal's claim key, so it rejects a forged code before the sale has
    synced. The code holds no personal data and no sale data: the sale carries the code.
    :func:`claim_url` writes the whole URL in upper case so the QR code uses alphanumeric mode.

Member code (shown on the shopper's phone, scanned at the counter)
    185 ASCII digits: ``9`` and then the 76 bytes below as one big-endian number, zero-padded to
    184 digits, so the QR code uses numeric mode and fits version 5 at level M (37x37 modules);
    digits also survive any keyboard layout a scanner types into::

        version (1, = 2) | member id (4) | valid from (4, unix seconds) | valid for (2, seconds)
        | serial (1) | Ed25519 signature (64) over the first 12 bytes

    signed by the central server's key; terminals verify offline with the public key they got at
    enrollment. A code is good for its window (one hour) with a few minutes' leeway for clocks;
    the account page holds a day of them so the phone works offline. Why this scheme, and what a
    screenshot allows: docs/member-code.md.

Member short code (printed under the QR, typed by the cashier when a scan fails)
    11 digits (10 random and a Luhn check digit; 12 would read as a UPC-A barcode) with no meaning
    of their own: head office keeps which shopper and hour each names (sync/server/members.py).
    The till asks head office, which answers with that hour's signed member code; the till then
    verifies that like a scanned one. Offline, a short code cannot be used.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import struct
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

CLAIM_VERSION = 1
CLAIM_TTL_DAYS = 30
CLAIM_CODE_LENGTH = 48
_CLAIM_HEAD = struct.Struct(">BIH")  # version, terminal id, expiry day
_CLAIM_NONCE = 12
_CLAIM_MAC = 11
_EPOCH_DAY = date(2020, 1, 1)

_BASE32 = re.compile(r"^[A-Z2-7]+$")


class CodeError(ValueError):
    """A scanned code was refused. ``reason`` is a stable word; str() is for a person."""

    reason = "invalid"


class MalformedCode(CodeError):
    reason = "malformed"


class ForgedCode(CodeError):
    reason = "forged"


class ExpiredCode(CodeError):
    reason = "expired"


def _b32encode(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def _b32decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 8)
    try:
        raw = base64.b32decode(padded)
    except (binascii.Error, ValueError) as exc:
        raise MalformedCode("not a valid code: bad characters") from exc
    # b32decode ignores the unused low bits of the last character, so several texts decode to the
    # same bytes; only the canonical one is a code (a changed character is always refused).
    if _b32encode(raw) != text:
        raise MalformedCode("not a valid code: bad characters")
    return raw


def _day_number(day: date) -> int:
    return (day - _EPOCH_DAY).days


# --- claim codes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimCode:
    """A parsed claim code. ``text`` is the canonical upper-case form."""

    text: str
    terminal_id: int
    expires_on: date
    nonce: bytes

    @property
    def nonce_hex(self) -> str:
        return self.nonce.hex()


def new_claim_key() -> bytes:
    """A fresh 32-byte claim MAC key for one terminal."""
    return secrets.token_bytes(32)


def _claim_mac(key: bytes, head_and_nonce: bytes) -> bytes:
    return hmac.new(key, head_and_nonce, hashlib.sha256).digest()[:_CLAIM_MAC]


def make_claim_code(
    *,
    terminal_id: int,
    claim_key: bytes,
    today: date,
    ttl_days: int = CLAIM_TTL_DAYS,
    nonce: bytes | None = None,
) -> ClaimCode:
    """Issue a claim code for a sale completed ``today`` on ``terminal_id``."""
    if not 0 <= terminal_id < 2**32:
        raise ValueError("terminal id out of range")
    if ttl_days < 1:
        raise ValueError("ttl_days must be at least 1")
    if nonce is None:
        nonce = secrets.token_bytes(_CLAIM_NONCE)
    if len(nonce) != _CLAIM_NONCE:
        raise ValueError("nonce must be 12 bytes")
    expires_on = today + timedelta(days=ttl_days)
    day = _day_number(expires_on)
    if not 0 <= day < 2**16:
        raise ValueError("expiry date out of range")
    signed = _CLAIM_HEAD.pack(CLAIM_VERSION, terminal_id, day) + nonce
    raw = signed + _claim_mac(claim_key, signed)
    return ClaimCode(text=_b32encode(raw), terminal_id=terminal_id, expires_on=expires_on, nonce=nonce)


def parse_claim_code(text: str) -> ClaimCode:
    """Parse a claim code's structure (any case) without checking its MAC or expiry."""
    candidate = text.strip().upper()
    if len(candidate) != CLAIM_CODE_LENGTH or not _BASE32.match(candidate):
        raise MalformedCode(f"not a claim code: expected {CLAIM_CODE_LENGTH} letters and digits")
    raw = _b32decode(candidate)
    version, terminal_id, day = _CLAIM_HEAD.unpack_from(raw)
    if version != CLAIM_VERSION:
        raise MalformedCode(f"unknown claim code version {version}")
    nonce = raw[_CLAIM_HEAD.size : _CLAIM_HEAD.size + _CLAIM_NONCE]
    return ClaimCode(
        text=candidate,
        terminal_id=terminal_id,
        expires_on=_EPOCH_DAY + timedelta(days=day),
        nonce=nonce,
    )


def verify_claim_code(text: str, *, claim_key: bytes, today: date) -> ClaimCode:
    """Parse and check a claim code: raises MalformedCode, ForgedCode or ExpiredCode."""
    code = parse_claim_code(text)
    raw = _b32decode(code.text)
    signed, mac = raw[:-_CLAIM_MAC], raw[-_CLAIM_MAC:]
    if not hmac.compare_digest(_claim_mac(claim_key, signed), mac):
        raise ForgedCode("this code was not issued by our store")
    if today > code.expires_on:
        raise ExpiredCode(f"this code expired on {code.expires_on.isoformat()}")
    return code


def claim_url(public_url: str, code: ClaimCode | str) -> str:
    """The URL printed as the receipt QR: ``{public_url}/C/{code}``, all upper case.

    Upper case keeps every character in the QR alphanumeric set; scheme and host are
    case-insensitive and the server routes ``/c/`` and ``/C/`` alike.
    """
    text = code.text if isinstance(code, ClaimCode) else code
    return f"{public_url.rstrip('/')}/C/{text}".upper()


_CLAIM_IN_URL = re.compile(r"/C/([A-Z2-7]{48})/?$", re.IGNORECASE)


def claim_code_from_scan(scanned: str) -> str | None:
    """The claim code in a scanned claim URL or bare code, upper-cased; None if it is neither."""
    text = scanned.strip()
    match = _CLAIM_IN_URL.search(text)
    if match:
        return match.group(1).upper()
    if len(text) == CLAIM_CODE_LENGTH and _BASE32.match(text.upper()):
        return text.upper()
    return None


# --- member codes -------------------------------------------------------------------------------------

MEMBER_VERSION = 2
MEMBER_CODE_DIGITS = 185
MEMBER_WINDOW_SECONDS = 3600  # one code per hour; a screenshot is good for the rest of its hour
MEMBER_LEEWAY_SECONDS = 300  # a till clock five minutes off either way still takes a current code
MEMBER_CODE_MAX_USES = 3  # sales one code may be attached to (two tills, a second purchase, ...)
MEMBER_OFFLINE_HOURS = 26  # codes the account page holds: a day offline and then some
SHORT_CODE_DIGITS = 11
_MEMBER_HEAD = struct.Struct(">BIIHB")  # version, member id, valid from, valid for, serial
_MEMBER_RAW = _MEMBER_HEAD.size + 64
_MEMBER_NUMBER_DIGITS = MEMBER_CODE_DIGITS - 1
_DIGITS = re.compile(r"^[0-9]+$")


@dataclass(frozen=True)
class MemberCode:
    """A verified member code: who, and the window it is good for."""

    member_id: int
    issued_at: datetime  # start of the window
    expires_at: datetime  # end of the window (the till allows MEMBER_LEEWAY_SECONDS more)
    serial: int = 0

    @property
    def code_id(self) -> str:
        """The same for every copy of one code: count its uses with this."""
        return f"{self.member_id}:{int(self.issued_at.timestamp())}:{self.serial}"


def new_signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_key_bytes(key: Ed25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(
        encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw
    )


def load_public_key(raw: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(raw)


def make_member_code(
    *,
    member_id: int,
    signing_key: Ed25519PrivateKey,
    now: datetime,
    ttl_seconds: int = MEMBER_WINDOW_SECONDS,
    serial: int = 0,
) -> str:
    """A member code for ``member_id`` good from ``now`` (timezone-aware) for ``ttl_seconds``."""
    if not 0 < member_id < 2**32:
        raise ValueError("member id out of range")
    if not 0 < ttl_seconds < 2**16:
        raise ValueError("ttl_seconds out of range")
    if not 0 <= serial < 256:
        raise ValueError("serial out of range")
    head = _MEMBER_HEAD.pack(MEMBER_VERSION, member_id, int(now.timestamp()), ttl_seconds, serial)
    number = int.from_bytes(head + signing_key.sign(head), "big")
    return "9" + str(number).zfill(_MEMBER_NUMBER_DIGITS)


def member_window_start(now: datetime) -> datetime:
    """The start of the member-code window ``now`` falls in."""
    stamp = int(now.timestamp())
    return datetime.fromtimestamp(stamp - stamp % MEMBER_WINDOW_SECONDS, UTC)


def member_codes_ahead(
    *, member_id: int, signing_key: Ed25519PrivateKey, now: datetime, hours: int = MEMBER_OFFLINE_HOURS
) -> list[tuple[datetime, datetime, str]]:
    """One code per window from the current one on: ``(valid from, valid until, code)``."""
    start = member_window_start(now)
    step = timedelta(seconds=MEMBER_WINDOW_SECONDS)
    return [
        (
            start + k * step,
            start + (k + 1) * step,
            make_member_code(member_id=member_id, signing_key=signing_key, now=start + k * step),
        )
        for k in range(hours)
    ]


def looks_like_member_code(scanned: str) -> bool:
    text = scanned.strip()
    return len(text) == MEMBER_CODE_DIGITS and text.startswith("9") and bool(_DIGITS.match(text))


def _luhn_digit(digits: str) -> int:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return (10 - total % 10) % 10


def new_short_member_code() -> str:
    """A random member short code: 10 digits and their Luhn check digit (catches a mistyped digit
    and most swapped pairs before anything is asked of head office)."""
    body = f"{secrets.randbelow(10**10):010d}"
    return body + str(_luhn_digit(body))


def looks_like_short_member_code(typed: str) -> bool:
    """11 ASCII digits (spaces allowed, as printed in groups) whose check digit is right."""
    text = typed.strip().replace(" ", "")
    return (
        len(text) == SHORT_CODE_DIGITS
        and bool(_DIGITS.match(text))
        and _luhn_digit(text[:-1]) == int(text[-1])
    )


def read_member_code(text: str, *, public_key: Ed25519PublicKey) -> MemberCode:
    """A member code's contents once its signature checks, whatever the time: raises MalformedCode
    or ForgedCode. Head office uses it to check the code against the time of the sale."""
    candidate = text.strip()
    if not looks_like_member_code(candidate):
        raise MalformedCode(f"not a member code: expected {MEMBER_CODE_DIGITS} digits starting with 9")
    number = int(candidate[1:])
    if number >= 2 ** (8 * _MEMBER_RAW):
        raise MalformedCode("not a member code: number out of range")
    raw = number.to_bytes(_MEMBER_RAW, "big")
    head, sig = raw[: _MEMBER_HEAD.size], raw[_MEMBER_HEAD.size :]
    version, member_id, valid_from, valid_for, serial = _MEMBER_HEAD.unpack(head)
    if version != MEMBER_VERSION:
        raise MalformedCode(f"unknown member code version {version}")
    try:
        public_key.verify(sig, head)
    except InvalidSignature as exc:
        raise ForgedCode("this member code is not genuine") from exc
    return MemberCode(
        member_id=member_id,
        issued_at=datetime.fromtimestamp(valid_from, UTC),
        expires_at=datetime.fromtimestamp(valid_from + valid_for, UTC),
        serial=serial,
    )


def verify_member_code(text: str, *, public_key: Ed25519PublicKey, now: datetime) -> MemberCode:
    """Check a scanned member code offline: raises MalformedCode, ForgedCode or ExpiredCode."""
    code = read_member_code(text, public_key=public_key)
    stamp = int(now.timestamp())
    if stamp > int(code.expires_at.timestamp()) + MEMBER_LEEWAY_SECONDS:
        raise ExpiredCode("this member code has expired: ask the shopper to open their account page")
    if int(code.issued_at.timestamp()) > stamp + MEMBER_LEEWAY_SECONDS:
        raise ExpiredCode("this member code is not valid yet: check the till's clock")
    return code
