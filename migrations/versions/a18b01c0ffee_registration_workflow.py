"""the 登记 workflow: 登记点, 登记员 and submissions (issue 16 item 4)

Revision ID: a18b01c0ffee
Revises: a18a01c0ffee
Create Date: 2026-12-06 16:30:00

登记点 (reg_points) on the city's region tree with their 登记编号 counter; the 登记员 role (users.reg_point_id);
the registration state of each contract (reg_status and friends) and every step of it (reg_steps). Existing
contracts are 'registered' (the server default), so no figure moves; the stats triggers are reinstalled to count
only registered contracts (a batch copy of contracts drops them on SQLite), and the two covering indexes of the
dashboard's contract reads gain reg_status.
"""
import sqlalchemy as sa
from alembic import op

import market.models.base
import market.money


# revision identifiers, used by Alembic.
revision = 'a18b01c0ffee'
down_revision = 'a18a01c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    from market.models.stats import drop_triggers, install_triggers

    bind = op.get_bind()
    op.create_table(
        'reg_points',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('region_id', sa.Integer(), nullable=False),
        sa.Column('division', sa.String(length=6), nullable=False),
        sa.Column('serial', sa.Integer(), nullable=False),
        sa.Column('seq_year', sa.Integer(), server_default='0', nullable=False),
        sa.Column('seq_last', sa.Integer(), server_default='0', nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', market.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('bureau', 'agency')", name=op.f('ck_reg_points_kind')),
        sa.CheckConstraint('serial BETWEEN 1 AND 99', name=op.f('ck_reg_points_serial_range')),
        sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_reg_points_region_id_regions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reg_points')),
        sa.UniqueConstraint('division', 'serial', name='uq_reg_points_division_serial'),
    )
    op.create_index(op.f('ix_reg_points_region_id'), 'reg_points', ['region_id'], unique=False)
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('reg_point_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(batch.f('fk_users_reg_point_id_reg_points'), 'reg_points', ['reg_point_id'], ['id'])
        batch.create_index(batch.f('ix_users_reg_point_id'), ['reg_point_id'], unique=False)
        batch.drop_constraint(batch.f('ck_users_role'), type_='check')
        batch.create_check_constraint(
            batch.f('ck_users_role'), "role IN ('enterprise', 'institution', 'broker', 'official', 'admin', 'registrar')")
        batch.create_check_constraint(batch.f('ck_users_registrar_point'), "(role = 'registrar') = (reg_point_id IS NOT NULL)")
    drop_triggers(bind)
    op.drop_index('ix_contracts_dashboard', table_name='contracts')
    op.drop_index('ix_contracts_checks', table_name='contracts')
    with op.batch_alter_table('contracts') as batch:
        batch.add_column(sa.Column('reg_status', sa.String(length=12), server_default='registered', nullable=False))
        batch.add_column(sa.Column('reg_request', sa.String(length=8), nullable=True))
        batch.add_column(sa.Column('reg_point_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('registrar_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('registered_on', sa.Date(), nullable=True))
        batch.add_column(sa.Column('submitted_at', market.models.base.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('submitted_by_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('declared_tech_amount', market.money.Money(), nullable=True))
        batch.add_column(sa.Column('reg_verify_code', sa.String(length=16), nullable=True))
        batch.create_foreign_key(batch.f('fk_contracts_reg_point_id_reg_points'), 'reg_points', ['reg_point_id'], ['id'])
        batch.create_foreign_key(batch.f('fk_contracts_registrar_id_users'), 'users', ['registrar_id'], ['id'])
        batch.create_foreign_key(batch.f('fk_contracts_submitted_by_id_users'), 'users', ['submitted_by_id'], ['id'])
        batch.create_index(batch.f('ix_contracts_reg_point_id'), ['reg_point_id'], unique=False)
        batch.create_unique_constraint(batch.f('uq_contracts_reg_verify_code'), ['reg_verify_code'])
        batch.create_check_constraint(
            batch.f('ck_contracts_reg_status'), "reg_status IN ('submitted', 'returned', 'refused', 'registered')")
    op.create_index('ix_contracts_dashboard', 'contracts', _DASHBOARD + ['reg_status'], unique=False)
    op.create_index('ix_contracts_checks', 'contracts', _CHECKS + ['reg_status'], unique=False)
    op.create_table(
        'reg_steps',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('contract_id', sa.Integer(), nullable=False),
        sa.Column('action', sa.String(length=12), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('reg_point_id', sa.Integer(), nullable=True),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.Column('tech_amount', market.money.Money(), nullable=True),
        sa.Column('registration_no', sa.String(length=40), nullable=False),
        sa.Column('at', market.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_reg_steps_actor_id_users')),
        sa.ForeignKeyConstraint(['contract_id'], ['contracts.id'], name=op.f('fk_reg_steps_contract_id_contracts')),
        sa.ForeignKeyConstraint(['reg_point_id'], ['reg_points.id'], name=op.f('fk_reg_steps_reg_point_id_reg_points')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reg_steps')),
    )
    op.create_index(op.f('ix_reg_steps_contract_id'), 'reg_steps', ['contract_id'], unique=False)
    # keep last: the batch copy of contracts dropped its triggers on SQLite; every existing row is 'registered',
    # so the summary rows stand as they are
    install_triggers(bind, registered=True)


_DASHBOARD = ['voided', 'signed_on', 'buyer_region_id', 'seller_region_id', 'contract_type', 'field_id', 'amount',
              'tech_amount', 'buyer_org_id', 'seller_org_id', 'achievement_id', 'deal_id']
_CHECKS = ['voided', 'signed_on', 'buyer_org_id', 'seller_org_id', 'amount', 'buyer_region_id', 'seller_region_id',
           'tech_amount', 'field_id']


def downgrade():
    from market.models.stats import drop_triggers, install_triggers, rebuild_contract_stats

    bind = op.get_bind()
    waiting = bind.execute(sa.text("SELECT count(*) FROM contracts WHERE reg_status <> 'registered'")).scalar()
    if waiting:
        raise RuntimeError(f'{waiting} contracts are not registered (submitted, returned or refused): the schema '
                           'before a18b01c0ffee would count them; decide or remove them first')
    if bind.execute(sa.text("SELECT count(*) FROM users WHERE role = 'registrar'")).scalar():
        raise RuntimeError('登记员 accounts exist: the schema before a18b01c0ffee has no such role; remove them first')
    op.drop_index(op.f('ix_reg_steps_contract_id'), table_name='reg_steps')
    op.drop_table('reg_steps')
    drop_triggers(bind)
    op.drop_index('ix_contracts_dashboard', table_name='contracts')
    op.drop_index('ix_contracts_checks', table_name='contracts')
    with op.batch_alter_table('contracts') as batch:
        batch.drop_constraint(batch.f('ck_contracts_reg_status'), type_='check')
        batch.drop_constraint(batch.f('uq_contracts_reg_verify_code'), type_='unique')
        batch.drop_index(batch.f('ix_contracts_reg_point_id'))
        batch.drop_constraint(batch.f('fk_contracts_submitted_by_id_users'), type_='foreignkey')
        batch.drop_constraint(batch.f('fk_contracts_registrar_id_users'), type_='foreignkey')
        batch.drop_constraint(batch.f('fk_contracts_reg_point_id_reg_points'), type_='foreignkey')
        for column in ('reg_verify_code', 'declared_tech_amount', 'submitted_by_id', 'submitted_at', 'registered_on',
                       'registrar_id', 'reg_point_id', 'reg_request', 'reg_status'):
            batch.drop_column(column)
    op.create_index('ix_contracts_dashboard', 'contracts', _DASHBOARD, unique=False)
    op.create_index('ix_contracts_checks', 'contracts', _CHECKS, unique=False)
    install_triggers(bind, registered=False)
    rebuild_contract_stats(bind, registered=False)
    with op.batch_alter_table('users') as batch:
        batch.drop_constraint(batch.f('ck_users_registrar_point'), type_='check')
        batch.drop_constraint(batch.f('ck_users_role'), type_='check')
        batch.create_check_constraint(
            batch.f('ck_users_role'), "role IN ('enterprise', 'institution', 'broker', 'official', 'admin')")
        batch.drop_index(batch.f('ix_users_reg_point_id'))
        batch.drop_constraint(batch.f('fk_users_reg_point_id_reg_points'), type_='foreignkey')
        batch.drop_column('reg_point_id')
    op.drop_index(op.f('ix_reg_points_region_id'), table_name='reg_points')
    op.drop_table('reg_points')
