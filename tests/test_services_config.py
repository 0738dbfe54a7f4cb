"""Terminal configuration and secrets: the data dir, terminal.json, keyring-or-0600-file secrets."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
from ledger_support import new_terminal, table_digest

from pos.config import ConfigError, SecretStore, TerminalConfig, load_config, save_config, update_config
from pos.services.terminal import ServiceError, open_terminal, set_store_settings


def test_a_new_terminal_is_standalone_with_id_zero_and_a_local_claim_key(tmp_path: Path) -> None:
    terminal = new_terminal(tmp_path)
    try:
        assert terminal.config.standalone and terminal.config.terminal_id == 0
        key = terminal.secrets.claim_key()
        assert len(key) == 32
        assert SecretStore(tmp_path, backend="file").claim_key() == key  # kept, not remade
    finally:
        terminal.ledger.close()


def test_secrets_fall_back_to_a_file_only_the_user_can_read(tmp_path: Path) -> None:
    store = SecretStore(tmp_path, backend="file")
    store.set("token", "s3cret")
    path = tmp_path / "secrets.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert SecretStore(tmp_path, backend="file").get("token") == "s3cret"
    assert str(path) == store.where
    path.chmod(0o644)  # someone loosened it
    assert SecretStore(tmp_path, backend="file").get("token") == "s3cret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_with_no_keyring_backend_auto_uses_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    from keyring.backends import fail

    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())
    monkeypatch.delenv("STORELINK_SECRETS", raising=False)
    store = SecretStore(tmp_path)
    store.set("token", "abc")
    assert store.where.endswith("secrets.json")
    assert json.loads((tmp_path / "secrets.json").read_text()) == {"token": "abc"}


def test_a_broken_secrets_file_or_key_is_reported_clearly(tmp_path: Path) -> None:
    (tmp_path / "secrets.json").write_text("{not json")
    (tmp_path / "secrets.json").chmod(0o600)
    with pytest.raises(ConfigError, match="secrets"):
        SecretStore(tmp_path, backend="file").get("token")
    (tmp_path / "secrets.json").write_text(json.dumps({"claim_key": base64.b64encode(b"short").decode()}))
    with pytest.raises(ConfigError, match="32 bytes"):
        SecretStore(tmp_path, backend="file").claim_key()


def test_terminal_json_round_trips_and_bad_files_are_named(tmp_path: Path) -> None:
    save_config(tmp_path, TerminalConfig(terminal_id=7, terminal_code="T7", enrolled=True))
    assert load_config(tmp_path).terminal_code == "T7"
    assert update_config(tmp_path, store_code="S1").store_code == "S1"
    (tmp_path / "terminal.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match=r"terminal\.json"):
        load_config(tmp_path)
    (tmp_path / "terminal.json").write_text(json.dumps({"terminal_id": -4}))
    with pytest.raises(ConfigError, match="terminal_id"):
        load_config(tmp_path)
    with pytest.raises(ConfigError):
        open_terminal(tmp_path)


def test_store_settings_are_checked_before_they_are_stored(tmp_path: Path) -> None:
    terminal = new_terminal(tmp_path)
    try:
        before = table_digest(tmp_path / "ledger.sqlite3")
        for bad in (
            {"tax_mode": "sometimes"},
            {"currency": "XXQ"},
            {"rcn_region": "mars"},
            {"colour": "red"},
        ):
            with pytest.raises(ServiceError):
                set_store_settings(terminal, **bad)
        assert table_digest(tmp_path / "ledger.sqlite3") == before
        set_store_settings(terminal, currency="USD", tax_mode="exclusive", cash_increment=5)
    finally:
        terminal.ledger.close()
    again = new_terminal(tmp_path)
    try:
        assert (again.settings.currency, again.settings.tax_mode, again.settings.cash_increment) == (
            "USD",
            "exclusive",
            5,
        )
    finally:
        again.ledger.close()


def test_a_bad_stored_setting_is_ignored_rather_than_stopping_the_till(tmp_path: Path) -> None:
    from pos.ledger import state

    terminal = new_terminal(tmp_path)
    try:
        terminal.ledger.transact(
            lambda db: state.put_settings(db, {"currency": "USD", "tax_mode": "sometimes", "sync.status": {}})
        )
    finally:
        terminal.ledger.close()
    again = new_terminal(tmp_path)
    try:
        assert (again.settings.currency, again.settings.tax_mode) == ("USD", "inclusive")
    finally:
        again.ledger.close()
