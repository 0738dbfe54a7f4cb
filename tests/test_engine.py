"""The sync engine's promises, against a stand-in server: order, batching, advancing only on the
server's acknowledgement, failure kinds in the status, one round at a time, and the timer loop."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import tenacity
from sync_support import T0, MemoryStore, StandInCentral, make_journal, until

from sync.client import CentralClient, Offline, Rejected
from sync.engine import (
    FileLock,
    PullProgress,
    SyncEngine,
    SyncLoop,
    SyncStatus,
    _BackoffHonouringRetryAfter,
    _RoundFailed,
    status_line,
)
from sync.protocol import EntryResult
from sync.transport import Fault, FaultyTransport


def engine_for(
    central: StandInCentral, store: MemoryStore, *, fault: FaultyTransport | None = None, **kwargs: object
) -> SyncEngine:
    transport: httpx.BaseTransport = fault or httpx.MockTransport(central)
    client = CentralClient("http://central.test", httpx.Client(transport=transport), "tok")
    return SyncEngine(client, store, lambda: T0 + timedelta(days=1), **kwargs)  # type: ignore[arg-type]


def test_a_round_pushes_everything_in_order_in_server_sized_batches() -> None:
    central = StandInCentral(max_batch=40)
    store = MemoryStore(journal=make_journal(130))
    report = engine_for(central, store).round()
    assert report.ok, report.summary()
    assert [len(b) for b in central.pushes] == [40, 40, 40, 10]
    assert [s for b in central.pushes for s in b] == list(range(1, 131))
    assert store.acked == 130 and report.high_seq == 130
    assert report.accepted == 130 and report.duplicates == 0
    assert store.queued_count() == 0


def test_batches_also_respect_the_byte_limit() -> None:
    central = StandInCentral()
    store = MemoryStore(journal=make_journal(50))
    engine = engine_for(central, store)
    engine.round()  # learns limits from hello, then we tighten the byte limit
    store.append(make_journal(50, start=51, prev_hash=store.journal[-1].hash))
    engine.max_batch_bytes = 8 * 1024
    engine.round()
    later = central.pushes[1:]
    assert len(later) > 1
    assert [s for b in later for s in b] == list(range(51, 101))


@pytest.mark.parametrize(
    "fault", [Fault.ERROR_500_AFTER_COMMIT, Fault.TIMEOUT_AFTER_COMMIT, Fault.RESET_AFTER_COMMIT]
)
def test_a_lost_answer_leaves_the_entries_queued_and_the_retry_is_answered_as_duplicates(
    fault: Fault,
) -> None:
    central = StandInCentral()
    store = MemoryStore(journal=make_journal(5))
    faulty = FaultyTransport(httpx.MockTransport(central))
    engine = engine_for(central, store, fault=faulty)
    faulty.arm(fault)
    first = engine.round()
    assert isinstance(first.error, Offline)
    assert store.acked == 0, "the terminal advanced without the server's acknowledgement"
    assert central.high_seq() == 5, "the server committed"
    assert engine.status.state == "offline" and engine.status.queued == 5

    second = engine.round()
    assert second.ok
    assert second.duplicates == 5 and second.accepted == 0
    assert store.acked == 5 and engine.status.state == "online" and engine.status.queued == 0


def test_a_request_delivered_twice_is_held_once() -> None:
    central = StandInCentral()
    store = MemoryStore(journal=make_journal(3))
    faulty = FaultyTransport(httpx.MockTransport(central))
    faulty.arm(Fault.DELIVER_TWICE)
    report = engine_for(central, store, fault=faulty).round()
    assert report.ok
    assert central.pushes == [[1, 2, 3], [1, 2, 3]]
    assert sorted(central.held) == [1, 2, 3]
    assert store.acked == 3


class RefusingStore(MemoryStore):
    """Like the ledger: refuses an acknowledgement beyond its own journal."""

    def record_push(self, high_seq: int, flagged: list[EntryResult]) -> None:
        if high_seq > len(self.journal):
            raise Rejected(f"the server acknowledged seq {high_seq}, which this journal does not hold")
        super().record_push(high_seq, flagged)


def test_acknowledgements_are_written_while_the_next_batch_travels_and_all_before_the_round_ends() -> None:
    central = StandInCentral(max_batch=10)
    store = MemoryStore(journal=make_journal(35))
    written: list[tuple[int, str]] = []
    record = store.record_push

    def record_push(high_seq: int, flagged: list[EntryResult]) -> None:
        written.append((high_seq, threading.current_thread().name))
        record(high_seq, flagged)

    store.record_push = record_push  # type: ignore[method-assign]
    report = engine_for(central, store).round()
    assert report.ok, report.summary()
    assert [high for high, _ in written] == [10, 20, 30, 35]
    assert all(thread != threading.current_thread().name for _, thread in written)
    assert store.acked == 35 and report.high_seq == 35


def test_a_refused_acknowledgement_stops_the_round_before_another_batch_is_sent() -> None:
    # A terminal restored from an old backup: head office holds 1..5, the terminal's journal
    # continues differently after 2. The acknowledgement is written on another thread; its
    # refusal still ends the round as rejected, with nothing after entry 2 sent.
    old = make_journal(5)
    central = StandInCentral(max_batch=2)
    central.held = {e.seq: e.hash for e in old}
    store = RefusingStore(journal=old[:2] + make_journal(2, start=3, prev_hash=old[1].hash))
    report = engine_for(central, store).round()
    assert report.error is not None and report.error.kind.value == "rejected"
    assert central.pushes == [[1, 2]]
    assert store.acked == 0


def test_the_server_refusing_the_first_entry_stops_the_round_as_rejected() -> None:
    central = StandInCentral()
    central.held = {1: "x" * 64}  # the server holds a different entry 1: ours conflicts
    store = MemoryStore(journal=make_journal(2))
    report = engine_for(central, store).round()
    assert report.error is not None and report.error.kind.value == "rejected"
    assert store.acked == 1  # the server holds seq 1 (its own version), and says so
    assert [r.status.value for r in report.flagged] == ["conflict"]
    assert "entry 2" in report.summary()
    engine = engine_for(central, store)
    again = engine.round()
    assert again.error is not None and again.error.kind.value == "rejected"
    assert engine.status.flagged == 1, "a conflict sent again was counted twice"


def test_revoked_terminal_stops_and_says_call_it() -> None:
    central = StandInCentral()
    central.fail_next = [
        httpx.Response(200, json={**_hello()}),
        httpx.Response(401, json=_err("token_revoked")),
    ]
    store = MemoryStore(journal=make_journal(2))
    engine = engine_for(central, store)
    report = engine.round()
    assert report.error is not None and report.error.kind.value == "revoked"
    assert engine.status.state == "revoked"
    assert "call IT" in status_line(engine.status)
    assert store.acked == 0 and store.status is not None and store.status.state == "revoked"


def test_pull_applies_every_page_and_reports_progress() -> None:
    pages = [
        {
            "changes": [
                {
                    "seq": i,
                    "kind": "product",
                    "key": f"SKU-{i}",
                    "data": {"price": i},
                    "update_id": "u1",
                    "last_in_update": i == 5,
                }
            ],
            "snapshot": i == 1,
        }
        for i in range(1, 6)
    ]
    central = StandInCentral(pages=pages)
    store = MemoryStore()
    seen: list[PullProgress] = []
    report = engine_for(central, store, on_progress=seen.append).round()
    assert report.ok and report.pages == 5 and report.changes == 5 and report.snapshot
    assert store.feed_cursor == "5"
    assert [p.done for p in seen] == [False, False, False, False, True]
    assert len(store.applied) == 5


def test_status_reports_lag_queue_and_clock_offset() -> None:
    central = StandInCentral()
    store = MemoryStore(journal=make_journal(3))
    central.fail_next = [httpx.Response(503, headers={"Retry-After": "30"}, json=_err("busy"))]
    engine = engine_for(central, store)
    engine.round()
    status = engine.status
    assert status.state == "offline" and status.queued == 3
    assert status.lag_seconds == pytest.approx(timedelta(days=1).total_seconds())
    assert status.last_error_kind == "offline" and "503" in (status.last_error or "")
    assert status.last_success_at is None
    # The stand-in's clock is the real one; the engine's is a fake a day ahead of T0.
    engine.round()
    assert engine.status.state == "online" and engine.status.lag_seconds == 0
    assert engine.status.clock_offset_seconds is not None
    assert SyncStatus.from_json(engine.status.to_json()) == engine.status


def test_two_rounds_at_once_never_overlap(tmp_path: Path) -> None:
    central = StandInCentral(max_batch=10)
    store = MemoryStore(journal=make_journal(300))
    lock_path = tmp_path / "sync.lock"
    engines = [engine_for(central, store, lock=FileLock(lock_path)) for _ in range(2)]
    reports = []
    barrier = threading.Barrier(2)

    def run(engine: SyncEngine) -> None:
        barrier.wait()
        reports.append(engine.round(wait_for_lock=30))

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert central.max_in_flight == 1
    assert sorted(central.held) == list(range(1, 301))
    assert sum(r.accepted for r in reports) == 300
    assert sum(r.duplicates for r in reports) == 0, "the second round re-sent what the first had pushed"


def test_a_busy_lock_makes_a_round_skip_without_touching_the_network(tmp_path: Path) -> None:
    central = StandInCentral()
    store = MemoryStore(journal=make_journal(1))
    lock = FileLock(tmp_path / "sync.lock")
    engine = engine_for(central, store, lock=FileLock(tmp_path / "sync.lock"))
    with lock.hold(0) as held:
        assert held
        report = engine.round()
    assert report.busy and "another sync" in report.summary()
    assert central.pushes == []


def test_backoff_grows_is_capped_and_honours_retry_after() -> None:
    wait = _BackoffHonouringRetryAfter(initial=1.0, cap=300.0)
    state = tenacity.RetryCallState(retry_object=tenacity.Retrying(), fn=None, args=(), kwargs={})
    state.set_exception((_RoundFailed, _RoundFailed(Offline("down")), None))
    delays = []
    for attempt in range(1, 30):
        state.attempt_number = attempt
        delays.append(wait(state))
    assert all(0 <= d <= 300 for d in delays)
    assert max(delays[15:]) > 10  # it does grow
    state.set_exception((_RoundFailed, _RoundFailed(Offline("busy", retry_after=120.0)), None))
    state.attempt_number = 1
    assert wait(state) >= 120.0


def test_the_loop_keeps_trying_in_the_background_until_the_server_answers() -> None:
    central = StandInCentral()
    central.fail_next = [httpx.Response(503, json=_err("down")) for _ in range(3)]
    store = MemoryStore(journal=make_journal(20))
    engine = engine_for(central, store)
    loop = SyncLoop(engine, interval=3600, initial=0.01, cap=0.05)
    started = time.monotonic()
    loop.start()
    try:
        deadline = time.monotonic() + 20
        while store.acked < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        loop.stop()
    assert store.acked == 20
    assert loop.rounds >= 4
    assert not loop.running
    assert time.monotonic() - started < 3600  # stop() interrupted the hour-long wait


def test_the_loop_wakes_on_sync_now() -> None:
    central = StandInCentral()
    store = MemoryStore()
    engine = engine_for(central, store)
    loop = SyncLoop(engine, interval=3600)
    loop.start()
    try:
        deadline = time.monotonic() + 10
        while loop.rounds < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        store.append(make_journal(4))
        loop.sync_now()
        while store.acked < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        loop.stop()
    assert store.acked == 4


def price_page(seq: int, sku: str, price: int) -> dict[str, object]:
    return {
        "changes": [
            {
                "seq": seq,
                "kind": "product",
                "key": sku,
                "data": {"price": price},
                "update_id": f"u{seq}",
                "last_in_update": True,
            }
        ]
    }


@pytest.fixture
def watching() -> Iterator[tuple[StandInCentral, MemoryStore, SyncLoop]]:
    """A loop that waits on the change feed (hour-long timer), started and caught up."""
    central = StandInCentral()
    store = MemoryStore()
    loop = SyncLoop(engine_for(central, store), interval=3600, watch=30)
    loop.start()
    try:
        until(lambda: central.waiting == 1, "the first long-poll")
        yield central, store, loop
    finally:
        loop.stop()


def test_the_loop_waits_on_the_change_feed_and_applies_a_change_when_it_is_saved(
    watching: tuple[StandInCentral, MemoryStore, SyncLoop],
) -> None:
    central, store, loop = watching
    assert central.feed_requests[-1] == (store.feed_cursor, 30.0), "the loop did not ask with wait="
    assert loop.rounds == 1
    central.add_page(price_page(1, "TEA", 499))  # head office saves a price: no sync_now, no timer
    until(lambda: store.applied.get(("product", "TEA")) == {"price": 499}, "the new price applied")
    until(lambda: central.waiting == 1, "waiting again from the new cursor")
    assert central.feed_requests[-1] == ("1", 30.0)
    # The round applied the page the long-poll brought instead of asking for it again.
    assert central.pages_served == [0]
    assert loop.rounds == 2 and loop.engine.status.state == "online"


def test_a_sale_during_a_pending_long_poll_is_pushed_at_once_and_one_long_poll_at_a_time(
    watching: tuple[StandInCentral, MemoryStore, SyncLoop],
) -> None:
    central, store, loop = watching
    store.append(make_journal(3))
    loop.sync_now()
    until(lambda: store.acked == 3, "the sale pushed")
    assert central.waiting == 1, "the long-poll was dropped for the push"
    central.add_page(price_page(1, "TEA", 499))
    until(lambda: ("product", "TEA") in store.applied, "the change after the push")
    assert central.max_waiting == 1, "two long-polls were held at once"


def test_a_long_poll_that_fails_shows_offline_at_once_and_the_loop_backs_off_and_recovers(
    watching: tuple[StandInCentral, MemoryStore, SyncLoop],
) -> None:
    central, _, loop = watching
    central.fail_next = [httpx.Response(503, json=_err("down"))]
    central.answer_waiters(httpx.Response(503, json=_err("down")))  # head office goes away
    # The failed long-poll starts a round at once; it fails too: the cashier sees offline.
    until(lambda: loop.engine.status.state == "offline", "offline shown")
    assert loop.engine.status.last_error_kind == "offline"
    # Head office is back: the backoff's next round succeeds and the watch resumes.
    until(lambda: loop.engine.status.state == "online", "online again")
    until(lambda: central.waiting == 1, "waiting on the feed again")


def test_a_terminal_revoked_during_a_long_poll_stops_syncing(
    watching: tuple[StandInCentral, MemoryStore, SyncLoop],
) -> None:
    central, _, loop = watching
    central.fail_next = [httpx.Response(401, json=_err("terminal_revoked"))]
    central.answer_waiters(httpx.Response(401, json=_err("terminal_revoked")))
    until(lambda: loop.engine.status.state == "revoked", "revoked shown")
    asked = len(central.feed_requests)
    rounds = loop.rounds
    loop.stop()
    assert "call IT" in status_line(loop.engine.status)
    assert central.waiting == 0 and len(central.feed_requests) == asked and loop.rounds == rounds


def test_status_line_shows_what_the_cashier_needs() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    status = SyncStatus(
        state="offline",
        queued=12,
        last_success_at=(now - timedelta(minutes=30)).isoformat(),
        lag_seconds=1800,
        clock_offset_seconds=-600,
    )
    line = status_line(status, now)
    assert line.startswith("offline")
    assert "12 queued" in line and "30 min ago" in line and "clock off by 10 min" in line
    assert "clock" not in status_line(SyncStatus(state="online", clock_offset_seconds=3.0), now)


def _hello() -> dict[str, object]:
    return {
        "protocol_versions": [1],
        "server_time": datetime.now(UTC).isoformat(),
        "max_batch_entries": 500,
        "max_batch_bytes": 4_000_000,
        "public_url": "http://central.test",
    }


def _err(code: str) -> dict[str, str]:
    return {"error": code, "detail": f"{code} (test)"}


def test_a_forked_terminal_stops_pushing_until_asked() -> None:
    """409 terminal_forked: retrying cannot help (the chains differ), so the loop waits for a person
    (sync_now, `pos sync`) exactly as after a revocation; with a backoff of 0.1 ms a loop that kept
    retrying would be far past two rounds by the time the second one is asked for."""
    central = StandInCentral()
    pushes: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/push":
            pushes.append(1)
            return httpx.Response(409, json=_err("terminal_forked"))
        return central(request)

    store = MemoryStore(journal=make_journal(3))
    client = CentralClient("http://central.test", httpx.Client(transport=httpx.MockTransport(handler)), "tok")
    engine = SyncEngine(client, store, lambda: T0 + timedelta(days=1))
    loop = SyncLoop(engine, interval=3600.0, initial=0.0001, cap=0.0001)
    loop.start()
    try:
        until(lambda: loop.rounds >= 1 and engine.status.state == "forked", "forked shown")
        assert loop.rounds == 1 and len(pushes) == 1
        assert "another device" in status_line(engine.status) and store.queued_count() == 3
        loop.sync_now()
        until(lambda: loop.rounds >= 2, "the round asked for")
    finally:
        loop.stop()
    assert loop.rounds == 2 and len(pushes) == 2
