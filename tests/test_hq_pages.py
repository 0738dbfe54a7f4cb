"""Head-office pages: admin sign-in, sales per store with the share claimed online, the fleet, problems."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import insert, select
from test_web_support import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    DATABASES,
    TestClient,
    Till,
    add_admin,
    add_store,
    csrf_from,
    database_url,
    db_of,
    new_app,
)

from sync.protocol import GENESIS_HASH, JournalEntry, chain_hash
from sync.server import claims, schema, stores
from sync.server.web.accounts import FREE_ACCOUNT_FAILURES

HQ_PAGES = ["/hq", "/hq/", "/hq/fleet", "/hq/problems"]


@pytest.fixture(params=DATABASES)
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FastAPI]:
    with database_url(request.param, tmp_path) as url:
        app = new_app(tmp_path, database_url=url, login_attempts_allowed=3)
        add_store(app, "S01", "Berlin Mitte", "EUR")
        add_store(app, "S02", "Shanghai Nanjing Road", "CNY", timezone="Asia/Shanghai")
        add_admin(app)
        yield app
        db_of(app).dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def sign_in_admin(client: TestClient, password: str = ADMIN_PASSWORD) -> int:
    token = csrf_from(client.get("/hq/signin").text)
    answer = client.post(
        "/hq/signin",
        data={"email": ADMIN_EMAIL, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    return answer.status_code


def figures(html: str, store_code: str) -> dict[str, str]:
    """The data-figure values of one store's card."""
    section = html.split(f'id="store-{store_code}"', 1)[1].split("</section>", 1)[0]
    return dict(re.findall(r'data-figure="([a-z-]+)">([^<]*)<', section))


