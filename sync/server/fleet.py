"""Fleet health at head office: what each terminal reports, and when it was last in touch.

Every authenticated request (pull, push, long-poll, stock look-up) goes through
:func:`sync.server.api.authenticate_in`, which calls :func:`note_contact` -- the one place that
records a terminal's last contact and its latest :class:`~sync.protocol.TerminalReport`. Other
code that authenticates terminals must call it too, so the fleet view never depends on which
endpoint a till happened to use.

A long-poll (``GET /v1/changes?wait=``) is a contact when it starts and again when it returns
(:func:`note_still_there`), so a till that spends its day waiting on the change feed never looks
silent for longer than one wait.

Writes are throttled: a contact is written only when the stored last-seen time is older than
``ServerSettings.seen_write_every_seconds`` or when something the terminal reports changed
(app version, platform, ledger schema or health, or its queue: /hq shows the queue as last
reported, and a till's queue changes only when it sells or pushes, not while it waits). A
thousand long-polling tills then cost a thousand reads of their own row per round (authentication needs that read anyway) and a write
only every so often, not one per request. The throttle compares with the stored time, so it works
the same with several server processes on one database.

The fleet page calls a terminal *online* while its last contact is more recent than
``ServerSettings.offline_after_seconds``; that window is larger than the throttle plus the
longest gap between a healthy till's requests (its sync interval and the long-poll wait), so a
quiet healthy till is never shown as offline.

The report arrives as headers (``sync.protocol.REPORT_HEADERS``). :func:`reported` parses them
once per request and answers 400 ``bad_report_header`` to a malformed one, on every ``/v1``
request, enroll and hello included; :func:`report_dependency` declares them in the OpenAPI
document.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Header, Request
from sqlalchemy import Connection, update

from sync.protocol import (
    APP_VERSION_HEADER,
    LEDGER_HEALTH_HEADER,
    LEDGER_PROBLEM_HEADER,
    LEDGER_SCHEMA_HEADER,
    PLATFORM_HEADER,
    QUEUED_HEADER,
    ReportHeaderError,
    TerminalReport,
)
from sync.server import schema
from sync.server.errors import ApiError

#: Reported facts that are written as soon as they change (the queue too: see note_contact).
_WRITTEN_AT_ONCE = ("app_version", "platform", "ledger_schema", "ledger_health", "ledger_problem")


def reported(request: Request) -> TerminalReport:
    """The terminal report this request carries (fields it left out are None).

    Raises :class:`ApiError` 400 ``bad_report_header`` naming a malformed or repeated header."""
    cached = getattr(request.state, "terminal_report", None)
    if isinstance(cached, TerminalReport):
        return cached
    try:
        report = TerminalReport.from_headers(request.headers.getlist)
    except ReportHeaderError as exc:
        raise ApiError(400, "bad_report_header", str(exc)) from None
    request.state.terminal_report = report
    return report


def report_dependency(
    request: Request,
    app_version: Annotated[
        str | None, Header(alias=APP_VERSION_HEADER, description="The till's app version, e.g. 1.4.0")
    ] = None,
    platform: Annotated[
        str | None, Header(alias=PLATFORM_HEADER, description="The till's platform, e.g. linux-x86_64")
    ] = None,
    ledger_schema: Annotated[
        str | None,
        Header(
            alias=LEDGER_SCHEMA_HEADER, description="Newest migration of the till's ledger, e.g. 0001_initial"
        ),
    ] = None,
    queued: Annotated[
        str | None,
        Header(alias=QUEUED_HEADER, description="Journal entries not acknowledged yet (0 to 2147483647)"),
    ] = None,
    ledger_health: Annotated[
        str | None, Header(alias=LEDGER_HEALTH_HEADER, description="ok, unchecked or failed")
    ] = None,
    ledger_problem: Annotated[
        str | None,
        Header(alias=LEDGER_PROBLEM_HEADER, description="What a failed verification found (ASCII, <= 200)"),
    ] = None,
) -> TerminalReport:
    """Router dependency: documents the report headers and refuses malformed ones (400)."""
    return reported(request)


def note_contact(
    conn: Connection,
    terminal: Any,
    report: TerminalReport,
    *,
    now: datetime,
    write_every: timedelta,
) -> bool:
    """Record that ``terminal`` (its ``terminals`` row, read by authentication) was in touch now
    and what it reported. Returns whether anything was written (see the module docstring)."""
    said: dict[str, Any] = {
        name: getattr(report, name) for name in _WRITTEN_AT_ONCE if getattr(report, name) is not None
    }
    if report.ledger_health is not None:
        said["ledger_health"] = report.ledger_health.value
        # A till that reports its health without a problem has none (any old one is cleared).
        said["ledger_problem"] = report.ledger_problem
    if report.queued is not None:
        said["last_queued"] = report.queued
    changes = {name: value for name, value in said.items() if getattr(terminal, name, None) != value}
    seen = terminal.last_seen_at
    due = seen is None or now - _aware(seen, now) >= write_every
    if not changes and not due:
        return False
    values: dict[str, Any] = {"last_seen_at": now, **changes}
    conn.execute(update(schema.terminals).where(schema.terminals.c.id == terminal.id).values(**values))
    return True


def note_still_there(conn: Connection, terminal_id: int, *, now: datetime, write_every: timedelta) -> bool:
    """Record that a terminal whose long-poll was held until now is still in touch: the same
    throttle as :func:`note_contact`, in one conditional statement (no read first). Returns
    whether it wrote."""
    terms = schema.terminals
    written = conn.execute(
        update(terms)
        .where(
            terms.c.id == terminal_id,
            (terms.c.last_seen_at.is_(None)) | (terms.c.last_seen_at <= now - write_every),
        )
        .values(last_seen_at=now)
    ).rowcount
    return bool(written)


def _aware(moment: datetime, like: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=like.tzinfo)


#: Columns :func:`note_contact` needs from the terminal's row.
CONTACT_COLUMNS = (
    schema.terminals.c.last_seen_at,
    schema.terminals.c.app_version,
    schema.terminals.c.platform,
    schema.terminals.c.ledger_schema,
    schema.terminals.c.ledger_health,
    schema.terminals.c.ledger_problem,
    schema.terminals.c.last_queued,
)
