"""工作台: what waits for the signed-in user, counted per role, and the same counts as badges in the menu.

Each family of counts is one statement built from the features' own queries (the review queue's, the deals',
the suggestions', the dashboard's), so a badge, a workbench card and the page it links to always agree. The menu
asks for its badges at most once per request (cached on `g`), and only for the signed-in user.
"""
from __future__ import annotations

from datetime import datetime

from flask import g, session, url_for
from sqlalchemy import func, select

from ..extensions import db
from ..models import Interest, Suggestion, UserSession
from ..permissions import is_verified_actor

OWNER_KIND = {"enterprise": "demand", "institution": "achievement"}


def last_visit(user) -> datetime | None:
    """The start of the user's previous sign-in (None on the first): "new" means created after it."""
    stmt = select(func.max(UserSession.created_at)).where(UserSession.user_id == user.id)
    sid = session.get("sid")
    if sid:
        stmt = stmt.where(UserSession.id != sid)
    return db.session.scalar(stmt)


def _count(stmt):
    return select(func.count()).select_from(stmt.order_by(None).subquery()).scalar_subquery()


def _previous_session(user):
    stmt = select(func.max(UserSession.created_at)).where(UserSession.user_id == user.id)
    sid = session.get("sid")
    return (stmt.where(UserSession.id != sid) if sid else stmt).scalar_subquery()


def _newer_than(column, since):
    """column > since, every row counting as new when there is no previous sign-in."""
    return (since.is_(None)) | (column > since)


def owner_counts(user) -> dict[str, int]:
    """A company's or an institution's actions, in one statement: its listings returned for changes, new
    suggestions for its listings since the previous sign-in (and all of them), interests waiting for its answer."""
    from ..listings.queries import own_listings
    from ..matching.queries import for_user

    kind = OWNER_KIND[user.role]
    since = _previous_session(user)
    suggestions = for_user(user)
    row = db.session.execute(select(
        _count(own_listings(kind, org_id=user.org_id, status="returned")),
        _count(suggestions.where(_newer_than(Suggestion.created_at, since))),
        _count(suggestions),
        _count(select(Interest.id).where(Interest.to_org_id == user.org_id, Interest.status == "pending")),
    )).one()
    return {"returned": row[0], "new_suggestions": row[1], "suggestions": row[2], "interests_waiting": row[3]}


def broker_counts(user, *, today) -> dict[str, int]:
    """A broker's actions, in one statement: open deals whose next action date is past, suggestions in the
    region that nobody works yet (new since the previous sign-in, and all), open deals without a broker."""
    from ..deals.queries import overdue_deals, suggestion_queue, unassigned_deals

    since = _previous_session(user)
    queue = suggestion_queue(user)
    row = db.session.execute(select(
        _count(overdue_deals(user, today=today)),
        _count(queue.where(_newer_than(Suggestion.created_at, since))),
        _count(queue),
        _count(unassigned_deals(user)),
    )).one()
    return {"overdue": row[0], "new_suggestions": row[1], "suggestions": row[2], "unassigned": row[3]}


REGISTRAR_LIST = 5  # the oldest waiting submissions shown as next actions
REGISTRAR_SCAN = 500  # waiting submissions whose working days are counted for 已超期 / 即将到期


def registrar_counts(user) -> dict:
    """A 登记员's point: submissions waiting (oldest first, with working days waited against the 15-day deadline),
    returned ones awaiting the submitter's resubmission. Built on registration.queries (its queue and rule)."""
    from ..models import Contract
    from ..registration import queries as reg

    waiting = reg.queue(user)
    returned = select(Contract.id).where(Contract.reg_status == "returned",
                                         Contract.reg_point_id == user.reg_point_id)
    n_waiting, n_returned = db.session.execute(select(_count(waiting), _count(returned))).one()
    stamps = list(db.session.execute(waiting.with_only_columns(Contract.id, Contract.submitted_at)
                                     .limit(REGISTRAR_SCAN)).all())
    today = reg.china_today()
    waited = {cid: reg.working_days(at, today) or 0 for cid, at in stamps}
    deadline = reg.DEADLINE_WORKING_DAYS
    oldest = list(db.session.scalars(waiting.limit(REGISTRAR_LIST)))
    return {
        "waiting": n_waiting, "returned": n_returned, "deadline": deadline,
        "oldest_days": max(waited.values()) if waited else None,
        "overdue": sum(1 for d in waited.values() if d > deadline),
        "due_soon": sum(1 for d in waited.values() if deadline - 3 <= d <= deadline),
        "next": [(c, waited.get(c.id, 0), deadline - waited.get(c.id, 0)) for c in oldest],
    }