@pytest.mark.parametrize("path", HQ_PAGES)
def test_hq_needs_an_admin(client: TestClient, path: str) -> None:
    answer = client.get(path, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/hq/signin"


def test_a_shopper_session_does_not_open_hq(client: TestClient) -> None:
    token = csrf_from(client.get("/account/signin").text)
    client.post(
        "/account/signup", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": token}
    )
    assert client.get("/account", follow_redirects=False).status_code == 200
    # Same email and password as the admin, but a shopper account: no way into head office.
    for path in HQ_PAGES:
        assert client.get(path, follow_redirects=False).status_code == 303


def test_admin_sign_in_refuses_wrong_password_missing_csrf_and_too_many_tries(
    client: TestClient, app: FastAPI
) -> None:
    frozen = datetime.now(UTC)
    app.state.clock = lambda: frozen  # the account's delay counts from the last failure
    assert sign_in_admin(client, "wrong password!") == 401
    answer = client.post("/hq/signin", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert answer.status_code == 403
    assert client.get("/hq", follow_redirects=False).status_code == 303
    for _ in range(FREE_ACCOUNT_FAILURES - 1):
        assert sign_in_admin(client, "wrong password!") == 401
    # Five failures: the account is slowed (this browser never signed in, so it waits a little;
    # tests/test_signin_throttle.py shows strangers never lock the owner out).
    assert sign_in_admin(client) == 429
    assert client.get("/hq", follow_redirects=False).status_code == 303


def test_admin_signs_in_and_out(client: TestClient, app: FastAPI) -> None:
    assert sign_in_admin(client) == 303
    cookie = next(c for c in client.cookies.jar if c.name == "sl_hq")
    assert cookie.path == "/hq"
    page = client.get("/hq")
    assert page.status_code == 200 and "Sales by store" in page.text
    assert client.post("/hq/signout", data={}).status_code == 403  # no CSRF token: still signed in
    assert client.get("/hq/fleet").status_code == 200
    answer = client.post("/hq/signout", data={"csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert answer.status_code == 303
    assert client.get("/hq", follow_redirects=False).status_code == 303


def test_dashboard_shows_today_last_30_days_share_claimed_online_and_top_products(
    client: TestClient, app: FastAPI
) -> None:
    till = Till.enroll(client, app, "S01")
    now = datetime.now(UTC)
    claimed_code, _ = till.sell([("TEA", "Green tea", 2, 450), ("MUG", "Tea mug", 1, 1299)])
    till.sell([("BREAD", "Rye bread", 1, 1000)])
    till.sell([("SCARF", "Wool scarf", 2, 2500)], completed_at=now - timedelta(days=5))
    till.sell([("COAT", "Winter coat", 1, 19900)], completed_at=now - timedelta(days=40))  # too old to count
    shanghai = Till.enroll(client, app, "S02")
    shanghai.sell([("TEA", "Green tea", 1, 3800)], currency="CNY")
    with db_of(app).begin() as conn:
        shopper_id = conn.execute(
            insert(schema.shoppers)
            .values(email="mia@example.org", password_hash="x", display_name="", created_at=now)
            .returning(schema.shoppers.c.id)
        ).scalar_one()
        claims.claim_purchase(conn, claimed_code.text, shopper_id, now)

    assert sign_in_admin(client) == 303
    html = client.get("/hq").text
    berlin = figures(html, "S01")
    assert berlin["today-sales"] == "2"
    assert berlin["today-amount"] == "€31.99"
    assert berlin["today-online"] == "69 %"  # 21.99 of 31.99
    assert berlin["month-sales"] == "3"
    assert berlin["month-amount"] == "€81.99"
    assert berlin["month-online"] == "27 %"  # 21.99 of 81.99
    section = html.split('id="store-S01"', 1)[1].split("</section>", 1)[0]
    top = re.findall(r"<tr><td>([^<]+) <span", section)
    assert top == ["Wool scarf", "Tea mug", "Rye bread", "Green tea"]
    assert "Winter coat" not in section
    # The chart is inline SVG: 30 day bars, the claimed part drawn over today's.
    chart = section.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert chart.count('class="bar"') == 30
    assert chart.count('class="bar claimed"') == 1
    shanghai_figures = figures(html, "S02")
    assert shanghai_figures["today-sales"] == "1" and "38.00" in shanghai_figures["today-amount"]
    assert shanghai_figures["today-online"] == "0 %"


def test_dashboard_with_no_sales_shows_dashes_not_errors(client: TestClient) -> None:
    assert sign_in_admin(client) == 303
    html = client.get("/hq").text
    assert figures(html, "S01")["today-online"] == "–"
    assert "No sales in the last 30 days." in html


def test_fleet_shows_online_queue_clock_offset_and_revoked(client: TestClient, app: FastAPI) -> None:
    busy = Till.enroll(client, app, "S01")
    busy.push([busy.sale_entry([("TEA", "Green tea", 1, 450)])], queued=7, clock_ahead=timedelta(seconds=200))
    revoked = Till.enroll(client, app, "S01")
    idle = Till.enroll(client, app, "S02")  # enrolled, never synced
    with db_of(app).begin() as conn:
        codes = dict(conn.execute(select(schema.terminals.c.id, schema.terminals.c.code)).all())
        stores.revoke_terminal(conn, terminal=codes[revoked.terminal_id], now=datetime.now(UTC))
    assert sign_in_admin(client) == 303
    html = client.get("/hq/fleet").text

    def row(terminal_id: int) -> str:
        return html.split(f'data-terminal="{codes[terminal_id]}"', 1)[1].split("</tr>", 1)[0]

    busy_row = row(busy.terminal_id)
    assert 'data-figure="queued">7<' in busy_row
    assert re.search(r"\+(199|200)\.\d s", busy_row)  # terminal clock about 200 s ahead
    assert 'class="tag warn">+' in busy_row  # flagged: more than two minutes off
    assert "online" in busy_row
    assert "revoked" in row(revoked.terminal_id)
    assert "never" in row(idle.terminal_id)
    assert "never" not in busy_row


def test_problems_page_lists_conflicts_and_quarantined_entries(client: TestClient, app: FastAPI) -> None:
    till = Till.enroll(client, app, "S01")
    _code, sale = till.sell([("TEA", "Green tea", 1, 450)])
    bad = till.entry("sale.completed", {"not": "a sale"})
    till.push([bad], expect="quarantined")
    # The same event id again with other contents, from another till: kept aside as a conflict,
    # never overwritten. (From the same till it would fork its chain: tests/test_replace_till.py.)
    body = sale.body() | {"payload": sale.payload | {"total": 1}}
    twin = JournalEntry(**body, prev_hash=sale.prev_hash, hash=chain_hash(sale.prev_hash, body))
    assert twin.seq == 1 and sale.prev_hash == GENESIS_HASH  # the other till's first entry too
    Till.enroll(client, app, "S01").push([twin], expect="conflict")
    assert sign_in_admin(client) == 303
    html = client.get("/hq/problems").text
    conflicts = html.split('id="conflicts"', 1)[1].split("</section>", 1)[0]
    quarantine = html.split('id="quarantine"', 1)[1].split("</section>", 1)[0]
    assert 'data-figure="open-conflicts">1 open<' in conflicts
    assert sale.event_id in conflicts and "event_id_reused" in conflicts
    assert 'data-figure="quarantined">1<' in quarantine
    assert bad.event_id in quarantine and '"not": "a sale"' in quarantine
