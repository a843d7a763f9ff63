"""issue 19 (events: 路演, 对接会, sign-up and check-in)

Events are stored as `happenings` (market/events.py is the domain-signal module); an interest recorded at an
event names it (interests.happening_id).

Revision ID: a19201c0ffee
Revises: a19101c0ffee
Create Date: 2026-12-06 23:30:00
"""
import sqlalchemy as sa
from alembic import op

import market.models.base  # UTCDateTime


# revision identifiers, used by Alembic.
revision = 'a19201c0ffee'
down_revision = 'a19101c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('happenings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('organiser_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('signup_deadline', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('confirmed_count', sa.Integer(), nullable=False),
    sa.Column('created_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('roadshow', 'matchmaking', 'showcase')", name=op.f('ck_happenings_kind')),
    sa.CheckConstraint('capacity > 0', name=op.f('ck_happenings_capacity_positive')),
    sa.CheckConstraint('confirmed_count >= 0 AND confirmed_count <= capacity', name=op.f('ck_happenings_confirmed_within_capacity')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_happenings_ends_after_start')),
    sa.ForeignKeyConstraint(['organiser_id'], ['users.id'], name=op.f('fk_happenings_organiser_id_users')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_happenings_region_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_happenings'))
    )
    with op.batch_alter_table('happenings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_happenings_organiser_id'), ['organiser_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_happenings_region_id'), ['region_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_happenings_starts_at'), ['starts_at'], unique=False)

    op.create_table('happening_listings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('happening_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('demand', 'achievement')", name=op.f('ck_happening_listings_kind')),
    sa.ForeignKeyConstraint(['happening_id'], ['happenings.id'], name=op.f('fk_happening_listings_happening_id_happenings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_happening_listings')),
    sa.UniqueConstraint('happening_id', 'kind', 'listing_id', name='uq_happening_listings')
    )
    with op.batch_alter_table('happening_listings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_happening_listings_happening_id'), ['happening_id'], unique=False)

    op.create_table('happening_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('happening_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('starts_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['happening_id'], ['happenings.id'], name=op.f('fk_happening_sessions_happening_id_happenings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_happening_sessions'))
    )
    with op.batch_alter_table('happening_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_happening_sessions_happening_id'), ['happening_id'], unique=False)

    op.create_table('happening_signups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('happening_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('nonce', sa.String(length=32), nullable=False),
    sa.Column('queued_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('checked_in_at', market.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('checked_in_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('confirmed', 'waiting', 'cancelled')", name=op.f('ck_happening_signups_status')),
    sa.ForeignKeyConstraint(['checked_in_by_id'], ['users.id'], name=op.f('fk_happening_signups_checked_in_by_id_users')),
    sa.ForeignKeyConstraint(['happening_id'], ['happenings.id'], name=op.f('fk_happening_signups_happening_id_happenings')),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_happening_signups_org_id_organizations')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_happening_signups_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_happening_signups')),
    sa.UniqueConstraint('happening_id', 'user_id', name='uq_happening_signups_user')
    )
    with op.batch_alter_table('happening_signups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_happening_signups_org_id'), ['org_id'], unique=False)
        batch_op.create_index('ix_happening_signups_queue', ['happening_id', 'status', 'queued_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_happening_signups_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('interests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('happening_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_interests_happening_id'), ['happening_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_interests_happening_id_happenings'), 'happenings', ['happening_id'], ['id'])



def downgrade():
    with op.batch_alter_table('interests', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_interests_happening_id_happenings'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_interests_happening_id'))
        batch_op.drop_column('happening_id')

    with op.batch_alter_table('happening_signups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_happening_signups_user_id'))
        batch_op.drop_index('ix_happening_signups_queue')
        batch_op.drop_index(batch_op.f('ix_happening_signups_org_id'))

    op.drop_table('happening_signups')
    with op.batch_alter_table('happening_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_happening_sessions_happening_id'))

    op.drop_table('happening_sessions')
    with op.batch_alter_table('happening_listings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_happening_listings_happening_id'))

    op.drop_table('happening_listings')
    with op.batch_alter_table('happenings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_happenings_starts_at'))
        batch_op.drop_index(batch_op.f('ix_happenings_region_id'))
        batch_op.drop_index(batch_op.f('ix_happenings_organiser_id'))

    op.drop_table('happenings')
