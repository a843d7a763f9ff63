"""Import contracts registered elsewhere: `.jsonl`, `.csv` (UTF-8, BOM or not) and `.xlsx`.

One object or row per contract, read by market.imports with this module's LAYOUT. A file with any bad row
stores nothing unless `skip_bad`; every bad row is reported with its line number and reason. Unknown
organisations are created unverified.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import bindparam, func, select

from ..divisions import Place, PlaceError, resolve_place, territory_code
from ..extensions import db
from ..imports import BadRow, ImportReport, Layout, cell_text
from ..models import CONTRACT_TYPES, Contract, ContractAudit, Field, Organization, Region, User
from ..money import AmountError, contract_amount_problem, parse_contract_yuan, parse_wan
from ..models.org import INSTITUTION_TYPES
from ..orgs import guess_org_type, org_values
from ..text import InvalidName, clean_name
from . import regcodes
from .access import can_record_in
from .national import unescape_cell
from .regform import CODE_FIELDS, REG_FORM_FIELDS, WORKSHEET_FIELDS, registration_problems
from .regform import LABELS as REG_FORM_LABELS
from .regno import regno_problem

# key, Chinese header (the template's), required
COLUMNS: list[tuple[str, str, bool]] = [
    ("registration_no", "登记编号", True),
    ("type", "合同类型", True),
    ("subtype", "合同子类", False),
    ("buyer", "买方单位", True),
    ("seller", "卖方单位", True),
    ("buyer_region", "买方区域", False),  # a party in the city: its node of the region tree
    ("seller_region", "卖方区域", False),
    ("amount", "合同成交额（元）", True),
    ("tech_amount", "技术交易额（元）", False),  # may come from the worksheet
    ("signed_on", "签订日期", True),
    ("field", "技术领域", False),
    # a party outside the city has no 区域: elsewhere in China its 行政区划代码 (GB/T 2260), abroad its 国别
    # (ISO 3166-1 alpha-2, e.g. DE); a party in the city may give its county's code too (it must agree)
    ("buyer_division", "买方行政区划代码", False),
    ("seller_division", "卖方行政区划代码", False),
    ("buyer_country", "买方国别", False),
    ("seller_country", "卖方国别", False),
]
# Beyond the template: the 技术合同登记表's fields (issue 16 item 3), in the columns the export (national.py) writes.
# Optional; the template keeps its columns above.
REGISTRATION_COLUMNS: list[tuple[str, str, bool]] = [
    # codes from 系统管理 › 登记表代码 (the code, or its name)
    ("title", "项目名称", False),
    ("term_start", "合同有效期起", False),
    ("term_end", "合同有效期止", False),
    ("seller_legal_form", "卖方性质", False),
    ("buyer_legal_form", "买方性质", False),
    ("ip_type", "知识产权类型", False),
    ("reg_field", "登记技术领域", False),
    ("plan_source", "计划来源", False),
    ("socio_goal", "社会经济目标", False),
    # the worksheet: 技术交易额 = 成交额 − these, to the fen (技术交易额 may then be left blank)
    ("nontech_equipment", "设备费（元）", False),
    ("nontech_materials", "原材料费（元）", False),
    ("nontech_other", "其他非技术费用（元）", False),
    ("expected_investment", "预计新增投入（元）", False),
    ("expected_output", "预计新增产值（元）", False),
    # the national system's amounts in 万元 (up to six decimals: exact to the fen), instead of the 元 columns
    ("amount_wan", "合同成交额（万元）", False),
    ("tech_amount_wan", "技术交易额（万元）", False),
    ("nontech_equipment_wan", "设备费（万元）", False),
    ("nontech_materials_wan", "原材料费（万元）", False),
    ("nontech_other_wan", "其他非技术费用（万元）", False),
    ("expected_investment_wan", "预计新增投入（万元）", False),
    ("expected_output_wan", "预计新增产值（万元）", False),
    ("state", "状态", False),  # the export's 有效 / 已作废; a voided contract is not imported
    ("seller_place_label", "卖方所在地", False),  # the export's place names, for people: not read
    ("buyer_place_label", "买方所在地", False),
]
# the 元 and 万元 columns of one amount; a row gives one of them
MONEY_KEYS = ("amount", "tech_amount", "nontech_equipment", "nontech_materials", "nontech_other",
              "expected_investment", "expected_output")
_EXTRA_ALIASES = {
    "合同成交额": "amount",
    "合同成交额(元)": "amount",
    "技术交易额": "tech_amount",
    "技术交易额(元)": "tech_amount",
    "买方": "buyer",
    "卖方": "seller",
    "合同子类型": "subtype",
    "签订日期（yyyy-mm-dd）": "signed_on",
    # the national system's names (national.py writes them)
    "合同登记编号": "registration_no",
    "合同类别": "type",
    "合同签订日期": "signed_on",
    "卖方名称": "seller",
    "买方名称": "buyer",
    "卖方国别代码": "seller_country",
    "买方国别代码": "buyer_country",
    "卖方法人性质": "seller_legal_form",
    "买方法人性质": "buyer_legal_form",
    "合同名称": "title",
}
ALL_COLUMNS = COLUMNS + REGISTRATION_COLUMNS
HEADER_KEYS = {key: key for key, _, _ in ALL_COLUMNS} | {label: key for key, label, _ in ALL_COLUMNS} | _EXTRA_ALIASES
REQUIRED = [key for key, _, required in COLUMNS if required and key not in MONEY_KEYS]  # 元 or 万元: checked per row
LABELS = {key: label for key, label, _ in ALL_COLUMNS}


#: the contract file: the template's Chinese headers or the English keys; worded as the upload page always was
LAYOUT = Layout(
    suffixes=(".xlsx", ".csv", ".jsonl"),
    columns={k.lower(): v for k, v in HEADER_KEYS.items()},
    required=tuple(REQUIRED),
    labels=LABELS,
    gb18030=False,  # at most IMPORT_MAX_ROWS rows (market/config.py), like every import
    texts={
        "type": "文件类型不支持：请上传 {suffixes} 文件",
        "encoding": "文件须为UTF-8编码（可带BOM）；如为GBK编码，请在Excel中另存为“CSV UTF-8”",
        "empty": "文件是空的",
        "missing": "缺少必填列：{columns}（请使用导入模板的表头）",
        "csv_header": "CSV格式错误",
        "csv_row": "CSV格式错误",
        "json": "不是有效的JSON",
        "object": "每行须是一个JSON对象",
        "excel": "无法读取该Excel文件，请确认是 .xlsx 格式",
    },
)


@dataclass
class ContractImportReport(ImportReport):
    contracts: list[tuple[int, str]] = field(default_factory=list)  # (line, registration number) stored
    created_orgs: list[str] = field(default_factory=list)


# --- validating ----------------------------------------------------------------------------------

class _Lookups:
    """Caches for regions, fields, types and organisations while a file is checked."""

    def __init__(self) -> None:
        regions = list(db.session.scalars(select(Region)))
        self.region_by_code = {r.code: r for r in regions}
        self.children: dict[tuple[int | None, str], Region] = {(r.parent_id, r.name): r for r in regions}
        self.territory = territory_code()
        fields = list(db.session.scalars(select(Field)))
        self.field_by_code = {f.code: f for f in fields}
        self.field_by_label: dict[str, Field] = {}
        names: dict[str, list[Field]] = {}
        for f in fields:
            names.setdefault(f.name, []).append(f)
            if f.parent is not None:
                self.field_by_label[f"{f.parent.name}/{f.name}"] = f
        self.field_by_label.update({n: fs[0] for n, fs in names.items() if len(fs) == 1})
        self.type_by_text: dict[str, str] = {}
        self.subtypes: dict[str, dict[str, str]] = {}
        for code, (label, subs) in CONTRACT_TYPES.items():
            self.type_by_text[code] = code
            self.type_by_text[label] = code
            variants: dict[str, str] = {}
            for sub_code, sub_label in subs.items():
                for text in (sub_code, sub_label, sub_label.removesuffix("开发"), sub_label.removesuffix("转让")):
                    variants[text] = sub_code
            self.subtypes[code] = variants
        self.code_options = {kind: regcodes.choices(kind) for kind in regcodes.KINDS}
        self.active_codes = {kind: {code for code, _ in options} for kind, options in self.code_options.items()}

    def region(self, text: str) -> Region | None:
        text = text.strip()
        if text in self.region_by_code:
            return self.region_by_code[text]
        parent_id: int | None = None
        region = None
        for part in [p.strip() for p in text.replace("／", "/").split("/")]:
            region = self.children.get((parent_id, part))
            if region is None:
                return None
            parent_id = region.id
        return region

    def field(self, text: str) -> Field | None:
        text = text.replace(" ", "").replace("／", "/")
        return self.field_by_code.get(text) or self.field_by_label.get(text)


def _text(raw: dict, key: str) -> str:
    return cell_text(raw.get(key))


def _shown(text: str) -> str:
    """A typed value quoted in a bad-row reason: its first 30 characters (a cell may hold 32,767)."""
    return text if len(text) <= 30 else text[:30] + "…"


def _check_row(raw: dict, lookups: _Lookups) -> tuple[dict | None, list[str]]:
    reasons: list[str] = []
    unknown = sorted(k for k in raw if k not in LABELS)
    if unknown:
        reasons.append("无法识别的字段：" + "、".join(unknown[:5]))
    clean: dict = {}
    number = _text(raw, "registration_no")
    from .services import REG_NO_RE

    if not number:
        reasons.append("登记编号为空")
    elif not REG_NO_RE.match(number):
        reasons.append("登记编号格式不正确（4-40位字母、数字或 - _ / .）")
    clean["registration_no"] = number
    ctype = lookups.type_by_text.get(_text(raw, "type"))
    if ctype is None:
        reasons.append(f"合同类型“{_shown(_text(raw, 'type'))}”无效，须为：技术开发、技术转让、技术许可、技术咨询、技术服务")
    clean["contract_type"] = ctype
    subtype_text = _text(raw, "subtype")
    clean["subtype"] = ""
    if subtype_text and ctype is not None:
        subtype = lookups.subtypes[ctype].get(subtype_text)
        if subtype is None:
            allowed = "、".join(CONTRACT_TYPES[ctype][1].values()) or "无子类"
            reasons.append(f"合同子类“{_shown(subtype_text)}”对{CONTRACT_TYPES[ctype][0]}无效（可选：{allowed}）")
        clean["subtype"] = subtype or ""
    for key, label in (("buyer", "买方单位"), ("seller", "卖方单位")):
        try:
            # the cell as typed: cell_text would drop control characters silently, a name refuses them
            value = raw.get(key)
            name = clean_name(value if isinstance(value, str) else _text(raw, key), field_label=label)
        except InvalidName as exc:
            reasons.append(str(exc))
            name = ""
        else:
            if not 2 <= len(name) <= 100:
                reasons.append(f"{label}名称须为2-100字")
        clean[key] = name
    if clean["buyer"] and clean["buyer"] == clean["seller"]:
        reasons.append("买方和卖方不能是同一单位")
    for party, label in (("buyer", "买方"), ("seller", "卖方")):
        text = _text(raw, f"{party}_region")
        region = lookups.region(text) if text else None
        if text and region is None:
            reasons.append(f"{label}区域“{_shown(text)}”无法识别（填写区域代码，或完整名称路径，如 蚌埠市/怀远县/榴城镇）")
        try:
            place = resolve_place(region=region, division_code=_text(raw, f"{party}_division"),
                                  country=_text(raw, f"{party}_country"), territory=lookups.territory)
        except PlaceError as exc:
            if not (text and region is None):
                reasons.append(f"{label}：{exc}")
            place = None
        clean[f"{party}_region"] = region
        clean[f"{party}_place"] = place
    if clean["buyer_place"] and clean["seller_place"] and not (
            clean["buyer_place"].on_tree or clean["seller_place"].on_tree):
        reasons.append("买方和卖方至少一方须在本市（填写区域）")
    _read_amounts(raw, clean, reasons)
    if clean["amount"] == 0:
        reasons.append("合同成交额须大于0元")
    if clean["amount"] is not None and clean["tech_amount"] is not None and clean["tech_amount"] > clean["amount"]:
        reasons.append("技术交易额不能超过合同成交额")
    signed_text = _text(raw, "signed_on")
    try:
        # YYYY-MM-DD only: fromisoformat also takes the week date 2025-W01-1 (read as 2024-12-30)
        signed_on = date.fromisoformat(signed_text) if len(signed_text) == 10 and signed_text[7] == "-" else None
    except ValueError:
        signed_on = None
    if signed_on is None:
        reasons.append(f"签订日期“{_shown(signed_text)}”无效，格式须为 YYYY-MM-DD" if signed_text else "签订日期为空")
    elif signed_on > date.today():
        reasons.append("签订日期不能晚于今天")
    clean["signed_on"] = signed_on
    field_text = _text(raw, "field")
    clean["field"] = None
    if field_text:
        clean["field"] = lookups.field(field_text)
        if clean["field"] is None:
            reasons.append(f"技术领域“{_shown(field_text)}”无法识别（填写领域代码如 04.01，或名称）")
    _read_registration(raw, clean, reasons, lookups)
    return (None if reasons else clean), reasons


def _read_amounts(raw: dict, clean: dict, reasons: list[str]) -> None:
    """Each amount from its 元 column or its 万元 one (not both); a missing 合同成交额 is a reason."""
    for key in MONEY_KEYS:
        label = LABELS[key].split("（")[0]
        yuan, wan = _text(raw, key), _text(raw, f"{key}_wan")
        clean[key] = None
        if yuan and wan:
            reasons.append(f"{label}：元和万元两列只填一列")
            continue
        try:
            if yuan:
                clean[key] = parse_contract_yuan(yuan, label="金额")
            elif wan:
                value = parse_wan(wan)
                problem = contract_amount_problem(value, label)
                if problem:
                    raise AmountError(problem)
                clean[key] = value
        except AmountError as exc:
            reasons.append(f"{label}：{exc}")
    if clean["amount"] is None and not any(_text(raw, k) for k in ("amount", "amount_wan")):
        reasons.append("合同成交额：请填写金额")
    if clean["tech_amount"] is None and not any(_text(raw, k) for k in ("tech_amount", "tech_amount_wan")) and not any(
            _text(raw, k) or _text(raw, f"{k}_wan") for k in WORKSHEET_FIELDS):
        reasons.append("技术交易额：请填写金额（或填写设备费、原材料费、其他非技术费用，由系统核算）")


def _read_registration(raw: dict, clean: dict, reasons: list[str], lookups: _Lookups) -> None:
    """The 登记表 fields: title and term, codes (the code or its name), the worksheet, the 登记编号's structure."""
    clean["title"] = unescape_cell(_text(raw, "title"))[:200]
    for key, label in (("term_start", "合同有效期起"), ("term_end", "合同有效期止")):
        text = _text(raw, key)
        clean[key] = None
        if text:
            try:
                clean[key] = date.fromisoformat(text) if len(text) == 10 and text[7] == "-" else None
            except ValueError:
                pass
            if clean[key] is None:
                reasons.append(f"{label}“{_shown(text)}”无效，格式须为 YYYY-MM-DD")
    if clean["term_start"] and clean["term_end"] and clean["term_end"] < clean["term_start"]:
        reasons.append("合同有效期止不能早于合同有效期起")
    for key, kind in CODE_FIELDS.items():
        text = _text(raw, key)
        clean[key] = regcodes.code_for(kind, text, options=lookups.code_options[kind]) if text else None
        if text and clean[key] is None:
            reasons.append(f"{REG_FORM_LABELS[key]}“{_shown(text)}”无效（填写代码或名称，见系统管理 › 登记表代码）")
    worksheet = {key: clean[key] for key in (*REG_FORM_FIELDS, "amount", "tech_amount") if key in clean}
    if not any(reason.startswith(("合同成交额", "技术交易额")) for reason in reasons):
        problems = registration_problems(worksheet, active=lookups.active_codes)
        reasons.extend(f"{REG_FORM_LABELS.get(k, '技术交易额')}：{v}" if k in REG_FORM_LABELS else v
                       for k, v in problems.items())
        clean["tech_amount"] = worksheet.get("tech_amount")
    problem = regno_problem(clean["registration_no"])
    if problem:
        reasons.append(problem)
    if _text(raw, "state") == "已作废":
        reasons.append("已作废的合同不导入")
    elif _text(raw, "state") not in ("", "有效"):
        reasons.append(f"状态“{_shown(_text(raw, 'state'))}”无效（有效 或 已作废）")


