"""members credited only on a verified member code; claims that lost to one say so

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 04:40:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sales', schema=None) as batch_op:
        batch_op.add_column(sa.Column('member_check', sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column('asserted_member_id', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('member_code_id', sa.String(length=40), nullable=True))
        batch_op.create_index(batch_op.f('ix_sales_member_code_id'), ['member_code_id'], unique=False)
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outcome', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_column('outcome')
    with op.batch_alter_table('sales', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sales_member_code_id'))
        batch_op.drop_column('member_code_id')
        batch_op.drop_column('asserted_member_id')
        batch_op.drop_column('member_check')
