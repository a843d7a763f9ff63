"""Reads of the review queue: what waits, since when, and how many, within the reviewer's scope."""
from __future__ import annotations

from datetime import date, datetime, timezone

from flask import current_app, g, has_request_context, request
from sqlalchemy import Select, func, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import LISTING_MODELS, ListingEvent, ListingRevision, Organization, ReturnReason, User
from ..permissions import scope_filter
from ..templating import CHINA_TZ


def china_today() -> date:
    """Today in Asia/Shanghai (the TODAY setting when the tests freeze it): days waiting count China dates."""
    fixed = current_app.config.get("TODAY")
    if fixed is not None:
        return fixed if isinstance(fixed, date) else date.fromisoformat(fixed)
    return datetime.now(CHINA_TZ).date()


def days_waiting(since: datetime | None, today: date | None = None) -> int | None:
    """Whole days between the China date of `since` and today's China date (0 on the day itself)."""
    if since is None:
        return None
    if since.tzinfo is None:
        since = since.replace(tzinfo=timezone.utc)
    return max(0, ((today or china_today()) - since.astimezone(CHINA_TZ).date()).days)


def submitted_at(model):
    """When the listing was last submitted for review: its latest move to pending (a correlated subquery)."""
    return (
        select(func.max(ListingEvent.at))
        .where(ListingEvent.kind == model.KIND, ListingEvent.listing_id == model.id,
               ListingEvent.to_status == "pending")
        .correlate(model)
        .scalar_subquery()
    )


def pending_listings(kind: str, *, user) -> Select:
    """Pending listings of the scope, the longest waiting first, with their organisation loaded."""
    model = LISTING_MODELS[kind]
    since = func.coalesce(submitted_at(model), model.updated_at)
    stmt = (select(model).where(model.status == "pending").order_by(since, model.id)
            .options(joinedload(model.org), joinedload(model.region), joinedload(model.field)))
    return scope_filter(stmt, user, model.region_id)


def submitted_times(kind: str, ids: list[int]) -> dict[int, datetime]:
    """{listing id: latest submission} for one page of the queue, in one grouped query."""
    if not ids:
        return {}
    rows = db.session.execute(
        select(ListingEvent.listing_id, func.max(ListingEvent.at))
        .where(ListingEvent.kind == kind, ListingEvent.listing_id.in_(ids), ListingEvent.to_status == "pending")
        .group_by(ListingEvent.listing_id)
    ).all()
    return {listing_id: at for listing_id, at in rows}


def orgs_to_verify(*, user, status: str = "pending") -> Select:
    stmt = select(Organization).where(Organization.status == status).order_by(Organization.created_at)
    return scope_filter(stmt, user, Organization.region_id)


def brokers_to_review(*, user, status: str = "pending") -> Select:
    stmt = select(User).where(User.role == "broker", User.broker_status == status).order_by(User.created_at)
    return scope_filter(stmt, user, User.region_id)


def _count(stmt: Select):
    return select(func.count()).select_from(stmt.order_by(None).subquery()).scalar_subquery()


def queue_counts(*, user) -> dict:
    """Everything waiting for the reviewer, in one statement: pending needs and results, organisations to verify,
    brokers to review, and the oldest pending submission (for "最长等待 N 天"). The 审核 tabs, the menu badge
    and the workbench all read it, so they always agree; a GET request reads it once (the 审核 page and its menu
    badge: one statement, not two)."""
    reading = has_request_context() and request.method == "GET"
    memo = g.get("_review_queue_counts") if reading else None
    if memo is not None and memo[0] == user.id:
        return dict(memo[1])
    oldest = []
    for kind, model in LISTING_MODELS.items():
        since = func.coalesce(submitted_at(model), model.updated_at)
        oldest.append(scope_filter(select(func.min(since)).where(model.status == "pending"), user,
                                   model.region_id).scalar_subquery())
    revisions = []  # changes of published listings waiting (listing_revisions): count and oldest, per kind
    for kind, model in LISTING_MODELS.items():
        waiting = scope_filter(select(ListingRevision.submitted_at).join(model, model.id == ListingRevision.listing_id)
                               .where(ListingRevision.kind == kind, ListingRevision.status == "pending"),
                               user, model.region_id)
        revisions += [_count(waiting), select(func.min(waiting.subquery().c.submitted_at)).scalar_subquery()]
    row = db.session.execute(select(
        _count(pending_listings("demand", user=user)),
        _count(pending_listings("achievement", user=user)),
        _count(orgs_to_verify(user=user)),
        _count(brokers_to_review(user=user)),
        *oldest,
        *revisions,
    )).one()
    times = [t for t in row[4:6] if t is not None]
    changed = [t for t in (row[7], row[9]) if t is not None]
    counts = {"demand": row[0], "achievement": row[1], "orgs": row[2], "brokers": row[3],
              "listings": row[0] + row[1], "revisions": row[6] + row[8],
              "total": sum(row[:4]) + row[6] + row[8],
              "oldest_days": days_waiting(min(times, key=_aware)) if times else None,
              "revisions_oldest_days": days_waiting(min(changed, key=_aware)) if changed else None}
    if reading:
        g._review_queue_counts = (user.id, dict(counts))
    return counts


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def return_reasons() -> list[ReturnReason]:
    return list(db.session.scalars(select(ReturnReason).order_by(ReturnReason.sort, ReturnReason.id)))
