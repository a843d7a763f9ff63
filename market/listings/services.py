"""Writes for both libraries: create, edit, and every status transition (with its event row)."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from .. import events
from ..errors import DomainError, NotAllowed
from ..extensions import db
from ..models import LISTING_MODELS, Field, ListingEvent, ListingMixin, User
from ..models.base import utcnow
from ..models.listing import ACHIEVEMENT_MODES, DEMAND_MODES, IP_STATUSES, IP_TYPES, MATURITY_LEVELS, PUBLIC_STATUSES
from ..text import clean_name_into
from . import revisions
from .queries import done_by_contract_reason

# (from, to) -> who may make the move
TRANSITIONS: dict[tuple[str, str], str] = {
    ("draft", "pending"): "owner",  # 提交审核
    ("returned", "pending"): "owner",  # 修改后重新提交
    ("pending", "draft"): "owner",  # 撤回
    ("published", "draft"): "owner",  # 撤回下架
    ("pending", "published"): "reviewer",  # 审核通过
    ("pending", "returned"): "reviewer",  # 退回
    ("published", "done"): "owner",  # 已解决 / 已转化
    ("draft", "closed"): "owner",
    ("returned", "closed"): "owner",
    ("published", "closed"): "owner",
}
EDITABLE = {"draft", "returned", "published"}
KEYWORD_SPLIT = re.compile(r"[、，,；;\s]+")


def split_keywords(text: str | list | None) -> list[str]:
    items = text if isinstance(text, list) else KEYWORD_SPLIT.split(text or "")
    seen: list[str] = []
    for item in items:
        word = str(item).strip()[:30]
        if word and word not in seen:
            seen.append(word)
    return seen[:12]


def _validate_common(data: dict, kind: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    if "title" in data:  # the stored form (NFKC, nothing invisible), whichever path the data came by
        data["title"] = clean_name_into(errors, "title", data["title"], field_label="标题")
    field_id = data.get("field_id")
    field = db.session.get(Field, field_id) if field_id else None
    if field is None or field.parent_id is None:
        errors["field_id"] = "请选择技术领域（二级领域）"
    modes = data.get("modes") or []
    allowed = DEMAND_MODES if kind == "demand" else ACHIEVEMENT_MODES
    if not modes:
        errors["modes"] = "请至少选择一种合作方式" if kind == "demand" else "请至少选择一种交易方式"
    elif any(m not in allowed for m in modes):
        errors["modes"] = "合作方式无效"
    if kind == "demand":
        deadline = data.get("deadline")
        if deadline is not None and deadline <= date.today():
            errors["deadline"] = "截止日期须晚于今天"
    else:
        maturity = data.get("maturity")
        if maturity is not None and maturity not in MATURITY_LEVELS:
            errors["maturity"] = "请选择技术成熟度"
        if data.get("ip_type") and data["ip_type"] not in IP_TYPES:
            errors["ip_type"] = "知识产权类型无效"
        if data.get("ip_status") and data["ip_status"] not in IP_STATUSES:
            errors["ip_status"] = "法律状态无效"
    amount = data.get("amount")
    if amount is not None and (not isinstance(amount, Decimal) or amount < 0):
        errors["amount"] = "金额无效"
    return errors


FIELDS_BY_KIND = {
    "demand": ("title", "description", "indicators", "deadline", "budget"),
    "achievement": ("title", "summary", "maturity", "ip_type", "ip_numbers", "ip_status", "price", "team_lead", "team_members"),
}


def _apply(listing: ListingMixin, data: dict) -> None:
    kind = listing.KIND
    for name in FIELDS_BY_KIND[kind]:
        if name in ("budget", "price"):
            setattr(listing, name, data.get("amount"))
        elif name in data:
            setattr(listing, name, data[name])
    listing.field_id = data["field_id"]
    listing.keywords = ",".join(split_keywords(data.get("keywords")))
    listing.set_modes(data.get("modes") or [])
    for name in ("contact_name", "contact_phone", "contact_email"):
        setattr(listing, name, (data.get(name) or "").strip())
    listing.contact_public = bool(data.get("contact_public"))


def listing_problems(*, kind: str, data: dict) -> dict[str, str]:
    """What listing_create / listing_update would refuse in `data`, per field, without changing anything (the
    form shows these with its own errors at once)."""
    return _validate_common(dict(data), kind)


def listing_create(*, kind: str, user: User, data: dict) -> ListingMixin:
    _check_owner_role(kind, user)
    errors = _validate_common(data, kind)
    if errors:
        raise DomainError("填写内容有误，请按提示修改", fields=errors)
    model = LISTING_MODELS[kind]
    listing = model(org_id=user.org_id, owner_id=user.id, region_id=user.org.region_id, status="draft")
    _apply(listing, data)
    db.session.add(listing)
    db.session.flush()
    _event(listing, user, None, "draft", "创建")
    return listing


def listing_update(*, listing: ListingMixin, user: User, data: dict) -> ListingMixin:
    lock_for_write(listing)
    if listing.status not in EDITABLE:
        raise NotAllowed(f"当前状态（{listing.status_label}）不能修改")
    if listing.status == "published" and not user.can_publish:
        # the edit would send it back to the reviewers' queue: that is a submission, which needs a verified unit
        raise NotAllowed("单位尚未通过认证（或认证未通过），不能修改已发布的条目；认证通过后修改需重新审核")
    errors = _validate_common(data, listing.KIND)
    if errors:
        raise DomainError("填写内容有误，请按提示修改", fields=errors)
    if listing.status == "published":
        # the published version stays public: the free fields apply now, the rest waits for review (revisions.py)
        edited = LISTING_MODELS[listing.KIND]()  # transient, never added to the session
        _apply(edited, data)
        revisions.published_edit(listing=listing, user=user, edited=edited)
        return listing
    _apply(listing, data)
    return listing


def listing_transition(*, listing: ListingMixin, user: User, to: str, reason: str = "") -> ListingMixin:
    lock_for_write(listing)
    who = TRANSITIONS.get((listing.status, to))
    if who is None:
        raise NotAllowed(f"当前状态（{listing.status_label}）不能执行该操作", status_code=409)
    if who == "reviewer":
        from ..permissions import can_review

        if not can_review(user, listing):
            raise NotAllowed("您无权审核该条目")
        if to == "returned" and not reason.strip():
            raise DomainError("退回时请填写退回理由", fields={"reason": "请填写退回理由"})
    elif listing.org_id != user.org_id:
        raise NotAllowed("只有发布单位可以执行该操作")
    if to == "pending" and not user.can_publish:
        raise NotAllowed("单位尚未通过认证，认证通过后才能提交发布")
    _move(listing, user, to, reason)
    return listing


def lock_for_write(listing: ListingMixin) -> None:
    """Before a read-then-write on PostgreSQL: lock the row (SELECT ... FOR UPDATE) and reload it, so a
    concurrent transition of the same listing waits for this transaction and then sees its outcome (two
    officials deciding at once: one publishes, the other gets 409, one event row). SQLite needs nothing:
    a writing request begins with BEGIN IMMEDIATE (market/database.py), which serialises writers already.
    Call it before changing the object: the reload drops unflushed changes."""
    if listing.id is not None and db.session.get_bind().dialect.name == "postgresql":
        db.session.refresh(listing, with_for_update=True)


def _move(listing: ListingMixin, user: User | None, to: str, reason: str, check: bool = True) -> None:
    before = listing.status
    if before == "published" and to == "draft":
        revisions.revision_merge_into_draft(listing=listing, user=user)
    elif before in PUBLIC_STATUSES and to == "closed":
        revisions.revision_drop(listing=listing, user=user, reason="条目已关闭")
    listing.status = to
    if to == "published":
        listing.published_at = utcnow()
        listing.return_reason = ""
    if to == "returned":
        listing.return_reason = reason.strip()[:500]
    _event(listing, user, before, to, reason)


# a move of status -> the domain event it is (market/events.py), sent once the transaction commits
_MOVE_EVENTS = {
    "pending": events.listing_submitted,
    "published": events.listing_published,
    "returned": events.listing_returned,
    "draft": events.listing_withdrawn,
    "closed": events.listing_withdrawn,
    "done": events.listing_done,
}


def _event(listing: ListingMixin, user: User | None, before: str | None, to: str, reason: str) -> None:
    """The listing's history row for a move (or a note when before == to), and the move's domain event."""
    db.session.add(
        ListingEvent(
            kind=listing.KIND,
            listing_id=listing.id,
            actor_id=user.id if user else None,
            from_status=before,
            to_status=to,
            reason=(reason or "").strip()[:500],
        )
    )
    if before != to and before is not None and to in _MOVE_EVENTS:
        extra = {"reason": listing.return_reason} if to == "returned" else {}
        events.record(_MOVE_EVENTS[to], listing=listing, user=user, **extra)


def listing_log(*, listing: ListingMixin, user: User | None, reason: str) -> None:
    """A history row for something that touched the listing without moving it (a contract link asked,
    accepted or declined): from and to are its current status."""
    _event(listing, user, listing.status, listing.status, reason)


def listing_mark_done_by_contract(*, listing: ListingMixin, user: User | None, reason: str) -> None:
    """A signed contract marks the need 已解决 / the result 已转化. The reason starts with DONE_BY_CONTRACT
    (market/models/listing.py):
    that is how voiding the contract, and the owner's reopening, know who marked it done."""
    lock_for_write(listing)
    if listing.status != "done":
        _move(listing, user, "done", reason)


