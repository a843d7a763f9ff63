"""Organisations (单位): how one comes into being and how it is verified, in one place for every path.

New organisations come from registration (auth), a contract entered by hand (contracts), both importers (contracts,
listings) and the demo (seed): each passes its values through `org_values`, so the name's stored form, the type
guessed from the name, the status and the defaults are decided here. The contract importer inserts the rows it gets
from `org_values` in bulk; the others call `org_new`.
"""
from __future__ import annotations

from datetime import datetime

from . import events
from .divisions import region_division
from .errors import DomainError, NotAllowed
from .extensions import db
from .models import Organization, Region, User
from .models.base import utcnow
from .models.org import ORG_STATUSES, ORG_TYPES
from .permissions import in_scope
from .text import InvalidName, clean_name

NAME_MAX = 100  # Organization.name is String(100)


def guess_org_type(name: str) -> str:
    """高校 or 科研院所 by the words of the name (simplified or traditional characters, or English), else 企业 (for
    parties named on a contract). The 协议定价 公示 rule (market/transfers/gate.py) turns on this type, so a
    university typed as 大學 or "... University" is one too."""
    lower = name.lower()
    if any(word in name for word in ("大学", "学院", "学校", "大學", "學院", "學校")) or any(
            word in lower for word in ("university", "college")):
        return "university"
    if any(word in name for word in ("研究院", "研究所", "科学院", "科學院", "研究中心")) or any(
            word in lower for word in ("institute", "academy", "research center", "research centre")):
        return "institute"
    return "enterprise"


def org_values(*, name: str, region_id: int | None, org_type: str | None = None, status: str = "pending",
               review_note: str = "", uscc: str | None = None, contact_name: str = "", contact_phone: str = "",
               contact_email: str = "", address: str = "", verified_at: datetime | None = None,
               division_code: str | None = None, country: str = "CN") -> dict:
    """The column values of a new organisation, the same keys whoever asks: the name in its one stored form
    (market.text.clean_name; InvalidName when it is empty, too long or holds a refused character), the type
    guessed from the name unless given, 待认证 unless the caller (the demo) says otherwise, and a verification time
    for one created verified. Callers check names and uniqueness with their own messages first."""
    clean = clean_name(name, field_label="单位名称")
    if not clean or len(clean) > NAME_MAX:
        raise InvalidName(f"单位名称长度为1-{NAME_MAX}字")
    org_type = org_type or guess_org_type(clean)
    if org_type not in ORG_TYPES or status not in ORG_STATUSES:
        raise ValueError(f"organisation type {org_type!r} / status {status!r}")
    if division_code is None and region_id is not None:  # a party in the city: its node's national code
        region = db.session.get(Region, region_id)
        division_code = region_division(region) if region is not None and region.level != "city" else None
    return {
        "name": clean, "uscc": uscc or None, "org_type": org_type, "region_id": region_id, "status": status,
        "division_code": division_code, "country": country,
        "review_note": review_note, "contact_name": contact_name, "contact_phone": contact_phone,
        "contact_email": contact_email, "address": address,
        "verified_at": (verified_at or utcnow()) if status == "verified" else None,
    }


def org_new(**values) -> Organization:
    """Add (and flush) an organisation made of `org_values(**values)`."""
    org = Organization(**org_values(**values))
    db.session.add(org)
    db.session.flush()
    return org


def org_verify(*, org: Organization, user: User, decision: str, note: str = "") -> Organization:
    """An official of the organisation's region (or an admin) verifies it (认证通过) or rejects it with a reason."""
    if not (user.role == "admin" or (user.role == "official" and in_scope(user, org.region))):
        raise NotAllowed("您无权认证该单位")
    if decision == "verify":
        org.status = "verified"
        org.review_note = note.strip()[:500]
    elif decision == "reject":
        if not note.strip():
            raise DomainError("不通过时请填写理由", fields={"note": "请填写理由"})
        org.status = "rejected"
        org.review_note = note.strip()[:500]
    else:
        raise DomainError("请选择认证结果")
    org.verified_by_id = user.id
    org.verified_at = utcnow()
    if org.status == "verified":
        events.record(events.org_verified, org=org, user=user)
    else:
        events.record(events.org_rejected, org=org, user=user, note=org.review_note)
    return org
