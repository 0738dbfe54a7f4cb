"""Head-office figures: sales per store per day, the share claimed online, top products, the fleet.

Days are the store's own calendar days (its ``timezone``), so "today" at a store in Shanghai is
not cut at UTC midnight. The boundaries of the 30 days are computed here with zoneinfo (daylight
saving included) and handed to the database as one CASE expression, so the grouping is exact and
the same SQL runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from packaging.version import InvalidVersion, Version
from sqlalchemy import Connection, and_, case, func, select

from sync.server import schema
from sync.server.web.accounts import utc

DAYS = 30
TOP_PRODUCTS = 5


@dataclass
class DayFigures:
    day: date
    sales: int = 0
    amount: int = 0
    #: Amount of sales whose receipt code an online account added.
    claimed: int = 0
    #: Amount of sales a member code was scanned on at the till (and not also claimed).
    member: int = 0


@dataclass(frozen=True)
class TopProduct:
    sku: str
    name: str
    quantity_milli: int
    amount: int


@dataclass
class StoreFigures:
    store_id: int
    code: str
    name: str
    currency: str
    timezone: str
    days: list[DayFigures] = field(default_factory=list)
    top: list[TopProduct] = field(default_factory=list)

    @property
    def today(self) -> DayFigures:
        return self.days[-1]

    def total(self) -> DayFigures:
        """The whole 30 days as one figure."""
        whole = DayFigures(day=self.days[0].day)
        for d in self.days:
            whole.sales += d.sales
            whole.amount += d.amount
            whole.claimed += d.claimed
            whole.member += d.member
        return whole


def share(part: int, whole: int) -> str:
    """``part`` of ``whole`` as a whole percentage, '–' when there is nothing to share."""
    if whole <= 0:
        return "–"
    return f"{round(100 * part / whole)} %"


def _zone(name: str) -> ZoneInfo:
    from sync.server.stores import zone_or_utc

    return zone_or_utc(name)


def day_starts(zone: ZoneInfo, today: date) -> list[datetime]:
    """UTC instants at which each of the last DAYS local days starts, plus the start of tomorrow."""
    first = today - timedelta(days=DAYS - 1)
    return [
        datetime.combine(first + timedelta(days=i), time(0), tzinfo=zone).astimezone(UTC)
        for i in range(DAYS + 1)
    ]


def store_figures(conn: Connection, now: datetime) -> list[StoreFigures]:
    """Every store's last 30 local days (oldest first, today last) and its top products."""
    st = schema.stores
    stores = [
        StoreFigures(store_id=r.id, code=r.code, name=r.name, currency=r.currency, timezone=r.timezone)
        for r in conn.execute(
            select(st.c.id, st.c.code, st.c.name, st.c.currency, st.c.timezone).order_by(st.c.code)
        )
    ]
    by_zone: dict[str, list[StoreFigures]] = defaultdict(list)
    for store in stores:
        by_zone[store.timezone].append(store)
    for zone_name, group in by_zone.items():
        zone = _zone(zone_name)
        today = now.astimezone(zone).date()
        starts = day_starts(zone, today)
        for store in group:
            store.days = [DayFigures(day=today - timedelta(days=DAYS - 1 - i)) for i in range(DAYS)]
        _fill_days(conn, {s.store_id: s for s in group}, starts)
        for store in group:
            store.top = _top_products(conn, store.store_id, starts[0], starts[-1])
    return stores


def _fill_days(conn: Connection, stores: dict[int, StoreFigures], starts: list[datetime]) -> None:
    s, c = schema.sales, schema.claims
    day_index = case(
        *[(s.c.completed_at < starts[i + 1], i) for i in range(DAYS)],
        else_=DAYS,
    ).label("day_index")
    claimed = case((c.c.id.is_not(None), s.c.total), else_=0)
    member = case((and_(c.c.id.is_(None), s.c.member_id.is_not(None)), s.c.total), else_=0)
    rows = conn.execute(
        select(
            s.c.store_id,
            day_index,
            func.count(),
            func.coalesce(func.sum(s.c.total), 0),
            func.coalesce(func.sum(claimed), 0),
            func.coalesce(func.sum(member), 0),
        )
        .select_from(s.outerjoin(c, c.c.sale_id == s.c.id))
        .where(
            s.c.store_id.in_(list(stores)),
            s.c.kind == "sale",
            s.c.completed_at >= starts[0],
            s.c.completed_at < starts[-1],
        )
        .group_by(s.c.store_id, day_index)
    )
    for store_id, index, count, amount, claimed_amount, member_amount in rows:
        if 0 <= index < DAYS:
            figures = stores[store_id].days[index]
            figures.sales = int(count)
            figures.amount = int(amount)
            figures.claimed = int(claimed_amount)
            figures.member = int(member_amount)