def listing_reopen_by_owner(*, listing: ListingMixin, user: User, reason: str = "") -> ListingMixin:
    """The rule: the owner may reopen (已解决 / 已转化 -> 已发布) a listing that a contract marked done. It stays
    linked to that contract's record (the register is not changed); a listing the owner marked done itself
    stays done (the owner's own decision, TRANSITIONS has no way back)."""
    lock_for_write(listing)
    if listing.org_id is None or listing.org_id != user.org_id:
        raise NotAllowed("只有发布单位可以重新开放")
    done_reason = done_by_contract_reason(listing) if listing.status == "done" else None
    if done_reason is None:
        raise NotAllowed(f"只有因登记技术合同而标记为“{listing.DONE_LABEL}”的条目可以重新开放", status_code=409)
    before = listing.status
    listing.status = "published"  # published_at is kept: it was public all along
    text = f"发布单位重新开放（此前：{done_reason}；合同记录保留）"
    _event(listing, user, before, "published", f"{text}：{reason.strip()}" if reason.strip() else text)
    return listing


def listing_reopen_by_void(*, listing: ListingMixin, user: User | None, reason: str) -> bool:
    """A voided contract gives back the need / result it had marked done: 已解决 / 已转化 -> 已发布.
    The caller decides that the contract was the cause; returns whether the listing moved."""
    lock_for_write(listing)
    if listing.status != "done":
        return False
    before = listing.status
    listing.status = "published"  # published_at is kept: it was public all along
    _event(listing, user, before, "published", reason)
    return True


def _check_owner_role(kind: str, user: User) -> None:
    role = "enterprise" if kind == "demand" else "institution"
    if user.role != role or user.org_id is None:
        raise NotAllowed("只有企业用户可以发布技术需求" if kind == "demand" else "只有高校院所用户可以发布科技成果")

