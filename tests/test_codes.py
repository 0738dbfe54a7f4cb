"""Claim codes and member codes (sync/codes.py): genuine codes verify, forged, altered and expired
ones are refused with the reason, and the receipt QR is small and reads back exactly."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
import qrcode
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from qrcode.util import MODE_ALPHA_NUM, QRData

from sync.codes import (
    CLAIM_CODE_LENGTH,
    CodeError,
    ExpiredCode,
    ForgedCode,
    MalformedCode,
    claim_code_from_scan,
    claim_url,
    load_public_key,
    looks_like_member_code,
    make_claim_code,
    make_member_code,
    new_claim_key,
    new_signing_key,
    parse_claim_code,
    public_key_bytes,
    verify_claim_code,
    verify_member_code,
)

BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
TODAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PUBLIC_URL = "https://shop.example-department-store.com"
KEY = new_claim_key()
SIGNING_KEY = new_signing_key()
PUBLIC_KEY = load_public_key(public_key_bytes(SIGNING_KEY))


def test_a_claim_code_verifies_with_its_key() -> None:
    code = make_claim_code(terminal_id=17, claim_key=KEY, today=TODAY)
    assert len(code.text) == CLAIM_CODE_LENGTH
    checked = verify_claim_code(code.text, claim_key=KEY, today=TODAY)
    assert (checked.terminal_id, checked.expires_on, checked.nonce) == (
        17,
        TODAY + timedelta(days=30),
        code.nonce,
    )
    # Any case is accepted (the server sees what a phone's browser sends).
    assert verify_claim_code(code.text.lower(), claim_key=KEY, today=TODAY) == checked


def test_claim_codes_are_unguessable() -> None:
    codes = {make_claim_code(terminal_id=1, claim_key=KEY, today=TODAY).text for _ in range(200)}
    assert len(codes) == 200
    assert len(make_claim_code(terminal_id=1, claim_key=KEY, today=TODAY).nonce) * 8 >= 96


def test_a_claim_code_with_another_key_is_forged() -> None:
    code = make_claim_code(terminal_id=17, claim_key=new_claim_key(), today=TODAY)
    with pytest.raises(ForgedCode, match="not issued by our store"):
        verify_claim_code(code.text, claim_key=KEY, today=TODAY)


def test_every_single_character_change_is_refused() -> None:
    text = make_claim_code(terminal_id=17, claim_key=KEY, today=TODAY).text
    for position in range(len(text)):
        for replacement in BASE32:
            if replacement == text[position]:
                continue
            altered = text[:position] + replacement + text[position + 1 :]
            with pytest.raises(CodeError) as info:
                verify_claim_code(altered, claim_key=KEY, today=TODAY)
            # The first byte is the version: a change there reads as another format, not a forgery.
            if position >= 2:
                assert isinstance(info.value, ForgedCode), (position, replacement)
            assert str(info.value)


def test_claim_code_expires_after_its_ttl() -> None:
    code = make_claim_code(terminal_id=17, claim_key=KEY, today=TODAY, ttl_days=30)
    verify_claim_code(code.text, claim_key=KEY, today=TODAY + timedelta(days=30))
    with pytest.raises(ExpiredCode, match="expired on 2026-12-25") as info:
        verify_claim_code(code.text, claim_key=KEY, today=TODAY + timedelta(days=31))
    assert info.value.reason == "expired"


@pytest.mark.parametrize("text", ["", "ABC", "1" * 48, "A" * 47, "A" * 49, "Ä" * 48])
def test_malformed_claim_codes(text: str) -> None:
    with pytest.raises(MalformedCode) as info:
        parse_claim_code(text)
    assert info.value.reason == "malformed"


@given(st.text(max_size=60))
def test_verify_claim_code_raises_only_code_errors(text: str) -> None:
    with pytest.raises(CodeError):
        verify_claim_code(text, claim_key=KEY, today=TODAY)


def test_claim_url_is_upper_case_and_scans_back() -> None:
    code = make_claim_code(terminal_id=17, claim_key=KEY, today=TODAY)
    url = claim_url(PUBLIC_URL + "/", code)
    assert url == url.upper()
    assert url == f"{PUBLIC_URL.upper()}/C/{code.text}"
    assert claim_code_from_scan(url) == code.text
    assert claim_code_from_scan(url.lower()) == code.text
    assert claim_code_from_scan("https://elsewhere.example/x") is None


def render_receipt_qr(url: str) -> tuple[int, bytes]:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=4, border=4)
    qr.add_data(url)
    qr.make(fit=True)
    assert [chunk.mode for chunk in qr.data_list] == [MODE_ALPHA_NUM]
    buffer = io.BytesIO()
    qr.make_image().save(buffer, format="PNG")
    return int(qr.version), buffer.getvalue()


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1), st.binary(min_size=12, max_size=12))
def test_receipt_qr_fits_version_5_and_decodes_to_the_url(terminal_id: int, nonce: bytes) -> None:
    code = make_claim_code(terminal_id=terminal_id, claim_key=KEY, today=TODAY, nonce=nonce)
    url = claim_url(PUBLIC_URL, code)
    assert QRData(url).mode == MODE_ALPHA_NUM
    version, png = render_receipt_qr(url)
    assert version <= 5
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert [r.text for r in results] == [url]
    assert results[0].format == zxingcpp.BarcodeFormat.QRCode


# --- member codes -----------------------------------------------------------------------------


def test_a_member_code_verifies_offline() -> None:
    code = make_member_code(member_id=4242, signing_key=SIGNING_KEY, now=NOW)
    assert looks_like_member_code(code)
    member = verify_member_code(code, public_key=PUBLIC_KEY, now=NOW + timedelta(seconds=30))
    assert member.member_id == 4242
    assert member.expires_at - member.issued_at == timedelta(seconds=120)


def test_a_member_code_signed_by_another_key_is_forged() -> None:
    code = make_member_code(member_id=4242, signing_key=new_signing_key(), now=NOW)
    with pytest.raises(ForgedCode, match="not genuine"):
        verify_member_code(code, public_key=PUBLIC_KEY, now=NOW)


def test_every_single_character_change_of_a_member_code_is_refused() -> None:
    # This found a real bug: the last base32 character has spare bits that b32decode ignored, so
    # some altered codes verified. sync/codes.py now accepts only the canonical encoding.
    code = make_member_code(member_id=4242, signing_key=SIGNING_KEY, now=NOW)
    for position in range(3, len(code)):
        for replacement in BASE32:
            if replacement == code[position]:
                continue
            altered = code[:position] + replacement + code[position + 1 :]
            with pytest.raises(CodeError) as info:
                verify_member_code(altered, public_key=PUBLIC_KEY, now=NOW)
            assert info.value.reason in {"forged", "malformed"}, (position, replacement)


def test_a_member_code_expires() -> None:
    code = make_member_code(member_id=4242, signing_key=SIGNING_KEY, now=NOW)
    verify_member_code(code, public_key=PUBLIC_KEY, now=NOW + timedelta(seconds=180))
    with pytest.raises(ExpiredCode, match="refresh") as info:
        verify_member_code(code, public_key=PUBLIC_KEY, now=NOW + timedelta(seconds=181))
    assert info.value.reason == "expired"
    with pytest.raises(ExpiredCode):
        verify_member_code(code, public_key=PUBLIC_KEY, now=NOW - timedelta(seconds=301))


@pytest.mark.parametrize("text", ["", "SLM", "SLMAAAA", "XYZ" + "A" * 130, "SLM" + "1" * 130])
def test_malformed_member_codes(text: str) -> None:
    with pytest.raises(MalformedCode):
        verify_member_code(text, public_key=PUBLIC_KEY, now=NOW)


@given(st.text(max_size=140))
def test_verify_member_code_raises_only_code_errors(text: str) -> None:
    with pytest.raises(CodeError):
        verify_member_code(text, public_key=PUBLIC_KEY, now=NOW)
