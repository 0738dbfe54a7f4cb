# ruff: noqa: F811  (pytest fixtures imported from central_fixtures are parameters by name)
"""The terminal API of pos-central (/v1), on SQLite and on PostgreSQL, through a real HTTP server."""

from __future__ import annotations

from datetime import timedelta

from central_fixtures import (  # noqa: F401  (fixtures are used by name)
    LiveServer,
    add_shopper,
    add_store,
    central,
    central_db,
    enroll,
    enrollment_code,
    member_code_for,
    push_sale,
    sale_payload,
)
from sqlalchemy import select, update

from sync.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION
from sync.server import schema
from sync.server.db import utcnow
from sync.server.stores import revoke_terminal, sha256_hex

# --- hello and enrollment ----------------------------------------------------------------------------


def test_hello_names_versions_limits_and_public_url(central: LiveServer) -> None:
    body = central.client.get("/v1/hello").json()
    assert body["protocol_versions"] == [PROTOCOL_VERSION]
    assert body["max_batch_entries"] == 500
    assert body["public_url"] == central.url


def test_enrollment_gives_identity_and_keeps_only_the_token_hash(central: LiveServer) -> None:
    add_store(central.db, "S01", name="Main Street")
    terminal = enroll(central.client, central.db, "S01")
    assert terminal.code == "S01-T1"
    assert terminal.store_code == "S01"
    assert len(terminal.claim_key) == 32 and len(terminal.server_public_key) == 32
    with central.db.begin() as conn:
        row = conn.execute(select(schema.terminals).where(schema.terminals.c.id == terminal.id)).one()
    assert row.token_hash == sha256_hex(terminal.token)
    assert terminal.token not in row.token_hash


def _enroll_with(central: LiveServer, code: str) -> tuple[int, dict[str, str]]:
    response = central.client.post(
        "/v1/enroll", json={"code": code, "terminal_name": "x", "protocol_version": PROTOCOL_VERSION}
    )
    return response.status_code, response.json()


def test_an_enrollment_code_works_once(central: LiveServer) -> None:
    add_store(central.db)
    code = enrollment_code(central.db)
    assert _enroll_with(central, code)[0] == 200
    status, body = _enroll_with(central, code)
    assert status == 409
    assert body["error"] == "code_used"
    assert "already used" in body["detail"]


def test_an_expired_enrollment_code_is_refused(central: LiveServer) -> None:
    add_store(central.db)
    code = enrollment_code(central.db)
    with central.db.begin() as conn:
        conn.execute(update(schema.enrollment_codes).values(expires_at=utcnow() - timedelta(seconds=1)))
    status, body = _enroll_with(central, code)
    assert (status, body["error"]) == (409, "code_expired")
    with central.db.begin() as conn:
        assert conn.execute(select(schema.terminals)).first() is None


def test_a_wrong_enrollment_code_is_refused(central: LiveServer) -> None:
    add_store(central.db)
    enrollment_code(central.db)
    status, body = _enroll_with(central, "AAAA-BBBB-CCCC-DDDD")
    assert (status, body["error"]) == (404, "unknown_code")


def test_enrollment_codes_are_read_without_dashes_and_in_any_case(central: LiveServer) -> None:
    add_store(central.db)
    code = enrollment_code(central.db)
    assert _enroll_with(central, code.replace("-", "").lower())[0] == 200


