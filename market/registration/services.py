"""Writes of the 登记 workflow: 登记点 and 登记员, submissions, decisions, changes and cancellations.

The states of a contract's registration (Contract.reg_status) and who moves them:

    (new) --submit--> submitted --register--> registered          the 登记员 of the competent 登记点 decides
                      submitted --return----> returned --resubmit--> submitted    the submitter edits and resubmits
                      submitted --refuse----> refused                not a technology contract (final)
    registered --change--> submitted (request 'change') --register--> registered (same 登记编号, new 登记证明)
    registered --cancel--> submitted (request 'cancel') --register--> registered and voided (注销)

Every move is a RegStep row (who, when, why) and an event; only 'registered' and not voided counts in the official
figures (market.models.stats.COUNTED_SQL), so the summary rows move exactly when a contract enters or leaves it.
"""
from __future__ import annotations

import json
import secrets
from datetime import date
from decimal import Decimal

from sqlalchemy import case, select, update

from .. import events
from ..contracts import access as contract_access
from ..contracts import services as contract_services
from ..contracts.regno import format_regno
from ..contracts.scans import read_scan, store_scan
from ..errors import Conflict, DomainError, NotAllowed
from ..extensions import db
from ..formtokens import claim_form_token
from ..models import Contract, Region, RegPoint, RegStep, User, WorkCalendarDay
from ..models.base import utcnow
from ..models.checks import KEY, key_after, lock_duplicate_groups
from ..money import CENT, contract_amount_problem
from ..notifications.services import path_for
from ..permissions import require_verified_actor
from ..text import clean_name_into
from ..transfers.gate import disclosure_gate
from . import access, calendar, queries

PLACEHOLDER_PREFIX = "待登记-"  # a submission's registration_no until its 登记编号 is drawn
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off paper


# --- 登记点 and 登记员 -------------------------------------------------------------------------------------------

def reg_point_create(*, user: User, name: str, kind: str, region_id: int | None, division: str, serial: int | None) -> RegPoint:
    """The city designates a 登记点 on a region of its tree (an administrator or an official of the city node)."""
    if not access.can_manage_points(user):
        raise NotAllowed("只有系统管理员或市级科技局工作人员可以设立登记点")
    errors: dict[str, str] = {}
    name = clean_name_into(errors, "name", name, field_label="登记点名称")
    if not 2 <= len(name) <= 100 and "name" not in errors:
        errors["name"] = "请填写登记点名称（2-100字）"
    if kind not in ("bureau", "agency"):
        errors["kind"] = "请选择登记点类型"
    region = db.session.get(Region, region_id) if region_id else None
    if region is None:
        errors["region_id"] = "请选择登记点负责的区域"
    division = (division or "").strip()
    if not (len(division) == 6 and division.isascii() and division.isdigit()):
        errors["division"] = "行政区划代码为6位数字，例如 340321"
    if serial is None or not 1 <= serial <= 99:
        errors["serial"] = "登记点序号为1-99"
    if not errors and db.session.scalar(select(RegPoint.id).where(RegPoint.division == division,
                                                                  RegPoint.serial == serial)) is not None:
        errors["serial"] = f"行政区划代码 {division} 下已有序号为 {serial:02d} 的登记点"
    if errors:
        raise DomainError("填写内容有误，请按提示修改", fields=errors)
    point = RegPoint(name=name, kind=kind, region_id=region.id, division=division, serial=serial, active=True)
    db.session.add(point)
    db.session.flush()
    return point


def registrar_create(*, user: User, point: RegPoint, username: str, name: str, password: str) -> User:
    """A 登记员 account of the 登记点 (the same people who may designate points create it)."""
    if not access.can_manage_points(user):
        raise NotAllowed("只有系统管理员或市级科技局工作人员可以开设登记员账号")
    from ..admin.services.users import USERNAME_RE, _username_taken
    from ..auth.forms import USERNAME_RULE
    from ..auth.services import password_problem

    errors: dict[str, str] = {}
    username = clean_name_into(errors, "username", username, field_label="用户名")
    name = clean_name_into(errors, "name", name, field_label="姓名")
    if "username" not in errors and not USERNAME_RE.fullmatch(username):
        errors["username"] = USERNAME_RULE
    elif "username" not in errors and _username_taken(username):
        errors["username"] = "该用户名已被使用"
    if "name" not in errors and not 1 <= len(name) <= 50:
        errors["name"] = "请填写姓名（不超过50字）"
    problem = password_problem(password or "", username=username)
    if problem:
        errors["password"] = problem
    if errors:
        raise DomainError("账号信息有误，请按提示修改", fields=errors)
    registrar = User(username=username, name=name, role="registrar", reg_point_id=point.id)
    registrar.set_password(password)
    db.session.add(registrar)
    db.session.flush()
    return registrar


