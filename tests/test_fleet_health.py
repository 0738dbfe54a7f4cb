# ruff: noqa: F811  (pytest fixtures imported from central_fixtures are parameters by name)
"""Fleet health at head office: every contact (pull, push, long-poll while it is held) is a
contact, and /hq Fleet shows real tills on a real pos-central as they are: online or offline by
last contact, enrolled but never synced, queued entries, outdated versions, failed ledgers, times
in the store's time zone."""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from central_fixtures import (  # noqa: F401  (fixtures are used by name)
    LiveServer,
    add_store,
    central,
    central_db,
    enroll,
    enrollment_code,
)
from sqlalchemy import select, update
from sync_support import central_server, record_sales, until
from test_web_support import ADMIN_EMAIL, ADMIN_PASSWORD, csrf_from

from pos.services import fleet, syncing
from pos.services.terminal import Terminal, open_terminal
from sync.protocol import APP_VERSION_HEADER, PLATFORM_HEADER
from sync.server import schema, stores
from sync.server.db import Database, utcnow
from sync.server.web.figures import FleetState, is_outdated, parse_version, terminal_state


def _seen(db: Database, terminal_id: int) -> datetime | None:
    with db.begin() as conn:
        value = conn.execute(
            select(schema.terminals.c.last_seen_at).where(schema.terminals.c.id == terminal_id)
        ).scalar_one()
    return None if value is None else (value if value.tzinfo else value.replace(tzinfo=UTC))


def _set_seen(db: Database, terminal_id: int, value: datetime | None) -> None:
    with db.begin() as conn:
        conn.execute(
            update(schema.terminals).where(schema.terminals.c.id == terminal_id).values(last_seen_at=value)
        )


def _caught_up_cursor(client: httpx.Client, headers: dict[str, str]) -> str:
    cursor = ""
    while True:
        page = client.get("/v1/changes", params={"cursor": cursor}, headers=headers).json()
        cursor = page["cursor"]
        if not page["has_more"]:
            return str(cursor)


# --- the contact ------------------------------------------------------------------------------------


def test_a_long_poll_is_a_contact_when_it_starts_and_again_when_it_returns(tmp_path: Path) -> None:
    # A throttle of 1 s and a wait of 3 s with no news: the wait outlasts the throttle, so the
    # answer must record the contact again (with the usual 60 s and 25 s it never needs to).
    with central_server(tmp_path, seen_write_every_seconds=1.0) as server:
        till = enroll(server.client, server.db)
        cursor = _caught_up_cursor(server.client, till.headers)
        _set_seen(server.db, till.id, None)
        answers: list[httpx.Response] = []
        poll = threading.Thread(
            target=lambda: answers.append(
                server.client.get("/v1/changes", params={"cursor": cursor, "wait": 3}, headers=till.headers)
            )
        )
        poll.start()
        until(lambda: _seen(server.db, till.id) is not None, "the long-poll's start recorded as a contact")
        at_start = _seen(server.db, till.id)
        poll.join(timeout=60)
        assert answers and answers[0].status_code == 200 and answers[0].json()["changes"] == []
        at_end = _seen(server.db, till.id)
        assert at_start is not None and at_end is not None
        assert at_end - at_start >= timedelta(seconds=1), "the answer did not record the contact"


def test_a_long_poll_that_returns_at_once_does_not_write_again(central: LiveServer) -> None:
    add_store(central.db)
    till = enroll(central.client, central.db)
    first = central.client.get("/v1/changes", params={"wait": 5}, headers=till.headers)
    assert first.status_code == 200 and first.json()["changes"]  # the snapshot: nothing held
    seen = _seen(central.db, till.id)
    assert central.client.get("/v1/changes", params={"wait": 5}, headers=till.headers).status_code == 200
    assert _seen(central.db, till.id) == seen, "the throttle holds for requests answered at once"


# --- how a terminal is judged ---------------------------------------------------------------------


