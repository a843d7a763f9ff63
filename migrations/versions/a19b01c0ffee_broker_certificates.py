"""One approved broker per 技术经纪人证书编号: existing certificates are brought to their stored form
(market.broker_cert: NFKC, trimmed, upper-case) where they follow the rule, and a partial unique index over approved
brokers holds it from now on. Two approved brokers that already share a certificate stop the upgrade with their
account names: which of them holds it is an official's decision, not the migration's.

Revision ID: a19b01c0ffee
Revises: a19a01c0ffee
Create Date: 2026-12-07 06:30:00
"""
import re
import unicodedata

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a19b01c0ffee'
down_revision = 'a19a01c0ffee'
branch_labels = None
depends_on = None

WHERE = "role = 'broker' AND broker_status = 'approved' AND broker_cert_no <> ''"
# market.broker_cert's rule as of this revision (a migration keeps its own copy: the app's may change later)
CERT_PATTERN = re.compile(r"^[A-Z0-9]+(?:-[A-Z0-9]+)*$")


def _stored_form(raw: str) -> str:
    value = unicodedata.normalize("NFKC", raw or "").strip().upper()
    if 6 <= len(value) <= 32 and CERT_PATTERN.match(value) and sum(c.isdigit() for c in value) >= 4:
        return value
    return raw  # kept as typed; the registry page asks for a valid one when it is next saved


def upgrade():
    bind = op.get_bind()
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("username", sa.String),
                     sa.column("role", sa.String), sa.column("broker_status", sa.String),
                     sa.column("broker_cert_no", sa.String))
    rows = bind.execute(sa.select(users.c.id, users.c.username, users.c.broker_status, users.c.broker_cert_no)
                        .where(users.c.role == "broker", users.c.broker_cert_no != "")).all()
    holders: dict[str, list[str]] = {}
    for user_id, username, status, raw in rows:
        cert = _stored_form(raw)
        if cert != raw:
            bind.execute(users.update().where(users.c.id == user_id).values(broker_cert_no=cert))
        if status == "approved":  # a pending or refused account's number is a claim, checked on approval
            holders.setdefault(cert, []).append(username)
    shared = {cert: names for cert, names in holders.items() if len(names) > 1}
    if shared:
        listed = "; ".join(f"{cert}: {', '.join(names)}" for cert, names in sorted(shared.items()))
        raise RuntimeError("brokers share a certificate number; give each its own (UPDATE users SET broker_cert_no = "
                           f"'...' WHERE username = '...') before upgrading: {listed}")
    op.create_index("uq_users_broker_cert_no", "users", ["broker_cert_no"], unique=True,
                    sqlite_where=sa.text(WHERE), postgresql_where=sa.text(WHERE))


def downgrade():
    op.drop_index("uq_users_broker_cert_no", table_name="users")
