"""issue 21: API tokens and idempotency keys (placeholder)

Revision ID: a1a001c0ffee
Revises: a19f01c0ffee
Create Date: 2026-12-07 10:05:00
"""

# revision identifiers, used by Alembic.
revision = 'a1a001c0ffee'
down_revision = 'a19f01c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
