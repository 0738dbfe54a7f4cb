"""Argument checks and boundaries of the code formats (sync/codes.py) that mutation testing found
no test pinned down: what make_claim_code refuses, keys and URLs, and short member codes as typed."""

from __future__ import annotations

from datetime import date

import pytest

from sync.codes import (
    CLAIM_CODE_LENGTH,
    SHORT_CODE_DIGITS,
    claim_url,
    load_public_key,
    looks_like_short_member_code,
    make_claim_code,
    new_claim_key,
    new_signing_key,
    parse_claim_code,
    public_key_bytes,
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


@pytest.mark.parametrize(
    ("typed", "looks"),
    [
        ("1" * SHORT_CODE_DIGITS, True),
        (" 1234-5678 9012 ", True),
        ("1234 5678 901", False),
        ("1" * (SHORT_CODE_DIGITS + 1), False),
        ("1234 5678 901x", False),
        ("", False),
    ],
)
def test_a_short_member_code_is_twelve_digits_with_spaces_or_dashes(typed: str, looks: bool) -> None:
    assert looks_like_short_member_code(typed) is looks