def _top_products(conn: Connection, store_id: int, since: datetime, until: datetime) -> list[TopProduct]:
    s, sl = schema.sales, schema.sale_lines
    amount = func.sum(sl.c.total)
    rows = conn.execute(
        select(sl.c.sku, func.max(sl.c.name), func.sum(sl.c.quantity_milli), amount)
        .select_from(sl.join(s, s.c.id == sl.c.sale_id))
        .where(
            s.c.store_id == store_id, s.c.kind == "sale", s.c.completed_at >= since, s.c.completed_at < until
        )
        .group_by(sl.c.sku)
        .order_by(amount.desc(), sl.c.sku)
        .limit(TOP_PRODUCTS)
    )
    return [TopProduct(sku=r[0], name=r[1], quantity_milli=int(r[2]), amount=int(r[3])) for r in rows]


# --- the fleet ---------------------------------------------------------------------------------------

CLOCK_OFFSET_WARNING_MS = 120_000


class FleetState:
    """What /hq Fleet says of a terminal, most urgent first (see :func:`terminal_state`)."""

    REVOKED = "revoked"
    #: Head office holds a chain this terminal's pushes did not continue: two devices as one.
    FORKED = "forked"
    NEVER = "never synced"
    ONLINE = "online"
    OFFLINE = "offline"


@dataclass(frozen=True)
class TerminalStatus:
    terminal_id: int
    code: str
    name: str
    store_code: str
    store_name: str
    #: The store's time zone: every time on the page is shown in it.
    timezone: str
    enrolled_at: datetime
    #: Last contact of any kind (pull, push, long-poll, stock look-up); None: never in touch.
    last_contact: datetime | None
    last_push: datetime | None
    queued: int
    high_seq: int
    clock_offset_ms: int | None
    revoked_at: datetime | None
    app_version: str | None
    platform: str | None
    ledger_schema: str | None
    #: protocol.LedgerHealth value ('ok', 'unchecked', 'failed') or None when never reported.
    ledger_health: str | None
    ledger_problem: str | None
    state: str
    #: The app version is older than the newest in the fleet or the configured minimum.
    outdated: bool
    #: How long since the last contact; None if there never was one.
    silent_for: timedelta | None
    #: When a push first did not continue the chain held for this terminal, and what it found.
    forked_at: datetime | None = None
    fork_detail: str | None = None

    @property
    def ledger_failed(self) -> bool:
        return self.ledger_health == "failed"

    @property
    def clock_off(self) -> bool:
        return self.clock_offset_ms is not None and abs(self.clock_offset_ms) > CLOCK_OFFSET_WARNING_MS

    def local(self, moment: datetime | None) -> str:
        """``moment`` in the store's time zone, e.g. '2026-12-02 09:14 CET'; '–' for None."""
        if moment is None:
            return "–"
        return moment.astimezone(_zone(self.timezone)).strftime("%Y-%m-%d %H:%M %Z")


@dataclass(frozen=True)
class FleetRules:
    """How the fleet page judges terminals (``ServerSettings``: offline_after_seconds,
    min_app_version)."""

    offline_after: timedelta
    min_app_version: str | None = None


def terminal_state(
    *,
    revoked: bool,
    last_contact: datetime | None,
    now: datetime,
    offline_after: timedelta,
    forked: bool = False,
) -> str:
    """Online or offline by the last contact of any kind -- never by the last push, so a till
    that has nothing to send but keeps asking for news is online. Revoked, then forked, first."""
    if revoked:
        return FleetState.REVOKED
    if forked:
        return FleetState.FORKED
    if last_contact is None:
        return FleetState.NEVER
    return FleetState.ONLINE if now - last_contact <= offline_after else FleetState.OFFLINE


