"""Officials' and admins' decisions: listing review and organisation verification."""
from __future__ import annotations

from ..errors import DomainError, NotAllowed
from ..listings.services import listing_transition
from ..models import ListingMixin, Organization, User
from ..models.base import utcnow
from ..permissions import in_scope


def listing_review(*, listing: ListingMixin, user: User, decision: str, reason: str = "") -> ListingMixin:
    if decision == "publish":
        return listing_transition(listing=listing, user=user, to="published", reason=reason)
    if decision == "return":
        return listing_transition(listing=listing, user=user, to="returned", reason=reason)
    raise DomainError("请选择审核结果")


def org_verify(*, org: Organization, user: User, decision: str, note: str = "") -> Organization:
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
    return org
