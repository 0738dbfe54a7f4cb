"""Where a terminal keeps its files, who it is, and its secrets.

The data directory (default: the platform's user data directory, ``--data-dir`` everywhere)
holds::

    ledger.sqlite3      the ledger (see docs/ledger.md)
    backups/            online backups of the ledger
    terminal.json       non-secret terminal configuration (identity, server URLs, public key)
    secrets.json        secrets when no OS keyring works: mode 0600, readable only by the user

Secrets (the claim key, later the bearer token) live in the OS keyring when one works and in
``secrets.json`` otherwise. Setting ``STORELINK_SECRETS=file`` forces the file (tests, CI, kiosks).
A terminal that was never enrolled is *standalone*: terminal id 0 and a claim key made locally.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import stat
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import platformdirs

from sync.codes import new_claim_key

log = logging.getLogger(__name__)

APP_NAME = "storelink-pos"
CONFIG_FILE = "terminal.json"
SECRETS_FILE = "secrets.json"
KEYRING_SERVICE = "storelink-pos"


class ConfigError(ValueError):
    """The terminal configuration cannot be read or is invalid; str() says which file and why."""


def default_data_dir() -> Path:
    """The platform's user data directory for the terminal (e.g. ~/.local/share/storelink-pos)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


@dataclass(frozen=True)
class TerminalConfig:
    """Non-secret configuration of one terminal, stored in ``terminal.json``."""

    terminal_id: int = 0
    terminal_code: str = "T0"
    terminal_name: str = ""
    store_code: str = "LOCAL"
    store_name: str = "Standalone store"
    server_url: str | None = None
    public_url: str = "https://claim.invalid"
    #: Base64 of the central server's raw Ed25519 public key (verifies member codes offline).
    server_public_key: str | None = None
    enrolled: bool = False
    #: Settings a standalone terminal starts with; a store's settings from the server replace them.
    store_defaults: dict[str, Any] = field(default_factory=dict)

    @property
    def standalone(self) -> bool:
        return not self.enrolled


def load_config(data_dir: Path) -> TerminalConfig:
    """The terminal configuration in ``data_dir`` (defaults when there is no file yet)."""
    path = data_dir / CONFIG_FILE
    if not path.exists():
        return TerminalConfig()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the terminal configuration: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the terminal configuration must be a JSON object")
    known = {f for f in TerminalConfig.__dataclass_fields__}
    unknown = sorted(set(raw) - known)
    if unknown:
        log.warning("%s: ignoring unknown settings %s", path, ", ".join(unknown))
    try:
        config = TerminalConfig(**{k: v for k, v in raw.items() if k in known})
    except TypeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    if not isinstance(config.terminal_id, int) or not 0 <= config.terminal_id < 2**32:
        raise ConfigError(f"{path}: terminal_id must be a whole number from 0, got {config.terminal_id!r}")
    return config


def save_config(data_dir: Path, config: TerminalConfig) -> None:
    """Write ``terminal.json`` atomically (a crash leaves the old or the new file, never half)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(
        data_dir / CONFIG_FILE, json.dumps(asdict(config), indent=2, sort_keys=True), mode=0o644
    )


def update_config(data_dir: Path, **changes: Any) -> TerminalConfig:
    config = replace(load_config(data_dir), **changes)
    save_config(data_dir, config)
    return config


def atomic_write_text(path: Path, text: str, *, mode: int) -> None:
    """Replace ``path`` with ``text`` so a crash leaves the old or the new file, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    tmp.replace(path)


# --- secrets ------------------------------------------------------------------------------------


class SecretStore:
    """Secrets of one terminal: the OS keyring when one works, else a 0600 file in the data dir."""

    def __init__(self, data_dir: Path, *, backend: str | None = None) -> None:
        self.data_dir = data_dir
        choice = backend or os.environ.get("STORELINK_SECRETS", "auto")
        self._keyring: Any = _usable_keyring() if choice != "file" else None
        # Each data dir has its own entries, so two terminals on one machine (demo, tests) do not mix.
        self._user_prefix = str(data_dir.resolve())
        # Secrets are read on every sale (the claim key); keep them after the first read.
        self._cache: dict[str, str] = {}

    @property
    def where(self) -> str:
        """A short description for ``pos status``: the keyring backend or the file path."""
        if self._keyring is not None:
            return f"OS keyring ({type(self._keyring).__name__})"
        return str(self.data_dir / SECRETS_FILE)

    def get(self, name: str) -> str | None:
        if name in self._cache:
            return self._cache[name]
        value = self._get_stored(name)
        if value is not None:
            self._cache[name] = value
        return value

    def _get_stored(self, name: str) -> str | None:
        if self._keyring is not None:
            try:
                value: str | None = self._keyring.get_password(KEYRING_SERVICE, f"{self._user_prefix}:{name}")
                return value
            except Exception:  # a keyring that stops working must not stop the till
                log.warning("OS keyring failed; using the secrets file instead", exc_info=True)
                self._keyring = None
        return self._read_file().get(name)

    def set(self, name: str, value: str) -> None:
        self._cache[name] = value
        if self._keyring is not None:
            try:
                self._keyring.set_password(KEYRING_SERVICE, f"{self._user_prefix}:{name}", value)
                return
            except Exception:
                log.warning("OS keyring failed; using the secrets file instead", exc_info=True)
                self._keyring = None
        values = self._read_file()
        values[name] = value
        self.data_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.data_dir / SECRETS_FILE, json.dumps(values, sort_keys=True), mode=0o600)

    def _read_file(self) -> dict[str, str]:
        path = self.data_dir / SECRETS_FILE
        if not path.exists():
            return {}
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            # Someone loosened it; tighten rather than keep secrets readable by others.
            log.warning("%s was readable by others (mode %o); restricting it to the user", path, mode)
            with contextlib.suppress(OSError):
                os.chmod(path, 0o600)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: cannot read the terminal's secrets: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the secrets file must be a JSON object")
        return {str(k): str(v) for k, v in data.items()}

    def claim_key(self) -> bytes:
        """The terminal's claim MAC key; a standalone terminal makes one on first use."""
        text = self.get("claim_key")
        if text is None:
            key = new_claim_key()
            self.set("claim_key", base64.b64encode(key).decode("ascii"))
            return key
        try:
            key = base64.b64decode(text, validate=True)
        except ValueError as exc:
            raise ConfigError("the stored claim key is not valid base64") from exc
        if len(key) != 32:
            raise ConfigError("the stored claim key is not 32 bytes")
        return key


def _usable_keyring() -> Any:
    try:
        import keyring
        import keyring.backends.fail
    except Exception:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:
        return None
    if isinstance(backend, keyring.backends.fail.Keyring):
        return None
    # The chainer with no real backends, the null keyring and plaintext ones are not a safe store.
    name = type(backend).__module__ + "." + type(backend).__name__
    if "null" in name.lower() or "fail" in name.lower() or "plaintext" in name.lower():
        return None
    if getattr(backend, "priority", 0) <= 0:
        return None
    chained = getattr(backend, "backends", None)
    if chained is not None and not chained:
        return None
    return backend
