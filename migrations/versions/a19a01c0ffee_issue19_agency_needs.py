"""Issue 19: needs an agency's brokers collected (demand_collections) and the agency that runs an event
(happenings.agency_id, 承办机构), both counted on the agency's yearly performance sheet.

Revision ID: a19a01c0ffee
Revises: a19901c0ffee
Create Date: 2026-12-07 06:30:00
"""
import sqlalchemy as sa
from alembic import op

import market.models.base

# revision identifiers, used by Alembic.
revision = 'a19a01c0ffee'
down_revision = 'a19901c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('demand_collections',
    sa.Column('demand_id', sa.Integer(), nullable=False),
    sa.Column('broker_id', sa.Integer(), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('collected_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['organizations.id'], name=op.f('fk_demand_collections_agency_id_organizations')),
    sa.ForeignKeyConstraint(['broker_id'], ['users.id'], name=op.f('fk_demand_collections_broker_id_users')),
    sa.ForeignKeyConstraint(['demand_id'], ['demands.id'], name=op.f('fk_demand_collections_demand_id_demands')),
    sa.PrimaryKeyConstraint('demand_id', name=op.f('pk_demand_collections'))
    )
    with op.batch_alter_table('demand_collections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_demand_collections_agency_id'), ['agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_demand_collections_broker_id'), ['broker_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_demand_collections_collected_at'), ['collected_at'], unique=False)

    with op.batch_alter_table('happenings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('agency_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_happenings_agency_id'), ['agency_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_happenings_agency_id_organizations'), 'organizations',
                                    ['agency_id'], ['id'])


def downgrade():
    with op.batch_alter_table('happenings', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_happenings_agency_id_organizations'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_happenings_agency_id'))
        batch_op.drop_column('agency_id')

    with op.batch_alter_table('demand_collections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_demand_collections_collected_at'))
        batch_op.drop_index(batch_op.f('ix_demand_collections_broker_id'))
        batch_op.drop_index(batch_op.f('ix_demand_collections_agency_id'))

    op.drop_table('demand_collections')
