"""contract-listing links the owner confirms (issue 12 part 2)

Revision ID: a12b02c0ffee
Revises: a12b01c0ffee
Create Date: 2026-12-06 10:30:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a12b02c0ffee'
down_revision = 'a12b01c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
