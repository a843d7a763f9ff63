"""issue 20 sections 3-4 (竞价 sessions): sessions (专场) of lots with a hidden reserve, increment, deposit and
anti-sniping rule; the bidders' deposits, bids (one sequence per lot, amounts unique per lot), proxy ceilings, and
every lot's history of bids, extensions and decisions.

Revision ID: a19f01c0ffee
Revises: a19e01c0ffee
Create Date: 2026-12-07 10:05:00
"""
import sqlalchemy as sa
from alembic import op

import market.models.base  # UTCDateTime
import market.money  # Money


# revision identifiers, used by Alembic.
revision = 'a19f01c0ffee'
down_revision = 'a19e01c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('auction_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('organiser_id', sa.Integer(), nullable=False),
    sa.Column('organiser_org_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_at', market.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('draft', 'published', 'cancelled')", name=op.f('ck_auction_sessions_state')),
    sa.ForeignKeyConstraint(['organiser_id'], ['users.id'], name=op.f('fk_auction_sessions_organiser_id_users')),
    sa.ForeignKeyConstraint(['organiser_org_id'], ['organizations.id'], name=op.f('fk_auction_sessions_organiser_org_id_organizations')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_auction_sessions_region_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auction_sessions'))
    )
    with op.batch_alter_table('auction_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auction_sessions_organiser_id'), ['organiser_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_auction_sessions_organiser_org_id'), ['organiser_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_auction_sessions_region_id'), ['region_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_auction_sessions_state'), ['state'], unique=False)

    op.create_table('auction_lots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('achievement_id', sa.Integer(), nullable=False),
    sa.Column('seller_org_id', sa.Integer(), nullable=False),
    sa.Column('starting_price', market.money.Money(), nullable=False),
    sa.Column('reserve_price', market.money.Money(), nullable=True),
    sa.Column('increment', market.money.Money(), nullable=False),
    sa.Column('deposit_amount', market.money.Money(), nullable=False),
    sa.Column('starts_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('original_ends_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('snipe_window_minutes', sa.Integer(), nullable=False),
    sa.Column('extend_minutes', sa.Integer(), nullable=False),
    sa.Column('current_price', market.money.Money(), nullable=True),
    sa.Column('leader_org_id', sa.Integer(), nullable=True),
    sa.Column('bid_count', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('closed_at', market.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deal_id', sa.Integer(), nullable=True),
    sa.Column('created_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state IN ('open', 'sold', 'unsold')", name=op.f('ck_auction_lots_state')),
    sa.CheckConstraint('bid_count >= 0', name=op.f('ck_auction_lots_bid_count_not_negative')),
    sa.CheckConstraint('deposit_amount >= 0', name=op.f('ck_auction_lots_deposit_not_negative')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_auction_lots_ends_after_start')),
    sa.CheckConstraint('increment > 0', name=op.f('ck_auction_lots_increment_positive')),
    sa.CheckConstraint('reserve_price IS NULL OR reserve_price > 0', name=op.f('ck_auction_lots_reserve_positive')),
    sa.CheckConstraint('starting_price > 0', name=op.f('ck_auction_lots_starting_positive')),
    sa.ForeignKeyConstraint(['achievement_id'], ['achievements.id'], name=op.f('fk_auction_lots_achievement_id_achievements')),
    sa.ForeignKeyConstraint(['deal_id'], ['deals.id'], name=op.f('fk_auction_lots_deal_id_deals')),
    sa.ForeignKeyConstraint(['leader_org_id'], ['organizations.id'], name=op.f('fk_auction_lots_leader_org_id_organizations')),
    sa.ForeignKeyConstraint(['seller_org_id'], ['organizations.id'], name=op.f('fk_auction_lots_seller_org_id_organizations')),
    sa.ForeignKeyConstraint(['session_id'], ['auction_sessions.id'], name=op.f('fk_auction_lots_session_id_auction_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auction_lots')),
    sa.UniqueConstraint('deal_id', name=op.f('uq_auction_lots_deal_id'))
    )
    with op.batch_alter_table('auction_lots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auction_lots_achievement_id'), ['achievement_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_auction_lots_ends_at'), ['ends_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_auction_lots_seller_org_id'), ['seller_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_auction_lots_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_auction_lots_starts_at'), ['starts_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_auction_lots_state'), ['state'], unique=False)

    op.create_table('auction_bids',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('amount', market.money.Money(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('created_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('bid', 'proxy')", name=op.f('ck_auction_bids_kind')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_auction_bids_amount_positive')),
    sa.ForeignKeyConstraint(['lot_id'], ['auction_lots.id'], name=op.f('fk_auction_bids_lot_id_auction_lots')),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_auction_bids_org_id_organizations')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_auction_bids_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auction_bids')),
    sa.UniqueConstraint('lot_id', 'amount', name='uq_auction_bids_lot_amount'),
    sa.UniqueConstraint('lot_id', 'seq', name='uq_auction_bids_lot_seq')
    )
    with op.batch_alter_table('auction_bids', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auction_bids_lot_id'), ['lot_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_auction_bids_org_id'), ['org_id'], unique=False)

    op.create_table('auction_deposits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('amount', market.money.Money(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('received_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('updated_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('held', 'to_return', 'applied', 'returned')", name=op.f('ck_auction_deposits_status')),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_auction_deposits_amount_not_negative')),
    sa.ForeignKeyConstraint(['lot_id'], ['auction_lots.id'], name=op.f('fk_auction_deposits_lot_id_auction_lots')),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_auction_deposits_org_id_organizations')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_auction_deposits_recorded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auction_deposits')),
    sa.UniqueConstraint('lot_id', 'org_id', name='uq_auction_deposits_lot_org')
    )
    with op.batch_alter_table('auction_deposits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auction_deposits_lot_id'), ['lot_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_auction_deposits_org_id'), ['org_id'], unique=False)

    op.create_table('auction_lot_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('org_id', sa.Integer(), nullable=True),
    sa.Column('bid_seq', sa.Integer(), nullable=True),
    sa.Column('amount', market.money.Money(), nullable=True),
    sa.Column('ends_at', market.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('text', sa.String(length=300), nullable=False),
    sa.Column('created_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('bid', 'proxy', 'proxy_set', 'extend', 'sold', 'unsold', 'deposit', 'edit')", name=op.f('ck_auction_lot_events_kind')),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_auction_lot_events_actor_id_users')),
    sa.ForeignKeyConstraint(['lot_id'], ['auction_lots.id'], name=op.f('fk_auction_lot_events_lot_id_auction_lots')),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_auction_lot_events_org_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auction_lot_events'))
    )
    with op.batch_alter_table('auction_lot_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auction_lot_events_lot_id'), ['lot_id'], unique=False)

    op.create_table('auction_proxies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lot_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('ceiling', market.money.Money(), nullable=False),
    sa.Column('created_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('ceiling > 0', name=op.f('ck_auction_proxies_ceiling_positive')),
    sa.ForeignKeyConstraint(['lot_id'], ['auction_lots.id'], name=op.f('fk_auction_proxies_lot_id_auction_lots')),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_auction_proxies_org_id_organizations')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_auction_proxies_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auction_proxies')),
    sa.UniqueConstraint('lot_id', 'org_id', name='uq_auction_proxies_lot_org')
    )
    with op.batch_alter_table('auction_proxies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auction_proxies_lot_id'), ['lot_id'], unique=False)


