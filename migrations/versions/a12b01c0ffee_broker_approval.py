"""broker accounts approved by a person (issue 12 part 1)

Revision ID: a12b01c0ffee
Revises: 7c1d4f0a9b2e
Create Date: 2026-12-06 10:30:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a12b01c0ffee'
down_revision = '7c1d4f0a9b2e'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('broker_status', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('broker_reviewed_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('broker_reviewed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('broker_review_note', sa.String(length=500), nullable=False, server_default=''))
        batch_op.create_foreign_key(batch_op.f('fk_users_broker_reviewed_by_id_users'), 'users',
                                    ['broker_reviewed_by_id'], ['id'])
    # Brokers already signed up were never checked by a person: those of a verified 服务机构 keep working (the
    # organisation's check stands for them), the others wait for review like a new sign-up.
    op.execute(
        "UPDATE users SET broker_status = CASE WHEN EXISTS (SELECT 1 FROM organizations o "
        "WHERE o.id = users.org_id AND o.status = 'verified') THEN 'approved' ELSE 'pending' END "
        "WHERE role = 'broker'"
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f('ck_users_broker_status'),
            "(role = 'broker' AND broker_status IN ('pending', 'approved', 'rejected'))"
            " OR (role <> 'broker' AND broker_status IS NULL)",
        )


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_users_broker_status'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_users_broker_reviewed_by_id_users'), type_='foreignkey')
        batch_op.drop_column('broker_review_note')
        batch_op.drop_column('broker_reviewed_at')
        batch_op.drop_column('broker_reviewed_by_id')
        batch_op.drop_column('broker_status')