def test_online_and_offline_go_by_the_last_contact_against_the_setting() -> None:
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    window = timedelta(minutes=5)

    def state(contact: datetime | None, revoked: bool = False) -> str:
        return terminal_state(revoked=revoked, last_contact=contact, now=now, offline_after=window)

    assert state(None) == FleetState.NEVER
    assert state(now - window) == FleetState.ONLINE
    assert state(now - window - timedelta(seconds=1)) == FleetState.OFFLINE
    assert state(now, revoked=True) == FleetState.REVOKED


def test_a_version_is_outdated_below_the_newest_in_the_fleet_or_the_minimum() -> None:
    newest, minimum = parse_version("1.4.0"), parse_version("1.2")
    assert is_outdated("1.3.9", newest=newest, minimum=None)
    assert not is_outdated("1.4.0", newest=newest, minimum=None)
    assert is_outdated("1.1.0", newest=None, minimum=minimum)
    assert not is_outdated("1.10.0", newest=parse_version("1.9.0"), minimum=minimum)  # not text order
    assert not is_outdated("weird-build", newest=newest, minimum=minimum)  # shown, never judged
    assert not is_outdated(None, newest=newest, minimum=minimum)


# --- the page, with real tills on a real server ------------------------------------------------------


@contextlib.contextmanager
def _sign_in(server: LiveServer) -> Iterator[httpx.Client]:
    """An HTTP client signed in to /hq as a new admin (through the sign-in form, with its CSRF)."""
    with server.db.begin() as conn:
        stores.add_admin(conn, email=ADMIN_EMAIL, password=ADMIN_PASSWORD, display_name="HQ", now=utcnow())
    with httpx.Client(base_url=server.url, timeout=30) as client:
        token = csrf_from(client.get("/hq/signin").text)
        answer = client.post(
            "/hq/signin", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": token}
        )
        assert answer.status_code == 303, f"admin sign-in failed: {answer.status_code}"
        yield client


def _row(html: str, code: str) -> str:
    return html.split(f'data-terminal="{code}"', 1)[1].split("</tr>", 1)[0]


def _figures(row: str) -> dict[str, str]:
    """data-figure cells of a row, as text without tags and spacing."""
    cells = re.findall(r'data-figure="([a-z-]+)">(.*?)</td>', row, re.S)
    return {name: unescape(" ".join(re.sub(r"<[^>]+>", " ", value).split())) for name, value in cells}


@pytest.fixture
def fleet_server(tmp_path: Path) -> Iterator[LiveServer]:
    with central_server(tmp_path, min_app_version="0.1.0") as server:
        with server.db.begin() as conn:
            stores.add_store(
                conn,
                code="SH1",
                name="Shanghai Nanjing Road",
                currency="CNY",
                locale="zh_CN",
                tax_mode="inclusive",
                now=utcnow(),
                timezone="Asia/Shanghai",
            )
        yield server


def _till(server: LiveServer, folder: Path, store: str = "S01") -> tuple[Terminal, int]:
    terminal = open_terminal(folder, secrets_backend="file", daily_backup=False)
    enrolled = syncing.enroll(terminal, server.url, enrollment_code(server.db, store))
    return terminal, enrolled.terminal_id