def test_a_protocol_version_the_server_does_not_speak_gets_426(central: LiveServer) -> None:
    add_store(central.db)
    response = central.client.post(
        "/v1/enroll", json={"code": enrollment_code(central.db), "protocol_version": 0}
    )
    assert response.status_code == 422  # below the model's minimum: not a version at all
    terminal = enroll(central.client, central.db)
    response = central.client.post(
        "/v1/push",
        json={"protocol_version": PROTOCOL_VERSION + 1, "entries": [terminal.entry("cash.in", {})]},
        headers=terminal.headers,
    )
    assert response.status_code == 426
    assert response.json()["error"] == "protocol_too_new"
    old = central.client.get("/v1/changes", headers={**terminal.headers, PROTOCOL_HEADER: "0"})
    assert (old.status_code, old.json()["error"]) == (426, "protocol_too_old")
    assert "update the terminal" in old.json()["detail"]
    newer = central.client.post(
        "/v1/push", content=b"not even json", headers={**terminal.headers, PROTOCOL_HEADER: "99"}
    )
    assert (newer.status_code, newer.json()["error"]) == (426, "protocol_too_new")
    garbled = central.client.get("/v1/hello", headers={PROTOCOL_HEADER: "one"})
    assert (garbled.status_code, garbled.json()["error"]) == (400, "bad_protocol_header")
    fine = central.client.get("/v1/hello", headers={PROTOCOL_HEADER: str(PROTOCOL_VERSION)})
    assert fine.status_code == 200


# --- push ----------------------------------------------------------------------------------------------


def test_a_new_sale_is_stored_with_its_effects_before_the_answer(central: LiveServer) -> None:
    add_store(central.db)
    terminal = enroll(central.client, central.db)
    lines = [
        {
            "line_no": 1,
            "sku": "A",
            "name": "Apple",
            "unit": "piece",
            "quantity_milli": 3000,
            "unit_price": 100,
            "discount": 0,
            "total": 300,
            "tax_rate": "7",
        },
        {
            "line_no": 2,
            "sku": "B",
            "name": "Bread",
            "unit": "piece",
            "quantity_milli": 1000,
            "unit_price": 250,
            "discount": 0,
            "total": 250,
            "tax_rate": "7",
        },
    ]
    pushed = push_sale(central.client, terminal, total=550, lines=lines)
    assert pushed.response.status_code == 200, pushed.response.text
    body = pushed.response.json()
    assert body["high_seq"] == 1
    assert [r["status"] for r in body["results"]] == ["accepted"]
    with central.db.begin() as conn:
        sale = conn.execute(select(schema.sales)).one()
        lines_held = conn.execute(select(schema.sale_lines).order_by(schema.sale_lines.c.line_no)).all()
        stock = dict(conn.execute(select(schema.stock.c.sku, schema.stock.c.on_hand_milli)).all())
        tenders = conn.execute(select(schema.sale_tenders)).all()
    assert (sale.id, sale.total, sale.terminal_id) == (pushed.sale_id, 550, terminal.id)
    assert [(line.sku, line.quantity_milli) for line in lines_held] == [("A", 3000), ("B", 1000)]
    assert stock == {"A": -3000, "B": -1000}
    assert [(t.kind, t.amount) for t in tenders] == [("cash", 550)]


def test_a_retried_batch_is_answered_as_duplicates_and_applied_once(central: LiveServer) -> None:
    add_store(central.db)
    terminal = enroll(central.client, central.db)
    entries = [terminal.entry("sale.completed", sale_payload(total=100)) for _ in range(3)]
    first = terminal.push(central.client, entries).json()
    again = terminal.push(central.client, entries).json()
    assert [r["status"] for r in first["results"]] == ["accepted"] * 3
    assert [r["status"] for r in again["results"]] == ["duplicate"] * 3
    assert again["high_seq"] == 3
    with central.db.begin() as conn:
        assert len(conn.execute(select(schema.sales)).all()) == 3
        assert conn.execute(select(schema.stock.c.on_hand_milli)).scalar_one() == -3000


