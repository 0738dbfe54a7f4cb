"""the change feed never reuses a seq on SQLite (AUTOINCREMENT)

A standalone change (store, staff, stock) replaces older rows for the same thing. When the row it
replaced was the newest in the feed, SQLite's plain INTEGER PRIMARY KEY handed the new row the same
seq again, and a till whose cursor was at that seq never received it. PostgreSQL's sequence never
reuses a value, so only SQLite's table is rebuilt.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 06:00:00.000000
"""

from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # Copying the rows with their seq sets sqlite_sequence to the highest one kept.
    with op.batch_alter_table('changes', recreate='always', table_kwargs={'sqlite_autoincrement': True}):
        pass


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table('changes', recreate='always', table_kwargs={'sqlite_autoincrement': False}):
        pass
