from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from .base import UTCDateTime, utcnow
from .org import Organization
from .region import Region

BROKER_STATUSES = {"pending": "待审核", "approved": "已审核", "rejected": "审核未通过"}

ROLES = {
    "enterprise": "企业用户",
    "institution": "高校院所用户",
    "broker": "技术经纪人",
    "official": "科技局工作人员",
    "admin": "系统管理员",
    "registrar": "登记员",  # of one 登记点 (market/registration)
}


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('enterprise', 'institution', 'broker', 'official', 'admin', 'registrar')", name="role"),
        CheckConstraint("(role = 'registrar') = (reg_point_id IS NOT NULL)", name="registrar_point"),
        CheckConstraint(
            "(role = 'broker' AND broker_status IN ('pending', 'approved', 'rejected'))"
            " OR (role <> 'broker' AND broker_status IS NULL)",
            name="broker_status",
        ),
        # one approved broker per 技术经纪人证书编号, in its stored form (market.broker_cert)
        Index("uq_users_broker_cert_no", "broker_cert_no", unique=True,
              sqlite_where=text("role = 'broker' AND broker_status = 'approved' AND broker_cert_no <> ''"),
              postgresql_where=text("role = 'broker' AND broker_status = 'approved' AND broker_cert_no <> ''")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str] = mapped_column(String(20), default="")
    email: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), index=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    # administers its organisation's members (单位成员): the first registrant, and whom an administrator makes one
    org_admin: Mapped[bool] = mapped_column(default=False, server_default=false())
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)  # officials, brokers
    reg_point_id: Mapped[int | None] = mapped_column(ForeignKey("reg_points.id"), index=True)  # registrars only
    broker_cert_no: Mapped[str] = mapped_column(String(50), default="")
    # brokers only: a person (an official of the broker's region, or an admin) checked the account and its
    # 经纪人证书编号; see permissions.is_verified_actor
    broker_status: Mapped[str | None] = mapped_column(String(16))
    broker_reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    broker_reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    broker_review_note: Mapped[str] = mapped_column(String(500), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # when a self-registered user consented to 用户协议 and 隐私政策 (None: made by an administrator, or earlier)
    terms_accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    org: Mapped[Organization | None] = relationship(foreign_keys=[org_id])
    broker_reviewed_by: Mapped[User | None] = relationship(remote_side=[id], foreign_keys=[broker_reviewed_by_id])
    region: Mapped[Region | None] = relationship()
    reg_point = relationship("RegPoint", foreign_keys=[reg_point_id])

    @validates("role")
    def _role_sets_broker_status(self, _key, role: str) -> str:
        # a broker account starts unreviewed; any other role has no broker review
        if role == "broker":
            self.broker_status = self.broker_status or "pending"
        else:
            self.broker_status = None
        return role

    @property
    def is_active(self) -> bool:  # Flask-Login: disabled accounts cannot sign in or stay signed in
        return bool(self.active)

    @property
    def role_label(self) -> str:
        return ROLES[self.role]

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method="scrypt")

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def can_publish(self) -> bool:
        return self.org is not None and self.org.is_verified

    @property
    def broker_status_label(self) -> str:
        return BROKER_STATUSES.get(self.broker_status or "", "")


class UserSession(db.Model):
    """Server-side record of a signed-in session; revoking it makes a replayed cookie anonymous."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ip: Mapped[str] = mapped_column(String(64), default="")


class LoginFailure(db.Model):
    """Failed sign-ins, shared by every worker when no Redis is configured."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
