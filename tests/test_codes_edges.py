"""Argument checks and boundaries of the code formats (sync/codes.py) that mutation testing found
no test pinned down: what make_claim_code refuses, keys and URLs, and short member codes as typed."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, timedelta

import pytest

from sync.codes import (
    _MEMBER_RAW,
    CLAIM_CODE_LENGTH,
    MEMBER_CODE_DIGITS,
    MEMBER_LEEWAY_SECONDS,
    SHORT_CODE_DIGITS,
    ExpiredCode,
    ForgedCode,
    MalformedCode,
    claim_url,
    load_public_key,
    looks_like_short_member_code,
    make_claim_code,
    make_member_code,
    new_claim_key,
    new_signing_key,
    parse_claim_code,
    public_key_bytes,
    read_member_code,
    verify_claim_code,
    verify_member_code,
)

DAY = date(2026, 12, 2)
KEY = bytes(range(32))


@pytest.mark.parametrize("terminal_id", [0, 1, 2**32 - 1])
def test_claim_codes_take_every_terminal_id_that_fits(terminal_id: int) -> None:
    code = make_claim_code(terminal_id=terminal_id, claim_key=KEY, today=DAY, nonce=b"n" * 12)
    assert len(code.text) == CLAIM_CODE_LENGTH and not code.text.endswith("=")
    assert parse_claim_code(code.text).terminal_id == terminal_id


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"terminal_id": -1}, "^terminal id out of range$"),
        ({"terminal_id": 2**32}, "^terminal id out of range$"),
        ({"ttl_days": 0}, "^ttl_days must be at least 1$"),
        ({"nonce": b"n" * 11}, "^nonce must be 12 bytes$"),
        ({"nonce": b"n" * 13}, "^nonce must be 12 bytes$"),
        ({"today": date(2200, 1, 1)}, "^expiry date out of range$"),
        ({"today": date(2019, 12, 1)}, "^expiry date out of range$"),
    ],
)
def test_make_claim_code_refuses_what_does_not_fit(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"terminal_id": 1, "claim_key": KEY, "today": DAY, **kwargs}
    with pytest.raises(ValueError, match=message):
        make_claim_code(**args)  # type: ignore[arg-type]


def test_a_claim_code_lasts_exactly_its_ttl_and_the_expiry_edges_fit() -> None:
    code = make_claim_code(terminal_id=1, claim_key=KEY, today=DAY, ttl_days=1, nonce=b"n" * 12)
    assert (code.expires_on - DAY).days == 1
    first = make_claim_code(terminal_id=1, claim_key=KEY, today=date(2019, 12, 31), ttl_days=1)
    assert first.expires_on == date(2020, 1, 1)  # day 0 of the format


def test_fresh_keys_are_32_random_bytes_and_public_keys_round_trip() -> None:
    keys = {new_claim_key() for _ in range(4)}
    assert len(keys) == 4 and all(len(k) == 32 for k in keys)
    signing = new_signing_key()
    raw = public_key_bytes(signing)
    assert len(raw) == 32
    assert public_key_bytes(signing) == raw
    assert load_public_key(raw).public_bytes_raw() == raw


def test_claim_url_has_no_double_slash_and_takes_a_code_or_its_text() -> None:
    code = make_claim_code(terminal_id=1, claim_key=KEY, today=DAY, nonce=b"n" * 12)
    assert claim_url("https://shop.example/", code) == f"HTTPS://SHOP.EXAMPLE/C/{code.text}"
    assert claim_url("https://shop.example", code.text) == f"HTTPS://SHOP.EXAMPLE/C/{code.text}"


def test_a_short_member_code_is_eleven_digits_with_a_luhn_check_digit() -> None:
    from sync.codes import _luhn_digit

    body = "1234567890"
    good = body + str(_luhn_digit(body))
    assert len(good) == SHORT_CODE_DIGITS
    assert looks_like_short_member_code(good)
    assert looks_like_short_member_code(f" {good[:4]} {good[4:8]} {good[8:]} ")  # as printed, in groups
    wrong = body + str((_luhn_digit(body) + 1) % 10)
    for typed in (wrong, good[:-1], good + "0", good[:-1] + "x", ""):
        assert not looks_like_short_member_code(typed), typed


def _member(member_id: int = 7, **kwargs: object) -> str:
    return make_member_code(member_id=member_id, signing_key=SIGNING, now=NOW, **kwargs)  # type: ignore[arg-type]


SIGNING = new_signing_key()
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"member_id": 0}, "^member id out of range$"),
        ({"member_id": 2**32}, "^member id out of range$"),
        ({"ttl_seconds": 0}, "^ttl_seconds out of range$"),
        ({"ttl_seconds": 2**16}, "^ttl_seconds out of range$"),
        ({"serial": -1}, "^serial out of range$"),
        ({"serial": 256}, "^serial out of range$"),
    ],
)
def test_make_member_code_refuses_what_does_not_fit(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _member(**kwargs)  # type: ignore[arg-type]


def test_member_codes_at_the_edges_of_their_fields_read_back_exactly() -> None:
    public = SIGNING.public_key()
    for member_id, ttl, serial in ((1, 1, 0), (2**32 - 1, 2**16 - 1, 255), (7, 3600, 3)):
        code = read_member_code(_member(member_id, ttl_seconds=ttl, serial=serial), public_key=public)
        assert (code.member_id, code.serial) == (member_id, serial)
        assert (code.expires_at - code.issued_at).total_seconds() == ttl
        assert code.code_id == f"{member_id}:{int(NOW.timestamp())}:{serial}"
    assert _member(serial=0) == _member()  # serial 0 is the default


def test_member_codes_are_valid_up_to_the_leeway_and_say_why_not() -> None:
    public = SIGNING.public_key()
    code = _member(ttl_seconds=3600)
    early = NOW - timedelta(seconds=MEMBER_LEEWAY_SECONDS)
    assert verify_member_code(code, public_key=public, now=early).member_id == 7  # exactly the leeway
    with pytest.raises(ExpiredCode, match=r"^this member code is not valid yet: check the till's clock$"):
        verify_member_code(code, public_key=public, now=early - timedelta(seconds=1))
    late = NOW + timedelta(seconds=3600 + MEMBER_LEEWAY_SECONDS)
    assert verify_member_code(code, public_key=public, now=late).member_id == 7
    with pytest.raises(
        ExpiredCode, match=r"^this member code has expired: ask the shopper to open their account page$"
    ):
        verify_member_code(code, public_key=public, now=late + timedelta(seconds=1))


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        (
            "9" + "1" * 10,
            MalformedCode,
            rf"^not a member code: expected {MEMBER_CODE_DIGITS} digits starting with 9$",
        ),
        ("9" + "9" * (MEMBER_CODE_DIGITS - 1), MalformedCode, r"^not a member code: number out of range$"),
    ],
)
def test_unreadable_member_codes_say_why(text: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        read_member_code(text, public_key=SIGNING.public_key())


def test_a_member_code_from_another_key_or_version_says_so() -> None:
    with pytest.raises(ForgedCode, match=r"^this member code is not genuine$"):
        read_member_code(_member(), public_key=new_signing_key().public_key())
    digits = _member()
    number = int(digits[1:])
    raw = bytearray(number.to_bytes(_MEMBER_RAW, "big"))
    raw[0] = 9  # version 9
    other = "9" + str(int.from_bytes(raw, "big")).zfill(MEMBER_CODE_DIGITS - 1)
    with pytest.raises(MalformedCode, match=r"^unknown member code version 9$"):
        read_member_code(other, public_key=SIGNING.public_key())


def test_claim_codes_say_exactly_why_they_are_refused() -> None:
    code = make_claim_code(terminal_id=5, claim_key=KEY, today=DAY, nonce=b"n" * 12)
    assert code.terminal_id == 5 and parse_claim_code(code.text.lower()).text == code.text
    with pytest.raises(
        MalformedCode, match=rf"^not a claim code: expected {CLAIM_CODE_LENGTH} letters and digits$"
    ):
        parse_claim_code("ABC")
    with pytest.raises(ForgedCode, match=r"^this code was not issued by our store$"):
        verify_claim_code(code.text, claim_key=new_claim_key(), today=DAY)
    last = code.text[-1]
    changed = code.text[:-1] + ("A" if last != "A" else "B")
    with pytest.raises(
        (MalformedCode, ForgedCode),
        match=r"^(not a valid code: bad characters|this code was not issued by our store)$",
    ):
        verify_claim_code(changed, claim_key=KEY, today=DAY)
    raw = bytearray(base64.b32decode(code.text + "=" * (-len(code.text) % 8)))
    raw[0] = 7
    other = base64.b32encode(bytes(raw)).decode().rstrip("=")
    with pytest.raises(MalformedCode, match=r"^unknown claim code version 7$"):
        parse_claim_code(other)


def test_claim_url_keeps_a_host_ending_in_x() -> None:
    code = make_claim_code(terminal_id=1, claim_key=KEY, today=DAY, nonce=b"n" * 12)
    assert claim_url("https://shop.example/MAX", code) == f"HTTPS://SHOP.EXAMPLE/MAX/C/{code.text}"
    assert claim_url("https://x.example/", code) == f"HTTPS://X.EXAMPLE/C/{code.text}"


def test_the_expiry_day_fits_sixteen_bits_exactly() -> None:
    from sync.codes import _EPOCH_DAY

    last_ok = _EPOCH_DAY + timedelta(days=2**16 - 1 - 30)
    assert make_claim_code(terminal_id=1, claim_key=KEY, today=last_ok).expires_on == _EPOCH_DAY + timedelta(
        days=2**16 - 1
    )
    with pytest.raises(ValueError, match=r"^expiry date out of range$"):
        make_claim_code(terminal_id=1, claim_key=KEY, today=last_ok + timedelta(days=1))


@pytest.mark.parametrize(
    ("body", "digit"),
    [
        ("7992739871", 3),  # the textbook Luhn example
        ("0000000000", 0),
        ("1234567890", 3),
        ("9999999999", 0),
        ("5555555555", 0),
        ("0000000001", 8),
        ("0000000005", 9),
        ("0000000010", 9),
        ("0000000090", 1),
    ],
)
def test_the_short_code_check_digit_is_luhn(body: str, digit: int) -> None:
    from sync.codes import _luhn_digit

    assert _luhn_digit(body) == digit
    assert looks_like_short_member_code(body + str(digit))
