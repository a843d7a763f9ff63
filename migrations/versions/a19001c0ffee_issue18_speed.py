"""issue 18: write_counter, the count of this database's committed write transactions

The signed-in page cache (market/usercache.py) keeps a page while this number has not moved. On PostgreSQL every
transaction of the app that wrote something adds one to it just before its COMMIT; it replaces
pg_current_snapshot(), which every writing transaction of the whole server moved, other databases' included.
SQLite keeps using PRAGMA data_version; the table is there too, unused.

Revision ID: a19001c0ffee
Revises: a18f01c0ffee
Create Date: 2026-12-06 20:00:00
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a19001c0ffee'
down_revision = 'a18f01c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        "write_counter",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_write_counter")),
    )
    op.bulk_insert(table, [{"id": 1, "n": 0}])


def downgrade():
    op.drop_table("write_counter")
