"""issue 19 section 3 (agencies, brokers and experts)

Reserved so that parallel work chains without a second head; empty until used.

Revision ID: a19501c0ffee
Revises: a19401c0ffee
Create Date: 2026-12-07 03:10:00
"""


# revision identifiers, used by Alembic.
revision = 'a19501c0ffee'
down_revision = 'a19401c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
