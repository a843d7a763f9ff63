"""Administrator writes: accounts, organisations, the region tree, the field taxonomy, the region import.

Keyword-only functions that add and flush; the view (or CLI command) commits once. Refusals are
DomainErrors whose `fields` name the form field each Chinese reason belongs to.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import String, func, literal, or_, select, update

from ..auth.services import ROLE_ORG_TYPES, password_problem, sessions_revoke_all
from ..errors import Conflict, DomainError
from ..extensions import db
from ..imports import BadRow, ImportReport, Layout
from ..models import Field, Organization, Region, User
from ..models.base import utcnow
from ..models.org import ORG_TYPES
from ..models.region import LEVEL_ORDER, LEVELS
from ..text import InvalidName, clean_name, clean_name_into
from ..uscc import USCCError, normalize_uscc

# ---------------------------------------------------------------- accounts

CREATABLE_ROLES = ("official", "broker", "admin")
REGION_ROLES = ("official", "broker")
USERNAME_RE = re.compile(r"[A-Za-z0-9_.-]{3,32}")


def _clean(value) -> str:
    return (value or "").strip() if isinstance(value, str) else ""


def _username_taken(username: str, *, exclude_id: int | None = None) -> bool:
    stmt = select(User.id).where(func.lower(User.username) == username.lower())
    if exclude_id is not None:
        stmt = stmt.where(User.id != exclude_id)
    return db.session.scalar(stmt) is not None


def _account_problems(*, role: str, name: str, region: Region | None, broker_cert_no: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "请填写姓名"
    elif len(name) > 50:
        errors["name"] = "姓名不超过50字"
    if role == "official" and region is None:
        errors["region_id"] = "科技局工作人员须绑定一个区域"
    elif role == "broker" and region is None:
        errors["region_id"] = "请选择技术经纪人服务的区域"
    if role == "broker" and not broker_cert_no:
        errors["broker_cert_no"] = "请填写技术经纪人证书编号"
    elif len(broker_cert_no) > 50:
        errors["broker_cert_no"] = "证书编号不超过50字"
    return errors


def _region_or_none(region_id) -> Region | None:
    return db.session.get(Region, region_id) if isinstance(region_id, int) and region_id > 0 else None


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
    broker_cert_no = _clean(broker_cert_no)
    if role not in CREATABLE_ROLES:
        errors["role"] = "只能在此创建科技局工作人员、技术经纪人或系统管理员账号"
    if not USERNAME_RE.fullmatch(username):
        errors["username"] = "用户名为3-32位字母、数字、下划线、点或减号"
    elif _username_taken(username):
        errors["username"] = "该用户名已被使用"
    problem = password_problem(password or "", username=username)
    if problem:
        errors["password"] = problem
    region = _region_or_none(region_id)
    errors.update({k: v for k, v in _account_problems(role=role, name=name, region=region,
                                                       broker_cert_no=broker_cert_no).items() if k not in errors})
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
        phone=_clean(phone),
        email=_clean(email),
        role=role,
        org_id=org.id if org else None,
        region_id=region.id if role in REGION_ROLES else None,
        broker_cert_no=broker_cert_no if role == "broker" else "",
    )
    if role == "broker" and actor is not None:
        user.broker_status = "approved"
        user.broker_reviewed_by_id = actor.id
        user.broker_reviewed_at = utcnow()
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
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
    name, broker_cert_no = clean_name_into(name_errors, "name", name, field_label="姓名"), _clean(broker_cert_no)
    region = _region_or_none(region_id) if user.role in REGION_ROLES else None
    errors = _account_problems(role=user.role, name=name, region=region, broker_cert_no=broker_cert_no) | name_errors
    if errors:
        raise DomainError("账号信息有误，请按提示修改", fields=errors)
    user.name = name
    user.phone = _clean(phone)
    user.email = _clean(email)
    if user.role in REGION_ROLES:
        user.region_id = region.id
    if user.role == "broker":
        user.broker_cert_no = broker_cert_no
    db.session.flush()
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


# ---------------------------------------------------------------- organisations


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
            from ..models.user import ROLES

            errors["org_type"] = "该单位有" + "、".join(ROLES[r] for r in clash) + "账号，单位类型须与账号身份一致"
    region = _region_or_none(region_id)
    if region is None:
        errors["region_id"] = "请选择所在区域"
    if errors:
        raise DomainError("单位信息有误，请按提示修改", fields=errors)
    if org.region_id != region.id:
        # listings carry their organisation's region for scoping and the index: move them along
        from ..models import LISTING_MODELS

        for model in LISTING_MODELS.values():
            for listing in db.session.scalars(select(model).where(model.org_id == org.id)):
                listing.region_id = region.id
    org.name = name
    org.uscc = uscc
    org.org_type = org_type
    org.region_id = region.id
    org.contact_name = _clean(contact_name)
    org.contact_phone = _clean(contact_phone)
    org.contact_email = _clean(contact_email)
    org.address = _clean(address)
    db.session.flush()
    return org


# ---------------------------------------------------------------- references (for safe deletes)

REFERENCE_LABELS = {
    "regions": "下级区划",
    "fields": "下级领域",
    "users": "用户",
    "organizations": "单位",
    "demands": "技术需求",
    "achievements": "科技成果",
    "contracts": "技术合同",
    "targets": "目标任务",
    "deals": "对接",
}


def references(table_name: str, row_id: int) -> list[tuple[str, int]]:
    """Rows of every table that point at `table_name.id == row_id` through a foreign key.

    Read from the metadata, so a table added by a later feature is counted without changes here.
    """
    counts: dict[str, int] = {}
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if any(fk.target_fullname == f"{table_name}.id" for fk in c.foreign_keys)]
        if not columns:
            continue
        n = db.session.scalar(select(func.count()).select_from(table).where(or_(*(c == row_id for c in columns))))
        if n:
            label = REFERENCE_LABELS.get(table.name, "其他记录")
            counts[label] = counts.get(label, 0) + n
    return list(counts.items())


def _refuse_if_referenced(table_name: str, row_id: int, what: str) -> None:
    refs = references(table_name, row_id)
    if refs:
        listed = "、".join(f"{label} {n} 条" for label, n in refs)
        raise Conflict(f"该{what}仍被使用（{listed}），不能删除")


# ---------------------------------------------------------------- regions

CODE_RULES = {
    "city": (re.compile(r"[0-9]{6}"), "市级行政区划代码应为6位数字"),
    "county": (re.compile(r"[0-9]{6}"), "县区级行政区划代码应为6位数字"),
    "town": (re.compile(r"[0-9]{9}|[0-9]{12}"), "镇街道行政区划代码应为9位或12位数字"),
}


def normalize_code(value) -> str:
    """Half-width, no spaces: '３４０３００ ' -> '340300'."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        return ""
    return unicodedata.normalize("NFKC", value).replace(" ", "").strip()


