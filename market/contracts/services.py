"""Writes on the contract register. Every change leaves ContractAudit rows; nothing is ever deleted."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from ..divisions import PlaceError, resolve_place
from ..deals import services as deal_services
from ..deals.access import can_sign_deal
from ..formtokens import claim_form_token
from .. import events
from ..errors import Conflict, DomainError, NotAllowed
from ..extensions import db
from ..listings.queries import done_by_contract_reason
from ..listings.services import listing_mark_done_by_contract, listing_reopen_by_void
from ..models import (
    CONTRACT_TYPES,
    Achievement,
    Contract,
    ContractAudit,
    Deal,
    DealEvent,
    Demand,
    Field,
    ListingMixin,
    Organization,
    Payment,
    Region,
    User,
)
from ..models.listing import DONE_BY_CONTRACT
from ..models.checks import key_after, lock_duplicate_groups
from ..money import CENT, contract_amount_problem, exact_sum, format_yuan, join_sum
from ..notifications.services import notify, path_for
from ..orgs import org_new
from ..text import clean_name_into
from ..transfers.gate import disclosure_gate
from . import access, links, queries, regcodes
from .regform import CODE_FIELDS, REG_FORM_FIELDS, apply_default_legal_forms, registration_problems
from .regform import LABELS as REG_FORM_LABELS
from .scans import read_scan, store_scan

REG_NO_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z\-_/.]{3,39}$")
EDITABLE_FIELDS = (
    "registration_no",
    "title",
    "contract_type",
    "subtype",
    "amount",
    "tech_amount",
    "signed_on",
    "term_start",
    "term_end",
    "field_id",
    "buyer_region_id",
    "seller_region_id",
    *REG_FORM_FIELDS,  # the 登记表 fields (regform.py)
)
FIELD_LABELS = {
    "registration_no": "登记编号",
    "title": "合同名称",
    "contract_type": "合同类型",
    "subtype": "合同子类",
    "amount": "合同成交额",
    "tech_amount": "技术交易额",
    "signed_on": "签订日期",
    "term_start": "履行期限起",
    "term_end": "履行期限止",
    "field_id": "技术领域",
    "buyer_region_id": "买方区域",
    "seller_region_id": "卖方区域",
    "voided": "作废",
    "void_reason": "作废原因",
    "scan": "扫描件",
    "payment": "到账",
    "demand_id": "关联技术需求",
    "achievement_id": "关联科技成果",
    **REG_FORM_LABELS,
}
DUPLICATE_REG_NO = "登记编号已存在：同一份合同只能登记一次"
STALE_CONTRACT = "该合同已被他人修改，请刷新页面后重试"


def org_by_name(name: str) -> Organization | None:
    return db.session.scalar(select(Organization).where(Organization.name == name))


def _registered_region_problem(name: str, region_id: int | None) -> str | None:
    """A registered organisation's contract counts where it is registered: the region typed for it must be its own
    region, one above it or one below it, so that a contract cannot be booked to a real company in another
    county (found by the review of issue 12)."""
    org = org_by_name(name) if name else None
    if org is None or org.region is None:
        return None
    if not region_id:  # a place outside the city typed for an organisation registered in it (attacker's review)
        return f"“{org.name}”已登记在{org.region.full_name()}，请选择区域（该区域或其上级、下级区域），不填本市以外的所在地"
    typed = db.session.get(Region, region_id)
    if typed is not None and (typed.contains(org.region) or org.region.contains(typed)):
        return None
    return f"“{org.name}”已登记在{org.region.full_name()}，请选择该区域（或其上级、下级区域）"


def org_get_or_create(*, name: str, region_id: int | None) -> tuple[Organization, bool]:
    """An organisation by exact name; unknown ones are created unverified (待认证)."""
    org = org_by_name(name)
    if org is not None:
        return org, False
    return org_new(name=name, region_id=region_id, review_note="登记技术合同时创建，待认证"), True


def registration_taken(number: str) -> bool:
    return db.session.scalar(select(Contract.id).where(Contract.registration_no == number)) is not None


def outside_place(org: Organization | None) -> dict | None:
    """Where an organisation outside the city is (its 行政区划代码 or 国别), or None for one on the city's tree or
    one not placed at all: a contract party outside the city has no region, only this place."""
    if org is None or org.region_id is not None:
        return None
    if org.division_code or (org.country or "CN") != "CN":
        return {"division": org.division_code, "country": org.country or "CN"}
    return None


def with_outside_places(data: dict, *, buyer: Organization | None = None, seller: Organization | None = None) -> dict:
    """`data` with the place of each party that has no region and whose organisation (given, else found by the
    name typed) sits outside the city: `<side>_division` and `<side>_country`. A place typed on the form for a
    party without a region (its 行政区划代码 or 国别) is kept: the register records an outside party's place
    where its organisation has none."""
    out = dict(data)
    for side, org in (("buyer", buyer), ("seller", seller)):
        if out.get(f"{side}_region_id"):
            continue
        if is_outside(out, side):  # typed on the form (a party not registered, or placed otherwise): kept
            continue
        name = str(out.get(f"{side}_name") or "").strip()
        if org is None and name and name.isprintable():  # a name with control characters is refused elsewhere
            org = org_by_name(name)
        place = outside_place(org)
        if place is not None:
            out[f"{side}_division"], out[f"{side}_country"] = place["division"], place["country"]
    return out


def is_outside(data: dict, side: str) -> bool:
    return bool(data.get(f"{side}_division")) or (data.get(f"{side}_country") or "CN") != "CN"


def validate_terms(data: dict) -> dict[str, str]:
    """Per-field Chinese reasons for the fields every contract shares (empty when all is well)."""
    errors: dict[str, str] = registration_problems(data)  # the 登记表 fields; a blank 技术交易额 from its worksheet
    number = (data.get("registration_no") or "").strip()
    if not number:
        errors["registration_no"] = "请填写登记编号"
    elif not REG_NO_RE.match(number):
        errors["registration_no"] = "登记编号为4-40位字母、数字或 - _ / . ，例如 2026340300000123"
    ctype = data.get("contract_type") or ""
    if ctype not in CONTRACT_TYPES:
        errors["contract_type"] = "请选择合同类型（技术开发、技术转让、技术许可、技术咨询、技术服务）"
    else:
        subtype = data.get("subtype") or ""
        subtypes = CONTRACT_TYPES[ctype][1]
        if subtype and subtype not in subtypes:
            allowed = "、".join(subtypes.values()) or "无"
            errors["subtype"] = f"{CONTRACT_TYPES[ctype][0]}的子类只能是：{allowed}"
    amount, tech = data.get("amount"), data.get("tech_amount")
    for name, value, label in (("amount", amount, "合同成交额"), ("tech_amount", tech, "技术交易额")):
        if value is None:
            errors.setdefault(name, f"请填写{label}（元）")
        elif not isinstance(value, Decimal) or not value.is_finite() or value < 0 or value != value.quantize(CENT):
            errors.setdefault(name, f"{label}无效")
        elif contract_amount_problem(value, label):
            errors.setdefault(name, contract_amount_problem(value, label))
    if "amount" not in errors and amount == 0:
        errors["amount"] = "合同成交额须大于0元"
    if "amount" not in errors and "tech_amount" not in errors and tech > amount:
        errors["tech_amount"] = "技术交易额不能超过合同成交额"
    signed_on = data.get("signed_on")
    if not isinstance(signed_on, date):
        errors["signed_on"] = "请填写签订日期（格式：2026-05-20）"
    elif signed_on > date.today():
        errors["signed_on"] = "签订日期不能晚于今天"
    elif signed_on.year < 1990:
        errors["signed_on"] = "签订日期过早，请检查"
    start, end = data.get("term_start"), data.get("term_end")
    if start and end and end < start:
        errors["term_end"] = "履行期限止不能早于履行期限起"
    field_id = data.get("field_id")
    if field_id and db.session.get(Field, field_id) is None:
        errors["field_id"] = "技术领域无效"
    on_tree = 0
    for side in ("buyer", "seller"):
        name, rid = f"{side}_region_id", data.get(f"{side}_region_id")
        if rid and db.session.get(Region, rid) is not None:
            on_tree += 1
        elif rid or not is_outside(data, side):  # a party outside the city is placed by its organisation
            errors[name] = "请选择区域"
        if rid and (data.get(f"{side}_country") or "CN") != "CN":
            errors[f"{side}_country"] = "境外的一方不选本市区域（区域选“请选择”）"
        elif not rid and is_outside(data, side):
            try:
                place = resolve_place(region=None, division_code=data.get(f"{side}_division"),
                                      country=data.get(f"{side}_country"))
            except PlaceError as exc:
                errors["{}_{}".format(side, "country" if "国别" in str(exc) else "division")] = str(exc)
            else:  # what is stored is what was checked: 'us', ' US' and 美国 are all US (attacker's review)
                data[f"{side}_division"], data[f"{side}_country"] = place.division_code, place.country
    if not on_tree and "buyer_region_id" not in errors and "seller_region_id" not in errors:
        errors["buyer_region_id"] = "买方和卖方至少一方须在本市，请选择区域"
    if len(data.get("title") or "") > 200:
        errors["title"] = "合同名称不超过200字"
    return errors


def _audit(contract: Contract, user: User | None, action: str, field: str = "", old: object = "", new: object = "") -> None:
    db.session.add(ContractAudit(contract_id=contract.id, actor_id=user.id if user else None, action=action,
                                 field_name=field, old_value=_text(old), new_value=_text(new)))


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, Decimal):
        return f"{value.quantize(CENT)}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _contract_path(contract_id: int) -> str:
    return path_for("contracts.detail", contract_id=contract_id)


def _insert(contract: Contract) -> None:
    if registration_taken(contract.registration_no):
        raise Conflict(DUPLICATE_REG_NO, fields={"registration_no": DUPLICATE_REG_NO})
    try:
        with db.session.begin_nested():
            db.session.add(contract)
    except IntegrityError as exc:  # a concurrent request took the number, or a constraint refused
        if registration_taken(contract.registration_no):
            raise Conflict(DUPLICATE_REG_NO, fields={"registration_no": DUPLICATE_REG_NO}) from exc
        raise DomainError("合同数据不符合登记要求（技术交易额不能超过合同成交额，金额不能为负）") from exc


def _outside_columns(data: dict) -> dict:
    """The place columns of the parties without a region (with_outside_places put them in `data`)."""
    out = {}
    for side in ("buyer", "seller"):
        if not data.get(f"{side}_region_id") and is_outside(data, side):
            out[f"{side}_division"] = data.get(f"{side}_division") or None
            out[f"{side}_country"] = data.get(f"{side}_country") or "CN"
    return out


def _new_contract(data: dict, **extra) -> Contract:
    return apply_default_legal_forms(Contract(
        registration_no=data["registration_no"].strip(),
        title=(data.get("title") or "").strip()[:200],
        contract_type=data["contract_type"],
        subtype=data.get("subtype") or "",
        amount=data["amount"],
        tech_amount=data["tech_amount"],
        signed_on=data["signed_on"],
        term_start=data.get("term_start"),
        term_end=data.get("term_end"),
        field_id=data.get("field_id") or None,
        buyer_region_id=data["buyer_region_id"] or None,
        seller_region_id=data["seller_region_id"] or None,
        **_outside_columns(data),
        **{name: data.get(name) for name in REG_FORM_FIELDS},
        **extra,
    ))


def _read_optional_scan(scan) -> tuple[bytes, str] | None:
    """Check an uploaded scan before anything is written (None when no file was chosen)."""
    if scan is None or not getattr(scan, "filename", ""):
        return None
    return read_scan(scan)


def _store_scan(contract: Contract, checked: tuple[bytes, str] | None) -> None:
    if checked is not None:
        payload, name = checked
        contract.scan_path = store_scan(payload)
        contract.scan_name = name


def _linked_listings(contract: Contract) -> list[ListingMixin]:
    out = []
    for model, listing_id in ((Demand, contract.demand_id), (Achievement, contract.achievement_id)):
        listing = db.session.get(model, listing_id) if listing_id else None
        if listing is not None:
            out.append(listing)
    return out


def _mark_listings_done(contract: Contract, user: User) -> None:
    """A published need becomes 已解决, a published result 已转化. A linked draft, listing under review or
    closed listing keeps its status: marking it done would publish what was never (or is no longer) public."""
    reason = f"{DONE_BY_CONTRACT}（登记编号 {contract.registration_no}）"
    for listing in _linked_listings(contract):
        if listing.status == "published":
            listing_mark_done_by_contract(listing=listing, user=user, reason=reason)


def _took_part(deal: Deal, org_id: int | None) -> bool:
    """Whether the organisation acted in the deal itself: the deal grew from an interest (one side made it, the
    other accepted it), or one of its users wrote a row of the deal's history (a move, a note, a plan)."""
    if org_id is None:
        return False
    if deal.interest_id is not None and org_id in (deal.buyer_org_id, deal.seller_org_id):
        return True
    return db.session.scalar(
        select(DealEvent.id).join(User, User.id == DealEvent.actor_id)
        .where(DealEvent.deal_id == deal.id, User.org_id == org_id).limit(1)) is not None


