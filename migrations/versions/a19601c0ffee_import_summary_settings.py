"""the summary triggers' functions get their own work_mem and no JIT (PostgreSQL; nothing on SQLite)

An import statement of 20,000 contracts groups about 1.2 million summary deltas: with the default 4 MB the
planner sorted them on disk, and the statement's cost started JIT compilation (2.4 s). market/models/stats.py
creates the functions with the same settings (_FUNCTION_SETTINGS).

Revision ID: a19601c0ffee
Revises: a19501c0ffee
Create Date: 2026-12-07 03:25:00
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a19601c0ffee'
down_revision = 'a19501c0ffee'
branch_labels = None
depends_on = None

_FUNCTIONS = ("contract_stats_insert", "contract_stats_update", "contract_stats_delete")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in _FUNCTIONS:
        op.execute(f"ALTER FUNCTION {name}() SET work_mem = '64MB'")
        op.execute(f"ALTER FUNCTION {name}() SET jit = off")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in _FUNCTIONS:
        op.execute(f"ALTER FUNCTION {name}() RESET ALL")
