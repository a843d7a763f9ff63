"""What the notifications feature hooks into: the unread count in the navigation, a notice for every event that
concerns someone (market/events.py), e-mail jobs and the daily digest (mail.py), subscriptions and new strong
suggestions as background jobs.

Event handlers run after the commit of the change (market/pipeline.py): each writes its notices, and the jobs
they queue (mail, subscription matching), in one short transaction of its own. Recipients are the active users
of the organisations concerned, never the person who acted.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, inspect, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import events
from ..database import write_intent
from ..extensions import db
from ..jobs import job_enqueue, job_enqueue_now, job_kind, on_sweep
from ..models import (
    LISTING_MODELS,
    Contract,
    Deal,
    Field,
    Job,
    LogCursor,
    Organization,
    Payment,
    Region,
    Subscription,
    Suggestion,
    Target,
    User,
)
from ..models.base import utcnow
from ..models.deal import DEAL_STAGES
from ..money import format_wan
from .services import notify, path_for

log = logging.getLogger(__name__)


def _id(obj) -> int | None:
    """The primary key of a committed instance, read without loading it (the request's session expired it)."""
    if obj is None:
        return None
    state = inspect(obj)
    return state.identity[0] if state.identity else None


def _deliver(write) -> None:
    """Run `write(session)` in a transaction of its own and commit (notices and their mail jobs together)."""
    with Session(db.engine, expire_on_commit=False) as session:
        token = write_intent.set(True)
        try:
            write(session)
            session.commit()
        finally:
            write_intent.reset(token)


def _org_users(session: Session, *org_ids: int | None) -> list[int]:
    ids = [i for i in org_ids if i is not None]
    if not ids:
        return []
    return list(session.scalars(select(User.id).where(User.org_id.in_(ids), User.active.is_(True)).order_by(User.id)))


def _actor(session: Session, user) -> User | None:
    uid = _id(user)
    return session.get(User, uid) if uid is not None else None


# --- listings ---------------------------------------------------------------------------------------------------

def _listing_notice(listing, user, kind: str, text_for, *, only_by_others: bool = False, subscriptions: bool = False):
    model, listing_id = type(listing), _id(listing)

    def write(session: Session) -> None:
        row = session.get(model, listing_id)
        actor = _actor(session, user)
        if row is None:
            return
        if subscriptions:  # new published listings reach the saved searches (a job: never in the request)
            job_enqueue(kind="subscriptions.match", payload={"kind": row.KIND, "id": row.id}, session=session)
        if only_by_others and actor is not None and actor.org_id == row.org_id:
            return  # the organisation did it itself: nobody there needs telling
        notify(users=_org_users(session, row.org_id), kind=kind, text=text_for(row),
               url=path_for("listings.detail", kind=row.KIND, listing_id=row.id), exclude=actor, session=session)

    _deliver(write)


def on_listing_published(app, *, listing, user=None, **_kw) -> None:
    _listing_notice(listing, user, "listing_published",
                    lambda row: f"您的{row.LABEL}《{row.title}》已通过审核并公开发布", subscriptions=True)


def on_listing_returned(app, *, listing, user=None, reason: str = "", **_kw) -> None:
    _listing_notice(listing, user, "listing_returned",
                    lambda row: f"您的{row.LABEL}《{row.title}》被退回，理由：{reason or row.return_reason or '未注明'}。"
                                f"请修改后重新提交")


def on_listing_withdrawn(app, *, listing, user=None, **_kw) -> None:
    _listing_notice(listing, user, "listing_withdrawn",
                    lambda row: f"您的{row.LABEL}《{row.title}》已{row.status_label}，不再公开", only_by_others=True)


def on_listing_done(app, *, listing, user=None, **_kw) -> None:
    _listing_notice(listing, user, "listing_done", lambda row: f"您的{row.LABEL}《{row.title}》已标记为“{row.DONE_LABEL}”")


def on_listing_changed(app, *, listing, user=None, **_kw) -> None:
    _listing_notice(listing, user, "listing_changed", lambda row: f"您的{row.LABEL}《{row.title}》的内容已被修改",
                    only_by_others=True)


# --- organisations ----------------------------------------------------------------------------------------------

def _org_notice(org, user, kind: str, text_for) -> None:
    org_id = _id(org)

    def write(session: Session) -> None:
        row = session.get(Organization, org_id)
        if row is not None:
            notify(users=_org_users(session, row.id), kind=kind, text=text_for(row),
                   url=path_for("auth.account_status"), exclude=_actor(session, user), session=session)

    _deliver(write)


def on_org_verified(app, *, org, user=None, **_kw) -> None:
    _org_notice(org, user, "org_verified", lambda row: f"贵单位“{row.name}”已通过认证，现在可以发布需求和成果、参与对接")


def on_org_rejected(app, *, org, user=None, note: str = "", **_kw) -> None:
    _org_notice(org, user, "org_rejected",
                lambda row: f"贵单位“{row.name}”的认证未通过，理由：{note or row.review_note or '未注明'}。"
                            f"请核对单位信息后联系所在区域科技局")


# --- deals, contracts, payments, targets ------------------------------------------------------------------------

def _deal_notice(deal, user, kind: str, text_for, *, broker: bool) -> None:
    deal_id = _id(deal)

    def write(session: Session) -> None:
        row = session.get(Deal, deal_id)
        if row is None:
            return
        users = _org_users(session, row.buyer_org_id, row.seller_org_id) + ([row.broker_id] if broker else [])
        notify(users=users, kind=kind, text=text_for(row, session), url=path_for("deals.detail", deal_id=row.id),
               exclude=_actor(session, user), session=session)

    _deliver(write)


def on_deal_claimed(app, *, deal, user=None, **_kw) -> None:
    def text(row: Deal, session: Session) -> str:
        broker = session.get(User, row.broker_id) if row.broker_id else None
        who = f"技术经纪人 {broker.name}" if broker else "技术经纪人"
        return f"{who} 已认领对接《{row.title}》，将协助双方洽谈"

    _deal_notice(deal, user, "deal_claimed", text, broker=False)


def on_deal_moved(app, *, deal, user=None, from_stage: str | None = None, to_stage: str | None = None, **_kw) -> None:
    def text(row: Deal, session: Session) -> str:
        before = DEAL_STAGES.get(from_stage or "", from_stage or "")
        after = DEAL_STAGES.get(to_stage or "", to_stage or "")
        return f"对接《{row.title}》已从“{before}”推进到“{after}”阶段"

    _deal_notice(deal, user, "deal_moved", text, broker=True)


def _contract_notice(contract, user, kind: str, text_for) -> None:
    contract_id = _id(contract)

    def write(session: Session) -> None:
        row = session.get(Contract, contract_id)
        if row is None:
            return
        notify(users=_org_users(session, row.buyer_org_id, row.seller_org_id), kind=kind, text=text_for(row, session),
               url=path_for("contracts.detail", contract_id=row.id), exclude=_actor(session, user), session=session)

    _deliver(write)


def _parties(row: Contract, session: Session) -> str:
    buyer, seller = session.get(Organization, row.buyer_org_id), session.get(Organization, row.seller_org_id)
    return f"{buyer.name} ⇄ {seller.name}"


def on_contract_recorded(app, *, contract, user=None, **_kw) -> None:
    _contract_notice(contract, user, "contract_recorded",
                     lambda row, s: f"技术合同《{row.title}》（{_parties(row, s)}，{format_wan(row.amount)}）已登记，"
                                    f"登记号 {row.registration_no}")


def on_contract_reg_submitted(app, *, contract, user=None, **_kw) -> None:
    """The 登记员s of the 登记点 a submission went to are told it waits."""
    contract_id = _id(contract)

    def write(session: Session) -> None:
        row = session.get(Contract, contract_id)
        if row is None or row.reg_point_id is None:
            return
        registrars = session.scalars(select(User.id).where(User.role == "registrar", User.active.is_(True),
                                                           User.reg_point_id == row.reg_point_id)).all()
        what = {"change": "变更登记", "cancel": "注销登记"}.get(row.reg_request or "", "登记")
        notify(users=registrars, kind="contract_reg_submitted", session=session, exclude=_actor(session, user),
               text=f"技术合同《{row.title}》（{_parties(row, session)}）提交{what}，请在15个工作日内办理",
               url=path_for("registration.detail", contract_id=row.id))

    _deliver(write)


def on_contract_reg_decided(app, *, contract, user=None, decision: str = "", reason: str = "", **_kw) -> None:
    """Each decision of the 登记员 (and the reason of a return or refusal) is told to the submitter, the selling
    organisation's members (they share its records and see its submissions) and the contract's broker."""
    contract_id = _id(contract)

    def write(session: Session) -> None:
        row = session.get(Contract, contract_id)
        if row is None or row.submitted_by_id is None:
            return
        if decision == "register" and row.voided:
            text = f"技术合同《{row.title}》（登记编号 {row.registration_no}）已注销登记"
        elif decision == "register":
            text = (f"技术合同《{row.title}》已登记，登记编号 {row.registration_no}，核定技术交易额 "
                    f"{format_wan(row.tech_amount)}；可下载登记证明")
        elif decision == "return":
            text = f"技术合同《{row.title}》的登记申请被退回：{reason}"
        else:
            text = f"技术合同《{row.title}》不予登记（不属于技术合同）：{reason}"
        users = dict.fromkeys([row.submitted_by_id, *_org_users(session, row.seller_org_id), row.broker_id])
        notify(users=[u for u in users if u is not None], kind=f"contract_reg_{decision}", text=text, session=session,
               url=path_for("registration.detail", contract_id=row.id), exclude=_actor(session, user))

    _deliver(write)


def on_payment_recorded(app, *, contract, payment, user=None, **_kw) -> None:
    payment_id = _id(payment)

    def text(row: Contract, session: Session) -> str:
        paid = session.get(Payment, payment_id)
        amount = format_wan(paid.amount) if paid is not None else ""
        return f"技术合同《{row.title}》（登记号 {row.registration_no}）登记了一笔付款 {amount}"

    _contract_notice(contract, user, "payment_recorded", text)


def on_target_set(app, *, target, user=None, **_kw) -> None:
    target_id = _id(target)

    def write(session: Session) -> None:
        row = session.get(Target, target_id)
        if row is None:
            return
        region = session.get(Region, row.region_id)
        officials = session.scalars(select(User.id).where(User.role == "official", User.region_id == row.region_id,
                                                          User.active.is_(True))).all()
        notify(users=officials, kind="target_set", text=f"{region.name} {row.year} 年度目标任务已设定或调整，请查看",
               url=path_for("dashboard.targets"), exclude=_actor(session, user), session=session)

    _deliver(write)


# --- subscriptions ----------------------------------------------------------------------------------------------

def subscription_matches(sub: Subscription, listing, terms_of_listing: set[str]) -> bool:
    """A saved search matches a listing when every word of its query is among the listing's terms (title,
    keywords, text; the search page's own analyzer); its field and region narrow as on the search page."""
    from ..search.analyzer import query_terms

    if sub.kind not in ("all", listing.KIND):
        return False
    return all(term in terms_of_listing for term in query_terms(sub.q)) if sub.q else True


def describe(sub: Subscription, session: Session | None = None) -> str:
    session = session or db.session
    parts = [f"“{sub.q}”"] if sub.q else []
    if sub.field_code:
        name = session.scalar(select(Field.name).where(Field.code == sub.field_code))
        parts.append(name or sub.field_code)
    if sub.region_id:
        region = session.get(Region, sub.region_id)
        parts.append(region.name if region else "")
    return " · ".join(p for p in parts if p) + f"（{sub.kind_label}）"


@job_kind("subscriptions.match", label="匹配订阅（新发布的需求和成果）", lease_seconds=300)
def subscriptions_match(session: Session, payload: dict) -> str:
    """Tell every subscriber whose subscription a newly published listing matches (once per user and listing)."""
    from ..search.analyzer import tokenize

    model = LISTING_MODELS[str(payload["kind"])]
    token = write_intent.set(False)
    try:
        listing = session.get(model, int(payload["id"]))
        if listing is None or listing.status != "published":
            session.commit()
            return "条目未发布，跳过"
        region = session.get(Region, listing.region_id) if listing.region_id else None
        field = session.get(Field, listing.field_id) if listing.field_id else None
        root = field.root_code if field is not None else None
        subs = session.scalars(select(Subscription).join(User, User.id == Subscription.user_id).where(
            Subscription.kind.in_(("all", listing.KIND)),
            User.active.is_(True), or_(User.org_id.is_(None), User.org_id != listing.org_id),
            or_(Subscription.field_code == "", Subscription.field_code == (root or "")),
            or_(Subscription.region_id.is_(None),
                Subscription.region_id.in_(region.ancestor_ids if region is not None else [])),
        ).order_by(Subscription.id)).all()
        terms = set(tokenize(f"{listing.title}\n{listing.keywords}\n{listing.body}"))
        hits = [s for s in subs if subscription_matches(s, listing, terms)]
        session.commit()
    finally:
        write_intent.reset(token)
    told = 0
    token = write_intent.set(True)
    try:
        seen: set[int] = set()
        for sub in hits:
            if sub.user_id in seen:
                continue
            seen.add(sub.user_id)
            told += notify(users=[sub.user_id], kind="subscription_new", key=f"sub:{listing.KIND}:{listing.id}",
                           text=f"您订阅的 {describe(sub, session)} 有新{listing.LABEL}：《{listing.title}》",
                           url=path_for("listings.detail", kind=listing.KIND, listing_id=listing.id), session=session)
        session.commit()
    finally:
        write_intent.reset(token)
    return f"{len(hits)} 个订阅匹配，通知 {told} 人"


# --- new strong suggestions -------------------------------------------------------------------------------------

SUGGESTION_CURSOR = "notify.suggestions"
SUGGESTION_FLOOR = "notify.suggestions.start"  # pairs up to this id existed before notices of them did
#: suggestions this young are looked at again: on PostgreSQL a lower id may commit after a higher one
RESCAN = timedelta(minutes=10)


def _suggestion_scan_waiting(session: Session) -> bool:
    return session.scalar(select(Job.id).where(Job.kind == "notifications.suggestions", Job.status == "queued",
                                               Job.started_at.is_(None)).limit(1)) is not None


@job_kind("notifications.suggestions", label="通知新的强匹配推荐", lease_seconds=600)
def suggestions_notify(session: Session, payload: dict) -> str:
    """Tell the owners of both sides about each new 强 suggestion (once per pair and user: the notice's key)."""
    from ..matching import degree

    token = write_intent.set(False)
    try:
        cursor = session.get(LogCursor, SUGGESTION_CURSOR)
        floor = session.get(LogCursor, SUGGESTION_FLOOR)
        top = session.scalar(select(func.max(Suggestion.id))) or 0
        session.commit()
    finally:
        write_intent.reset(token)
    if cursor is None or floor is None:
        # the first scan (a new install, an upgrade): what exists is not new; only pairs stored from now on are
        _move_cursor(session, top, name=SUGGESTION_FLOOR)
        _move_cursor(session, top)
        return f"起点设为 #{top}，此前的推荐不再通知"
    start = cursor.seq
    token = write_intent.set(False)
    try:
        rows = session.scalars(select(Suggestion).where(
            or_(Suggestion.id > start, Suggestion.created_at > utcnow() - RESCAN),
            Suggestion.id > floor.seq, Suggestion.id <= top,
        ).order_by(Suggestion.id).limit(5000)).all()
        strong = [s for s in rows if degree.strength(degree.match_degree(s.score)) == "strong"]
        pairs = [(s.demand_id, s.achievement_id, degree.match_degree(s.score), s.demand, s.achievement) for s in strong]
        session.commit()
    finally:
        write_intent.reset(token)
    told = 0
    token = write_intent.set(True)
    try:
        for d, a, value, demand, achievement in pairs:
            key = f"sugg:{d}:{a}"
            for own, other in ((demand, achievement), (achievement, demand)):
                told += notify(
                    users=_org_users(session, own.org_id), kind="suggestion_strong", key=key,
                    text=f"新的强匹配推荐（匹配度 {value}）：您的{own.LABEL}《{own.title}》与{other.LABEL}《{other.title}》",
                    url=path_for("listings.detail", "suggestions", kind=own.KIND, listing_id=own.id), session=session)
        session.commit()
    finally:
        write_intent.reset(token)
    _move_cursor(session, max([s.id for s in rows] + [start]))
    return f"{len(strong)} 条强匹配，通知 {told} 人次"


def _move_cursor(session: Session, seq: int, *, name: str = SUGGESTION_CURSOR) -> None:
    """Forward only (two scans at once both move it to what they saw)."""
    token = write_intent.set(True)
    try:
        if session.get(LogCursor, name) is None:
            session.add(LogCursor(name=name, seq=seq, updated_at=utcnow()))
        else:
            session.execute(update(LogCursor).where(LogCursor.name == name, LogCursor.seq < seq)
                            .values(seq=seq, updated_at=utcnow()).execution_options(synchronize_session=False))
        session.commit()
    except IntegrityError:  # another scan made the row meanwhile
        session.rollback()
    finally:
        write_intent.reset(token)


def _queue_suggestion_scan(only_if_behind: bool) -> None:
    with Session(db.engine) as session:
        token = write_intent.set(False)
        try:
            waiting = _suggestion_scan_waiting(session)
            cursor = session.get(LogCursor, SUGGESTION_CURSOR)
            behind = (session.scalar(select(func.max(Suggestion.id))) or 0) > (cursor.seq if cursor else 0)
        finally:
            write_intent.reset(token)
    if not waiting and (behind or not only_if_behind):
        job_enqueue_now(kind="notifications.suggestions")


def on_suggestions_refreshed(app, **_kw) -> None:
    _queue_suggestion_scan(only_if_behind=False)


def sweep_suggestions() -> None:
    _queue_suggestion_scan(only_if_behind=True)


# --- wiring -----------------------------------------------------------------------------------------------------

_HANDLERS = (
    (events.listing_published, on_listing_published),
    (events.listing_returned, on_listing_returned),
    (events.listing_withdrawn, on_listing_withdrawn),
    (events.listing_done, on_listing_done),
    (events.listing_changed, on_listing_changed),
    (events.org_verified, on_org_verified),
    (events.org_rejected, on_org_rejected),
    (events.deal_claimed, on_deal_claimed),
    (events.deal_moved, on_deal_moved),
    (events.contract_recorded, on_contract_recorded),
    (events.payment_recorded, on_payment_recorded),
    (events.contract_reg_submitted, on_contract_reg_submitted),
    (events.contract_reg_decided, on_contract_reg_decided),
    (events.target_set, on_target_set),
    (events.suggestions_refreshed, on_suggestions_refreshed),
)


def init_app(app) -> None:
    from ..registries import registries
    from . import mail
    from .queries import unread_count

    registries(app).unread_counter = unread_count
    for signal, handler in _HANDLERS:
        signal.connect(handler)
    mail.init_app(app)
    on_sweep(sweep_suggestions)
