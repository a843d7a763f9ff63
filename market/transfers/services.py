"""Writes for the 公示 of a 协议定价 (a 高校's or 科研院所's result sold or licensed at a negotiated price: the 公示,
objections, the owner's answers, an official's decision, withdrawal) and for 挂牌 (list a result at a fixed price,
withdraw it, a verified buyer accepts it: the first wins, under the 挂牌 row's lock).

Who may act (one rule each):
  - publish / withdraw a 公示, answer an objection: a verified member (is_verified_actor) of the result's
    organisation, which must be a 高校 or 科研院所 (can_own_disclosure);
  - lodge an objection: any verified signed-in account that is not of the owner's organisation, during the period
    (may_object); anonymous visitors cannot (an objection needs someone who can be answered and held to it);
  - decide an objection (成立 / 不成立): an administrator, or a verified official whose region holds the owner
    organisation's region (can_decide);
  - list / withdraw a 挂牌: a verified member of the result's organisation, the result published (can_own_listing);
  - accept a 挂牌: a verified enterprise or institution user of another organisation (may_accept)."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..deals.services import deal_open_at_price
from ..errors import Conflict, DomainError, NotAllowed
from ..extensions import db
from ..formtokens import claim_form_token
from ..models import Achievement, Organization, User
from ..models.base import utcnow
from ..models.org import INSTITUTION_TYPES
from ..models.transfer import DISCLOSED_TYPES, OBJECTION_DECISIONS, Disclosure, DisclosureObjection, PriceListing
from ..money import contract_amount_problem, format_yuan
from ..notifications.services import notify, path_for
from ..permissions import is_verified_actor, region_in_scope
from ..templating import local_dt
from .sale import HELD, lock_result, sale_held

MIN_DAYS, MAX_DAYS = 5, 90  # a 公示's period (the default, DISCLOSURE_DAYS, is 15: what many universities use)
LISTING_MAX_DAYS = 365
BUYER_ROLES = ("enterprise", "institution")


def _field_error(name: str, message: str, status: int = 400) -> DomainError:
    return DomainError(message, fields={name: message}, status_code=status)


def default_days() -> int:
    return int(current_app.config.get("DISCLOSURE_DAYS", 15))


def is_member(user, org_id: int | None) -> bool:
    return (getattr(user, "is_authenticated", False) and user.role in BUYER_ROLES and user.org_id is not None
            and user.org_id == org_id and is_verified_actor(user))


def can_own_disclosure(user, achievement: Achievement) -> bool:
    return is_member(user, achievement.org_id) and achievement.org.org_type in INSTITUTION_TYPES


def can_decide(user, disclosure: Disclosure) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if user.role == "admin":
        return True
    return user.role == "official" and is_verified_actor(user) and region_in_scope(user, disclosure.org.region_id)


def can_see_contacts(user, disclosure: Disclosure) -> bool:
    """An objector's contact: the owner's members and those who decide."""
    return is_member(user, disclosure.org_id) or can_decide(user, disclosure)


def may_object(user, disclosure: Disclosure) -> str | None:
    """Why `user` may not lodge an objection now (None: they may)."""
    if not getattr(user, "is_authenticated", False):
        return "请先登录：认证通过的用户可以在公示期内提出异议"
    if not is_verified_actor(user):
        return "账号或单位通过认证后才能提出异议"
    if user.org_id is not None and user.org_id == disclosure.org_id:
        return "公示单位的用户不能对本单位的公示提出异议"
    if disclosure.state() != "open":
        return "公示期已结束或公示已撤回，不能再提出异议"
    return None


def _owner_members(org_id: int) -> list[int]:
    return list(db.session.scalars(select(User.id).where(User.org_id == org_id, User.active.is_(True))))


def _officials_for(region_id: int | None) -> list[int]:
    from ..models import Region

    region = db.session.get(Region, region_id) if region_id else None
    if region is None:
        return []
    ids = [i for i in region.ancestor_ids]
    return list(db.session.scalars(select(User.id).where(User.role == "official", User.active.is_(True),
                                                         User.region_id.in_(ids))))


# --- 公示 ---------------------------------------------------------------------------------------------------

def disclosure_create(*, user: User, achievement: Achievement, buyer_name: str, contract_type: str, price: Decimal,
                      days: int | None, contact_name: str, contact_phone: str = "", contact_email: str = "",
                      token: str | None, note: str = "") -> Disclosure:
    """A 公示 of the result's sale or licence at a negotiated price; `token` is the form's one-time token (a second
    submission of it makes no second 公示)."""
    if not can_own_disclosure(user, achievement):
        raise NotAllowed("只有成果所属高校、科研院所的认证用户可以发布协议定价公示")
    if achievement.status not in ("published", "done"):
        raise _field_error("achievement_id", "只能公示已公开发布的成果")
    errors: dict[str, str] = {}
    buyer_name = (buyer_name or "").strip()
    if not 2 <= len(buyer_name) <= 100:
        errors["buyer_name"] = "请填写受让（被许可）单位全称（2-100字）"
    elif buyer_name == achievement.org.name:
        errors["buyer_name"] = "受让单位不能是本单位"
    if contract_type not in DISCLOSED_TYPES:
        errors["contract_type"] = "请选择技术转让或技术许可"
    if price is None or price <= 0:
        errors["price"] = "请填写大于0的协议价格（元）"
    elif problem := contract_amount_problem(price, "协议价格"):
        errors["price"] = problem
    days = default_days() if days is None else days
    if not MIN_DAYS <= days <= MAX_DAYS:
        errors["days"] = f"公示期为{MIN_DAYS}-{MAX_DAYS}天"
    contact_name = (contact_name or "").strip()
    if not 2 <= len(contact_name) <= 50:
        errors["contact_name"] = "请填写异议联系人（2-50字）"
    if not (contact_phone or "").strip() and not (contact_email or "").strip():
        errors["contact_phone"] = "请至少填写联系电话或电子邮箱中的一项"
    if errors:
        raise DomainError("填写内容有误，请按提示修改", fields=errors)
    submission = claim_form_token(token=token, kind="disclosure", user=user,
                                  link=lambda _id: path_for("transfers.disclosure", disclosure_id=_id))
    buyer = db.session.scalar(select(Organization).where(Organization.name == buyer_name))
    now = utcnow()
    d = Disclosure(achievement_id=achievement.id, org_id=achievement.org_id, buyer_name=buyer_name,
                   buyer_org_id=buyer.id if buyer else None, contract_type=contract_type, price=price,
                   note=(note or "").strip(), days=days, starts_at=now, ends_at=now + timedelta(days=days),
                   contact_name=contact_name, contact_phone=(contact_phone or "").strip(),
                   contact_email=(contact_email or "").strip(), created_by_id=user.id, created_at=now)
    db.session.add(d)
    db.session.flush()
    submission.object_id = d.id
    if buyer is not None:
        notify(users=_owner_members(buyer.id), kind="disclosure_published",
               text=f"{achievement.org.name}发布了与贵单位的协议定价公示：《{achievement.title}》，"
                    f"{d.type_label} {format_yuan(price)}，公示至 {local_dt(d.ends_at)}",
               url=path_for("transfers.disclosure", disclosure_id=d.id))
    return d


def disclosure_withdraw(*, user: User, disclosure: Disclosure) -> Disclosure:
    if not is_member(user, disclosure.org_id):
        raise NotAllowed("只有公示单位的认证用户可以撤回公示")
    _lock(Disclosure, disclosure.id)
    if disclosure.withdrawn_at is not None:
        raise Conflict("该公示已撤回")
    if disclosure.contract_id is not None:
        from ..models import Contract

        contract = db.session.get(Contract, disclosure.contract_id)
        if contract is not None and not contract.voided:
            raise Conflict("该公示已用于登记技术合同，不能撤回")
    disclosure.withdrawn_at = utcnow()
    disclosure.withdrawn_by_id = user.id
    db.session.flush()
    return disclosure


def _lock(model, object_id: int):
    """The row, re-read under its lock (FOR UPDATE on PostgreSQL; SQLite's POSTs already hold the write lock)."""
    return db.session.scalar(select(model).where(model.id == object_id).with_for_update()
                             .execution_options(populate_existing=True))


def objection_lodge(*, user: User, disclosure: Disclosure, reasons: str, contact: str,
                    token: str | None) -> DisclosureObjection:
    _lock(Disclosure, disclosure.id)
    reason = may_object(user, disclosure)
    if reason and disclosure.state() == "open":
        raise NotAllowed(reason)
    if reason:
        raise Conflict("公示期已结束或公示已撤回，不能再提出异议")
    reasons, contact = (reasons or "").strip(), (contact or "").strip()
    errors = {}
    if not 10 <= len(reasons) <= 2000:
        errors["reasons"] = "请写明异议理由（10-2000字）"
    if not 5 <= len(contact) <= 120:
        errors["contact"] = "请填写您的联系方式（电话或电子邮箱，不公开）"
    if errors:
        raise DomainError("填写内容有误，请按提示修改", fields=errors)
    submission = claim_form_token(token=token, kind="objection", user=user, link=lambda _id: path_for(
        "transfers.disclosure", disclosure_id=disclosure.id, _anchor=f"objection-{_id}"))
    o = DisclosureObjection(disclosure_id=disclosure.id, author_id=user.id, author_org_id=user.org_id,
                            reasons=reasons, contact=contact, created_at=utcnow())
    db.session.add(o)
    db.session.flush()
    submission.object_id = o.id
    db.session.expire(disclosure, ["objections"])
    notify(users=_owner_members(disclosure.org_id) + _officials_for(disclosure.org.region_id),
           kind="disclosure_objection", exclude=user,
           text=f"协议定价公示《{disclosure.achievement.title}》收到异议，请公示单位答复、科技局认定",
           url=path_for("transfers.disclosure", disclosure_id=disclosure.id, _anchor=f"objection-{o.id}"))
    return o


def objection_answer(*, user: User, objection: DisclosureObjection, answer: str) -> DisclosureObjection:
    disclosure = objection.disclosure
    if not is_member(user, disclosure.org_id):
        raise NotAllowed("只有公示单位的认证用户可以答复异议")
    _lock(DisclosureObjection, objection.id)
    if objection.decision is not None:
        raise Conflict("该异议已有认定结果，不能再修改答复")
    answer = (answer or "").strip()
    if not 2 <= len(answer) <= 2000:
        raise _field_error("answer", "请填写答复（2-2000字）")
    objection.answer, objection.answered_by_id, objection.answered_at = answer, user.id, utcnow()
    db.session.flush()
    notify(users=[objection.author_id], kind="disclosure_answered",
           text=f"您对《{disclosure.achievement.title}》协议定价公示的异议已得到公示单位答复",
           url=path_for("transfers.disclosure", disclosure_id=disclosure.id, _anchor=f"objection-{objection.id}"))
    return objection


def objection_decide(*, user: User, objection: DisclosureObjection, decision: str, reason: str) -> DisclosureObjection:
    disclosure = objection.disclosure
    if not can_decide(user, disclosure):
        raise NotAllowed("只有公示单位所在区域的科技局工作人员或系统管理员可以认定异议")
    if decision not in OBJECTION_DECISIONS:
        raise _field_error("decision", "请选择认定结果")
    reason = (reason or "").strip()
    if not 2 <= len(reason) <= 500:
        raise _field_error("reason", "请填写认定理由（2-500字）")
    now = utcnow()
    # compare-and-set: two officials deciding at once cannot both pass
    done = db.session.execute(
        update(DisclosureObjection).where(DisclosureObjection.id == objection.id, DisclosureObjection.decision.is_(None))
        .values(decision=decision, decision_reason=reason, decided_by_id=user.id, decided_at=now)
        .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise Conflict("该异议已被认定，请刷新页面查看")
    db.session.refresh(objection)
    db.session.expire(disclosure, ["objections"])
    notify(users=[objection.author_id, *_owner_members(disclosure.org_id)], kind="disclosure_decided", exclude=user,
           text=f"《{disclosure.achievement.title}》协议定价公示的异议认定为：{OBJECTION_DECISIONS[decision]}",
           url=path_for("transfers.disclosure", disclosure_id=disclosure.id, _anchor=f"objection-{objection.id}"))
    return objection


# --- 挂牌 ---------------------------------------------------------------------------------------------------

def can_own_listing(user, achievement: Achievement) -> bool:
    return is_member(user, achievement.org_id)


def may_accept(user, listing: PriceListing) -> str | None:
    """Why `user` may not accept this 挂牌 now (None: they may)."""
    if not getattr(user, "is_authenticated", False):
        return "请先登录"
    if user.role not in BUYER_ROLES:
        return "只有企业、高校和科研院所的认证用户可以摘牌"
    if not is_verified_actor(user):
        return "单位通过认证后才能摘牌"
    if user.org_id == listing.org_id:
        return "不能购买本单位的成果"
    return None


def _close_expired(achievement_id: int) -> None:
    db.session.execute(update(PriceListing).where(
        PriceListing.achievement_id == achievement_id, PriceListing.status == "open", PriceListing.ends_at <= utcnow())
        .values(status="expired").execution_options(synchronize_session=False))


def listing_create(*, user: User, achievement: Achievement, price: Decimal, days: int, contract_type: str,
                   token: str | None, note: str = "") -> PriceListing:
    """A 挂牌 at a fixed price, one open at a time per result. The form's one-time `token` is claimed before the
    result's state is read: a second submission is told it was saved (with the link), not that the result is
    listed already."""
    if not can_own_listing(user, achievement):
        raise NotAllowed("只有成果所属单位的认证用户可以挂牌")
    if achievement.status != "published":
        raise _field_error("achievement_id", "只能挂牌已公开发布的成果")
    errors = {}
    if price is None or price <= 0:
        errors["price"] = "请填写大于0的挂牌价格（元）"
    elif problem := contract_amount_problem(price, "挂牌价格"):
        errors["price"] = problem
    if days is None or not 1 <= days <= LISTING_MAX_DAYS:
        errors["days"] = f"挂牌期为1-{LISTING_MAX_DAYS}天"
    if contract_type not in DISCLOSED_TYPES:
        errors["contract_type"] = "请选择技术转让或技术许可"
    if errors:
        raise DomainError("填写内容有误，请按提示修改", fields=errors)
    submission = claim_form_token(token=token, kind="price_listing", user=user,
                                  link=lambda _id: path_for("transfers.listing", price_listing_id=_id))
    _close_expired(achievement.id)
    lock_result(achievement.id)  # after the 挂牌 rows, in the order listing_accept takes them
    held = sale_held(achievement.id)
    if held == "listed":
        raise Conflict("该成果已在挂牌中，请先撤牌或等待到期")
    if held == "in_auction":
        raise Conflict("该成果正在竞价专场中，竞价结束前不能挂牌")
    if held:
        raise Conflict(f"{HELD[held]}，不能再次挂牌")
    now = utcnow()
    listing = PriceListing(achievement_id=achievement.id, org_id=achievement.org_id, contract_type=contract_type,
                           price=price, note=(note or "").strip(), starts_at=now, ends_at=now + timedelta(days=days),
                           status="open", created_by_id=user.id, created_at=now)
    try:
        with db.session.begin_nested():  # the partial unique index: a concurrent second 挂牌 of the result
            db.session.add(listing)
    except IntegrityError as exc:
        raise Conflict("该成果已在挂牌中，请先撤牌或等待到期") from exc
    submission.object_id = listing.id
    return listing


def listing_withdraw(*, user: User, listing: PriceListing) -> PriceListing:
    if not is_member(user, listing.org_id):
        raise NotAllowed("只有挂牌单位的认证用户可以撤牌")
    now = utcnow()
    done = db.session.execute(
        update(PriceListing).where(PriceListing.id == listing.id, PriceListing.status == "open")
        .values(status="withdrawn", closed_at=now, closed_by_id=user.id).execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise Conflict("该挂牌已成交、已撤牌或已到期，不能撤牌")
    db.session.refresh(listing)
    return listing


SOLD_MESSAGE = "该挂牌已被其他单位摘牌成交，不能再接受"


def listing_accept(*, user: User, listing: PriceListing):
    """The first verified buyer wins: under the 挂牌 row's lock it is checked open and within its period, marked
    sold to the buyer, and the deal opened at the listed price (source 'listed'). A second buyer at the same
    moment waits for the lock and is then told it is sold (409)."""
    reason = may_accept(user, listing)
    if reason:
        raise NotAllowed(reason)
    locked = _lock(PriceListing, listing.id)
    now = utcnow()
    state = locked.state(now)
    if state == "sold":
        raise Conflict(SOLD_MESSAGE)
    if state != "open":
        raise Conflict(f"该挂牌{locked.state_label(now)}，不能摘牌")
    achievement = locked.achievement
    if achievement.status != "published":
        raise Conflict("该成果已不在发布状态，不能摘牌")
    lock_result(achievement.id)
    held = sale_held(achievement.id, listing_id=locked.id)
    if held:
        raise Conflict(f"{HELD[held]}，不能摘牌")
    deal = deal_open_at_price(achievement=achievement, buyer_org=user.org, price=locked.price, source="listed",
                              contract_type=locked.contract_type, user=user, text=f"接受挂牌价 {format_yuan(locked.price)}（挂牌 #{locked.id}）")
    locked.status, locked.buyer_org_id, locked.buyer_user_id = "sold", user.org_id, user.id
    locked.sold_at, locked.deal_id = now, deal.id
    db.session.flush()
    url = path_for("deals.detail", deal_id=deal.id)
    notify(users=_owner_members(locked.org_id), kind="price_listing_sold",
           text=f"挂牌成果《{achievement.title}》已由{user.org.name}以 {format_yuan(locked.price)} 摘牌，对接已开启", url=url)
    notify(users=[user.id], kind="price_listing_bought",
           text=f"您已摘牌《{achievement.title}》（{format_yuan(locked.price)}），技术经纪人将跟进签约", url=url)
    return deal
