"""broker accounts approved by a person (issue 12 part 1)

Revision ID: a12b01c0ffee
Revises: 7c1d4f0a9b2e
Create Date: 2026-12-06 10:30:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a12b01c0ffee'
down_revision = '7c1d4f0a9b2e'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
