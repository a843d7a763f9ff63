"""The region tree (市 → 县区 → 镇街道): by hand, or from a file (`flask import regions`)."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import String, func, literal, select, update

from ...errors import DomainError
from ...extensions import db
from ...forms import clean_text
from ...imports import BadRow, ImportReport, Layout
from ...models import Region
from ...models.region import LEVEL_ORDER, LEVELS
from ...text import InvalidName, clean_name, clean_name_into
from .common import normalize_code, refuse_if_referenced, region_or_none

CODE_RULES = {
    "city": (re.compile(r"[0-9]{6}"), "市级行政区划代码应为6位数字"),
    "county": (re.compile(r"[0-9]{6}"), "县区级行政区划代码应为6位数字"),
    "town": (re.compile(r"[0-9]{9}|[0-9]{12}"), "镇街道行政区划代码应为9位或12位数字"),
}


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
    parent = region_or_none(parent_id)
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
    refuse_if_referenced("regions", region.id, "区域")
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
