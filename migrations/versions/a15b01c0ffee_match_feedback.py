"""owners' 不相关 marks on suggestions (issue 15, part B)

Revision ID: a15b01c0ffee
Revises: a14e05c0ffee
Create Date: 2026-12-06 14:10:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a15b01c0ffee'
down_revision = 'a14e05c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'match_feedback',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('demand_id', sa.Integer(), nullable=False),
        sa.Column('achievement_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('not_relevant')", name=op.f('ck_match_feedback_kind')),
        sa.ForeignKeyConstraint(['demand_id'], ['demands.id'], name=op.f('fk_match_feedback_demand_id_demands'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['achievement_id'], ['achievements.id'],
                                name=op.f('fk_match_feedback_achievement_id_achievements'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_match_feedback_org_id_organizations')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_match_feedback_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_match_feedback')),
        sa.UniqueConstraint('demand_id', 'achievement_id', 'org_id', 'kind', name='uq_match_feedback_pair_org_kind'),
    )
    with op.batch_alter_table('match_feedback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_match_feedback_demand_id'), ['demand_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_match_feedback_achievement_id'), ['achievement_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_match_feedback_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_match_feedback_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('match_feedback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_match_feedback_created_at'))
        batch_op.drop_index(batch_op.f('ix_match_feedback_org_id'))
        batch_op.drop_index(batch_op.f('ix_match_feedback_achievement_id'))
        batch_op.drop_index(batch_op.f('ix_match_feedback_demand_id'))
    op.drop_table('match_feedback')
