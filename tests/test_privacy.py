"""The shopper's own data (sync/server/web/privacy.py): a JSON export of everything kept, and
account deletion that leaves the stores' sales at head office without the person. SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from test_web_support import DATABASES, TestClient, Till, add_store, csrf_from, database_url, db_of, new_app

from sync.server import schema

PASSWORD = "correct horse battery"
TEA = [("4006381333931", "Green tea 100 g", 2, 450), ("4006381333948", "Tea mug", 1, 1299)]


@pytest.fixture(params=DATABASES)
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FastAPI]:
    with database_url(request.param, tmp_path) as url:
        app = new_app(tmp_path, database_url=url, privacy_url="https://chain.example/privacy")
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


def sign_up_with(client: TestClient, claim: str, email: str = "mia@example.org") -> None:
    page = client.get(f"/c/{claim}")
    answer = client.post(
        "/account/signup",
        data={"email": email, "password": PASSWORD, "claim": claim, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303


def test_the_export_holds_the_account_its_purchases_and_receipts(client: TestClient, app: FastAPI) -> None:
    assert client.get("/account/export", follow_redirects=False).status_code == 303
    till = Till.enroll(client, app)
    code, entry = till.sell(TEA)
    sign_up_with(client, code.text)
    answer = client.get("/account/export")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json")
    assert (
        "attachment" in answer.headers["content-disposition"]
        and answer.headers["cache-control"] == "no-store"
    )
    data = json.loads(answer.text)
    assert data["account"]["email"] == "mia@example.org" and data["account"]["has_password"] is True
    assert data["points"] == 21
    [purchase] = data["purchases"]
    assert purchase["sale_id"] == entry.payload["sale_id"] and purchase["total"] == 2199
    assert [line["name"] for line in purchase["lines"]] == ["Green tea 100 g", "Tea mug"]
    assert purchase["taxes"][0]["rate"] == "19" and purchase["tenders"][0]["kind"] == "card"
    page = client.get("/account").text
    assert 'href="/account/export"' in page and 'href="https://chain.example/privacy"' in page


def test_deleting_needs_the_box_ticked_and_changes_nothing_without_it(
    client: TestClient, app: FastAPI
) -> None:
    till = Till.enroll(client, app)
    code, _ = till.sell(TEA)
    sign_up_with(client, code.text)
    token = csrf_from(client.get("/account").text)
    for confirm in ("", "no", "x" * 5000):
        answer = client.post("/account/delete", data={"confirm": confirm, "csrf_token": token})
        assert (
            answer.status_code == 400
            and "Tick the box" in answer.text
            and 'aria-invalid="true"' in answer.text
        )
    assert client.post("/account/delete", data={"confirm": "yes", "csrf_token": "wrong"}).status_code == 403
    assert count(app, "shoppers") == 1 and count(app, "claims") == 1


def test_a_deleted_account_is_gone_and_its_purchases_stay_without_the_person(
    client: TestClient, app: FastAPI
) -> None:
    till = Till.enroll(client, app)
    code, _entry = till.sell(TEA)
    sign_up_with(client, code.text)
    with db_of(app).engine.connect() as conn:
        shopper_id = conn.execute(select(schema.shoppers.c.id)).scalar_one()
    till.push([till.sale_entry([("SKU-9", "Scarf", 1, 2500)], member_id=shopper_id)])
    token = csrf_from(client.get("/account").text)
    answer = client.post("/account/delete", data={"confirm": "yes", "csrf_token": token})
    assert answer.status_code == 200 and "has been deleted" in answer.text
    assert count(app, "shoppers") == 0 and count(app, "claims") == 0 and count(app, "web_sessions") == 0
    with db_of(app).engine.connect() as conn:
        sales = conn.execute(select(schema.sales.c.id, schema.sales.c.member_id, schema.sales.c.total)).all()
    assert len(sales) == 2 and all(s.member_id is None for s in sales)  # the stores' books are whole
    assert sum(s.total for s in sales) == 2199 + 2500
    # The old session cookie opens nothing, and the password no longer signs in.
    assert client.get("/account", follow_redirects=False).status_code == 303
    signin = client.get("/account/signin").text
    refused = client.post(
        "/account/signin",
        data={"email": "mia@example.org", "password": PASSWORD, "csrf_token": csrf_from(signin)},
    )
    assert refused.status_code == 401
