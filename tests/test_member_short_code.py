"""A cashier types the member short code when the QR will not scan: a real till asks the real
head office, gets that hour's signed member code, verifies it and sends it with the sale. A wrong
or unknown code, or no connection, is refused with a clear message and attaches no one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from central_fixtures import LiveServer, enrollment_code
from sqlalchemy import insert
from sync_support import central_server

from pos.services import sale, shift, staff, syncing
from pos.services.terminal import ServiceError, Terminal, open_terminal
from sync.codes import member_window_start, new_short_member_code
from sync.server import schema
from sync.server.db import utcnow
from sync.server.members import short_code_for


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[LiveServer, Terminal, int, str]]:
    with central_server(tmp_path) as server:
        with server.db.begin() as conn:
            shopper_id = conn.execute(
                insert(schema.shoppers)
                .values(email="mia@example.org", password_hash="", display_name="", created_at=utcnow())
                .returning(schema.shoppers.c.id)
            ).scalar_one()
            start = member_window_start(utcnow())
            short = short_code_for(conn, shopper_id, start, start + timedelta(hours=1))
        with open_terminal(tmp_path / "till", secrets_backend="file", daily_backup=False) as terminal:
            syncing.enroll(terminal, server.url, enrollment_code(server.db, "S01"), terminal_name="Till")
            staff.add_staff(terminal, name="Carl Cashier", role="manager", pin="4321")
            staff.sign_in(terminal, "4321")
            shift.open_shift(terminal, 10_000)
            yield server, terminal, shopper_id, short


def test_a_typed_short_code_attaches_the_member_with_a_verified_code(
    setup: tuple[LiveServer, Terminal, int, str],
) -> None:
    _server, terminal, shopper_id, short = setup
    s = sale.start_sale(terminal)
    result = sale.scan(terminal, s, short)
    assert result.kind == "member" and s.sale.member_id == shopper_id
    # What goes with the sale is a full signed member code, which head office verifies at push.
    assert s.sale.member_code is not None and len(s.sale.member_code) == 185


def test_wrong_unknown_or_offline_short_codes_attach_no_one(
    setup: tuple[LiveServer, Terminal, int, str],
) -> None:
    _server, terminal, _shopper_id, short = setup
    s = sale.start_sale(terminal)
    typo = short[:-1] + str((int(short[-1]) + 1) % 10)
    with pytest.raises(ServiceError, match="a digit is wrong"):
        sale.scan(terminal, s, typo)
    with pytest.raises(ServiceError, match="Short member code not accepted"):
        sale.scan(terminal, s, new_short_member_code())
    from pos.config import update_config

    terminal.config = update_config(terminal.data_dir, server_url="http://127.0.0.1:9")
    with pytest.raises(ServiceError, match="scan the QR code"):
        sale.scan(terminal, s, short)
    assert s.sale.member_id is None and s.sale.member_code is None
