"""单位成员: the organisation's administrator invites colleagues by a one-time link, removes members, and names other
administrators; an invited person joins by registering or, signed in, by accepting."""
from __future__ import annotations

import secrets
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select, update

from ..auth.services import password_problem, sessions_revoke_all
from ..errors import DomainError, NotAllowed
from ..extensions import db
from ..models import Organization, OrgInvitation, User
from ..models.base import utcnow
from ..notifications.services import notify, path_for
from ..text import clean_name_into

INVITATION_DAYS = 7
#: an organisation's open (unused, unexpired, unrevoked) invitations at one time
MAX_OPEN_INVITATIONS = 20
# links made per organisation in 24 hours, revoked ones included: create-and-revoke cannot make a mail relay of the
# invitation e-mail (attacker's review)
MAX_INVITATIONS_PER_DAY = 20
#: the role a member of each kind of organisation has
ORG_TYPE_ROLES = {"enterprise": "enterprise", "university": "institution", "institute": "institution",
                  "agency": "broker"}
_SALT = "org-invitation"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def invitation_token(invitation: OrgInvitation) -> str:
    """The link's token: the invitation's id and nonce, signed. The nonce is never shown otherwise."""
    return _serializer().dumps({"i": invitation.id, "n": invitation.nonce})


def require_org_admin(user: User) -> Organization:
    if not user.is_authenticated or user.org_id is None or not user.org_admin or not user.active:
        raise NotAllowed("只有本单位的管理员可以管理单位成员")
    return user.org


def invitation_create(*, user: User, note: str = "") -> OrgInvitation:
    org = require_org_admin(user)
    errors: dict[str, str] = {}
    note = clean_name_into(errors, "note", note, field_label="备注") if (note or "").strip() else ""
    if len(note) > 50:
        errors["note"] = "备注不能超过50字"
    if errors:
        raise DomainError("填写内容有误，请按提示修改", fields=errors)
    now = utcnow()
    open_count = db.session.scalar(select(func.count()).select_from(OrgInvitation).where(
        OrgInvitation.org_id == org.id, OrgInvitation.used_at.is_(None), OrgInvitation.revoked_at.is_(None),
        OrgInvitation.expires_at > now))
    if open_count >= MAX_OPEN_INVITATIONS:
        raise DomainError(f"未使用的邀请链接最多 {MAX_OPEN_INVITATIONS} 个，请先撤销不再需要的邀请",
                          fields={"note": "未使用的邀请过多"})
    made_today = db.session.scalar(select(func.count()).select_from(OrgInvitation).where(
        OrgInvitation.org_id == org.id, OrgInvitation.created_at > now - timedelta(days=1)))
    if made_today >= MAX_INVITATIONS_PER_DAY:
        message = f"每个单位24小时内最多生成 {MAX_INVITATIONS_PER_DAY} 个邀请链接（含已撤销的），请明天再试"
        raise DomainError(message, fields={"note": message})
    invitation = OrgInvitation(org_id=org.id, nonce=secrets.token_urlsafe(32), note=note, created_by_id=user.id,
                               created_at=now, expires_at=now + timedelta(days=INVITATION_DAYS))
    db.session.add(invitation)
    db.session.flush()
    return invitation


def invitation_revoke(*, invitation: OrgInvitation, user: User) -> None:
    org = require_org_admin(user)
    if invitation.org_id != org.id:
        raise NotAllowed("该邀请不属于您的单位", status_code=404)
    if invitation.used_at is not None:
        raise DomainError("该邀请已被使用，无法撤销", status_code=409)
    if invitation.revoked_at is None:
        invitation.revoked_at = utcnow()


def invitation_from_token(token: str) -> OrgInvitation:
    """The open invitation a link names; a DomainError saying why not (forged, expired, used, revoked)."""
    try:
        data = _serializer().loads(token, max_age=INVITATION_DAYS * 86400 + 60)
    except BadSignature as exc:  # SignatureExpired is a BadSignature
        expired = exc.__class__.__name__ == "SignatureExpired"
        raise DomainError("邀请链接已过期，请向单位管理员重新索取" if expired else "邀请链接无效，请向单位管理员核对",
                          status_code=410 if expired else 404) from None
    if not isinstance(data, dict) or not isinstance(data.get("i"), int) or not isinstance(data.get("n"), str):
        raise DomainError("邀请链接无效，请向单位管理员核对", status_code=404)
    invitation = db.session.get(OrgInvitation, data["i"])
    if invitation is None or not secrets.compare_digest(invitation.nonce, data["n"]):
        raise DomainError("邀请链接无效，请向单位管理员核对", status_code=404)
    if invitation.used_at is not None:
        raise DomainError("该邀请链接已被使用过（每个链接只能使用一次），请向单位管理员重新索取", status_code=410)
    if invitation.revoked_at is not None:
        raise DomainError("该邀请链接已被单位管理员撤销", status_code=410)
    if invitation.expires_at <= utcnow():
        raise DomainError("邀请链接已过期，请向单位管理员重新索取", status_code=410)
    return invitation


