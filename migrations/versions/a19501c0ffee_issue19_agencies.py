"""issue 19 section 3 (agencies, brokers and experts)

服务机构 services (agency_profiles, agency_services), a broker's public profile (broker_profiles; the 证书编号,
agency and region stay on users), and the 专家库 (experts, expert_fields) that campaign panels draw from.

Revision ID: a19501c0ffee
Revises: a19401c0ffee
Create Date: 2026-12-07 03:10:00
"""
import sqlalchemy as sa
from alembic import op

import market.models.base  # UTCDateTime


# revision identifiers, used by Alembic.
revision = 'a19501c0ffee'
down_revision = 'a19401c0ffee'
branch_labels = None
depends_on = None

SERVICE_CODES = ('transfer', 'evaluation', 'ip', 'brokerage', 'financing', 'consulting', 'incubation', 'testing',
                 'training')


def upgrade():
    op.create_table('agency_profiles',
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_agency_profiles_org_id_organizations')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_agency_profiles_updated_by_id_users')),
    sa.PrimaryKeyConstraint('org_id', name=op.f('pk_agency_profiles'))
    )
    op.create_table('agency_services',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.CheckConstraint('code IN (' + ', '.join(f"'{c}'" for c in SERVICE_CODES) + ')',
                       name=op.f('ck_agency_services_code')),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_agency_services_org_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agency_services')),
    sa.UniqueConstraint('org_id', 'code', name='uq_agency_services_org_code')
    )
    with op.batch_alter_table('agency_services', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agency_services_code'), ['code'], unique=False)
        batch_op.create_index(batch_op.f('ix_agency_services_org_id'), ['org_id'], unique=False)

    op.create_table('broker_profiles',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('public', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('intro', sa.String(length=500), nullable=False),
    sa.Column('updated_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_broker_profiles_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_broker_profiles'))
    )
    op.create_table('experts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=50), nullable=False),
    sa.Column('available', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_experts_created_by_id_users')),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_experts_org_id_organizations')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_experts_region_id_regions')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_experts_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_experts')),
    sa.UniqueConstraint('user_id', name=op.f('uq_experts_user_id'))
    )
    with op.batch_alter_table('experts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_experts_available'), ['available'], unique=False)
        batch_op.create_index(batch_op.f('ix_experts_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_experts_region_id'), ['region_id'], unique=False)

    op.create_table('expert_fields',
    sa.Column('expert_id', sa.Integer(), nullable=False),
    sa.Column('field_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['expert_id'], ['experts.id'], name=op.f('fk_expert_fields_expert_id_experts')),
    sa.ForeignKeyConstraint(['field_id'], ['fields.id'], name=op.f('fk_expert_fields_field_id_fields')),
    sa.PrimaryKeyConstraint('expert_id', 'field_id', name=op.f('pk_expert_fields'))
    )
    with op.batch_alter_table('expert_fields', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_expert_fields_field_id'), ['field_id'], unique=False)


def downgrade():
    with op.batch_alter_table('expert_fields', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_expert_fields_field_id'))
    op.drop_table('expert_fields')
    with op.batch_alter_table('experts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_experts_region_id'))
        batch_op.drop_index(batch_op.f('ix_experts_org_id'))
        batch_op.drop_index(batch_op.f('ix_experts_available'))
    op.drop_table('experts')
    op.drop_table('broker_profiles')
    with op.batch_alter_table('agency_services', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agency_services_org_id'))
        batch_op.drop_index(batch_op.f('ix_agency_services_code'))
    op.drop_table('agency_services')
    op.drop_table('agency_profiles')
