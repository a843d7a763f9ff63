"""Writes of the dashboard: annual targets (目标任务), set by officials of the parent region."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from .. import events
from ..errors import DomainError, NotAllowed
from ..extensions import db
from ..models import Region, Target, User
from ..models.base import utcnow
from ..models.contract import TARGET_METRICS
from ..money import MAX_YUAN
from ..permissions import user_region

MONEY_METRICS = ("amount", "tech_amount")
MAX_COUNT = 10**9
YEARS = range(2000, 2101)


def can_set_target(user: User, region: Region | None) -> bool:
    """Admins: any region. Officials: regions strictly below their own (a county official sets its towns')."""
    if region is None or not getattr(user, "is_authenticated", False):
        return False
    if user.role == "admin":
        return True
    if user.role != "official" or not user.region_id:
        return False
    scope = user_region(user)
    return scope is not None and region.id != scope.id and scope.contains(region)


def _check_value(metric: str, value) -> str | None:
    if value is None:
        return None
    if metric in MONEY_METRICS:
        if not isinstance(value, Decimal) or not value.is_finite() or value < 0 or value > MAX_YUAN:
            return "目标金额无效"
        if value != value.quantize(Decimal("0.01")):
            return "目标金额最多精确到分"
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > MAX_COUNT:
        return "目标数量须为0到10亿之间的整数"
    return None


def targets_save(*, user: User, region: Region, year: int, values: dict[str, Decimal | int | None]) -> list[Target]:
    """Set the region's targets for the year; a metric given as None has its target removed.

    Metrics missing from `values` are left as they are. Adds and flushes; the caller commits.
    """
    if not can_set_target(user, region):
        raise NotAllowed("只有上级区域的科技局工作人员可以为该区域设定目标任务")
    if year not in YEARS:
        raise DomainError("年份无效", fields={"year": "年份须在2000年到2100年之间"})
    errors = {}
    for metric, value in values.items():
        if metric not in TARGET_METRICS:
            raise DomainError("指标无效")
        problem = _check_value(metric, value)
        if problem:
            errors[metric] = problem
    if errors:
        raise DomainError("目标任务有误，请按提示修改", fields=errors)
    existing = {
        t.metric: t
        for t in db.session.scalars(select(Target).where(Target.region_id == region.id, Target.year == year))
    }
    saved = []
    for metric, value in values.items():
        target = existing.get(metric)
        if value is None:
            if target is not None:
                db.session.delete(target)
            continue
        if target is None:
            target = Target(region_id=region.id, year=year, metric=metric)
            db.session.add(target)
        target.value_amount = value if metric in MONEY_METRICS else None
        target.value_count = value if metric not in MONEY_METRICS else None
        target.set_by_id = user.id
        target.updated_at = utcnow()
        saved.append(target)
    db.session.flush()
    for target in saved:
        events.record(events.target_set, target=target, user=user)
    return saved
