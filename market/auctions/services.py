"""Writes for 竞价 sessions: the organiser's session and lots, deposits received, bids and proxy bids decided under
the lot's row lock, anti-sniping extensions, and the close (sold at the highest bid at or above the reserve, which
opens a deal at that price, or unsold), with every step kept as a lot event.

The bidding engine. A lot holds its standing bid (`current_price`, `leader_org_id`). A bid must reach the next
amount (the starting price first, then the standing bid plus the increment) and comes from a bidder who does not
lead already. A proxy (代理出价) holds a hidden ceiling: whenever its organisation is outbid, the server bids for it
one increment above the standing bid, up to the ceiling. Two proxies that meet raise each other one increment at a
time; the exchange is computed at once and its last two steps are recorded, so that every recorded bid is at least
one increment above the one before: the proxy that reaches more increments above the standing bid wins, one
increment above the other's reach; equal reach goes to the earlier proxy (`_resolve_proxies`). A bid that only
reaches a proxy's ceiling leads: a proxy answers only with a full increment. Bids of an organisation that lost its
verification or whose deposit no longer covers the lot's do not count (`_eligible_orgs`). A lot whose result was
withdrawn or sold meanwhile closes unsold (`_sale_blocked`). A bid that lands within `snipe_window_minutes` of the end moves the end to `extend_minutes` after it.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from ..deals.services import deal_open_at_price
from ..errors import Conflict, DomainError, NotAllowed
from ..extensions import db
from ..formtokens import claim_form_token
from ..happenings.forms import MAX_YEAR, MIN_YEAR, YEAR_MESSAGE
from ..happenings.services import local_to_utc
from ..models import Achievement, Organization, User
from ..models.auction import AuctionBid, AuctionDeposit, AuctionLot, AuctionLotEvent, AuctionProxy, AuctionSession
from ..models.base import utcnow
from ..money import contract_amount_problem, format_yuan
from ..notifications.services import notify, path_for
from ..permissions import in_scope, is_verified_actor
from ..transfers.sale import HELD, lock_result, sale_held

BIDDER_ROLES = ("enterprise", "institution")
MAX_LOTS = 50
MAX_MINUTES = 24 * 60


def _field_error(name: str, message: str, status: int = 400) -> DomainError:
    return DomainError(message, fields={name: message}, status_code=status)


def _local(value: datetime) -> str:
    from ..templating import local_dt

    return local_dt(value)


# --- who ---------------------------------------------------------------------------------------------------------

def may_organise(user) -> bool:
    """Who opens a session: a verified official of a region, or a verified broker of a verified 服务机构."""
    if not getattr(user, "is_authenticated", False) or not is_verified_actor(user):
        return False
    if user.role == "official":
        return bool(user.region_id)
    return user.role == "broker" and user.org is not None and user.org.org_type == "agency"


def can_manage(user, session: AuctionSession) -> bool:
    """The session's organiser side: verified officials whose region contains the session's region (for a session
    an official opened), or the verified brokers of the 服务机构 that opened it."""
    if not getattr(user, "is_authenticated", False) or not is_verified_actor(user):
        return False
    if session.organiser_org_id is not None:
        return user.role == "broker" and user.org_id == session.organiser_org_id
    return user.role == "official" and in_scope(user, session.region)


def can_see_results(user, session: AuctionSession) -> bool:
    """The organiser's side and the officials of the session's region see the figures (reserve, proxies, totals)."""
    if can_manage(user, session):
        return True
    return (getattr(user, "is_authenticated", False) and user.role in ("official", "admin")
            and in_scope(user, session.region))


def may_bid(user, lot: AuctionLot) -> str | None:
    """Why `user` may not bid on the lot (None: they may). Time is checked under the lock, in bid_place."""
    if not getattr(user, "is_authenticated", False):
        return "请先登录"
    if user.role not in BIDDER_ROLES:
        return "只有企业、高校和科研院所的用户可以参加竞价"
    if not is_verified_actor(user):
        return "单位通过认证后才能参加竞价"
    if user.org_id == lot.seller_org_id:
        return "不能对本单位的成果出价"
    if lot.session.state != "published":
        return "该竞价专场尚未发布或已取消"
    deposit = db.session.scalar(select(AuctionDeposit).where(AuctionDeposit.lot_id == lot.id,
                                                             AuctionDeposit.org_id == user.org_id))
    if deposit is None or deposit.status not in ("held", "applied"):
        return f"须先缴纳竞买保证金（{format_yuan(lot.deposit_amount)}），组织方确认收到后才能出价"
    if deposit.amount < lot.deposit_amount:  # the organiser raised the deposit after this one was recorded
        return (f"本拍品的保证金已调整为{format_yuan(lot.deposit_amount)}，贵单位已缴{format_yuan(deposit.amount)}，"
                "请补足并经组织方确认后出价")
    return None


def _eligible_orgs(lot: AuctionLot) -> set[int]:
    """The organisations whose bids still count: verified, with a held deposit covering the lot's. A bidder whose
    organisation lost its verification (or whose deposit fell short) is passed over by the proxies and the close,
    as `may_bid` refuses its new bids."""
    return set(db.session.scalars(
        select(AuctionDeposit.org_id).join(Organization, Organization.id == AuctionDeposit.org_id)
        .where(AuctionDeposit.lot_id == lot.id, AuctionDeposit.status.in_(("held", "applied")),
               AuctionDeposit.amount >= lot.deposit_amount, Organization.status == "verified")))


# --- sessions and lots -------------------------------------------------------------------------------------------

def session_create(*, user: User, title: str, description: str, token: str | None) -> AuctionSession:
    """A draft session of the organiser's region; `token` is the form's one-time token (one session per submission)."""
    if not may_organise(user):
        raise NotAllowed("只有科技局工作人员或已认证服务机构的技术经纪人可以创建竞价专场")
    agency = user.org if user.role == "broker" else None
    region_id = user.region_id or (agency.region_id if agency is not None else None)
    if region_id is None:
        raise NotAllowed("您的账号没有所属区域，不能创建竞价专场")
    submission = claim_form_token(token=token, kind="auction_session", user=user,
                                  link=lambda _id: path_for("auctions.session_detail", session_id=_id))
    session = AuctionSession(title=title.strip(), description=(description or "").strip(), region_id=region_id,
                             organiser_id=user.id, organiser_org_id=agency.id if agency is not None else None,
                             state="draft")
    db.session.add(session)
    db.session.flush()
    submission.object_id = session.id
    return session


def session_update(*, user: User, session: AuctionSession, title: str, description: str) -> AuctionSession:
    if not can_manage(user, session):
        raise NotAllowed("只有专场组织方可以修改专场")
    if session.state == "cancelled":
        raise Conflict("专场已取消，不能修改")
    session.title, session.description = title.strip(), (description or "").strip()
    db.session.flush()
    return session


def _lock_session(session: AuctionSession) -> AuctionSession:
    return db.session.scalar(select(AuctionSession).where(AuctionSession.id == session.id).with_for_update()
                             .execution_options(populate_existing=True))


def session_publish(*, user: User, session: AuctionSession) -> AuctionSession:
    """Draft -> published: every lot then shows to bidders; the sellers are told."""
    if not can_manage(user, session):
        raise NotAllowed("只有专场组织方可以发布专场")
    session = _lock_session(session)
    if session.state != "draft":
        raise Conflict(f"专场{session.state_label}，不能再发布")
    if not session.lots:
        raise Conflict("请先添加至少一个拍品")
    session.state, session.published_at = "published", utcnow()
    db.session.flush()
    sellers = {lot.seller_org_id for lot in session.lots}
    members = db.session.scalars(select(User.id).where(User.org_id.in_(sellers), User.active.is_(True)))
    notify(users=list(members), exclude=user, kind="auction_published",
           text=f"竞价专场《{session.title}》已发布，您单位的成果在其中竞价",
           url=path_for("auctions.session_detail", session_id=session.id))
    return session


def session_cancel(*, user: User, session: AuctionSession) -> AuctionSession:
    """Only while no lot has started (nothing has been bid)."""
    if not can_manage(user, session):
        raise NotAllowed("只有专场组织方可以取消专场")
    session = _lock_session(session)
    if session.state == "cancelled":
        raise Conflict("专场已经取消")
    now = utcnow()
    if any(lot.starts_at <= now or lot.bid_count for lot in session.lots):
        raise Conflict("已有拍品开始竞价，不能取消专场")
    session.state = "cancelled"
    for lot in session.lots:
        for deposit in db.session.scalars(select(AuctionDeposit).where(AuctionDeposit.lot_id == lot.id,
                                                                       AuctionDeposit.status == "held")):
            deposit.status, deposit.updated_at = "to_return", now
    db.session.flush()
    return session


def _check_lot_terms(*, starting_price: Decimal, reserve_price: Decimal | None, increment: Decimal,
                     deposit_amount: Decimal, starts_at: datetime, ends_at: datetime, snipe_window_minutes: int,
                     extend_minutes: int, now: datetime) -> tuple[datetime, datetime]:
    for name, value, label in (("starting_price", starting_price, "起拍价"), ("increment", increment, "加价幅度"),
                               ("reserve_price", reserve_price, "保留价"), ("deposit_amount", deposit_amount, "保证金")):
        if value is None:
            continue
        if value < 0 or (value == 0 and name != "deposit_amount"):
            raise _field_error(name, f"{label}应大于0")
        problem = contract_amount_problem(value, label)
        if problem:
            raise _field_error(name, problem)
    if reserve_price is not None and reserve_price < starting_price:
        raise _field_error("reserve_price", "保留价不能低于起拍价（不设保留价请留空）")
    if increment > starting_price:
        raise _field_error("increment", "加价幅度不能超过起拍价")
    for name, value in (("starts_at", starts_at), ("ends_at", ends_at)):
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            raise _field_error(name, YEAR_MESSAGE)
    starts_at, ends_at = local_to_utc(starts_at), local_to_utc(ends_at)
    if starts_at <= now:
        raise _field_error("starts_at", "竞价开始时间应晚于现在")
    if ends_at <= starts_at + timedelta(minutes=1):
        raise _field_error("ends_at", "竞价结束时间应晚于开始时间至少1分钟")
    if ends_at - starts_at > timedelta(days=30):
        raise _field_error("ends_at", "单个拍品的竞价时间不超过30天")
    if not 0 <= snipe_window_minutes <= MAX_MINUTES:
        raise _field_error("snipe_window_minutes", "延时触发时段应为0-1440分钟")
    if not 1 <= extend_minutes <= MAX_MINUTES:
        raise _field_error("extend_minutes", "每次延时应为1-1440分钟")
    return starts_at, ends_at


def lot_create(*, user: User, session: AuctionSession, achievement_id: int, starting_price: Decimal,
               reserve_price: Decimal | None, increment: Decimal, deposit_amount: Decimal, starts_at: datetime,
               ends_at: datetime, token: str | None, snipe_window_minutes: int = 5,
               extend_minutes: int = 5) -> AuctionLot:
    """A lot of a published result of the session's region, with its terms; times are wall-clock Asia/Shanghai
    (or aware) and must lie in the future. The form's one-time `token` is claimed before the session's lots and
    the result's sale are read: a second submission is told it was saved (with the link), not that the result is
    in a session already."""
    if not can_manage(user, session):
        raise NotAllowed("只有专场组织方可以添加拍品")
    session = _lock_session(session)
    if session.state == "cancelled":
        raise Conflict("专场已取消，不能添加拍品")
    submission = claim_form_token(token=token, kind="auction_lot", user=user,
                                  link=lambda _id: path_for("auctions.lot_detail", lot_id=_id))
    if len(session.lots) >= MAX_LOTS:
        raise Conflict(f"每个专场最多{MAX_LOTS}个拍品")
    achievement = db.session.get(Achievement, achievement_id) if achievement_id else None
    if achievement is None or achievement.status != "published" or not session.region.contains(achievement.region):
        raise _field_error("achievement_id", "所选成果不存在、未公开发布或不在专场所在区域")
    lock_result(achievement.id)  # one result, one sale (transfers/sale.py)
    held = sale_held(achievement.id)
    if held == "in_auction":
        raise _field_error("achievement_id", "该成果已在其他竞价专场中，结束前不能再次上拍")
    if held == "listed":
        raise _field_error("achievement_id", "该成果正在挂牌交易中，挂牌结束或撤回前不能上拍")
    if held:
        raise _field_error("achievement_id", "该成果已通过挂牌或竞价售出，不能再次上拍")
    starts, ends = _check_lot_terms(starting_price=starting_price, reserve_price=reserve_price, increment=increment,
                                    deposit_amount=deposit_amount, starts_at=starts_at, ends_at=ends_at,
                                    snipe_window_minutes=snipe_window_minutes, extend_minutes=extend_minutes,
                                    now=utcnow())
    lot = AuctionLot(session_id=session.id, achievement_id=achievement.id, seller_org_id=achievement.org_id,
                     starting_price=starting_price, reserve_price=reserve_price, increment=increment,
                     deposit_amount=deposit_amount, starts_at=starts, ends_at=ends, original_ends_at=ends,
                     snipe_window_minutes=snipe_window_minutes, extend_minutes=extend_minutes, state="open",
                     bid_count=0, version=0)
    db.session.add(lot)
    db.session.flush()
    submission.object_id = lot.id
    db.session.expire(session, ["lots"])
    return lot


def _lock(lot: AuctionLot | int) -> AuctionLot:
    lot_id = lot if isinstance(lot, int) else lot.id
    return db.session.scalar(select(AuctionLot).where(AuctionLot.id == lot_id).with_for_update()
                             .execution_options(populate_existing=True))


def lot_update(*, user: User, lot: AuctionLot, starting_price: Decimal, reserve_price: Decimal | None,
               increment: Decimal, deposit_amount: Decimal, starts_at: datetime, ends_at: datetime,
               snipe_window_minutes: int, extend_minutes: int) -> AuctionLot:
    """The terms change only before the lot starts."""
    if not can_manage(user, lot.session):
        raise NotAllowed("只有专场组织方可以修改拍品")
    lot = _lock(lot)
    now = utcnow()
    if lot.session.state == "cancelled":
        raise Conflict("专场已取消，不能修改拍品")
    if lot.state != "open" or lot.starts_at <= now:
        raise Conflict("拍品已开始竞价，不能再修改")
    starts, ends = _check_lot_terms(starting_price=starting_price, reserve_price=reserve_price, increment=increment,
                                    deposit_amount=deposit_amount, starts_at=starts_at, ends_at=ends_at,
                                    snipe_window_minutes=snipe_window_minutes, extend_minutes=extend_minutes, now=now)
    lot.starting_price, lot.reserve_price, lot.increment = starting_price, reserve_price, increment
    lot.deposit_amount, lot.starts_at, lot.ends_at, lot.original_ends_at = deposit_amount, starts, ends, ends
    lot.snipe_window_minutes, lot.extend_minutes = snipe_window_minutes, extend_minutes
    lot.version += 1
    db.session.add(AuctionLotEvent(lot_id=lot.id, kind="edit", actor_id=user.id, created_at=now,
                                   text="组织方修改了竞价条件"))
    db.session.flush()
    return lot


def deposit_record(*, user: User, lot: AuctionLot, org_id: int, amount: Decimal) -> AuctionDeposit:
    """The organiser records a bidder's deposit as received (at least the lot's deposit); before the end only."""
    if not can_manage(user, lot.session):
        raise NotAllowed("只有专场组织方可以登记保证金")
    lot = _lock(lot)
    if lot.session.state not in ("draft", "published"):
        raise Conflict("专场已取消，不能再登记保证金")
    if lot.state != "open" or lot.ends_at <= utcnow():
        raise Conflict("竞价已结束，不能再登记保证金")
    org = db.session.get(Organization, org_id) if org_id else None
    if org is None or not org.is_verified or org.org_type == "agency":
        raise _field_error("org_id", "所选单位不存在、未通过认证或不能参加竞价")
    if org.id == lot.seller_org_id:
        raise _field_error("org_id", "成果所属单位不能参加本拍品的竞价")
    if amount is None or amount < lot.deposit_amount:
        raise _field_error("amount", f"到账金额不能低于本拍品的保证金（{format_yuan(lot.deposit_amount)}）")
    problem = contract_amount_problem(amount, "保证金")
    if problem:
        raise _field_error("amount", problem)
    exists = db.session.scalar(select(AuctionDeposit.id).where(AuctionDeposit.lot_id == lot.id,
                                                               AuctionDeposit.org_id == org.id))
    if exists is not None:
        raise Conflict(f"{org.name}的保证金已经登记")
    now = utcnow()
    deposit = AuctionDeposit(lot_id=lot.id, org_id=org.id, amount=amount, recorded_by_id=user.id, received_at=now,
                             status="held", updated_at=now)
    db.session.add(deposit)
    db.session.add(AuctionLotEvent(lot_id=lot.id, kind="deposit", actor_id=user.id, org_id=org.id, created_at=now,
                                   text="组织方确认收到一位竞买人的保证金"))
    db.session.flush()
    members = db.session.scalars(select(User.id).where(User.org_id == org.id, User.active.is_(True)))
    notify(users=list(members), kind="auction_deposit",
           text=f"竞价拍品《{lot.achievement.title}》：已确认收到贵单位保证金 {format_yuan(amount)}，可以出价",
           url=path_for("auctions.lot_detail", lot_id=lot.id))
    return deposit


# --- the engine --------------------------------------------------------------------------------------------------

def _next_amount(lot: AuctionLot) -> Decimal:
    return lot.starting_price if lot.current_price is None else lot.current_price + lot.increment


def _open_for_bids(lot: AuctionLot, now: datetime) -> None:
    if lot.state != "open" or lot.session.state != "published":
        raise Conflict("该拍品的竞价已结束")
    if now < lot.starts_at:
        raise Conflict(f"竞价尚未开始（开始时间：北京时间 {_local(lot.starts_at)}）")
    if now >= lot.ends_at:
        raise Conflict(f"竞价已于北京时间 {_local(lot.ends_at)} 结束，出价未被接受")


def _check_amount(name: str, amount: Decimal | None, label: str) -> Decimal:
    if amount is None:
        raise _field_error(name, f"请填写{label}")
    if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise _field_error(name, f"{label}应为大于0、最多两位小数的金额（元）")
    problem = contract_amount_problem(amount, label)
    if problem:
        raise _field_error(name, problem)
    return amount


def _append_bid(lot: AuctionLot, *, org_id: int, user_id: int, amount: Decimal, kind: str, now: datetime) -> AuctionBid:
    seq = lot.bid_count + 1
    bid = AuctionBid(lot_id=lot.id, seq=seq, org_id=org_id, user_id=user_id, amount=amount, kind=kind, created_at=now)
    db.session.add(bid)
    db.session.add(AuctionLotEvent(lot_id=lot.id, kind=kind, actor_id=user_id, org_id=org_id, bid_seq=seq,
                                   amount=amount, created_at=now))
    lot.bid_count, lot.current_price, lot.leader_org_id = seq, amount, org_id
    return bid


def _resolve_proxies(lot: AuctionLot, now: datetime) -> list[AuctionBid]:
    """Let the proxies of organisations other than the leader answer the standing bid (see the module's text).

    One rule, whatever the amounts: of the leader (its proxy's ceiling, or its standing bid without one) and the
    best challenging proxy, the one that reaches more increments above the standing bid wins, one increment above
    what the other reaches, within its own ceiling; equal reach goes to the earlier proxy, at that reach. Only
    the proxies of organisations whose bids still count (`_eligible_orgs`) and of active users take part."""
    placed: list[AuctionBid] = []
    eligible = _eligible_orgs(lot)
    proxies = [p for p in db.session.scalars(
        select(AuctionProxy).join(User, User.id == AuctionProxy.user_id)
        .where(AuctionProxy.lot_id == lot.id, User.active.is_(True))
        .order_by(AuctionProxy.ceiling.desc(), AuctionProxy.updated_at, AuctionProxy.id)) if p.org_id in eligible]
    for _ in range(len(proxies) + 1):
        need = _next_amount(lot)
        challenger = next((p for p in proxies if p.org_id != lot.leader_org_id and p.ceiling >= need), None)
        if challenger is None:
            break
        if lot.current_price is None:  # the first bid of the lot: the proxy opens at the starting price
            placed.append(_append_bid(lot, org_id=challenger.org_id, user_id=challenger.user_id, amount=need,
                                      kind="proxy", now=now))
            continue
        price, inc = lot.current_price, lot.increment
        defender = next((p for p in proxies if p.org_id == lot.leader_org_id), None)
        reach_c = int((challenger.ceiling - price) // inc)  # >= 1: it can bid `need`
        reach_d = int((defender.ceiling - price) // inc) if defender is not None and defender.ceiling > price else 0
        if reach_c > reach_d:
            winner, loser, loser_reach, top = challenger, defender, reach_d, reach_d + 1
        elif reach_d > reach_c:
            winner, loser, loser_reach, top = defender, challenger, reach_c, reach_c + 1
        else:  # equal reach: the earlier proxy keeps or takes it at that reach
            earlier = defender is not None and (defender.updated_at, defender.id) <= (challenger.updated_at, challenger.id)
            winner, loser = (defender, challenger) if earlier else (challenger, defender)
            loser_reach, top = reach_c - 1, reach_c
        if loser is not None and loser_reach >= 1:
            placed.append(_append_bid(lot, org_id=loser.org_id, user_id=loser.user_id,
                                      amount=price + loser_reach * inc, kind="proxy", now=now))
        placed.append(_append_bid(lot, org_id=winner.org_id, user_id=winner.user_id, amount=price + top * inc,
                                  kind="proxy", now=now))
    return placed


def _after_bids(lot: AuctionLot, user: User, now: datetime) -> None:
    """Anti-sniping: a bid within the window before the end moves the end; then the lot's version grows."""
    window = timedelta(minutes=lot.snipe_window_minutes)
    if lot.snipe_window_minutes and now >= lot.ends_at - window:
        new_end = now + timedelta(minutes=lot.extend_minutes)
        if new_end > lot.ends_at:
            db.session.add(AuctionLotEvent(lot_id=lot.id, kind="extend", actor_id=user.id, ends_at=new_end,
                                           created_at=now, text=f"结束前{lot.snipe_window_minutes}分钟内有出价，"
                                           f"结束时间延至北京时间 {_local(new_end)}"))
            lot.ends_at = new_end
    lot.version += 1
    db.session.flush()


def bid_place(*, user: User, lot: AuctionLot, amount: Decimal | None) -> AuctionBid:
    """A bid in 元, decided under the lot's row lock on the server's clock: at least the next amount, from a bidder
    with a held deposit who does not lead already; then the other bidders' proxies answer it."""
    reason = may_bid(user, lot)
    if reason:
        raise NotAllowed(reason)
    amount = _check_amount("amount", amount, "出价")
    lot = _lock(lot)
    now = utcnow()
    _open_for_bids(lot, now)
    if lot.leader_org_id == user.org_id:
        raise Conflict(f"贵单位已是当前最高出价方（{format_yuan(lot.current_price)}），无需再出价")
    need = _next_amount(lot)
    if amount < need:
        raise _field_error("amount", f"出价不能低于{format_yuan(need)}（当前价加一个加价幅度），请刷新后重试", 409)
    bid = _append_bid(lot, org_id=user.org_id, user_id=user.id, amount=amount, kind="bid", now=now)
    _resolve_proxies(lot, now)
    _after_bids(lot, user, now)
    return bid


def proxy_set(*, user: User, lot: AuctionLot, ceiling: Decimal | None) -> AuctionProxy:
    """Set or raise the organisation's ceiling; the server then bids for it as needed (at once when it is outbid)."""
    reason = may_bid(user, lot)
    if reason:
        raise NotAllowed(reason)
    ceiling = _check_amount("ceiling", ceiling, "代理出价上限")
    lot = _lock(lot)
    now = utcnow()
    _open_for_bids(lot, now)
    proxy = db.session.scalar(select(AuctionProxy).where(AuctionProxy.lot_id == lot.id,
                                                         AuctionProxy.org_id == user.org_id))
    if proxy is not None and ceiling <= proxy.ceiling:
        raise _field_error("ceiling", f"代理出价上限只能提高（现为{format_yuan(proxy.ceiling)}）", 409)
    floor = lot.current_price if lot.leader_org_id == user.org_id else None
    need = _next_amount(lot)
    if floor is not None and ceiling <= floor:
        raise _field_error("ceiling", f"代理出价上限应高于贵单位当前的出价（{format_yuan(floor)}）", 409)
    if floor is None and ceiling < need:
        raise _field_error("ceiling", f"代理出价上限不能低于{format_yuan(need)}（当前可出的最低价）", 409)
    if proxy is None:
        proxy = AuctionProxy(lot_id=lot.id, org_id=user.org_id, user_id=user.id, ceiling=ceiling, created_at=now,
                             updated_at=now)
        db.session.add(proxy)
    else:
        proxy.ceiling, proxy.user_id = ceiling, user.id  # updated_at stays: a raise keeps its place on a tie
    db.session.add(AuctionLotEvent(lot_id=lot.id, kind="proxy_set", actor_id=user.id, org_id=user.org_id,
                                   created_at=now, text="一位竞买人设置了代理出价（上限不公开）"))
    db.session.flush()
    if _resolve_proxies(lot, now):
        _after_bids(lot, user, now)
    else:
        lot.version += 1
        db.session.flush()
    return proxy


# --- the close ---------------------------------------------------------------------------------------------------

def lot_close(*, lot: AuctionLot | int, now: datetime | None = None) -> bool:
    """Decide a lot whose end has passed: sold to the leader when the standing bid reaches the reserve (a deal
    opens at that price; the winner's deposit is applied, the others' marked for return), else unsold (every
    deposit marked for return). Under the lot's lock, so that closing twice decides once. True when it closed
    the lot now."""
    lot = _lock(lot)
    now = now or utcnow()
    if lot is None or lot.state != "open" or now < lot.ends_at:
        return False
    session = lot.session
    if session.state != "published":
        return False
    title = lot.achievement.title
    blocked = _sale_blocked(lot)
    if blocked is None:
        _standing_bid_that_counts(lot, now)
    met = (blocked is None and lot.current_price is not None
           and (lot.reserve_price is None or lot.current_price >= lot.reserve_price))
    deposits = list(db.session.scalars(select(AuctionDeposit).where(AuctionDeposit.lot_id == lot.id)))
    lot.closed_at = now
    if met:
        lot.state = "sold"
        winner = db.session.get(Organization, lot.leader_org_id)
        deal = deal_open_at_price(achievement=lot.achievement, buyer_org=winner, price=lot.current_price,
                                  source="auction", user=session.organiser,
                                  text=f"竞价专场《{session.title}》拍品《{title}》成交，成交价 {format_yuan(lot.current_price)}")
        lot.deal_id = deal.id
        text = f"成交：最高出价 {format_yuan(lot.current_price)}" + ("，达到保留价" if lot.reserve_price else "（未设保留价）")
    else:
        lot.state = "unsold"
        text = (f"流拍：{blocked}" if blocked is not None else "流拍：无人出价" if lot.current_price is None
                else f"流拍：最高出价 {format_yuan(lot.current_price)} 未达到保留价 {format_yuan(lot.reserve_price)}")
    db.session.add(AuctionLotEvent(lot_id=lot.id, kind=lot.state, org_id=lot.leader_org_id if met else None,
                                   amount=lot.current_price, created_at=now, text=text))
    returned = 0
    for d in deposits:
        if d.status != "held":
            continue
        d.status = "applied" if met and d.org_id == lot.leader_org_id else "to_return"
        d.updated_at = now
        returned += d.status == "to_return"
    if deposits:
        db.session.add(AuctionLotEvent(lot_id=lot.id, kind="deposit", created_at=now,
                                       text=f"保证金：{returned}家标记为待退还"
                                            + ("，成交方保证金转作价款" if met else "")))
    lot.version += 1
    db.session.flush()
    _tell_close(lot, deposits, met)
    return True


def _sale_blocked(lot: AuctionLot) -> str | None:
    """Why the result can no longer be sold at this close: its owner withdrew or closed it, or another sale holds it
    (a 挂牌 accepted meanwhile, with that deal still live): one result, one sale (transfers/sale.py)."""
    if lot.achievement.status != "published":
        return "成果已撤回或不再公开，不能成交"
    lock_result(lot.achievement_id)
    held = sale_held(lot.achievement_id, lot_id=lot.id)
    if held:
        return f"{HELD[held]}，不能再次成交" if held == "sold" else f"{HELD[held]}，本拍品不能成交"
    return None


def _standing_bid_that_counts(lot: AuctionLot, now: datetime) -> None:
    """The highest valid bid: when the leader's bids no longer count (its organisation lost its verification, its
    deposit fell short), the highest bid of an organisation whose bids count stands instead, with an event."""
    if lot.leader_org_id is None:
        return
    eligible = _eligible_orgs(lot)
    if lot.leader_org_id in eligible:
        return
    best = db.session.scalar(select(AuctionBid).where(AuctionBid.lot_id == lot.id, AuctionBid.org_id.in_(eligible))
                             .order_by(AuctionBid.amount.desc(), AuctionBid.seq).limit(1)) if eligible else None
    db.session.add(AuctionLotEvent(lot_id=lot.id, kind="edit", org_id=lot.leader_org_id, created_at=now,
                                   text="最高出价方已不具备竞买资格（单位认证失效或保证金不足），其出价不计"))
    lot.current_price, lot.leader_org_id = (best.amount, best.org_id) if best is not None else (None, None)


def _tell_close(lot: AuctionLot, deposits: list[AuctionDeposit], met: bool) -> None:
    title, url = lot.achievement.title, path_for("auctions.lot_detail", lot_id=lot.id)
    orgs = {d.org_id for d in deposits} | {lot.seller_org_id}
    members: dict[int, list[int]] = {}
    for uid, org_id in db.session.execute(select(User.id, User.org_id).where(User.org_id.in_(orgs),
                                                                            User.active.is_(True))):
        members.setdefault(org_id, []).append(uid)
    if met:
        notify(users=members.get(lot.leader_org_id, []), kind="auction_won",
               text=f"竞价拍品《{title}》：贵单位以 {format_yuan(lot.current_price)} 竞得，已开启对接", url=url)
    notify(users=members.get(lot.seller_org_id, []), kind="auction_closed",
           text=f"竞价拍品《{title}》" + (f"成交，成交价 {format_yuan(lot.current_price)}" if met else "流拍"), url=url)
    others = [uid for d in deposits if not (met and d.org_id == lot.leader_org_id) for uid in members.get(d.org_id, [])]
    notify(users=others, kind="auction_closed",
           text=f"竞价拍品《{title}》竞价结束" + ("，未竞得" if met else "，流拍") + "；保证金已标记为待退还", url=url)
    notify(users=[lot.session.organiser_id], kind="auction_closed",
           text=f"竞价拍品《{title}》" + (f"成交，成交价 {format_yuan(lot.current_price)}" if met else "流拍"), url=url)


def due_lot_ids(now: datetime | None = None, limit: int = 500) -> list[int]:
    now = now or utcnow()
    return list(db.session.scalars(select(AuctionLot.id).join(AuctionSession).where(
        AuctionLot.state == "open", AuctionLot.ends_at <= now, AuctionSession.state == "published")
        .order_by(AuctionLot.ends_at, AuctionLot.id).limit(limit)))


def deposit_mark_returned(*, user: User, deposit: AuctionDeposit) -> AuctionDeposit:
    """The organiser marks a deposit 'to_return' as returned."""
    lot = db.session.get(AuctionLot, deposit.lot_id)
    if not can_manage(user, lot.session):
        raise NotAllowed("只有专场组织方可以登记保证金退还")
    _lock(lot)
    deposit = db.session.scalar(select(AuctionDeposit).where(AuctionDeposit.id == deposit.id).with_for_update()
                                .execution_options(populate_existing=True))
    if deposit.status != "to_return":
        raise Conflict(f"该保证金{deposit.status_label}，不能登记退还")
    now = utcnow()
    deposit.status, deposit.updated_at = "returned", now
    db.session.add(AuctionLotEvent(lot_id=lot.id, kind="deposit", actor_id=user.id, org_id=deposit.org_id,
                                   created_at=now, text="组织方登记一位竞买人的保证金已退还"))
    db.session.flush()
    return deposit

