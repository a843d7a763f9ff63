"""issue 20 sections 1-2: 公示 of 协议定价 and 挂牌 (placeholder until its helper fills it)

Revision ID: a19e01c0ffee
Revises: a19d01c0ffee
Create Date: 2026-12-07 10:05:00
"""

# revision identifiers, used by Alembic.
revision = 'a19e01c0ffee'
down_revision = 'a19d01c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