def contract_record_from_deal(*, deal: Deal, user: User, data: dict, version: int | None, token: str | None, scan=None) -> Contract:
    """签约: move the deal to 签约 and record its contract, atomically. The need becomes 已解决 and the result 已转化
    at once when their organisation took part in the deal (_took_part); a listing whose owner never acted in it (a
    broker worked an engine suggestion alone) is asked of its owner instead, as for a direct entry (links.py)."""
    if not can_sign_deal(user, deal):
        raise NotAllowed("您不能为该对接登记合同")
    data = with_outside_places(dict(data, buyer_region_id=deal.buyer_region_id or data.get("buyer_region_id"),
                                    seller_region_id=deal.seller_region_id or data.get("seller_region_id")),
                               buyer=deal.buyer_org, seller=deal.seller_org)
    errors = validate_terms(data)
    if not errors and deal.price is not None and data.get("amount") != deal.price:
        errors = {"amount": f"该对接经{deal.source_label}成交，合同成交额应为成交价 {format_yuan(deal.price)}"}
    if not errors and deal.price_type and data.get("contract_type") != deal.price_type:
        label = CONTRACT_TYPES[deal.price_type][0]
        errors = {"contract_type": f"该对接经{deal.source_label}成交的是{label}，合同类型应为{label}"}
    if errors:
        raise DomainError("填写内容有误，请按提示修改", fields=errors)
    checked_scan = _read_optional_scan(scan)
    submission = claim_form_token(token=token, kind="contract", user=user, link=_contract_path)
    deal_services.deal_sign(deal=deal, user=user, version=version, text=f"签约，登记技术合同 {data['registration_no'].strip()}")
    own = {listing.KIND: listing for listing in (deal.demand, deal.achievement)
           if listing is not None and _took_part(deal, listing.org_id)}
    contract = _new_contract(
        data,
        buyer_org_id=deal.buyer_org_id,
        seller_org_id=deal.seller_org_id,
        demand_id=deal.demand_id if "demand" in own else None,
        achievement_id=deal.achievement_id if "achievement" in own else None,
        deal_id=deal.id,
        broker_id=deal.broker_id,
        recorded_by_id=user.id,
        source="deal",
    )
    _insert(contract)
    disclosure_gate(contract=contract)  # a 高校院所's 协议定价 is registered only after its 公示 (issue 20)
    _store_scan(contract, checked_scan)
    submission.object_id = contract.id
    _audit(contract, user, "create", new=f"由对接 #{deal.id} 签约登记")
    # the need 已解决 and the result 已转化: each move is a listing history row and a listing_done event, and
    # changes their public documents (the index change log, market/outbox.py)
    _mark_listings_done(contract, user)
    for listing in (deal.demand, deal.achievement):
        if listing is not None and listing.KIND not in own:
            links.link_request(contract=contract, listing=listing, user=user)
    events.record(events.contract_recorded, contract=contract, user=user)
    events.record(events.deal_signed, deal=deal, contract=contract, user=user)
    return contract


