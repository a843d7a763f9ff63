"""Stock reasons for 退回 that officials pick from in the review queue; administrators keep the list."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow

#: the reasons a new install starts with (the migration inserts the same list; `flask init-reference` too)
DEFAULT_RETURN_REASONS = (
    "信息不完整，请补充技术难题描述和技术指标",
    "联系方式缺失或无效，请填写可联系的电话",
    "非技术类需求（如采购、招聘、融资），不属于技术交易范围",
    "重复发布，与本单位已发布的条目内容相同",
    "涉及敏感内容或违反相关规定",
    "技术领域或所在区域选择有误，请核对后重新提交",
    "知识产权信息不清晰，请补充专利号或权属说明",
)


class ReturnReason(db.Model):
    __tablename__ = "return_reasons"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(200), unique=True)
    sort: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