# --- storing -------------------------------------------------------------------------------------

# A file loads a 登记点's register of contracts registered before (officials, administrators). A broker's file does
# not carry a 高校/科研院所's 转让 or 许可: such a 协议定价 is registered only after its 公示 (market/transfers/gate.py),
# checked one contract at a time on the contract form.
BROKER_DISCLOSED_REFUSAL = ("高校院所的技术转让、技术许可合同须先完成协议定价公示，请逐份在“登记合同”中录入（系统核对公示），"
                            "不能由经纪人批量导入")


def _needs_disclosure(clean: dict, lookups: "_Lookups") -> bool:
    if clean["contract_type"] not in ("transfer", "license"):
        return False
    cache = lookups.__dict__.setdefault("seller_types", {})
    name = clean["seller"]
    if name not in cache:
        found = db.session.scalar(select(Organization.org_type).where(Organization.name == name))
        cache[name] = found or guess_org_type(name)
    return cache[name] in INSTITUTION_TYPES


def import_contracts(*, rows: list[tuple[int, dict]], user: User, skip_bad: bool = False,
                     scoped: bool = False, progress=None) -> ContractImportReport:
    """Check every row, then store the good ones (all of them, or none when a row is bad and not skip_bad).

    scoped: refuse rows with neither party in the user's region (web upload by brokers and officials).
    progress: called as progress("checking", rows checked) every 500 rows and progress("storing", rows) once
    before the first write (market/contracts/import_runs.py: a background import shows where it has got to).
    The caller commits when `report.stored` and rolls back otherwise.
    """
    report = ContractImportReport(total=len(rows))
    lookups = _Lookups()
    good: list[tuple[int, dict]] = []
    first_line: dict[str, int] = {}
    numbers = {_text(raw, "registration_no") for _, raw in rows if "_error" not in raw}
    taken = _existing_numbers(numbers)
    for done, (line, raw) in enumerate(rows):
        if progress is not None and done and done % 500 == 0:
            progress("checking", done)
        if "_error" in raw:
            report.bad.append(BadRow(line, "", raw["_error"]))
            continue
        clean, reasons = _check_row(raw, lookups)
        number = _text(raw, "registration_no")
        if number and number in taken:
            reasons.append("登记编号已存在（已登记过的合同）")
        elif number and number in first_line:
            reasons.append(f"登记编号与第{first_line[number]}行重复")
        if number:
            first_line.setdefault(number, line)
        if clean is not None and not reasons and scoped and not can_record_in(
            user, clean["buyer_place"].region_id, clean["seller_place"].region_id
        ):
            reasons.append("买方和卖方都不在您负责的区域内")
        if clean is not None and not reasons and user.role == "broker" and _needs_disclosure(clean, lookups):
            reasons.append(BROKER_DISCLOSED_REFUSAL)
        if reasons:
            report.bad.append(BadRow(line, number, "；".join(reasons)))
        else:
            good.append((line, clean))
    if report.bad and not skip_bad:
        return report
    if progress is not None:
        progress("storing", len(rows))
    org_ids = _org_ids(good, report)
    taken_meanwhile = _insert_contracts(good, user=user, org_ids=org_ids, report=report)
    for line, clean in good:
        if clean["registration_no"] in taken_meanwhile:
            report.bad.append(BadRow(line, clean["registration_no"], "登记编号已存在（已登记过的合同）"))
    report.sort()
    if report.bad and not skip_bad:  # a row refused by the database meanwhile: the caller rolls back
        report.contracts = []
        return report
    if taken_meanwhile:
        _drop_orgs_created_for(good, taken_meanwhile, org_ids, report)
    report.stored = True
    return report


