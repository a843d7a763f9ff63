"""issue 19 (events: 路演, 对接会, sign-up and check-in)

Reserved in advance so that work on several issues can go side by side.

Revision ID: a19201c0ffee
Revises: a19101c0ffee
Create Date: 2026-12-06 23:30:00
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401


# revision identifiers, used by Alembic.
revision = 'a19201c0ffee'
down_revision = 'a19101c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