def _use(invitation: OrgInvitation, user: User) -> None:
    # single use even under two concurrent posts: only the update that finds it unused counts
    done = db.session.execute(
        update(OrgInvitation).where(OrgInvitation.id == invitation.id, OrgInvitation.used_at.is_(None))
        .values(used_at=utcnow(), used_by_id=user.id))
    if done.rowcount != 1:
        raise DomainError("该邀请链接已被使用过（每个链接只能使用一次），请向单位管理员重新索取", status_code=410)
    admins = db.session.scalars(select(User.id).where(User.org_id == invitation.org_id, User.org_admin.is_(True),
                                                      User.active.is_(True)))
    notify(users=list(admins), kind="org_member_joined", text=f"{user.name}（{user.username}）已通过邀请加入本单位",
           url=path_for("members.index"), exclude=user)


def member_register(*, invitation: OrgInvitation, username: str, name: str, password: str, phone: str = "",
                    email: str = "", broker_cert_no: str = "", terms_accepted: bool = False) -> User:
    """A new account in the invitation's organisation (its role follows the organisation's type); `terms_accepted`:
    the person ticked consent to 用户协议 and 隐私政策 (its time is kept, as at registration)."""
    org = invitation.org
    role = ORG_TYPE_ROLES[org.org_type]
    errors: dict[str, str] = {}
    username = clean_name_into(errors, "username", username, field_label="用户名")
    name = clean_name_into(errors, "name", name, field_label="姓名")
    problem = password_problem(password, username=username)
    if problem:
        errors["password"] = problem
    if role == "broker" and not (broker_cert_no or "").strip():
        errors["broker_cert_no"] = "请填写技术经纪人证书编号"
    if "username" not in errors and db.session.scalar(
            select(User.id).where(func.lower(User.username) == username.lower())):
        errors["username"] = "该用户名已被注册"
    if errors:
        raise DomainError("注册信息有误，请按提示修改", fields=errors)
    user = User(username=username, name=name, phone=phone, email=email, role=role, org_id=org.id,
                region_id=org.region_id if role == "broker" else None,
                broker_cert_no=broker_cert_no.strip()[:50] if role == "broker" else "",
                terms_accepted_at=utcnow() if terms_accepted else None)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    _use(invitation, user)
    return user


def member_join(*, invitation: OrgInvitation, user: User) -> User:
    """A signed-in account without an organisation (or whose organisation it is already) accepts."""
    org = invitation.org
    if user.org_id == org.id:
        raise DomainError(f"您已是“{org.name}”的成员", status_code=409)
    if user.org_id is not None or user.role not in ("enterprise", "institution", "broker"):
        raise NotAllowed(f"您的账号属于其他单位或角色，不能加入“{org.name}”；请退出后用邀请链接注册新账号")
    if ORG_TYPE_ROLES[org.org_type] != user.role:
        raise NotAllowed(f"您的账号身份（{user.role_label}）与“{org.name}”的单位类型不符；请退出后用邀请链接注册新账号")
    user.org_id = org.id
    user.org_admin = False
    _use(invitation, user)
    return user


def _member_of(user: User, member: User) -> Organization:
    org = require_org_admin(user)
    if member.org_id != org.id:
        raise NotAllowed("该用户不是本单位成员", status_code=404)
    return org


def _other_admins(member: User) -> int:
    return db.session.scalar(select(func.count()).select_from(User).where(
        User.org_id == member.org_id, User.org_admin.is_(True), User.active.is_(True), User.id != member.id))


def member_remove(*, member: User, user: User) -> None:
    """The member's account leaves the organisation: disabled (it was the organisation's account; its records keep
    its name), every session ended at once. The last administrator cannot remove themselves."""
    org = _member_of(user, member)
    if not member.active:
        raise DomainError("该成员已被移除", status_code=409)
    if member.org_admin and not _other_admins(member):
        raise DomainError("单位至少需要一名管理员：请先指定其他成员为管理员，再移除该账号", status_code=409)
    member.active = False
    member.org_admin = False
    sessions_revoke_all(user=member)
    notify(users=[u for u in db.session.scalars(select(User).where(
        User.org_id == org.id, User.org_admin.is_(True), User.active.is_(True)))],
        kind="org_member_removed", text=f"{member.name}（{member.username}）已被{user.name}移出本单位",
        url=path_for("members.index"), exclude=user)


def member_set_admin(*, member: User, user: User, admin: bool) -> None:
    _member_of(user, member)
    if not member.active:
        raise DomainError("该成员已被移除", status_code=409)
    if not admin and member.org_admin and not _other_admins(member):
        raise DomainError("单位至少需要一名管理员", status_code=409)
    member.org_admin = admin