def downgrade():
    with op.batch_alter_table('auction_proxies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auction_proxies_lot_id'))

    op.drop_table('auction_proxies')
    with op.batch_alter_table('auction_lot_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auction_lot_events_lot_id'))

    op.drop_table('auction_lot_events')
    with op.batch_alter_table('auction_deposits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auction_deposits_org_id'))
        batch_op.drop_index(batch_op.f('ix_auction_deposits_lot_id'))

    op.drop_table('auction_deposits')
    with op.batch_alter_table('auction_bids', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auction_bids_org_id'))
        batch_op.drop_index(batch_op.f('ix_auction_bids_lot_id'))

    op.drop_table('auction_bids')
    with op.batch_alter_table('auction_lots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auction_lots_state'))
        batch_op.drop_index(batch_op.f('ix_auction_lots_starts_at'))
        batch_op.drop_index(batch_op.f('ix_auction_lots_session_id'))
        batch_op.drop_index(batch_op.f('ix_auction_lots_seller_org_id'))
        batch_op.drop_index(batch_op.f('ix_auction_lots_ends_at'))
        batch_op.drop_index(batch_op.f('ix_auction_lots_achievement_id'))

    op.drop_table('auction_lots')
    with op.batch_alter_table('auction_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auction_sessions_state'))
        batch_op.drop_index(batch_op.f('ix_auction_sessions_region_id'))
        batch_op.drop_index(batch_op.f('ix_auction_sessions_organiser_org_id'))
        batch_op.drop_index(batch_op.f('ix_auction_sessions_organiser_id'))

    op.drop_table('auction_sessions')
