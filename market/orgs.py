"""Organisations (单位): how one is verified, for every feature that decides it (the review queue, the admin's
organisation page)."""
from __future__ import annotations

from . import events
from .errors import DomainError, NotAllowed
from .models import Organization, User
from .models.base import utcnow
from .permissions import in_scope


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
