"""per-store points meaning and return policy

NULL keeps the chain's default (pos-central serve --points-meaning / --return-policy).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 06:10:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('points_meaning', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('return_policy', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.drop_column('return_policy')
        batch_op.drop_column('points_meaning')
