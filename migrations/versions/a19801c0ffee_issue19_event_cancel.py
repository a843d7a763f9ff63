"""issue 19 section 2 (an organiser cancels an event)

Reserved so that parallel work chains without a second head; empty until used.

Revision ID: a19801c0ffee
Revises: a19701c0ffee
Create Date: 2026-12-07 04:07:00
"""


# revision identifiers, used by Alembic.
revision = 'a19801c0ffee'
down_revision = 'a19701c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
