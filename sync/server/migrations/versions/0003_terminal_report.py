"""what each terminal reports: app version, platform, ledger schema and health

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 09:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('terminals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('app_version', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('platform', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('ledger_schema', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('ledger_health', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('ledger_problem', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('terminals', schema=None) as batch_op:
        batch_op.drop_column('ledger_problem')
        batch_op.drop_column('ledger_health')
        batch_op.drop_column('ledger_schema')
        batch_op.drop_column('platform')
        batch_op.drop_column('app_version')
