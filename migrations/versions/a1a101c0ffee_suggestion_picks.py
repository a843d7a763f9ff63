"""Suggestions say whose own top matches hold them (demand_pick, achievement_pick): a listing's page lists its own
picks first. Existing pairs start as nobody's pick (the page's order is then the old one, by score) until
`flask --app app match refresh --all` or the next refresh of each listing marks them.

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


def downgrade():
    with op.batch_alter_table('suggestions', schema=None) as batch_op:
        batch_op.drop_column('achievement_pick')
        batch_op.drop_column('demand_pick')
