"""issue 16 (report figures at 1,000,000 contracts)

Revision ID: a19301c0ffee
Revises: a19201c0ffee
Create Date: 2026-12-07 03:10:00

The four covering indexes of the dashboard's reads that a18b01c0ffee left without reg_status (conversions, contracts
from deals, each party's contracts by date) gain it as their last column: every read tests the counted rule
(`NOT voided AND reg_status = 'registered'`), and without the column each row of the index range was read from the
table too (成果转化, targets and 产学研 coverage: 0.5-0.8 s at 1,000,000 contracts). No data changes.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a19301c0ffee'
down_revision = 'a19201c0ffee'
branch_labels = None
depends_on = None

_PARTIAL = {  # name: (columns before reg_status, the partial index's condition)
    'ix_contracts_conversions': (['voided', 'signed_on', 'achievement_id', 'buyer_region_id', 'seller_region_id'],
                                 'achievement_id IS NOT NULL'),
    'ix_contracts_from_deals': (['voided', 'signed_on', 'buyer_region_id', 'seller_region_id'],
                                'deal_id IS NOT NULL'),
}
_PLAIN = {
    'ix_contracts_seller_org_signed': ['seller_org_id', 'voided', 'signed_on', 'buyer_org_id'],
    'ix_contracts_buyer_org_signed': ['buyer_org_id', 'voided', 'signed_on', 'seller_org_id'],
}


def _recreate(with_status: bool) -> None:
    extra = ['reg_status'] if with_status else []
    specs = [(name, columns + extra, where) for name, (columns, where) in _PARTIAL.items()]
    specs += [(name, columns + extra, None) for name, columns in _PLAIN.items()]
    if op.get_bind().dialect.name != 'postgresql':
        for name, columns, where in specs:
            op.drop_index(name, table_name='contracts')
            op.create_index(name, 'contracts', columns, unique=False,
                            sqlite_where=sa.text(where) if where else None)
        return
    # PostgreSQL: built CONCURRENTLY beside the old index, then swapped, so that a market with a million contracts
    # keeps registering contracts while the upgrade runs (a plain CREATE INDEX blocks every write to the table)
    with op.get_context().autocommit_block():
        for name, columns, where in specs:
            op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS {name}_new')  # an invalid one left by a failed run
            op.create_index(f'{name}_new', 'contracts', columns, unique=False, postgresql_concurrently=True,
                            postgresql_where=sa.text(where) if where else None)
            op.drop_index(name, table_name='contracts', postgresql_concurrently=True)
            op.execute(f'ALTER INDEX {name}_new RENAME TO {name}')


def upgrade():
    _recreate(True)


def downgrade():
    _recreate(False)
