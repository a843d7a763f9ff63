"""issue 16: the data checks read one index range each at 1,000,000 contracts

contracts gains three columns kept by triggers (market/models/checks.py): seller_org_type and buyer_org_type (the
parties' organisation types, which 法人性质与单位类型不符 compares the declared codes with) and duplicated (another
counted contract has the same buyer, seller, signing date and amount). Each check gets an index holding only the
contracts it lists, in its list's order (partial where the condition is on the row alone), and 大额 one on the
amount. The columns are computed from the data on upgrade.

Revision ID: a19101c0ffee
Revises: a19001c0ffee
Create Date: 2026-12-06 23:30:00
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a19101c0ffee'
down_revision = 'a19001c0ffee'
branch_labels = None
depends_on = None



def _indexes(dialect_name: str):
    """(name, columns, partial WHERE or None), as market/models/checks.py declares them: the counted rule's
    columns, the list's order, the scope's columns, then the condition's own columns."""
    dup = "duplicated = true" if dialect_name == "postgresql" else "duplicated = 1"
    by_date = ["voided", "reg_status", "signed_on", "id", "buyer_region_id", "seller_region_id"]
    return [
        ("ix_contracts_chk_no_field", by_date + ["field_id"], "field_id IS NULL"),
        ("ix_contracts_chk_foreign", by_date + ["buyer_country", "seller_country"],
         "buyer_country != 'CN' OR seller_country != 'CN'"),
        ("ix_contracts_chk_over", by_date + ["amount", "tech_amount"], "tech_amount > amount"),
        ("ix_contracts_chk_worksheet",
         by_date + ["amount", "tech_amount", "nontech_equipment", "nontech_materials", "nontech_other"],
         "tech_amount != amount AND nontech_equipment IS NULL AND nontech_materials IS NULL AND nontech_other IS NULL"),
        ("ix_contracts_chk_duplicates", ["voided", "reg_status", "signed_on", "buyer_org_id", "seller_org_id",
                                         "amount", "id", "buyer_region_id", "seller_region_id", "duplicated"], dup),
        ("ix_contracts_chk_legal_form",
         by_date + ["seller_org_type", "seller_legal_form", "buyer_org_type", "buyer_legal_form"],
         "seller_legal_form IS NOT NULL OR buyer_legal_form IS NOT NULL"),
        ("ix_contracts_chk_large", ["voided", "reg_status", "amount", "id", "signed_on", "buyer_region_id",
                                    "seller_region_id"], None),
    ]


def upgrade():
    from market.models.checks import fill_check_columns, install_check_triggers

    bind = op.get_bind()
    op.add_column("contracts", sa.Column("seller_org_type", sa.String(length=16), nullable=True))
    op.add_column("contracts", sa.Column("buyer_org_type", sa.String(length=16), nullable=True))
    op.add_column("contracts", sa.Column("duplicated", sa.Boolean(), server_default=sa.false(), nullable=False))
    fill_check_columns(bind)
    install_check_triggers(bind)
    for name, columns, where in _indexes(bind.dialect.name):
        kw = {} if where is None else {"sqlite_where": sa.text(where), "postgresql_where": sa.text(where)}
        op.create_index(name, "contracts", columns, unique=False, **kw)


def downgrade():
    from market.models.checks import drop_check_triggers

    bind = op.get_bind()
    drop_check_triggers(bind)
    for name, _columns, _where in _indexes(bind.dialect.name):
        op.drop_index(name, table_name="contracts")
    # a plain DROP COLUMN on both (SQLite >= 3.35): a batch copy of the table would drop the summary's triggers
    for column in ("duplicated", "buyer_org_type", "seller_org_type"):
        op.execute(f"ALTER TABLE contracts DROP COLUMN {column}")
