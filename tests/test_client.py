"""The sync client sorts every way a call can end into the four failure kinds, and measures the clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from sync.client import (
    PROTOCOL_HEADER,
    CentralClient,
    FailureKind,
    Offline,
    ProtocolTooOld,
    Rejected,
    Revoked,
    parse_retry_after,
)
from sync.protocol import GENESIS_HASH, JournalEntry, chain_hash, entry_body

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def hello_body(server_time: datetime = NOW) -> dict[str, object]:
    return {
        "protocol_versions": [1],
        "server_time": server_time.isoformat(),
        "max_batch_entries": 200,
        "max_batch_bytes": 1_000_000,
        "public_url": "http://central.example",
    }


def client_for(
    handler: httpx.MockTransport | object, *, token: str | None = "tok", now: float | None = None
) -> CentralClient:
    transport = handler if isinstance(handler, httpx.BaseTransport) else httpx.MockTransport(handler)  # type: ignore[arg-type]
    return CentralClient(
        "http://central.example/",
        httpx.Client(transport=transport),
        token,
        now=(lambda: now) if now is not None else (lambda: NOW.timestamp()),
    )


def one_entry(seq: int = 1) -> JournalEntry:
    body = entry_body(
        seq=seq,
        event_id="0193f3a2-0000-7000-8000-000000000001",
        type="sale.completed",
        schema_version=1,
        occurred_at=NOW.isoformat(),
        payload={"x": 1},
    )
    return JournalEntry(**body, prev_hash=GENESIS_HASH, hash=chain_hash(GENESIS_HASH, body))


def test_hello_sends_the_protocol_version_and_no_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=hello_body())

    hello = client_for(handler).hello()
    assert hello.max_batch_entries == 200
    assert seen[0].url.path == "/v1/hello"
    assert seen[0].headers[PROTOCOL_HEADER] == "1"
    assert "Authorization" not in seen[0].headers


def test_push_sends_the_bearer_token_and_the_batch() -> None:
    seen: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == "Bearer tok"
        seen.append(json.loads(request.content))
        return httpx.Response(
            200,
            json={
                "results": [{"seq": 1, "event_id": one_entry().event_id, "status": "accepted"}],
                "high_seq": 1,
                "server_time": NOW.isoformat(),
            },
        )

    answer = client_for(handler).push([one_entry()], queued=7)
    assert answer.high_seq == 1
    assert seen[0]["queued"] == 7
    assert seen[0]["protocol_version"] == 1
    assert [e["seq"] for e in seen[0]["entries"]] == [1]  # type: ignore[index, union-attr]


def test_a_call_needing_a_token_without_one_is_revoked_without_sending() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing may be sent")

    with pytest.raises(Revoked, match="not enrolled"):
        client_for(handler, token=None).changes(None)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, Revoked),
        (426, ProtocolTooOld),
        (400, Rejected),
        (404, Rejected),
        (409, Rejected),
        (422, Rejected),
        (429, Offline),
        (500, Offline),
        (502, Offline),
        (503, Offline),
    ],
)
def test_http_statuses_map_to_the_four_kinds(status: int, kind: type[Exception]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"error": "some_code", "detail": "what was wrong"})

    with pytest.raises(kind) as caught:
        client_for(handler).changes("c1")
    assert str(status) in str(caught.value)
    if status < 500 and status != 429:
        assert caught.value.body is not None  # type: ignore[attr-defined]
        assert caught.value.body.error == "some_code"  # type: ignore[attr-defined]


def test_429_carries_retry_after_seconds_and_http_dates() -> None:
    def seconds(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429, headers={"Retry-After": "17"}, json={"error": "slow_down", "detail": "busy"}
        )

    with pytest.raises(Offline) as caught:
        client_for(seconds).push([one_entry()])
    assert caught.value.retry_after == 17.0
    assert caught.value.kind is FailureKind.OFFLINE

    later = (NOW + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(later, now=NOW.timestamp()) == pytest.approx(90.0)
    assert parse_retry_after("soon", now=NOW.timestamp()) is None
    assert parse_retry_after(None, now=0) is None


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("refused"),
        httpx.ReadError("reset by peer"),
        httpx.WriteError("broken pipe"),
        httpx.RemoteProtocolError("server disconnected"),
        httpx.ReadTimeout("slow"),
        httpx.ConnectTimeout("slow"),
        httpx.PoolTimeout("busy"),
    ],
)
def test_network_failures_are_offline(error: Exception) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(Offline) as caught:
        client_for(handler).push([one_entry()])
    assert caught.value.retry_after is None


def test_an_answer_that_is_not_the_protocol_is_offline_not_a_crash() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>captive portal</html>")

    with pytest.raises(Offline, match="does not follow the protocol"):
        client_for(handler).push([one_entry()])


def test_clock_offset_is_measured_from_server_time() -> None:
    server_ahead = NOW + timedelta(minutes=10)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=hello_body(server_ahead))

    client = client_for(handler)
    assert client.clock_offset is None
    client.hello()
    assert client.clock_offset == pytest.approx(600.0)


def test_clock_offset_is_measured_from_the_date_header_even_on_an_error() -> None:
    server_behind = NOW - timedelta(hours=1)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            503,
            headers={"Date": server_behind.strftime("%a, %d %b %Y %H:%M:%S GMT")},
            json={"error": "down", "detail": "maintenance"},
        )

    client = client_for(handler)
    with pytest.raises(Offline):
        client.hello()
    assert client.clock_offset == pytest.approx(-3600.0, abs=1.0)


def test_stock_quotes_the_sku_and_reads_the_levels() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.raw_path == b"/v1/stock/A%2FB%20C"
        return httpx.Response(200, json=[{"store_code": "S1", "store_name": "Main", "on_hand_milli": 5000}])

    levels = client_for(handler).stock("A/B C")
    assert [(lvl.store_code, lvl.on_hand_milli) for lvl in levels] == [("S1", 5000)]
