"""Writes and access rules for agencies, brokers and experts. Services add and flush; the view commits once.

Who may do what (tests/test_agencies.py holds every role):
  - an agency's services: a member of that 服务机构 who may act (is_verified_actor);
  - a broker's profile page: everyone when the broker opted in (and may act, in a verified agency); otherwise the
    broker, the administrators of the broker's agency (单位管理员), officials whose region holds the broker's, and
    administrators; anyone else gets 404;
  - the broker registry (证书编号, region): officials of the broker's region (and above) and administrators;
  - performance sheets: a broker's to the broker, the agency's administrators, the region's officials and
    administrators; an agency's to its administrators, officials of the agency's region and administrators;
  - 专家库 entries: officials of the entry's region (and above) and administrators; the expert whose account an
    entry names switches its availability.
"""
from __future__ import annotations

from sqlalchemy import delete, select

from .. import broker_cert
from ..broker_cert import CERT_RULE, CERT_TAKEN, CertError  # noqa: F401 - CERT_RULE is the form's description
from ..errors import DomainError, NotAllowed
from ..extensions import db
from ..models import (
    AGENCY_SERVICES,
    AgencyProfile,
    AgencyService,
    BrokerProfile,
    Expert,
    Field,
    Organization,
    Region,
    User,
)
from ..permissions import in_scope, is_verified_actor, require_verified_actor
from ..text import InvalidName, clean_name

def normalize_cert_no(text: str) -> str:
    """The stored form of a 证书编号 (market.broker_cert), or a DomainError naming the rule."""
    try:
        return broker_cert.normalize_cert_no(text)
    except CertError as err:
        raise DomainError(str(err), fields={"cert_no": str(err)}) from err


# --- who may -----------------------------------------------------------------------------------------------

def is_agency(org: Organization | None) -> bool:
    return org is not None and org.org_type == "agency"


def can_edit_services(user, org: Organization) -> bool:
    return is_verified_actor(user) and is_agency(org) and user.org_id == org.id


def _agency_admin(user, org_id: int | None) -> bool:
    return (org_id is not None and getattr(user, "org_admin", False) and user.org_id == org_id
            and is_verified_actor(user))


def _official_over(user, region: Region | None) -> bool:
    return user.role == "admin" or (user.role == "official" and in_scope(user, region))


def is_public_broker(broker: User, profile: BrokerProfile | None) -> bool:
    return (profile is not None and profile.public and broker.role == "broker" and broker.active
            and broker.broker_status == "approved" and broker.org is not None and broker.org.is_verified)


def can_see_broker(user, broker: User, profile: BrokerProfile | None) -> bool:
    if is_public_broker(broker, profile):
        return True
    if not getattr(user, "is_authenticated", False):
        return False
    return user.id == broker.id or can_see_broker_sheet(user, broker)


def can_manage_registry(user, broker: User) -> bool:
    return getattr(user, "is_authenticated", False) and _official_over(user, broker.region)


def can_see_broker_sheet(user, broker: User) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if user.id == broker.id:
        return is_verified_actor(user)
    return _agency_admin(user, broker.org_id) or can_manage_registry(user, broker)


def can_see_agency_sheet(user, agency: Organization) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return _agency_admin(user, agency.id) or _official_over(user, agency.region)


def can_manage_expert(user, expert: Expert) -> bool:
    return getattr(user, "is_authenticated", False) and _official_over(user, expert.region)


def can_set_availability(user, expert: Expert) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return (expert.user_id == user.id and is_verified_actor(user)) or can_manage_expert(user, expert)


def can_manage_experts(user) -> bool:
    """Creates entries at all: administrators and officials (each within their region)."""
    return getattr(user, "is_authenticated", False) and user.role in ("admin", "official") and is_verified_actor(user)


# --- writes ------------------------------------------------------------------------------------------------

