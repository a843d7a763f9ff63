"""Writes for events: create, sign up (capacity held by one conditional UPDATE of the event's counter), cancel
(the first of the waiting list takes the seat), check in (a signed code, used once), and the 意向 recorded on
the spot (deals.services.interest_create, tagged with the event)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import select, update

from ..errors import Conflict, DomainError, NotAllowed
from ..extensions import db
from ..forms import MAX_RECORD_ID
from ..formtokens import claim_form_token
from ..models import LISTING_MODELS, Happening, HappeningListing, HappeningSession, HappeningSignup, User
from ..models.base import utcnow
from ..models.happening import HAPPENING_KINDS
from ..notifications.services import notify, path_for
from ..permissions import in_scope, is_verified_actor
from ..templating import CHINA_TZ, local_dt
from .forms import MAX_YEAR, MIN_YEAR, YEAR_MESSAGE

SIGNUP_ROLES = ("enterprise", "institution", "broker")
MAX_CAPACITY = 100000
CHECKIN_EARLY = timedelta(hours=24)  # the check-in desk opens a day before the start
MAX_PRESENTED = 50  # listings one event presents


def can_manage(user, happening: Happening) -> bool:
    """The organiser's pages (check-in, outcome, on-the-spot 意向): admins, and verified officials whose region
    contains the event's region."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.role == "admin":
        return True
    return user.role == "official" and is_verified_actor(user) and in_scope(user, happening.region)


def can_edit(user, happening: Happening) -> bool:
    """Who may change an event: verified officials whose region contains the event's (as only they create one);
    an admin runs the desk but does not rewrite another bureau's event."""
    return (getattr(user, "is_authenticated", False) and user.role == "official" and is_verified_actor(user)
            and in_scope(user, happening.region))


CANCEL_REASON_MAX = 500


def refuse_cancelled(happening: Happening, doing: str) -> None:
    """Nothing more happens at an event its organiser called off (409)."""
    if happening.status == "cancelled":
        raise Conflict(f"活动已取消，{doing}")


