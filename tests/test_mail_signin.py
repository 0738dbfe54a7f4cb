"""Signing in by mail (sync/server/web/mail_signin.py) against a real SMTP server (aiosmtpd).

The mail is read from the local SMTP server: its link and its 6-digit code each sign in once, for
15 minutes, creating the account on first use and adding the receipt the form carried. Wrong,
used, expired and malformed codes and links are refused with a clear message and change nothing;
100 quick wrong codes for one address are rate-limited; passwords stay possible and are reset by
signing in by mail. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from test_web_support import (
    DATABASES,
    PUBLIC_URL,
    Mailbox,
    TestClient,
    Till,
    add_store,
    csrf_from,
    database_url,
    db_of,
    free_port,
    mail_code_and_link,
    new_app,
)

from sync.server import schema

TEA = [("4006381333931", "Green tea 100 g", 2, 450), ("4006381333948", "Tea mug", 1, 1299)]
MIA = "mia@example.org"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox().start()
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture(params=DATABASES)
def app(request: pytest.FixtureRequest, tmp_path: Path, mailbox: Mailbox) -> Iterator[FastAPI]:
    with database_url(request.param, tmp_path) as url:
        app = new_app(tmp_path, database_url=url, login_window_seconds=600, **mailbox.settings())
        app.state.clock = Clock()
        add_store(app)
        yield app
        db_of(app).dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def count(app: FastAPI, table: str) -> int:
    with db_of(app).engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(schema.metadata.tables[table])).scalar_one())


def ask_for_mail(client: TestClient, email: str = MIA, claim: str = "", **headers: str) -> str:
    """Send the mail form from the sign-in (or claim) page; returns the 'check your mail' page."""
    page = client.get(f"/c/{claim}" if claim else "/account/signin", headers=headers)
    answer = client.post(
        "/account/email",
        data={"email": email, "claim": claim, "csrf_token": csrf_from(page.text)},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    assert "Check your mail" in answer.text or headers
    return answer.text


def send_code(client: TestClient, page: str, code: str, email: str = MIA) -> object:
    return client.post(
        "/account/code",
        data={"email": email, "code": code, "csrf_token": csrf_from(page)},
        follow_redirects=False,
    )


def test_the_code_from_the_mail_creates_the_account_and_signs_in_once(
    client: TestClient, app: FastAPI, mailbox: Mailbox
) -> None:
    page = ask_for_mail(client)
    mail = mailbox.wait_for(MIA)
    code, link = mail_code_and_link(mail)
    assert code in mail["Subject"] and link.startswith(PUBLIC_URL + "/account/link/")
    assert "15 minutes" in mail.get_content()
    assert count(app, "shoppers") == 0  # nothing exists until the code is used
    answer = send_code(client, page, code)
    assert answer.status_code == 303 and answer.headers["location"] == "/account"  # type: ignore[attr-defined]
    with db_of(app).engine.connect() as conn:
        shopper = conn.execute(select(schema.shoppers)).one()
    assert shopper.email == MIA and shopper.password_hash == "" and shopper.consent_at is not None
    assert MIA in client.get("/account").text
    # The same code again (signed out) is refused and signs nobody in.
    client.cookies.clear()
    page = client.get("/account/signin").text
    again = client.post(
        "/account/code",
        data={"email": MIA, "code": code, "csrf_token": csrf_from(page)},
        follow_redirects=False,
    )
    assert again.status_code == 401 and "wrong, used or expired" in again.text
    assert "sl_shopper" not in again.cookies


def test_the_link_signs_in_once_after_one_tap_and_a_used_one_explains(
    client: TestClient, app: FastAPI, mailbox: Mailbox
) -> None:
    ask_for_mail(client)
    _code, link = mail_code_and_link(mailbox.wait_for(MIA))
    path = link.removeprefix(PUBLIC_URL)
    # Opening it (as a mail scanner would) uses nothing up.
    for _ in range(2):
        opened = client.get(path)
        assert opened.status_code == 200 and f"Sign in as {MIA}" in opened.text
    used = client.post(path, data={"csrf_token": csrf_from(opened.text)}, follow_redirects=False)
    assert used.status_code == 303 and used.headers["location"] == "/account"
    client.cookies.clear()
    again = client.get(path)
    assert again.status_code == 410 and "already been used" in again.text
    assert 'action="/account/email"' in again.text and MIA in again.text  # a way on: a new mail
    replay = client.post(path, data={"csrf_token": csrf_from(again.text)}, follow_redirects=False)
    assert replay.status_code == 410 and "sl_shopper" not in replay.cookies
    unknown = client.get("/account/link/" + "A" * 43)
    assert unknown.status_code == 404 and "not valid" in unknown.text


def test_code_and_link_expire_after_15_minutes(client: TestClient, app: FastAPI, mailbox: Mailbox) -> None:
    page = ask_for_mail(client)
    code, link = mail_code_and_link(mailbox.wait_for(MIA))
    app.state.clock.now += timedelta(minutes=15, seconds=1)
    assert send_code(client, page, code).status_code == 401  # type: ignore[attr-defined]
    expired = client.get(link.removeprefix(PUBLIC_URL))
    assert expired.status_code == 410 and "expired" in expired.text
    assert count(app, "shoppers") == 0


def test_a_receipt_carried_by_the_mail_form_is_added_on_sign_in(
    client: TestClient, app: FastAPI, mailbox: Mailbox
) -> None:
    till = Till.enroll(client, app)
    receipt, _ = till.sell(TEA)
    page = ask_for_mail(client, claim=receipt.text)
    _code, link = mail_code_and_link(mailbox.wait_for(MIA))
    # The link opened in another tab (or browser) still adds the purchase.
    other = TestClient(app)
    opened = other.get(link.removeprefix(PUBLIC_URL))
    assert "Sign in and add purchase" in opened.text
    answer = other.post(
        link.removeprefix(PUBLIC_URL),
        data={"csrf_token": csrf_from(opened.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/account?added=ready"
    assert count(app, "claims") == 1 and "Green tea" in other.get("/account").text
    assert page


def test_bad_input_is_refused_clearly_and_changes_nothing(
    client: TestClient, app: FastAPI, mailbox: Mailbox
) -> None:
    token = csrf_from(client.get("/account/signin").text)
    for email, message in [
        ("", "valid email address"),
        ("x" * 250 + "@a.de", "valid email address"),
        ("no-at", "valid email address"),
    ]:
        answer = client.post("/account/email", data={"email": email, "csrf_token": token})
        assert answer.status_code == 400 and message in answer.text
        assert 'aria-invalid="true"' in answer.text and 'aria-describedby="mail-error' in answer.text
    page = ask_for_mail(client)
    mailbox.wait_for(MIA)
    for code, status, message in [
        ("", 400, "6 digits"),
        ("12345", 400, "6 digits"),
        ("1234567", 400, "6 digits"),
        ("abcdef", 400, "6 digits"),
        ("１２３４５６", 400, "6 digits"),
        ("9" * 5000, 400, "6 digits"),
    ]:
        answer = send_code(client, page, code)
        assert answer.status_code == status and message in answer.text, code  # type: ignore[attr-defined]
        assert 'aria-invalid="true"' in answer.text  # type: ignore[attr-defined]
    assert count(app, "shoppers") == 0 and count(app, "web_sessions") == 0
    with db_of(app).engine.connect() as conn:
        assert conn.execute(select(schema.mail_codes.c.failures)).scalar_one() == 0  # malformed != a guess
    forged = client.post("/account/email", data={"email": MIA, "csrf_token": "nope"})
    assert forged.status_code == 403 and len(mailbox.to(MIA)) == 1


def test_a_hundred_quick_wrong_codes_are_rate_limited(
    client: TestClient, app: FastAPI, mailbox: Mailbox
) -> None:
    page = ask_for_mail(client)
    code, _link = mail_code_and_link(mailbox.wait_for(MIA))
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    statuses = [send_code(client, page, wrong).status_code for _ in range(100)]  # type: ignore[attr-defined]
    assert statuses[:10] == [401] * 10
    assert set(statuses[10:]) == {429}
    limited = send_code(client, page, code)
    assert limited.status_code == 429 and "Too many attempts" in limited.text  # type: ignore[attr-defined]
    assert int(limited.headers["retry-after"]) > 0  # type: ignore[attr-defined]
    assert count(app, "shoppers") == 0
    # After the window a fresh mail works; the guessed-at one died after five wrong tries.
    app.state.clock.now += timedelta(minutes=11)
    page = ask_for_mail(client)
    fresh, _ = mail_code_and_link(mailbox.wait_for(MIA, count=2))
    assert send_code(client, page, code).status_code == 401  # type: ignore[attr-defined]
    assert send_code(client, page, fresh).status_code == 303  # type: ignore[attr-defined]


def test_mails_per_address_are_limited(client: TestClient, app: FastAPI, mailbox: Mailbox) -> None:
    for _ in range(5):
        ask_for_mail(client)
    token = csrf_from(client.get("/account/signin").text)
    answer = client.post("/account/email", data={"email": MIA, "csrf_token": token})
    assert answer.status_code == 429 and "Too many attempts" in answer.text
    mailbox.wait_for(MIA, count=5)
    assert len(mailbox.to(MIA)) == 5


def test_an_unreachable_mail_server_is_said_plainly(tmp_path: Path) -> None:
    app = new_app(tmp_path, smtp_host="127.0.0.1", smtp_port=free_port())
    with TestClient(app) as client:
        token = csrf_from(client.get("/account/signin").text)
        answer = client.post("/account/email", data={"email": MIA, "csrf_token": token})
        assert answer.status_code == 503 and "could not send the mail" in answer.text
        with db_of(app).engine.connect() as conn:
            assert conn.execute(select(schema.mail_codes.c.used_at)).scalar_one() is not None
    db_of(app).dispose()


def test_passwords_stay_possible_and_are_reset_by_mail(
    client: TestClient, app: FastAPI, mailbox: Mailbox
) -> None:
    page = ask_for_mail(client)
    code, _ = mail_code_and_link(mailbox.wait_for(MIA))
    send_code(client, page, code)
    # No password yet: not even the server's internal dummy one signs in.
    account = client.get("/account").text
    assert "Set a password" in account
    short = client.post("/account/password", data={"password": "short", "csrf_token": csrf_from(account)})
    assert (
        short.status_code == 400
        and "at least 8 characters" in short.text
        and 'aria-invalid="true"' in short.text
    )
    saved = client.post(
        "/account/password",
        data={"password": "a new long password", "csrf_token": csrf_from(account)},
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/account?added=password"
    client.cookies.clear()
    signin = client.get("/account/signin").text
    answer = client.post(
        "/account/signin",
        data={"email": MIA, "password": "a new long password", "csrf_token": csrf_from(signin)},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/account"


def test_a_passwordless_account_cannot_be_entered_with_any_password(
    client: TestClient, app: FastAPI, mailbox: Mailbox
) -> None:
    from sync.server.web import accounts

    assert not accounts.password_matches("", "not a real password; equalises timing for unknown emails")
    assert not accounts.password_matches(None, "not a real password; equalises timing for unknown emails")


@pytest.mark.parametrize(("language", "subject"), [("de", "Ihr Anmeldecode"), ("zh-CN", "您的登录验证码")])
def test_the_mail_is_in_the_shoppers_language(
    client: TestClient, mailbox: Mailbox, language: str, subject: str
) -> None:
    ask_for_mail(client, **{"accept-language": language})
    mail = mailbox.wait_for(MIA)
    assert subject in mail["Subject"]
    assert re.search(r"\b[0-9]{6}\b", mail.get_content())
