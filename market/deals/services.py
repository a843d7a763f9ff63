"""Writes: interests and their decisions, deals and every stage move (each with its event row)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from .. import events
from ..errors import Conflict, DomainError, NotAllowed
from ..extensions import db
from ..formtokens import claim_form_token
from ..models import Achievement, Deal, DealEvent, Demand, Interest, InterestEvent, ListingMixin, Suggestion, User
from ..models.base import utcnow
from ..models.deal import DEAL_SOURCES, DEAL_STAGES, DEAL_TRANSITIONS, FAIL_REASONS, INTEREST_ORIGINS, INTEREST_TRANSITIONS, SYSTEM_SOURCES
from ..notifications.services import notify, path_for
from ..permissions import is_verified_actor, verified_brokers
from . import access

STALE_MESSAGE = "该对接已被他人更新（阶段已变化），请刷新页面后重试"


# --- interest -----------------------------------------------------------------------------------

def _interest_kind_for(user: User, listing: ListingMixin) -> str:
    if listing.KIND == "achievement" and user.role == "enterprise":
        return "interest"
    if listing.KIND == "demand" and user.role == "institution":
        return "solution"
    if listing.KIND == "achievement":
        raise NotAllowed("只有企业用户可以对科技成果表达意向")
    raise NotAllowed("只有高校院所用户可以揭榜应答技术需求")


def target_filter(listing: ListingMixin):
    """Interests about this listing (not those that merely link it as the author's own)."""
    if listing.KIND == "demand":
        return (Interest.kind == "solution") & (Interest.demand_id == listing.id)
    return (Interest.kind == "interest") & (Interest.achievement_id == listing.id)


def open_interest_of(org_id: int, listing: ListingMixin) -> Interest | None:
    return db.session.scalar(
        select(Interest).where(
            target_filter(listing), Interest.from_org_id == org_id, Interest.status.in_(("pending", "accepted"))
        )
    )


def own_listing_choices(user: User, listing: ListingMixin) -> list[tuple[int, str]]:
    """The author's published listings of the other library, to link to an interest (a need to a result)."""
    if user.org_id is None:
        return []
    model = Demand if listing.KIND == "achievement" else Achievement
    rows = db.session.execute(
        select(model.id, model.title).where(model.org_id == user.org_id, model.status == "published").order_by(model.id.desc()).limit(200)
    ).all()
    return [(row.id, row.title) for row in rows]


def _linked_listing(user: User, listing: ListingMixin, link_id: int | None) -> ListingMixin | None:
    if not link_id:
        return None
    model = Demand if listing.KIND == "achievement" else Achievement
    own = db.session.get(model, link_id)
    if own is None or own.org_id != user.org_id or own.status != "published":
        noun = "技术需求" if model is Demand else "科技成果"
        raise DomainError(f"只能关联本单位已发布的{noun}", fields={"link_id": f"只能关联本单位已发布的{noun}"})
    pair = (own.id, listing.id) if model is Demand else (listing.id, own.id)
    if db.session.scalar(select(Deal.id).where(Deal.demand_id == pair[0], Deal.achievement_id == pair[1])) is not None:
        raise Conflict("该需求与成果已在对接中")
    return own


def _org_users(org_id: int) -> list[int]:
    return list(db.session.scalars(select(User.id).where(User.org_id == org_id, User.active.is_(True))))


def interest_origin(raw: object) -> str:
    """The page an interest form was reached from, as posted (a hidden field): one of INTEREST_ORIGINS, anything
    else 'direct'. Used for attribution only."""
    return raw if isinstance(raw, str) and raw in INTEREST_ORIGINS else "direct"


def interest_create(*, user: User, listing: ListingMixin, message: str, token: str | None,
                    link_id: int | None = None, happening_id: int | None = None,
                    recorded_by: User | None = None, origin: str | None = None) -> Interest:
    """An interest in a result (enterprise) or an answer to a need (institution); the author may link one
    of its own published listings of the other library, so that a contract marks both done. `happening_id`:
    recorded on the spot at that event (market/happenings checks the attendance and the listing first);
    `recorded_by`: the organiser who typed it in for `user` there, the actor of its history and its event;
    `origin`: how the author came to the listing (interest_origin), which becomes the deal's source."""
    actor = recorded_by or user
    kind = _interest_kind_for(user, listing)
    if listing.status != "published":
        raise DomainError("该条目当前未公开发布，不能表达意向")
    if user.org_id is None or not is_verified_actor(user):
        raise NotAllowed("单位认证通过后才能表达意向或揭榜应答")
    if listing.org_id == user.org_id:
        raise DomainError("不能对本单位发布的条目表达意向")
    message = (message or "").strip()
    if len(message) < 5 or len(message) > 1000:
        raise DomainError("请填写5-1000字的留言", fields={"message": "请填写5-1000字的留言"})
    own = _linked_listing(user, listing, link_id)
    submission = claim_form_token(token=token, kind="interest", user=actor, link=lambda _id: path_for(
        "listings.detail", "interests", kind=listing.KIND, listing_id=listing.id))
    if open_interest_of(user.org_id, listing) is not None:
        raise Conflict("您的单位已对该条目表达过意向，请等待对方处理")
    demand, achievement = (listing, own) if listing.KIND == "demand" else (own, listing)
    interest = Interest(
        kind=kind,
        demand_id=demand.id if demand is not None else None,
        achievement_id=achievement.id if achievement is not None else None,
        from_org_id=user.org_id,
        from_user_id=user.id,
        to_org_id=listing.org_id,
        message=message,
        status="pending",
        happening_id=happening_id,
        origin=interest_origin(origin),
    )
    db.session.add(interest)
    try:
        db.session.flush()
    except IntegrityError as exc:  # a concurrent post of the same organisation won the race
        raise Conflict("您的单位已对该条目表达过意向，请等待对方处理") from exc
    submission.object_id = interest.id
    db.session.add(InterestEvent(interest_id=interest.id, actor_id=actor.id, from_status=None, to_status="pending", text=message[:1000]))
    verb = "表达了合作意向" if kind == "interest" else "提交了揭榜应答"
    notify(
        users=_org_users(listing.org_id),
        kind="interest_new",
        text=f"{user.org.name} 对《{listing.title}》{verb}，请处理",
        url=path_for("listings.detail", "interests", kind=listing.KIND, listing_id=listing.id),
        exclude=user,
    )
    events.record(events.interest_made, interest=interest, user=actor)
    return interest


def _interest_cas(interest: Interest, user: User, to: str, text: str, **values) -> None:
    """Move an interest out of 'pending' once: a concurrent decision finds no pending row and fails."""
    if (interest.status, to) not in INTEREST_TRANSITIONS:
        raise Conflict(f"该意向当前状态为“{interest.status_label}”，不能再处理")
    result = db.session.execute(
        update(Interest)
        .where(Interest.id == interest.id, Interest.status == interest.status)
        .values(status=to, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict("该意向已被处理，请刷新页面")
    before = interest.status
    db.session.refresh(interest)
    db.session.add(InterestEvent(interest_id=interest.id, actor_id=user.id, from_status=before, to_status=to, text=text[:1000]))


def _check_reason(code: str, text: str, *, field: str = "reason_code") -> tuple[str, str]:
    code = (code or "").strip()
    text = (text or "").strip()[:500]
    if code not in FAIL_REASONS:
        raise DomainError("请选择原因", fields={field: "请选择原因"})
    if code == "other" and not text:
        raise DomainError("选择“其他”时请填写具体原因", fields={"reason_text": "请填写具体原因"})
    return code, text


def interest_decide(*, interest: Interest, user: User, decision: str, reason_code: str = "", reason_text: str = "") -> Interest:
    if user.org_id != interest.to_org_id or user.role not in ("enterprise", "institution"):
        raise NotAllowed("只有发布单位可以处理意向")
    listing = interest.listing
    if decision == "accept":
        _interest_cas(interest, user, "accepted", "接受", decided_by_id=user.id, decided_at=utcnow())
        deal = _deal_open_from_interest(interest, user)
        notify(
            users=[interest.from_user_id],
            kind="interest_accepted",
            text=f"{user.org.name} 接受了您对《{listing.title}》的{interest.kind_label}，联系方式已公开，对接已开启",
            url=path_for("deals.detail", deal_id=deal.id),
            exclude=user,
        )
        events.record(events.interest_answered, interest=interest, user=user, decision="accept")
        return interest
    if decision == "decline":
        code, text = _check_reason(reason_code, reason_text)
        _interest_cas(interest, user, "declined", f"{FAIL_REASONS[code]} {text}".strip(),
                      reason_code=code, reason_text=text, decided_by_id=user.id, decided_at=utcnow())
        notify(
            users=[interest.from_user_id],
            kind="interest_declined",
            text=f"{user.org.name} 婉拒了您对《{listing.title}》的{interest.kind_label}（{interest.reason_label}）",
            url=path_for("deals.interests"),
            exclude=user,
        )
        events.record(events.interest_answered, interest=interest, user=user, decision="decline")
        return interest
    raise DomainError("请选择接受或婉拒")


def interest_withdraw(*, interest: Interest, user: User) -> Interest:
    if user.org_id != interest.from_org_id:
        raise NotAllowed("只有提交意向的单位可以撤回")
    _interest_cas(interest, user, "withdrawn", "撤回")
    return interest


# --- deals ----------------------------------------------------------------------------------------

def _region_of(org, listing: ListingMixin | None) -> int | None:
    return org.region_id or (listing.region_id if listing is not None else None)


def _event(deal: Deal, user: User | None, kind: str, text: str = "", frm: str | None = None, to: str | None = None) -> DealEvent:
    """The deal's history row, and the domain event it is (a broker taking it, a move of stage)."""
    event = DealEvent(deal_id=deal.id, actor_id=user.id if user else None, kind=kind, from_stage=frm, to_stage=to, text=(text or "")[:1000])
    db.session.add(event)
    if kind == "claim" or (kind == "open" and deal.broker_id is not None):
        events.record(events.deal_claimed, deal=deal, user=user)
    elif kind == "move" and frm != to:
        events.record(events.deal_moved, deal=deal, user=user, from_stage=frm, to_stage=to)
    return event


def _brokers_for(*region_ids: int | None) -> list[int]:
    """Verified brokers whose region contains one of these regions."""
    from ..models import Region

    ancestors: set[int] = set()
    for rid in region_ids:
        region = db.session.get(Region, rid) if rid else None
        if region is not None:
            ancestors.update(region.ancestor_ids)
    if not ancestors:
        return []
    # only brokers who may act (permissions.is_verified_actor): an unreviewed account hears of no deal
    return list(db.session.scalars(verified_brokers().where(User.region_id.in_(ancestors))))


def agency_of(user: User | None) -> int | None:
    """The broker's agency: the broker's organisation when it is a 服务机构, else none."""
    if user is None or user.org_id is None or user.org is None:
        return None
    return user.org_id if user.org.org_type == "agency" else None


def interest_deal_source(interest: Interest) -> str:
    """A deal opened by accepting an interest: 'event' when the interest was recorded at an event, else the
    page its author came from (search, an engine suggestion), else 'direct'."""
    if interest.happening_id is not None:
        return "event"
    return interest.origin if interest.origin in INTEREST_ORIGINS else "direct"


def _deal_open_from_interest(interest: Interest, user: User) -> Deal:
    listing = interest.listing
    if interest.kind == "interest":  # an enterprise wants a result
        buyer, seller = interest.from_org, interest.to_org
    else:  # an institution answers a need
        buyer, seller = interest.to_org, interest.from_org
    deal = Deal(
        demand_id=interest.demand_id,
        achievement_id=interest.achievement_id,
        buyer_org_id=buyer.id,
        seller_org_id=seller.id,
        buyer_region_id=_region_of(buyer, interest.demand),
        seller_region_id=_region_of(seller, interest.achievement),
        stage="contacted",
        source=interest_deal_source(interest),
        happening_id=interest.happening_id,
        interest_id=interest.id,
        created_by_id=user.id,
    )
    try:
        with db.session.begin_nested():
            db.session.add(deal)
    except IntegrityError as exc:  # the linked pair got a deal meanwhile (a broker claimed the suggestion)
        raise Conflict("该需求与成果已在对接中，请在已有的对接中继续") from exc
    _event(deal, user, "open", f"{interest.kind_label}已接受，开启对接", None, "contacted")
    notify(
        users=_brokers_for(deal.buyer_region_id, deal.seller_region_id),
        kind="deal_unassigned",
        text=f"新的对接待认领：《{listing.title}》（{buyer.name} ⇄ {seller.name}）",
        url=path_for("deals.detail", deal_id=deal.id),
    )
    return deal


def deal_open_at_price(*, achievement: Achievement, buyer_org, price: Decimal, source: str, user: User, text: str,
                       contract_type: str = "transfer") -> Deal:
    """A deal opened by a sale whose price was set in public: a verified buyer accepted a 挂牌 price ('listed'), or
    a lot's winning bid ('auction'). The caller has decided the sale under its own row lock; this records the deal
    at that price (stage 洽谈: the parties agreed the price, the contract remains) and tells the brokers of both
    regions, one of whom claims it and records the contract at this price and of this type (转让 or 许可)."""
    if source not in ("listed", "auction"):
        raise ValueError(f"not a priced source: {source}")
    if contract_type not in ("transfer", "license"):
        raise ValueError(f"not a type sold at a public price: {contract_type}")
    if buyer_org.id == achievement.org_id:
        raise DomainError("不能购买本单位的成果", status_code=409)
    seller = achievement.org
    deal = Deal(
        achievement_id=achievement.id,
        buyer_org_id=buyer_org.id,
        seller_org_id=seller.id,
        buyer_region_id=buyer_org.region_id,
        seller_region_id=_region_of(seller, achievement),
        stage="negotiating",
        source=source,
        price=price,
        price_type=contract_type,
        created_by_id=user.id,
    )
    db.session.add(deal)
    db.session.flush()
    _event(deal, user, "open", text, None, "negotiating")
    notify(
        users=_brokers_for(deal.buyer_region_id, deal.seller_region_id),
        kind="deal_unassigned",
        text=f"新的对接待认领：《{achievement.title}》（{buyer_org.name} ⇄ {seller.name}，{DEAL_SOURCES[source]}）",
        url=path_for("deals.detail", deal_id=deal.id),
    )
    return deal


# the sources a broker chooses when claiming a suggestion: the engine's pair, or one the broker's visit to the
# enterprise brought about (经纪人走访, issue 19 section 4)
CLAIM_SOURCES = ("suggestion", "broker_visit")


def deal_claim_suggestion(*, suggestion: Suggestion, user: User, source: str = "suggestion") -> Deal:
    """A broker opens the deal of a suggested pair (a need and a result) and becomes responsible for it, with the
    broker's agency recorded. `source`: 'broker_visit' when the broker's visit to the enterprise brought the pair
    about (it then counts under 经纪人走访 on /dashboard/sources), else 'suggestion'. Only a verified broker whose
    region holds the need or the result."""
    if user.role != "broker":
        raise NotAllowed("只有技术经纪人可以认领推荐")
    if source not in CLAIM_SOURCES:
        raise DomainError("对接来源无效：只能选择系统推荐或经纪人走访", fields={"source": "对接来源无效"})
    if not is_verified_actor(user) or not access.suggestion_in_region(user, suggestion):
        raise NotAllowed("该推荐不在您负责的区域")
    demand: Demand = suggestion.demand
    achievement: Achievement = suggestion.achievement
    if demand.status != "published" or achievement.status != "published":
        raise DomainError("该推荐涉及的需求或成果已不在发布状态，不能认领")
    if demand.org_id == achievement.org_id:
        raise DomainError("需求和成果属于同一单位，不能对接")
    taken = db.session.scalar(
        select(Deal.id).where(Deal.demand_id == demand.id, Deal.achievement_id == achievement.id)
    )
    if taken is not None:
        raise Conflict("该推荐已被认领")
    deal = Deal(
        demand_id=demand.id,
        achievement_id=achievement.id,
        buyer_org_id=demand.org_id,
        seller_org_id=achievement.org_id,
        buyer_region_id=_region_of(demand.org, demand),
        seller_region_id=_region_of(achievement.org, achievement),
        broker_id=user.id,
        agency_id=agency_of(user),
        stage="recommended",
        source=source,
        suggestion_id=suggestion.id,
        created_by_id=user.id,
    )
    try:
        with db.session.begin_nested():
            db.session.add(deal)
    except IntegrityError as exc:  # a concurrent claim of the same pair won
        raise Conflict("该推荐已被认领") from exc
    _event(deal, user, "open", "经纪人走访促成，认领推荐匹配，开启对接" if source == "broker_visit" else "认领推荐匹配，开启对接",
           None, "recommended")
    return deal


def deal_claim(*, deal: Deal, user: User) -> Deal:
    """A broker takes responsibility for a deal that has none."""
    if not access.can_claim_deal(user, deal):
        raise NotAllowed("您不能认领该对接")
    result = db.session.execute(
        update(Deal)
        .where(Deal.id == deal.id, Deal.broker_id.is_(None))
        .values(broker_id=user.id, agency_id=agency_of(user), version=Deal.version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict("该对接已被其他经纪人认领")
    db.session.refresh(deal)
    _event(deal, user, "claim", f"{user.name} 认领，负责本对接")
    return deal


def _cas_stage(deal: Deal, user: User, to: str, version: int, text: str, **values) -> None:
    """Compare-and-set the stage: of two moves made from the same version, only one wins."""
    frm = deal.stage
    result = db.session.execute(
        update(Deal)
        .where(Deal.id == deal.id, Deal.version == version, Deal.stage == frm)
        .values(stage=to, version=Deal.version + 1, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(STALE_MESSAGE)
    db.session.refresh(deal)
    _event(deal, user, "move", text, frm, to)


def _check_move(deal: Deal, to: str, version: int | None) -> None:
    if to not in DEAL_STAGES:
        raise DomainError("目标阶段无效")
    if version is None:
        raise DomainError("缺少版本号，请刷新页面后重试")
    if version != deal.version:
        raise Conflict(STALE_MESSAGE)
    if (deal.stage, to) not in DEAL_TRANSITIONS:
        raise Conflict(f"对接不能从“{deal.stage_label}”变更为“{DEAL_STAGES[to]}”")


def deal_move(*, deal: Deal, user: User, to: str, version: int | None, text: str = "", reason_code: str = "") -> Deal:
    """Move a deal along the transition table (not to 签约: that records a contract, see contracts)."""
    if not access.can_work_deal(user, deal):
        raise NotAllowed("只有负责该对接的技术经纪人可以变更阶段")
    _check_move(deal, to, version)
    text = (text or "").strip()[:1000]
    if to == "signed":
        raise DomainError("签约须同时登记技术合同，请使用“签约并登记合同”")
    if to == "terminated":
        code, reason_text = _check_reason(reason_code, text)
        _cas_stage(deal, user, to, version, f"终止：{FAIL_REASONS[code]} {reason_text}".strip(),
                   end_reason=code, end_text=reason_text, next_action_on=None, next_action="")
        return deal
    _cas_stage(deal, user, to, version, text)
    return deal


def deal_sign(*, deal: Deal, user: User, version: int | None, text: str = "") -> Deal:
    """Move to 签约. Only called by contract recording, in the same transaction as the contract."""
    if not access.can_sign_deal(user, deal):
        raise NotAllowed("您不能为该对接登记合同")
    _check_move(deal, "signed", version)
    _cas_stage(deal, user, "signed", version, text, next_action_on=None, next_action="")
    return deal


def deal_reopen_by_void(*, deal: Deal, user: User, text: str) -> Deal:
    """签约 -> 洽谈 when the contract that signed the deal is voided (not a move anyone may choose, so it is
    not in DEAL_TRANSITIONS). Only called by contract voiding, in the same transaction."""
    if deal.stage != "signed":
        raise Conflict(f"对接处于“{deal.stage_label}”阶段，不能退回洽谈")
    _cas_stage(deal, user, "negotiating", deal.version, text)
    if deal.broker_id is not None:
        notify(
            users=[deal.broker_id],
            kind="deal_reopened",
            text=f"《{deal.title}》的技术合同已作废，对接已退回“洽谈”阶段，请跟进",
            url=path_for("deals.detail", deal_id=deal.id),
            exclude=user,
        )
    return deal


def deal_source_correct(*, deal: Deal, user: User, source: str, note: str) -> Deal:
    """The broker working the deal corrects where it came from (attribution only); the history says who, from
    what, to what and why. The system sources (揭榜挂帅, 挂牌, 竞价) are recorded by their feature and neither chosen
    nor corrected by hand, and 'event' needs an event on record."""
    if not access.can_correct_source(user, deal):
        raise NotAllowed("只有负责该对接的技术经纪人可以更正来源；揭榜挂帅对接的来源由揭榜项目记录，不能更正")
    source = (source or "").strip()
    note = (note or "").strip()
    if source not in DEAL_SOURCES:
        raise DomainError("请选择来源", fields={"source": "请选择来源"})
    if source in SYSTEM_SOURCES:
        label = DEAL_SOURCES[source]
        raise DomainError(f"{label}来源由系统自动记录，不能手工选择", fields={"source": f"{label}来源不能手工选择"})
    if source == "event" and deal.happening_id is None:
        raise DomainError("该对接没有在对接活动中记录的意向，不能标记为对接活动来源",
                          fields={"source": "没有对接活动记录，不能选择“对接活动”"})
    if len(note) < 2 or len(note) > 200:
        raise DomainError("请填写2-200字的更正说明", fields={"note": "请填写2-200字的更正说明"})
    if source == deal.source:
        raise DomainError("来源未改变", fields={"source": "来源未改变"})
    before = deal.source_label
    deal.source = source  # not a move: the version that guards stage moves stays as it is
    deal.updated_at = utcnow()
    _event(deal, user, "source", f"来源更正：{before} → {DEAL_SOURCES[source]}（{note}）")
    return deal


def deal_plan(*, deal: Deal, user: User, on: date | None, text: str) -> Deal:
    if not access.can_work_deal(user, deal):
        raise NotAllowed("只有负责该对接的技术经纪人可以安排下一步")
    if not deal.is_open:
        raise Conflict("对接已结束，不能再安排下一步")
    text = (text or "").strip()[:200]
    if on is None:
        raise DomainError("请填写下一步日期", fields={"next_action_on": "请填写日期"})
    if not text:
        raise DomainError("请填写下一步要做的事", fields={"next_action": "请填写下一步要做的事"})
    deal.next_action_on = on
    deal.next_action = text
    _event(deal, user, "plan", f"下一步（{on.isoformat()}）：{text}")
    return deal


def deal_note(*, deal: Deal, user: User, text: str) -> DealEvent:
    if not (access.can_work_deal(user, deal) or access.can_sign_deal(user, deal)):
        raise NotAllowed("您不能在该对接中添加记录")
    text = (text or "").strip()
    if not text:
        raise DomainError("请填写记录内容", fields={"text": "请填写记录内容"})
    if len(text) > 1000:
        raise DomainError("记录内容不超过1000字", fields={"text": "记录内容不超过1000字"})
    note = _event(deal, user, "note", text)
    db.session.flush()  # its id is what the note form's submission token points at
    return note


def contact_grant(user: User, listing: ListingMixin) -> bool:
    """Contacts hidden by the owner show to the parties of a deal past 推荐 (an accepted interest
    opens one at 接洽) and to the broker responsible for a deal on the listing."""
    if not user.is_authenticated:
        return False
    column = Deal.demand_id if listing.KIND == "demand" else Deal.achievement_id
    conditions = []
    if user.org_id is not None:
        conditions.append(
            ((Deal.buyer_org_id == user.org_id) | (Deal.seller_org_id == user.org_id)) & (Deal.stage != "recommended")
        )
    if user.role == "broker":
        conditions.append(Deal.broker_id == user.id)
    if not conditions:
        return False
    from sqlalchemy import or_

    return db.session.scalar(select(Deal.id).where(column == listing.id, or_(*conditions)).limit(1)) is not None


def deals_release_broker(*, broker: User, user: User, reason: str) -> int:
    """A broker whose review was refused no longer holds any open deal: each goes back to 待认领 (with a history
    row), and the verified brokers of its regions are told. Returns how many deals were released."""
    from ..models.deal import OPEN_STAGES

    released = db.session.scalars(
        select(Deal).where(Deal.broker_id == broker.id, Deal.stage.in_(OPEN_STAGES)).with_for_update()).all()
    for deal in released:
        deal.broker_id = None
        deal.agency_id = None  # the deal's figures follow the broker who takes it next
        deal.version = (deal.version or 1) + 1
        deal.updated_at = utcnow()
        _event(deal, user, "note", f"技术经纪人 {broker.name} 资格审核未通过，本对接退回待认领：{reason}"[:1000])
        notify(
            users=_brokers_for(deal.buyer_region_id, deal.seller_region_id),
            kind="deal_unassigned",
            text=f"对接待重新认领：《{deal.title}》",
            url=path_for("deals.detail", deal_id=deal.id),
        )
    return len(released)
