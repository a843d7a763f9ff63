"""Accounts an administrator manages: 科技局工作人员, 技术经纪人 and administrators (others register themselves)."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from ...auth.services import password_problem, sessions_revoke_all
from ...broker_cert import CertError, checked_cert_no, flush_cert_holder
from ...errors import DomainError
from ...extensions import db
from ...models import Organization, Region, User
from ...models.base import utcnow
from ...text import clean_name_into
from .common import clean_value, region_or_none

CREATABLE_ROLES = ("official", "broker", "admin")
REGION_ROLES = ("official", "broker")
USERNAME_RE = re.compile(r"[A-Za-z0-9_.-]{3,32}")


def _username_taken(username: str, *, exclude_id: int | None = None) -> bool:
    stmt = select(User.id).where(func.lower(User.username) == username.lower())
    if exclude_id is not None:
        stmt = stmt.where(User.id != exclude_id)
    return db.session.scalar(stmt) is not None


def _account_problems(*, role: str, name: str, region: Region | None, broker_cert_no: str,
                      broker_id: int | None = None, approved: bool = True) -> tuple[dict[str, str], str]:
    """Per-field reasons to refuse an account's details, and the certificate's stored form (market.broker_cert)."""
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "请填写姓名"
    elif len(name) > 50:
        errors["name"] = "姓名不超过50字"
    if role == "official" and region is None:
        errors["region_id"] = "科技局工作人员须绑定一个区域"
    elif role == "broker" and region is None:
        errors["region_id"] = "请选择技术经纪人服务的区域"
    if role != "broker":
        return errors, ""
    try:
        broker_cert_no = checked_cert_no(broker_cert_no, exclude_id=broker_id, approved=approved)
    except CertError as exc:
        errors["broker_cert_no"] = str(exc)
    return errors, broker_cert_no


def user_create(
    *,
    role: str,
    username: str,
    name: str,
    password: str,
    phone: str = "",
    email: str = "",
    region_id: int | None = None,
    org_id: int | None = None,
    broker_cert_no: str = "",
    actor: User | None = None,
) -> User:
    """An account for a 科技局工作人员 (bound to a region), a 技术经纪人 (of a 服务机构) or an administrator.

    A broker account created here counts as reviewed by the administrator who created it (`actor`); it still
    acts only once its 服务机构 is verified (permissions.is_verified_actor)."""
    errors: dict[str, str] = {}
    username = clean_name_into(errors, "username", username, field_label="用户名")
    name = clean_name_into(errors, "name", name, field_label="姓名")
    broker_cert_no = clean_value(broker_cert_no)
    if role not in CREATABLE_ROLES:
        errors["role"] = "只能在此创建科技局工作人员、技术经纪人或系统管理员账号"
    if not USERNAME_RE.fullmatch(username):
        errors["username"] = "用户名为3-32位字母、数字、下划线、点或减号"
    elif _username_taken(username):
        errors["username"] = "该用户名已被使用"
    problem = password_problem(password or "", username=username)
    if problem:
        errors["password"] = problem
    region = region_or_none(region_id)
    problems, broker_cert_no = _account_problems(role=role, name=name, region=region, broker_cert_no=broker_cert_no)
    errors.update({k: v for k, v in problems.items() if k not in errors})
    org = None
    if role == "broker":
        org = db.session.get(Organization, org_id) if isinstance(org_id, int) and org_id > 0 else None
        if org is None or org.org_type != "agency":
            errors["org_id"] = "请选择技术经纪人所属的服务机构"
    if errors:
        raise DomainError("账号信息有误，请按提示修改", fields=errors)
    user = User(
        username=username,
        name=name,
        phone=clean_value(phone),
        email=clean_value(email),
        role=role,
        org_id=org.id if org else None,
        region_id=region.id if role in REGION_ROLES else None,
        broker_cert_no=broker_cert_no,
    )
    if role == "broker" and actor is not None:
        user.broker_status = "approved"
        user.broker_reviewed_by_id = actor.id
        user.broker_reviewed_at = utcnow()
    user.set_password(password)
    db.session.add(user)
    flush_cert_holder()
    return user


def user_update(
    *,
    user: User,
    name: str,
    phone: str = "",
    email: str = "",
    region_id: int | None = None,
    broker_cert_no: str = "",
) -> User:
    """Name and contacts for everyone; the region for officials and brokers; the certificate for brokers."""
    name_errors: dict[str, str] = {}
    name, broker_cert_no = clean_name_into(name_errors, "name", name, field_label="姓名"), clean_value(broker_cert_no)
    region = region_or_none(region_id) if user.role in REGION_ROLES else None
    errors, broker_cert_no = _account_problems(role=user.role, name=name, region=region, broker_cert_no=broker_cert_no,
                                               broker_id=user.id, approved=user.broker_status == "approved")
    errors |= name_errors
    if errors:
        raise DomainError("账号信息有误，请按提示修改", fields=errors)
    user.name = name
    user.phone = clean_value(phone)
    user.email = clean_value(email)
    if user.role in REGION_ROLES:
        user.region_id = region.id
    if user.role == "broker":
        user.broker_cert_no = broker_cert_no
    flush_cert_holder()
    return user


def user_set_active(*, user: User, active: bool, actor: User) -> User:
    """Disable or enable an account; disabling ends every signed-in session of it at once."""
    if not active and user.id == actor.id:
        raise DomainError("不能停用自己的账号")
    user.active = active
    if not active:
        sessions_revoke_all(user=user)
    db.session.flush()
    return user


def user_reset_password(*, user: User, password: str, actor: User) -> User:
    """Set the password an administrator typed; the user's open sessions end."""
    if user.id == actor.id:
        raise DomainError("请通过“修改密码”修改自己的密码", fields={"password": "请通过“修改密码”修改自己的密码"})
    problem = password_problem(password or "", username=user.username)
    if problem:
        raise DomainError(problem, fields={"password": problem})
    user.set_password(password)
    user.password_changed_at = utcnow()
    sessions_revoke_all(user=user)
    db.session.flush()
    return user
