"""What this till tells head office about itself with every request, for the fleet view.

:func:`terminal_report` builds the :class:`sync.protocol.TerminalReport` that
:class:`sync.client.CentralClient` sends as headers with every request: the app version, the
platform, the ledger schema (newest migration applied), how many journal entries head office has
not acknowledged, and the ledger's health as the last verification found it.

Ledger health lives in ``ledger-health.json`` beside the ledger, not in the ledger itself:
``pos ledger verify`` opens the ledger read-only (it must work on a damaged file and change
nothing), and the app's sync thread reads the file before each request. Whoever verifies the
ledger calls :func:`record_ledger_health` with the outcome; a till that was never verified
reports ``unchecked``.
"""

from __future__ import annotations

import json
import logging
import platform
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path

from pos.config import atomic_write_text
from pos.ledger import migrations, state
from pos.services.terminal import Terminal
from sync.protocol import LedgerHealth, TerminalReport, printable_problem

log = logging.getLogger(__name__)

#: The distribution whose version the till reports (``pip show storelink-pos``).
DISTRIBUTION = "storelink-pos"
HEALTH_FILE = "ledger-health.json"
_SCHEMA = re.compile(r"[0-9]{4}_[a-z0-9_]{1,59}")


def app_version() -> str:
    """This build's version, as installed (``0+unknown`` when run from a tree that is not)."""
    try:
        version = metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "0+unknown"
    return version if re.fullmatch(r"[0-9A-Za-z][0-9A-Za-z.+!_-]{0,63}", version) else "0+unknown"


def platform_tag() -> str:
    """The platform as the fleet view shows it: ``linux-x86_64``, ``windows-amd64``, ``macos-arm64``."""
    system = {"win32": "windows", "darwin": "macos"}.get(sys.platform, sys.platform)
    machine = platform.machine().lower() or "unknown"
    tag = re.sub(r"[^a-z0-9._-]", "-", f"{system}-{machine}".lower())
    return tag[:64]


@dataclass(frozen=True)
class HealthRecord:
    """The outcome of the last ledger verification, as kept in ``ledger-health.json``."""

    health: LedgerHealth
    problem: str | None = None
    checked_at: str | None = None


def record_ledger_health(
    data_dir: Path, *, ok: bool, problem: str | None, now: datetime | None = None
) -> None:
    """Keep the outcome of a ledger verification; the next request to head office reports it."""
    moment = (now or datetime.now(UTC)).astimezone(UTC).isoformat()
    record = {
        "health": (LedgerHealth.OK if ok else LedgerHealth.FAILED).value,
        "problem": None if ok else printable_problem(problem or "verification failed"),
        "checked_at": moment,
    }
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(data_dir) / HEALTH_FILE, json.dumps(record, sort_keys=True), mode=0o644)


def ledger_health(data_dir: Path) -> HealthRecord:
    """What the last verification found (``unchecked`` when there was none)."""
    path = Path(data_dir) / HEALTH_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return HealthRecord(
            health=LedgerHealth(raw["health"]),
            problem=printable_problem(raw["problem"]) if raw.get("problem") else None,
            checked_at=raw.get("checked_at"),
        )
    except FileNotFoundError:
        return HealthRecord(LedgerHealth.UNCHECKED)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # Someone damaged the record: say so rather than claim a health nobody checked.
        log.warning("%s cannot be read (%s); reporting the ledger as failed", path, exc)
        return HealthRecord(LedgerHealth.FAILED, printable_problem(f"{HEALTH_FILE} is unreadable"))


#: How old the last verification may be before ``pos sync`` verifies the ledger again.
RECHECK_AFTER = timedelta(hours=1)


def check_ledger(data_dir: Path, *, unless_checked_within: timedelta | None = None) -> HealthRecord:
    """Verify the ledger now (the journal's chain and every table derived from it, as ``pos ledger
    verify`` does) and keep the outcome for head office; return it.

    With ``unless_checked_within``, a verification at least that recent is kept as it is (a
    failure is always verified again). The sync loop calls this when it starts and ``pos sync``
    before its round, so a till whose ledger was altered says so with its next request."""
    if unless_checked_within is not None:
        last = ledger_health(data_dir)
        if last.health is LedgerHealth.OK and last.checked_at:
            try:
                checked = datetime.fromisoformat(last.checked_at)
            except ValueError:
                checked = None
            if checked is not None and datetime.now(UTC) - checked < unless_checked_within:
                return last
    from pos.services.reports import verify_ledger

    result = verify_ledger(data_dir)
    try:
        record_ledger_health(data_dir, ok=result.ok, problem=result.problem)
    except OSError as exc:
        log.warning("could not record the ledger's health for head office: %s", exc)
    if not result.ok:
        log.error("the ledger failed verification: %s", result.problem)
    return ledger_health(data_dir)


def terminal_report(terminal: Terminal) -> TerminalReport:
    """The report that goes with the next request, read now (two small reads of the ledger)."""
    db = terminal.ledger.read()
    done = migrations.applied(db)
    schema = done[-1] if done and _SCHEMA.fullmatch(done[-1]) else None
    health = ledger_health(terminal.data_dir)
    return TerminalReport(
        app_version=app_version(),
        platform=platform_tag(),
        ledger_schema=schema,
        queued=min(state.queued_events(db), 2**31 - 1),
        ledger_health=health.health,
        ledger_problem=health.problem if health.health is LedgerHealth.FAILED else None,
    )


def report_source(terminal: Terminal) -> Callable[[], TerminalReport]:
    """What :class:`sync.client.CentralClient` calls before each request."""
    return lambda: terminal_report(terminal)
