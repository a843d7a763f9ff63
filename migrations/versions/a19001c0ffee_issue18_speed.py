"""reserved for issue18_speed (filled in by the work on that issue, or left empty)

Revision ID: a19001c0ffee
Revises: a18f01c0ffee
Create Date: 2026-12-06 20:00:00
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401


# revision identifiers, used by Alembic.
revision = 'a19001c0ffee'
down_revision = 'a18f01c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
