"""issue 20: two more deal sources recorded by the feature that opens the deal, never chosen by hand: 'listed'
(挂牌: a verified buyer accepted a result's listed price) and 'auction' (竞价: a lot's winning bid).

Revision ID: a19d01c0ffee
Revises: a19c01c0ffee
Create Date: 2026-12-07 10:05:00
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a19d01c0ffee'
down_revision = 'a19c01c0ffee'
branch_labels = None
depends_on = None

BEFORE = "'suggestion', 'search', 'campaign', 'event', 'broker_visit', 'direct'"
AFTER = BEFORE + ", 'listed', 'auction'"


def upgrade():
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_deals_source'), type_='check')
        batch_op.create_check_constraint(op.f('ck_deals_source'), f"source IN ({AFTER})")


def downgrade():
    # a deal opened by 挂牌 or 竞价 was agreed directly between its parties, as far as the older set can say
    op.execute("UPDATE deals SET source = 'direct' WHERE source IN ('listed', 'auction')")
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_deals_source'), type_='check')
        batch_op.create_check_constraint(op.f('ck_deals_source'), f"source IN ({BEFORE})")