# Rows are written in batches of set-based statements, not one ORM object (and savepoint) per row: the largest
# file allowed (IMPORT_MAX_ROWS) must be stored within a request. Nothing is lost that the ORM did: the monthly
# summary is kept by triggers on `contracts`, whatever the statement, and contracts have no ORM events (no index
# outbox). Each statement stays short (DB_STATEMENT_TIMEOUT_MS applies to each).
_BATCH = 1000


def _insert_rows(table, rows: list[dict], *, conflict: str | None = None, returning: tuple[str, ...] = ()) -> list:
    """One INSERT of `rows` (all with the same keys), skipping rows whose `conflict` column value exists
    (ON CONFLICT DO NOTHING), returning `returning` of the rows inserted.

    SQLite gets a multi-row VALUES. PostgreSQL gets one array per column (INSERT ... SELECT FROM unnest(...)):
    a VALUES of 1,000 rows x 14 columns cost psycopg 0.4 s of parsing per statement. Columns whose default is a
    Python function (created_at) are filled here, as Core would (INSERT ... SELECT adds only the other defaults).
    """
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY, insert

        names = list(rows[0])
        computed = {c.name: c.default.arg(None) for c in table.columns
                    if c.name not in rows[0] and c.default is not None and c.default.is_callable}
        names += list(computed)
        arrays = [bindparam(f"rows_{name}", [row.get(name, computed.get(name)) for row in rows],
                            type_=ARRAY(table.c[name].type)) for name in names]
        unnest = func.unnest(*arrays).table_valued(*names).render_derived()
        stmt = insert(table).from_select(names, select(*(unnest.c[name] for name in names)))
        params = None
    else:
        from sqlalchemy.dialects.sqlite import insert

        stmt, params = insert(table), rows
    if conflict:
        stmt = stmt.on_conflict_do_nothing(index_elements=[conflict])
    if returning:
        stmt = stmt.returning(*(table.c[name] for name in returning))
    result = db.session.execute(stmt, params)
    return list(result) if returning else []


