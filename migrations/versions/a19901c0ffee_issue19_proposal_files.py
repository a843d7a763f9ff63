"""Reserved for issue 19: attachments of a 揭榜方案 (filled by the work that needs it; empty until then).

Revision ID: a19901c0ffee
Revises: a19801c0ffee
Create Date: 2026-12-07 06:30:00
"""


# revision identifiers, used by Alembic.
revision = 'a19901c0ffee'
down_revision = 'a19801c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