def contract_record(*, user: User, data: dict, token: str | None, scan=None) -> tuple[Contract, list[str]]:
    """A contract signed outside the platform, entered by a broker or official. Returns it and the
    names of organisations created (unverified) for it. A need or result it names is not linked here:
    its owner is asked to confirm (contracts/links.py), and only then is it linked and marked done."""
    if user.role not in access.RECORDER_ROLES:
        raise NotAllowed("只有技术经纪人、科技局工作人员可以登记技术合同")
    data = with_outside_places(data)
    errors = validate_terms(data)
    buyer_name = clean_name_into(errors, "buyer_name", data.get("buyer_name"), field_label="买方单位")
    seller_name = clean_name_into(errors, "seller_name", data.get("seller_name"), field_label="卖方单位")
    for key, name in (("buyer_name", buyer_name), ("seller_name", seller_name)):
        if not 2 <= len(name) <= 100:
            errors[key] = "请填写单位全称（2-100字）"
    if buyer_name and buyer_name == seller_name:
        errors["seller_name"] = "买方和卖方不能是同一单位"
    for key, name, region_key in (("buyer_name", buyer_name, "buyer_region_id"),
                                  ("seller_name", seller_name, "seller_region_id")):
        problem = _registered_region_problem(name, data.get(region_key))
        if problem and key not in errors:
            errors[region_key] = problem
    named = []
    for key, model, org_key in (("demand_id", Demand, "buyer_name"), ("achievement_id", Achievement, "seller_name")):
        listing_id = data.get(key)
        if not listing_id:
            continue
        listing = db.session.get(model, listing_id)
        if listing is None or listing.org.name != (buyer_name if org_key == "buyer_name" else seller_name):
            errors[key] = "关联的需求须属于买方单位" if key == "demand_id" else "关联的成果须属于卖方单位"
        else:
            named.append(listing)
    if errors:
        raise DomainError("填写内容有误，请按提示修改", fields=errors)
    if not access.can_record_in(user, data["buyer_region_id"], data["seller_region_id"]):
        message = "只能登记买方或卖方在您负责区域内的合同"
        raise NotAllowed(message, fields={"buyer_region_id": message})
    checked_scan = _read_optional_scan(scan)
    submission = claim_form_token(token=token, kind="contract", user=user, link=_contract_path)
    created = []
    buyer, new = org_get_or_create(name=buyer_name, region_id=data["buyer_region_id"])
    if new:
        created.append(buyer.name)
    seller, new = org_get_or_create(name=seller_name, region_id=data["seller_region_id"])
    if new:
        created.append(seller.name)
    contract = _new_contract(
        data,
        buyer_org_id=buyer.id,
        seller_org_id=seller.id,
        broker_id=user.id if user.role == "broker" else None,
        recorded_by_id=user.id,
        source="manual",
    )
    _insert(contract)
    disclosure_gate(contract=contract)  # a 高校院所's 协议定价 is registered only after its 公示 (issue 20)
    _store_scan(contract, checked_scan)
    submission.object_id = contract.id
    _audit(contract, user, "create", new="平台外签订，直接登记")
    for listing in named:
        links.link_request(contract=contract, listing=listing, user=user)
    events.record(events.contract_recorded, contract=contract, user=user)
    return contract, created


