"""Suggestions say whose own top matches hold them (demand_pick, achievement_pick): a listing's page lists its own
picks first. Which side ranked an existing pair is not known, so existing pairs start as both sides' picks: the
pages keep the old order (by score), and a refresh that makes a listing's picks again (which only reads the other
side's flag to keep a pair it does not pick) drops none of them, until each side's next refresh or
`flask --app app match refresh --all` sets its own flags. New pairs get theirs from the refresh that stores them.

Revision ID: a1a101c0ffee
Revises: a1a001c0ffee
Create Date: 2026-12-07 22:05:00
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a1a101c0ffee'
down_revision = 'a1a001c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('suggestions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('demand_pick', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('achievement_pick', sa.Boolean(), server_default=sa.false(), nullable=False))
    suggestions = sa.table('suggestions', sa.column('demand_pick', sa.Boolean()), sa.column('achievement_pick', sa.Boolean()))
    op.execute(suggestions.update().values(demand_pick=True, achievement_pick=True))


def downgrade():
    with op.batch_alter_table('suggestions', schema=None) as batch_op:
        batch_op.drop_column('achievement_pick')
        batch_op.drop_column('demand_pick')