def registrar_badge(user) -> int:
    """The menu's count for a 登记员: submissions waiting at the point (one statement)."""
    from ..registration import queries as reg

    return db.session.scalar(select(_count(reg.queue(user)))) or 0


def failed_jobs() -> int:
    from ..jobs import jobs_summary

    return jobs_summary()["failed"]


def nav_badges(user) -> dict[str, tuple[int, str]]:
    """{menu link's href: (count, what it counts)} for the signed-in user: only counts that ask for an action,
    and nothing for an account that may not act yet."""
    if not is_verified_actor(user):
        return {}
    from ..review.queries import china_today, queue_counts

    badges: dict[str, tuple[int, str]] = {}
    total = 0
    if user.role in OWNER_KIND:
        c = owner_counts(user)
        badges[url_for("listings.mine", kind=OWNER_KIND[user.role])] = (c["returned"], f"已退回待修改 {c['returned']} 条")
        badges[url_for("matching.mine")] = (c["new_suggestions"], f"新推荐 {c['new_suggestions']} 条")
        total = c["returned"] + c["new_suggestions"] + c["interests_waiting"]
    elif user.role == "broker":
        c = broker_counts(user, today=china_today())
        badges[url_for("deals.board")] = (c["overdue"], f"逾期未跟进 {c['overdue']} 个")
        total = c["overdue"] + c["new_suggestions"]
    elif user.role == "registrar":
        waiting = registrar_badge(user)
        badges[url_for("registration.index")] = (waiting, f"待登记 {waiting} 份")
        total = waiting
    elif user.role in ("official", "admin"):
        c = queue_counts(user=user)  # listings, organisations, brokers and changes of published listings
        badges[url_for("review.queue")] = (c["total"], f"待审核 {c['total']} 项（含已发布条目的修改 {c['revisions']} 项）")
        total = c["total"]
        if user.role == "admin":
            failed = failed_jobs()
            badges[url_for("admin.index")] = (c["orgs"] + failed, f"待认证单位 {c['orgs']} 个，失败任务 {failed} 个")
            total += failed
    badges[url_for("main.workbench")] = (total, f"待办 {total} 项")
    return {href: badge for href, badge in badges.items() if badge[0]}


class LazyBadges:
    """The menu's badges, counted on first use in a request (pages without the menu never count)."""

    def __init__(self, user):
        self.user = user

    def get(self, href: str):
        cache = g.get("_nav_badges")
        if cache is None or cache[0] != self.user.id:
            cache = (self.user.id, nav_badges(self.user))
            g._nav_badges = cache
        return cache[1].get(href)


def workbench_context(user) -> dict:
    """Everything the 工作台 shows for `user`'s role; an account that may not act yet sees why, and its drafts."""
    from ..review.queries import china_today, queue_counts

    today = china_today()
    ctx: dict = {"role": user.role, "verified": is_verified_actor(user), "today": today, "last_visit": last_visit(user)}
    if user.role in OWNER_KIND:
        from ..listings.queries import status_counts
        from ..models.listing import STATUS_LABELS, status_label

        kind = OWNER_KIND[user.role]
        counts = status_counts(kind, org_id=user.org_id)
        ctx.update(kind=kind, status_counts=counts,
                   status_labels={s: status_label(s, kind) for s in counts if s in STATUS_LABELS or s == "done"})
        if ctx["verified"]:
            ctx["owner"] = owner_counts(user)
    if not ctx["verified"]:
        from ..permissions import unverified_reason

        ctx["reason"] = unverified_reason(user)
        return ctx
    if user.role == "broker":
        from ..deals.queries import broker_record
        from ..models.deal import DEAL_STAGES

        ctx.update(broker=broker_counts(user, today=today), record=broker_record(user), stages=DEAL_STAGES)
    elif user.role == "registrar":
        ctx["registrar"] = registrar_counts(user)
        ctx["point"] = user.reg_point
    elif user.role in ("official", "admin"):
        ctx["queue"] = queue_counts(user=user)
        if user.role == "official" and user.region is not None:
            ctx["pace"] = target_pace(user.region)
        if user.role == "admin":
            from ..jobs import jobs_summary

            ctx["jobs"] = jobs_summary()
    return ctx


def target_pace(region):
    """The region's targets for this year against what is done, as the dashboard computes them (None when no
    target is set): dashboard.queries.own_progress over dashboard.stats.totals."""
    from ..dashboard import queries as dashboard_queries
    from ..dashboard import stats

    year = dashboard_queries.today().year
    total = stats.totals(scope=region, period=stats.Period.year(year))
    return dashboard_queries.own_progress(region, year, total)
