"""The claim page, shopper accounts and the member code, through HTTP (TestClient) on a real SQLite file."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from central_fixtures import member_code_for
from fastapi import FastAPI
from sqlalchemy import func, select
from test_web_support import (
    DATABASES,
    TestClient,
    Till,
    add_shopper,
    add_store,
    csrf_from,
    database_url,
    db_of,
    new_app,
    url_path_of_claim,
)

from sync.codes import MEMBER_OFFLINE_HOURS, make_claim_code, new_short_member_code, verify_member_code
from sync.server import schema
from sync.server.push import points_for
from sync.server.web.accounts import FREE_ACCOUNT_FAILURES, MAX_ACCOUNT_DELAY

TEA = [("4006381333931", "Green tea 100 g", 2, 450), ("4006381333948", "Tea mug", 1, 1299)]
PASSWORD = "correct horse battery"


class Clock:
    """The server's clock in these tests (``app.state.clock``), moved by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=DATABASES)
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FastAPI]:
    with database_url(request.param, tmp_path) as url:
        app = new_app(tmp_path, database_url=url, login_attempts_allowed=3, login_window_seconds=600)
        add_store(app)
        yield app
        db_of(app).dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def till(client: TestClient, app: FastAPI) -> Till:
    return Till.enroll(client, app)


def count(app: FastAPI, table: str) -> int:
    with db_of(app).engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(schema.metadata.tables[table])).scalar_one())


