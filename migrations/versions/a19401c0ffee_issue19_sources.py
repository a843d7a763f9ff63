"""issue 19 section 4 (where every deal came from): a deal's source from a stated set, the event it came from and
the broker's agency at the time; an interest's origin (the page its author came from).

Existing rows, from what is recorded and nothing else:
- source 'suggestion' (a broker claimed an engine suggestion) stays 'suggestion';
- source 'interest' becomes 'event' when its interest was recorded at an event (interests.happening_id, which is
  copied to deals.happening_id), else 'direct': which page the author came from was not recorded before, and
  guessing 'search' would invent it;
- agency_id: the broker's organisation today when it is a 服务机构 (the only record there is of the employer;
  from now on it is fixed when the broker takes the deal).
Interests sent before keep origin NULL (unknown).

Revision ID: a19401c0ffee
Revises: a19301c0ffee
Create Date: 2026-12-07 03:10:00
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a19401c0ffee'
down_revision = 'a19301c0ffee'
branch_labels = None
depends_on = None

SOURCES = "'suggestion', 'search', 'campaign', 'event', 'broker_visit', 'direct'"


def upgrade():
    with op.batch_alter_table('interests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin', sa.String(length=16), nullable=True))
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('happening_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('agency_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_deals_happening_id'), ['happening_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_deals_agency_id'), ['agency_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_deals_happening_id_happenings'), 'happenings',
                                    ['happening_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_deals_agency_id_organizations'), 'organizations',
                                    ['agency_id'], ['id'])
    op.execute(
        "UPDATE deals SET happening_id = (SELECT i.happening_id FROM interests i WHERE i.id = deals.interest_id) "
        "WHERE interest_id IS NOT NULL"
    )
    op.execute(
        "UPDATE deals SET source = CASE WHEN source = 'suggestion' THEN 'suggestion' "
        "WHEN happening_id IS NOT NULL THEN 'event' ELSE 'direct' END"
    )
    op.execute(
        "UPDATE deals SET agency_id = (SELECT o.id FROM users u JOIN organizations o ON o.id = u.org_id "
        "WHERE u.id = deals.broker_id AND o.org_type = 'agency') WHERE broker_id IS NOT NULL"
    )
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_deals_source'), f"source IN ({SOURCES})")


def downgrade():
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_deals_source'), type_='check')
    # the two sources there were: a claimed suggestion, or an accepted interest (every other deal)
    op.execute("UPDATE deals SET source = CASE WHEN source = 'suggestion' THEN 'suggestion' ELSE 'interest' END")
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_deals_agency_id_organizations'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_deals_happening_id_happenings'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_deals_agency_id'))
        batch_op.drop_index(batch_op.f('ix_deals_happening_id'))
        batch_op.drop_column('agency_id')
        batch_op.drop_column('happening_id')
    with op.batch_alter_table('interests', schema=None) as batch_op:
        batch_op.drop_column('origin')