def test_the_fleet_page_shows_real_tills_as_they_are(fleet_server: LiveServer, tmp_path: Path) -> None:
    server = fleet_server
    busy, busy_id = _till(server, tmp_path / "busy")
    quiet, quiet_id = _till(server, tmp_path / "quiet", "SH1")
    gone, gone_id = _till(server, tmp_path / "gone")
    broken, broken_id = _till(server, tmp_path / "broken")
    orphan, orphan_id = _till(server, tmp_path / "orphan")  # enrolled, never synced
    tills: list[Terminal] = [busy, quiet, gone, broken, orphan]
    try:
        record_sales(busy, 3)
        assert syncing.sync_once(busy).ok
        record_sales(busy, 2)  # made after the push: the till reports them queued when it next asks
        assert syncing.sync_once(quiet).ok
        assert syncing.sync_once(gone).ok
        _set_seen(server.db, gone_id, utcnow() - timedelta(hours=3))  # not heard of for 3 hours
        record_sales(broken, 2)
        # An insider lowers one sale's total in the file; the till's next sync verifies first.
        with sqlite3.connect(broken.data_dir / "ledger.sqlite3") as raw:
            raw.execute("UPDATE sales SET total = total - 500 WHERE journal_seq = 1")
        syncing.sync_once(broken)
        problem = fleet.ledger_health(broken.data_dir).problem
        assert problem
        # An old till, as head office sees it: the same wire, reporting an older version.
        old = enroll(server.client, server.db)
        headers = {**old.headers, APP_VERSION_HEADER: "0.0.9", PLATFORM_HEADER: "windows-amd64"}
        assert server.client.get("/v1/changes", headers=headers).status_code == 200
        # The busy till asks for news (a pull, no push): it reports its queue.
        engine = syncing.make_engine(busy)
        try:
            engine.client.changes(None, limit=1)
        finally:
            engine.client.http.close()

        with _sign_in(server) as hq:
            html = hq.get("/hq/fleet").text
        codes = _codes(server.db)
        busy_row = _figures(_row(html, codes[busy_id]))
        assert busy_row["state"] == "online"
        assert busy_row["queued"] == "2"
        assert busy_row["version"].startswith(fleet.app_version()) and "outdated" not in busy_row["version"]
        shown = {"ok": "verified", "unchecked": "not verified yet"}
        assert busy_row["ledger"].startswith(shown[fleet.ledger_health(busy.data_dir).health.value])
        assert busy_row["last-push"] != "never" and busy_row["last-contact"].endswith("UTC")

        quiet_row = _figures(_row(html, codes[quiet_id]))
        assert quiet_row["state"] == "online"
        assert quiet_row["last-contact"].endswith("CST"), "Shanghai's till in Shanghai time"
        shanghai = html.split('id="store-SH1"', 1)[1].split("</section>", 1)[0]
        assert "times in Asia/Shanghai" in shanghai and codes[quiet_id] in shanghai

        assert _figures(_row(html, codes[gone_id]))["state"] == "offline 3 h"
        broken_row = _figures(_row(html, codes[broken_id]))
        assert broken_row["state"] == "online"
        assert broken_row["ledger"].startswith(f"failed verification {problem}")
        orphan_row = _figures(_row(html, codes[orphan_id]))
        assert orphan_row["state"] == "enrolled, never synced" and orphan_row["last-contact"] == "never"
        old_row = _figures(_row(html, old.code))
        assert old_row["version"] == "0.0.9 outdated windows-amd64"
    finally:
        for terminal in tills:
            terminal.ledger.close()


def test_a_quiet_till_waiting_on_the_change_feed_is_never_shown_as_stale(tmp_path: Path) -> None:
    # The throttle off (every contact written) and an offline window far shorter than the hour of
    # silence we fake: only the contacts the till really makes can bring it back online.
    with central_server(tmp_path, seen_write_every_seconds=0.0, offline_after_seconds=600.0) as server:
        terminal, terminal_id = _till(server, tmp_path / "till")
        try:
            loop = syncing.start_background_sync(terminal, watch=1.0, interval=60.0)
            try:
                until(lambda: loop.watches >= 1, "the first long-poll answered")
                # Pretend head office has not heard of the till for an hour ...
                an_hour_ago = utcnow() - timedelta(hours=1)
                _set_seen(server.db, terminal_id, an_hour_ago)
                # ... the till, with nothing to send, just keeps waiting for news; that is enough.
                watched = loop.watches
                until(lambda: loop.watches >= watched + 2, "two more long-polls answered")
                seen = _seen(server.db, terminal_id)
                assert seen is not None and seen - an_hour_ago > timedelta(minutes=59)
                with _sign_in(server) as hq:
                    row = _figures(_row(hq.get("/hq/fleet").text, _codes(server.db)[terminal_id]))
                assert row["state"] == "online"
                assert row["queued"] == "0"
            finally:
                loop.stop()
        finally:
            terminal.ledger.close()


def _codes(db: Database) -> dict[int, str]:
    with db.begin() as conn:
        rows: Any = conn.execute(select(schema.terminals.c.id, schema.terminals.c.code)).all()
    return {int(r.id): str(r.code) for r in rows}
