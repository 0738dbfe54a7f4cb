"""Every query, form and path parameter of every shopper and head-office page, signed in and out,
takes arbitrary Unicode of any length without a 5xx (the JSON API has schemathesis for this).

The routes and their parameters are read from the app itself, plus the parameters a page reads by
hand (``request.query_params.get("refresh")``), found in the pages' source: a new page or parameter
is covered without touching this file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_web_support import (
    DATABASES,
    TestClient,
    add_admin,
    add_shopper,
    add_store,
    csrf_from,
    database_url,
    db_of,
    new_app,
)

from sync.server.web import accounts
from sync.server.web.shopper import MEMBER_CODE_REFRESH_SECONDS

WEB_SOURCE = Path(__file__).resolve().parent.parent / "sync" / "server" / "web"
_READ_BY_HAND = re.compile(r"""(?:query_params|form)\s*(?:\.get\(|\[)\s*["']([A-Za-z0-9_\-]+)["']""")


def hand_read_parameters() -> set[str]:
    """Names the pages read from the query string or form themselves, not through FastAPI."""
    names: set[str] = set()
    for path in WEB_SOURCE.rglob("*.py"):
        names.update(_READ_BY_HAND.findall(path.read_text(encoding="utf-8")))
    return names


@dataclass(frozen=True)
class Page:
    method: str
    path: str
    path_params: tuple[str, ...]
    query: tuple[str, ...]
    form: tuple[str, ...]


def _routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # FastAPI keeps included routers as a branch
            yield from _routes(route.original_router.routes)


def pages_of_router() -> list[Page]:
    """Every page route (not the /v1 API, which schemathesis covers) with its parameters."""
    from sync.server import web

    extra = tuple(sorted(hand_read_parameters()))
    found = []
    for route in _routes(web.router.routes):
        if route.path.startswith("/v1") or route.include_in_schema:
            continue
        dependant = route.dependant
        path_params = tuple(p.name for p in dependant.path_params)
        query = tuple(sorted({p.alias for p in dependant.query_params} | set(extra)))
        form = tuple(sorted(p.alias for p in dependant.body_params))
        for method in sorted(route.methods or ()):
            if method == "HEAD":
                continue
            found.append(Page(method, route.path, path_params, query, form))
    return found


ODD = [
    "²",
    "٣",
    "𝟘",
    "Ⅻ",
    "1e5",
    "-1",
    "0",
    " 7",
    "7\n",
    "\x00",
    "\ufeff",
    "%",
    "../../etc/passwd",
    "//evil.example",
    "/c/" + "A" * 5000,
    "9" * 4301,
    "1" * 20000,
]
text = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=60),
    st.text(st.characters(codec="utf-8"), min_size=200, max_size=3000),
    # Digits that are not 0-9 ("²", "٣"): str.isdigit() takes them, int() does not.
    st.text(st.characters(categories=("Nd", "No", "Nl")), min_size=1, max_size=4),
    # Longer than int() reads (4,300 digits).
    st.integers(4290, 4400).map(lambda n: "9" * n),
    st.sampled_from(ODD),
    st.integers(-(10**30), 10**30).map(str),
)


@pytest.fixture(scope="module", params=DATABASES)
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    tmp_path = tmp_path_factory.mktemp("pages")
    with database_url(request.param, tmp_path) as url:
        app = new_app(tmp_path, database_url=url, login_attempts_allowed=3, login_window_seconds=600)
        add_store(app)
        add_admin(app)
        app.state.shopper_id = add_shopper(app)
        yield app
        db_of(app).dispose()


@pytest.fixture(scope="module")
def client(site: FastAPI) -> Iterator[TestClient]:
    # A 5xx must show as a failed status, not as the server's exception re-raised here.
    with TestClient(site, raise_server_exceptions=False) as client:
        yield client


def _sign_in(app: FastAPI, client: TestClient, who: str) -> str:
    """Put ``client`` in state ``who`` (signed out, shopper or admin); returns a CSRF token that
    the forms of that state accept."""
    client.cookies.clear()
    if who == "anonymous":
        page = client.get("/account/signin")
        return csrf_from(page.text)
    kind: accounts.SessionKind = "shopper" if who == "shopper" else "admin"
    subject = app.state.shopper_id if kind == "shopper" else 1
    with db_of(app).begin() as conn:
        token, session = accounts.start_session(conn, kind, subject, datetime.now(UTC))
    client.cookies.set(accounts.cookie_name(kind), token, path="/" if kind == "shopper" else "/hq")
    return session.csrf_token


def _url(page: Page, values: dict[str, str]) -> str:
    path = page.path
    for name in page.path_params:
        path = path.replace("{" + name + "}", quote(values.get(name) or "x", safe=""))
    return path


PAGES = pages_of_router()
STATES = ["anonymous", "shopper", "admin"]


@pytest.mark.parametrize("who", STATES)
@pytest.mark.parametrize("page", PAGES, ids=lambda p: f"{p.method} {p.path}")
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_page_answers_5xx_to_any_parameter(
    site: FastAPI, client: TestClient, page: Page, who: str, data: st.DataObject
) -> None:
    names = sorted(set(page.path_params) | set(page.query) | set(page.form))
    values = {n: data.draw(text, label=n) for n in names if n in page.path_params or data.draw(st.booleans())}
    real_csrf = data.draw(st.booleans(), label="real csrf token")
    csrf = _sign_in(site, client, who)
    query = {name: values[name] for name in page.query if name in values}
    form = {name: values[name] for name in page.form if name in values}
    if "csrf_token" in page.form and real_csrf:
        form["csrf_token"] = csrf
    url = _url(page, values)
    if page.method == "GET":
        answer = client.get(url, params=query, follow_redirects=False)
    else:
        answer = client.request(page.method, url, params=query, data=form, follow_redirects=False)
    assert answer.status_code < 500, (page, who, values, answer.text[:300])


def test_the_pages_found_include_the_shopper_and_head_office_pages(site: FastAPI, client: TestClient) -> None:
    paths = {(p.method, p.path) for p in PAGES}
    assert ("GET", "/account") in paths and ("POST", "/account/signout") in paths
    assert ("GET", "/hq/fleet") in paths and ("POST", "/hq/signin") in paths
    assert "refresh" in hand_read_parameters()
    # The paths are the ones the app serves (an included router's prefix was not lost).
    for page in PAGES:
        if page.method == "GET" and not page.path_params:
            assert client.get(page.path, follow_redirects=False).status_code != 404, page.path


@pytest.mark.parametrize("refresh", ["%C2%B2", "9" * 4301, "%D9%A3", "%EF%BC%95", "1" * 5000, "%FF%FE"])
def test_account_refresh_that_is_not_a_small_number_falls_back_to_the_default(
    site: FastAPI, client: TestClient, refresh: str
) -> None:
    _sign_in(site, client, "shopper")
    answer = client.get(f"/account?refresh={refresh}")
    assert answer.status_code == 200, answer.text[:300]
    assert f'data-refresh-seconds="{MEMBER_CODE_REFRESH_SECONDS}"' in answer.text