def sign_up(
    client: TestClient, email: str = "mia@example.org", claim: str = "", password: str = PASSWORD
) -> str:
    """Create an account through the sign-in page's form; returns where the server sent us."""
    page = client.get(f"/C/{claim}" if claim else "/account/signin")
    answer = client.post(
        "/account/signup",
        data={"email": email, "password": password, "claim": claim, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def test_claim_url_is_accepted_in_upper_and_lower_case(client: TestClient, till: Till) -> None:
    code, _ = till.sell(TEA)
    upper = url_path_of_claim(code)
    assert upper == f"/C/{code.text}"
    for path in (upper, upper.lower(), f"/c/{code.text}"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert "Berlin Mitte" in page.text and "Green tea 100 g" in page.text
        assert "€21.99" in page.text
        assert f"{points_for(2199, 'EUR')} points" in page.text


def test_claim_page_speaks_german_and_chinese(client: TestClient, till: Till) -> None:
    code, _ = till.sell(TEA)
    german = client.get(f"/C/{code.text}", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert 'lang="de"' in german.text
    assert "Diesen Einkauf Ihrem Konto hinzufügen" in german.text
    assert "21,99" in german.text  # German money format
    chinese = client.get(f"/C/{code.text}", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert 'lang="zh-Hans"' in chinese.text
    assert "将此购物添加到您的账户" in chinese.text
    fallback = client.get(f"/C/{code.text}", headers={"Accept-Language": "fr-FR, *;q=0.1"})
    assert "Add this purchase to your account" in fallback.text


def test_forged_code_is_refused_at_once_and_changes_nothing(client: TestClient, till: Till) -> None:
    forged = make_claim_code(
        terminal_id=till.terminal_id, claim_key=b"k" * 32, today=datetime.now(UTC).date()
    )
    page = client.get(f"/C/{forged.text}")
    assert page.status_code == 403
    assert "not issued by our stores" in page.text
    assert 'id="signup"' not in page.text  # no form to claim it with
    unknown_terminal = make_claim_code(
        terminal_id=999, claim_key=till.claim_key, today=datetime.now(UTC).date()
    )
    assert client.get(f"/C/{unknown_terminal.text}").status_code == 403
    # Signing up "through" a forged code creates the account but never a claim.
    sign_up(client, claim=till.claim_code().text)  # a real one, to get a CSRF token
    before = count(client.app, "claims")  # type: ignore[arg-type]
    page = client.get("/account")
    answer = client.post(f"/c/{forged.text}/claim", data={"csrf_token": csrf_from(page.text)})
    assert answer.status_code == 403
    assert count(client.app, "claims") == before  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["NOT-A-CODE", "A" * 47, "1" * 48, "A" * 200])
def test_malformed_code_gets_a_clear_400_page(client: TestClient, text: str) -> None:
    page = client.get(f"/c/{text}")
    assert page.status_code == 400
    assert "not a receipt code" in page.text
    assert page.headers["content-type"].startswith("text/html")


def test_expired_code_says_so(client: TestClient, till: Till) -> None:
    old = till.claim_code(today=datetime.now(UTC).date() - timedelta(days=40))
    page = client.get(f"/C/{old.text}")
    assert page.status_code == 410
    assert "This code has expired" in page.text


def test_sign_up_on_the_claim_page_adds_the_purchase_and_its_points(
    client: TestClient, till: Till, app: FastAPI
) -> None:
    code, _ = till.sell(TEA)
    assert sign_up(client, claim=code.text) == "/account?added=ready"
    account = client.get("/account?added=ready")
    assert "Added to your account" in account.text
    assert re.search(r'id="points-balance">21<', account.text)
    with db_of(app).engine.connect() as conn:
        shopper = conn.execute(select(schema.shoppers)).one()
        assert shopper.password_hash.startswith("$argon2id$")
        assert PASSWORD not in shopper.password_hash
        claim = conn.execute(select(schema.claims)).one()
        assert claim.shopper_id == shopper.id and claim.sale_id is not None


def test_session_cookie_is_httponly_and_lax_and_secure_behind_https(tmp_path: Path) -> None:
    app = new_app(tmp_path, public_url="https://shop.storelink.example")
    with TestClient(app, base_url="https://testserver") as client:
        page = client.get("/account/signin")
        assert "secure" in page.headers["set-cookie"].lower()  # the anonymous CSRF cookie too
        answer = client.post(
            "/account/signup",
            data={"email": "a@example.org", "password": PASSWORD, "csrf_token": csrf_from(page.text)},
            follow_redirects=False,
        )
        cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("sl_shopper="))
        flags = {part.strip().lower() for part in cookie.split(";")}
        assert {"httponly", "secure", "samesite=lax", "path=/"} <= flags
        assert client.get("/account").status_code == 200


def test_session_cookie_is_not_secure_on_plain_http(client: TestClient) -> None:
    sign_up(client)
    # The client keeps and sends the cookie over http only because Secure is not set.
    assert client.get("/account", follow_redirects=False).status_code == 200


def test_form_without_or_with_wrong_csrf_token_is_refused_and_changes_nothing(
    client: TestClient, till: Till, app: FastAPI
) -> None:
    code, _ = till.sell(TEA)
    client.get(f"/C/{code.text}")  # sets the anonymous CSRF cookie
    for token in (None, "", "forged-token-forged-token-forged"):
        data = {"email": "eve@example.org", "password": PASSWORD, "claim": code.text}
        if token is not None:
            data["csrf_token"] = token
        answer = client.post("/account/signup", data=data, follow_redirects=False)
        assert answer.status_code == 403
        assert "This form has expired" in answer.text
    assert count(app, "shoppers") == 0 and count(app, "claims") == 0

    sign_up(client)
    for token in (None, "not-the-session-token"):
        answer = client.post(f"/c/{code.text}/claim", data={} if token is None else {"csrf_token": token})
        assert answer.status_code == 403
    assert count(app, "claims") == 0
    # Signing out needs the token too: without it the session lives on.
    assert client.post("/account/signout", data={}).status_code == 403
    assert client.get("/account", follow_redirects=False).status_code == 200


def test_anonymous_token_from_another_browser_does_not_pass(app: FastAPI) -> None:
    with TestClient(app) as mallory, TestClient(app) as victim:
        token = csrf_from(mallory.get("/account/signin").text)
        victim.get("/account/signin")  # the victim has their own cookie
        answer = victim.post(
            "/account/signup", data={"email": "v@example.org", "password": PASSWORD, "csrf_token": token}
        )
        assert answer.status_code == 403
    assert count(app, "shoppers") == 0


def test_wrong_password_is_refused_without_a_session(client: TestClient) -> None:
    sign_up(client)
    token = csrf_from(client.get("/account").text)
    client.post("/account/signout", data={"csrf_token": token})
    page = client.get("/account/signin")
    answer = client.post(
        "/account/signin",
        data={"email": "mia@example.org", "password": "wrong password", "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 401
    assert "Email or password is wrong." in answer.text
    assert "sl_shopper" not in answer.headers.get("set-cookie", "")
    assert client.get("/account", follow_redirects=False).status_code == 303
    # An unknown email gets exactly the same answer: nothing tells which emails have accounts.
    unknown = client.post(
        "/account/signin",
        data={
            "email": "nobody@example.org",
            "password": "wrong password",
            "csrf_token": csrf_from(page.text),
        },
    )
    assert unknown.status_code == 401 and "Email or password is wrong." in unknown.text


def test_sign_in_is_rate_limited_after_too_many_failures(client: TestClient, app: FastAPI) -> None:
    clock = Clock()
    app.state.clock = clock
    sign_up(client)
    client.post("/account/signout", data={"csrf_token": csrf_from(client.get("/account").text)})
    token = csrf_from(client.get("/account/signin").text)

    def attempt(password: str) -> int:
        data = {"email": "MIA@example.org", "password": password, "csrf_token": token}
        return client.post("/account/signin", data=data, follow_redirects=False).status_code

    assert [attempt("wrong") for _ in range(FREE_ACCOUNT_FAILURES)] == [401] * FREE_ACCOUNT_FAILURES
    refused = client.post(
        "/account/signin", data={"email": "mia@example.org", "password": PASSWORD, "csrf_token": token}
    )
    assert refused.status_code == 429
    wait = int(refused.headers["Retry-After"])
    assert 0 < wait <= MAX_ACCOUNT_DELAY.total_seconds() + 1  # slowed down, not locked out
    assert "Too many attempts" in refused.text
    assert "sl_shopper" not in refused.headers.get("set-cookie", "")
    # Once the delay has passed, the right password works again.
    clock.now += timedelta(seconds=wait)
    assert attempt(PASSWORD) == 303


def test_sign_up_refuses_bad_input_and_taken_emails(client: TestClient, app: FastAPI) -> None:
    token = csrf_from(client.get("/account/signin").text)
    for email, password, message in [
        ("not-an-email", PASSWORD, "valid email address"),
        ("a@example.org", "short", "at least 8 characters"),
        ("a@example.org", "x" * 300, "at least 8 characters"),
    ]:
        answer = client.post(
            "/account/signup", data={"email": email, "password": password, "csrf_token": token}
        )
        assert answer.status_code == 400 and message in answer.text
    assert count(app, "shoppers") == 0
    sign_up(client, email="a@example.org")
    with TestClient(app) as other:
        token = csrf_from(other.get("/account/signin").text)
        answer = other.post(
            "/account/signup", data={"email": "A@Example.org", "password": PASSWORD, "csrf_token": token}
        )
        assert answer.status_code == 409 and "already exists" in answer.text
    assert count(app, "shoppers") == 1


def test_a_code_claimed_by_one_shopper_is_refused_to_another_with_a_way_on(
    client: TestClient, till: Till, app: FastAPI
) -> None:
    code, entry = till.sell(TEA)
    sign_up(client, claim=code.text)
    # The same shopper opening it again goes to that purchase.
    again = client.get(f"/C/{code.text}", follow_redirects=False)
    purchase = f"/account/purchases/{entry.payload['sale_id']}?added=mine"
    assert again.status_code == 303 and again.headers["location"] == purchase
    with TestClient(app) as other:
        page = other.get(f"/c/{code.text.lower()}")
        assert page.status_code == 409
        assert "already in an account" in page.text and entry.payload["receipt_no"] in page.text
        # Not a dead end: sign-in forms carrying the code, and help.
        assert 'id="mail-email"' in page.text and f'name="claim" value="{code.text}"' in page.text
        assert 'id="claimed-help"' in page.text
        sign_up(other, email="leo@example.org")
        token = csrf_from(other.get("/account").text)
        answer = other.post(f"/c/{code.text}/claim", data={"csrf_token": token})
        assert answer.status_code == 409 and 'id="switch-account"' in answer.text
        # Leo signed in opens it: a button to sign out and come back to this receipt.
        signed_in = other.get(f"/c/{code.text}")
        assert signed_in.status_code == 409 and 'name="next" value="/c/' in signed_in.text
    assert count(app, "claims") == 1


def test_the_owner_signed_out_signs_in_from_the_refusal_and_sees_the_purchase(
    client: TestClient, till: Till, app: FastAPI
) -> None:
    code, entry = till.sell(TEA)
    sign_up(client, claim=code.text)
    client.cookies.clear()
    page = client.get(f"/c/{code.text}")
    assert page.status_code == 409
    answer = client.post(
        "/account/signin",
        data={
            "email": "mia@example.org",
            "password": PASSWORD,
            "claim": code.text,
            "csrf_token": csrf_from(page.text),
        },
        follow_redirects=False,
    )
    assert answer.headers["location"] == f"/account/purchases/{entry.payload['sale_id']}?added=mine"
    receipt = client.get(answer.headers["location"])
    assert receipt.status_code == 200 and "already been added" in receipt.text


def test_each_purchase_opens_as_its_full_receipt_with_its_returns(
    client: TestClient, till: Till, app: FastAPI
) -> None:
    code = till.claim_code()
    sale = till.sale_entry(
        [("SKU-1", "Green tea 100 g", 2, 450), ("SKU-2", "Tea mug", 1, 1299)],
        claim=code,
        sale_discount=100,
        total=2099,
        taxes=[
            {"rate": "19", "net": 928, "tax": 176, "gross": 1104},
            {"rate": "7", "net": 930, "tax": 65, "gross": 995},
        ],
        tenders=[{"kind": "cash", "amount": 2099, "tendered": 2500}],
        change=401,
    )
    till.push([sale])
    sign_up(client, claim=code.text)
    sale_id = sale.payload["sale_id"]
    account = client.get("/account").text
    assert f'href="/account/purchases/{sale_id}"' in account
    refund = till.sale_entry(
        [("SKU-2", "Tea mug", -1, 1299)],
        type="return.completed",
        original_sale_id=sale_id,
        total=-1299,
        taxes=[{"rate": "19", "net": -1092, "tax": -207, "gross": -1299}],
        tenders=[{"kind": "cash", "amount": -1299}],
    )
    till.push([refund])
    page = client.get(f"/account/purchases/{sale_id}")
    assert page.status_code == 200
    text = page.text
    for expected in (
        "Green tea 100 g",
        "Tea mug",
        "Discount on the sale",
        "7 %",
        "19 %",
        "1.76",
        "0.65",
        "Cash",
        "Change",
        "4.01",
        "20.99",
        refund.payload["receipt_no"],
        "-€12.99",
    ):
        assert expected in text, expected
    assert re.search(r'id="receipt-till">[^<]+<', text)
    # The same receipt as a PDF: read back, it holds the lines, taxes, tenders and the return.
    pdf = client.get(f"/account/purchases/{sale_id}/receipt.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert "attachment" in pdf.headers["content-disposition"]
    from pypdf import PdfReader

    printed = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages).replace(
        " ", ""
    )
    for expected in (
        "Greentea100g",
        "Teamug",
        "Discountonthesale",
        "19%",
        "7%",
        "1.76",
        "Cash",
        "4.01",
        "20.99",
    ):
        assert expected in printed, expected
    assert refund.payload["receipt_no"] in printed
    # Another shopper (or a made-up id) gets a clear 404, not someone else's receipt.
    with TestClient(app) as other:
        sign_up(other, email="leo@example.org")
        assert other.get(f"/account/purchases/{sale_id}").status_code == 404
        assert other.get("/account/purchases/" + "x" * 5000).status_code == 404
        assert other.get(f"/account/purchases/{sale_id}/receipt.pdf").status_code == 404


def test_pending_claim_becomes_a_purchase_when_the_store_syncs(client: TestClient, till: Till) -> None:
    code = till.claim_code()
    page = client.get(f"/C/{code.text}")
    assert page.status_code == 200
    assert "Received. Your purchase will appear when the store syncs." in page.text
    assert sign_up(client, claim=code.text) == "/account?added=pending"
    account = client.get("/account")
    assert "Waiting for the store to sync" in account.text
    assert re.search(r'id="points-balance">0<', account.text)
    till.push([till.sale_entry(TEA, claim=code)])
    account = client.get("/account")
    assert "Waiting for the store to sync" not in account.text
    assert "Berlin Mitte" in account.text and "€21.99" in account.text
    assert re.search(r'id="points-balance">21<', account.text)


def test_member_scanned_sale_is_in_the_account(client: TestClient, till: Till, app: FastAPI) -> None:
    sign_up(client)
    with db_of(app).engine.connect() as conn:
        shopper_id = conn.execute(select(schema.shoppers.c.id)).scalar_one()
    code = member_code_for(db_of(app), shopper_id)
    till.push([till.sale_entry([("SKU-9", "Scarf", 1, 2500)], member_id=shopper_id, member_code=code)])
    account = client.get("/account")
    assert "member code scanned" in account.text and "Scarf" in account.text
    assert re.search(r'id="points-balance">25<', account.text)


def test_member_codes_cover_a_day_are_signed_and_need_a_session(
    client: TestClient, app: FastAPI, till: Till
) -> None:
    assert client.get("/account/member-code").status_code == 401
    clock = Clock()
    app.state.clock = clock
    sign_up(client)
    first = client.get("/account/member-code")
    assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
    body = first.json()
    codes = body["codes"]
    assert len(codes) == MEMBER_OFFLINE_HOURS and body["code"] == codes[0]["code"]
    with db_of(app).engine.connect() as conn:
        shopper_id = conn.execute(select(schema.shoppers.c.id)).scalar_one()
    # Every code the phone holds verifies at a till during its own hour, a day ahead included.
    for entry in (codes[0], codes[24]):
        moment = datetime.fromisoformat(entry["valid_from"]) + timedelta(minutes=30)
        assert (
            verify_member_code(entry["code"], public_key=till.public_key(), now=moment).member_id
            == shopper_id
        )
        assert len(entry["rows"]) <= 37  # QR version 5 or less
    # An hour later the first code is gone from the list and a new one ends it.
    clock.now += timedelta(hours=1)
    later = client.get("/account/member-code").json()["codes"]
    assert later[0]["code"] == codes[1]["code"] and later[-1]["code"] not in {c["code"] for c in codes}
    assert body["svg"].startswith("<svg") and 'role="img"' in body["svg"]
    page = client.get("/account?refresh=5")
    assert 'data-refresh-seconds="5"' in page.text and 'id="member-countdown"' in page.text
    assert 'data-refresh-seconds="300"' in client.get("/account?refresh=9999").text


def test_sign_out_ends_the_session(client: TestClient, app: FastAPI) -> None:
    sign_up(client)
    cookie = client.cookies.get("sl_shopper")
    assert cookie
    token = csrf_from(client.get("/account").text)
    answer = client.post("/account/signout", data={"csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 303
    assert count(app, "web_sessions") == 0
    # The old cookie, replayed, opens nothing.
    with TestClient(app, cookies={"sl_shopper": cookie}) as replay:
        assert replay.get("/account", follow_redirects=False).status_code == 303


def test_pages_need_nothing_from_the_internet(client: TestClient, till: Till) -> None:
    code, _ = till.sell(TEA)
    sign_up(client, claim=code.text)
    for path in (f"/C/{code.text}", "/account", "/account/signin"):
        html = client.get(path).text
        assert not re.search(r'(src|href)="(https?:)?//', html), path
    css = client.get("/static/web/app.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert client.get("/static/web/account.js").status_code == 200
    assert client.get("/static/web/../app.py").status_code == 404
    assert client.get("/static/web/secrets.txt").status_code == 404


def test_one_client_cannot_create_accounts_in_bulk(tmp_path: Path) -> None:
    app = new_app(tmp_path, login_attempts_allowed=1)  # so one address may create 5 accounts per window
    statuses = []
    for n in range(6):
        with TestClient(app) as browser:  # a fresh browser each time, all from the same address
            token = csrf_from(browser.get("/account/signin").text)
            data = {"email": f"bot{n}@example.org", "password": PASSWORD, "csrf_token": token}
            statuses.append(browser.post("/account/signup", data=data, follow_redirects=False).status_code)
    assert statuses == [303] * 5 + [429]
    assert count(app, "shoppers") == 5


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("post", "/account/signin", {"json": {"email": "a@b.c", "password": "x"}}),
        (
            "post",
            "/account/signup",
            {"content": b"\xff\xfe garbage", "headers": {"content-type": "text/plain"}},
        ),
        ("post", "/account/signin", {"data": {"email": "a" * 100_000, "password": "p" * 100_000}}),
        ("post", "/c/" + "A" * 48 + "/claim", {"data": {"csrf_token": "x"}}),
        ("get", "/c/" + "%00" * 10, {}),
        ("get", "/C/" + "Z" * 5000, {}),
        ("get", "/account/member-code", {"cookies": {"sl_shopper": "x" * 5000}}),
        ("get", "/account", {"cookies": {"sl_shopper": "forged"}}),
        ("post", "/account/signout", {"data": {"csrf_token": "x", "next": "https://evil.example/"}}),
    ],
)
def test_nothing_a_client_sends_gets_a_5xx(
    client: TestClient, method: str, path: str, kwargs: dict[str, object]
) -> None:
    answer = getattr(client, method)(path, follow_redirects=False, **kwargs)
    assert 300 <= answer.status_code < 500, (answer.status_code, answer.text[:200])
    assert "evil.example" not in answer.headers.get("location", "")


def test_signing_in_on_the_claim_page_adds_the_purchase_to_the_existing_account(
    client: TestClient, till: Till, app: FastAPI
) -> None:
    add_shopper(app, "leo@example.org", PASSWORD)
    code, _ = till.sell(TEA)
    page = client.get(f"/C/{code.text}")
    form = {"email": "leo@example.org", "claim": code.text, "csrf_token": csrf_from(page.text)}
    wrong = client.post("/account/signin", data=form | {"password": "not it at all"})
    # A wrong password shows the claim page again, with the purchase and the reason.
    assert wrong.status_code == 401
    assert "Email or password is wrong." in wrong.text and "Green tea 100 g" in wrong.text
    assert count(app, "claims") == 0
    answer = client.post("/account/signin", data=form | {"password": PASSWORD}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/account?added=ready"
    assert re.search(r'id="points-balance">21<', client.get("/account").text)


def test_account_page_speaks_the_shoppers_language(client: TestClient, till: Till) -> None:
    code, _ = till.sell(TEA)
    sign_up(client, claim=code.text)
    german = client.get("/account", headers={"Accept-Language": "de"}).text
    assert "Ihr Mitgliedscode" in german and "Punktestand" in german and "21,99" in german
    chinese = client.get("/account", headers={"Accept-Language": "zh-TW"}).text
    assert "您的会员码" in chinese and "积分余额" in chinese


def test_the_short_code_under_the_qr_names_the_member_to_a_till_for_its_hour(
    client: TestClient, app: FastAPI, till: Till
) -> None:
    clock = Clock()
    app.state.clock = clock
    sign_up(client)
    with db_of(app).engine.connect() as conn:
        shopper_id = conn.execute(select(schema.shoppers.c.id)).scalar_one()
    codes = client.get("/account/member-code").json()["codes"]
    short = codes[0]["short"]
    assert re.fullmatch(r"[0-9]{4} [0-9]{4} [0-9]{3}", short)
    assert short in client.get("/account").text
    assert client.get("/account/member-code").json()["codes"][0]["short"] == short  # stable per hour
    assert len({c["short"] for c in codes}) == len(codes)
    auth = {"Authorization": f"Bearer {till.token}"}
    answer = client.get(f"/v1/member-codes/{short.replace(' ', '')}", headers=auth)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    member = verify_member_code(body["member_code"], public_key=till.public_key(), now=datetime.now(UTC))
    assert body["member_id"] == shopper_id == member.member_id
    # Refused: no till token, a typo (check digit), a code nobody was given, next hour's code now.
    assert client.get(f"/v1/member-codes/{short.replace(' ', '')}").status_code == 401
    typo = short.replace(" ", "")[:-1] + str((int(short[-1]) + 1) % 10)
    assert client.get(f"/v1/member-codes/{typo}", headers=auth).status_code == 400
    assert client.get(f"/v1/member-codes/{new_short_member_code()}", headers=auth).status_code == 404
    later = codes[3]["short"].replace(" ", "")
    assert client.get(f"/v1/member-codes/{later}", headers=auth).status_code == 404
