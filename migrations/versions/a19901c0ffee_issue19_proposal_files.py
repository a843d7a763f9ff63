"""Issue 19: attachments of a 揭榜方案 (PDFs under generated names in UPLOAD_DIR, the uploader's name as data).

Revision ID: a19901c0ffee
Revises: a19801c0ffee
Create Date: 2026-12-07 06:30:00
"""
import sqlalchemy as sa
from alembic import op

import market.models.base

# revision identifiers, used by Alembic.
revision = 'a19901c0ffee'
down_revision = 'a19801c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('campaign_proposal_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['proposal_id'], ['campaign_proposals.id'], name=op.f('fk_campaign_proposal_files_proposal_id_campaign_proposals')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_campaign_proposal_files_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_proposal_files'))
    )
    with op.batch_alter_table('campaign_proposal_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_proposal_files_proposal_id'), ['proposal_id'], unique=False)


def downgrade():
    with op.batch_alter_table('campaign_proposal_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_proposal_files_proposal_id'))

    op.drop_table('campaign_proposal_files')