def test_a_known_event_id_with_another_payload_is_kept_as_a_conflict(central: LiveServer) -> None:
    add_store(central.db)
    terminal = enroll(central.client, central.db)
    original = terminal.entry("sale.completed", sale_payload(total=100))
    assert terminal.push(central.client, [original]).json()["results"][0]["status"] == "accepted"
    forged = terminal.entry(
        "sale.completed",
        sale_payload(total=999),
        seq=1,
        prev_hash=original["prev_hash"],
        event_id=original["event_id"],
        advance=False,
    )
    refused = terminal.push(central.client, [forged])
    # Other contents under a held entry: a second chain for this terminal, refused and flagged.
    assert refused.status_code == 409 and refused.json()["error"] == "terminal_forked"
    with central.db.begin() as conn:
        assert conn.execute(select(schema.terminals.c.last_high_seq)).scalar_one() == 1
        conflict = conn.execute(select(schema.conflicts)).one()
        sale = conn.execute(select(schema.sales)).one()
    assert conflict.event_id == original["event_id"]
    assert conflict.payload["total"] == 999
    assert sale.total == 100  # never overwritten


def test_another_entry_under_a_held_sequence_number_is_a_conflict(central: LiveServer) -> None:
    add_store(central.db)
    terminal = enroll(central.client, central.db)
    first = terminal.entry("cash.in", {"amount": 100})
    terminal.push(central.client, [first])
    other = terminal.entry("cash.in", {"amount": 200}, seq=1, prev_hash=first["prev_hash"], advance=False)
    refused = terminal.push(central.client, [other])
    assert refused.status_code == 409 and refused.json()["error"] == "terminal_forked"
    assert "entry 1 differs" in refused.json()["detail"]
    with central.db.begin() as conn:
        conflict = conn.execute(select(schema.conflicts)).one()
        row = conn.execute(select(schema.terminals)).one()
    assert conflict.reason == "seq_reused" and "seq 1" in conflict.detail
    assert row.forked_at is not None and "entry 1" in row.fork_detail


def test_a_malformed_payload_is_quarantined_and_later_entries_are_accepted(central: LiveServer) -> None:
    add_store(central.db)
    terminal = enroll(central.client, central.db)
    bad = terminal.entry("sale.completed", {"sale_id": "not-a-uuid", "total": "lots"})
    good = terminal.entry("sale.completed", sale_payload(total=500))
    body = terminal.push(central.client, [bad, good]).json()
    assert [r["status"] for r in body["results"]] == ["quarantined", "accepted"]
    assert "sale_id" in body["results"][0]["reason"]
    assert body["high_seq"] == 2
    with central.db.begin() as conn:
        statuses = conn.execute(select(schema.journal.c.seq, schema.journal.c.status).order_by("seq")).all()
        assert [tuple(s) for s in statuses] == [(1, "quarantined"), (2, "applied")]
        assert [s.total for s in conn.execute(select(schema.sales))] == [500]


def test_an_unknown_event_type_is_quarantined(central: LiveServer) -> None:
    add_store(central.db)
    terminal = enroll(central.client, central.db)
    body = terminal.push(central.client, [terminal.entry("sale.teleported", {})]).json()
    assert body["results"][0]["status"] == "quarantined"
    assert "unknown event type" in body["results"][0]["reason"]


def test_entries_after_a_gap_are_rejected_so_the_terminal_resends(central: LiveServer) -> None:
    add_store(central.db)
    terminal = enroll(central.client, central.db)
    one = terminal.entry("cash.in", {})
    two = terminal.entry("cash.in", {})
    three = terminal.entry("cash.in", {})
    body = terminal.push(central.client, [one, three]).json()
    assert [r["status"] for r in body["results"]] == ["accepted", "rejected"]
    assert "expects seq 2" in body["results"][1]["reason"]
    assert body["high_seq"] == 1
    body = terminal.push(central.client, [two, three]).json()
    assert [r["status"] for r in body["results"]] == ["accepted", "accepted"]
    assert body["high_seq"] == 3


