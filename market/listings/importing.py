"""Importing listings collected offline by brokers: `flask --app app import achievements|demands FILE`.

Rules:
- keys: external_id, title, summary (results) or description (needs), keywords (a list, or text split on
  、，,; and spaces), organization (a name); optional field (a subfield code such as 04.01 or its name),
  region (a code or a "/"-joined name path, e.g. 蚌埠市/怀远县), maturity (results, 1-9), price_wan
  (results) or budget_wan (needs) in 万元 (empty = 面议), modes (codes or Chinese names).
- external_id is unique per kind: importing it again updates that listing.
- an unknown organisation is created unverified (高校 for results, 企业 for needs) and reported; its
  listings are owned by its first user, or by a placeholder account that cannot sign in.
- imported rows are published, with a ListingEvent by the system (no actor).
- every row is checked before anything is written: with a bad row nothing is stored unless skip_bad.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select

from ..extensions import db
from ..imports import BadRow, ImportReport, Layout, clean_text
from ..models import LISTING_MODELS, Field, ListingEvent, ListingMixin, Organization, Region, User
from ..models.base import utcnow
from ..orgs import org_new
from ..models.listing import ACHIEVEMENT_MODES, DEMAND_MODES, MATURITY_LEVELS
from ..money import AmountError, parse_wan
from ..text import InvalidName, clean_name
from .services import KEYWORD_SPLIT

BODY_KEY = {"achievement": "summary", "demand": "description"}
AMOUNT_KEY = {"achievement": "price_wan", "demand": "budget_wan"}
AMOUNT_COLUMN = {"achievement": "price", "demand": "budget"}
NEW_ORG_TYPE = {"achievement": "university", "demand": "enterprise"}
ORG_TYPES_ALLOWED = {"achievement": ("university", "institute"), "demand": ("enterprise",)}
OWNER_ROLE = {"achievement": "institution", "demand": "enterprise"}
MODES = {"achievement": ACHIEVEMENT_MODES, "demand": DEMAND_MODES}
KIND_WORD = {"achievement": "科技成果", "demand": "技术需求"}
IMPORT_REASON = "批量导入"
MAX_KEYWORDS, MAX_KEYWORD_LEN, KEYWORDS_COLUMN = 12, 30, 300


#: any column names (lower-cased); .jsonl, .csv or .xlsx
LAYOUT = Layout()
#: what a scalar cell may hold: JSON numbers with a fraction are read as Decimal
SCALAR = (str, int, float, Decimal)


@dataclass
class ListingImportReport(ImportReport):
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    new_orgs: list[str] = field(default_factory=list)
    placeholder_owners: list[str] = field(default_factory=list)


@dataclass
class _Row:
    line: int
    external_id: str
    values: dict


class _Problem(Exception):
    pass


# -- value helpers --------------------------------------------------------------------------------

def _text(row: dict, key: str, label: str) -> str:
    value = row.get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, SCALAR):
        raise _Problem(f"{label}应为文字")
    return clean_text(str(value)).strip()


def _name(row: dict, key: str, label: str) -> str:
    """A title or an organisation name, in the form every other path stores (market.text.clean_name)."""
    value = row.get(key)  # as typed: _text's clean_text would drop control characters silently, a name refuses them
    try:
        return clean_name(value if isinstance(value, str) else _text(row, key, label), field_label=label)
    except InvalidName as exc:
        raise _Problem(str(exc)) from None


def _keywords(value) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, list):
        items = [str(v) for v in value if isinstance(v, SCALAR) and not isinstance(v, bool)]
        if len(items) != len(value):
            raise _Problem("keywords 列表中只能是文字")
        items = [re.sub(r"[,，]", " ", clean_text(v)).strip() for v in items]
    elif isinstance(value, str):
        items = KEYWORD_SPLIT.split(clean_text(value))
    else:
        raise _Problem("keywords 应为列表或以、，,；或空格分隔的文字")
    words: list[str] = []
    for item in items:
        word = item.strip()[:MAX_KEYWORD_LEN]
        if word and word not in words:
            words.append(word)
    words = words[:MAX_KEYWORDS]
    while words and len(",".join(words)) > KEYWORDS_COLUMN:
        words.pop()
    return ",".join(words)


class _Reference:
    """Fields and regions, loaded once per import, resolved by code or by name."""

    def __init__(self) -> None:
        self.fields = db.session.scalars(select(Field)).all()
        self.field_by_code = {f.code: f for f in self.fields}
        by_id = {f.id: f for f in self.fields}
        self.field_by_name: dict[str, list[Field]] = {}
        for f in self.fields:
            names = [f.name]
            parent = by_id.get(f.parent_id or 0)
            if parent is not None:
                names += [f"{parent.name}/{f.name}", f"{parent.name} / {f.name}"]
            for name in names:
                self.field_by_name.setdefault(name, []).append(f)
        self.regions = db.session.scalars(select(Region)).all()
        self.region_by_code = {r.code: r for r in self.regions}
        region_by_id = {r.id: r for r in self.regions}
        self.region_paths = {
            r.id: [region_by_id[i].name for i in r.ancestor_ids if i in region_by_id] for r in self.regions
        }
        self.region_by_id = region_by_id

    def field(self, value: str) -> Field:
        found = self.field_by_code.get(value)
        if found is None:
            matches = self.field_by_name.get(value) or self.field_by_name.get(re.sub(r"\s*/\s*", "/", value)) or []
            if len(matches) > 1:
                raise _Problem(f"技术领域“{value}”有多个同名项，请填写代码（如 04.01）")
            found = matches[0] if matches else None
        if found is None:
            raise _Problem(f"未知的技术领域“{value}”（请填写二级领域代码如 04.01，或其名称）")
        if found.parent_id is None:
            raise _Problem(f"技术领域“{value}”是一级领域，请填写二级领域")
        return found

    def region(self, value: str) -> Region:
        found = self.region_by_code.get(value)
        if found is not None:
            return found
        parts = [p.strip() for p in re.split(r"[/／]", value) if p.strip()]
        if not parts:
            raise _Problem("区域为空")
        matches = [self.region_by_id[rid] for rid, names in self.region_paths.items()
                   if len(names) >= len(parts) and names[-len(parts):] == parts]
        if len(matches) > 1:
            raise _Problem(f"区域“{value}”不唯一，请填写完整路径（如 蚌埠市/怀远县）或区划代码")
        if not matches:
            raise _Problem(f"未知的区域“{value}”（请填写区划代码，或以 / 分隔的名称路径）")
        return matches[0]


# -- checking rows --------------------------------------------------------------------------------

def _check(kind: str, line: int, row: dict, ref: _Reference, orgs: dict[str, Organization | None]) -> _Row:
    problems: list[str] = []
    values: dict = {}

    def attempt(fn):
        try:
            fn()
        except _Problem as exc:
            problems.append(str(exc))

    external_id = ""
    try:
        external_id = _text(row, "external_id", "external_id")
    except _Problem as exc:
        problems.append(str(exc))
    if not external_id:
        problems.append("缺少 external_id")
    elif len(external_id) > 64:
        problems.append("external_id 不超过64个字符")

    def title():
        text = _name(row, "title", "标题")
        if not 4 <= len(text) <= 120:
            raise _Problem("标题长度应为4-120字" if text else "缺少标题（title）")
        values["title"] = text

    def body():
        key = BODY_KEY[kind]
        text = _text(row, key, key)
        label = "成果简介（summary）" if kind == "achievement" else "需求描述（description）"
        if not text:
            raise _Problem(f"缺少{label}")
        if not 10 <= len(text) <= 5000:
            raise _Problem(f"{label}长度应为10-5000字")
        values[key] = text

    def keywords():
        values["keywords"] = _keywords(row.get("keywords"))

    def organization():
        name = _name(row, "organization", "单位名称")
        if not name:
            raise _Problem("缺少单位名称（organization）")
        if len(name) > 100:
            raise _Problem("单位名称不超过100字")
        if name not in orgs:
            orgs[name] = db.session.scalar(select(Organization).where(Organization.name == name))
        org = orgs[name]
        if org is not None and org.org_type not in ORG_TYPES_ALLOWED[kind]:
            raise _Problem(f"单位“{name}”是{org.type_label}，不能发布{KIND_WORD[kind]}")
        values["organization"] = name

    def field_():
        text = _text(row, "field", "技术领域")
        values["field_id"] = ref.field(text).id if text else None

    def region():
        text = _text(row, "region", "区域")
        values["region_id"] = ref.region(text).id if text else None

    def maturity():
        if kind != "achievement":
            return
        value = row.get("maturity")
        if value is None or value == "":
            values["maturity"] = None
            return
        text = str(value).strip().removesuffix("级")
        if isinstance(value, bool) or not (text.isascii() and text.isdigit()) or int(text) not in MATURITY_LEVELS:
            raise _Problem("技术成熟度应为1-9的整数")
        values["maturity"] = int(text)

    def amount():
        key = AMOUNT_KEY[kind]
        value = row.get(key)
        if value is None or (isinstance(value, str) and value.strip() in ("", "面议")):
            values["amount"] = None
            return
        if isinstance(value, bool) or not isinstance(value, SCALAR):
            raise _Problem(f"{key} 应为万元数字")
        try:
            values["amount"] = parse_wan(str(value))
        except AmountError as exc:
            raise _Problem(f"{key}：{exc}") from None

    def modes():
        value = row.get("modes")
        if value is None or value == "":
            values["modes"] = None
            return
        items = value if isinstance(value, list) else KEYWORD_SPLIT.split(str(value))
        by_label = {label: code for code, label in MODES[kind].items()}
        codes = []
        for item in (str(i).strip() for i in items):
            if not item:
                continue
            code = item if item in MODES[kind] else by_label.get(item)
            if code is None:
                raise _Problem(f"未知的{'合作' if kind == 'demand' else '交易'}方式“{item[:20]}”")
            codes.append(code)
        values["modes"] = codes

    for check in (title, body, keywords, organization, field_, region, maturity, amount, modes):
        attempt(check)
    if problems:
        raise _Problem("；".join(problems))
    return _Row(line=line, external_id=external_id, values=values)


# -- writing -------------------------------------------------------------------------------------

def _owner(org: Organization, kind: str, report: ListingImportReport) -> User:
    users = db.session.scalars(select(User).where(User.org_id == org.id).order_by(User.id)).all()
    for user in users:
        if user.active and user.role == OWNER_ROLE[kind]:
            return user
    if users:
        return users[0]
    base = f"import-{org.id}"
    username, n = base, 1
    while db.session.scalar(select(User.id).where(User.username == username)) is not None:
        n += 1
        username = f"{base}-{n}"
    user = User(username=username, name=f"{org.name[:40]}（导入）", role=OWNER_ROLE[kind], org_id=org.id,
                active=False, password_hash="!")  # "!" is no hash: it never matches a password
    db.session.add(user)
    db.session.flush()
    report.placeholder_owners.append(username)
    return user


def _apply(listing: ListingMixin, kind: str, values: dict, org: Organization) -> None:
    listing.title = values["title"]
    setattr(listing, BODY_KEY[kind], values[BODY_KEY[kind]])
    listing.keywords = values["keywords"]
    listing.org_id = org.id
    if values["field_id"] is not None:
        listing.field_id = values["field_id"]
    listing.region_id = values["region_id"] or org.region_id
    if kind == "achievement" and values.get("maturity") is not None:
        listing.maturity = values["maturity"]
    setattr(listing, AMOUNT_COLUMN[kind], values["amount"])
    if values["modes"] is not None:
        listing.set_modes(values["modes"])


def listings_import(*, kind: str, rows: Iterable[tuple[int, dict]], skip_bad: bool = False) -> ListingImportReport:
    """Check every row, then (if all are good, or skip_bad) create or update and publish. Adds and
    flushes; the caller commits (or rolls back when `report.stored` is False)."""
    model = LISTING_MODELS[kind]
    report = ListingImportReport()
    ref = _Reference()
    orgs: dict[str, Organization | None] = {}
    good: list[_Row] = []
    first_line: dict[str, int] = {}
    for line, row in rows:
        report.total += 1
        if "_error" in row:
            report.bad.append(BadRow(line, "", str(row["_error"])))
            continue
        try:
            checked = _check(kind, line, row, ref, orgs)
        except _Problem as exc:
            ext = row.get("external_id")
            report.bad.append(BadRow(line, str(ext)[:64] if isinstance(ext, (str, int)) else "", str(exc)))
            continue
        if checked.external_id in first_line:
            report.bad.append(BadRow(line, checked.external_id,
                                     f"external_id 与第{first_line[checked.external_id]}行重复"))
            continue
        first_line[checked.external_id] = line
        good.append(checked)
    if report.bad and not skip_bad:
        return report

    existing = {}
    ids = [r.external_id for r in good]
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        existing.update({x.external_id: x for x in db.session.scalars(select(model).where(model.external_id.in_(chunk)))})
    owners: dict[int, User] = {}
    now = utcnow()
    published: list[tuple[ListingMixin, str | None]] = []
    for r in good:
        name = r.values["organization"]
        org = orgs.get(name)
        if org is None:
            org = org_new(name=name, org_type=NEW_ORG_TYPE[kind], region_id=r.values["region_id"])
            orgs[name] = org
            report.new_orgs.append(name)
        if org.id not in owners:
            owners[org.id] = _owner(org, kind, report)
        listing = existing.get(r.external_id)
        if listing is None:
            listing = model(external_id=r.external_id, owner_id=owners[org.id].id, status="draft")
            _apply(listing, kind, r.values, org)
            if not listing.modes:
                listing.modes = ""
            db.session.add(listing)
            report.created += 1
            published.append((listing, None))
            continue
        _apply(listing, kind, r.values, org)
        changed = db.session.is_modified(listing)
        if listing.status in ("draft", "pending", "returned"):
            published.append((listing, listing.status))
            changed = True
        if changed:
            report.updated += 1
        else:
            report.unchanged += 1
    for listing, _ in published:
        listing.status = "published"
        listing.published_at = now
        listing.return_reason = ""
    db.session.flush()
    db.session.add_all([
        ListingEvent(kind=kind, listing_id=listing.id, actor_id=None, from_status=before, to_status="published",
                     reason=IMPORT_REASON)
        for listing, before in published
    ])
    db.session.flush()
    report.stored = True
    return report
