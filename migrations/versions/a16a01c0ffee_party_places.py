"""parties anywhere (issue 16 items 1-2): 行政区划代码 and 国别 of organisations and contract parties; flows

Revision ID: a16a01c0ffee
Revises: a15b01c0ffee
Create Date: 2026-12-06 14:30:00

An organisation and each party of a contract get a GB/T 2260 code and an ISO 3166 国别; a contract party
outside the city has no region (the region columns become nullable, and at least one party stays in the
city). Existing rows keep their region; their code is filled from the region tree, except for those on the
city node itself, whose real place nobody knows yet (the data checks list the organisations). The monthly
summary gains the 'origin' rows (吸纳 by where the seller is, 输出 by where the buyer is).
"""
import re

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a16a01c0ffee'
down_revision = 'a15b01c0ffee'
branch_labels = None
depends_on = None

_CODE = re.compile(r"^[0-9]{6}$")


def upgrade():
    from market.models.stats import drop_triggers, install_triggers, rebuild_contract_stats

    bind = op.get_bind()
    drop_triggers(bind)
    with op.batch_alter_table('organizations') as batch:
        batch.add_column(sa.Column('division_code', sa.String(length=6), nullable=True))
        batch.add_column(sa.Column('country', sa.String(length=2), server_default='CN', nullable=False))
    with op.batch_alter_table('contracts') as batch:
        batch.add_column(sa.Column('buyer_division', sa.String(length=6), nullable=True))
        batch.add_column(sa.Column('seller_division', sa.String(length=6), nullable=True))
        batch.add_column(sa.Column('buyer_country', sa.String(length=2), server_default='CN', nullable=False))
        batch.add_column(sa.Column('seller_country', sa.String(length=2), server_default='CN', nullable=False))
        batch.alter_column('buyer_region_id', existing_type=sa.Integer(), nullable=True)
        batch.alter_column('seller_region_id', existing_type=sa.Integer(), nullable=True)
        batch.create_check_constraint('a_party_in_city', 'buyer_region_id IS NOT NULL OR seller_region_id IS NOT NULL')
    _fill_codes(bind)
    # keep last: a batch copy of contracts drops its triggers on SQLite
    install_triggers(bind)
    rebuild_contract_stats(bind, dims=('origin',))


def _fill_codes(bind):
    """Each region below the city node gets the code of its county (a town's 9-digit code starts with it; a
    park without one takes its parent's); organisations and contract parties on it take that code."""
    from market.divisions import division

    regions = {r.id: r for r in bind.execute(sa.text('SELECT id, code, parent_id, level FROM regions'))}

    def code_of(rid):
        seen = 0
        while rid is not None and seen < 10:
            region = regions[rid]
            for candidate in (region.code, (region.code or '')[:6]):
                if _CODE.match(candidate or '') and division(candidate) is not None:
                    return candidate
            rid, seen = region.parent_id, seen + 1
        return None

    for rid, region in regions.items():
        code = code_of(rid) if region.level != 'city' else None
        if code is None:
            continue
        bind.execute(sa.text('UPDATE organizations SET division_code = :c WHERE region_id = :r'), {'c': code, 'r': rid})
        bind.execute(sa.text('UPDATE contracts SET buyer_division = :c WHERE buyer_region_id = :r'), {'c': code, 'r': rid})
        bind.execute(sa.text('UPDATE contracts SET seller_division = :c WHERE seller_region_id = :r'), {'c': code, 'r': rid})


def downgrade():
    from market.models.stats import drop_triggers, install_triggers, rebuild_contract_stats

    bind = op.get_bind()
    outside = bind.execute(sa.text(
        'SELECT count(*) FROM contracts WHERE buyer_region_id IS NULL OR seller_region_id IS NULL')).scalar()
    if outside:
        raise RuntimeError(f'{outside} contracts have a party outside the city: the schema before a16a01c0ffee '
                           'cannot hold them (void and remove them first)')
    drop_triggers(bind)
    bind.execute(sa.text("DELETE FROM contract_month_stats WHERE dim = 'origin'"))
    with op.batch_alter_table('contracts') as batch:
        batch.drop_constraint('a_party_in_city', type_='check')
        batch.alter_column('seller_region_id', existing_type=sa.Integer(), nullable=False)
        batch.alter_column('buyer_region_id', existing_type=sa.Integer(), nullable=False)
        batch.drop_column('seller_country')
        batch.drop_column('buyer_country')
        batch.drop_column('seller_division')
        batch.drop_column('buyer_division')
    with op.batch_alter_table('organizations') as batch:
        batch.drop_column('country')
        batch.drop_column('division_code')
    install_triggers(bind, flows=False)
    rebuild_contract_stats(bind, flows=False)
