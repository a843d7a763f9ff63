"""consent to 用户协议 and 隐私政策 at registration (issue 17, "Smaller")

Revision ID: a18d01c0ffee
Revises: a18c01c0ffee
Create Date: 2026-12-06 16:40:00

When a self-registered user ticked the consent box. Accounts made before this, and those an administrator
creates, have none (NULL).
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a18d01c0ffee'
down_revision = 'a18c01c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('terms_accepted_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('terms_accepted_at')