def agency_services_save(*, user: User, org: Organization, codes: list[str], note: str) -> None:
    """Replace the agency's service list (codes of AGENCY_SERVICES) and its note."""
    if not can_edit_services(user, org):
        raise NotAllowed("只有该服务机构的成员可以编辑服务项目")
    unknown = [c for c in codes if c not in AGENCY_SERVICES]
    if unknown:
        raise DomainError("服务项目无效", fields={"services": "服务项目无效"})
    if len(note) > 500:
        raise DomainError("服务说明不超过500字", fields={"note": "服务说明不超过500字"})
    # the organisation's row lock serialises two first saves (each would add the profile row: a 500 on PostgreSQL)
    db.session.execute(select(Organization.id).where(Organization.id == org.id).with_for_update())
    db.session.execute(delete(AgencyService).where(AgencyService.org_id == org.id))
    for code in AGENCY_SERVICES:  # in the code set's order, each once
        if code in codes:
            db.session.add(AgencyService(org_id=org.id, code=code))
    profile = db.session.get(AgencyProfile, org.id, populate_existing=True) or AgencyProfile(org_id=org.id)
    profile.note, profile.updated_by_id = note, user.id
    db.session.add(profile)
    db.session.flush()


def broker_profile_save(*, user: User, public: bool, intro: str) -> BrokerProfile:
    """A broker's own choice to show a public profile (off until chosen), with a short introduction."""
    if user.role != "broker":
        raise NotAllowed("只有技术经纪人可以设置经纪人主页")
    require_verified_actor(user)
    if len(intro) > 500:
        raise DomainError("个人简介不超过500字", fields={"intro": "个人简介不超过500字"})
    # the account's row lock serialises two first saves (each would add the profile row: a 500 on PostgreSQL)
    db.session.execute(select(User.id).where(User.id == user.id).with_for_update())
    profile = db.session.get(BrokerProfile, user.id, populate_existing=True) or BrokerProfile(user_id=user.id)
    profile.public, profile.intro = bool(public), intro
    db.session.add(profile)
    db.session.flush()
    return profile


def broker_registry_save(*, user: User, broker: User, cert_no: str, agency_id: int | None,
                         region_id: int | None) -> User:
    """An official of the broker's region (or an administrator) keeps the registry entry: the 证书编号 (CERT_RULE,
    unique among brokers), the agency (the broker's own organisation, which must be a 服务机构) and the region
    (one the official oversees)."""
    if broker.role != "broker" or not can_manage_registry(user, broker):
        raise NotAllowed("您无权维护该技术经纪人的登记信息")
    problems: dict[str, str] = {}
    try:
        cert = normalize_cert_no(cert_no)
    except DomainError as err:
        problems.update(err.fields)
        cert = ""
    if cert and broker_cert.cert_taken(cert, exclude_id=broker.id):
        problems["cert_no"] = CERT_TAKEN
    if agency_id != broker.org_id or not is_agency(broker.org):
        problems["agency_id"] = "所属服务机构须为该经纪人所在的服务机构（单位类型为服务机构）"
    region = db.session.get(Region, region_id) if region_id else None
    if region is None or not _official_over(user, region):
        problems["region_id"] = "请选择您所管辖范围内的区域"
    if problems:
        raise DomainError(next(iter(problems.values())), fields=problems)
    broker.broker_cert_no, broker.region_id = cert, region.id
    broker_cert.flush_cert_holder()
    return broker


EXPERT_ROLES = ("enterprise", "institution", "broker")


def _expert_org(*, org_name: str, account: User | None) -> Organization:
    if not org_name:
        if account is not None and account.org is not None:
            return account.org
        raise DomainError("请填写所在单位", fields={"org_name": "请填写所在单位"})
    try:
        name = clean_name(org_name, field_label="所在单位")
    except InvalidName as exc:
        raise DomainError(str(exc), fields={"org_name": str(exc)}) from exc
    org = db.session.scalar(select(Organization).where(Organization.name == name))
    if org is None:
        message = "未找到该单位：请填写平台上已有单位的全称"
        raise DomainError(message, fields={"org_name": message})
    if account is not None and account.org_id is not None and account.org_id != org.id:
        message = f"所在单位与该账号的单位（{account.org.name}）不一致"
        raise DomainError(message, fields={"org_name": message})
    return org


