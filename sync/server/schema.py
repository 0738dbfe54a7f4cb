"""Every table of ``pos-central``, as SQLAlchemy Core metadata.

The same tables live in a SQLite file or in PostgreSQL; the Alembic migrations in
``sync/server/migrations`` create them (``Database.migrate()``). Conventions:

- Money is an integer number of minor units; quantities are thousandths (``*_milli``).
- Timestamps are :class:`UTCDateTime`: timezone-aware UTC in Python on both databases.
- ``changes`` is the change feed terminals pull (see ``sync.server.changes``).
- A journal entry whose payload failed validation has ``status = 'quarantined'`` and a
  ``reason``; an entry that collided with one already held is kept in ``conflicts``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: Integer keys that may grow past 2**31 on PostgreSQL; SQLite only auto-increments INTEGER.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    PostgreSQL stores ``timestamptz``; SQLite stores naive UTC text (ISO order sorts by time).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"unexpected timestamp {value!r}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# --- server identity ---------------------------------------------------------------------------

server_keys = Table(
    "server_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    #: 'signing' (Ed25519 raw private key, signs member codes) or 'secret' (sessions, CSRF, PIN
    #: fingerprints).
    Column("kind", String(32), nullable=False, unique=True),
    Column("key", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# --- stores, terminals, staff -----------------------------------------------------------------

stores = Table(
    "stores",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("locale", String(35), nullable=False),
    Column("tax_mode", String(16), nullable=False),  # 'inclusive' | 'exclusive'
    Column("discount_limit_percent", Integer, nullable=False, default=10),
    Column("timezone", String(64), nullable=False, default="UTC"),
    Column("created_at", UTCDateTime, nullable=False),
    # The store's own words for shoppers (NULL = the chain's default, pos-central serve's
    # --points-meaning / --return-policy): what its points are worth, its return policy.
    Column("points_meaning", Text, nullable=True),
    Column("return_policy", Text, nullable=True),
)

enrollment_codes = Table(
    "enrollment_codes",
    metadata,
    Column("id", Integer, primary_key=True),
    #: SHA-256 hex of the code; the code itself is only printed once.
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("store_id", Integer, ForeignKey("stores.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
    Column("terminal_id", Integer, ForeignKey("terminals.id"), nullable=True),
    #: SHA-256 hex of the key the device that used the code sent (protocol.EnrollRequest.device_key):
    #: the same device asking again with the same code gets its answer again (a lost answer).
    Column("device_key_hash", String(64), nullable=True),
    #: Set on a re-key code (``pos-central terminal rekey``): it gives this terminal new credentials.
    Column("rekey_terminal_id", Integer, ForeignKey("terminals.id"), nullable=True),
)

terminals = Table(
    "terminals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("store_id", Integer, ForeignKey("stores.id"), nullable=False, index=True),
    Column("code", String(64), nullable=False, unique=True),  # e.g. 'S01-T3'
    Column("name", String(100), nullable=False, default=""),
    #: SHA-256 hex of the bearer token; the token itself is given to the terminal only.
    Column("token_hash", String(64), nullable=False, unique=True),
    #: The 32-byte key claim codes from this terminal are MACed with.
    Column("claim_key", LargeBinary, nullable=False),
    Column("enrolled_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("last_seen_at", UTCDateTime, nullable=True),
    #: Events the terminal said it still had queued at its last push.
    Column("last_queued", Integer, nullable=False, default=0),
    #: Highest journal sequence held for this terminal, with no gap before it.
    Column("last_high_seq", BigInteger, nullable=False, default=0),
    #: Hash of the entry at ``last_high_seq`` (the chain head), genesis when none.
    Column("head_hash", String(64), nullable=False, default="0" * 64),
    #: Terminal clock minus server clock at the last push, milliseconds.
    Column("clock_offset_ms", BigInteger, nullable=True),
    Column("last_push_at", UTCDateTime, nullable=True),
    #: What the terminal last reported with a request (protocol.TerminalReport); None: never said.
    Column("app_version", String(64), nullable=True),
    Column("platform", String(64), nullable=True),
    Column("ledger_schema", String(64), nullable=True),
    #: protocol.LedgerHealth value, and what a failed verification found.
    Column("ledger_health", String(16), nullable=True),
    Column("ledger_problem", String(200), nullable=True),
    #: When a push first did not continue the chain head office holds for this terminal (two
    #: devices pushing as one terminal), and what it found; None: never forked.
    Column("forked_at", UTCDateTime, nullable=True),
    Column("fork_detail", String(300), nullable=True),
)

staff = Table(
    "staff",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("store_id", Integer, ForeignKey("stores.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("role", String(16), nullable=False),  # 'cashier' | 'manager'
    #: Argon2id hash of the PIN, sent to the store's terminals as is.
    Column("pin_hash", String(200), nullable=False),
    #: HMAC of the PIN with the server secret: makes "PIN unique within a store" a constraint.
    Column("pin_fingerprint", String(64), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("store_id", "pin_fingerprint", name="uq_staff_store_pin"),
)

admins = Table(
    "admins",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("display_name", String(100), nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
)

# --- catalog and stock --------------------------------------------------------------------------

tax_rates = Table(
    "tax_rates",
    metadata,
    Column("code", String(16), primary_key=True),  # the rate itself, e.g. '19' or '7.5'
    Column("rate", String(16), nullable=False),
)

products = Table(
    "products",
    metadata,
    Column("sku", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("price", BigInteger, nullable=False),  # minor units, as the shelf price
    Column("tax_rate", String(16), nullable=False),  # percent, e.g. '19'
    Column("unit", String(8), nullable=False),  # 'piece' | 'kg'
    Column("barcodes", Text, nullable=False, default=""),  # space-separated
    Column("active", Boolean, nullable=False, default=True),
    Column("updated_at", UTCDateTime, nullable=False),
)

stock = Table(
    "stock",
    metadata,
    Column("store_id", Integer, ForeignKey("stores.id"), primary_key=True),
    Column("sku", String(64), primary_key=True),
    Column("on_hand_milli", BigInteger, nullable=False, default=0),
    Column("updated_at", UTCDateTime, nullable=False),
    #: The figure changed and is not in the change feed yet (see ``changes.publish_stock``).
    Column("feed_pending", Boolean, nullable=False, default=False, server_default=false()),
    Index(
        "ix_stock_feed_pending",
        "feed_pending",
        postgresql_where=text("feed_pending"),
        sqlite_where=text("feed_pending"),
    ),
)

stock_movements = Table(
    "stock_movements",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("store_id", Integer, ForeignKey("stores.id"), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("delta_milli", BigInteger, nullable=False),
    Column("reason", String(32), nullable=False),  # 'sale' | 'return' | 'import'
    Column("event_id", String(36), nullable=True),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_stock_movements_store_sku", "store_id", "sku"),
)

changes = Table(
    "changes",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    #: None: for every store (catalog, tax rates); else only that store's terminals see it.
    Column("store_id", Integer, ForeignKey("stores.id"), nullable=True),
    Column("kind", String(16), nullable=False),  # protocol.ChangeKind
    Column("key", String(64), nullable=False),
    Column("data", JSON, nullable=True),  # None: deleted
    Column("update_id", String(36), nullable=False),
    Column("last_in_update", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_changes_kind_key", "kind", "key", "store_id"),
    # A replaced newest row must not hand its seq to the next one (a till past it would miss it).
    sqlite_autoincrement=True,
)

# --- journal, sales, claims ----------------------------------------------------------------------

journal = Table(
    "journal",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("terminal_id", Integer, ForeignKey("terminals.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("type", String(64), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("occurred_at", String(40), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False),  # 'applied' | 'quarantined'
    Column("reason", Text, nullable=True),  # why quarantined
    UniqueConstraint("terminal_id", "seq", name="uq_journal_terminal_seq"),
    Index("ix_journal_status", "status"),
)

conflicts = Table(
    "conflicts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("terminal_id", Integer, ForeignKey("terminals.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("type", String(64), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    #: 'event_id_reused' | 'seq_reused' | 'chain_broken'
    Column("reason", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime, nullable=True),
    UniqueConstraint("terminal_id", "event_id", "hash", name="uq_conflicts_entry"),
)

shoppers = Table(
    "shoppers",
    metadata,
    Column("id", Integer, primary_key=True),  # the member id in member codes
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),  # "" for an account without a password
    Column("display_name", String(100), nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
    #: When the shopper agreed to the consent text shown at sign-up (None: before it was asked).
    Column("consent_at", UTCDateTime, nullable=True),
)

#: One-time sign-in mails: a link token and a 6-digit code, either works once, for 15 minutes.
mail_codes = Table(
    "mail_codes",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False, index=True),
    Column("link_hash", String(64), nullable=False, unique=True),  # sha256 of the link's token
    Column("code_hash", String(64), nullable=False),  # sha256 of salt and the 6 digits
    Column("salt", String(32), nullable=False),
    Column("claim", String(64), nullable=False, default=""),  # receipt code to add once signed in
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
    Column("failures", Integer, nullable=False, default=0),
)

#: Member short codes: 11 digits a cashier types when the member QR does not scan (one per
#: shopper and hour, issued with the member codes; head office resolves them).
member_short_codes = Table(
    "member_short_codes",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("shopper_id", Integer, ForeignKey("shoppers.id", ondelete="CASCADE"), nullable=False),
    Column("valid_from", UTCDateTime, nullable=False),
    Column("valid_until", UTCDateTime, nullable=False),
    UniqueConstraint("shopper_id", "valid_from", name="uq_member_short_codes_window"),
)

sales = Table(
    "sales",
    metadata,
    Column("id", String(36), primary_key=True),  # the terminal's sale uuid
    Column("store_id", Integer, ForeignKey("stores.id"), nullable=False),
    Column("terminal_id", Integer, ForeignKey("terminals.id"), nullable=False),
    Column("receipt_no", String(40), nullable=False),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),  # 'sale' | 'return'
    Column("total", BigInteger, nullable=False),  # minor units, negative for a return
    Column("currency", String(3), nullable=False),
    Column("completed_at", UTCDateTime, nullable=False),
    #: Hex of the receipt claim code's nonce; a claim finds its sale by it.
    Column("claim_nonce", String(24), nullable=True, unique=True),
    Column("member_id", Integer, ForeignKey("shoppers.id"), nullable=True, index=True),
    Column("points", Integer, nullable=False, default=0),
    #: How the sale's shopper was decided (sync.server.push.settle_member): None when the sale named
    #: nobody; 'verified' (a member code head office verified); 'claimed' (receipt code); 'return'
    #: (the returned sale's shopper); else why a member the till named was NOT credited.
    Column("member_check", String(24), nullable=True),
    #: The member the till named when that was refused (shown at /hq), and the member code's id
    #: (sync.codes.MemberCode.code_id) that limits how many sales one member code may credit.
    Column("asserted_member_id", BigInteger, nullable=True),
    Column("member_code_id", String(40), nullable=True, index=True),
    Column("original_sale_id", String(36), nullable=True),
    Column("payload", JSON, nullable=False),
    Index("ix_sales_store_completed", "store_id", "completed_at"),
)

sale_lines = Table(
    "sale_lines",
    metadata,
    Column("sale_id", String(36), ForeignKey("sales.id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("sku", String(64), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("quantity_milli", BigInteger, nullable=False),
    Column("unit_price", BigInteger, nullable=False),
    Column("discount", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("tax_rate", String(16), nullable=False),
)

sale_tenders = Table(
    "sale_tenders",
    metadata,
    Column("sale_id", String(36), ForeignKey("sales.id"), primary_key=True),
    Column("tender_no", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("reference", String(64), nullable=True),
)

claims = Table(
    "claims",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("nonce", String(24), nullable=False, unique=True),
    Column("code", String(64), nullable=False),
    Column("terminal_id", Integer, ForeignKey("terminals.id"), nullable=False),
    Column("shopper_id", Integer, ForeignKey("shoppers.id"), nullable=False, index=True),
    Column("claimed_at", UTCDateTime, nullable=False),
    #: None while pending: the code was valid but its sale had not arrived yet.
    Column("sale_id", String(36), ForeignKey("sales.id"), nullable=True),
    Column("expires_on", Date, nullable=False),
    #: None while pending or once added (sale_id set); 'member' when the sale arrived carrying a
    #: verified member code of another shopper, who keeps it (the claimant is told, shown nothing).
    Column("outcome", String(16), nullable=True),
)

# --- web sign-in ---------------------------------------------------------------------------------

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),  # 'shopper' | 'admin'
    Column("subject_id", Integer, nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

login_attempts = Table(
    "login_attempts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("key", String(300), nullable=False),  # e.g. 'email:a@b.c' or 'ip:1.2.3.4'
    Column("at", UTCDateTime, nullable=False),
    Index("ix_login_attempts_key_at", "key", "at"),
)
