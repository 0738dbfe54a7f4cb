"""The server's own secrets, generated once and kept in the ``server_keys`` table."""

from __future__ import annotations

import secrets

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from sync.codes import new_signing_key
from sync.server import schema
from sync.server.db import utcnow


def _get_or_create(conn: Connection, kind: str, make: bytes) -> bytes:
    table = schema.server_keys
    found = conn.execute(select(table.c.key).where(table.c.kind == kind)).scalar_one_or_none()
    if found is not None:
        return bytes(found)
    try:
        with conn.begin_nested():
            conn.execute(insert(table).values(kind=kind, key=make, created_at=utcnow()))
    except IntegrityError:
        # Another process created it first: theirs is the key.
        return bytes(conn.execute(select(table.c.key).where(table.c.kind == kind)).scalar_one())
    return make


def signing_key(conn: Connection) -> Ed25519PrivateKey:
    """The Ed25519 key member codes are signed with (created on first use)."""
    fresh = new_signing_key().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return Ed25519PrivateKey.from_private_bytes(_get_or_create(conn, "signing", fresh))


def server_secret(conn: Connection) -> bytes:
    """32 random bytes for session signing, CSRF and PIN fingerprints (created on first use)."""
    return _get_or_create(conn, "secret", secrets.token_bytes(32))
