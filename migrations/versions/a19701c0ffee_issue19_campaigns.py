"""issue 19 section 1 (揭榜挂帅 campaigns)

Reserved so that parallel work chains without a second head; empty until used.

Revision ID: a19701c0ffee
Revises: a19601c0ffee
Create Date: 2026-12-07 03:35:00
"""


# revision identifiers, used by Alembic.
revision = 'a19701c0ffee'
down_revision = 'a19601c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