def parse_version(text: str | None) -> Version | None:
    """A PEP 440 version, or None for none or one that is not (shown, never marked outdated)."""
    if not text:
        return None
    try:
        return Version(text)
    except InvalidVersion:
        return None


def newest_version(versions: list[str | None]) -> Version | None:
    parsed = [v for v in map(parse_version, versions) if v is not None]
    return max(parsed, default=None)


def is_outdated(version: str | None, *, newest: Version | None, minimum: Version | None) -> bool:
    """Older than the newest version any active terminal runs, or than the configured minimum."""
    mine = parse_version(version)
    if mine is None:
        return False
    return (newest is not None and mine < newest) or (minimum is not None and mine < minimum)


def fleet(conn: Connection, now: datetime, rules: FleetRules | None = None) -> list[TerminalStatus]:
    """Every terminal with what it last reported, by store then terminal code."""
    rules = rules or FleetRules(offline_after=timedelta(minutes=5))
    t, st = schema.terminals, schema.stores
    rows = conn.execute(
        select(
            t,
            st.c.code.label("store_code"),
            st.c.name.label("store_name"),
            st.c.timezone.label("store_timezone"),
        )
        .select_from(t.join(st, st.c.id == t.c.store_id))
        .order_by(st.c.code, t.c.code)
    ).all()
    newest = newest_version([r.app_version for r in rows if r.revoked_at is None])
    minimum = parse_version(rules.min_app_version)
    result = []
    for r in rows:
        contact = utc(r.last_seen_at) if r.last_seen_at is not None else None
        revoked_at = utc(r.revoked_at) if r.revoked_at is not None else None
        result.append(
            TerminalStatus(
                terminal_id=r.id,
                code=r.code,
                name=r.name,
                store_code=r.store_code,
                store_name=r.store_name,
                timezone=r.store_timezone,
                enrolled_at=utc(r.enrolled_at),
                last_contact=contact,
                last_push=utc(r.last_push_at) if r.last_push_at is not None else None,
                queued=int(r.last_queued or 0),
                high_seq=int(r.last_high_seq or 0),
                clock_offset_ms=r.clock_offset_ms,
                revoked_at=revoked_at,
                app_version=r.app_version,
                platform=r.platform,
                ledger_schema=r.ledger_schema,
                ledger_health=r.ledger_health,
                ledger_problem=r.ledger_problem,
                state=terminal_state(
                    revoked=revoked_at is not None,
                    last_contact=contact,
                    now=now,
                    offline_after=rules.offline_after,
                    forked=r.forked_at is not None,
                ),
                outdated=is_outdated(r.app_version, newest=newest, minimum=minimum),
                silent_for=max(now - contact, timedelta(0)) if contact is not None else None,
                forked_at=utc(r.forked_at) if r.forked_at is not None else None,
                fork_detail=r.fork_detail,
            )
        )
    return result


