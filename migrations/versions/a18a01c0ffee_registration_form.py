"""登记表 fields: reference codes and the contract's registration-form columns (issue 16 item 3)

Revision ID: a18a01c0ffee
Revises: a17c01c0ffee
Create Date: 2026-12-06 16:30:00
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401


# revision identifiers, used by Alembic.
revision = 'a18a01c0ffee'
down_revision = 'a17c01c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
