# ruff: noqa: F811  (pytest fixtures imported from central_fixtures are parameters by name)
"""Claiming in-store purchases with the receipt code, and points, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from central_fixtures import (  # noqa: F401  (fixtures are used by name)
    LiveServer,
    add_shopper,
    add_store,
    central,
    central_db,
    enroll,
    member_code_for,
    push_sale,
    sale_payload,
)
from sqlalchemy import select

from sync.codes import make_claim_code, new_claim_key
from sync.server import schema
from sync.server.claims import (
    ClaimRefused,
    ClaimStatus,
    check_claim,
    claim_purchase,
    shopper_points,
    shopper_purchases,
)
from sync.server.db import utcnow


def _shop(central: LiveServer):  # type: ignore[no-untyped-def]
    add_store(central.db)
    return enroll(central.client, central.db)


def test_a_forged_code_is_refused_before_any_sale_arrives(central: LiveServer) -> None:
    till = _shop(central)
    forged = make_claim_code(terminal_id=till.id, claim_key=new_claim_key(), today=utcnow().date())
    unknown_till = make_claim_code(terminal_id=till.id + 100, claim_key=till.claim_key, today=utcnow().date())
    shopper = add_shopper(central.db)
    with central.db.begin() as conn:
        assert check_claim(conn, forged.text, utcnow().date()).status is ClaimStatus.FORGED
        assert check_claim(conn, unknown_till.text, utcnow().date()).status is ClaimStatus.FORGED
        assert check_claim(conn, "HELLO", utcnow().date()).status is ClaimStatus.MALFORMED
        with pytest.raises(ClaimRefused) as refused:
            claim_purchase(conn, forged.text, shopper, utcnow())
    assert refused.value.check.status is ClaimStatus.FORGED
    with central.db.begin() as conn:
        assert conn.execute(select(schema.claims)).first() is None


def test_an_expired_code_says_so(central: LiveServer) -> None:
    till = _shop(central)
    old = till.claim_code(today=utcnow().date() - timedelta(days=40), ttl_days=30)
    with central.db.begin() as conn:
        check = check_claim(conn, old.text, utcnow().date())
    assert check.status is ClaimStatus.EXPIRED
    assert old.expires_on.isoformat() in check.message


def test_a_pending_claim_becomes_a_purchase_when_the_sale_arrives(central: LiveServer) -> None:
    till = _shop(central)
    shopper = add_shopper(central.db)
    code = till.claim_code()
    with central.db.begin() as conn:
        assert check_claim(conn, code.text.lower(), utcnow().date()).status is ClaimStatus.PENDING
        outcome = claim_purchase(conn, code.text.lower(), shopper, utcnow())
    assert outcome.status is ClaimStatus.PENDING and outcome.sale_id is None
    with central.db.begin() as conn:
        assert [p.how for p in shopper_purchases(conn, shopper)] == ["pending"]
        assert shopper_points(conn, shopper) == 0
    pushed = push_sale(central.client, till, total=4_250, claim_code=code.text)
    assert pushed.response.json()["results"][0]["status"] == "accepted"
    with central.db.begin() as conn:
        sale = conn.execute(select(schema.sales)).one()
        claim = conn.execute(select(schema.claims)).one()
        assert (sale.member_id, sale.points) == (shopper, 42)
        assert claim.sale_id == pushed.sale_id
        assert shopper_points(conn, shopper) == 42
        purchases = shopper_purchases(conn, shopper)
    assert [(p.how, p.sale.total if p.sale else None) for p in purchases] == [("claimed", 4_250)]


def test_a_code_whose_sale_is_here_is_claimed_at_once(central: LiveServer) -> None:
    till = _shop(central)
    shopper = add_shopper(central.db)
    pushed = push_sale(central.client, till, total=999)
    with central.db.begin() as conn:
        check = check_claim(conn, pushed.claim_code, utcnow().date())
        assert check.status is ClaimStatus.READY
        assert check.sale is not None and check.sale.total == 999 and check.sale.store_name == "Main Street"
        outcome = claim_purchase(conn, pushed.claim_code, shopper, utcnow())
    assert (outcome.status, outcome.points, outcome.sale_id) == (ClaimStatus.READY, 9, pushed.sale_id)
    with central.db.begin() as conn:
        assert shopper_points(conn, shopper) == 9


def test_a_purchase_is_claimed_at_most_once(central: LiveServer) -> None:
    till = _shop(central)
    first = add_shopper(central.db, "first@example.com")
    second = add_shopper(central.db, "second@example.com")
    pushed = push_sale(central.client, till, total=2_000)
    with central.db.begin() as conn:
        claim_purchase(conn, pushed.claim_code, first, utcnow())
    for shopper in (second, first):
        with central.db.begin() as conn, pytest.raises(ClaimRefused) as refused:
            claim_purchase(conn, pushed.claim_code, shopper, utcnow())
        assert refused.value.check.status is ClaimStatus.CLAIMED
        assert refused.value.check.shopper_id == first
    with central.db.begin() as conn:
        assert shopper_points(conn, first) == 20
        assert shopper_points(conn, second) == 0
        assert len(conn.execute(select(schema.claims)).all()) == 1


def test_a_pending_code_is_claimed_at_most_once(central: LiveServer) -> None:
    till = _shop(central)
    first = add_shopper(central.db, "first@example.com")
    second = add_shopper(central.db, "second@example.com")
    code = till.claim_code().text
    with central.db.begin() as conn:
        claim_purchase(conn, code, first, utcnow())
    with central.db.begin() as conn, pytest.raises(ClaimRefused):
        claim_purchase(conn, code, second, utcnow())


def test_a_sale_made_with_a_member_code_cannot_be_claimed_by_someone_else(central: LiveServer) -> None:
    till = _shop(central)
    member = add_shopper(central.db, "member@example.com")
    other = add_shopper(central.db, "other@example.com")
    code = member_code_for(central.db, member)
    pushed = push_sale(central.client, till, total=1_500, member_id=member, member_code=code)
    with central.db.begin() as conn:
        assert check_claim(conn, pushed.claim_code, utcnow().date()).status is ClaimStatus.CLAIMED
        with pytest.raises(ClaimRefused):
            claim_purchase(conn, pushed.claim_code, other, utcnow())
        assert shopper_points(conn, member) == 15


def test_a_return_of_a_member_purchase_takes_its_points_back(central: LiveServer) -> None:
    till = _shop(central)
    member = add_shopper(central.db)
    code = member_code_for(central.db, member)
    pushed = push_sale(central.client, till, total=3_000, member_id=member, member_code=code)
    refund = sale_payload(total=-3_000, original_sale_id=pushed.sale_id)
    body = till.push(central.client, [till.entry("return.completed", refund)]).json()
    assert body["results"][0]["status"] == "accepted"
    with central.db.begin() as conn:
        assert shopper_points(conn, member) == 0
        stock = conn.execute(select(schema.stock.c.on_hand_milli)).scalar_one()
    assert stock == 0  # sold one, took it back


def test_a_sale_with_a_code_of_another_terminal_is_stored_without_the_code(central: LiveServer) -> None:
    till = _shop(central)
    other = enroll(central.client, central.db)
    code = other.claim_code().text
    push_sale(central.client, till, claim_code=code)
    with central.db.begin() as conn:
        assert conn.execute(select(schema.sales.c.claim_nonce)).scalar_one() is None
        assert check_claim(conn, code, utcnow().date()).status is ClaimStatus.PENDING


@pytest.mark.parametrize("case", ["forged_mac", "expired"])
def test_a_pushed_claim_code_is_checked_for_its_mac_and_expiry_not_only_parsed(
    central: LiveServer, case: str
) -> None:
    """A pushed sale keeps only a claim code that is genuine for its terminal and unexpired on the
    day of the sale; anything else is stored without the code (nobody can claim the sale by it)."""
    till = _shop(central)
    today = utcnow().date()
    if case == "forged_mac":
        code = make_claim_code(terminal_id=till.id, claim_key=new_claim_key(), today=today).text
    else:
        code = till.claim_code(today=today - timedelta(days=40), ttl_days=30).text
    pushed = push_sale(central.client, till, claim_code=code)
    assert pushed.response.status_code == 200
    with central.db.begin() as conn:
        assert conn.execute(select(schema.sales.c.claim_nonce)).scalar_one() is None
    # The genuine code of the same till on the same day is kept.
    good = till.claim_code(today=today).text
    push_sale(central.client, till, claim_code=good)
    with central.db.begin() as conn:
        nonces = conn.execute(select(schema.sales.c.claim_nonce)).scalars().all()
    assert sorted(n is None for n in nonces) == [False, True]
