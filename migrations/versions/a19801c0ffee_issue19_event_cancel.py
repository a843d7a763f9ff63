"""issue 19 section 2 (an organiser cancels an event): happenings.status ('active' or 'cancelled', held by a CHECK),
when, by whom and why it was called off. Existing events are active (the server default fills them).

Revision ID: a19801c0ffee
Revises: a19701c0ffee
Create Date: 2026-12-07 04:07:00
"""
import sqlalchemy as sa
from alembic import op

import market.models.base  # UTCDateTime


# revision identifiers, used by Alembic.
revision = 'a19801c0ffee'
down_revision = 'a19701c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('happenings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=12), server_default='active', nullable=False))
        batch_op.add_column(sa.Column('cancelled_at', market.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('cancelled_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('cancel_reason', sa.String(length=500), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_happenings_cancelled_by_id_users'), 'users',
                                    ['cancelled_by_id'], ['id'])
        batch_op.create_check_constraint(op.f('ck_happenings_status'), "status IN ('active', 'cancelled')")


def downgrade():
    with op.batch_alter_table('happenings', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_happenings_status'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_happenings_cancelled_by_id_users'), type_='foreignkey')
        batch_op.drop_column('cancel_reason')
        batch_op.drop_column('cancelled_by_id')
        batch_op.drop_column('cancelled_at')
        batch_op.drop_column('status')
