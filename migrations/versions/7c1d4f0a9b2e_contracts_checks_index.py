"""index for the dashboard's data checks (duplicate contracts)

Revision ID: 7c1d4f0a9b2e
Revises: e25d3b261b73
Create Date: 2026-11-23 14:20:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '7c1d4f0a9b2e'
down_revision = 'e25d3b261b73'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('contracts', schema=None) as batch_op:
        batch_op.create_index(
            'ix_contracts_checks',
            ['voided', 'signed_on', 'buyer_org_id', 'seller_org_id', 'amount', 'buyer_region_id',
             'seller_region_id', 'tech_amount', 'field_id'],
            unique=False,
        )


def downgrade():
    with op.batch_alter_table('contracts', schema=None) as batch_op:
        batch_op.drop_index('ix_contracts_checks')
