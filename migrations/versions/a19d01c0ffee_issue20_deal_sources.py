"""issue 20: a registration step's `prior` (the registered values a change request replaced, put back when the
登记员 returns the change: before, a returned change stayed in the register with its unapproved values); a deal's price and contract type set in public (deals.price, deals.price_type: a 挂牌 price accepted, or a 竞价 winning bid), and two more deal sources recorded by the feature that opens the deal, never chosen by hand: 'listed'
(挂牌: a verified buyer accepted a result's listed price) and 'auction' (竞价: a lot's winning bid).

Revision ID: a19d01c0ffee
Revises: a19c01c0ffee
Create Date: 2026-12-07 10:05:00
"""
import sqlalchemy as sa
from alembic import op

import market.money

# revision identifiers, used by Alembic.
revision = 'a19d01c0ffee'
down_revision = 'a19c01c0ffee'
branch_labels = None
depends_on = None

BEFORE = "'suggestion', 'search', 'campaign', 'event', 'broker_visit', 'direct'"
AFTER = BEFORE + ", 'listed', 'auction'"


def upgrade():
    with op.batch_alter_table('reg_steps', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prior', sa.Text(), nullable=True))
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('price', market.money.Money(), nullable=True))
        batch_op.add_column(sa.Column('price_type', sa.String(length=16), nullable=True))
        batch_op.drop_constraint(op.f('ck_deals_source'), type_='check')
        batch_op.create_check_constraint(op.f('ck_deals_source'), f"source IN ({AFTER})")


def downgrade():
    # a deal opened by 挂牌 or 竞价 was agreed directly between its parties, as far as the older set can say
    op.execute("UPDATE deals SET source = 'direct' WHERE source IN ('listed', 'auction')")
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_deals_source'), type_='check')
        batch_op.create_check_constraint(op.f('ck_deals_source'), f"source IN ({BEFORE})")
        batch_op.drop_column('price_type')
        batch_op.drop_column('price')
    with op.batch_alter_table('reg_steps', schema=None) as batch_op:
        batch_op.drop_column('prior')
