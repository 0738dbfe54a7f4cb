"""Strangers cannot lock an owner out (issue 9): a source failing too often is stopped, an account
is only slowed (progressively, at most a minute) and not at all in a browser that signed in to it
before; sign-in by mail stays open; X-Forwarded-For counts only from a configured proxy (checked
against a real uvicorn server); the sign-out ``next`` is bounded."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from central_fixtures import live_server
from fastapi import FastAPI
from test_web_support import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    Mailbox,
    TestClient,
    add_admin,
    add_shopper,
    add_store,
    csrf_from,
    db_of,
    new_app,
)

from sync.server.db import Database
from sync.server.web.accounts import FREE_ACCOUNT_FAILURES, MAX_ACCOUNT_DELAY, account_delay

OWNER = "owner@example.org"
PASSWORD = "correct horse battery"


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


@pytest.fixture
def app(tmp_path: Path, mailbox: Mailbox) -> Iterator[FastAPI]:
    # The test client's address is "testclient": trusting it as a proxy lets each request name
    # its own source in X-Forwarded-For, as a chain behind a load balancer sees them.
    app = new_app(tmp_path, login_attempts_allowed=3, trusted_proxies=("testclient",), **mailbox.settings())
    app.state.clock = Clock()
    add_store(app)
    add_shopper(app, OWNER, PASSWORD)
    add_admin(app)
    yield app
    db_of(app).dispose()


def sign_in(
    client: TestClient, password: str, *, source: str, path: str = "/account/signin", email: str = OWNER
):
    headers = {"X-Forwarded-For": source}
    token = csrf_from(client.get(path, headers=headers).text)
    return client.post(
        path,
        data={"email": email, "password": password, "csrf_token": token},
        headers=headers,
        follow_redirects=False,
    )


def test_the_account_delay_doubles_and_never_exceeds_a_minute() -> None:
    delays = [account_delay(n) for n in range(40)]
    assert delays[:FREE_ACCOUNT_FAILURES] == [timedelta(0)] * FREE_ACCOUNT_FAILURES
    assert delays[FREE_ACCOUNT_FAILURES : FREE_ACCOUNT_FAILURES + 3] == [
        timedelta(seconds=s) for s in (1, 2, 4)
    ]
    assert max(delays) == MAX_ACCOUNT_DELAY == timedelta(seconds=60)
    assert delays == sorted(delays)


@pytest.mark.parametrize("kind", ["shopper", "admin"])
def test_strangers_from_many_places_slow_an_account_but_never_lock_its_owner_out(
    app: FastAPI, kind: str
) -> None:
    path, email, password, ok = (
        ("/account/signin", OWNER, PASSWORD, "/account")
        if kind == "shopper"
        else ("/hq/signin", ADMIN_EMAIL, ADMIN_PASSWORD, "/hq")
    )
    clock: Clock = app.state.clock
    owner = TestClient(app)
    first = sign_in(owner, password, source="198.51.100.7", path=path, email=email)
    assert first.status_code == 303 and first.headers["location"] == ok
    signout = "/account/signout" if kind == "shopper" else "/hq/signout"
    owner.post(signout, data={"csrf_token": csrf_from(owner.get(ok).text)}, follow_redirects=False)
    # 40 wrong passwords from 40 addresses, as fast as the delays let them.
    refused = 0
    with TestClient(app) as attacker:
        for n in range(40):
            answer = sign_in(attacker, "wrong password", source=f"203.0.113.{n + 1}", path=path, email=email)
            if answer.status_code == 429:
                refused += 1
                wait = int(answer.headers["Retry-After"])
                assert 0 < wait <= MAX_ACCOUNT_DELAY.total_seconds() + 1  # slowed, never locked
                clock.now += timedelta(seconds=wait)
            else:
                assert answer.status_code == 401
    assert refused > 0
    # Right after the strangers' last try, the owner's own browser (it signed in before) gets in.
    again = sign_in(owner, password, source="198.51.100.7", path=path, email=email)
    assert again.status_code == 303 and again.headers["location"] == ok
    owner.close()
    # On a new device the owner waits at most a minute, then gets in.
    with TestClient(app) as new_device:
        answer = sign_in(new_device, "wrong password", source="192.0.2.1", path=path, email=email)
        answer = sign_in(new_device, password, source="192.0.2.1", path=path, email=email)
        if answer.status_code == 429:
            assert int(answer.headers["Retry-After"]) <= MAX_ACCOUNT_DELAY.total_seconds() + 1
            clock.now += timedelta(seconds=int(answer.headers["Retry-After"]))
            answer = sign_in(new_device, password, source="192.0.2.1", path=path, email=email)
        assert answer.status_code == 303 and answer.headers["location"] == ok


def test_one_source_failing_too_often_is_stopped_whatever_accounts_it_tries(app: FastAPI) -> None:
    with TestClient(app) as attacker:
        statuses = [
            sign_in(attacker, "wrong", source="203.0.113.9", email=f"user{n}@example.org").status_code
            for n in range(16)
        ]
        assert statuses == [401] * 15 + [429]  # 3 allowed x 5 per source address
        # Another source is not affected, and the owner signs in.
        assert sign_in(attacker, PASSWORD, source="198.51.100.7").status_code == 303


def test_sign_in_by_mail_stays_open_while_passwords_are_slowed(app: FastAPI, mailbox: Mailbox) -> None:
    with TestClient(app) as attacker:
        for n in range(FREE_ACCOUNT_FAILURES + 1):
            sign_in(attacker, "wrong", source=f"203.0.113.{n + 1}")
        assert sign_in(attacker, "wrong", source="203.0.113.99").status_code == 429
    with TestClient(app) as owner:
        page = owner.get("/account/signin", headers={"X-Forwarded-For": "198.51.100.7"})
        answer = owner.post(
            "/account/email",
            data={"email": OWNER, "claim": "", "csrf_token": csrf_from(page.text)},
            headers={"X-Forwarded-For": "198.51.100.7"},
        )
        assert answer.status_code == 200 and "Check your mail" in answer.text
    assert mailbox.messages and OWNER in str(mailbox.messages[-1]["To"])


def test_forwarded_for_is_ignored_unless_the_connection_comes_from_a_configured_proxy(tmp_path: Path) -> None:
    """A real uvicorn server, as `pos-central serve` runs it: a fresh X-Forwarded-For on each
    request from 127.0.0.1 buys nothing, because nobody is configured as a proxy."""
    db = Database.from_url(f"sqlite:///{tmp_path / 'central.sqlite3'}")
    db.migrate()
    with live_server(db, login_attempts_allowed=2) as server, httpx.Client(base_url=server.url) as client:
        statuses = []
        for n in range(12):
            token = csrf_from(client.get("/account/signin").text)
            answer = client.post(
                "/account/signin",
                data={"email": f"user{n}@example.org", "password": "wrong", "csrf_token": token},
                headers={"X-Forwarded-For": f"203.0.113.{n + 1}"},
            )
            statuses.append(answer.status_code)
        assert statuses == [401] * 10 + [429, 429]  # all counted against 127.0.0.1 (2 x 5)
    db.dispose()
    db = Database.from_url(f"sqlite:///{tmp_path / 'proxied.sqlite3'}")
    db.migrate()
    with (
        live_server(db, login_attempts_allowed=2, trusted_proxies=("127.0.0.1",)) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        statuses = []
        for n in range(12):
            token = csrf_from(client.get("/account/signin").text)
            answer = client.post(
                "/account/signin",
                data={"email": f"user{n}@example.org", "password": "wrong", "csrf_token": token},
                headers={"X-Forwarded-For": f"203.0.113.{n + 1}, 127.0.0.1"},
            )
            statuses.append(answer.status_code)
        assert statuses == [401] * 12  # behind the configured proxy each client is itself
    db.dispose()


@pytest.mark.parametrize(
    "next_value",
    [
        "/c/" + "A" * 10_000,
        "//evil.example/c/" + "A" * 48,
        "/c/" + "A" * 47 + "\r\nX: y",
        "https://evil.example/",
    ],
)
def test_sign_out_next_is_bounded_and_only_a_claim_page(app: FastAPI, next_value: str) -> None:
    with TestClient(app) as client:
        assert sign_in(client, PASSWORD, source="198.51.100.7").status_code == 303
        token = csrf_from(client.get("/account").text)
        answer = client.post(
            "/account/signout", data={"csrf_token": token, "next": next_value}, follow_redirects=False
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/account/signin"
    with TestClient(app) as client:
        assert sign_in(client, PASSWORD, source="198.51.100.7").status_code == 303
        token = csrf_from(client.get("/account").text)
        good = "/C/" + "A" * 48
        answer = client.post(
            "/account/signout", data={"csrf_token": token, "next": good}, follow_redirects=False
        )
        assert answer.headers["location"] == good
