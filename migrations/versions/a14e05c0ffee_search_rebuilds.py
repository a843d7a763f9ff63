"""all-nodes search index rebuild requests (issue 13 item 3)

Revision ID: a14e05c0ffee
Revises: a14a01c0ffee
Create Date: 2026-12-06 13:50:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a14e05c0ffee'
down_revision = 'a14a01c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'search_rebuilds',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=True),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_search_rebuilds_requested_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_search_rebuilds')),
    )


def downgrade():
    op.drop_table('search_rebuilds')