def expert_save(*, user: User, expert: Expert | None, name: str, username: str, org_name: str,
                region_id: int | None, title: str, field_ids: list[int], available: bool) -> Expert:
    """Create (expert None) or update a 专家库 entry, managed by officials of its region and administrators."""
    if not can_manage_experts(user) or (expert is not None and not can_manage_expert(user, expert)):
        raise NotAllowed("您无权维护专家库")
    problems: dict[str, str] = {}
    account = None
    if username:
        account = db.session.scalar(select(User).where(User.username == username))
        if account is None or not account.active:
            problems["username"] = "未找到该账号（或账号已停用）"
        elif account.role not in EXPERT_ROLES or not is_verified_actor(account):
            # the account will score 揭榜方案 signed in: a person of a verified enterprise, institution or agency,
            # never a government or registry account (who runs the campaign or registers its contract)
            problems["username"] = "专家账号须为已认证单位的企业、高校院所或技术经纪人用户"
        else:
            other = db.session.scalar(select(Expert.id).where(Expert.user_id == account.id))
            if other is not None and (expert is None or other != expert.id):
                problems["username"] = "该账号已在专家库中"
    org = None
    try:
        org = _expert_org(org_name=org_name, account=account)
    except DomainError as err:
        problems.update(err.fields)
    region = db.session.get(Region, region_id) if region_id else None
    if region is None or not _official_over(user, region):
        problems["region_id"] = "请选择您所管辖范围内的区域"
    fields = list(db.session.scalars(select(Field).where(Field.id.in_(field_ids)))) if field_ids else []
    if not fields or len(fields) != len(set(field_ids)):
        problems["field_ids"] = "请选择至少一个技术领域"
    if problems:
        raise DomainError(next(iter(problems.values())), fields=problems)
    if expert is None:
        expert = Expert(created_by_id=user.id)
        db.session.add(expert)
    expert.name, expert.title, expert.available = name, title, bool(available)
    expert.user_id, expert.org_id, expert.region_id = (account.id if account else None), org.id, region.id
    expert.fields = fields
    db.session.flush()
    return expert


def expert_set_availability(*, user: User, expert: Expert, available: bool) -> Expert:
    if not can_set_availability(user, expert):
        raise NotAllowed("您无权修改该专家的可用状态")
    expert.available = bool(available)
    db.session.flush()
    return expert


# --- 需求征集 and 承办活动: what counts on an agency's sheet beyond its deals ----------------------------------

COLLECT_DAYS = 30  # a need is recorded as collected within this many days of its publication


def can_collect(user, demand) -> bool:
    """Record a need as collected: a verified broker (approved, in a verified 服务机构) whose region holds the need,
    while the need is published, within COLLECT_DAYS of its publication, and no broker has recorded it yet."""
    from datetime import timedelta

    from ..models import DemandCollection
    from ..models.base import utcnow

    if not (getattr(user, "is_authenticated", False) and user.role == "broker" and is_verified_actor(user)
            and is_agency(user.org)):
        return False
    if demand.status != "published" or demand.published_at is None:
        return False
    if utcnow() - demand.published_at > timedelta(days=COLLECT_DAYS):
        return False
    return in_scope(user, demand.region) and db.session.get(DemandCollection, demand.id) is None


