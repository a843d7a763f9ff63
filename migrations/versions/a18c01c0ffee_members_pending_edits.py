"""organisation members and pending edits of published listings (issue 17 items 5-6)

Revision ID: a18c01c0ffee
Revises: a18b01c0ffee
Create Date: 2026-12-06 16:30:00

users.org_admin marks who administers an organisation's members; each organisation's first registrant (its
lowest user id among enterprise, institution and broker accounts) becomes its administrator. org_invitations holds
the one-time links; listing_revisions the changes to published listings that wait for review.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a18c01c0ffee'
down_revision = 'a18b01c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('org_admin', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.execute(
        "UPDATE users SET org_admin = true WHERE id IN (SELECT min(id) FROM users WHERE org_id IS NOT NULL "
        "AND role IN ('enterprise', 'institution', 'broker') GROUP BY org_id)"
    )

    op.create_table(
        'org_invitations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.Column('nonce', sa.String(length=43), nullable=False),
        sa.Column('note', sa.String(length=50), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('used_by_id', sa.Integer(), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_org_invitations_org_id_organizations')),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_org_invitations_created_by_id_users')),
        sa.ForeignKeyConstraint(['used_by_id'], ['users.id'], name=op.f('fk_org_invitations_used_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_org_invitations')),
        sa.UniqueConstraint('nonce', name=op.f('uq_org_invitations_nonce')),
    )
    with op.batch_alter_table('org_invitations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_org_invitations_org_id'), ['org_id'], unique=False)

    op.create_table(
        'listing_revisions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('listing_id', sa.Integer(), nullable=False),
        sa.Column('data', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('submitted_by_id', sa.Integer(), nullable=False),
        sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'approved', 'returned', 'withdrawn')",
                           name=op.f('ck_listing_revisions_status')),
        sa.CheckConstraint("kind IN ('demand', 'achievement')", name=op.f('ck_listing_revisions_kind')),
        sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'],
                                name=op.f('fk_listing_revisions_submitted_by_id_users')),
        sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_listing_revisions_decided_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_listing_revisions')),
    )
    with op.batch_alter_table('listing_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_listing_revisions_listing_id'), ['listing_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_listing_revisions_status'), ['status'], unique=False)
        batch_op.create_index('uq_listing_revisions_open', ['kind', 'listing_id'], unique=True,
                              postgresql_where=sa.text("status = 'pending'"),
                              sqlite_where=sa.text("status = 'pending'"))


def downgrade():
    with op.batch_alter_table('listing_revisions', schema=None) as batch_op:
        batch_op.drop_index('uq_listing_revisions_open')
        batch_op.drop_index(batch_op.f('ix_listing_revisions_status'))
        batch_op.drop_index(batch_op.f('ix_listing_revisions_listing_id'))
    op.drop_table('listing_revisions')
    with op.batch_alter_table('org_invitations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_org_invitations_org_id'))
    op.drop_table('org_invitations')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('org_admin')