def local_to_utc(value: datetime) -> datetime:
    """A wall-clock time typed in the market's time zone, as an aware UTC datetime."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=CHINA_TZ)
    return value.astimezone(timezone.utc)


_SESSION_LINE = re.compile(r"^(\d{4}-\d{1,2}-\d{1,2})\s+(\d{1,2}:\d{2})\s*[-–—~至]\s*(\d{1,2}:\d{2})\s+(.+)$")


def parse_sessions(text: str) -> list[tuple[str, datetime, datetime]]:
    """One session a line: "2027-01-15 09:00-10:30 开幕与政策解读" (times in Asia/Shanghai)."""
    sessions = []
    for n, line in enumerate((text or "").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        m = _SESSION_LINE.match(line)
        if m is None:
            raise DomainError(f"第{n}行格式不对：请写成“2027-01-15 09:00-10:30 议程名称”",
                              fields={"sessions": f"第{n}行格式不对：请写成“2027-01-15 09:00-10:30 议程名称”"})
        day, start, end, title = m.groups()
        if not MIN_YEAR <= int(day[:4]) <= MAX_YEAR:
            raise DomainError(f"第{n}行的{YEAR_MESSAGE}", fields={"sessions": f"第{n}行的{YEAR_MESSAGE}"})
        try:
            starts = local_to_utc(datetime.strptime(f"{day} {start}", "%Y-%m-%d %H:%M"))
            ends = local_to_utc(datetime.strptime(f"{day} {end}", "%Y-%m-%d %H:%M"))
        except ValueError:
            raise DomainError(f"第{n}行的日期或时间不存在", fields={"sessions": f"第{n}行的日期或时间不存在"}) from None
        if ends <= starts:
            raise DomainError(f"第{n}行的结束时间应晚于开始时间", fields={"sessions": f"第{n}行的结束时间应晚于开始时间"})
        if len(title.strip()) > 100:
            raise DomainError(f"第{n}行的议程名称不能超过100字", fields={"sessions": f"第{n}行的议程名称不能超过100字"})
        sessions.append((title.strip(), starts, ends))
    if not sessions:
        raise DomainError("请至少填写一个议程", fields={"sessions": "请至少填写一个议程"})
    if len(sessions) > 50:
        raise DomainError("议程不能超过50个", fields={"sessions": "议程不能超过50个"})
    return sessions


def happening_create(*, user: User, kind: str, title: str, place: str, description: str, starts_at: datetime,
                     ends_at: datetime, signup_deadline: datetime, capacity: int, sessions_text: str,
                     listing_keys: list[str], token: str | None) -> Happening:
    """An official's event in the official's own region. Times are aware datetimes (or wall-clock Asia/Shanghai)."""
    if user.role != "official" or not is_verified_actor(user) or not user.region_id:
        raise NotAllowed("只有所在区域的科技局工作人员可以发布活动")
    if kind not in HAPPENING_KINDS:
        raise DomainError("请选择活动类型", fields={"kind": "请选择活动类型"})
    for name, value in (("starts_at", starts_at), ("ends_at", ends_at), ("signup_deadline", signup_deadline)):
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            raise DomainError(YEAR_MESSAGE, fields={name: YEAR_MESSAGE})
    starts_at, ends_at, signup_deadline = (local_to_utc(v) for v in (starts_at, ends_at, signup_deadline))
    now = utcnow()
    problems = {}
    if starts_at <= now:
        problems["starts_at"] = "开始时间应晚于现在"
    if ends_at <= starts_at:
        problems["ends_at"] = "结束时间应晚于开始时间"
    if signup_deadline <= now or signup_deadline > starts_at:
        problems["signup_deadline"] = "报名截止时间应晚于现在、不晚于开始时间"
    if not 1 <= capacity <= MAX_CAPACITY:
        problems["capacity"] = f"名额应在1至{MAX_CAPACITY}之间"
    if problems:
        raise DomainError(next(iter(problems.values())), fields=problems)
    sessions = parse_sessions(sessions_text)
    for n, (_, s, e) in enumerate(sessions, 1):
        if s < starts_at or e > ends_at:
            raise DomainError(f"第{n}个议程不在活动时间之内", fields={"sessions": f"第{n}个议程不在活动时间之内"})
    presented = _presented_keys(listing_keys)
    submission = claim_form_token(token=token, kind="happening", user=user,
                                  link=lambda _id: f"/events/{_id}")
    happening = Happening(kind=kind, title=title.strip(), place=place.strip(), description=(description or "").strip(),
                          region_id=user.region_id, organiser_id=user.id, starts_at=starts_at, ends_at=ends_at,
                          signup_deadline=signup_deadline, capacity=capacity, confirmed_count=0)
    db.session.add(happening)
    db.session.flush()
    submission.object_id = happening.id
    for title_, s, e in sessions:
        db.session.add(HappeningSession(happening_id=happening.id, title=title_, starts_at=s, ends_at=e))
    for kind_part, listing_id in presented:
        db.session.add(HappeningListing(happening_id=happening.id, kind=kind_part, listing_id=listing_id))
    db.session.flush()
    return happening


_LISTING_KEY = re.compile(r"([a-z]+):([1-9][0-9]{0,8})")


def parse_listing_key(key: str | None) -> tuple[str, int] | None:
    """"demand:12" -> ("demand", 12); anything else (another kind, "01", "１２", "²": str.isdigit() passes the
    last, which int() refuses) -> None. One spelling per listing, so two keys never name the same one."""
    m = _LISTING_KEY.fullmatch(key or "")
    if m is None or m.group(1) not in LISTING_MODELS:
        return None
    return m.group(1), int(m.group(2))


def _presented_keys(listing_keys: list[str] | None, *, kept: frozenset = frozenset()) -> list[tuple[str, int]]:
    """The listings to present, as (kind, id): each published, or already presented (`kept`: an edit may keep a
    listing withdrawn since); at most MAX_PRESENTED, so no event page lists an unbounded number."""
    keys = list(dict.fromkeys(listing_keys or []))
    if len(keys) > MAX_PRESENTED:
        message = f"展示的需求和成果不能超过{MAX_PRESENTED}项"
        raise DomainError(message, fields={"listing_keys": message})
    presented = []
    for key in keys:
        parsed = parse_listing_key(key)
        kind_part = parsed[0] if parsed else None
        listing = db.session.get(LISTING_MODELS[kind_part], parsed[1]) if parsed else None
        if listing is None or (listing.status != "published" and (kind_part, listing.id) not in kept):
            raise DomainError("所选的需求或成果不存在或未公开发布", fields={"listing_keys": "所选的需求或成果不存在或未公开发布"})
        presented.append((kind_part, listing.id))
    return presented


def happening_version(happening: Happening) -> str:
    """A fingerprint of everything the edit form changes, as loaded: the form carries it, and an edit made from
    another state (someone saved in between) is refused instead of silently undoing theirs. The table has no
    version column; this compares the same thing under the row lock."""
    parts = [happening.kind, happening.title, happening.place, happening.description or "",
             *(v.astimezone(timezone.utc).isoformat() for v in (happening.starts_at, happening.ends_at,
                                                              happening.signup_deadline)),
             str(happening.capacity)]
    parts += [f"{s.title}|{s.starts_at.astimezone(timezone.utc).isoformat()}|{s.ends_at.astimezone(timezone.utc).isoformat()}"
              for s in happening.sessions]
    parts += sorted(f"{p.kind}:{p.listing_id}" for p in happening.presented)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


def _active_signups(happening_id: int) -> list[int]:
    return list(db.session.scalars(select(HappeningSignup.user_id).where(
        HappeningSignup.happening_id == happening_id, HappeningSignup.status.in_(("confirmed", "waiting")))))


def happening_update(*, user: User, happening: Happening, kind: str, title: str, place: str, description: str,
                     starts_at: datetime, ends_at: datetime, signup_deadline: datetime, capacity: int,
                     sessions_text: str, listing_keys: list[str], version: str | None) -> list[str]:
    """The organiser's changes, made from the state the form was loaded with (`version`, else 409). The capacity
    never drops below the confirmed sign-ups; a larger one seats the waiting list in order; moving the time or
    the place tells everyone signed up or waiting. Returns the labels of what changed."""
    if not can_edit(user, happening):
        raise NotAllowed("只有活动所在区域的科技局工作人员可以修改活动")
    happening = _lock(happening.id)
    refuse_cancelled(happening, "不能再修改")
    db.session.expire(happening, ["sessions", "presented"])
    if version != happening_version(happening):
        raise Conflict("活动信息已被修改（可能有人同时在编辑），请重新打开编辑页面，核对后再保存")
    now = utcnow()
    if now > happening.ends_at:
        raise DomainError("活动已结束，不能再修改")
    if kind not in HAPPENING_KINDS:
        raise DomainError("请选择活动类型", fields={"kind": "请选择活动类型"})
    for name, value in (("starts_at", starts_at), ("ends_at", ends_at), ("signup_deadline", signup_deadline)):
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            raise DomainError(YEAR_MESSAGE, fields={name: YEAR_MESSAGE})
    starts_at, ends_at, signup_deadline = (local_to_utc(v) for v in (starts_at, ends_at, signup_deadline))
    moved = starts_at != happening.starts_at or ends_at != happening.ends_at
    problems = {}
    if moved and now >= happening.starts_at:
        problems["starts_at"] = "活动已开始，不能再改时间"
    elif starts_at != happening.starts_at and starts_at <= now:
        problems["starts_at"] = "开始时间应晚于现在"
    if ends_at <= starts_at:
        problems["ends_at"] = "结束时间应晚于开始时间"
    if signup_deadline > starts_at or (signup_deadline != happening.signup_deadline and signup_deadline <= now):
        problems["signup_deadline"] = "报名截止时间应晚于现在、不晚于开始时间"
    if not 1 <= capacity <= MAX_CAPACITY:
        problems["capacity"] = f"名额应在1至{MAX_CAPACITY}之间"
    elif capacity < happening.confirmed_count:
        problems["capacity"] = f"名额不能少于已确认报名的{happening.confirmed_count}人"
    if problems:
        raise DomainError(next(iter(problems.values())), fields=problems)
    sessions = parse_sessions(sessions_text)
    for n, (_, s, e) in enumerate(sessions, 1):
        if s < starts_at or e > ends_at:
            raise DomainError(f"第{n}个议程不在活动时间之内", fields={"sessions": f"第{n}个议程不在活动时间之内"})
    old_presented = {(p.kind, p.listing_id): p for p in happening.presented}
    presented = _presented_keys(listing_keys, kept=frozenset(old_presented))

    changed = []
    place_moved = place.strip() != happening.place
    for label, name, value in (("类型", "kind", kind), ("名称", "title", title.strip()), ("地点", "place", place.strip()),
                               ("介绍", "description", (description or "").strip()), ("开始时间", "starts_at", starts_at),
                               ("结束时间", "ends_at", ends_at), ("报名截止时间", "signup_deadline", signup_deadline),
                               ("名额", "capacity", capacity)):
        if getattr(happening, name) != value:
            setattr(happening, name, value)
            changed.append(label)
    if [(s.title, s.starts_at, s.ends_at) for s in happening.sessions] != sessions:
        for s in list(happening.sessions):
            db.session.delete(s)
        for title_, s, e in sessions:
            db.session.add(HappeningSession(happening_id=happening.id, title=title_, starts_at=s, ends_at=e))
        changed.append("议程")
    if set(old_presented) != set(presented):
        for key, row in old_presented.items():
            if key not in presented:
                db.session.delete(row)
        for key in presented:
            if key not in old_presented:
                db.session.add(HappeningListing(happening_id=happening.id, kind=key[0], listing_id=key[1]))
        changed.append("展示的需求和成果")
    db.session.flush()
    # seats added: the waiting list takes them in order (the row lock keeps cancel and sign-up out meanwhile)
    free = happening.capacity - happening.confirmed_count
    if free > 0:
        promoted = list(db.session.scalars(select(HappeningSignup).where(
            HappeningSignup.happening_id == happening.id, HappeningSignup.status == "waiting")
            .order_by(HappeningSignup.queued_at, HappeningSignup.id).limit(free).with_for_update()))
        for row in promoted:
            row.status = "confirmed"
            row.nonce = secrets.token_hex(16)
        if promoted:
            happening.confirmed_count += len(promoted)
            notify(users=[r.user_id for r in promoted], kind="event_promoted",
                   text=f"您已从候补转为正式报名：{happening.title}（{local_dt(happening.starts_at)}），签到码见报名页面",
                   url=path_for("happenings.ticket", happening_id=happening.id))
    if moved or place_moved:
        what = "时间和地点" if moved and place_moved else ("时间" if moved else "地点")
        notify(users=_active_signups(happening.id), kind="event_moved", exclude=user,
               text=f"您报名的活动{what}有变：{happening.title}，改为{local_dt(happening.starts_at)}至"
                    f"{local_dt(happening.ends_at)}，地点：{happening.place}",
               url=path_for("happenings.detail", happening_id=happening.id))
    db.session.flush()
    db.session.expire(happening, ["sessions", "presented"])
    return changed


def happening_cancel(*, user: User, happening: Happening, reason: str | None, confirmed: bool) -> list[int]:
    """The organiser calls the event off (the officials who may edit it): under the event row lock, so a sign-up
    waiting on the lock then finds it cancelled. The sign-ups stay as they were (who was affected); everyone
    confirmed or waiting is told, with the reason (event_cancelled; e-mail after the commit, as every notice).
    Returns the accounts told."""
    if not can_edit(user, happening):
        raise NotAllowed("只有活动所在区域的科技局工作人员可以取消活动")
    reason = (reason or "").strip()
    problems = {}
    if not reason:
        problems["reason"] = "请填写取消原因（将通知已报名和候补的参会人）"
    elif len(reason) > CANCEL_REASON_MAX:
        problems["reason"] = f"取消原因不超过{CANCEL_REASON_MAX}字"
    if not confirmed:
        problems["confirm"] = "请勾选确认取消活动"
    if problems:
        raise DomainError(next(iter(problems.values())), fields=problems)
    happening = _lock(happening.id)
    refuse_cancelled(happening, "不需重复取消")
    now = utcnow()
    if now > happening.ends_at:
        raise Conflict("活动已结束，不能再取消")
    happening.status = "cancelled"
    happening.cancelled_at = now
    happening.cancelled_by_id = user.id
    happening.cancel_reason = reason
    told = _active_signups(happening.id)
    notify(users=told, kind="event_cancelled", exclude=user,
           text=f"您报名的活动已取消：{happening.title}（原定{local_dt(happening.starts_at)}），原因：{reason}",
           url=path_for("happenings.detail", happening_id=happening.id))
    db.session.flush()
    return told


def _lock(happening_id: int) -> Happening:
    """The event row, locked for the rest of the transaction (PostgreSQL FOR UPDATE; SQLite's writing request
    already holds the database's write lock from BEGIN IMMEDIATE)."""
    row = db.session.execute(select(Happening).where(Happening.id == happening_id)
                             .with_for_update().execution_options(populate_existing=True)).scalar_one()
    return row


def signup(*, user: User, happening: Happening) -> HappeningSignup:
    """A seat when one is free (the counter's conditional UPDATE never passes the capacity, whatever arrives at
    once), else a place on the waiting list."""
    if user.role not in SIGNUP_ROLES or not is_verified_actor(user):
        raise NotAllowed("只有认证通过的企业、高校院所和技术经纪人可以报名参加活动")
    if utcnow() >= happening.signup_deadline:
        raise DomainError("报名已截止（截止时间以北京时间为准），不能再报名")
    # The event row first, as cancel() takes it: the account's own earlier (cancelled) row, the counter and the
    # waiting list are then read and changed by one request at a time (two re-sign-ups of the same account would
    # each raise the counter; a sign-up racing a cancel would queue while the freed seat stays empty).
    _lock(happening.id)
    refuse_cancelled(happening, "不能再报名")  # read under the lock: a cancel committed meanwhile is seen
    existing = db.session.scalar(select(HappeningSignup).where(
        HappeningSignup.happening_id == happening.id, HappeningSignup.user_id == user.id)
        .with_for_update().execution_options(populate_existing=True))
    if existing is not None and existing.status != "cancelled":
        raise Conflict(f"您已报名该活动（{existing.status_label}），不需重复报名")
    seat = db.session.execute(
        update(Happening).where(Happening.id == happening.id, Happening.confirmed_count < Happening.capacity)
        .values(confirmed_count=Happening.confirmed_count + 1).execution_options(synchronize_session=False)
    ).rowcount == 1
    row = existing or HappeningSignup(happening_id=happening.id, user_id=user.id)
    row.org_id = user.org_id
    row.status = "confirmed" if seat else "waiting"
    row.nonce = secrets.token_hex(16)
    row.queued_at = utcnow()
    row.checked_in_at = None
    row.checked_in_by_id = None
    if existing is None:
        db.session.add(row)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except Exception as exc:  # the same account's concurrent sign-up won (uq_happening_signups_user)
        from sqlalchemy.exc import IntegrityError

        if isinstance(exc, IntegrityError):
            raise Conflict("您已报名该活动，不需重复报名") from exc
        raise
    db.session.expire(happening, ["confirmed_count"])
    return row


def cancel(*, user: User, happening: Happening) -> HappeningSignup:
    """The account's own sign-up; a freed seat goes to the first on the waiting list, in order."""
    if utcnow() >= happening.starts_at:
        raise DomainError("活动已开始，不能取消报名")
    _lock(happening.id)
    refuse_cancelled(happening, "报名不需再取消")  # no seat to give to the waiting list
    row = db.session.scalar(select(HappeningSignup).where(
        HappeningSignup.happening_id == happening.id, HappeningSignup.user_id == user.id,
        HappeningSignup.status != "cancelled").with_for_update())
    if row is None:
        raise Conflict("您没有该活动的有效报名")
    if row.checked_in_at is not None:  # the seat is used: giving it away would seat more than the capacity
        raise Conflict("您已签到入场，不能再取消报名")
    was_confirmed = row.status == "confirmed"
    row.status = "cancelled"
    if was_confirmed:
        nxt = db.session.scalar(select(HappeningSignup).where(
            HappeningSignup.happening_id == happening.id, HappeningSignup.status == "waiting")
            .order_by(HappeningSignup.queued_at, HappeningSignup.id).limit(1).with_for_update())
        if nxt is not None:
            nxt.status = "confirmed"
            nxt.nonce = secrets.token_hex(16)
            notify(users=[nxt.user_id], kind="event_promoted",
                   text=f"您已从候补转为正式报名：{happening.title}（{local_dt(happening.starts_at)}），签到码见报名页面",
                   url=path_for("happenings.ticket", happening_id=happening.id))
        else:
            db.session.execute(update(Happening).where(Happening.id == happening.id, Happening.confirmed_count > 0)
                               .values(confirmed_count=Happening.confirmed_count - 1)
                               .execution_options(synchronize_session=False))
    db.session.flush()
    db.session.expire(happening, ["confirmed_count"])
    return row


# --- check-in codes ------------------------------------------------------------------------------------------

def _mac(signup_id: int, nonce: str) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(key, f"happening-checkin:{signup_id}:{nonce}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:10]).decode()  # 16 characters, A-Z2-7: typable, 80 bits


def checkin_code(row: HappeningSignup) -> str:
    """What the attendee's QR code holds (and what can be typed): "<signup id>-<HMAC>"."""
    return f"{row.id}-{_mac(row.id, row.nonce)}"


_CODE = re.compile(r"^(\d{1,10})-([A-Z2-7]{16})$")
INVALID_CODE = "签到码无效：不是本活动签发的签到码，请核对后重新输入"


def check_in(*, user: User, happening: Happening, code: str) -> HappeningSignup:
    """Verify a code and mark it used: one conditional UPDATE, so a second (or concurrent) use is refused."""
    if not can_manage(user, happening):
        raise NotAllowed("只有活动组织方（所在区域科技局）可以签到")
    # The event row first, as the organiser's cancel takes it: a check-in waiting on a cancel then finds the event
    # cancelled, and a cancel waiting on a check-in comes after it (never a check-in recorded after the cancel).
    happening = _lock(happening.id)
    refuse_cancelled(happening, "不能签到")  # read under the lock (populate_existing): a committed cancel is seen
    now = utcnow()
    if now < happening.starts_at - CHECKIN_EARLY or now > happening.ends_at:
        raise DomainError("不在签到时间内：签到从活动开始前24小时开放，活动结束后关闭")
    m = _CODE.match((code or "").strip().upper().replace(" ", ""))
    row = db.session.get(HappeningSignup, int(m.group(1))) if m and int(m.group(1)) <= MAX_RECORD_ID else None
    if row is None or row.happening_id != happening.id or not hmac.compare_digest(m.group(2), _mac(row.id, row.nonce)):
        raise DomainError(INVALID_CODE, fields={"code": INVALID_CODE})
    done = db.session.execute(
        update(HappeningSignup).where(HappeningSignup.id == row.id, HappeningSignup.status == "confirmed",
                                      HappeningSignup.checked_in_at.is_(None))
        .values(checked_in_at=now, checked_in_by_id=user.id).execution_options(synchronize_session=False)
    ).rowcount == 1
    db.session.refresh(row)
    if not done:
        if row.status != "confirmed":
            message = f"该报名{row.status_label}，不能签到"
        else:
            at = row.checked_in_at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")
            message = f"该签到码已使用（{row.user.name}已于{at}签到），不能重复签到"
        raise Conflict(message, fields={"code": message})
    return row


# --- 意向 on the spot ----------------------------------------------------------------------------------------

def presented_listing(happening: Happening, key: str):
    parsed = parse_listing_key(key)
    if parsed is None:
        return None
    hit = db.session.scalar(select(HappeningListing).where(
        HappeningListing.happening_id == happening.id, HappeningListing.kind == parsed[0],
        HappeningListing.listing_id == parsed[1]))
    return hit.listing if hit is not None else None


def record_interest(*, user: User, happening: Happening, signup_id: int | None, listing_key: str, message: str,
                    token: str | None):
    """An attendee's 意向 in a presented listing, recorded by the attendee or by the organiser on the spot; the
    interest is the market's ordinary one (deals.services.interest_create), tagged with the event."""
    from ..deals.services import interest_create

    manager = can_manage(user, happening)
    happening = _lock(happening.id)  # as check-in and the cancel: no 意向 recorded at an event called off meanwhile
    refuse_cancelled(happening, "不能再记录现场意向")
    if manager and signup_id:
        attendee = db.session.get(HappeningSignup, signup_id)
    else:
        attendee = db.session.scalar(select(HappeningSignup).where(
            HappeningSignup.happening_id == happening.id, HappeningSignup.user_id == user.id))
    if attendee is None or attendee.happening_id != happening.id:
        raise DomainError("请选择到场的参会单位", fields={"signup_id": "请选择到场的参会单位"})
    if not manager and attendee.user_id != user.id:
        raise NotAllowed("只能为自己的单位记录意向")
    if attendee.status != "confirmed" or attendee.checked_in_at is None:
        raise DomainError("该参会人尚未签到，签到后才能在现场记录意向", fields={"signup_id": "该参会人尚未签到"})
    listing = presented_listing(happening, listing_key)
    if listing is None:
        raise DomainError("请选择本活动展示的需求或成果", fields={"listing_key": "请选择本活动展示的需求或成果"})
    if utcnow() > happening.ends_at + timedelta(days=1):
        raise DomainError("活动已结束超过一天，不能再作为现场意向记录；请在条目页面表达意向")
    return interest_create(user=attendee.user, listing=listing, message=message, token=token,
                           happening_id=happening.id, recorded_by=user if attendee.user_id != user.id else None)
