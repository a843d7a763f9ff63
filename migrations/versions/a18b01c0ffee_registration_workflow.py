"""the 登记 workflow: 登记点, 登记员 and submissions (issue 16 item 4)

Revision ID: a18b01c0ffee
Revises: a18a01c0ffee
Create Date: 2026-12-06 16:30:00
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401


# revision identifiers, used by Alembic.
revision = 'a18b01c0ffee'
down_revision = 'a18a01c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
