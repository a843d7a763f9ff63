"""issue 19 section 1 (揭榜挂帅 campaigns): campaigns (榜单), their 榜 with rubric and review panel, the solvers'
揭榜方案 (one per organisation and 榜) and the panel's scores per expert and criterion.

Revision ID: a19701c0ffee
Revises: a19601c0ffee
Create Date: 2026-12-07 03:35:00
"""
import sqlalchemy as sa
from alembic import op

import market.models.base  # UTCDateTime
import market.money  # Money


# revision identifiers, used by Alembic.
revision = 'a19701c0ffee'
down_revision = 'a19601c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('organiser_id', sa.Integer(), nullable=False),
    sa.Column('created_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organiser_id'], ['users.id'], name=op.f('fk_campaigns_organiser_id_users')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_campaigns_region_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns'))
    )
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaigns_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_campaigns_organiser_id'), ['organiser_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_campaigns_region_id'), ['region_id'], unique=False)

    op.create_table('campaign_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('demand_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('goal', sa.Text(), nullable=False),
    sa.Column('indicators', sa.Text(), nullable=False),
    sa.Column('award', market.money.Money(), nullable=False),
    sa.Column('co_funding', market.money.Money(), nullable=False),
    sa.Column('deadline', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('eligible_region_id', sa.Integer(), nullable=True),
    sa.Column('eligible_types', sa.String(length=64), nullable=False),
    sa.Column('announced_at', market.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('announced_by_id', sa.Integer(), nullable=True),
    sa.Column('deal_id', sa.Integer(), nullable=True),
    sa.Column('created_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('award > 0', name=op.f('ck_campaign_tasks_award_positive')),
    sa.CheckConstraint('co_funding >= 0', name=op.f('ck_campaign_tasks_co_funding_not_negative')),
    sa.ForeignKeyConstraint(['announced_by_id'], ['users.id'], name=op.f('fk_campaign_tasks_announced_by_id_users')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_tasks_campaign_id_campaigns')),
    sa.ForeignKeyConstraint(['deal_id'], ['deals.id'], name=op.f('fk_campaign_tasks_deal_id_deals')),
    sa.ForeignKeyConstraint(['demand_id'], ['demands.id'], name=op.f('fk_campaign_tasks_demand_id_demands')),
    sa.ForeignKeyConstraint(['eligible_region_id'], ['regions.id'], name=op.f('fk_campaign_tasks_eligible_region_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_tasks')),
    sa.UniqueConstraint('deal_id', name=op.f('uq_campaign_tasks_deal_id'))
    )
    with op.batch_alter_table('campaign_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_tasks_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_campaign_tasks_deadline'), ['deadline'], unique=False)
        batch_op.create_index(batch_op.f('ix_campaign_tasks_demand_id'), ['demand_id'], unique=False)

    op.create_table('campaign_criteria',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('max_points', sa.Integer(), nullable=False),
    sa.CheckConstraint('max_points BETWEEN 1 AND 100', name=op.f('ck_campaign_criteria_max_points_range')),
    sa.ForeignKeyConstraint(['task_id'], ['campaign_tasks.id'], name=op.f('fk_campaign_criteria_task_id_campaign_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_criteria'))
    )
    with op.batch_alter_table('campaign_criteria', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_criteria_task_id'), ['task_id'], unique=False)

    op.create_table('campaign_panelists',
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('expert_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['expert_id'], ['experts.id'], name=op.f('fk_campaign_panelists_expert_id_experts')),
    sa.ForeignKeyConstraint(['task_id'], ['campaign_tasks.id'], name=op.f('fk_campaign_panelists_task_id_campaign_tasks')),
    sa.PrimaryKeyConstraint('task_id', 'expert_id', name=op.f('pk_campaign_panelists'))
    )
    with op.batch_alter_table('campaign_panelists', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_panelists_expert_id'), ['expert_id'], unique=False)

    op.create_table('campaign_proposals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('submitted_by_id', sa.Integer(), nullable=False),
    sa.Column('summary', sa.String(length=200), nullable=False),
    sa.Column('plan', sa.Text(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('is_winner', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_campaign_proposals_org_id_organizations')),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'], name=op.f('fk_campaign_proposals_submitted_by_id_users')),
    sa.ForeignKeyConstraint(['task_id'], ['campaign_tasks.id'], name=op.f('fk_campaign_proposals_task_id_campaign_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_proposals')),
    sa.UniqueConstraint('task_id', 'org_id', name='uq_campaign_proposals_org')
    )
    with op.batch_alter_table('campaign_proposals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_proposals_org_id'), ['org_id'], unique=False)

    op.create_table('campaign_scores',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('expert_id', sa.Integer(), nullable=False),
    sa.Column('criterion_id', sa.Integer(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('scored_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('points >= 0', name=op.f('ck_campaign_scores_points_not_negative')),
    sa.ForeignKeyConstraint(['criterion_id'], ['campaign_criteria.id'], name=op.f('fk_campaign_scores_criterion_id_campaign_criteria')),
    sa.ForeignKeyConstraint(['expert_id'], ['experts.id'], name=op.f('fk_campaign_scores_expert_id_experts')),
    sa.ForeignKeyConstraint(['proposal_id'], ['campaign_proposals.id'], name=op.f('fk_campaign_scores_proposal_id_campaign_proposals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_scores')),
    sa.UniqueConstraint('proposal_id', 'expert_id', 'criterion_id', name='uq_campaign_scores')
    )
    with op.batch_alter_table('campaign_scores', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_scores_criterion_id'), ['criterion_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_campaign_scores_expert_id'), ['expert_id'], unique=False)

    op.create_table('campaign_milestones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('amount', market.money.Money(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', market.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('paid_at', market.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'submitted', 'accepted', 'rejected')", name=op.f('ck_campaign_milestones_status')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_campaign_milestones_amount_positive')),
    sa.CheckConstraint("status != 'accepted' OR paid_at IS NOT NULL", name=op.f('ck_campaign_milestones_accepted_is_paid')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_campaign_milestones_decided_by_id_users')),
    sa.ForeignKeyConstraint(['task_id'], ['campaign_tasks.id'], name=op.f('fk_campaign_milestones_task_id_campaign_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_milestones'))
    )
    with op.batch_alter_table('campaign_milestones', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_milestones_task_id'), ['task_id'], unique=False)



def downgrade():
    with op.batch_alter_table('campaign_milestones', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_milestones_task_id'))

    op.drop_table('campaign_milestones')
    with op.batch_alter_table('campaign_scores', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_scores_expert_id'))
        batch_op.drop_index(batch_op.f('ix_campaign_scores_criterion_id'))

    op.drop_table('campaign_scores')
    with op.batch_alter_table('campaign_proposals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_proposals_org_id'))

    op.drop_table('campaign_proposals')
    with op.batch_alter_table('campaign_panelists', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_panelists_expert_id'))

    op.drop_table('campaign_panelists')
    with op.batch_alter_table('campaign_criteria', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_criteria_task_id'))

    op.drop_table('campaign_criteria')
    with op.batch_alter_table('campaign_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_tasks_demand_id'))
        batch_op.drop_index(batch_op.f('ix_campaign_tasks_deadline'))
        batch_op.drop_index(batch_op.f('ix_campaign_tasks_campaign_id'))

    op.drop_table('campaign_tasks')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaigns_region_id'))
        batch_op.drop_index(batch_op.f('ix_campaigns_organiser_id'))
        batch_op.drop_index(batch_op.f('ix_campaigns_created_at'))

    op.drop_table('campaigns')
