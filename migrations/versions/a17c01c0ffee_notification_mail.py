"""notifications by e-mail and subscriptions (issue 17 items 1-2)

Revision ID: a17c01c0ffee
Revises: a17a01c0ffee
Create Date: 2026-12-06 15:00:00

A notice gains a key (one notice per recipient and key: a new strong suggestion, a subscription hit), its e-mail
mode chosen when it was made ("now", "digest", "") and when it was mailed. Users' e-mail choices per topic, the
daily digests (one per user and day) and the subscriptions (saved searches, or a field and region) are new tables.
Existing notices are site-only ("").
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a17c01c0ffee'
down_revision = 'a17a01c0ffee'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('mail', sa.String(length=8), server_default='', nullable=False))
        batch_op.add_column(sa.Column('mailed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint('uq_notifications_user_key', ['user_id', 'key'])
        batch_op.create_index('ix_notifications_mail', ['mail', 'mailed_at'], unique=False)

    op.create_table(
        'notification_prefs',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('topic', sa.String(length=16), nullable=False),
        sa.Column('mode', sa.String(length=8), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("mode IN ('now', 'digest', 'off')", name=op.f('ck_notification_prefs_mode')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notification_prefs_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'topic', name=op.f('pk_notification_prefs')),
    )
    op.create_table(
        'mail_digests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('notices', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mail_digests_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_digests')),
        sa.UniqueConstraint('user_id', 'day', name='uq_mail_digests_user_day'),
    )
    with op.batch_alter_table('mail_digests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_digests_user_id'), ['user_id'], unique=False)
    op.create_table(
        'subscriptions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('q', sa.String(length=100), nullable=False),
        sa.Column('field_code', sa.String(length=16), nullable=False),
        sa.Column('region_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('all', 'demand', 'achievement')", name=op.f('ck_subscriptions_kind')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_subscriptions_user_id_users'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_subscriptions_region_id_regions'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriptions')),
    )
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscriptions_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscriptions_user_id'))
    op.drop_table('subscriptions')
    with op.batch_alter_table('mail_digests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_digests_user_id'))
    op.drop_table('mail_digests')
    op.drop_table('notification_prefs')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_mail')
        batch_op.drop_constraint('uq_notifications_user_key', type_='unique')
        batch_op.drop_column('mailed_at')
        batch_op.drop_column('mail')
        batch_op.drop_column('key')