def reg_point_set_active(*, user: User, point: RegPoint, active: bool, move_to_id: int | None = None) -> int:
    """Deactivate (or reactivate) a 登记点; returns how many open submissions were moved.

    The rule: a deactivated point receives no new submission (queries.competent_point skips it) and its 登记员s
    cannot act (access.is_registrar_of). Its open submissions (待登记) move at once, each with a 移交登记点 step: to
    the point the manager picked, else to the point now competent for it (the same rule as a new submission). When
    no other active point can take one, the deactivation is refused (409) and nothing changes. Decided contracts
    keep their point (the 登记编号 and history stay with it). Reactivating moves nothing back."""
    if not access.can_manage_points(user):
        raise NotAllowed("只有系统管理员或市级科技局工作人员可以停用或启用登记点")
    if point.active == active:
        raise DomainError(f"该登记点已{'启用' if active else '停用'}，请刷新页面", status_code=409)
    if active:
        point.active = True
        db.session.flush()
        return 0
    target = None
    if move_to_id:
        target = db.session.get(RegPoint, move_to_id)
        if target is None or not target.active or target.id == point.id:
            raise DomainError("请选择一个在用的其他登记点", fields={"move_to": "请选择一个在用的其他登记点"})
    # the point's row first: a submission holding it (_competent_point_held) commits before the list below is read
    db.session.execute(select(RegPoint.id).where(RegPoint.id == point.id).with_for_update())
    point.active = False
    db.session.flush()
    waiting = db.session.scalars(select(Contract).where(Contract.reg_status == "submitted",
                                                       Contract.reg_point_id == point.id)
                                 .order_by(Contract.id).with_for_update()).all()
    for contract in waiting:
        dest = target or queries.competent_point(seller_region_id=contract.seller_region_id,
                                                 buyer_region_id=contract.buyer_region_id)
        if dest is None:
            raise DomainError(f"没有其他在用的登记点可以接收“{contract.title or contract.id}”等待登记的合同："
                              "请先设立或启用其他登记点，或选择移交的登记点", status_code=409)
        contract.reg_point_id = dest.id
        contract.version += 1
        _step(contract, user, "transfer", point=dest, reason=f"原登记点“{point.name}”停用，移交{dest.name}办理")
    db.session.flush()
    return len(waiting)


def _competent_point_held(*, seller_region_id: int | None, buyer_region_id: int | None) -> RegPoint | None:
    """The competent point, share-locked until the submission commits, so that a deactivation running at the same
    moment either waits for this submission (and then moves it with the others) or has committed first (and this
    one goes to the next competent point): never a submission left at a stopped point (the attacker's review of
    issue 16). SQLite writes one transaction at a time, which gives the same."""
    for _ in range(3):
        point = queries.competent_point(seller_region_id=seller_region_id, buyer_region_id=buyer_region_id)
        if point is None:
            return None
        still = db.session.scalar(select(RegPoint.active).where(RegPoint.id == point.id).with_for_update(read=True))
        if still:
            return point
        db.session.expire(point)
    return None


def registrar_set_active(*, user: User, registrar: User, active: bool) -> None:
    """Deactivate (or reactivate) a 登记员 account: a deactivated one cannot sign in, and its sessions end now."""
    from ..auth.services import sessions_revoke_all

    if not access.can_manage_points(user):
        raise NotAllowed("只有系统管理员或市级科技局工作人员可以停用或启用登记员账号")
    if registrar.role != "registrar":
        raise DomainError("该账号不是登记员", status_code=404)
    if bool(registrar.active) == active:
        raise DomainError(f"该登记员账号已{'启用' if active else '停用'}，请刷新页面", status_code=409)
    registrar.active = active
    if not active:
        sessions_revoke_all(user=registrar)
    db.session.flush()


CALENDAR_KINDS = {"holiday": "放假（工作日休息）", "workday": "调休上班（周末上班）", "plain": "恢复为普通日（周一至周五上班）"}


