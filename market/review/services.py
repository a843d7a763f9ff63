"""Officials' and admins' decisions: listing review and broker accounts (organisations: market/orgs.py)."""
from __future__ import annotations

from .. import events
from ..deals.services import deals_release_broker
from ..errors import DomainError, NotAllowed
from ..listings.services import listing_transition
from ..models import ListingMixin, User
from ..models.base import utcnow
from ..notifications.services import notify, path_for
from ..permissions import in_scope


def listing_review(*, listing: ListingMixin, user: User, decision: str, reason: str = "") -> ListingMixin:
    if decision == "publish":
        return listing_transition(listing=listing, user=user, to="published", reason=reason)
    if decision == "return":
        return listing_transition(listing=listing, user=user, to="returned", reason=reason)
    raise DomainError("请选择审核结果")


def broker_review(*, broker: User, user: User, decision: str, note: str = "") -> User:
    """An official of the broker's region (or an admin) approves or refuses a broker account after checking its
    经纪人证书编号. Approval needs the broker's 服务机构 verified first, so that both checks were made by a person."""
    if broker.role != "broker":
        raise DomainError("该账号不是技术经纪人")
    if not (user.role == "admin" or (user.role == "official" and in_scope(user, broker.region))):
        raise NotAllowed("您无权审核该技术经纪人")
    note = note.strip()[:500]
    if decision == "approve":
        if broker.org is None or not broker.org.is_verified:
            name = broker.org.name if broker.org else ""
            raise DomainError(f"请先认证其所在服务机构“{name}”，再审核经纪人资格")
        broker.broker_status = "approved"
        text = "您的技术经纪人资格已审核通过，可以认领推荐、推进对接和登记合同。"
    elif decision == "reject":
        if not note:
            raise DomainError("不通过时请填写理由", fields={"note": "请填写理由"})
        broker.broker_status = "rejected"
        text = f"您的技术经纪人资格审核未通过：{note}"
        released = deals_release_broker(broker=broker, user=user, reason=note)
        if released:
            text += f"（您负责的 {released} 个对接已退回待认领）"
    else:
        raise DomainError("请选择审核结果")
    broker.broker_review_note = note
    broker.broker_reviewed_by_id = user.id
    broker.broker_reviewed_at = utcnow()
    notify(users=[broker], kind="broker_review", text=text, url=path_for("auth.account_status"))
    events.record(events.broker_reviewed, broker=broker, user=user, decision=decision)
    return broker
