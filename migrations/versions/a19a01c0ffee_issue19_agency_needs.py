"""Reserved for issue 19: needs an agency collected (filled by the work that needs it; empty until then).

Revision ID: a19a01c0ffee
Revises: a19901c0ffee
Create Date: 2026-12-07 06:30:00
"""


# revision identifiers, used by Alembic.
revision = 'a19a01c0ffee'
down_revision = 'a19901c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
