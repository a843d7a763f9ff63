"""issue 19 section 3: a need a broker recorded collecting counts on the sheets once its enterprise confirms it
(demand_collections.confirmed_at, confirmed_by_id); until then it is the broker's claim.

Revision ID: a19c01c0ffee
Revises: a19b01c0ffee
Create Date: 2026-12-07 07:45:00
"""
import sqlalchemy as sa
from alembic import op

import market.models.base

# revision identifiers, used by Alembic.
revision = 'a19c01c0ffee'
down_revision = 'a19b01c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('demand_collections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confirmed_at', market.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('confirmed_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_demand_collections_confirmed_by_id_users'), 'users',
                                    ['confirmed_by_id'], ['id'])


def downgrade():
    with op.batch_alter_table('demand_collections', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_demand_collections_confirmed_by_id_users'), type_='foreignkey')
        batch_op.drop_column('confirmed_by_id')
        batch_op.drop_column('confirmed_at')
