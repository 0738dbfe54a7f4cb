"""The central database: a SQLite file by default, PostgreSQL for a chain.

:class:`Database` wraps one SQLAlchemy Engine. SQLite runs in WAL mode with a busy timeout and
``BEGIN IMMEDIATE`` transactions, so two writers queue instead of failing with "database is
locked"; PostgreSQL goes through psycopg 3. ``migrate()`` brings the schema to the newest Alembic
revision packaged in ``sync/server/migrations``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry

from sync.server import schema

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def normalize_url(url: str) -> str:
    """A SQLAlchemy URL for ``url``: a plain path means a SQLite file, ``postgresql://`` psycopg 3."""
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def utcnow() -> datetime:
    return datetime.now(UTC)


class Database:
    """One engine and the few things every caller needs around it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str, *, pool_size: int = 10) -> Database:
        """Open (not create the schema of) the database at ``url``; see :func:`normalize_url`."""
        sa_url = make_url(normalize_url(url))
        if sa_url.get_backend_name() == "sqlite":
            if sa_url.database and sa_url.database != ":memory:":
                Path(sa_url.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(
                sa_url,
                connect_args={"check_same_thread": False, "timeout": 30},
                pool_size=pool_size,
                max_overflow=pool_size,
            )
            _make_sqlite_behave(engine)
        elif sa_url.get_backend_name() == "postgresql":
            engine = create_engine(
                sa_url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, pool_timeout=30
            )
        else:
            raise ValueError(f"unsupported database {sa_url.get_backend_name()!r}: use SQLite or PostgreSQL")
        return cls(engine)

    @property
    def dialect(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self.engine.dialect.name

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection in a transaction, committed when the block ends without an exception."""
        with self.engine.begin() as conn:
            yield conn

    def migrate(self) -> None:
        """Bring the schema to the newest revision (creates every table on an empty database)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with self.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    def revision(self) -> str | None:
        """The Alembic revision the database is at, None before the first migration."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def dispose(self) -> None:
        self.engine.dispose()


def _make_sqlite_behave(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy's "begin" event decide how transactions start (pysqlite's own is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # Pages read through the OS's cache instead of a 2 MB copy per connection: pushes insert
        # into b-trees keyed by random sale ids, which the default cache keeps missing.
        cursor.execute("PRAGMA mmap_size=268435456")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front: a deferred transaction that reads then writes can
        # fail at once with SQLITE_BUSY instead of waiting out the busy timeout.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def get_meta(conn: Connection, key: str) -> str | None:
    return conn.execute(select(schema.meta.c.value).where(schema.meta.c.key == key)).scalar_one_or_none()
