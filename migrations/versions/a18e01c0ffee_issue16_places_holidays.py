"""issue 16: the 登记 calendar (public holidays and 调休 workdays) and the summary's 登记表 dimensions

Revision ID: a18e01c0ffee
Revises: a18d01c0ffee
Create Date: 2026-12-06 20:00:00

work_calendar: the days that differ from Monday to Friday in the 登记 deadline's working days, seeded with the
State Council's 2026 schedule (market/registration/calendar.py); administrators add each later year.

contract_month_stats gets the 登记表 dimensions of the report tables T2–T7 (dims 'sub', 'rfield', 'lfs', 'lfb', 'ip',
'plan', 'goal': models.stats.REG_DIM_SQL), so that the tables are read from the summary like the dashboard's
figures instead of a year of contracts. The key widens from 16 to 48 characters ('sub' = type.subtype); on SQLite
the table (WITHOUT ROWID) is created again from its model, as SQLite cannot change a column's declared type.
The triggers are reinstalled with the new dims and those rows computed from the existing contracts.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a18e01c0ffee'
down_revision = 'a18d01c0ffee'
branch_labels = None
depends_on = None

_STATS_COLUMNS = "dim, region_id, side, ym, key, n, amount_hi, amount, tech_amount_hi, tech_amount"


def _recreate_sqlite_stats(bind, key_length: int) -> None:
    """contract_month_stats again with the key's declared length (rows copied; triggers must be dropped first)."""
    from market.money import Money

    op.execute("ALTER TABLE contract_month_stats RENAME TO contract_month_stats_old")
    op.create_table(
        'contract_month_stats',
        sa.Column('dim', sa.String(length=8), nullable=False),
        sa.Column('region_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('side', sa.String(length=1), nullable=False),
        sa.Column('ym', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('key', sa.String(length=key_length), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.Column('amount_hi', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('amount', Money(), nullable=False),
        sa.Column('tech_amount_hi', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('tech_amount', Money(), nullable=False),
        sa.PrimaryKeyConstraint('dim', 'region_id', 'side', 'ym', 'key', name=op.f('pk_contract_month_stats')),
        sqlite_with_rowid=False,
    )
    # bandit B608: constant table and column names
    op.execute(f"INSERT INTO contract_month_stats ({_STATS_COLUMNS}) SELECT {_STATS_COLUMNS} "  # nosec B608
               "FROM contract_month_stats_old")
    op.execute("DROP TABLE contract_month_stats_old")


def upgrade():
    from market.models.stats import REG_DIM_SQL, drop_triggers, install_triggers, rebuild_contract_stats
    from market.registration.calendar import seed_rows

    bind = op.get_bind()
    calendar = op.create_table(
        'work_calendar',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('workday', sa.Boolean(), nullable=False),
        sa.Column('name', sa.String(length=40), server_default='', nullable=False),
        sa.PrimaryKeyConstraint('day', name=op.f('pk_work_calendar')),
    )
    op.bulk_insert(calendar, seed_rows())

    drop_triggers(bind)
    if bind.dialect.name == "sqlite":
        _recreate_sqlite_stats(bind, 48)
    else:
        op.alter_column('contract_month_stats', 'key', type_=sa.String(length=48), existing_nullable=False)
    install_triggers(bind, registered=True, regdims=True)
    rebuild_contract_stats(bind, dims=tuple(REG_DIM_SQL), registered=True, regdims=True)


def downgrade():
    from market.models.stats import REG_DIM_SQL, drop_triggers, install_triggers

    bind = op.get_bind()
    drop_triggers(bind)
    dims = ", ".join(f"'{d}'" for d in REG_DIM_SQL)
    op.execute(f"DELETE FROM contract_month_stats WHERE dim IN ({dims})")  # nosec B608 - module constants
    if bind.dialect.name == "sqlite":
        _recreate_sqlite_stats(bind, 16)
    else:
        op.alter_column('contract_month_stats', 'key', type_=sa.String(length=16), existing_nullable=False)
    install_triggers(bind, registered=True, regdims=False)
    op.drop_table('work_calendar')