def describe_span(span: timedelta | None) -> str:
    """A duration a person reads at a glance: '45 s', '12 min', '3 h', '2 d'."""
    if span is None:
        return "never"
    seconds = int(span.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def describe_offset(offset_ms: int | None) -> str:
    """A clock offset with its sign: '+1.2 s' means the terminal's clock is ahead."""
    if offset_ms is None:
        return "–"
    return f"{offset_ms / 1000:+.1f} s"


# --- what needs a look ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """A conflict or a quarantined journal entry, as head office reads it."""

    kind: str  # 'conflict' | 'quarantined'
    terminal_code: str
    store_code: str
    seq: int
    event_id: str
    type: str
    reason: str
    detail: str
    received_at: datetime
    resolved: bool
    payload: Any


def problems(conn: Connection, *, limit: int = 100) -> tuple[list[Problem], list[Problem], int, int]:
    """Open conflicts and quarantined entries, newest first, with how many of each there are."""
    t, st, cf, j = schema.terminals, schema.stores, schema.conflicts, schema.journal
    place = t.join(st, st.c.id == t.c.store_id)
    conflict_rows = conn.execute(
        select(cf, t.c.code.label("terminal_code"), st.c.code.label("store_code"))
        .select_from(cf.join(place, t.c.id == cf.c.terminal_id))
        .order_by(cf.c.resolved_at.is_not(None), cf.c.received_at.desc())
        .limit(limit)
    )
    conflicts = [
        Problem(
            kind="conflict",
            terminal_code=r.terminal_code,
            store_code=r.store_code,
            seq=r.seq,
            event_id=r.event_id,
            type=r.type,
            reason=r.reason,
            detail=r.detail,
            received_at=utc(r.received_at),
            resolved=r.resolved_at is not None,
            payload=r.payload,
        )
        for r in conflict_rows
    ]
    quarantine_rows = conn.execute(
        select(
            j.c.seq,
            j.c.event_id,
            j.c.type,
            j.c.reason,
            j.c.received_at,
            j.c.payload,
            t.c.code.label("terminal_code"),
            st.c.code.label("store_code"),
        )
        .select_from(j.join(place, t.c.id == j.c.terminal_id))
        .where(j.c.status == "quarantined")
        .order_by(j.c.received_at.desc())
        .limit(limit)
    )
    quarantined = [
        Problem(
            kind="quarantined",
            terminal_code=r.terminal_code,
            store_code=r.store_code,
            seq=r.seq,
            event_id=r.event_id,
            type=r.type,
            reason=r.reason or "",
            detail="",
            received_at=utc(r.received_at),
            resolved=False,
            payload=r.payload,
        )
        for r in quarantine_rows
    ]
    open_conflicts = conn.execute(
        select(func.count()).select_from(cf).where(cf.c.resolved_at.is_(None))
    ).scalar_one()
    quarantined_count = conn.execute(
        select(func.count()).select_from(j).where(j.c.status == "quarantined")
    ).scalar_one()
    return conflicts, quarantined, int(open_conflicts), int(quarantined_count)


#: Why a member the till named was not credited (sync.server.push.MemberCheck), for people.
MEMBER_REFUSALS = {
    "no_code": "a member id with no member code shown",
    "malformed": "the member code could not be read",
    "forged": "the member code is not signed by head office",
    "outside_window": "the member code was not valid at the time of the sale",
    "reused": "the member code had already credited its limit of sales",
    "unknown_member": "no account with that member id",
}


@dataclass(frozen=True)
class MemberAttempt:
    """A sale whose till named a shopper head office did not credit (kept without one)."""

    store_code: str
    terminal_code: str
    receipt_no: str
    completed_at: datetime
    total: int
    currency: str
    asserted_member_id: int | None
    reason: str
    explanation: str


def member_attempts(conn: Connection, *, limit: int = 100) -> tuple[list[MemberAttempt], int]:
    """Refused member credits, newest first, and how many there are in all."""
    s, t, st = schema.sales, schema.terminals, schema.stores
    refused = s.c.member_check.in_(list(MEMBER_REFUSALS))
    rows = conn.execute(
        select(
            s.c.receipt_no,
            s.c.completed_at,
            s.c.total,
            s.c.currency,
            s.c.asserted_member_id,
            s.c.member_check,
            t.c.code.label("terminal_code"),
            st.c.code.label("store_code"),
        )
        .select_from(s.join(t, t.c.id == s.c.terminal_id).join(st, st.c.id == s.c.store_id))
        .where(refused)
        .order_by(s.c.completed_at.desc())
        .limit(limit)
    )
    attempts = [
        MemberAttempt(
            store_code=r.store_code,
            terminal_code=r.terminal_code,
            receipt_no=r.receipt_no,
            completed_at=utc(r.completed_at),
            total=r.total,
            currency=r.currency,
            asserted_member_id=r.asserted_member_id,
            reason=r.member_check,
            explanation=MEMBER_REFUSALS[r.member_check],
        )
        for r in rows
    ]
    count = conn.execute(select(func.count()).select_from(s).where(refused)).scalar_one()
    return attempts, int(count)
