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
from qrcode.constants import ERROR_CORRECT_M
from qrcode.util import MODE_ALPHA_NUM, MODE_NUMBER, QRData

from sync.codes import (
    CLAIM_CODE_LENGTH,
    MEMBER_CODE_DIGITS,
    MEMBER_LEEWAY_SECONDS,
    MEMBER_OFFLINE_HOURS,
    MEMBER_WINDOW_SECONDS,
    CodeError,
    ExpiredCode,
    ForgedCode,
    MalformedCode,
    claim_code_from_scan,
    claim_url,
    load_public_key,
    looks_like_member_code,
    looks_like_short_member_code,
    make_claim_code,
    make_member_code,
    member_codes_ahead,
    new_claim_key,
    new_short_member_code,
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


def render_member_qr(text: str) -> tuple[int, bytes]:
    """The member code as the account page draws it (the server's QR modules, level M)."""
    from sync.server.web.qr import qr_matrix

    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4)
    qr.add_data(text)
    qr.make(fit=True)
    assert [chunk.mode for chunk in qr.data_list] == [MODE_NUMBER]
    matrix = qr_matrix(text)
    scale = 6
    image = Image.new("L", (len(matrix) * scale, len(matrix) * scale), 255)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                image.paste(0, (x * scale, y * scale, (x + 1) * scale, (y + 1) * scale))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return int(qr.version), buffer.getvalue()


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 2**32 - 1), st.integers(0, 2**31))
def test_member_qr_fits_version_5_at_level_m_and_decodes_to_the_code(member_id: int, stamp: int) -> None:
    code = make_member_code(
        member_id=member_id, signing_key=SIGNING_KEY, now=datetime.fromtimestamp(stamp, UTC)
    )
    assert len(code) == MEMBER_CODE_DIGITS and code.isdigit()
    version, png = render_member_qr(code)
    assert version <= 5
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert [r.text for r in results] == [code]
    assert results[0].format == zxingcpp.BarcodeFormat.QRCode
    assert int(results[0].extra["Version"]) <= 5 and results[0].ec_level == "M"  # read off the picture


def test_a_member_code_verifies_offline_for_its_hour() -> None:
    code = make_member_code(member_id=4242, signing_key=SIGNING_KEY, now=NOW)
    assert looks_like_member_code(code)
    member = verify_member_code(code, public_key=PUBLIC_KEY, now=NOW + timedelta(seconds=30))
    assert member.member_id == 4242
    assert member.expires_at - member.issued_at == timedelta(seconds=MEMBER_WINDOW_SECONDS)
    assert member.code_id == verify_member_code(code, public_key=PUBLIC_KEY, now=NOW).code_id


def test_a_day_of_codes_covers_every_moment_of_the_next_day() -> None:
    batch = member_codes_ahead(member_id=7, signing_key=SIGNING_KEY, now=NOW + timedelta(minutes=17))
    assert len(batch) == MEMBER_OFFLINE_HOURS >= 25
    assert batch[0][0] == NOW  # windows start on the hour
    assert all(batch[k][1] == batch[k + 1][0] for k in range(len(batch) - 1))
    assert len({code for _start, _end, code in batch}) == len(batch)
    # A phone that fetched them now and went offline shows a valid code a day later.
    later = NOW + timedelta(hours=24, minutes=40)
    current = [code for start, end, code in batch if start <= later < end]
    assert verify_member_code(current[0], public_key=PUBLIC_KEY, now=later).member_id == 7


def test_a_member_code_signed_by_another_key_is_forged() -> None:
    code = make_member_code(member_id=4242, signing_key=new_signing_key(), now=NOW)
    with pytest.raises(ForgedCode, match="not genuine"):
        verify_member_code(code, public_key=PUBLIC_KEY, now=NOW)


def test_a_member_code_for_another_member_or_window_is_forged() -> None:
    """Changing the member id or the window in a genuine code (re-encoded) breaks the signature."""
    code = make_member_code(member_id=4242, signing_key=SIGNING_KEY, now=NOW)
    raw = bytearray(int(code[1:]).to_bytes(76, "big"))
    for position in range(12):  # every byte of what is signed
        altered = bytearray(raw)
        altered[position] ^= 0x01
        text = "9" + str(int.from_bytes(altered, "big")).zfill(MEMBER_CODE_DIGITS - 1)
        with pytest.raises(CodeError) as info:
            verify_member_code(text, public_key=PUBLIC_KEY, now=NOW)
        assert info.value.reason in {"forged", "malformed"}, position


def test_every_single_digit_change_of_a_member_code_is_refused() -> None:
    code = make_member_code(member_id=4242, signing_key=SIGNING_KEY, now=NOW)
    for position in range(len(code)):
        for replacement in "0123456789":
            if replacement == code[position]:
                continue
            altered = code[:position] + replacement + code[position + 1 :]
            with pytest.raises(CodeError) as info:
                verify_member_code(altered, public_key=PUBLIC_KEY, now=NOW)
            assert info.value.reason in {"forged", "malformed"}, (position, replacement)


def test_a_member_code_expires_after_its_hour_and_the_leeway() -> None:
    code = make_member_code(member_id=4242, signing_key=SIGNING_KEY, now=NOW)
    last_moment = NOW + timedelta(seconds=MEMBER_WINDOW_SECONDS + MEMBER_LEEWAY_SECONDS)
    verify_member_code(code, public_key=PUBLIC_KEY, now=last_moment)
    with pytest.raises(ExpiredCode, match="expired") as info:
        verify_member_code(code, public_key=PUBLIC_KEY, now=last_moment + timedelta(seconds=1))
    assert info.value.reason == "expired"
    # A screenshot kept for later is refused the same way, however the till's clock is set back.
    with pytest.raises(ExpiredCode):
        verify_member_code(code, public_key=PUBLIC_KEY, now=NOW + timedelta(days=3))
    with pytest.raises(ExpiredCode, match="not valid yet"):
        verify_member_code(
            code, public_key=PUBLIC_KEY, now=NOW - timedelta(seconds=MEMBER_LEEWAY_SECONDS + 1)
        )


@pytest.mark.parametrize(
    "text",
    ["", "9", "9" * 184, "9" * 186, "8" + "1" * 184, "9" + "9" * 184, "SLM" + "A" * 130, "9" + "１" * 184],
)
def test_malformed_member_codes(text: str) -> None:
    with pytest.raises(MalformedCode):
        verify_member_code(text, public_key=PUBLIC_KEY, now=NOW)


@given(st.text(max_size=200) | st.text(alphabet="0123456789", min_size=185, max_size=185))
def test_verify_member_code_raises_only_code_errors(text: str) -> None:
    with pytest.raises(CodeError):
        verify_member_code(text, public_key=PUBLIC_KEY, now=NOW)


def test_member_short_codes_are_11_digits_whose_check_digit_catches_a_typo() -> None:
    codes = {new_short_member_code() for _ in range(200)}
    assert len(codes) == 200
    for code in list(codes)[:20]:
        assert len(code) == 11 and code.isdigit() and looks_like_short_member_code(code)
        assert looks_like_short_member_code(f"{code[:4]} {code[4:8]} {code[8:]}")  # as printed
        for position in range(11):
            typo = code[:position] + str((int(code[position]) + 1) % 10) + code[position + 1 :]
            assert not looks_like_short_member_code(typo), (code, position)
    assert not looks_like_short_member_code("1" * 12) and not looks_like_short_member_code("１" * 11)