def _batches(items: list) -> list[list]:
    return [items[start:start + _BATCH] for start in range(0, len(items), _BATCH)]


def _existing_numbers(numbers: set[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _batches(sorted(n for n in numbers if n)):
        found.update(db.session.scalars(select(Contract.registration_no).where(Contract.registration_no.in_(chunk))))
    return found


def _org_ids(good: list[tuple[int, dict]], report: ContractImportReport) -> dict[str, int]:
    """The id of every party named in the good rows; unknown ones are created unverified (待认证), in the region
    of the row that names them first, and listed in `report.created_orgs` in file order."""
    wanted: dict[str, Place] = {}  # name -> its place, in order of first appearance
    for _, clean in good:
        wanted.setdefault(clean["buyer"], clean["buyer_place"])
        wanted.setdefault(clean["seller"], clean["seller_place"])
    ids = _org_ids_by_name(list(wanted))
    new = [name for name in wanted if name not in ids]
    created: dict[str, int] = {}
    for chunk in _batches(sorted(new)):  # one order for every import: concurrent ones cannot deadlock
        rows = [org_values(name=name, region_id=wanted[name].region_id, review_note="导入技术合同时创建，待认证",
                           division_code=wanted[name].division_code, country=wanted[name].country) for name in chunk]
        # a concurrent import may create one of these names first: its row is kept, ours skipped
        inserted = _insert_rows(Organization.__table__, rows, conflict="name", returning=("id", "name"))
        created.update((name, org_id) for org_id, name in inserted)
    ids.update(created)
    ids.update(_org_ids_by_name([name for name in new if name not in created]))
    report.created_orgs.extend(name for name in new if name in created)
    return ids


def _org_ids_by_name(names: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _batches(names):
        found.update((name, org_id) for org_id, name in db.session.execute(
            select(Organization.id, Organization.name).where(Organization.name.in_(chunk))))
    return found


def _insert_contracts(good: list[tuple[int, dict]], *, user: User, org_ids: dict[str, int],
                      report: ContractImportReport) -> set[str]:
    """Insert the good rows with their audit rows; returns the registration numbers another transaction took
    since they were checked (those rows are not stored)."""
    broker_id = user.id if user.role == "broker" else None
    taken: set[str] = set()
    # in number order, one order for every import: concurrent ones cannot deadlock on the unique index
    for chunk in _batches(sorted(good, key=lambda row: row[1]["registration_no"])):
        rows = [{
            "registration_no": clean["registration_no"],
            "contract_type": clean["contract_type"],
            "subtype": clean["subtype"],
            "buyer_org_id": org_ids[clean["buyer"]],
            "seller_org_id": org_ids[clean["seller"]],
            "buyer_region_id": clean["buyer_place"].region_id,
            "seller_region_id": clean["seller_place"].region_id,
            "buyer_division": clean["buyer_place"].division_code,
            "seller_division": clean["seller_place"].division_code,
            "buyer_country": clean["buyer_place"].country,
            "seller_country": clean["seller_place"].country,
            "amount": clean["amount"],
            "tech_amount": clean["tech_amount"],
            "signed_on": clean["signed_on"],
            "field_id": clean["field"].id if clean["field"] else None,
            "title": clean["title"],
            "term_start": clean["term_start"],
            "term_end": clean["term_end"],
            **{key: clean[key] for key in REG_FORM_FIELDS},
            "broker_id": broker_id,
            "recorded_by_id": user.id,
            "source": "import",
        } for _, clean in chunk]
        inserted = _insert_rows(Contract.__table__, rows, conflict="registration_no", returning=("id", "registration_no"))
        ids = {number: contract_id for contract_id, number in inserted}
        audits = []
        for line, clean in chunk:
            number = clean["registration_no"]
            if number not in ids:
                taken.add(number)
                continue
            report.contracts.append((line, number))
            audits.append({"contract_id": ids[number], "actor_id": user.id, "action": "import", "field_name": "",
                           "old_value": "", "new_value": f"批量导入（第{line}行）"})
        if audits:
            _insert_rows(ContractAudit.__table__, audits)
    report.contracts.sort()
    return taken


def _drop_orgs_created_for(good: list[tuple[int, dict]], taken: set[str], org_ids: dict[str, int],
                           report: ContractImportReport) -> None:
    """With skip_bad, organisations created only for rows the database then refused are removed again."""
    used = {clean[side] for _, clean in good if clean["registration_no"] not in taken for side in ("buyer", "seller")}
    unused = [org_ids[name] for name in report.created_orgs if name not in used]
    table = Organization.__table__
    for chunk in _batches(unused):
        db.session.execute(table.delete().where(table.c.id.in_(chunk)))
    report.created_orgs = [name for name in report.created_orgs if name in used]


def template_workbook() -> bytes:
    """The .xlsx template: Chinese headers, one example row, and a sheet of notes."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "技术合同"
    ws.append([label for _, label, _ in COLUMNS])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.append(["2026340300000001", "技术开发", "委托开发", "安徽示例科技有限公司", "蚌埠示例大学", "蚌埠市/怀远县",
               "蚌埠市", "500000.00", "450000.00", "2026-03-15", "04.01"])
    for row in ws.iter_rows(min_row=2, max_row=200):
        for cell in row:
            cell.number_format = "@"  # text: amounts and dates stay exactly as typed
    for letter, width in zip("ABCDEFGHIJK", (20, 10, 14, 28, 28, 22, 22, 18, 18, 12, 12)):
        ws.column_dimensions[letter].width = width
    notes = wb.create_sheet("填写说明")
    notes.append(["列", "说明"])
    notes.append(["登记编号", "必填，唯一；已登记过的编号会被拒绝"])
    notes.append(["合同类型", "必填：技术开发、技术转让、技术许可、技术咨询、技术服务"])
    for code, (label, subs) in CONTRACT_TYPES.items():
        if subs:
            notes.append([f"合同子类（{label}）", "可选：" + "、".join(subs.values())])
    notes.append(["买方单位 / 卖方单位", "单位全称；平台上没有的单位会新建为“待认证”"])
    notes.append(["买方区域 / 卖方区域", "区域代码（如 340321），或完整名称路径（如 蚌埠市/怀远县/榴城镇）"])
    notes.append(["合同成交额（元） / 技术交易额（元）", "单位为元，最多两位小数，不要写“万元”；技术交易额不能超过合同成交额"])
    notes.append(["签订日期", "格式 YYYY-MM-DD，如 2026-03-15"])
    notes.append(["技术领域", "可选：领域代码（如 04.01）或名称"])
    notes.append(["项目名称 / 合同有效期起 / 合同有效期止", "可选；日期格式 YYYY-MM-DD"])
    notes.append(["卖方性质 / 买方性质 / 知识产权类型 / 登记技术领域 / 计划来源 / 社会经济目标",
                  "可选：代码或名称，见系统管理 › 登记表代码（如 卖方性质 022 高等院校、登记技术领域 01 电子信息）"])
    notes.append(["设备费 / 原材料费 / 其他非技术费用（元）",
                  "可选：技术交易额核算表；填写后技术交易额 = 合同成交额 − 三项之和（精确到分），技术交易额可留空"])
    notes.append(["预计新增投入 / 预计新增产值（元）", "可选：技术转让、许可合同填写"])
    notes.append(["……（万元）", "全国系统的金额列，单位万元，最多六位小数；同一金额的元列和万元列只填一列"])
    notes.append(["登记编号（18位数字）", "年份4位 + 登记点行政区划代码6位 + 登记点序号2位 + 流水号6位；全国系统的16位编号也可"])
    notes.column_dimensions["A"].width = 30
    notes.column_dimensions["B"].width = 80
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
