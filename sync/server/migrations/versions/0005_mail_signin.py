"""shopper sign-in by mail, consent, member short codes

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 05:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
import sync.server.schema


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('shoppers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('consent_at', sync.server.schema.UTCDateTime(), nullable=True))
    op.create_table(
        'mail_codes',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('link_hash', sa.String(length=64), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('salt', sa.String(length=32), nullable=False),
        sa.Column('claim', sa.String(length=64), nullable=False),
        sa.Column('created_at', sync.server.schema.UTCDateTime(), nullable=False),
        sa.Column('expires_at', sync.server.schema.UTCDateTime(), nullable=False),
        sa.Column('used_at', sync.server.schema.UTCDateTime(), nullable=True),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('link_hash'),
    )
    op.create_index('ix_mail_codes_email', 'mail_codes', ['email'], unique=False)
    op.create_table(
        'member_short_codes',
        sa.Column('code', sa.String(length=16), nullable=False),
        sa.Column('shopper_id', sa.Integer(), nullable=False),
        sa.Column('valid_from', sync.server.schema.UTCDateTime(), nullable=False),
        sa.Column('valid_until', sync.server.schema.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['shopper_id'], ['shoppers.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('code'),
        sa.UniqueConstraint('shopper_id', 'valid_from', name='uq_member_short_codes_window'),
    )


def downgrade() -> None:
    op.drop_table('member_short_codes')
    op.drop_index('ix_mail_codes_email', table_name='mail_codes')
    op.drop_table('mail_codes')
    with op.batch_alter_table('shoppers', schema=None) as batch_op:
        batch_op.drop_column('consent_at')
