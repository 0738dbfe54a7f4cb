"""Each store's own points meaning and return policy (`pos-central store set`), shown to its
shoppers on a real server; the serve options stay the chain's default for stores without one."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from central_fixtures import member_code_for
from click.testing import CliRunner, Result
from fastapi import FastAPI
from pypdf import PdfReader
from sqlalchemy import select
from test_web_support import (
    DATABASES,
    Till,
    add_shopper,
    add_store,
    csrf_from,
    database_url,
    db_of,
    new_app,
    running_server,
)

from sync.server import schema
from sync.server.cli import main as central_cli
from sync.server.stores import POINTS_MEANING_MAX, RETURN_POLICY_MAX

PASSWORD = "correct horse battery"
CHAIN_POINTS = "Chain: 100 points are worth 1 EUR."
CHAIN_POLICY = "Chain: return unused goods within 14 days."
SCARF = [("SKU-9", "Silk scarf", 1, 2500)]


@pytest.fixture(params=DATABASES)
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FastAPI]:
    with database_url(request.param, tmp_path) as url:
        app = new_app(
            tmp_path,
            database_url=url,
            secure_cookies=False,
            points_meaning=CHAIN_POINTS,
            return_policy=CHAIN_POLICY,
        )
        for code, name in (("S01", "Berlin Mitte"), ("S02", "Hamburg"), ("S03", "Köln")):
            add_store(app, code, name)
        yield app
        db_of(app).dispose()


def store_set(app: FastAPI, *args: str) -> Result:
    url = db_of(app).engine.url.render_as_string(hide_password=False)
    return CliRunner().invoke(central_cli, ["store", "set", *args, "--database", url])


def texts(app: FastAPI) -> dict[str, tuple[str | None, str | None]]:
    st = schema.stores
    with db_of(app).engine.connect() as conn:
        rows = conn.execute(select(st.c.code, st.c.points_meaning, st.c.return_policy)).all()
    return {r.code: (r.points_meaning, r.return_policy) for r in rows}


def sign_in(web: httpx.Client, email: str) -> None:
    page = web.get("/account/signin")
    answer = web.post(
        "/account/signin",
        data={"email": email, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
    )
    assert answer.status_code == 303, answer.text


def test_each_store_s_purchase_page_shows_its_own_texts_and_the_chain_default_otherwise(app: FastAPI) -> None:
    berlin = store_set(app, "S01", "--points-meaning", "Berlin: 50 points = a free coffee.",
                       "--return-policy", "Berlin: 30 days with the receipt.")  # fmt: skip
    assert berlin.exit_code == 0, berlin.output
    assert "store S01 return policy: Berlin: 30 days with the receipt." in berlin.output
    # Hamburg sets only its return policy: its points keep the chain's meaning.
    hamburg = store_set(app, "S02", "--return-policy", "Hamburg: exchange only, 7 days.")
    assert hamburg.exit_code == 0, hamburg.output
    assert "store S02 points meaning: (chain default)" in hamburg.output
    shopper = add_shopper(app, "mia@example.org", PASSWORD)
    start = datetime.now(UTC) - timedelta(minutes=30)
    with running_server(app) as base, httpx.Client(base_url=base, timeout=30) as api:
        sales: dict[str, str] = {}
        for n, store in enumerate(("S01", "S02", "S03")):
            till = Till.enroll(api, app, store)
            when = start + timedelta(minutes=n)
            code = member_code_for(db_of(app), shopper, now=when)  # the code shown at that time
            entry = till.sale_entry(SCARF, member_code=code, completed_at=when)
            till.push([entry])
            sales[store] = str(entry.payload["sale_id"])
        with httpx.Client(base_url=base, timeout=30) as web:
            sign_in(web, "mia@example.org")
            expected = {
                "S01": ("Berlin: 50 points = a free coffee.", "Berlin: 30 days with the receipt."),
                "S02": (CHAIN_POINTS, "Hamburg: exchange only, 7 days."),
                "S03": (CHAIN_POINTS, CHAIN_POLICY),
            }
            for store, (meaning, policy) in expected.items():
                page = web.get(f"/account/purchases/{sales[store]}")
                assert page.status_code == 200, page.text
                assert meaning in page.text and policy in page.text, store
                others = {t for s, pair in expected.items() if s != store for t in pair} - {meaning, policy}
                assert not any(text in page.text for text in others), store
            # The PDF of a purchase carries its store's texts too.
            pdf = web.get(f"/account/purchases/{sales['S02']}/receipt.pdf")
            assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
            printed = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
            squeezed = printed.replace(" ", "").replace("\n", "")
            assert "Hamburg:exchangeonly,7days." in squeezed and "Berlin" not in squeezed
            # The account page: the points meaning of the store of the most recent purchase (S03,
            # which has none of its own: the chain's).
            assert CHAIN_POINTS in web.get("/account").text
            late = Till.enroll(api, app, "S01")
            late.push([late.sale_entry(SCARF, member_code=member_code_for(db_of(app), shopper))])
            account = web.get("/account").text
            assert "Berlin: 50 points = a free coffee." in account and CHAIN_POINTS not in account
            # '' clears a store's text: back to the chain's default.
            cleared = store_set(app, "S01", "--points-meaning", "")
            assert cleared.exit_code == 0, cleared.output
            assert CHAIN_POINTS in web.get("/account").text
            page = web.get(f"/account/purchases/{sales['S01']}").text
            assert CHAIN_POINTS in page and "Berlin: 30 days with the receipt." in page


def test_bad_store_settings_are_one_clear_line_and_change_nothing(app: FastAPI) -> None:
    assert store_set(app, "S01", "--points-meaning", "Kept.", "--return-policy", "Kept too.").exit_code == 0
    before = texts(app)
    cases = {
        "unknown store": (
            ["S99", "--points-meaning", "x"],
            "Error: no store with code 'S99'",
        ),
        "nothing to set": (["S01"], "Error: nothing to set: give --points-meaning and/or --return-policy"),
        "points meaning too long": (
            ["S01", "--points-meaning", "p" * (POINTS_MEANING_MAX + 1), "--return-policy", "fine"],
            f"Error: points meaning: at most {POINTS_MEANING_MAX} characters (this one has "
            f"{POINTS_MEANING_MAX + 1})",
        ),
        "return policy too long": (
            ["S01", "--return-policy", "r" * (RETURN_POLICY_MAX + 1)],
            f"Error: return policy: at most {RETURN_POLICY_MAX} characters (this one has "
            f"{RETURN_POLICY_MAX + 1})",
        ),
        "control characters": (
            ["S01", "--points-meaning", "bad\x00text"],
            "Error: points meaning: control characters are not allowed (only text, line breaks, tabs)",
        ),
    }
    for what, (args, message) in cases.items():
        result = store_set(app, *args)
        assert result.exit_code == 1, (what, result.output)
        assert result.output.strip().splitlines() == [message], what
    assert texts(app) == before
    # At the limits is fine, and line breaks stay.
    ok = store_set(
        app, "S02", "--points-meaning", "p" * POINTS_MEANING_MAX, "--return-policy", "Line one.\nLine two."
    )
    assert ok.exit_code == 0, ok.output
    assert texts(app)["S02"] == ("p" * POINTS_MEANING_MAX, "Line one.\nLine two.")
