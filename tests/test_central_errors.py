# ruff: noqa: F811  (pytest fixtures imported from central_fixtures are parameters by name)
"""Errors of the terminal API: always a 4xx with an ErrorBody; 429 with Retry-After when busy."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
from central_fixtures import (  # noqa: F401  (fixtures are used by name)
    LiveServer,
    add_store,
    central,
    central_db,
    enroll,
    live_server,
    sale_payload,
)

from sync.protocol import MAX_BATCH_BYTES, PROTOCOL_VERSION
from sync.server.db import Database


def test_a_bad_field_gets_422_naming_it(central: LiveServer) -> None:
    add_store(central.db)
    till = enroll(central.client, central.db)
    entry = till.entry("cash.in", {}, advance=False)
    response = till.push(central.client, [{**entry, "seq": 0}])
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_request"
    assert "entries.0.seq" in body["detail"]


def test_a_body_that_is_not_json_gets_422(central: LiveServer) -> None:
    response = central.client.post(
        "/v1/enroll", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert set(response.json()) == {"error", "detail"}


def test_an_oversized_body_gets_413_unread(central: LiveServer) -> None:
    response = central.client.post(
        "/v1/push", content=b"x" * (MAX_BATCH_BYTES + 100_000), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"


def test_huge_numbers_and_nul_characters_get_4xx_or_quarantine(central: LiveServer) -> None:
    add_store(central.db)
    till = enroll(central.client, central.db)
    huge = till.entry("sale.completed", sale_payload(total=10**30))
    body = till.push(central.client, [huge], queued=10**30).json()
    assert body["results"][0]["status"] == "quarantined"
    assert "out of range" in body["results"][0]["reason"]
    nul = till.entry("sale.completed", sale_payload(receipt_no="R\x001"))
    assert till.push(central.client, [nul]).json()["results"][0]["status"] == "quarantined"
    response = central.client.post(
        "/v1/enroll",
        json={"code": "AAAA-\x00", "terminal_name": "\x00", "protocol_version": PROTOCOL_VERSION},
    )
    assert 400 <= response.status_code < 500


def test_text_that_is_not_valid_unicode_gets_422(central: LiveServer) -> None:
    add_store(central.db)
    till = enroll(central.client, central.db)
    entry = till.entry("cash.in", {"note": "PLACEHOLDER"}, advance=False)
    body = json.dumps({"protocol_version": PROTOCOL_VERSION, "entries": [entry]})
    body = body.replace("PLACEHOLDER", "\\ud800")  # a lone surrogate, legal in JSON, not in UTF-8
    response = central.client.post(
        "/v1/push", content=body.encode(), headers={**till.headers, "Content-Type": "application/json"}
    )
    assert (response.status_code, response.json()["error"]) == (422, "invalid_text")
    long_id = till.entry("return.completed", sale_payload(total=-100, original_sale_id="x" * 100))
    assert till.push(central.client, [long_id]).json()["results"][0]["status"] == "quarantined"


def test_unknown_paths_and_methods_get_an_error_body(central: LiveServer) -> None:
    response = central.client.get("/v1/nothing-here")
    assert (response.status_code, response.json()["error"]) == (404, "not_found")
    response = central.client.delete("/v1/push")
    assert (response.status_code, response.json()["error"]) == (405, "method_not_allowed")


def test_a_terminal_over_its_rate_gets_429_with_retry_after(central_db: Database) -> None:
    with live_server(central_db, terminal_rate_per_second=0.2, terminal_burst=3) as server:
        add_store(server.db)
        till = enroll(server.client, server.db)
        statuses = [server.client.get("/v1/changes", headers=till.headers).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        response = server.client.get("/v1/changes", headers=till.headers)
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) >= 1
        assert response.json()["error"] == "rate_limited"
        other = enroll(server.client, server.db)
        assert server.client.get("/v1/changes", headers=other.headers).status_code == 200


def test_pushes_beyond_the_concurrency_cap_get_429_not_errors(central_db: Database) -> None:
    with live_server(central_db, max_concurrent_pushes=0, retry_after_seconds=3) as server:
        add_store(server.db)
        till = enroll(server.client, server.db)
        response = till.push(server.client, [till.entry("cash.in", {})])
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "3"
        assert response.json()["error"] == "server_busy"


def test_many_terminals_pushing_at_once_get_answers_or_429(central_db: Database) -> None:
    with live_server(central_db, max_concurrent_pushes=2, retry_after_seconds=1) as server:
        add_store(server.db)
        tills = [enroll(server.client, server.db) for _ in range(12)]

        def push_until_held(index: int) -> list[int]:
            till = tills[index]
            entries = [till.entry("sale.completed", sale_payload(total=100)) for _ in range(20)]
            seen = []
            with httpx.Client(base_url=server.url, timeout=60) as client:
                for _ in range(200):
                    response = till.push(client, entries)
                    seen.append(response.status_code)
                    if response.status_code == 200:
                        assert response.json()["high_seq"] == 20
                        break
            return seen

        with ThreadPoolExecutor(max_workers=12) as pool:
            outcomes = list(pool.map(push_until_held, range(12)))
    assert all(set(seen) <= {200, 429} for seen in outcomes), outcomes
    assert all(seen[-1] == 200 for seen in outcomes)
