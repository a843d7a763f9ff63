"""Officials' and admins' decisions: listing review (one or a batch), broker accounts (organisations:
market/orgs.py), and the stock 退回 reasons administrators keep."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from .. import events
from ..broker_cert import cert_taken, flush_cert_holder
from ..deals.services import deals_release_broker
from ..errors import Conflict, DomainError, NotAllowed
from ..extensions import db
from ..forms import clean_text
from ..listings.services import listing_transition
from ..models import LISTING_MODELS, ListingMixin, ReturnReason, User
from ..models.base import utcnow
from ..notifications.services import notify, path_for
from ..permissions import can_review, in_scope

BATCH_LIMIT = 100  # ids in one 批量通过 (a page of the queue is far fewer)


def listing_review(*, listing: ListingMixin, user: User, decision: str, reason: str = "") -> ListingMixin:
    if decision == "publish":
        return listing_transition(listing=listing, user=user, to="published", reason=reason)
    if decision == "return":
        return listing_transition(listing=listing, user=user, to="returned", reason=reason)
    raise DomainError("请选择审核结果")


@dataclass
class BatchOutcome:
    published: list[ListingMixin] = field(default_factory=list)
    decided: list[ListingMixin] = field(default_factory=list)  # no longer pending: another reviewer decided it
    refused: list[int] = field(default_factory=list)  # ids not found or outside the reviewer's scope


def listings_publish_batch(*, kind: str, ids: list[int], user: User) -> BatchOutcome:
    """批量通过: each listing checked as a single approval is (can_review, then the transition's own checks); one
    outside the scope is refused and left as it was, one another reviewer decided meanwhile is skipped."""
    if kind not in LISTING_MODELS:
        raise DomainError("请选择审核类别")
    ids = sorted(set(ids))
    if not ids:
        raise DomainError("请至少勾选一条待审核的条目", fields={"ids": "请至少勾选一条"})
    if len(ids) > BATCH_LIMIT:
        raise DomainError(f"一次最多批量审核 {BATCH_LIMIT} 条", fields={"ids": f"一次最多 {BATCH_LIMIT} 条"})
    model = LISTING_MODELS[kind]
    found = {listing.id: listing for listing in db.session.scalars(select(model).where(model.id.in_(ids)))}
    outcome = BatchOutcome()
    for listing_id in ids:
        listing = found.get(listing_id)
        if listing is None or not can_review(user, listing):
            outcome.refused.append(listing_id)
            continue
        if listing.status != "pending":
            outcome.decided.append(listing)
            continue
        try:
            listing_transition(listing=listing, user=user, to="published")
        except NotAllowed as err:
            if err.status_code == 409:  # decided between our read and the row lock
                outcome.decided.append(listing)
                continue
            raise
        outcome.published.append(listing)
    return outcome


def _reason_text(text: str) -> str:
    text = clean_text(text or "")
    if not text:
        raise DomainError("请填写理由", fields={"text": "请填写理由"})
    if len(text) > 200:
        raise DomainError("理由不能超过200字", fields={"text": "不能超过200字"})
    return text


def _unique_reason(text: str, *, exclude_id: int | None = None) -> None:
    stmt = select(func.count()).select_from(ReturnReason).where(ReturnReason.text == text)
    if exclude_id is not None:
        stmt = stmt.where(ReturnReason.id != exclude_id)
    if db.session.scalar(stmt):
        raise DomainError("已有相同的退回理由", fields={"text": "已有相同的退回理由"})


def return_reason_create(*, text: str, user: User) -> ReturnReason:
    if user.role != "admin":
        raise NotAllowed("只有系统管理员可以维护常用退回理由")
    text = _reason_text(text)
    _unique_reason(text)
    last = db.session.scalar(select(func.max(ReturnReason.sort))) or 0
    reason = ReturnReason(text=text, sort=last + 1)
    db.session.add(reason)
    db.session.flush()
    return reason


def return_reason_update(*, reason: ReturnReason, text: str, user: User) -> ReturnReason:
    if user.role != "admin":
        raise NotAllowed("只有系统管理员可以维护常用退回理由")
    text = _reason_text(text)
    _unique_reason(text, exclude_id=reason.id)
    reason.text = text
    db.session.flush()
    return reason


def return_reason_delete(*, reason: ReturnReason, user: User) -> None:
    """Listings already returned keep their reason as text: nothing refers to the row."""
    if user.role != "admin":
        raise NotAllowed("只有系统管理员可以维护常用退回理由")
    db.session.delete(reason)
    db.session.flush()


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
        if cert_taken(broker.broker_cert_no, exclude_id=broker.id):
            raise Conflict(f"证书编号 {broker.broker_cert_no} 已登记在其他已审核的技术经纪人名下，请核实证书后再审核"
                           "（可先在经纪人登记信息中更正证书编号）")
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
    flush_cert_holder()  # two approvals of one number at the same moment: the unique index keeps one
    notify(users=[broker], kind="broker_review", text=text, url=path_for("auth.account_status"))
    events.record(events.broker_reviewed, broker=broker, user=user, decision=decision)
    return broker
