"""issue 16 (report figures at 1,000,000 contracts)

Reserved so that parallel work chains without a second head; empty until used.

Revision ID: a19301c0ffee
Revises: a19201c0ffee
Create Date: 2026-12-07 03:10:00
"""


# revision identifiers, used by Alembic.
revision = 'a19301c0ffee'
down_revision = 'a19201c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