def calendar_day_set(*, user: User, day: date | None, kind: str, name: str) -> WorkCalendarDay | None:
    """Enter one day of the State Council's 放假安排 (administrators and the city's officials): a weekday off, a
    weekend day worked, or back to plain Monday-to-Friday (the row removed)."""
    calendar.forget_request_table()  # the page that follows counts with this change
    if not access.can_manage_points(user):
        raise NotAllowed("只有系统管理员或市级科技局工作人员可以修改节假日安排")
    errors: dict[str, str] = {}
    name = clean_name_into(errors, "name", name or "", field_label="名称")
    if day is None:
        errors["day"] = "请填写日期（格式：2027-01-01）"
    elif not 2000 <= day.year <= 2100:
        errors["day"] = "日期须在2000-2100年之间"
    if kind not in CALENDAR_KINDS:
        errors["kind"] = "请选择放假、调休上班或恢复为普通日"
    elif day is not None and "day" not in errors:
        weekend = day.weekday() >= 5
        if kind == "holiday" and weekend:
            errors["kind"] = "该日是周末，本来就不计工作日，无需设为放假"
        elif kind == "workday" and not weekend:
            errors["kind"] = "该日是周一至周五，本来就是工作日；调休上班只用于周末"
    if len(name) > 40:
        errors["name"] = "名称不超过40字"
    if errors:
        raise DomainError("节假日安排有误，请按提示修改", fields=errors)
    row = db.session.get(WorkCalendarDay, day)
    if kind == "plain":
        if row is not None:
            db.session.delete(row)
        db.session.flush()
        return None
    if row is None:
        row = WorkCalendarDay(day=day)
        db.session.add(row)
    row.workday = kind == "workday"
    row.name = name or ("调休上班" if row.workday else "放假")
    db.session.flush()
    return row


# --- submissions -----------------------------------------------------------------------------------------------

def _checked_amounts(data: dict) -> dict[str, str]:
    errors = contract_services.validate_terms(contract_services.with_outside_places(dict(data, registration_no="0000")))
    errors.pop("registration_no", None)  # a submission has no 登记编号: the 登记点 draws it on registration
    return errors


def submission_create(*, user: User, data: dict, token: str | None, scan) -> Contract:
    """The seller (a verified member of the selling organisation) or a broker submits a contract with its scan; it
    waits as 'submitted' for the 登记员 of the competent 登记点 and counts nowhere until registered."""
    require_verified_actor(user)
    if user.role not in ("enterprise", "institution", "broker"):
        raise NotAllowed("只有卖方单位的认证用户或其技术经纪人可以在线提交技术合同登记")
    data = contract_services.with_outside_places(data)  # a party outside the city is placed by its organisation
    errors = _checked_amounts(data)
    buyer_name = clean_name_into(errors, "buyer_name", data.get("buyer_name"), field_label="买方单位")
    if user.role == "broker":
        seller_name = clean_name_into(errors, "seller_name", data.get("seller_name"), field_label="卖方单位")
    else:
        seller_name = user.org.name  # a member submits for its own organisation, whatever was posted
    for key, value in (("buyer_name", buyer_name), ("seller_name", seller_name)):
        if not 2 <= len(value) <= 100:
            errors.setdefault(key, "请填写单位全称（2-100字）")
    if buyer_name and buyer_name == seller_name:
        errors["buyer_name"] = "买方和卖方不能是同一单位"
    if user.role != "broker" and not errors.get("seller_region_id"):
        if not _region_holds(user.org.region_id, data.get("seller_region_id")):
            errors["seller_region_id"] = f"卖方区域须为贵单位所在区域（{user.org.region.full_name()}）或其上下级"
    if errors:
        raise DomainError("填写内容有误，请按提示修改", fields=errors)
    if user.role == "broker" and not contract_access.can_record_in(user, data["buyer_region_id"], data["seller_region_id"]):
        message = "只能提交买方或卖方在您负责区域内的合同"
        raise NotAllowed(message, fields={"seller_region_id": message})
    point = _competent_point_held(seller_region_id=data["seller_region_id"], buyer_region_id=data["buyer_region_id"])
    if point is None:
        raise DomainError("本市尚未设立登记点，暂不能在线提交登记，请联系市科技局")
    checked = read_scan(scan) if scan is not None and getattr(scan, "filename", "") else None
    if checked is None:
        raise DomainError("请上传合同扫描件（PDF）", fields={"scan": "请上传合同扫描件（PDF）"})
    submission = claim_form_token(token=token, kind="contract", user=user,
                                  link=lambda cid: path_for("registration.detail", contract_id=cid))
    buyer, _ = contract_services.org_get_or_create(name=buyer_name, region_id=data["buyer_region_id"])
    seller = user.org if user.role != "broker" else \
        contract_services.org_get_or_create(name=seller_name, region_id=data["seller_region_id"])[0]
    contract = contract_services._new_contract(  # the one mapping of the contract form's terms onto a row
        dict(data, registration_no=PLACEHOLDER_PREFIX + secrets.token_hex(8)),
        buyer_org_id=buyer.id, seller_org_id=seller.id, broker_id=user.id if user.role == "broker" else None,
        recorded_by_id=user.id, source="manual",
    )
    contract.reg_status = "submitted"
    contract.reg_request = "new"
    contract.reg_point_id = point.id
    contract.submitted_at = utcnow()
    contract.submitted_by_id = user.id
    contract.declared_tech_amount = contract.tech_amount
    db.session.add(contract)
    db.session.flush()
    payload, name = checked
    contract.scan_path = store_scan(payload)
    contract.scan_name = name
    submission.object_id = contract.id
    _step(contract, user, "submit", point=point)
    events.record(events.contract_reg_submitted, contract=contract, user=user)
    return contract


