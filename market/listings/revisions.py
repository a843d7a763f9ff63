"""Edits of a published listing (issue 17 item 5): the published version stays public (its page, the search index,
matching) until a reviewer approves the change; 退回 keeps it and tells the owner.

The review rule: FREE_FIELDS change at once, without review. They are the owner's own terms and ways to be reached
(联系人/电话/邮箱 and whether they are public, 截止日期, 预算/价格): facts a reviewer cannot check any better than the
owner, with no free text that could carry what review is there to stop, and which must not wait (a phone number that
changed, a deadline that would pass in the queue). Everything that says what the listing is (title, description,
indicators, keywords, field, modes, and for a result its maturity, IP and team) waits for review."""
from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select

from ..errors import DomainError, NotAllowed
from ..extensions import db
from ..models import LISTING_MODELS, Field, ListingEvent, ListingMixin, ListingRevision, User
from ..models.base import utcnow
from ..models.listing import IP_STATUSES, IP_TYPES, MATURITY_LEVELS

FREE_FIELDS = {
    "demand": ("contact_name", "contact_phone", "contact_email", "contact_public", "deadline", "budget"),
    "achievement": ("contact_name", "contact_phone", "contact_email", "contact_public", "price"),
}
#: the reviewed fields, in the order of the diff, with their labels
REVIEWED_FIELDS = {
    "demand": {"title": "标题", "field_id": "技术领域", "description": "拟解决的技术难题", "indicators": "技术指标",
               "modes": "合作方式", "keywords": "关键词"},
    "achievement": {"title": "标题", "field_id": "技术领域", "summary": "成果简介", "maturity": "技术成熟度",
                    "ip_type": "知识产权类型", "ip_numbers": "专利号 / 登记号", "ip_status": "法律状态",
                    "modes": "交易方式", "team_lead": "团队负责人", "team_members": "团队成员", "keywords": "关键词"},
}


def snapshot(listing: ListingMixin) -> dict:
    """The reviewed fields of a listing (or of a transient one carrying the edit), JSON-ready."""
    out = {}
    for name in REVIEWED_FIELDS[listing.KIND]:
        if name == "modes":
            out[name] = listing.mode_list
        elif name == "keywords":
            out[name] = listing.keyword_list
        else:
            value = getattr(listing, name)
            out[name] = value if value is not None or name in ("maturity", "field_id") else ""
    return out


def _restore(listing: ListingMixin, values: dict) -> None:
    for name, value in values.items():
        if name == "modes":
            listing.set_modes(value)
        elif name == "keywords":
            listing.keywords = ",".join(value)
        else:
            setattr(listing, name, value)


def pending_revision(listing: ListingMixin) -> ListingRevision | None:
    return db.session.scalar(select(ListingRevision).where(
        ListingRevision.kind == listing.KIND, ListingRevision.listing_id == listing.id,
        ListingRevision.status == "pending"))


def revision_listing(revision: ListingRevision) -> ListingMixin | None:
    return db.session.get(LISTING_MODELS[revision.kind], revision.listing_id)


def _event(listing: ListingMixin, user: User | None, reason: str) -> None:
    db.session.add(ListingEvent(kind=listing.KIND, listing_id=listing.id, actor_id=user.id if user else None,
                                from_status=listing.status, to_status=listing.status, reason=reason[:500]))


def published_edit(*, listing: ListingMixin, user: User, edited: ListingMixin) -> ListingRevision | None:
    """`edited` is a transient copy of the listing with the owner's new values (listings.services._apply). The free
    fields go onto the listing now; a change to any reviewed field becomes (or replaces) the listing's pending
    revision. Editing back to the published text withdraws the pending revision. Returns the pending revision."""
    for name in FREE_FIELDS[listing.KIND]:
        setattr(listing, name, getattr(edited, name))
    wanted, current = snapshot(edited), snapshot(listing)
    revision = pending_revision(listing)
    if wanted == current:
        if revision is not None:
            revision.status = "withdrawn"
            revision.decided_at = utcnow()
            revision.decided_by_id = user.id
            _event(listing, user, "撤销待审核的修改（改回已发布的内容）")
        return None
    data = json.dumps(wanted, ensure_ascii=False, sort_keys=True)
    if revision is None:
        revision = ListingRevision(kind=listing.KIND, listing_id=listing.id, data=data, submitted_by_id=user.id)
        db.session.add(revision)
    elif revision.data != data:
        revision.data = data
        revision.submitted_by_id = user.id
        revision.submitted_at = utcnow()
    else:
        return revision
    db.session.flush()
    _event(listing, user, "修改已提交审核，审核通过前公开展示原内容")
    _notify_reviewers(listing, user)
    return revision


def _notify_reviewers(listing: ListingMixin, user: User) -> None:
    from ..notifications.services import notify, path_for

    region_ids = listing.region.ancestor_ids if listing.region is not None else []
    officials = db.session.scalars(select(User.id).where(User.role == "official", User.active.is_(True),
                                                         User.region_id.in_(region_ids)))
    notify(users=list(officials), kind="review_revision", exclude=user,
           text=f"已发布的{listing.LABEL}《{listing.title}》提交了修改，待审核",
           url=path_for("review.queue", kind=listing.KIND, _anchor="revisions"))


