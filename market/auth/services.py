"""Accounts and sessions: registration, sign-in sessions, password changes."""
from __future__ import annotations

import secrets

from flask import current_app, session
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from ..broker_cert import CertError, checked_cert_no, flush_cert_holder
from ..divisions import OUTSIDE_REGION, org_place
from ..errors import DomainError
from ..extensions import db
from ..models import Organization, Region, User, UserSession
from ..models.base import utcnow
from ..orgs import org_new
from ..text import clean_name_into
from ..uscc import USCCError, normalize_uscc

ROLE_ORG_TYPES = {
    "enterprise": {"enterprise"},
    "institution": {"university", "institute"},
    "broker": {"agency"},
}
COMMON_PASSWORDS = {"password123", "1234567890", "qwerty123456", "abc123456789", "a123456789", "admin12345"}


def password_problem(password: str, *, username: str = "") -> str | None:
    """ASVS-style minimum rules; returns a Chinese reason or None."""
    if len(password) < 10:
        return "密码至少10位"
    if len(password) > 128:
        return "密码不能超过128位"
    if not any(ch.isalpha() for ch in password) or not any(ch.isdigit() for ch in password):
        return "密码需同时包含字母和数字"
    if password.lower() in COMMON_PASSWORDS or (username and username.lower() in password.lower()):
        return "密码过于简单，请勿使用常见密码或包含用户名"
    return None


def _register_checks(*, role: str, username: str, name: str, password: str, org_name: str, org_type: str,
                     uscc: str, region_id: int | None, broker_cert_no: str, division_code: str | None = None,
                     country: str | None = None) -> tuple[dict[str, str], dict]:
    """Per-field reasons to refuse a registration, and the cleaned values it would store."""
    errors: dict[str, str] = {}
    # one normal form before the uniqueness checks: 测试公司 + U+200B is refused, ＡＢＣ科技 is ABC科技
    username = clean_name_into(errors, "username", username, field_label="用户名")
    name = clean_name_into(errors, "name", name, field_label="姓名")
    org_name = clean_name_into(errors, "org_name", org_name, field_label="单位名称")
    if role not in ROLE_ORG_TYPES:
        errors["role"] = "请选择注册身份"
    elif org_type not in ROLE_ORG_TYPES[role]:
        errors["org_type"] = "单位类型与注册身份不符"
    problem = password_problem(password, username=username)
    if problem:
        errors["password"] = problem
    try:
        uscc = normalize_uscc(uscc)
    except USCCError as exc:
        errors["uscc"] = str(exc)
    # the organisation's place (issue 16 item 1): a county or town of the city, or outside it with its 行政区划代码
    # or 国别 (market.divisions.org_place)
    region = db.session.get(Region, region_id) if region_id and region_id != OUTSIDE_REGION else None
    if region is not None and region.parent_id is None:
        region = None  # registration offers the counties and towns only
    place, place_errors = org_place(region=region, outside=region_id == OUTSIDE_REGION, division_code=division_code,
                                    country=country)
    errors.update(place_errors)
    if role == "broker":
        try:
            broker_cert_no = checked_cert_no(broker_cert_no, approved=False)  # checked against others on approval
        except CertError as exc:
            errors["broker_cert_no"] = str(exc)
    # the lookups only for names that passed their checks (a NUL byte is refused above, and PostgreSQL refuses it
    # in a query: a 500 found by tests/test_bad_input.py once these checks ran beside the form's validators)
    if "username" not in errors and db.session.scalar(select(User.id).where(db.func.lower(User.username) == username.lower())):
        errors["username"] = "该用户名已被注册"
    if "org_name" not in errors and db.session.scalar(select(Organization.id).where(Organization.name == org_name.strip())):
        errors["org_name"] = "该单位已注册。如您是该单位员工，请向本单位管理员索取邀请链接，通过链接加入单位"
    if "uscc" not in errors and db.session.scalar(select(Organization.id).where(Organization.uscc == uscc)):
        # a colleague of a registered organisation joins it by its administrator's invitation (单位成员)
        errors["uscc"] = "该统一社会信用代码对应的单位已注册。如您是该单位员工，请向本单位管理员索取邀请链接，通过链接加入单位"
    return errors, {"username": username, "name": name, "org_name": org_name, "uscc": uscc, "region": region,
                    "place": place, "broker_cert_no": broker_cert_no if role == "broker" else ""}


def user_register_problems(*, role: str, username: str | None, name: str | None, password: str | None,
                           org_name: str | None, org_type: str | None, uscc: str | None, region_id: int | None,
                           broker_cert_no: str | None, division_code: str | None = None,
                           country: str | None = None) -> dict[str, str]:
    """What user_register would refuse, per field, storing nothing (the form shows these with its own errors)."""
    return _register_checks(role=role or "", username=username or "", name=name or "", password=password or "",
                            org_name=org_name or "", org_type=org_type or "", uscc=uscc or "", region_id=region_id,
                            broker_cert_no=broker_cert_no or "", division_code=division_code, country=country)[0]