def _region_holds(own_region_id: int | None, typed_id: int | None) -> bool:
    own = db.session.get(Region, own_region_id) if own_region_id else None
    typed = db.session.get(Region, typed_id) if typed_id else None
    return own is None or (typed is not None and (own.contains(typed) or typed.contains(own)))


RESUBMIT_FIELDS = ("title", "contract_type", "subtype", "amount", "tech_amount", "signed_on", "term_start",
                   "term_end", "field_id", "buyer_region_id", "seller_region_id")


def submission_resubmit(*, contract: Contract, user: User, data: dict, scan=None, reason: str = "") -> Contract:
    """The submitter side edits a returned submission and sends it again, or asks for the change of a registered
    contract (then it leaves the figures until the 登记员 registers the change)."""
    if not access.can_submit_for(user, contract):
        raise NotAllowed("只有该合同的卖方单位或其技术经纪人可以修改并提交登记")
    if contract.voided or contract.reg_status not in ("returned", "registered"):
        raise Conflict(f"该合同当前为“{queries.status_label(contract)}”，不能修改后提交")
    changing = contract.reg_status == "registered"
    reason = (reason or "").strip()
    if changing and len(reason) < 2:
        raise DomainError("请填写变更原因", fields={"reason": "请填写变更原因"})
    errors = _checked_amounts(data)
    if errors:
        raise DomainError("填写内容有误，请按提示修改", fields=errors)
    checked = read_scan(scan) if scan is not None and getattr(scan, "filename", "") else None
    point = _competent_point_held(seller_region_id=data["seller_region_id"], buyer_region_id=data["buyer_region_id"])
    if point is None:
        raise DomainError("本市尚未设立登记点，暂不能在线提交登记，请联系市科技局")
    _claim_row(contract, ("returned", "registered"),
               joining=key_after(contract, {c: data.get(c) for c in KEY if c in RESUBMIT_FIELDS}))
    prior = _registered_values(contract) if changing else None
    for name in RESUBMIT_FIELDS:
        old, new = getattr(contract, name), data.get(name)
        if name == "field_id":
            new = new or None
        if name in ("title", "subtype"):
            new = (new or "").strip()
        if old != new:
            setattr(contract, name, new)
            contract_services._audit(contract, user, "edit", name, old, new)
    if checked is not None:
        contract.scan_path = store_scan(checked[0])
        contract.scan_name = checked[1]
    contract.declared_tech_amount = contract.tech_amount
    contract.reg_status = "submitted"
    contract.reg_request = "change" if changing else contract.reg_request or "new"
    contract.reg_point_id = point.id
    contract.submitted_at = utcnow()
    contract.submitted_by_id = contract.submitted_by_id or user.id
    db.session.flush()
    _step(contract, user, "change" if changing else "resubmit", point=point, reason=reason, prior=prior)
    events.record(events.contract_reg_submitted, contract=contract, user=user)
    return contract


