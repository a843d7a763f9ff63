"""sign-in throttle with growing delays (issue 12 part 6)

Revision ID: a12b03c0ffee
Revises: a12b02c0ffee
Create Date: 2026-12-06 10:30:00

No schema change was needed: the throttle keeps its events in login_failures (key, at) as before, under more
keys (market/auth/throttle.py). The revision stays so the chain of issue 12's revisions is unbroken.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a12b03c0ffee'
down_revision = 'a12b02c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
