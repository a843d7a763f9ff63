"""contract-listing links the owner confirms (issue 12 part 2)

Revision ID: a12b02c0ffee
Revises: a12b01c0ffee
Create Date: 2026-12-06 10:30:00

"""
import sqlalchemy as sa
from alembic import op

import market.models.base


# revision identifiers, used by Alembic.
revision = 'a12b02c0ffee'
down_revision = 'a12b01c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('contract_listing_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contract_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', market.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decline_reason', sa.String(length=200), nullable=False),
    sa.CheckConstraint("kind IN ('demand', 'achievement')", name=op.f('ck_contract_listing_links_kind')),
    sa.CheckConstraint("status IN ('pending', 'accepted', 'declined')", name=op.f('ck_contract_listing_links_status')),
    sa.ForeignKeyConstraint(['contract_id'], ['contracts.id'], name=op.f('fk_contract_listing_links_contract_id_contracts')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_contract_listing_links_decided_by_id_users')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_contract_listing_links_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contract_listing_links')),
    sa.UniqueConstraint('contract_id', 'kind', name='uq_contract_listing_links_contract_kind')
    )
    with op.batch_alter_table('contract_listing_links', schema=None) as batch_op:
        batch_op.create_index('ix_contract_listing_links_listing', ['kind', 'listing_id'], unique=False)
    # Links made before this revision (contracts.demand_id / achievement_id of direct entries) stay as they
    # are: nothing says whether their owners agreed, and an owner may now reopen what a contract marked done.


def downgrade():
    with op.batch_alter_table('contract_listing_links', schema=None) as batch_op:
        batch_op.drop_index('ix_contract_listing_links_listing')
    op.drop_table('contract_listing_links')