def contract_update(*, contract: Contract, user: User, data: dict, version: int | None) -> list[str]:
    """Apply an edit; returns the labels of changed fields. Each change is an audit row (old, new)."""
    if access.in_registration(contract):
        raise Conflict("该合同正在登记流程中，请在“合同登记”页面修改后重新提交")
    if not access.can_edit_contract(user, contract):
        raise NotAllowed("您无权修改该合同")
    if contract.voided:
        raise Conflict("已作废的合同不能修改")
    if version is None or version != contract.version:
        raise Conflict(STALE_CONTRACT)
    merged = {name: getattr(contract, name) for name in EDITABLE_FIELDS}
    merged.update({k: v for k, v in data.items() if k in EDITABLE_FIELDS})
    for key in ("buyer_region_id", "seller_region_id"):  # a party outside the city keeps no region (not 0)
        merged[key] = merged.get(key) or None
    merged = with_outside_places(merged, buyer=contract.buyer_org, seller=contract.seller_org)
    errors = validate_terms(merged)  # fills a blank 技术交易额 from its worksheet into `merged`
    number = (merged.get("registration_no") or "").strip()
    if "registration_no" not in errors and number != contract.registration_no and registration_taken(number):
        errors["registration_no"] = DUPLICATE_REG_NO
    if errors:
        status = 409 if errors.get("registration_no") == DUPLICATE_REG_NO else None
        raise DomainError("填写内容有误，请按提示修改", fields=errors, status_code=status)
    if not access.can_record_in(user, merged["buyer_region_id"], merged["seller_region_id"]):
        raise NotAllowed("修改后的买卖双方区域须有一方在您负责的区域内")
    merged["registration_no"] = number
    merged["title"] = (merged.get("title") or "").strip()
    merged["subtype"] = merged.get("subtype") or ""
    merged["field_id"] = merged.get("field_id") or None
    changes = [name for name in EDITABLE_FIELDS if merged[name] != getattr(contract, name)]
    if not changes:
        return []
    refusal = access.figures_refusal(user, contract, {name: merged[name] for name in changes})
    if refusal:
        raise NotAllowed(refusal)
    before_regions = (contract.buyer_region_id, contract.seller_region_id)
    # before the row, the group it leaves and the one it joins: a twin changed at once (models/checks.py)
    lock_duplicate_groups([contract.id], joining=[key_after(contract, {n: merged[n] for n in changes})])
    result = db.session.execute(
        update(Contract)
        .where(Contract.id == contract.id, Contract.version == version, Contract.voided.is_(False))
        .values(version=Contract.version + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(STALE_CONTRACT)
    db.session.refresh(contract)
    if "amount" in changes or "signed_on" in changes:  # judged under the UPDATE's row lock: payments are final
        problems = _payment_bounds_problems(contract, amount=merged["amount"], signed_on=merged["signed_on"])
        if problems:
            raise DomainError("填写内容有误，请按提示修改", fields=problems)
    described = []
    for name in changes:
        old = getattr(contract, name)
        setattr(contract, name, merged[name])
        _audit(contract, user, "edit", name, _display(name, old), _display(name, merged[name]))
        described.append(f"{FIELD_LABELS[name]} {_display(name, old) or '空'} → {_display(name, merged[name]) or '空'}")
    try:
        db.session.flush()
    except IntegrityError as exc:
        raise Conflict(DUPLICATE_REG_NO, fields={"registration_no": DUPLICATE_REG_NO}) from exc
    if ("contract_type" in changes or "amount" in changes) and contract.reg_status == "registered":
        disclosure_gate(contract=contract)  # the changed type or 成交额 needs its own 公示 (issue 20)
    if any(name in access.FIGURE_FIELDS for name in changes):
        _notify_figure_change(contract=contract, user=user, before_regions=before_regions,
                              text=f"{user.name}修改了技术合同 {contract.registration_no}：" + "；".join(described))
    events.record(events.contract_changed, contract=contract, user=user)
    return [FIELD_LABELS[name] for name in changes]


def _notify_figure_change(*, contract: Contract, user: User, before_regions: tuple[int, int], text: str) -> None:
    """A change of figures that touches two or more regions: tell the officials who each see only part of it
    (their region contains some but not all of the old and new buyer and seller regions). An official whose
    region no longer holds either side gets the text without a link (the contract is no longer theirs to open)."""
    region_ids = {*before_regions, contract.buyer_region_id, contract.seller_region_id}
    paths = [set(region.ancestor_ids) for region in (db.session.get(Region, rid) for rid in region_ids) if region]
    if len(paths) < 2:
        return
    partial = set.union(*paths) - set.intersection(*paths)
    officials = db.session.scalars(queries.officials_of(partial)).all()
    seeing = [o for o in officials if access.can_view_contract(o, contract)]
    gone = [o for o in officials if o not in seeing]
    notify(users=seeing, kind="contract_figures", text=text, exclude=user,
           url=path_for("contracts.detail", contract_id=contract.id))
    notify(users=gone, kind="contract_figures", text=f"{text}（该合同已不在贵区域范围内）", exclude=user)


def _display(name: str, value: object) -> str:
    if value is None or value == "":
        return ""
    if name in ("buyer_region_id", "seller_region_id"):
        region = db.session.get(Region, value)
        return region.full_name() if region else str(value)
    if name == "field_id":
        field = db.session.get(Field, value)
        return field.label if field else str(value)
    if name == "contract_type":
        return CONTRACT_TYPES.get(value, (value,))[0]
    if name in CODE_FIELDS:
        return f"{value} {regcodes.label(CODE_FIELDS[name], value)}"
    return _text(value)


def _other_live_contract(contract: Contract, column) -> bool:
    value = getattr(contract, column.key)
    return db.session.scalar(
        select(Contract.id).where(column == value, Contract.id != contract.id, Contract.voided.is_(False)).limit(1)
    ) is not None


def _done_by_a_contract(listing: ListingMixin) -> bool:
    """The listing's latest move to done was written by a contract (not by its owner)."""
    return done_by_contract_reason(listing) is not None


def void_reopens(contract: Contract) -> tuple[Deal | None, list[ListingMixin]]:
    """What voiding this contract gives back: its deal (签约 -> 洽谈) and the listings it marked 已解决 /
    已转化 (-> 已发布), each only while no other live contract holds it. A listing its owner marked done
    stays done."""
    return (None, []) if contract.voided else _reopens(contract)


def _reopens(contract: Contract) -> tuple[Deal | None, list[ListingMixin]]:
    deal = db.session.get(Deal, contract.deal_id) if contract.deal_id else None
    if deal is not None and (deal.stage != "signed" or _other_live_contract(contract, Contract.deal_id)):
        deal = None
    listings = []
    for listing in _linked_listings(contract):
        column = Contract.demand_id if listing.KIND == "demand" else Contract.achievement_id
        if listing.status == "done" and _done_by_a_contract(listing) and not _other_live_contract(contract, column):
            listings.append(listing)
    return deal, listings


def contract_void(*, contract: Contract, user: User, reason: str) -> Contract:
    if access.in_registration(contract):
        raise Conflict("该合同正在登记流程中，不能作废：由登记员办理（退回或不予登记）")
    if not access.can_void_contract(user, contract):
        raise NotAllowed("只有本区域的科技局工作人员可以作废合同")
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise DomainError("请填写作废原因", fields={"reason": "请填写作废原因"})
    if len(reason) > 500:
        raise DomainError("作废原因不超过500字", fields={"reason": "作废原因不超过500字"})
    refusal = access.figures_refusal(user, contract, {"voided": True})
    if refusal:
        raise NotAllowed(refusal)
    judged = (contract.buyer_region_id, contract.seller_region_id)
    lock_duplicate_groups([contract.id])  # before the row: a twin voided at once (models/checks.py)
    result = db.session.execute(
        update(Contract)
        .where(Contract.id == contract.id, Contract.voided.is_(False))
        .values(voided=True, void_reason=reason, version=Contract.version + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict("该合同已作废")
    db.session.refresh(contract)
    if (contract.buyer_region_id, contract.seller_region_id) != judged:  # moved by a concurrent edit
        raise Conflict(STALE_CONTRACT)
    _audit(contract, user, "void", "voided", False, True)
    _audit(contract, user, "void", "void_reason", "", reason)
    _notify_figure_change(contract=contract, user=user,
                          before_regions=(contract.buyer_region_id, contract.seller_region_id),
                          text=f"{user.name}作废了技术合同 {contract.registration_no}（{_text(contract.amount)}元），"
                               f"不再计入统计：{reason}")
    _reopen_after_void(contract, user, reason)
    events.record(events.contract_voided, contract=contract, user=user, reason=reason)
    return contract


def _reopen_after_void(contract: Contract, user: User, reason: str) -> None:
    # On PostgreSQL, lock what may reopen before judging: two contracts of one need voided at once then
    # run one after the other, and the second sees the first void (else neither would reopen the need).
    lock = db.session.get_bind().dialect.name == "postgresql"
    deal = db.session.get(Deal, contract.deal_id) if contract.deal_id else None
    for row in [deal, *_linked_listings(contract)]:
        if row is not None:
            db.session.refresh(row, with_for_update=lock or None)
    deal, listings = _reopens(contract)
    text = f"技术合同 {contract.registration_no} 作废：{reason}"
    if deal is not None:
        deal_services.deal_reopen_by_void(deal=deal, user=user, text=f"{text}，对接退回洽谈")
    for listing in listings:
        listing_reopen_by_void(listing=listing, user=user, reason=text)


def paid_total(contract: Contract) -> Decimal:
    row = db.session.execute(select(*exact_sum(Payment.amount, "paid")).where(Payment.contract_id == contract.id)).one()
    return join_sum(row.paid_hi, row.paid)


def _payment_bounds_problems(contract: Contract, *, amount: Decimal, signed_on: date) -> dict[str, str]:
    """An edit may not bring the 合同成交额 below what was already received, nor the signing date after a
    payment already recorded (payments are dated on or after signing)."""
    errors = {}
    paid = paid_total(contract)
    if amount < paid:
        errors["amount"] = f"合同成交额不能低于已到账金额（{paid}元）"
    first = db.session.scalar(select(func.min(Payment.paid_on)).where(Payment.contract_id == contract.id))
    if first is not None and signed_on > first:
        errors["signed_on"] = f"签订日期不能晚于已登记的最早到账日期（{first.isoformat()}）"
    return errors


def payment_problems(*, contract: Contract, paid_on: date | None, amount: Decimal | None, note: str = "") -> dict[str, str]:
    """Per-field reasons payment_add refuses a payment for (before the locked checks), changing nothing."""
    errors = {}
    if amount is None or not isinstance(amount, Decimal) or amount <= 0:
        errors["amount"] = "请填写大于0的到账金额（元）"
    elif contract_amount_problem(amount, "到账金额"):
        errors["amount"] = contract_amount_problem(amount, "到账金额")
    elif (total := paid_total(contract) + amount) > contract.amount:
        errors["amount"] = f"累计到账金额（{total}元）将超过合同成交额（{contract.amount}元）"
    if paid_on is None:
        errors["paid_on"] = "请填写到账日期（格式：2026-05-20）"
    elif paid_on > date.today():
        errors["paid_on"] = "到账日期不能晚于今天"
    elif paid_on < contract.signed_on:
        errors["paid_on"] = f"到账日期不能早于合同签订日期（{contract.signed_on.isoformat()}）"
    if len(note or "") > 200:
        errors["note"] = "备注不超过200字"
    return errors


def payment_add(*, contract: Contract, user: User, paid_on: date | None, amount: Decimal | None, note: str = "",
                token: str | None) -> Payment:
    if not access.can_record_payment(user, contract):
        raise NotAllowed("您无权为该合同登记到账")
    if contract.voided:
        raise Conflict("已作废的合同不能登记到账")
    errors = payment_problems(contract=contract, paid_on=paid_on, amount=amount, note=note)
    if errors:
        raise DomainError("；".join(errors.values()), fields=errors)
    submission = claim_form_token(token=token, kind="payment", user=user,
                                  link=lambda _id: path_for("contracts.detail", "payments", contract_id=contract.id))
    # lock the contract row so that two instalments cannot both pass the ceiling check, and judge against the
    # locked row (an edit may have lowered its 成交额 or moved its signing date since it was loaded)
    agreed, signed_on = db.session.execute(
        select(Contract.amount, Contract.signed_on).where(Contract.id == contract.id).with_for_update()
    ).one()
    if paid_on < signed_on:
        message = f"到账日期不能早于合同签订日期（{signed_on.isoformat()}）"
        raise DomainError(message, fields={"paid_on": message})
    already = paid_total(contract)
    if already + amount > agreed:
        message = f"累计到账金额（{already + amount}元）将超过合同成交额（{agreed}元）"
        raise DomainError(message, fields={"amount": message})
    payment = Payment(contract_id=contract.id, paid_on=paid_on, amount=amount, note=(note or "").strip(), recorded_by_id=user.id)
    db.session.add(payment)
    db.session.flush()
    submission.object_id = payment.id
    _audit(contract, user, "payment", "payment", "", f"{paid_on.isoformat()} 到账 {amount.quantize(CENT)} 元")
    events.record(events.payment_recorded, contract=contract, payment=payment, user=user)
    return payment


def contract_set_scan(*, contract: Contract, user: User, scan) -> Contract:
    if not access.can_edit_contract(user, contract):
        raise NotAllowed("您无权上传该合同的扫描件")
    if contract.voided:
        raise Conflict("已作废的合同不能修改")
    if scan is None or not getattr(scan, "filename", ""):
        raise DomainError("请选择要上传的PDF扫描件", fields={"scan": "请选择文件"})
    checked = _read_optional_scan(scan)
    old = contract.scan_name
    _store_scan(contract, checked)
    _audit(contract, user, "edit", "scan", old, contract.scan_name)
    return contract
