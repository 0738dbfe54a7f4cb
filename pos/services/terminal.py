"""The open terminal: the context every service takes, and the errors services raise.

``open_terminal(data_dir)`` opens the ledger, reads the terminal configuration and secrets, and
returns a :class:`Terminal`. Close it with :func:`close_terminal` (or use it as a context manager).
The terminal holds who is signed in; everything durable lives in the ledger.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pos.config import SecretStore, TerminalConfig, default_data_dir, load_config
from pos.domain.scanning import ScanConfig
from pos.domain.tax import TaxMode
from pos.ledger import state
from pos.ledger.db import Ledger
from pos.ledger.journal import utc_stamp
from pos.ledger.staff import StaffMember

log = logging.getLogger(__name__)


class ServiceError(ValueError):
    """A business action was refused. ``str()`` is a sentence for the cashier; nothing was changed."""


class NotSignedIn(ServiceError):
    pass


class ApprovalNeeded(ServiceError):
    """The action needs a manager's PIN: call again with ``manager_pin``. ``action`` says which."""

    def __init__(self, action: str, message: str) -> None:
        super().__init__(message)
        self.action = action


class LockedOut(ServiceError):
    """Too many wrong PINs: PIN entry is closed until ``until``."""

    def __init__(self, until: datetime) -> None:
        super().__init__(
            f"Too many wrong PINs: PIN entry is locked until {until.astimezone(UTC):%H:%M:%S} UTC."
        )
        self.until = until


@dataclass(frozen=True)
class StoreSettings:
    """The store's rules as this terminal applies them (from the server, or local defaults)."""

    store_code: str = "LOCAL"
    store_name: str = "Standalone store"
    currency: str = "EUR"
    locale: str = "en"
    tax_mode: str = "inclusive"
    #: A cashier may give up to this percent off without a manager.
    discount_limit_percent: int = 10
    #: Cash rounding step in minor units (1: none, 5: to 0.05).
    cash_increment: int = 1
    #: GS1 region for variable-measure codes (e.g. "de"); None reads them as plain numbers.
    rcn_region: str | None = None
    #: Two-digit prefixes read as variable-measure (None: all the region defines).
    rcn_prefixes: tuple[str, ...] | None = None
    timezone: str = "UTC"

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> StoreSettings:
        known = set(cls.__dataclass_fields__)
        clean = {k: v for k, v in values.items() if k in known}
        if isinstance(clean.get("rcn_prefixes"), list):
            clean["rcn_prefixes"] = tuple(clean["rcn_prefixes"])
        settings = cls(**clean)
        TaxMode(settings.tax_mode)
        settings.scan_config()  # refuses an unknown currency or region
        return settings

    def scan_config(self) -> ScanConfig:
        return ScanConfig(
            currency=self.currency,
            rcn_region=self.rcn_region,
            rcn_prefixes=frozenset(self.rcn_prefixes) if self.rcn_prefixes is not None else None,
        )


@dataclass
class Terminal:
    """An open terminal. Services take it as their first argument.

    ``clock`` returns the current time (timezone-aware); tests pass a fixed or stepping clock.
    """

    data_dir: Path
    ledger: Ledger
    config: TerminalConfig
    secrets: SecretStore
    settings: StoreSettings
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    #: Who is signed in now, or None.
    cashier: StaffMember | None = None

    def now(self) -> datetime:
        return self.clock()

    def stamp(self) -> str:
        """Now as the journal's ISO 8601 UTC text."""
        return utc_stamp(self.clock())

    def require_cashier(self) -> StaffMember:
        if self.cashier is None:
            raise NotSignedIn("Sign in with your PIN first.")
        return self.cashier

    def server_public_key(self) -> bytes | None:
        text = self.config.server_public_key
        if not text:
            return None
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            log.error("terminal.json: server_public_key is not valid base64")
            return None
        return raw if len(raw) == 32 else None

    def reload_settings(self) -> StoreSettings:
        """Re-read the store settings from the ledger (after a sync changed them)."""
        self.settings = _settings_from_ledger(self.ledger, self.config)
        return self.settings

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        close_terminal(self)


def _settings_from_ledger(ledger: Ledger, config: TerminalConfig) -> StoreSettings:
    stored = state.get_settings(ledger.read())
    values: dict[str, Any] = {}
    known = set(StoreSettings.__dataclass_fields__)
    base = {"store_code": config.store_code, "store_name": config.store_name, **config.store_defaults}
    # One bad value (from a newer server, or a hand-edited file) must not stop the till opening:
    # it is logged and the rest apply.
    for key, value in [*base.items(), *stored.items()]:
        if key not in known:
            continue
        try:
            StoreSettings.from_mapping({**values, key: value})
        except (TypeError, ValueError) as exc:
            log.error("store setting %s=%r ignored: %s", key, value, exc)
            continue
        values[key] = value
    return StoreSettings.from_mapping(values)


def open_terminal(
    data_dir: Path | str | None = None,
    *,
    clock: Callable[[], datetime] | None = None,
    secrets_backend: str | None = None,
    daily_backup: bool = True,
) -> Terminal:
    """Open the terminal whose files are in ``data_dir`` (default: the platform's user data dir).

    Creates the data dir and ledger on first use. Raises :class:`pos.ledger.db.LedgerDamaged`
    (integrity check failed; the message names the newest backup) or
    :class:`pos.config.ConfigError` (unreadable configuration).
    """
    folder = Path(data_dir) if data_dir is not None else default_data_dir()
    config = load_config(folder)
    ledger = Ledger.open(folder, daily_backup=daily_backup)
    try:
        secrets = SecretStore(folder, backend=secrets_backend)
        settings = _settings_from_ledger(ledger, config)
    except BaseException:
        ledger.close()
        raise
    terminal = Terminal(data_dir=folder, ledger=ledger, config=config, secrets=secrets, settings=settings)
    if clock is not None:
        terminal.clock = clock
    return terminal


def close_terminal(terminal: Terminal) -> None:
    """Finish pending writes and close the ledger."""
    terminal.ledger.close()


def set_store_settings(terminal: Terminal, **values: Any) -> StoreSettings:
    """Change store settings on this terminal (standalone use; an enrolled one gets them by sync).

    Unknown names or invalid values raise :class:`ServiceError` and change nothing.
    """
    known = set(StoreSettings.__dataclass_fields__)
    unknown = sorted(set(values) - known)
    if unknown:
        raise ServiceError(f"Unknown store setting(s): {', '.join(unknown)}.")
    try:
        updated = StoreSettings.from_mapping({**terminal.settings.__dict__, **values})
    except (TypeError, ValueError) as exc:
        raise ServiceError(f"Invalid store setting: {exc}") from exc
    stored = {k: (list(v) if isinstance(v, tuple) else v) for k, v in values.items()}
    terminal.ledger.transact(lambda db: state.put_settings(db, stored))
    terminal.settings = updated
    return replace(updated)
