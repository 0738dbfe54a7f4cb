"""enrollment codes remember the device key and the terminal a re-key code is for; forked terminals

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 04:30:00.000000
"""

from alembic import op
import sqlalchemy as sa

import sync.server.schema


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('enrollment_codes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('device_key_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('rekey_terminal_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            'fk_enrollment_codes_rekey_terminal_id_terminals', 'terminals', ['rekey_terminal_id'], ['id']
        )
    with op.batch_alter_table('terminals', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('forked_at', sync.server.schema.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column('fork_detail', sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('terminals', schema=None) as batch_op:
        batch_op.drop_column('fork_detail')
        batch_op.drop_column('forked_at')
    with op.batch_alter_table('enrollment_codes', schema=None) as batch_op:
        batch_op.drop_constraint('fk_enrollment_codes_rekey_terminal_id_terminals', type_='foreignkey')
        batch_op.drop_column('rekey_terminal_id')
        batch_op.drop_column('device_key_hash')