def revision_merge_into_draft(*, listing: ListingMixin, user: User | None) -> None:
    """A published listing withdrawn to a draft (no longer public): its waiting change becomes the draft's text."""
    revision = pending_revision(listing)
    if revision is None:
        return
    _restore(listing, revision.values)
    revision.status = "withdrawn"
    revision.decided_at = utcnow()
    revision.decided_by_id = user.id if user else None
    revision.reason = "条目撤回为草稿，修改已并入草稿"


def revision_drop(*, listing: ListingMixin, user: User | None, reason: str) -> None:
    revision = pending_revision(listing)
    if revision is not None:
        revision.status = "withdrawn"
        revision.decided_at = utcnow()
        revision.decided_by_id = user.id if user else None
        revision.reason = reason[:500]


def _check(revision: ListingRevision, user: User) -> ListingMixin:
    from ..permissions import can_review

    listing = revision_listing(revision)
    if listing is None or not can_review(user, listing):
        raise NotAllowed("您无权审核该条目", status_code=404)
    if db.session.get_bind().dialect.name == "postgresql":
        # as listings.services.lock_for_write: two reviewers deciding at once -> one decides, the other gets 409
        # (SQLite: the writing request's BEGIN IMMEDIATE serialises them already)
        db.session.refresh(listing, with_for_update=True)
        db.session.refresh(revision, with_for_update=True)
    if revision.status != "pending":
        raise DomainError(f"该修改已处理（{revision.status_label}）", status_code=409)
    return listing


def revision_approve(*, revision: ListingRevision, user: User) -> ListingMixin:
    """The change goes onto the listing; the index catches up after the commit (market/outbox.py)."""
    listing = _check(revision, user)
    _restore(listing, revision.values)
    revision.status = "approved"
    revision.decided_by_id = user.id
    revision.decided_at = utcnow()
    _event(listing, user, "修改审核通过，已更新公开内容")
    from ..notifications.services import notify, path_for

    notify(users={listing.owner_id, revision.submitted_by_id}, kind="listing_revision_approved", exclude=user,
           text=f"您对{listing.LABEL}《{listing.title}》的修改已审核通过，公开内容已更新",
           url=path_for("listings.detail", kind=listing.KIND, listing_id=listing.id))
    return listing


def revision_return(*, revision: ListingRevision, user: User, reason: str) -> ListingMixin:
    """退回: the published version stays as it is; the owner is told why."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("退回时请填写或选择退回理由", fields={"reason": "请填写退回理由，或选择一条常用理由"})
    listing = _check(revision, user)
    revision.status = "returned"
    revision.decided_by_id = user.id
    revision.decided_at = utcnow()
    revision.reason = reason[:500]
    _event(listing, user, f"修改被退回（公开内容不变）：{reason}")
    from ..notifications.services import notify, path_for

    notify(users={listing.owner_id, revision.submitted_by_id}, kind="listing_revision_returned", exclude=user,
           text=f"您对{listing.LABEL}《{listing.title}》的修改被退回，公开内容保持不变。理由：{reason[:200]}",
           url=path_for("listings.detail", kind=listing.KIND, listing_id=listing.id))
    return listing


@dataclass
class DiffRow:
    name: str
    label: str
    old: str
    new: str


def _display(kind: str, name: str, value) -> str:
    model = LISTING_MODELS[kind]
    if name == "field_id":
        field = db.session.get(Field, value) if value else None
        return field.label if field is not None else "—"
    if name == "modes":
        return "、".join(model.MODES.get(c, c) for c in value) or "—"
    if name == "keywords":
        return "、".join(value) or "—"
    if name == "maturity":
        return MATURITY_LEVELS.get(value, "—")
    if name == "ip_type":
        return IP_TYPES.get(value, "无")
    if name == "ip_status":
        return IP_STATUSES.get(value, "—")
    return str(value) if value not in (None, "") else "—"


def revision_diff(revision: ListingRevision, listing: ListingMixin) -> list[DiffRow]:
    """The fields the revision changes: label, the published value, the proposed value."""
    current, wanted = snapshot(listing), revision.values
    return [DiffRow(name, label, _display(revision.kind, name, current.get(name)),
                    _display(revision.kind, name, wanted.get(name)))
            for name, label in REVIEWED_FIELDS[revision.kind].items() if current.get(name) != wanted.get(name)]


def pending_revisions(kind: str, *, user: User) -> list[tuple[ListingRevision, ListingMixin]]:
    """The changes waiting in the reviewer's scope, longest-waiting first."""
    from ..permissions import scope_filter

    model = LISTING_MODELS[kind]
    stmt = (select(ListingRevision, model).join(model, model.id == ListingRevision.listing_id)
            .where(ListingRevision.kind == kind, ListingRevision.status == "pending")
            .order_by(ListingRevision.submitted_at, ListingRevision.id))
    if user.role != "admin":
        if user.role != "official":
            return []
        stmt = scope_filter(stmt, user, model.region_id)
    return [(r, listing) for r, listing in db.session.execute(stmt.limit(200)).all()]
