"""The demo's 公示 and 挂牌 (issue 20): a 协议定价 公示 in its period and one that ended without objection (of
two institutions' published results, to demo companies), and one open 挂牌. Written through the services, as the
owners' forms do; the ended 公示 then has its period moved into the past (the service starts one now)."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select, update

from ..extensions import db
from ..formtokens import new_form_token
from ..models import Achievement, Organization, User
from ..models.base import utcnow
from ..models.org import INSTITUTION_TYPES
from ..models.transfer import Disclosure, PriceListing
from . import services


def _owners_and_results(n: int) -> list[tuple[User, Achievement]]:
    """Up to n (institution user, published result of its organisation) pairs, one per organisation, skipping
    results already listed or 已转化."""
    out: list[tuple[User, Achievement]] = []
    seen: set[int] = set()
    listed = select(PriceListing.achievement_id)
    rows = db.session.scalars(select(Achievement).join(Organization, Organization.id == Achievement.org_id).where(
        Achievement.status == "published", Organization.org_type.in_(INSTITUTION_TYPES),
        Organization.status == "verified", Achievement.id.not_in(listed)).order_by(Achievement.id)).all()
    for a in rows:
        if a.org_id in seen:
            continue
        user = db.session.scalar(select(User).where(User.org_id == a.org_id, User.role == "institution",
                                                    User.active.is_(True)).order_by(User.id).limit(1))
        if user is not None and services.can_own_disclosure(user, a):
            out.append((user, a))
            seen.add(a.org_id)
        if len(out) == n:
            break
    return out


def seed_demo_transfers() -> None:
    pairs = _owners_and_results(3)
    buyers = db.session.scalars(select(Organization).where(Organization.org_type == "enterprise",
                                                           Organization.status == "verified")
                                .order_by(Organization.id).limit(2)).all()
    if len(pairs) < 3 or len(buyers) < 2:
        return
    (u1, a1), (u2, a2), (u3, a3) = pairs
    services.disclosure_create(user=u1, achievement=a1, buyer_name=buyers[0].name, contract_type="transfer",
                               price=Decimal("680000.00"), days=None, contact_name=a1.contact_name or "成果转化办公室",
                               contact_phone=a1.contact_phone or "0552-3170000",
                               note="经第三方资产评估机构评估，双方在评估值基础上协商确定转让价格。", token=new_form_token())
    ended = services.disclosure_create(user=u2, achievement=a2, buyer_name=buyers[1].name, contract_type="license",
                                       price=Decimal("250000.00"), days=None,
                                       contact_name=a2.contact_name or "科技成果转化中心",
                                       contact_phone=a2.contact_phone or "0552-3170001",
                                       note="普通许可，许可期限五年，许可费一次性支付。", token=new_form_token())
    db.session.flush()
    now = utcnow()
    db.session.execute(update(Disclosure).where(Disclosure.id == ended.id).values(
        starts_at=now - timedelta(days=20), ends_at=now - timedelta(days=5), created_at=now - timedelta(days=20)))
    services.listing_create(user=u3, achievement=a3, price=Decimal("1200000.00"), days=45, contract_type="transfer",
                            note="挂牌期内第一家接受挂牌价的认证单位摘牌成交，平台按挂牌价开启对接。", token=new_form_token())
    db.session.flush()
