"""Central schema migrations: an empty database gets every table, an older one is upgraded in place."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from central_fixtures import postgres_available
from sqlalchemy import inspect, text

from sync.server import schema
from sync.server.db import MIGRATIONS_DIR, Database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        db = Database.from_url(str(tmp_path / "empty.sqlite3"))
        yield db
        db.dispose()
        return
    if not postgres_available():
        pytest.skip("PostgreSQL on 127.0.0.1:5432 is not reachable")
    import uuid

    import psycopg

    name = f"central_mig_{uuid.uuid4().hex[:12]}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    db = Database.from_url(f"postgresql://postgres@127.0.0.1:5432/{name}")
    try:
        yield db
    finally:
        db.dispose()
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def _upgrade(db: Database, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def _head() -> str:
    """The newest revision packaged (several helpers add revisions; there is exactly one head)."""
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"the central migrations have {len(heads)} heads: {heads}"
    return str(heads[0])


def test_an_enrolled_terminal_keeps_its_row_when_the_fleet_columns_arrive(empty_db: Database) -> None:
    _upgrade(empty_db, "0002")
    with empty_db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO stores (id, code, name, currency, locale, tax_mode, discount_limit_percent, timezone,"
                " created_at) VALUES (1, 'S01', 'Main', 'EUR', 'de_DE', 'inclusive', 10, 'UTC', '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO terminals (id, store_id, code, name, token_hash, claim_key, enrolled_at, last_queued,"
                " last_high_seq, head_hash) VALUES (1, 1, 'S01-T1', '', :token, :key, '2026-01-01', 3, 7, :head)"
            ),
            {"token": "a" * 64, "key": b"k" * 32, "head": "0" * 64},
        )
    empty_db.migrate()
    with empty_db.begin() as conn:
        row = conn.execute(
            text("SELECT code, last_queued, last_high_seq, app_version, ledger_health FROM terminals")
        ).one()
    assert (row.code, row.last_queued, row.last_high_seq) == ("S01-T1", 3, 7)
    assert row.app_version is None and row.ledger_health is None  # not reported yet


def test_migrating_an_empty_database_creates_every_table_of_the_schema(empty_db: Database) -> None:
    assert empty_db.revision() is None
    empty_db.migrate()
    empty_db.migrate()  # a second run changes nothing
    tables = set(inspect(empty_db.engine).get_table_names())
    assert set(schema.metadata.tables) <= tables
    for name, table in schema.metadata.tables.items():
        columns = {c["name"] for c in inspect(empty_db.engine).get_columns(name)}
        assert columns == {c.name for c in table.columns}, name


def test_an_older_database_keeps_its_data_when_upgraded(empty_db: Database) -> None:
    _upgrade(empty_db, "0001")
    with empty_db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO stores (id, code, name, currency, locale, tax_mode, discount_limit_percent, timezone,"
                " created_at) VALUES (1, 'S01', 'Main', 'EUR', 'de_DE', 'inclusive', 10, 'UTC', '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO stock (store_id, sku, on_hand_milli, updated_at) VALUES (1, 'A', 5000, '2026-01-01')"
            )
        )
    empty_db.migrate()
    with empty_db.begin() as conn:
        row = conn.execute(text("SELECT on_hand_milli, feed_pending FROM stock")).one()
    assert row.on_hand_milli == 5000 and not row.feed_pending
    assert empty_db.revision() == _head()