def _region_problems(*, code: str, name: str, level: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    if level not in LEVELS:
        errors["level"] = "级别应为市（city）、县区（county）或镇街道（town）"
    if not code:
        errors["code"] = "请填写行政区划代码"
    elif level in LEVELS and not CODE_RULES[level][0].fullmatch(code):
        errors["code"] = CODE_RULES[level][1]
    elif level not in LEVELS and not re.fullmatch(r"[0-9]{6,12}", code):
        errors["code"] = "行政区划代码应为数字"
    if not name:
        errors["name"] = "请填写区划名称"
    elif len(name) > 64:
        errors["name"] = "区划名称不超过64字"
    return errors


def _parent_problem(level: str, parent_level: str | None) -> str | None:
    """A city has no parent; a county's parent is a city; a town's parent is a county."""
    if level == "city":
        return "市级区划没有上级区划" if parent_level is not None else None
    want = LEVEL_ORDER[LEVEL_ORDER.index(level) - 1]
    if parent_level is None:
        return f"{LEVELS[level]}级区划须有上级区划（{LEVELS[want]}级）"
    if parent_level != want:
        return f"{LEVELS[level]}级区划的上级应为{LEVELS[want]}级区划，所选上级为{LEVELS[parent_level]}级"
    return None


def _region_insert(*, code: str, name: str, level: str, parent: Region | None, sort: int = 0) -> Region:
    region = Region(code=code, name=name, level=level, parent_id=parent.id if parent else None, sort=sort)
    db.session.add(region)
    db.session.flush()
    region.path = (parent.path if parent else "/") + f"{region.id}/"
    db.session.flush()
    return region


def _region_reparent(region: Region, parent: Region | None) -> None:
    """Move a region under another parent and rewrite the path of it and its whole subtree."""
    old = region.path
    new = (parent.path if parent else "/") + f"{region.id}/"
    region.parent_id = parent.id if parent else None
    db.session.flush()
    if new == old:
        return
    db.session.execute(
        update(Region)
        .where(Region.path.startswith(old))
        .values(path=literal(new, String) + func.substr(Region.path, len(old) + 1)),
        execution_options={"synchronize_session": "fetch"},
    )


def _region_validate(*, region: Region | None, code: str, name: str, level: str, parent_id) -> tuple[dict, Region | None]:
    errors = _region_problems(code=code, name=name, level=level)
    parent = _region_or_none(parent_id)
    if parent_id and parent is None:
        errors["parent_id"] = "上级区划不存在"
    elif region is not None and parent is not None and parent.path.startswith(region.path):
        errors["parent_id"] = "上级区划不能是本区划或其下级"
    elif level in LEVELS:
        problem = _parent_problem(level, parent.level if parent else None)
        if problem:
            errors["parent_id"] = problem
    if "code" not in errors:
        stmt = select(Region.id).where(Region.code == code)
        if region is not None:
            stmt = stmt.where(Region.id != region.id)
        if db.session.scalar(stmt):
            errors["code"] = f"行政区划代码 {code} 已存在"
    if region is not None and level != region.level and db.session.scalar(select(Region.id).where(Region.parent_id == region.id)):
        errors["level"] = "该区划下还有下级区划，不能修改级别"
    return errors, parent


def region_create(*, code: str, name: str, level: str, parent_id: int | None = None, sort: int = 0) -> Region:
    name_errors: dict[str, str] = {}
    code, name = normalize_code(code), clean_name_into(name_errors, "name", name, field_label="区划名称")
    errors, parent = _region_validate(region=None, code=code, name=name, level=level, parent_id=parent_id)
    errors.update(name_errors)
    if errors:
        raise DomainError("区划信息有误，请按提示修改", fields=errors)
    return _region_insert(code=code, name=name, level=level, parent=parent, sort=sort or 0)


def region_update(*, region: Region, code: str, name: str, level: str, parent_id: int | None = None, sort: int = 0) -> Region:
    """Edit a region; a new parent moves its whole subtree (paths rewritten)."""
    name_errors: dict[str, str] = {}
    code, name = normalize_code(code), clean_name_into(name_errors, "name", name, field_label="区划名称")
    errors, parent = _region_validate(region=region, code=code, name=name, level=level, parent_id=parent_id)
    errors.update(name_errors)
    if errors:
        raise DomainError("区划信息有误，请按提示修改", fields=errors)
    region.code, region.name, region.level, region.sort = code, name, level, sort or 0
    if region.parent_id != (parent.id if parent else None):
        _region_reparent(region, parent)
    db.session.flush()
    return region


def region_delete(*, region: Region) -> None:
    """Only a region nothing points at (no sub-regions, users, organisations, listings, contracts, ...)."""
    _refuse_if_referenced("regions", region.id, "区域")
    db.session.delete(region)
    db.session.flush()


LEVEL_ALIASES = {
    "city": "city", "市": "city",
    "county": "county", "县区": "county", "区县": "county", "县": "county", "区": "county",
    "town": "town", "镇街道": "town", "镇": "town", "街道": "town", "乡": "town", "乡镇": "town",
}


#: `flask import regions`: CSV or JSON Lines with these columns, read by market.imports
REGION_LAYOUT = Layout(
    suffixes=(".csv", ".jsonl"),
    required=("code", "name", "level"),
    texts={"missing": "表头缺少列：{columns}（第1行应为列名，例如 code,name,parent_code,level）"},
)


@dataclass
class RegionImportReport(ImportReport):
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def _cell(value) -> str | None:
    """A scalar cell as clean text; None when the cell holds a list, an object, ..."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    from ..forms import clean_text

    return clean_text(str(value))


def regions_import(rows: Iterable[dict], *, skip_bad: bool = False) -> RegionImportReport:
    """Create or update regions from rows {code, name, parent_code, level} (line number under "_line").

    Every row is checked first; a parent must be an earlier good row or already stored. With any bad
    row nothing is stored (report.stored is False) unless skip_bad, which stores the good rows. An
    existing code is updated (name, parent: a moved subtree gets its paths rewritten); its level stays.
    """
    report = RegionImportReport()
    stored = {code: level for code, level in db.session.execute(select(Region.code, Region.level))}
    good: dict[str, tuple[int, str]] = {}  # code -> (line, level) of good rows so far
    bad: dict[str, int] = {}  # code -> line of bad rows
    plan: list[dict] = []
    for index, row in enumerate(rows, start=1):
        report.total = index
        line = row.get("_line", index)
        if row.get("_error"):
            report.bad.append(BadRow(line, "", row["_error"]))
            continue
        code_cell, name, parent_cell, level_cell = (_cell(row.get(k)) for k in ("code", "name", "parent_code", "level"))
        code, parent_code = normalize_code(code_cell), normalize_code(parent_cell)
        reasons: list[str] = []
        if None in (code_cell, name, parent_cell, level_cell):
            reasons.append("单元格应为文本或数字")
        elif name:
            try:
                name = clean_name(name, field_label="区划名称")
            except InvalidName as exc:
                reasons.append(str(exc))
        level = LEVEL_ALIASES.get((level_cell or "").lower(), level_cell or "")
        reasons += _region_problems(code=code, name=name or "", level=level).values()
        if code and code in good:
            reasons.append(f"与第{good[code][0]}行的区划代码重复")
        elif code and code in bad:
            reasons.append(f"与第{bad[code]}行的区划代码重复")
        parent_level = None
        if parent_code:
            if parent_code == code:
                reasons.append("上级区划代码不能是本行的区划代码")
            elif parent_code in good:
                parent_level = good[parent_code][1]
            elif parent_code in bad:
                reasons.append(f"上级区划 {parent_code} 所在的第{bad[parent_code]}行有误")
            elif parent_code in stored:
                parent_level = stored[parent_code]
            else:
                reasons.append(f"上级区划代码 {parent_code} 不存在（上级须写在本行之前或已在系统中）")
        if level in LEVELS and not (parent_code and parent_level is None):
            problem = _parent_problem(level, parent_level)
            if problem:
                reasons.append(problem)
        if code in stored and level in LEVELS and stored[code] != level:
            reasons.append(f"已有区划 {code} 为{LEVELS[stored[code]]}级，不能改为{LEVELS[level]}级")
        if reasons:
            report.bad.append(BadRow(line, code, "；".join(dict.fromkeys(reasons))))
            if code:
                bad.setdefault(code, line)
            continue
        good[code] = (line, level)
        plan.append({"code": code, "name": name, "level": level, "parent_code": parent_code or None})
    if report.bad and not skip_bad:
        return report
    by_code = {r.code: r for r in db.session.scalars(select(Region))}
    for item in plan:
        parent = by_code[item["parent_code"]] if item["parent_code"] else None
        region = by_code.get(item["code"])
        if region is None:
            by_code[item["code"]] = _region_insert(code=item["code"], name=item["name"], level=item["level"], parent=parent)
            report.created += 1
            continue
        moved = region.parent_id != (parent.id if parent else None)
        if region.name == item["name"] and not moved:
            report.unchanged += 1
            continue
        region.name = item["name"]
        if moved:
            _region_reparent(region, parent)
        report.updated += 1
    db.session.flush()
    report.stored = True
    return report


# ---------------------------------------------------------------- field taxonomy


def _siblings(parent_id: int | None, *, exclude_id: int | None = None) -> list[Field]:
    stmt = select(Field).where(Field.parent_id.is_(None) if parent_id is None else Field.parent_id == parent_id)
    if exclude_id is not None:
        stmt = stmt.where(Field.id != exclude_id)
    return list(db.session.scalars(stmt.order_by(Field.sort, Field.code, Field.id)))


def _field_name_problem(name: str, parent_id: int | None, *, exclude_id: int | None = None) -> str | None:
    if not name:
        return "请填写领域名称"
    if len(name) > 64:
        return "领域名称不超过64字"
    if any(f.name == name for f in _siblings(parent_id, exclude_id=exclude_id)):
        return "同一上级下已有同名领域"
    return None


def _next_field_code(parent: Field | None) -> str | None:
    prefix = f"{parent.code}." if parent else ""
    numbers = [int(f.code[len(prefix):]) for f in _siblings(parent.id if parent else None)
               if f.code.startswith(prefix) and f.code[len(prefix):].isdigit()]
    nxt = max(numbers, default=0) + 1
    return f"{prefix}{nxt:02d}" if nxt < 100 else None


def field_create(*, name: str, parent_id: int | None = None, code: str = "") -> Field:
    """A top-level domain ('09') or a subfield of one ('01.09'); the code is generated when left empty."""
    errors: dict[str, str] = {}
    name, code = clean_name_into(errors, "name", name, field_label="领域名称"), normalize_code(code)
    parent = db.session.get(Field, parent_id) if isinstance(parent_id, int) and parent_id > 0 else None
    if parent_id and parent is None:
        errors["parent_id"] = "上级领域不存在"
    elif parent is not None and parent.parent_id is not None:
        errors["parent_id"] = "技术领域只有两级，请选择一级领域"
    else:
        if not code:
            code = _next_field_code(parent) or ""
            if not code:
                errors["code"] = "代码已用尽，请手工填写"
        elif parent is None and not re.fullmatch(r"[0-9]{2}", code):
            errors["code"] = "一级领域代码应为两位数字，例如 09"
        elif parent is not None and not re.fullmatch(re.escape(parent.code) + r"\.[0-9]{2}", code):
            errors["code"] = f"二级领域代码应为“{parent.code}.两位数字”，例如 {parent.code}.01"
        if code and "code" not in errors and db.session.scalar(select(Field.id).where(Field.code == code)):
            errors["code"] = f"领域代码 {code} 已存在"
    problem = _field_name_problem(name, parent.id if parent else None)
    if problem:
        errors.setdefault("name", problem)
    if errors:
        raise DomainError("领域信息有误，请按提示修改", fields=errors)
    siblings = _siblings(parent.id if parent else None)
    field = Field(code=code, name=name, parent_id=parent.id if parent else None,
                  sort=max((f.sort or 0 for f in siblings), default=0) + 1)
    db.session.add(field)
    db.session.flush()
    return field


def field_rename(*, field: Field, name: str) -> Field:
    """Rename only: the code stays, since listings, filters and imports refer to it."""
    try:
        name = clean_name(name, field_label="领域名称")
    except InvalidName as exc:
        raise DomainError(str(exc), fields={"name": str(exc)}) from None
    problem = _field_name_problem(name, field.parent_id, exclude_id=field.id)
    if problem:
        raise DomainError(problem, fields={"name": problem})
    field.name = name
    db.session.flush()
    return field


def field_move(*, field: Field, direction: str) -> Field:
    """Swap a field with its neighbour among its siblings ('up' or 'down'); siblings renumbered 1..n."""
    if direction not in ("up", "down"):
        raise DomainError("移动方向无效")
    siblings = _siblings(field.parent_id)
    index = next(i for i, f in enumerate(siblings) if f.id == field.id)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(siblings):
        siblings[index], siblings[other] = siblings[other], siblings[index]
    for position, item in enumerate(siblings, start=1):
        item.sort = position
    db.session.flush()
    return field


def field_delete(*, field: Field) -> None:
    """Only a field nothing uses (no subfields, listings or contracts)."""
    _refuse_if_referenced("fields", field.id, "领域")
    db.session.delete(field)
    db.session.flush()
