"""The 技术经纪人证书编号: one stored form and one uniqueness rule for every way an account gets one (self-registration,
the administrator's account forms, the officials' broker registry), so that "jjr-2026-001", " JJR-2026-001" and
"ＪＪＲ－２０２６－００１" are one certificate, held by one approved broker. The partial unique index
uq_users_broker_cert_no (migration a19b01c0ffee) holds the rule against concurrent saves.

Only approved brokers hold a certificate: a self-registration is not checked against others (its number is an
unchecked claim until an official approves it, and the form would otherwise tell anyone whether a number is
registered, and let a stranger's pending account block the real holder); approval refuses a number another
approved broker holds."""
from __future__ import annotations

import re
import unicodedata

from sqlalchemy import select

from .extensions import db
from .models import User

# after NFKC (full-width to half-width), trimming and upper-casing, 6 to 32 characters of A-Z and 0-9 in groups
# joined by single hyphens, with at least four digits (JJR-2026-001, TB2023340300012).
CERT_PATTERN = re.compile(r"^[A-Z0-9]+(?:-[A-Z0-9]+)*$")
CERT_RULE = "证书编号为6-32位大写字母和数字，可用单个短横线分隔，至少含4位数字（如 JJR-2026-001）"
CERT_TAKEN = "该证书编号已登记在其他技术经纪人名下"
CERT_MISSING = "请填写技术经纪人证书编号"


class CertError(ValueError):
    """A 证书编号 refused; the message says why, in Chinese."""


def normalize_cert_no(text: str | None) -> str:
    """The stored form of a 证书编号, or CertError naming the rule."""
    value = unicodedata.normalize("NFKC", text or "").strip().upper()
    if not value:
        raise CertError(CERT_MISSING)
    if not (6 <= len(value) <= 32 and CERT_PATTERN.match(value) and sum(c.isdigit() for c in value) >= 4):
        raise CertError(CERT_RULE)
    return value


def cert_taken(cert: str, *, exclude_id: int | None = None) -> bool:
    """Whether another approved broker already holds this (normalised) certificate."""
    stmt = select(User.id).where(User.role == "broker", User.broker_status == "approved", User.broker_cert_no == cert)
    if exclude_id is not None:
        stmt = stmt.where(User.id != exclude_id)
    return db.session.scalar(stmt.limit(1)) is not None


def checked_cert_no(text: str | None, *, exclude_id: int | None = None, approved: bool = True) -> str:
    """The stored form of a broker's certificate, refused (CertError) when it breaks the rule or, for an approved
    broker (`approved`), when another approved broker holds it."""
    cert = normalize_cert_no(text)
    if approved and cert_taken(cert, exclude_id=exclude_id):
        raise CertError(CERT_TAKEN)
    return cert


def flush_cert_holder() -> None:
    """Flush a broker account's certificate; the same certificate saved at the same moment by another request is
    refused by the unique index, and answered as taken (409), never as a server error."""
    from sqlalchemy.exc import IntegrityError

    from .errors import Conflict

    try:
        db.session.flush()
    except IntegrityError as exc:
        text = str(exc.orig)
        if "uq_users_broker_cert_no" not in text and "users.broker_cert_no" not in text:
            raise
        raise Conflict(CERT_TAKEN, fields={"broker_cert_no": CERT_TAKEN, "cert_no": CERT_TAKEN}) from exc