def cancellation_request(*, contract: Contract, user: User, reason: str) -> Contract:
    """Ask the 登记点 to cancel (注销) a registered contract; it leaves the figures while the request waits."""
    if not access.can_submit_for(user, contract):
        raise NotAllowed("只有该合同的卖方单位或其技术经纪人可以申请注销登记")
    reason = (reason or "").strip()
    if not 2 <= len(reason) <= 500:
        raise DomainError("请填写注销原因（2-500字）", fields={"reason": "请填写注销原因（2-500字）"})
    if contract.voided or contract.reg_status != "registered":
        raise Conflict(f"该合同当前为“{queries.status_label(contract)}”，不能申请注销")
    point = _competent_point_held(seller_region_id=contract.seller_region_id, buyer_region_id=contract.buyer_region_id)
    if point is None:
        raise DomainError("本市尚未设立登记点，请联系市科技局")
    _claim_row(contract, ("registered",))
    contract.reg_status = "submitted"
    contract.reg_request = "cancel"
    contract.reg_point_id = point.id
    contract.submitted_at = utcnow()
    contract.submitted_by_id = contract.submitted_by_id or user.id
    db.session.flush()
    _step(contract, user, "cancel", point=point, reason=reason)
    events.record(events.contract_reg_submitted, contract=contract, user=user)
    return contract


# --- the 登记员's decisions -----------------------------------------------------------------------------------

DECISIONS = {"register": "核定登记", "return": "退回修改", "refuse": "不予登记（非技术合同）"}


def registration_decide(*, contract: Contract, user: User, decision: str, reason: str = "",
                        tech_amount: Decimal | None = None, today: date | None = None) -> Contract:
    """The 登记员 of the competent 登记点 registers (核定 the 技术交易额: at most the 成交额, to the fen; a 登记编号
    drawn from the point's sequence; a verification code for the 登记证明), returns with reasons, or refuses."""
    if not access.can_decide(user, contract):
        raise NotAllowed("只有受理该合同的登记点的登记员可以办理登记")
    if decision not in DECISIONS:
        raise DomainError("请选择办理结果", fields={"decision": "请选择办理结果"})
    reason = (reason or "").strip()
    if len(reason) > 500:
        raise DomainError("理由不超过500字", fields={"reason": "理由不超过500字"})
    if decision in ("return", "refuse") and len(reason) < 2:
        label = "退回理由" if decision == "return" else "不予登记的理由"
        raise DomainError(f"请填写{label}", fields={"reason": f"请填写{label}"})
    if decision == "refuse" and contract.reg_request != "new":
        raise DomainError("变更、注销申请不能“不予登记”：请核定登记或退回", fields={"decision": "请核定登记或退回"})
    if decision == "register" and contract.reg_request != "cancel":
        problem = _tech_amount_problem(tech_amount, contract.amount)
        if problem:
            raise DomainError(problem, fields={"tech_amount": problem})
    prior = _registered_prior(contract) if decision == "return" and contract.reg_request == "change" else None
    _claim_row(contract, ("submitted",), joining=key_after(contract, prior) if prior else None)
    point = db.session.get(RegPoint, contract.reg_point_id)
    if decision == "return":
        # a change or a cancellation sent back leaves the registration as it was (it counts again): a change's
        # values were written on the row when it was asked for, so the registered ones are put back
        if prior is not None:
            _restore_registered_values(contract, user, prior)
        contract.reg_status = "returned" if contract.reg_request == "new" else "registered"
        if contract.reg_status == "registered":
            contract.reg_request = None
        _step(contract, user, "return", point=point, reason=reason)
    elif decision == "refuse":
        contract.reg_status = "refused"
        contract.reg_request = None
        _step(contract, user, "refuse", point=point, reason=reason)
    elif contract.reg_request == "cancel":
        contract.reg_status = "registered"
        contract.reg_request = None
        contract.voided = True
        contract.void_reason = f"注销登记：{reason}" if reason else "注销登记"
        contract_services._audit(contract, user, "void", "voided", False, True)
        _step(contract, user, "cancelled", point=point, reason=reason)
    else:
        # a 高校院所's 协议定价 is registered only after its 公示 (issue 20)
        disclosure_gate(contract=contract, change_request=contract.reg_request == "change")
        on = today or queries.china_today()
        if contract.registration_no.startswith(PLACEHOLDER_PREFIX):
            contract.registration_no = draw_number(point=point, year=on.year)
        if tech_amount != contract.tech_amount:
            contract_services._audit(contract, user, "edit", "tech_amount", contract.tech_amount, tech_amount)
        contract.tech_amount = tech_amount
        contract.reg_status = "registered"
        contract.reg_request = None
        contract.registrar_id = user.id
        contract.registered_on = on
        contract.reg_verify_code = _new_code()
        _step(contract, user, "register", point=point, reason=reason, tech_amount=tech_amount)
    db.session.flush()
    events.record(events.contract_reg_decided, contract=contract, user=user, decision=decision, reason=reason)
    return contract


