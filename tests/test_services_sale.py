"""The sale flow through the services, on a real ledger file: what the UI and CLI rely on."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from biip.checksums import gs1_price_weight_check_digit, gs1_standard_check_digit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_support import (
    CASHIER_PIN,
    MANAGER_PIN,
    SteppingClock,
    new_terminal,
    quick_sale,
    ready_terminal,
    table_digest,
)

from pos.domain.sale import Discount
from pos.ledger import journal
from pos.ledger import sales as sales_ledger
from pos.services import returns, sale, shift, staff
from pos.services.catalog import import_catalog
from pos.services.terminal import (
    ApprovalNeeded,
    LockedOut,
    NotSignedIn,
    ServiceError,
    Terminal,
    set_store_settings,
)
from sync.codes import (
    make_member_code,
    new_signing_key,
    public_key_bytes,
    verify_claim_code,
)
from sync.protocol import EventType, SalePayload


@pytest.fixture
def terminal(tmp_path: Path):
    opened = ready_terminal(tmp_path)
    yield opened
    opened.ledger.close()


def entries(terminal: Terminal) -> list[journal.Entry]:
    return list(journal.iter_entries(terminal.ledger.read()))


def test_a_completed_sale_is_written_whole_with_its_journal_entry(terminal: Terminal) -> None:
    s = sale.start_sale(terminal)
    sale.scan(terminal, s, "4006381333931")
    sale.scan(terminal, s, "4006381333931")  # merges into the same line
    sale.set_next_quantity(s, 250)
    sale.add_product(terminal, s, "B2")  # 250 g of bananas
    assert [line.quantity_milli for line in s.lines] == [2000, 250]
    total = s.totals().total
    assert total == 2 * 199 + 62
    sale.tender_cash(terminal, s, 1000)
    done = sale.complete_sale(terminal, s)
    assert done.change == 1000 - total
    reader = terminal.ledger.read()
    record = sales_ledger.get(reader, done.sale_id)
    assert record is not None and record.total == total and record.journal_seq == done.journal_seq
    last = entries(terminal)[-1]
    assert last.type == EventType.SALE_COMPLETED and last.seq == done.journal_seq
    payload = SalePayload.model_validate(last.payload)  # the wire model the server reads
    assert (
        payload.sale_id == done.sale_id and payload.total == total and payload.claim_code == done.claim_code
    )
    assert last.to_wire().hash_is_valid()
    # The claim code is the terminal's, with its own key.
    assert done.claim_code is not None and done.claim_url is not None
    code = verify_claim_code(done.claim_code, claim_key=terminal.secrets.claim_key(), today=date(2026, 3, 2))
    assert code.terminal_id == terminal.config.terminal_id == 0
    assert done.claim_url.endswith(done.claim_code)
    assert (
        reader.execute("SELECT count(*) FROM sale_lines WHERE sale_id = ?", (done.sale_id,)).fetchone()[0]
        == 2
    )
    assert sale.complete_sale(terminal, s) is done  # a second click returns the same sale
    assert sales_ledger.count(reader) == 1


def test_receipt_numbers_count_up_per_terminal(terminal: Terminal) -> None:
    numbers = [quick_sale(terminal).receipt_no for _ in range(3)]
    assert numbers == ["T0-000001", "T0-000002", "T0-000003"]


def test_selling_needs_a_signed_in_cashier_and_an_open_shift(tmp_path: Path) -> None:
    terminal = new_terminal(tmp_path)
    try:
        with pytest.raises(NotSignedIn):
            sale.start_sale(terminal)
        staff.add_staff(terminal, name="Ann", role="cashier", pin="1111")
        staff.sign_in(terminal, "1111")
        with pytest.raises(ServiceError, match="Open a shift"):
            sale.start_sale(terminal)
        training = sale.start_sale(terminal, training=True)  # practice needs no shift
        assert training.training
    finally:
        terminal.ledger.close()


def test_a_training_sale_is_journaled_as_training_without_a_claim_code(terminal: Terminal) -> None:
    s = sale.start_sale(terminal, training=True)
    sale.scan(terminal, s, "4006381333931")
    sale.tender_cash(terminal, s)
    done = sale.complete_sale(terminal, s)
    assert done.claim_code is None and "TR" in done.receipt_no
    assert entries(terminal)[-1].type == EventType.TRAINING_SALE


def test_bad_scans_are_refused_clearly_and_change_nothing(terminal: Terminal) -> None:
    s = sale.start_sale(terminal)
    sale.scan(terminal, s, "4006381333931")
    before_lines = s.lines
    before = table_digest(terminal.data_dir / "ledger.sqlite3")
    for bad, words in [
        ("4006381333932", "check digit"),
        ("4006381333", "not a barcode"),
        ("", "nothing was scanned"),
        ("hello world", "not a barcode"),
        ("5901234123457", "not in the catalog"),
        ("99999", "no product"),
        ("9" * 185, "member code"),
        ("\x00\x1b[2J", "not a barcode"),
    ]:
        with pytest.raises(ServiceError) as caught:
            sale.scan(terminal, s, bad)
        assert words in str(caught.value).lower(), (bad, str(caught.value))
        assert s.lines == before_lines
    assert table_digest(terminal.data_dir / "ledger.sqlite3") == before


def test_a_weighed_item_needs_a_weight_and_takes_it_from_a_scale_label(terminal: Terminal) -> None:
    s = sale.start_sale(terminal)
    with pytest.raises(ServiceError, match="sold by weight"):
        sale.add_product(terminal, s, "B2")
    assert s.lines == ()


def test_a_german_weight_label_rings_up_the_weighed_product(tmp_path: Path) -> None:
    from pos.services.catalog import import_catalog

    terminal = ready_terminal(tmp_path)
    try:
        set_store_settings(terminal, rcn_region="de")
        body = "284000000000"
        (tmp_path / "kg.csv").write_text(
            f"sku,name,price,tax_rate,barcodes,unit\n4011,Loose apples,2.99,7,{body}{gs1_standard_check_digit(body)},kg\n"
        )
        import_catalog(terminal, tmp_path / "kg.csv")
        weight = "00450"
        label = "284000" + str(gs1_price_weight_check_digit(weight)) + weight
        label += str(gs1_standard_check_digit(label))
        s = sale.start_sale(terminal)
        result = sale.scan(terminal, s, label)
        assert result.kind == "line" and result.line is not None
        assert (result.line.product.sku, result.line.quantity_milli) == ("4011", 450)
        assert s.totals().total == 135  # 2.99 x 0.450 = 1.3455 -> 1.35
    finally:
        terminal.ledger.close()


def test_a_member_code_attaches_the_member_and_a_forged_or_expired_one_is_refused(terminal: Terminal) -> None:
    import base64

    from pos.config import update_config

    key = new_signing_key()
    other = new_signing_key()
    terminal.config = update_config(
        terminal.data_dir, server_public_key=base64.b64encode(public_key_bytes(key)).decode()
    )
    s = sale.start_sale(terminal)
    now = terminal.now()
    with pytest.raises(ServiceError, match="not genuine"):
        sale.scan(terminal, s, make_member_code(member_id=42, signing_key=other, now=now))
    with pytest.raises(ServiceError, match="expired"):
        sale.scan(terminal, s, make_member_code(member_id=42, signing_key=key, now=now - timedelta(hours=2)))
    assert s.sale.member_id is None
    shown = make_member_code(member_id=42, signing_key=key, now=now)
    result = sale.scan(terminal, s, f"  {shown.lower()} ")
    assert result.kind == "member" and s.sale.member_id == 42
    sale.scan(terminal, s, "4006381333931")
    sale.tender_cash(terminal, s)
    payload = sale.complete_sale(terminal, s).payload
    # The code goes with the sale as read (normalized): head office credits only what it verifies.
    assert payload["member_id"] == 42 and payload["member_code"] == shown


def test_a_standalone_terminal_refuses_member_codes_it_cannot_check(terminal: Terminal) -> None:
    s = sale.start_sale(terminal)
    code = make_member_code(member_id=7, signing_key=new_signing_key(), now=terminal.now())
    with pytest.raises(ServiceError, match="enrolled"):
        sale.scan(terminal, s, code)


def test_discounts_above_the_store_limit_need_a_manager_and_are_journaled(terminal: Terminal) -> None:
    s = sale.start_sale(terminal)
    line = sale.scan(terminal, s, "5012345678900").line
    assert line is not None
    sale.discount_line(terminal, s, line.line_id, Discount.of_percent(10))  # at the limit: fine
    with pytest.raises(ApprovalNeeded) as caught:
        sale.discount_line(terminal, s, line.line_id, Discount.of_percent(30))
    assert caught.value.action == "discount"
    assert s.sale.line(line.line_id).discount == Discount.of_percent(10)  # unchanged
    with pytest.raises(ServiceError, match="Wrong manager PIN"):
        sale.discount_line(terminal, s, line.line_id, Discount.of_percent(30), manager_pin="0000")
    with pytest.raises(ServiceError, match="not a manager"):
        sale.discount_line(terminal, s, line.line_id, Discount.of_percent(30), manager_pin=CASHIER_PIN)
    sale.discount_line(terminal, s, line.line_id, Discount.of_percent(30), manager_pin=MANAGER_PIN)
    override = entries(terminal)[-1]
    assert override.type == EventType.MANAGER_OVERRIDE
    assert override.payload["action"] == "discount" and override.payload["cashier_id"] == terminal.cashier.id  # type: ignore[union-attr]
    sale.tender_cash(terminal, s)
    done = sale.complete_sale(terminal, s)
    assert done.total == 693 and done.payload["approved_by"] == override.payload["approved_by"]


def test_a_cashier_gives_exactly_the_store_limit_without_a_manager(
    terminal: Terminal, tmp_path: Path
) -> None:
    # 10 % off 1.95 rounds to 0.20 (10.26 %); the cashier asked for the limit, not above it.
    extra = tmp_path / "extra.csv"
    extra.write_text("sku,name,price,tax_rate,barcodes,unit\nE5,Eraser,1.95,19,,piece\n", encoding="utf-8")
    import_catalog(terminal, extra)
    s = sale.start_sale(terminal)
    line = sale.add_product(terminal, s, "E5")
    sale.discount_line(terminal, s, line.line_id, Discount.of_percent(10))
    assert s.totals().discounts == 20
    sale.discount_line(terminal, s, line.line_id, None)
    sale.discount_sale(terminal, s, Discount.of_percent(10))
    assert s.totals().discounts == 20
    with pytest.raises(ApprovalNeeded):
        sale.discount_sale(terminal, s, Discount.of_percent("10.01"))
    with pytest.raises(ApprovalNeeded):  # 0.20 typed as an amount is 10.26 % of 1.95
        sale.discount_sale(terminal, s, Discount.of_amount(20))
    assert not any(e.type == EventType.MANAGER_OVERRIDE for e in entries(terminal))


def test_a_whole_sale_discount_over_the_limit_is_undone_when_not_approved(terminal: Terminal) -> None:
    s = sale.start_sale(terminal)
    sale.scan(terminal, s, "5012345678900")
    with pytest.raises(ApprovalNeeded):
        sale.discount_sale(terminal, s, Discount.of_amount(500))
    assert s.sale.sale_discount is None
    totals = sale.discount_sale(terminal, s, Discount.of_amount(99))
    assert totals.total == 891


def test_void_before_payment_is_journaled_and_leaves_no_sale(terminal: Terminal) -> None:
    s = sale.start_sale(terminal)
    sale.scan(terminal, s, "4006381333931")
    sale.begin_payment(terminal, s)
    sale.void_sale(terminal, s, "customer left")
    last = entries(terminal)[-1]
    assert last.type == EventType.SALE_VOIDED and last.payload["reason"] == "customer left"
    assert sales_ledger.count(terminal.ledger.read()) == 0
    assert sales_ledger.in_progress(terminal.ledger.read()) is None


def test_a_card_tender_must_be_reversed_before_a_void(terminal: Terminal) -> None:
    s = sale.start_sale(terminal)
    sale.scan(terminal, s, "5012345678900")
    sale.tender_card(terminal, s, "APPR-1234", amount=500)
    with pytest.raises(ServiceError, match="Reverse the card"):
        sale.void_sale(terminal, s)
    with pytest.raises(ServiceError, match="Payment has started"):
        sale.scan(terminal, s, "4006381333931")
    sale.remove_tender(s, 0)
    sale.void_sale(terminal, s)


def test_split_payment_and_overpaying_a_card_is_refused(terminal: Terminal) -> None:
    s = sale.start_sale(terminal)
    sale.scan(terminal, s, "5012345678900")  # 9.90
    with pytest.raises(ServiceError, match="only cash"):
        sale.tender_card(terminal, s, "APPR-1", amount=1000)
    sale.tender_card(terminal, s, "APPR-2", amount=400)
    sale.tender_cash(terminal, s, 1000)
    done = sale.complete_sale(terminal, s)
    assert done.change == 410
    assert [t["kind"] for t in done.payload["tenders"]] == ["card", "cash"]


def test_completing_an_unpaid_sale_is_refused_and_writes_nothing(terminal: Terminal) -> None:
    s = sale.start_sale(terminal)
    sale.scan(terminal, s, "5012345678900")
    with pytest.raises(ServiceError, match="Take payment"):
        sale.complete_sale(terminal, s)
    sale.tender_cash(terminal, s, 500)
    before = table_digest(terminal.data_dir / "ledger.sqlite3")
    with pytest.raises(ServiceError, match="not fully paid"):
        sale.complete_sale(terminal, s)
    assert table_digest(terminal.data_dir / "ledger.sqlite3") == before


def test_the_next_start_says_whether_the_last_sale_completed(tmp_path: Path) -> None:
    terminal = ready_terminal(tmp_path)
    done = quick_sale(terminal)
    s = sale.start_sale(terminal)
    sale.scan(terminal, s, "5012345678900")
    sale.begin_payment(terminal, s)
    terminal.ledger.close()  # the till dies while the customer pays

    again = new_terminal(tmp_path)
    try:
        outcome = sale.last_sale_outcome(again)
        assert outcome is not None and not outcome.completed
        assert outcome.sale_id == s.sale_id and outcome.total == 990
        assert "NOT completed" in outcome.message
        sale.acknowledge_interrupted_sale(again)
        outcome = sale.last_sale_outcome(again)
        assert outcome is not None and outcome.completed and outcome.receipt_no == done.receipt_no
        assert done.receipt_no in outcome.message
    finally:
        again.ledger.close()


def test_a_fresh_terminal_has_no_last_sale(tmp_path: Path) -> None:
    terminal = new_terminal(tmp_path)
    try:
        assert sale.last_sale_outcome(terminal) is None
    finally:
        terminal.ledger.close()


def test_sign_in_by_pin_alone_and_lockout_after_five_wrong_pins(tmp_path: Path) -> None:
    clock = SteppingClock()
    terminal = new_terminal(tmp_path, clock=clock)
    try:
        staff.add_staff(terminal, name="Ann", role="cashier", pin="1111")
        staff.add_staff(terminal, name="Bob", role="manager", pin="2222")
        assert staff.sign_in(terminal, "2222").name == "Bob"
        assert staff.sign_in(terminal, "1111").name == "Ann"  # signs Bob out first
        types = [e.type for e in entries(terminal)]
        assert types[-3:] == [EventType.SIGNED_IN, EventType.SIGNED_OUT, EventType.SIGNED_IN]
        for _ in range(4):
            with pytest.raises(ServiceError, match="Wrong PIN"):
                staff.sign_in(terminal, "9999")
        with pytest.raises(LockedOut):
            staff.sign_in(terminal, "9999")
        with pytest.raises(LockedOut):
            staff.sign_in(terminal, "1111")  # even the right PIN waits
        attempts = terminal.ledger.read().execute("SELECT count(*), sum(ok) FROM pin_attempts").fetchone()
        assert attempts == (7, 2)
        clock.advance(staff.LOCKOUT)
        assert staff.sign_in(terminal, "1111").name == "Ann"
    finally:
        terminal.ledger.close()


@pytest.mark.parametrize(
    ("name", "role", "pin", "words"),
    [
        ("", "cashier", "1234", "needs a name"),
        ("Zed", "boss", "5555", "Unknown role"),
        ("Zed", "cashier", "12", "4 to 8 digits"),
        ("Zed", "cashier", "12ab", "4 to 8 digits"),
        ("Zed", "cashier", CASHIER_PIN, "already taken"),
    ],
)
def test_adding_staff_with_bad_input_is_refused_and_changes_nothing(
    terminal: Terminal, name: str, role: str, pin: str, words: str
) -> None:
    before = table_digest(terminal.data_dir / "ledger.sqlite3")
    with pytest.raises(ServiceError, match=words):
        staff.add_staff(terminal, name=name, role=role, pin=pin)
    assert table_digest(terminal.data_dir / "ledger.sqlite3") == before


def test_pins_are_stored_only_as_argon2id_hashes(terminal: Terminal) -> None:
    hashes = [r[0] for r in terminal.ledger.read().execute("SELECT pin_hash FROM staff")]
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert CASHIER_PIN not in "".join(hashes)


def test_shift_cash_adds_up_and_closing_needs_a_manager(terminal: Terminal) -> None:
    s = sale.start_sale(terminal)
    sale.scan(terminal, s, "5012345678900")
    sale.tender_cash(terminal, s, 2000)  # 9.90 with 10.10 change
    sale.complete_sale(terminal, s)
    assert shift.cash_in(terminal, 500, "coins from the safe") == 10_000 + 990 + 500
    with pytest.raises(ApprovalNeeded):
        shift.cash_out(terminal, 300, "to the safe")
    with pytest.raises(ServiceError, match="only hold"):
        shift.cash_out(terminal, 1_000_000, "too much", manager_pin=MANAGER_PIN)
    assert shift.cash_out(terminal, 300, "to the safe", manager_pin=MANAGER_PIN) == 11_190
    with pytest.raises(ApprovalNeeded):
        shift.close_shift(terminal, 11_000)
    closed = shift.close_shift(terminal, 11_000, manager_pin=MANAGER_PIN)
    assert (closed.expected_cash, closed.difference) == (11_190, -190)
    last = entries(terminal)[-1]
    assert last.type == EventType.SHIFT_CLOSED and last.payload["approved_by"] == closed.approved_by
    assert shift.current_shift(terminal) is None
    with pytest.raises(ServiceError, match="Open a shift"):
        sale.start_sale(terminal)


@pytest.mark.parametrize("amount", [0, -5, 10**12, True, "100"])
def test_bad_cash_amounts_are_refused_and_change_nothing(terminal: Terminal, amount: object) -> None:
    before = table_digest(terminal.data_dir / "ledger.sqlite3")
    with pytest.raises(ServiceError):
        shift.cash_in(terminal, amount, "x")  # type: ignore[arg-type]
    assert table_digest(terminal.data_dir / "ledger.sqlite3") == before


def test_a_second_shift_cannot_open_while_one_is_open(terminal: Terminal) -> None:
    with pytest.raises(ServiceError, match="already open"):
        shift.open_shift(terminal, 0)


def test_a_return_by_claim_code_needs_a_manager_and_refunds_exactly_once(terminal: Terminal) -> None:
    s = sale.start_sale(terminal)
    sale.set_next_quantity(s, 3000)
    sale.scan(terminal, s, "5012345678900")  # 3 mugs
    sale.tender_cash(terminal, s)
    done = sale.complete_sale(terminal, s)
    s2 = sale.start_sale(terminal)
    found = sale.scan(terminal, s2, f"https://shop.example/c/{done.claim_code}".lower())
    assert found.kind == "return" and found.return_sale_id == done.sale_id
    r = returns.start_return(terminal, done.claim_code or "")
    returns.set_return_quantity(r, 1, 2000)
    with pytest.raises(ApprovalNeeded):
        returns.complete_return(terminal, r)
    first = returns.complete_return(terminal, r, manager_pin=MANAGER_PIN)
    assert first.refund == 1980
    r2 = returns.start_return(terminal, done.receipt_no)
    with pytest.raises(ServiceError, match="can still be returned"):
        returns.set_return_quantity(r2, 1, 2000)
    r2.ret.return_all()
    second = returns.complete_return(terminal, r2, manager_pin=MANAGER_PIN)
    assert first.refund + second.refund == done.total
    r3 = returns.start_return(terminal, done.receipt_no)
    with pytest.raises(ServiceError, match="at least one line"):
        returns.complete_return(terminal, r3, manager_pin=MANAGER_PIN)
    last = entries(terminal)[-1]
    assert last.type == EventType.RETURN_COMPLETED and last.payload["original_sale_id"] == done.sale_id
    with pytest.raises(ServiceError, match="not a sale that can be returned"):
        returns.start_return(terminal, first.receipt_no)
    with pytest.raises(ServiceError, match="No sale"):
        returns.start_return(terminal, "T0-999999")


def test_the_same_return_prepared_twice_refunds_once(terminal: Terminal) -> None:
    done = quick_sale(terminal)
    a = returns.start_return(terminal, done.receipt_no)
    b = returns.start_return(terminal, done.receipt_no)
    a.ret.return_all()
    b.ret.return_all()
    returns.complete_return(terminal, a, manager_pin=MANAGER_PIN)
    with pytest.raises(ServiceError, match="returned meanwhile"):
        returns.complete_return(terminal, b, manager_pin=MANAGER_PIN)


def test_reprinting_the_last_receipt_is_journaled(terminal: Terminal) -> None:
    with pytest.raises(ServiceError, match="no receipt"):
        sale.reprint_last_receipt(terminal)
    done = quick_sale(terminal)
    payload = sale.reprint_last_receipt(terminal)
    assert payload["receipt_no"] == done.receipt_no
    last = entries(terminal)[-1]
    assert last.type == EventType.RECEIPT_REPRINTED and last.payload["receipt_no"] == done.receipt_no


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    quantities=st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=4),
    extra_cash=st.integers(min_value=0, max_value=5000),
)
def test_any_cash_sale_journals_a_payload_that_adds_up(
    terminal: Terminal, quantities: list[int], extra_cash: int
) -> None:
    s = sale.start_sale(terminal)
    for i, q in enumerate(quantities):
        sale.set_next_quantity(s, q * 1000)
        sale.scan(terminal, s, ["4006381333931", "5012345678900", "4000417025005"][i % 3])
    total = s.totals().total
    sale.tender_cash(terminal, s, total + extra_cash)
    done = sale.complete_sale(terminal, s)
    payload = SalePayload.model_validate(done.payload)
    assert sum(t.gross for t in payload.taxes) == payload.total == sum(line.total for line in payload.lines)
    assert sum(t.amount for t in payload.tenders) == payload.total + payload.rounding
    assert payload.change == extra_cash >= 0
    assert journal.verify(terminal.ledger.read().conn).ok


def test_a_price_override_needs_a_manager_and_journals_old_and_new_price(terminal: Terminal) -> None:
    s = sale.start_sale(terminal)
    line = sale.scan(terminal, s, "5012345678900").line
    assert line is not None
    with pytest.raises(ApprovalNeeded):
        sale.override_price(terminal, s, line.line_id, 500)
    with pytest.raises(ServiceError, match="Not a price"):
        sale.override_price(terminal, s, line.line_id, -1, manager_pin=MANAGER_PIN)
    assert s.totals().total == 990
    sale.override_price(terminal, s, line.line_id, 500, manager_pin=MANAGER_PIN)
    assert s.totals().total == 500
    last = entries(terminal)[-1]
    assert last.type == EventType.MANAGER_OVERRIDE
    assert (
        last.payload["details"]["old_unit_price"] == 990 and last.payload["details"]["new_unit_price"] == 500
    )


def test_voiding_a_paid_sale_needs_a_manager_and_refunds_it_whole_once(terminal: Terminal) -> None:
    done = quick_sale(terminal, "5012345678900")
    with pytest.raises(ApprovalNeeded) as caught:
        returns.void_paid_sale(terminal, done.receipt_no)
    assert caught.value.action == "void_after_payment"
    voided = returns.void_paid_sale(terminal, done.receipt_no, manager_pin=MANAGER_PIN)
    assert voided.refund == done.total
    with pytest.raises(ServiceError, match="already returned"):
        returns.void_paid_sale(terminal, done.receipt_no, manager_pin=MANAGER_PIN)
    assert shift.expected_cash(terminal) == 10_000  # the float: sold and refunded in cash


def test_cash_rounding_rounds_what_is_paid_in_cash(terminal: Terminal) -> None:
    set_store_settings(terminal, cash_increment=5)
    s = sale.start_sale(terminal)
    sale.scan(terminal, s, "4006381333931")  # 1.99
    sale.tender_cash(terminal, s)
    done = sale.complete_sale(terminal, s)
    assert (done.payload["total"], done.payload["rounding"]) == (199, 1)
    assert done.payload["tenders"][0]["amount"] == 200
