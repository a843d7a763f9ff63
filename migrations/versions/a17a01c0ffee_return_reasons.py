"""stock reasons for 退回 in the review queue, kept by administrators (issue 17 item 7)

Revision ID: a17a01c0ffee
Revises: a16a01c0ffee
Create Date: 2026-12-06 15:00:00

"""
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a17a01c0ffee'
down_revision = 'a16a01c0ffee'
branch_labels = None
depends_on = None

# a frozen copy of market.models.review_reason.DEFAULT_RETURN_REASONS as of this revision
REASONS = (
    "信息不完整，请补充技术难题描述和技术指标",
    "联系方式缺失或无效，请填写可联系的电话",
    "非技术类需求（如采购、招聘、融资），不属于技术交易范围",
    "重复发布，与本单位已发布的条目内容相同",
    "涉及敏感内容或违反相关规定",
    "技术领域或所在区域选择有误，请核对后重新提交",
    "知识产权信息不清晰，请补充专利号或权属说明",
)


def upgrade():
    table = op.create_table(
        'return_reasons',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('text', sa.String(length=200), nullable=False),
        sa.Column('sort', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_return_reasons')),
        sa.UniqueConstraint('text', name=op.f('uq_return_reasons_text')),
    )
    now = datetime.now(timezone.utc)
    if op.get_bind().dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # UTCDateTime stores naive UTC on SQLite
    op.bulk_insert(table, [{"text": text, "sort": i, "created_at": now} for i, text in enumerate(REASONS, start=1)])


def downgrade():
    op.drop_table('return_reasons')
