# ruff: noqa: F811  (pytest fixtures imported from central_fixtures are parameters by name)
"""Requests racing each other, on SQLite and PostgreSQL: nothing applied twice, no 5xx."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
from central_fixtures import (  # noqa: F401  (fixtures are used by name)
    LiveServer,
    add_shopper,
    add_store,
    central,
    central_db,
    enroll,
    enrollment_code,
    push_sale,
    sale_payload,
)
from sqlalchemy import func, select

from sync.protocol import PROTOCOL_VERSION
from sync.server import schema
from sync.server.claims import ClaimRefused, claim_purchase, shopper_points
from sync.server.db import utcnow


def test_one_batch_sent_on_several_connections_at_once_is_applied_once(central: LiveServer) -> None:
    add_store(central.db)
    till = enroll(central.client, central.db)
    entries = [till.entry("sale.completed", sale_payload(total=100)) for _ in range(20)]
    start = threading.Barrier(6)

    def send(_: int) -> tuple[int, list[str]]:
        with httpx.Client(base_url=central.url, timeout=60) as client:
            start.wait()
            response = till.push(client, entries)
            statuses = (
                [r["status"] for r in response.json()["results"]] if response.status_code == 200 else []
            )
            return response.status_code, statuses

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(send, range(6)))
    assert all(code in (200, 409, 429) for code, _ in answers), answers
    accepted = sum(statuses.count("accepted") for _, statuses in answers)
    assert accepted == 20
    with central.db.begin() as conn:
        assert conn.execute(select(func.count()).select_from(schema.sales)).scalar_one() == 20
        assert conn.execute(select(schema.stock.c.on_hand_milli)).scalar_one() == -20_000


def test_two_terminals_pushing_the_same_event_id_at_once_store_it_once(central: LiveServer) -> None:
    add_store(central.db)
    tills = [enroll(central.client, central.db) for _ in range(2)]
    shared_event = "0190f5c0-0000-7000-8000-000000000001"
    entries = {t.id: [t.entry("cash.in", {"amount": 5}, event_id=shared_event)] for t in tills}
    start = threading.Barrier(2)

    def send(index: int) -> int:
        till = tills[index]
        with httpx.Client(base_url=central.url, timeout=60) as client:
            start.wait()
            return till.push(client, entries[till.id]).status_code

    with ThreadPoolExecutor(2) as pool:
        codes = list(pool.map(send, range(2)))
    assert all(code in (200, 409) for code in codes), codes
    with central.db.begin() as conn:
        held = conn.execute(
            select(schema.journal.c.terminal_id).where(schema.journal.c.event_id == shared_event)
        )
        assert len(held.all()) == 1


def test_one_enrollment_code_raced_by_two_terminals_enrolls_one(central: LiveServer) -> None:
    add_store(central.db)
    code = enrollment_code(central.db)
    start = threading.Barrier(4)

    def enroll_once(_: int) -> int:
        with httpx.Client(base_url=central.url, timeout=60) as client:
            start.wait()
            body = {"code": code, "terminal_name": "x", "protocol_version": PROTOCOL_VERSION}
            return client.post("/v1/enroll", json=body).status_code

    with ThreadPoolExecutor(4) as pool:
        codes = sorted(pool.map(enroll_once, range(4)))
    assert codes == [200, 409, 409, 409]
    with central.db.begin() as conn:
        assert conn.execute(select(func.count()).select_from(schema.terminals)).scalar_one() == 1


def test_two_shoppers_claiming_one_receipt_at_once_get_it_once(central: LiveServer) -> None:
    add_store(central.db)
    till = enroll(central.client, central.db)
    shoppers = [add_shopper(central.db, f"s{i}@example.com") for i in range(4)]
    pushed = push_sale(central.client, till, total=5_000)
    start = threading.Barrier(4)

    def claim(shopper: int) -> bool:
        start.wait()
        try:
            with central.db.begin() as conn:
                claim_purchase(conn, pushed.claim_code, shopper, utcnow())
            return True
        except ClaimRefused:
            return False

    with ThreadPoolExecutor(4) as pool:
        won = list(pool.map(claim, shoppers))
    assert won.count(True) == 1
    with central.db.begin() as conn:
        assert sum(shopper_points(conn, s) for s in shoppers) == 50
