"""issue 17 (invitations by e-mail, exports in 万元): no schema change

Reserved in advance so that the work on issues 16, 17 and 18 could go side by side; the invitation mail keeps its
address only in the job's payload and the exports are computed, so this revision changes nothing. It stays in the
chain because databases upgraded past it record it.

Revision ID: a18f01c0ffee
Revises: a18e01c0ffee
Create Date: 2026-12-06 20:00:00
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401


# revision identifiers, used by Alembic.
revision = 'a18f01c0ffee'
down_revision = 'a18e01c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
