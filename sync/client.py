"""The terminal's side of the wire: one call per ``/v1`` endpoint, failures sorted into four kinds.

:class:`CentralClient` takes an injected :class:`httpx.Client`, so the same code talks to a real
``pos-central`` over TCP, to the app in-process (starlette's ``TestClient``), or to a transport
that injects faults. It does no retrying itself: a call either returns the server's answer or
raises one of

* :class:`Offline` -- the server could not be reached or could not answer now (connect/read/write
  errors, timeouts, 5xx, 429, an answer that is not what the protocol says). Keep the data, try
  again later; ``retry_after`` carries the server's Retry-After when it sent one.
* :class:`Revoked` -- 401: the terminal is unknown or revoked. Stop pushing, tell the cashier to
  call IT, keep selling offline.
* :class:`ProtocolTooOld` -- 426: this build speaks a protocol the server dropped. Tell IT.
* :class:`Rejected` -- any other 4xx: the server understood and refused; ``body`` is its
  :class:`~sync.protocol.ErrorBody`.

Every answer that carries a time (a ``server_time`` field or a ``Date`` header) updates
:attr:`CentralClient.clock_offset`, the server clock minus ours, in seconds. It is only measured
and reported; nothing waits on it.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError

from sync.protocol import (
    PROTOCOL_VERSION,
    ChangesPage,
    Enrollment,
    EnrollRequest,
    ErrorBody,
    Hello,
    JournalEntry,
    MemberCodeAnswer,
    PushResponse,
    StockLevel,
    TerminalReport,
)

#: Sent with every request so the server can answer 426 before parsing a body it may not know.
PROTOCOL_HEADER = "X-Storelink-Protocol"

#: Returns what the terminal reports about itself (version, platform, schema, queue, ledger health);
#: called once per request, so the figures are current. See :class:`sync.protocol.TerminalReport`.
ReportSource = Callable[[], TerminalReport]

#: Seconds to wait for a connection, and for an answer to an ordinary call. Long-polls add ``wait``.
DEFAULT_TIMEOUT = httpx.Timeout(20.0, connect=5.0)

log = logging.getLogger(__name__)
_Model = TypeVar("_Model", bound=BaseModel)
_STOCK_LIST: TypeAdapter[list[StockLevel]] = TypeAdapter(list[StockLevel])


class FailureKind(StrEnum):
    """The four ways a sync call fails, as the status line and the fleet view name them."""

    OFFLINE = "offline"
    REVOKED = "revoked"
    PROTOCOL_TOO_OLD = "protocol_too_old"
    REJECTED = "rejected"


class SyncFailure(Exception):
    """A call to the central server did not succeed. ``kind`` says what to do about it."""

    kind: FailureKind = FailureKind.OFFLINE

    def __init__(self, detail: str, *, status: int | None = None, body: ErrorBody | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.body = body


class Offline(SyncFailure):
    """Not reachable now, or not able to answer now. Retry later (after ``retry_after`` if set)."""

    kind = FailureKind.OFFLINE

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        body: ErrorBody | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail, status=status, body=body)
        self.retry_after = retry_after


class Revoked(SyncFailure):
    """401: the server does not accept this terminal's token. Stop pushing; call IT."""

    kind = FailureKind.REVOKED


class ProtocolTooOld(SyncFailure):
    """426: the server no longer speaks this terminal's protocol version. Call IT to update."""

    kind = FailureKind.PROTOCOL_TOO_OLD


class Rejected(SyncFailure):
    """Another 4xx: the server refused this request as it stands; retrying it unchanged won't help."""

    kind = FailureKind.REJECTED


class Forked(Rejected):
    """409 ``terminal_forked``: this till's journal does not continue the one head office holds for
    its terminal (another device sends as this terminal, or the ledger came from an older backup).
    Nothing of it was merged; retrying won't change that. Stop pushing; call IT."""


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def parse_server_time(value: str) -> float | None:
    """Unix seconds from an ISO 8601 timestamp (naive means UTC), or None if it is not one."""
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


