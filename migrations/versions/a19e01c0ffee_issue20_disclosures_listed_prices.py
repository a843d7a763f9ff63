"""issue 20 sections 1-2: the 公示 of a 协议定价 transfer or licence by a 高校 or 科研院所 (disclosures, with their
objections) and the 挂牌 of a result at a fixed price (price_listings).

Revision ID: a19e01c0ffee
Revises: a19d01c0ffee
Create Date: 2026-12-07 10:05:00
"""
import sqlalchemy as sa
from alembic import op

import market.models.base  # UTCDateTime
import market.money  # Money

# revision identifiers, used by Alembic.
revision = 'a19e01c0ffee'
down_revision = 'a19d01c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('price_listings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('achievement_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('contract_type', sa.String(length=16), nullable=False),
    sa.Column('price', market.money.Money(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('starts_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('buyer_org_id', sa.Integer(), nullable=True),
    sa.Column('buyer_user_id', sa.Integer(), nullable=True),
    sa.Column('sold_at', market.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deal_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', market.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("contract_type IN ('transfer', 'license')", name=op.f('ck_price_listings_contract_type')),
    sa.CheckConstraint("status != 'sold' OR (buyer_org_id IS NOT NULL AND deal_id IS NOT NULL)", name=op.f('ck_price_listings_sold_has_buyer')),
    sa.CheckConstraint("status IN ('open', 'expired', 'sold', 'withdrawn')", name=op.f('ck_price_listings_status')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_price_listings_period')),
    sa.CheckConstraint('price > 0', name=op.f('ck_price_listings_price_positive')),
    sa.ForeignKeyConstraint(['achievement_id'], ['achievements.id'], name=op.f('fk_price_listings_achievement_id_achievements')),
    sa.ForeignKeyConstraint(['buyer_org_id'], ['organizations.id'], name=op.f('fk_price_listings_buyer_org_id_organizations')),
    sa.ForeignKeyConstraint(['buyer_user_id'], ['users.id'], name=op.f('fk_price_listings_buyer_user_id_users')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_price_listings_closed_by_id_users')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_price_listings_created_by_id_users')),
    sa.ForeignKeyConstraint(['deal_id'], ['deals.id'], name=op.f('fk_price_listings_deal_id_deals')),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_price_listings_org_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_listings')),
    sa.UniqueConstraint('deal_id', name=op.f('uq_price_listings_deal_id'))
    )
    with op.batch_alter_table('price_listings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_price_listings_achievement_id'), ['achievement_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_price_listings_buyer_org_id'), ['buyer_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_price_listings_ends_at'), ['ends_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_price_listings_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_price_listings_status'), ['status'], unique=False)
        batch_op.create_index('uq_price_listings_open', ['achievement_id'], unique=True, postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"))

    op.create_table('disclosures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('achievement_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('buyer_name', sa.String(length=100), nullable=False),
    sa.Column('buyer_org_id', sa.Integer(), nullable=True),
    sa.Column('contract_type', sa.String(length=16), nullable=False),
    sa.Column('price', market.money.Money(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('starts_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('contact_name', sa.String(length=50), nullable=False),
    sa.Column('contact_phone', sa.String(length=30), nullable=False),
    sa.Column('contact_email', sa.String(length=120), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('withdrawn_at', market.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_by_id', sa.Integer(), nullable=True),
    sa.Column('contract_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("contract_type IN ('transfer', 'license')", name=op.f('ck_disclosures_contract_type')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_disclosures_period')),
    sa.CheckConstraint('price > 0', name=op.f('ck_disclosures_price_positive')),
    sa.ForeignKeyConstraint(['achievement_id'], ['achievements.id'], name=op.f('fk_disclosures_achievement_id_achievements')),
    sa.ForeignKeyConstraint(['buyer_org_id'], ['organizations.id'], name=op.f('fk_disclosures_buyer_org_id_organizations')),
    sa.ForeignKeyConstraint(['contract_id'], ['contracts.id'], name=op.f('fk_disclosures_contract_id_contracts')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_disclosures_created_by_id_users')),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_disclosures_org_id_organizations')),
    sa.ForeignKeyConstraint(['withdrawn_by_id'], ['users.id'], name=op.f('fk_disclosures_withdrawn_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosures'))
    )
    with op.batch_alter_table('disclosures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disclosures_achievement_id'), ['achievement_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosures_buyer_org_id'), ['buyer_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosures_contract_id'), ['contract_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosures_ends_at'), ['ends_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosures_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosures_starts_at'), ['starts_at'], unique=False)

    op.create_table('disclosure_objections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('disclosure_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('author_org_id', sa.Integer(), nullable=True),
    sa.Column('reasons', sa.Text(), nullable=False),
    sa.Column('contact', sa.String(length=120), nullable=False),
    sa.Column('created_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('answered_by_id', sa.Integer(), nullable=True),
    sa.Column('answered_at', market.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision', sa.String(length=12), nullable=True),
    sa.Column('decision_reason', sa.String(length=500), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', market.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("decision IS NULL OR decision IN ('upheld', 'rejected')", name=op.f('ck_disclosure_objections_decision')),
    sa.ForeignKeyConstraint(['answered_by_id'], ['users.id'], name=op.f('fk_disclosure_objections_answered_by_id_users')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_disclosure_objections_author_id_users')),
    sa.ForeignKeyConstraint(['author_org_id'], ['organizations.id'], name=op.f('fk_disclosure_objections_author_org_id_organizations')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_disclosure_objections_decided_by_id_users')),
    sa.ForeignKeyConstraint(['disclosure_id'], ['disclosures.id'], name=op.f('fk_disclosure_objections_disclosure_id_disclosures')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosure_objections'))
    )
    with op.batch_alter_table('disclosure_objections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disclosure_objections_author_id'), ['author_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosure_objections_disclosure_id'), ['disclosure_id'], unique=False)


def downgrade():
    with op.batch_alter_table('disclosure_objections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disclosure_objections_disclosure_id'))
        batch_op.drop_index(batch_op.f('ix_disclosure_objections_author_id'))

    op.drop_table('disclosure_objections')
    with op.batch_alter_table('disclosures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disclosures_starts_at'))
        batch_op.drop_index(batch_op.f('ix_disclosures_org_id'))
        batch_op.drop_index(batch_op.f('ix_disclosures_ends_at'))
        batch_op.drop_index(batch_op.f('ix_disclosures_contract_id'))
        batch_op.drop_index(batch_op.f('ix_disclosures_buyer_org_id'))
        batch_op.drop_index(batch_op.f('ix_disclosures_achievement_id'))

    op.drop_table('disclosures')
    with op.batch_alter_table('price_listings', schema=None) as batch_op:
        batch_op.drop_index('uq_price_listings_open', postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"))
        batch_op.drop_index(batch_op.f('ix_price_listings_status'))
        batch_op.drop_index(batch_op.f('ix_price_listings_org_id'))
        batch_op.drop_index(batch_op.f('ix_price_listings_ends_at'))
        batch_op.drop_index(batch_op.f('ix_price_listings_buyer_org_id'))
        batch_op.drop_index(batch_op.f('ix_price_listings_achievement_id'))

    op.drop_table('price_listings')
