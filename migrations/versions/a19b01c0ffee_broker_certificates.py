"""Reserved for the broker certificate number, normalised and unique (filled by the work that needs it; empty until then).

Revision ID: a19b01c0ffee
Revises: a19a01c0ffee
Create Date: 2026-12-07 06:30:00
"""


# revision identifiers, used by Alembic.
revision = 'a19b01c0ffee'
down_revision = 'a19a01c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