class CentralClient:
    """Calls the ``/v1`` terminal API of ``pos-central`` at ``base_url`` through ``http``.

    ``token`` is the terminal's bearer token (None before enrollment). ``now`` returns the local
    clock in Unix seconds; tests pass a fake one to simulate a skewed terminal clock. ``report``,
    when given, is asked before every request and its :class:`~sync.protocol.TerminalReport` goes
    with the request as headers; if it fails, the request goes without them (and it is logged).
    """

    def __init__(
        self,
        base_url: str,
        http: httpx.Client,
        token: str | None = None,
        *,
        now: Callable[[], float] = time.time,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        report: ReportSource | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.report = report
        self.http = http
        self.token = token
        self._now = now
        self._timeout = timeout
        #: Server clock minus local clock, seconds, from the last answer that carried a time.
        self.clock_offset: float | None = None
        #: Local time (Unix seconds) of the last answer of any kind from the server, even an error.
        self.last_contact: float | None = None
        self._midpoint = 0.0

    def sibling(self) -> CentralClient:
        """A client for the same server, token and HTTP connections, with its own clock reading
        (the loop's long-poll uses one: an answer held for seconds says nothing about the clock)."""
        return CentralClient(
            self.base_url, self.http, self.token, now=self._now, timeout=self._timeout, report=self.report
        )

    # --- the API --------------------------------------------------------------------------------

    def hello(self) -> Hello:
        """The server's protocol versions, clock and batch limits. Needs no token."""
        return self._call("GET", "/v1/hello", Hello, auth=False)

    def enroll(
        self,
        code: str,
        terminal_name: str = "",
        device_key: str | None = None,
        ledger: tuple[int, str] | None = None,
    ) -> Enrollment:
        """Exchange a single-use enrollment code for this terminal's identity and secrets.

        ``device_key`` makes a retry safe: the same code and key get the same terminal again.
        ``ledger`` is the head (seq, hash) of a journal the till already holds from an earlier
        enrollment (a restored ledger). Does not store anything: the caller keeps the secrets."""
        body = EnrollRequest(
            code=code,
            terminal_name=terminal_name,
            protocol_version=PROTOCOL_VERSION,
            device_key=device_key,
            ledger_seq=ledger[0] if ledger else None,
            ledger_head=ledger[1] if ledger else None,
        )
        return self._call("POST", "/v1/enroll", Enrollment, json=body.model_dump(mode="json"), auth=False)

    def push(self, entries: list[JournalEntry], queued: int = 0) -> PushResponse:
        """Send one batch of journal entries (in sequence order); the server's per-entry verdicts."""
        return self.push_json([entry.model_dump_json().encode("utf-8") for entry in entries], queued)

    def push_json(self, entries: Sequence[bytes], queued: int = 0) -> PushResponse:
        """:meth:`push` for entries already serialized, each the JSON of a JournalEntry.

        The body is a :class:`PushRequest`, put together around the entries' bytes."""
        envelope = orjson.dumps(
            {
                "protocol_version": PROTOCOL_VERSION,
                "queued": queued,
                "client_time": datetime.fromtimestamp(self._now(), UTC).isoformat(),
            }
        )
        body = b"".join((envelope[:-1], b',"entries":[', b",".join(entries), b"]}"))
        return self._call("POST", "/v1/push", PushResponse, content=body)

    def changes(self, cursor: str | None, limit: int = 500, wait: float = 0.0) -> ChangesPage:
        """One page of the store's change feed after ``cursor`` (None: from the start).

        With ``wait`` > 0 the server may hold the request that many seconds for a change to
        arrive (long-poll); the read timeout is stretched to match."""
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        if wait > 0:
            params["wait"] = wait
        timeout = self._timeout
        if wait > 0:
            read = (self._timeout.read or 0.0) + wait
            timeout = httpx.Timeout(self._timeout.connect or 5.0, read=read)
        return self._call("GET", "/v1/changes", ChangesPage, params=params, timeout=timeout)

    def stock(self, sku: str) -> list[StockLevel]:
        """On-hand figures for one product across the chain's stores."""
        response = self._send("GET", f"/v1/stock/{quote(sku, safe='')}", auth=True)
        try:
            return _STOCK_LIST.validate_json(response.content)
        except ValidationError as exc:
            raise Offline(f"the server's stock answer does not follow the protocol: {exc}") from exc

    def member_code(self, short: str) -> MemberCodeAnswer:
        """The shopper a typed member short code names, with that hour's signed member code."""
        return self._call("GET", f"/v1/member-codes/{quote(short, safe='')}", MemberCodeAnswer)

    # --- plumbing -------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        model: type[_Model],
        *,
        auth: bool = True,
        timeout: httpx.Timeout | None = None,
        **kwargs: Any,
    ) -> _Model:
        response = self._send(method, path, auth=auth, timeout=timeout, **kwargs)
        try:
            answer = model.model_validate_json(response.content)
        except ValidationError as exc:
            # A proxy's error page or a half-deployed server: nothing we can act on but wait.
            raise Offline(
                f"the server's answer to {method} {path} does not follow the protocol",
                status=response.status_code,
            ) from exc
        server_time = getattr(answer, "server_time", None)
        if isinstance(server_time, str):
            self._note_server_time(parse_server_time(server_time), response)
        return answer

    def _send(
        self,
        method: str,
        path: str,
        *,
        auth: bool,
        timeout: httpx.Timeout | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        headers = {PROTOCOL_HEADER: str(PROTOCOL_VERSION), "Accept": "application/json"}
        headers.update(self._report_headers())
        if "content" in kwargs:
            headers["Content-Type"] = "application/json"
        if auth:
            if not self.token:
                raise Revoked("this terminal is not enrolled: run `pos enroll`")
            headers["Authorization"] = f"Bearer {self.token}"
        sent_at = self._now()
        try:
            response = self.http.request(
                method,
                self.base_url + path,
                headers=headers,
                timeout=timeout or self._timeout,
                **kwargs,
            )
        except httpx.TimeoutException as exc:
            raise Offline(f"no answer from {self.base_url} in time ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise Offline(f"cannot reach {self.base_url}: {type(exc).__name__}: {exc}") from exc
        received_at = self._now()
        self.last_contact = received_at
        self._note_date_header(response, sent_at, received_at)
        self._raise_for_status(method, path, response, received_at)
        return response

    def _report_headers(self) -> dict[str, str]:
        if self.report is None:
            return {}
        try:
            return self.report().headers()
        except Exception:  # a report we cannot make must never stop a sale from syncing
            log.warning("could not make the terminal report; sending the request without it", exc_info=True)
            return {}

    def _note_date_header(self, response: httpx.Response, sent_at: float, received_at: float) -> None:
        # The Date header has one-second resolution; a server_time field, when present, replaces it.
        self._midpoint = (sent_at + received_at) / 2
        date = response.headers.get("Date")
        if not date:
            return
        try:
            when = email.utils.parsedate_to_datetime(date)
        except (TypeError, ValueError):
            return
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        self.clock_offset = when.timestamp() + 0.5 - self._midpoint

    def _note_server_time(self, server_time: float | None, response: httpx.Response) -> None:
        if server_time is not None:
            self.clock_offset = server_time - self._midpoint

    def _raise_for_status(self, method: str, path: str, response: httpx.Response, now: float) -> None:
        status = response.status_code
        if status < 400:
            return
        body = _error_body(response)
        said = f"{body.error}: {body.detail}" if body else response.reason_phrase or str(status)
        what = f"{method} {path} answered {status} ({said})"
        if status == 401:
            raise Revoked(what, status=status, body=body)
        if status == 426:
            raise ProtocolTooOld(what, status=status, body=body)
        if status == 429 or status >= 500 or status in (408, 502, 503, 504):
            raise Offline(
                what,
                status=status,
                body=body,
                retry_after=parse_retry_after(response.headers.get("Retry-After"), now=now),
            )
        if status == 409 and body is not None and body.error == "terminal_forked":
            raise Forked(what, status=status, body=body)
        raise Rejected(what, status=status, body=body)


def _error_body(response: httpx.Response) -> ErrorBody | None:
    try:
        return ErrorBody.model_validate_json(response.content)
    except ValidationError:
        return None


__all__ = [
    "PROTOCOL_HEADER",
    "CentralClient",
    "FailureKind",
    "Forked",
    "Offline",
    "ProtocolTooOld",
    "Rejected",
    "Revoked",
    "SyncFailure",
    "parse_retry_after",
    "parse_server_time",
]
