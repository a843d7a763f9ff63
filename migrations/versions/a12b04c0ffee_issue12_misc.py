"""other schema changes of issue 12

Revision ID: a12b04c0ffee
Revises: a12b03c0ffee
Create Date: 2026-12-06 10:30:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a12b04c0ffee'
down_revision = 'a12b03c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    _split_contract_stats()  # keep last: it reinstalls the triggers on contracts (a batch copy of the table drops them on SQLite)


def downgrade():
    _unsplit_contract_stats()


# --- issue 12 item 4: exact totals -----------------------------------------------------------------------
# The monthly summary kept each sum in one Money column: on SQLite integer fen, which `amount + excluded.amount`
# silently turned REAL past 9.2×10^18 fen in one row; on PostgreSQL NUMERIC(18, 2), which refused a row past
# 10^16 元. Each sum is now two columns, the multiples of 10^7 元 (BIGINT) and the rest (market.money); the
# triggers are replaced and the table recomputed from the contracts.

def _split_contract_stats():
    from market.models.stats import drop_triggers, install_triggers, rebuild_contract_stats

    bind = op.get_bind()
    drop_triggers(bind)
    op.add_column('contract_month_stats', sa.Column('amount_hi', sa.BigInteger(), server_default='0', nullable=False))
    op.add_column('contract_month_stats', sa.Column('tech_amount_hi', sa.BigInteger(), server_default='0', nullable=False))
    install_triggers(bind, split=True, flows=False)
    rebuild_contract_stats(bind, split=True, flows=False)


def _unsplit_contract_stats():
    from market.models.stats import drop_triggers, install_triggers, rebuild_contract_stats

    bind = op.get_bind()
    drop_triggers(bind)
    op.drop_column('contract_month_stats', 'tech_amount_hi')
    op.drop_column('contract_month_stats', 'amount_hi')
    install_triggers(bind, split=False, flows=False)
    rebuild_contract_stats(bind, split=False, flows=False)
