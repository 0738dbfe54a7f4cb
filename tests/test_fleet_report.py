# ruff: noqa: F811  (pytest fixtures imported from central_fixtures are parameters by name)
"""What a till reports with every request (version, platform, ledger schema, queue, ledger health),
how strictly head office reads it, and the last contact it keeps for the fleet view."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
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
from click.testing import CliRunner
from sqlalchemy import select, update
from sync_support import central_server, record_sales

from pos.cli import cli
from pos.ledger import migrations
from pos.services import fleet, syncing
from pos.services.terminal import Terminal, open_terminal
from sync.client import CentralClient
from sync.protocol import (
    APP_VERSION_HEADER,
    LEDGER_HEALTH_HEADER,
    LEDGER_PROBLEM_HEADER,
    LEDGER_SCHEMA_HEADER,
    PLATFORM_HEADER,
    QUEUED_HEADER,
    REPORT_HEADERS,
    LedgerHealth,
    ReportHeaderError,
    TerminalReport,
    printable_problem,
)
from sync.server import schema
from sync.server.db import Database

GOOD = TerminalReport(
    app_version="1.4.0",
    platform="linux-x86_64",
    ledger_schema="0001_initial",
    queued=3,
    ledger_health=LedgerHealth.FAILED,
    ledger_problem="sales row 7 differs from journal entry 12",
)


def _getter(headers: dict[str, list[str]]) -> Any:
    return lambda name: headers.get(name, [])


# --- the report on the wire ---------------------------------------------------------------------


def test_the_report_goes_out_as_headers_and_reads_back_the_same() -> None:
    headers = GOOD.headers()
    assert set(headers) == set(REPORT_HEADERS)
    assert headers[QUEUED_HEADER] == "3" and headers[LEDGER_HEALTH_HEADER] == "failed"
    back = TerminalReport.from_headers(_getter({k: [v] for k, v in headers.items()}))
    assert back == GOOD


def test_a_till_that_reports_nothing_is_read_as_reporting_nothing() -> None:
    assert TerminalReport.from_headers(_getter({})) == TerminalReport()
    assert TerminalReport().headers() == {}


@pytest.mark.parametrize(
    ("header", "value"),
    [
        (APP_VERSION_HEADER, ""),
        (APP_VERSION_HEADER, "1.0 beta"),
        (APP_VERSION_HEADER, "x" * 65),
        (PLATFORM_HEADER, "Linux"),
        (LEDGER_SCHEMA_HEADER, "initial"),
        (LEDGER_SCHEMA_HEADER, "0001_initial; drop"),
        (QUEUED_HEADER, "-1"),
        (QUEUED_HEADER, "1.5"),
        (QUEUED_HEADER, "2147483648"),
        (QUEUED_HEADER, " 7"),
        (QUEUED_HEADER, "٣"),  # a digit, but not an ASCII one
        (LEDGER_HEALTH_HEADER, "OK"),
        (LEDGER_HEALTH_HEADER, "fine"),
        (LEDGER_PROBLEM_HEADER, "x" * 201),
        (LEDGER_PROBLEM_HEADER, "tab\there"),
    ],
)
def test_a_malformed_report_header_is_refused_naming_it(header: str, value: str) -> None:
    with pytest.raises(ReportHeaderError) as refused:
        TerminalReport.from_headers(_getter({header: [value]}))
    assert refused.value.header == header and header in str(refused.value)


def test_a_report_header_sent_twice_is_refused() -> None:
    with pytest.raises(ReportHeaderError, match="sent 2 times"):
        TerminalReport.from_headers(_getter({QUEUED_HEADER: ["1", "2"]}))


def test_a_problem_is_squeezed_into_printable_ascii() -> None:
    text = printable_problem("Verkauf „Äpfel“\nseq 12 " + "x" * 300)
    assert len(text) == 200 and text.isascii() and text.isprintable()
    assert text.startswith("Verkauf ??pfel? seq 12 xxx")


# --- the client sends it with every call ---------------------------------------------------------


def test_the_client_sends_the_report_with_every_call_and_reads_it_each_time() -> None:
    seen: list[httpx.Request] = []
    queued = iter(range(100))

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(404, json={"error": "not_found", "detail": "stand-in"})

    def report() -> TerminalReport:
        return GOOD.model_copy(update={"queued": next(queued)})

    client = CentralClient(
        "http://central.example", httpx.Client(transport=httpx.MockTransport(handler)), "tok", report=report
    )
    for call in (client.hello, lambda: client.enroll("ABCD-EFGH"), lambda: client.changes(None)):
        with pytest.raises(Exception):  # noqa: B017 - the stand-in answers 404 to everything
            call()
    with pytest.raises(Exception):  # noqa: B017
        client.stock("TEA")
    assert [r.headers[QUEUED_HEADER] for r in seen] == ["0", "1", "2", "3"]
    for request in seen:
        assert request.headers[APP_VERSION_HEADER] == "1.4.0"
        assert request.headers[LEDGER_PROBLEM_HEADER] == GOOD.ledger_problem


def test_a_report_that_cannot_be_made_does_not_stop_the_request() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "protocol_versions": [1],
                "server_time": "2026-11-25T12:00:00Z",
                "max_batch_entries": 10,
                "max_batch_bytes": 100_000,
                "public_url": "http://x",
            },
        )

    def broken() -> TerminalReport:
        raise RuntimeError("ledger closed")

    client = CentralClient("http://c", httpx.Client(transport=httpx.MockTransport(handler)), report=broken)
    assert client.hello().max_batch_entries == 10
    assert not set(REPORT_HEADERS) & set(seen[0].headers)


# --- the server: strict, and keeps the latest per terminal ----------------------------------------


def _row(db: Database, terminal_id: int) -> Any:
    with db.begin() as conn:
        return conn.execute(select(schema.terminals).where(schema.terminals.c.id == terminal_id)).one()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/hello"),
        ("POST", "/v1/enroll"),
        ("GET", "/v1/changes"),
        ("POST", "/v1/push"),
        ("GET", "/v1/stock/TEA"),
    ],
)
def test_the_server_answers_400_naming_a_bad_report_header_on_every_endpoint(
    central: LiveServer, method: str, path: str
) -> None:
    add_store(central.db)
    till = enroll(central.client, central.db)
    for header, value in [(QUEUED_HEADER, "lots"), (LEDGER_HEALTH_HEADER, "great"), (PLATFORM_HEADER, "Ü")]:
        answer = central.client.request(
            method, path, headers={**till.headers, header: value.encode("utf-8")}, json={}
        )
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == "bad_report_header" and header in answer.json()["detail"]
    twice = central.client.request(
        method, path, headers=[*till.headers.items(), (QUEUED_HEADER, "1"), (QUEUED_HEADER, "1")], json={}
    )
    assert twice.status_code == 400 and "sent 2 times" in twice.json()["detail"]
    assert _row(central.db, till.id).last_seen_at is None, "a refused request is not a contact"


def test_every_authenticated_contact_records_the_report_and_last_seen(central: LiveServer) -> None:
    add_store(central.db)
    till = enroll(central.client, central.db)
    assert _row(central.db, till.id).last_seen_at is None
    headers = {**till.headers, **GOOD.headers()}
    assert central.client.get("/v1/changes", params={"wait": 0.1}, headers=headers).status_code == 200
    row = _row(central.db, till.id)
    assert row.last_seen_at is not None
    assert (row.app_version, row.platform, row.ledger_schema) == ("1.4.0", "linux-x86_64", "0001_initial")
    assert (row.last_queued, row.ledger_health, row.ledger_problem) == (3, "failed", GOOD.ledger_problem)

    # The till verified its ledger again and it is fine now: the old problem goes at once.
    healed = GOOD.model_copy(update={"ledger_health": LedgerHealth.OK, "ledger_problem": None})
    assert (
        central.client.get("/v1/stock/TEA", headers={**till.headers, **healed.headers()}).status_code == 404
    )
    row = _row(central.db, till.id)
    assert (row.ledger_health, row.ledger_problem) == ("ok", None)


def test_last_seen_is_written_at_most_every_so_often_unless_the_report_changed(central: LiveServer) -> None:
    add_store(central.db)
    till = enroll(central.client, central.db)
    headers = {**till.headers, **GOOD.headers()}
    central.client.get("/v1/changes", headers=headers)
    first = _row(central.db, till.id).last_seen_at
    for _ in range(5):  # a long-polling till asking again and again within the minute
        central.client.get("/v1/changes", headers=headers)
    assert _row(central.db, till.id).last_seen_at == first, "every request wrote last_seen"

    upgraded = {**headers, APP_VERSION_HEADER: "1.5.0"}
    central.client.get("/v1/changes", headers=upgraded)
    row = _row(central.db, till.id)
    assert row.app_version == "1.5.0" and row.last_seen_at > first

    # Once the stored contact is older than the throttle, the next request writes it again.
    with central.db.begin() as conn:
        conn.execute(
            update(schema.terminals)
            .where(schema.terminals.c.id == till.id)
            .values(last_seen_at=row.last_seen_at - timedelta(minutes=2))
        )
    central.client.get("/v1/changes", headers=upgraded)
    assert _row(central.db, till.id).last_seen_at > row.last_seen_at


# --- end to end: a real till against a real pos-central -------------------------------------------


@pytest.fixture
def till(tmp_path: Path) -> Iterator[tuple[LiveServer, Terminal, int]]:
    with (
        central_server(tmp_path) as server,
        open_terminal(tmp_path / "till", secrets_backend="file", daily_backup=False) as terminal,
    ):
        enrolled = syncing.enroll(terminal, server.url, enrollment_code(server.db, "S01"))
        yield server, terminal, enrolled.terminal_id


def test_a_real_till_reports_its_version_platform_schema_queue_and_health(
    till: tuple[LiveServer, Terminal, int],
) -> None:
    server, terminal, terminal_id = till
    record_sales(terminal, 4)
    report = syncing.sync_once(terminal)
    assert report.ok, report.summary()
    row = _row(server.db, terminal_id)
    assert row.app_version == fleet.app_version() and row.app_version != "0+unknown"
    assert row.platform == fleet.platform_tag() and row.platform.startswith("linux-")
    assert row.ledger_schema == list(migrations.REGISTRY)[-1]
    # `pos sync` verified the ledger before its round (it had never been checked).
    assert row.ledger_health == "ok" and row.ledger_problem is None
    assert row.last_queued == 0  # all four went up in this round


def test_a_failed_verify_reaches_head_office_with_the_next_request(
    till: tuple[LiveServer, Terminal, int],
) -> None:
    server, terminal, terminal_id = till
    runner = CliRunner()
    assert runner.invoke(cli, ["ledger", "verify", "--data-dir", str(terminal.data_dir)]).exit_code == 0
    assert fleet.ledger_health(terminal.data_dir).health is LedgerHealth.OK
    assert syncing.sync_once(terminal).ok
    assert _row(server.db, terminal_id).ledger_health == "ok"

    # An insider lowers a sale's total in the file: `pos sync` verifies again first (the last
    # check is recent, but it re-checks a failure and here the app's own check found it).
    record_sales(terminal, 2)
    sale_id, receipt_no = (
        terminal.ledger.read().execute("SELECT id, receipt_no FROM sales LIMIT 1").fetchone()
    )
    terminal.ledger.transact(
        lambda db: db.execute("UPDATE sales SET total = total - 500 WHERE id = ?", (sale_id,))
    )
    fleet.check_ledger(terminal.data_dir)
    assert syncing.sync_once(terminal).ok, "a till with a failed verify still sends its sales"
    row = _row(server.db, terminal_id)
    assert row.ledger_health == "failed"
    assert row.ledger_problem is not None and f"sales row {receipt_no}" in row.ledger_problem


def test_an_unreadable_health_record_is_reported_as_failed(tmp_path: Path) -> None:
    (tmp_path / fleet.HEALTH_FILE).write_text("{not json", encoding="utf-8")
    record = fleet.ledger_health(tmp_path)
    assert record.health is LedgerHealth.FAILED and record.problem and "unreadable" in record.problem
    assert fleet.ledger_health(tmp_path / "elsewhere").health is LedgerHealth.UNCHECKED