def test_a_broken_chain_is_rejected_and_flagged(central: LiveServer) -> None:
    add_store(central.db)
    terminal = enroll(central.client, central.db)
    terminal.push(central.client, [terminal.entry("cash.in", {})])
    broken = terminal.entry("cash.in", {}, prev_hash="f" * 64, advance=False)
    tampered = terminal.entry("cash.in", {}, hash="e" * 64, advance=False)
    # The next entry does not link to the held head: another chain, refused (and flagged forked).
    forked = terminal.push(central.client, [broken])
    assert forked.status_code == 409 and forked.json()["error"] == "terminal_forked"
    assert "does not continue the chain held up to entry 1" in forked.json()["detail"]
    # An entry whose hash does not match its own contents is rejected as before.
    assert terminal.push(central.client, [tampered]).json()["results"][0]["status"] == "rejected"
    with central.db.begin() as conn:
        reasons = sorted(conn.execute(select(schema.conflicts.c.reason)).scalars())
    assert reasons == ["chain_broken", "chain_broken"]


def test_a_revoked_terminal_gets_401_and_nothing_is_stored(central: LiveServer) -> None:
    add_store(central.db)
    terminal = enroll(central.client, central.db)
    with central.db.begin() as conn:
        revoke_terminal(conn, terminal=terminal.code, now=utcnow())
    response = terminal.push(central.client, [terminal.entry("cash.in", {})])
    assert response.status_code == 401
    assert response.json()["error"] == "terminal_revoked"
    with central.db.begin() as conn:
        assert conn.execute(select(schema.journal)).first() is None


def test_unknown_or_missing_tokens_get_401(central: LiveServer) -> None:
    response = central.client.get("/v1/changes")
    assert (response.status_code, response.json()["error"]) == (401, "missing_token")
    response = central.client.get("/v1/changes", headers={"Authorization": "Bearer nope"})
    assert (response.status_code, response.json()["error"]) == (401, "unknown_token")


def test_terminals_sequences_do_not_collide(central: LiveServer) -> None:
    add_store(central.db)
    till_one = enroll(central.client, central.db)
    till_two = enroll(central.client, central.db)
    for till in (till_one, till_two):
        body = till.push(
            central.client, [till.entry("sale.completed", sale_payload()) for _ in range(2)]
        ).json()
        assert [r["status"] for r in body["results"]] == ["accepted", "accepted"]
        assert body["high_seq"] == 2
    with central.db.begin() as conn:
        held = sorted(conn.execute(select(schema.journal.c.terminal_id, schema.journal.c.seq)).all())
    assert [tuple(h) for h in held] == [
        (till_one.id, 1),
        (till_one.id, 2),
        (till_two.id, 1),
        (till_two.id, 2),
    ]


def test_the_store_comes_from_the_token_not_the_body(central: LiveServer) -> None:
    add_store(central.db, "S01")
    add_store(central.db, "S02", name="Harbour")
    till = enroll(central.client, central.db, "S02")
    push_sale(central.client, till)
    with central.db.begin() as conn:
        store_id = conn.execute(select(schema.sales.c.store_id)).scalar_one()
        code = conn.execute(select(schema.stores.c.code).where(schema.stores.c.id == store_id)).scalar_one()
    assert code == "S02"


def test_push_records_queue_clock_offset_and_last_seen(central: LiveServer) -> None:
    add_store(central.db)
    till = enroll(central.client, central.db)
    ahead = (utcnow() + timedelta(minutes=5)).isoformat()
    till.push(central.client, [till.entry("cash.in", {})], queued=42, client_time=ahead)
    with central.db.begin() as conn:
        row = conn.execute(select(schema.terminals)).one()
    assert row.last_queued == 42
    assert row.last_high_seq == 1
    assert 4 * 60_000 < row.clock_offset_ms < 6 * 60_000
    assert row.last_seen_at is not None


def test_a_member_sale_credits_points_to_the_member(central: LiveServer) -> None:
    add_store(central.db)
    shopper = add_shopper(central.db)
    till = enroll(central.client, central.db)
    push_sale(
        central.client,
        till,
        total=12_345,
        member_id=shopper,
        member_code=member_code_for(central.db, shopper),
    )
    from sync.server.claims import shopper_points

    with central.db.begin() as conn:
        assert shopper_points(conn, shopper) == 123