def _tech_amount_problem(value: Decimal | None, amount: Decimal) -> str | None:
    if value is None or not isinstance(value, Decimal) or not value.is_finite():
        return "请填写核定的技术交易额（元）"
    if value < 0 or value != value.quantize(CENT):
        return "核定的技术交易额须为不小于0、最多两位小数的金额（元）"
    if value > amount:
        return f"核定的技术交易额不能超过合同成交额（{amount.quantize(CENT)}元）"
    return contract_amount_problem(value, "技术交易额")


def draw_number(*, point: RegPoint, year: int) -> str:
    """The next 登记编号 of the point: one atomic UPDATE ... RETURNING on its counter (its row lock, or SQLite's
    write lock, orders concurrent registrations), restarting at 1 each year."""
    seq = db.session.execute(
        update(RegPoint).where(RegPoint.id == point.id)
        .values(seq_last=case((RegPoint.seq_year == year, RegPoint.seq_last + 1), else_=1), seq_year=year)
        .returning(RegPoint.seq_last)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    if seq > 999999:
        raise Conflict("该登记点本年度的登记编号已用完，请联系市科技局")
    return format_regno(year=year, division=point.division, point=point.serial, seq=seq)


def _new_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))


def _claim_row(contract: Contract, states: tuple[str, ...], joining: tuple | None = None) -> None:
    """Compare-and-set on the row (its version): two decisions on one submission, or a decision and a withdrawal,
    cannot both pass; the second is told the state moved. `joining`: the duplicate key the contract is about to
    get, when it changes."""
    # before the row, the group it leaves and the one it joins: a twin decided at once (models/checks.py)
    lock_duplicate_groups([contract.id], joining=[joining])
    result = db.session.execute(
        update(Contract)
        .where(Contract.id == contract.id, Contract.version == contract.version, Contract.reg_status.in_(states),
               Contract.voided.is_(False))
        .values(version=Contract.version + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict("该合同的登记状态已被他人改变，请刷新页面后重试")
    db.session.refresh(contract)


# what a change request may alter on a registered contract, and so what a returned change puts back
PRIOR_FIELDS = RESUBMIT_FIELDS + ("scan_path", "scan_name", "declared_tech_amount")


def _registered_values(contract: Contract) -> str:
    return json.dumps({name: None if getattr(contract, name) is None else str(getattr(contract, name))
                       for name in PRIOR_FIELDS}, ensure_ascii=False)


def _registered_prior(contract: Contract) -> dict:
    """The values the last change request replaced (its step's `prior`), typed; empty for a change asked before the
    values were kept."""
    step = db.session.scalar(select(RegStep).where(RegStep.contract_id == contract.id, RegStep.action == "change")
                             .order_by(RegStep.id.desc()).limit(1))
    if step is None or not step.prior:
        return {}
    return {name: None if text is None else (Decimal(text) if name in ("amount", "tech_amount", "declared_tech_amount")
                                             else date.fromisoformat(text) if name in ("signed_on", "term_start", "term_end")
                                             else int(text) if name.endswith("_id") else text)
            for name, text in json.loads(step.prior).items()}


def _restore_registered_values(contract: Contract, user: User, prior: dict) -> None:
    """Put back the values the last change request replaced (`prior`, from _registered_prior), with an audit row for
    each (nothing to put back but what the row says for a change asked before the values were kept)."""
    for name, value in prior.items():
        old = getattr(contract, name)
        if old != value:
            setattr(contract, name, value)
            if name not in ("scan_path", "declared_tech_amount"):
                contract_services._audit(contract, user, "edit", name, old, value)


def _step(contract: Contract, user: User, action: str, *, point: RegPoint | None, reason: str = "",
          tech_amount: Decimal | None = None, prior: str | None = None) -> None:
    db.session.add(RegStep(contract_id=contract.id, action=action, actor_id=user.id, prior=prior,
                           reg_point_id=point.id if point else None, reason=reason[:500], tech_amount=tech_amount,
                           registration_no="" if contract.registration_no.startswith(PLACEHOLDER_PREFIX)
                           else contract.registration_no, at=utcnow()))


__all__ = ["CALENDAR_KINDS", "DECISIONS", "PLACEHOLDER_PREFIX", "calendar_day_set", "cancellation_request", "draw_number",
           "reg_point_create", "reg_point_set_active", "registrar_create", "registrar_set_active", "registration_decide",
           "submission_create", "submission_resubmit"]
