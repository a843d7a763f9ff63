"""issue 20 sections 3-4: 竞价 sessions, lots, deposits and bids (placeholder)

Revision ID: a19f01c0ffee
Revises: a19e01c0ffee
Create Date: 2026-12-07 10:05:00
"""

# revision identifiers, used by Alembic.
revision = 'a19f01c0ffee'
down_revision = 'a19e01c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