def user_register(
    *,
    role: str,
    username: str,
    name: str,
    password: str,
    phone: str = "",
    email: str = "",
    org_name: str,
    org_type: str,
    uscc: str,
    region_id: int,
    contact_name: str = "",
    contact_phone: str = "",
    contact_email: str = "",
    address: str = "",
    broker_cert_no: str = "",
    terms_accepted: bool = False,
    division_code: str | None = None,
    country: str | None = None,
) -> User:
    """Create a user together with a new, unverified organisation; `terms_accepted`: the user ticked consent to
    用户协议 and 隐私政策 (its time is kept)."""
    errors, clean = _register_checks(role=role, username=username, name=name, password=password, org_name=org_name,
                                     org_type=org_type, uscc=uscc, region_id=region_id, broker_cert_no=broker_cert_no,
                                     division_code=division_code, country=country)
    username, name, org_name, uscc, region, place, broker_cert_no = (
        clean[k] for k in ("username", "name", "org_name", "uscc", "region", "place", "broker_cert_no"))
    if errors:
        raise DomainError("注册信息有误，请按提示修改", fields=errors)
    org = org_new(name=org_name, uscc=uscc, org_type=org_type, region_id=place.region_id,
                  division_code=place.division_code, country=place.country,
                  contact_name=contact_name or name, contact_phone=contact_phone or phone,
                  contact_email=contact_email or email, address=address)
    user = User(
        username=username,
        name=name,
        phone=phone,
        email=email,
        role=role,
        org_id=org.id,
        org_admin=True,  # the first registrant administers the organisation's members
        region_id=region.id if role == "broker" and region is not None else None,
        broker_cert_no=broker_cert_no,
        terms_accepted_at=utcnow() if terms_accepted else None,
    )
    user.set_password(password)
    db.session.add(user)
    flush_cert_holder()
    _notify_reviewers(user=user, org=org, region=region)
    return user


def _notify_reviewers(*, user: User, org: Organization, region: Region | None) -> None:
    """The officials who decide (those of the region and above) hear of a new organisation or broker to check; an
    organisation outside the city has no region: the administrators verify it (market/orgs.org_verify)."""
    from ..notifications.services import notify, path_for

    if region is None:
        officials = db.session.scalars(select(User.id).where(User.role == "admin", User.active.is_(True)))
    else:
        officials = db.session.scalars(select(User.id).where(
            User.role == "official", User.active.is_(True), User.region_id.in_(region.ancestor_ids)))
    if user.role == "broker":
        text = f"新的技术经纪人待审核：{user.name}（{org.name}，证书编号 {user.broker_cert_no}）"
        url = path_for("review.brokers")
    else:
        text = f"新的单位待认证：{org.name}（{org.type_label}）"
        url = path_for("review.orgs")
    notify(users=list(officials), kind="review_account", text=text, url=url)


_DUMMY_HASH: list[str] = []


def password_matches(user: User | None, password: str) -> bool:
    """Check a password; for an unknown user, check against a dummy hash so both take as long."""
    if user is not None:
        return user.check_password(password)
    if not _DUMMY_HASH:
        probe = User()
        probe.set_password(secrets.token_urlsafe(16))
        _DUMMY_HASH.append(probe.password_hash)
    from werkzeug.security import check_password_hash

    check_password_hash(_DUMMY_HASH[0], password)
    return False


def session_start(*, user: User, ip: str) -> str:
    sid = secrets.token_urlsafe(32)
    db.session.add(UserSession(id=sid, user_id=user.id, ip=ip[:64]))
    session.clear()
    session["sid"] = sid
    session.permanent = True
    return sid


def session_end() -> None:
    sid = session.get("sid")
    if sid:
        db.session.execute(update(UserSession).where(UserSession.id == sid).values(revoked_at=utcnow()))
    session.clear()


def sessions_revoke_all(*, user: User) -> None:
    db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def password_change(*, user: User, old: str, new: str) -> None:
    if not user.check_password(old):
        raise DomainError("原密码不正确", fields={"old_password": "原密码不正确"})
    problem = password_problem(new, username=user.username)
    if problem:
        raise DomainError(problem, fields={"new_password": problem})
    user.set_password(new)
    user.password_changed_at = utcnow()
    sessions_revoke_all(user=user)


def load_session_user(user_id: str) -> User | None:
    """Flask-Login's loader: the cookie must name a live server-side session of this user."""
    sid = session.get("sid")
    if not sid or not str(user_id).isdigit():
        return None
    # one statement per request: the session row, its user and the user's organisation and region (read by the
    # actor gate, the navigation and most pages) come together instead of three or four lookups
    found = db.session.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .options(joinedload(User.org), joinedload(User.region))
        .where(UserSession.id == sid)
    ).first()
    if found is None:
        return None
    row, user = found
    if row.revoked_at is not None or row.user_id != int(user_id):
        return None
    if row.created_at < utcnow() - current_app.permanent_session_lifetime:
        return None
    if not user.active:
        return None
    return user
