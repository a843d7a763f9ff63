"""Organisations as an administrator edits them (verification: market/orgs.py)."""
from __future__ import annotations

from sqlalchemy import select

from ...auth.services import ROLE_ORG_TYPES
from ...divisions import OUTSIDE_REGION, org_place
from ...errors import DomainError
from ...extensions import db
from ...models import LISTING_MODELS, Organization, User
from ...models.org import ORG_TYPES
from ...models.user import ROLES
from ...text import clean_name_into
from ...uscc import USCCError, normalize_uscc
from .common import clean_value, region_or_none


def org_update(
    *,
    org: Organization,
    name: str,
    uscc: str,
    org_type: str,
    region_id: int | None,
    contact_name: str = "",
    contact_phone: str = "",
    contact_email: str = "",
    address: str = "",
    division_code: str | None = None,
    country: str | None = None,
) -> Organization:
    errors: dict[str, str] = {}
    name = clean_name_into(errors, "name", name, field_label="单位名称")
    if len(name) < 2 or len(name) > 100:
        errors.setdefault("name", "单位名称长度为2-100字")
    elif "name" not in errors and db.session.scalar(
            select(Organization.id).where(Organization.name == name, Organization.id != org.id)):
        errors["name"] = "已有同名单位"
    try:
        uscc = normalize_uscc(uscc)
    except USCCError as exc:
        errors["uscc"] = str(exc)
    else:
        if db.session.scalar(select(Organization.id).where(Organization.uscc == uscc, Organization.id != org.id)):
            errors["uscc"] = "该统一社会信用代码已被其他单位使用"
    if org_type not in ORG_TYPES:
        errors["org_type"] = "请选择单位类型"
    elif org_type != org.org_type:
        roles = db.session.scalars(select(User.role).where(User.org_id == org.id).distinct()).all()
        clash = [r for r in roles if r in ROLE_ORG_TYPES and org_type not in ROLE_ORG_TYPES[r]]
        if clash:
            errors["org_type"] = "该单位有" + "、".join(ROLES[r] for r in clash) + "账号，单位类型须与账号身份一致"
    # the real place (issue 16 item 1): a node of the city's tree, or "本市以外或境外" with a code or a 国别
    region = region_or_none(region_id) if region_id and region_id != OUTSIDE_REGION else None
    place, place_errors = org_place(region=region, outside=region_id == OUTSIDE_REGION,
                                    division_code=division_code, country=country)
    errors.update(place_errors)
    if errors:
        raise DomainError("单位信息有误，请按提示修改", fields=errors)
    if org.region_id != place.region_id:
        # listings carry their organisation's region for scoping and the index: move them along
        for model in LISTING_MODELS.values():
            for listing in db.session.scalars(select(model).where(model.org_id == org.id)):
                listing.region_id = place.region_id
    org.name = name
    org.uscc = uscc
    org.org_type = org_type
    org.region_id = place.region_id
    org.division_code = place.division_code
    org.country = place.country
    org.contact_name = clean_value(contact_name)
    org.contact_phone = clean_value(contact_phone)
    org.contact_email = clean_value(contact_email)
    org.address = clean_value(address)
    db.session.flush()
    return org