def demand_collect(*, user: User, demand) -> None:
    """需求征集: the broker records that they collected this need with the enterprise (visited it, helped write
    it up); the need then counts, in the year recorded, on the sheets of the broker and of the broker's agency
    (kept there if the broker later moves). The rule a bureau can audit: only the broker themself records it,
    only a verified broker of a verified agency (so nobody attributes a need to an agency they do not belong
    to), only for a published need of their region, within COLLECT_DAYS of its publication (no sweeping up
    old needs), and once per need (the first broker keeps it; the primary key holds under concurrent posts)."""
    from sqlalchemy.exc import IntegrityError

    from ..errors import Conflict
    from ..models import DemandCollection

    if not can_collect(user, demand):
        if db.session.get(DemandCollection, demand.id) is not None:
            raise Conflict("该需求已登记为其他经纪人征集")
        raise NotAllowed("只有需求所在区域、已认证服务机构的技术经纪人可在需求发布后30天内登记征集")
    try:
        with db.session.begin_nested():
            db.session.add(DemandCollection(demand_id=demand.id, broker_id=user.id, agency_id=user.org_id))
    except IntegrityError as exc:
        raise Conflict("该需求已登记为其他经纪人征集") from exc
    from ..notifications.services import notify, path_for

    members = db.session.scalars(select(User.id).where(User.org_id == demand.org_id, User.active.is_(True)))
    notify(users=list(members), kind="listing_collected",
           text=f"技术经纪人{user.name}（{user.org.name}）登记了需求《{demand.title}》为其征集，请确认是否属实",
           url=path_for("listings.detail", kind="demand", listing_id=demand.id))


def can_decide_collection(user, demand) -> bool:
    """Confirm or dispute a broker's claim to have collected a need: a verified member of the need's organisation."""
    return (getattr(user, "is_authenticated", False) and user.role == "enterprise" and is_verified_actor(user)
            and user.org_id == demand.org_id)


def collection_decide(*, user: User, demand, confirm: bool) -> None:
    """The enterprise's word on a broker's 需求征集 claim: confirmed, it counts on the broker's and the agency's
    sheets; disputed, the claim is deleted and the broker is told (another broker may then record it). Under the
    claim's row lock, so two members' answers decide once."""
    from ..errors import Conflict
    from ..models import DemandCollection
    from ..models.base import utcnow
    from ..notifications.services import notify, path_for

    if not can_decide_collection(user, demand):
        raise NotAllowed("只有需求所属企业的已认证用户可以确认需求征集")
    row = db.session.scalar(select(DemandCollection).where(DemandCollection.demand_id == demand.id)
                            .with_for_update().execution_options(populate_existing=True))
    if row is None:
        raise Conflict("该需求没有待确认的征集登记")
    if row.confirmed_at is not None:
        raise Conflict("该需求的征集登记已确认")
    broker_id = row.broker_id
    if confirm:
        row.confirmed_at, row.confirmed_by_id = utcnow(), user.id
        text = f"{demand.org.name}确认了需求《{demand.title}》由您征集，计入您和所在服务机构的年度绩效"
    else:
        db.session.delete(row)
        text = f"{demand.org.name}表示需求《{demand.title}》并非由您征集，该征集登记已撤销"
    db.session.flush()
    notify(users=[broker_id], kind="listing_collection_decided", text=text,
           url=path_for("listings.detail", kind="demand", listing_id=demand.id))


def event_agency_choices(user) -> list[Organization]:
    """The agencies an event's organiser may name as 承办机构: verified 服务机构 of the organiser's region."""
    agencies = db.session.scalars(select(Organization).where(Organization.org_type == "agency",
                                                             Organization.status == "verified")
                                  .order_by(Organization.name, Organization.id))
    return [a for a in agencies if _official_over(user, a.region)]


def happening_set_agency(*, user: User, happening, agency_id: int | None) -> None:
    """The event's organiser (an official who manages it, or an administrator) names the 服务机构 that runs it
    (承办; None clears it): a verified agency of the organiser's region. The event then counts on that agency's
    sheet. Only the bureau names it, so no agency can claim an event."""
    from ..happenings.services import can_manage

    if not can_manage(user, happening) or not is_verified_actor(user):
        raise NotAllowed("只有活动组织方可以指定承办机构")
    if happening.cancelled:
        raise DomainError("活动已取消，不能指定承办机构")
    if agency_id:
        agency = db.session.get(Organization, agency_id)
        if agency is None or agency not in event_agency_choices(user):
            message = "请选择您所管辖范围内已认证的服务机构"
            raise DomainError(message, fields={"agency_id": message})
    happening.agency_id = agency_id or None
    db.session.flush()
