"""The registration gate of a 协议定价 (《促进科技成果转化法》 art. 18), stated once and called by every path that makes
a contract registered or changes what a registered one says:

    contracts.services.contract_record            a broker's or official's direct entry (registered at once)
    contracts.services.contract_record_from_deal  签约 of a deal (registered at once)
    contracts.services.contract_update            a registered contract's type or 成交额 changed
    registration.services.registration_decide     a 登记员 registers a new submission or a change

A contract of type transfer or license whose seller is a 高校 or 科研院所 needs a 公示 of that seller for the same
buyer, type and amount (and the same result when the contract or its deal names one) that has ended without an
upheld objection (every objection decided) and that no other live contract uses; unless the contract comes from a
deal whose price was set in public (挂牌 'listed', 竞价 'auction') and its 成交额 is that price. Imported contracts
(contracts/importer.py) are exempt: they are the historical register of contracts already registered by their
登记点, not registrations."""
from __future__ import annotations

from sqlalchemy import func, or_, select, update

from ..errors import Conflict
from ..extensions import db
from ..models import Contract, ContractAudit, Deal, Organization, RegStep
from ..models.base import utcnow
from ..models.org import INSTITUTION_TYPES
from ..models.transfer import DISCLOSED_TYPES, Disclosure
from ..money import format_yuan
from ..templating import local_dt

GATE_MESSAGE = "该合同属于高校院所协议定价的成果转让/许可，须先完成公示（公示期满且无成立的异议）后才能登记"
PUBLIC_PRICE_SOURCES = ("listed", "auction")


def needs_disclosure(contract: Contract) -> bool:
    if contract.contract_type not in DISCLOSED_TYPES:
        return False
    seller = db.session.get(Organization, contract.seller_org_id)
    if seller is None or seller.org_type not in INSTITUTION_TYPES:
        return False
    deal = db.session.get(Deal, contract.deal_id) if contract.deal_id else None
    # the price was set in public (挂牌, 竞价) only while the contract keeps it: an amount changed later was negotiated
    # (and its type: a 许可 sold at a 挂牌 price is no price for a 转让)
    return (deal is None or deal.source not in PUBLIC_PRICE_SOURCES or deal.price is None
            or contract.amount != deal.price or contract.contract_type != (deal.price_type or "transfer"))


def _result_id(contract: Contract) -> int | None:
    if contract.achievement_id:
        return contract.achievement_id
    deal = db.session.get(Deal, contract.deal_id) if contract.deal_id else None
    return deal.achievement_id if deal is not None else None


def _used_elsewhere(disclosure: Disclosure, contract: Contract) -> bool:
    if disclosure.contract_id is None or disclosure.contract_id == contract.id:
        return False
    other = db.session.get(Contract, disclosure.contract_id)
    return other is not None and not other.voided


def _terms_changed_since_registration(contract: Contract) -> bool:
    """Whether the contract's type or 成交额 was edited since it was last registered (or recorded)."""
    since = db.session.scalar(select(func.max(RegStep.at)).where(RegStep.contract_id == contract.id,
                                                                RegStep.action == "register")) or contract.created_at
    return db.session.scalar(select(ContractAudit.id).where(
        ContractAudit.contract_id == contract.id, ContractAudit.action == "edit",
        ContractAudit.field_name.in_(("contract_type", "amount")), ContractAudit.at >= since).limit(1)) is not None


def disclosure_gate(*, contract: Contract, change_request: bool = False) -> Disclosure | None:
    """Refuse (409, saying what is missing) a registration the 公示 rule forbids; otherwise bind the clearing 公示
    to the contract (under its row lock, so that two contracts cannot both use one 公示) and return it. The
    contract must have its id (flushed). A contract that needs no 公示 releases one it held (its type changed).
    `change_request`: the 登记员 registers a change of a registered contract; one registered before this rule
    (it holds no 公示) whose type and 成交额 did not change since passes, as it was registered."""
    held = select(Disclosure).where(Disclosure.contract_id == contract.id)
    if not needs_disclosure(contract):
        db.session.execute(update(Disclosure).where(Disclosure.contract_id == contract.id).values(contract_id=None)
                           .execution_options(synchronize_session="fetch"))
        return None
    if change_request and db.session.scalar(held.limit(1)) is None and not _terms_changed_since_registration(contract):
        return None
    d, problem = _clearing(contract, lock=True)
    if d is None:
        raise Conflict(problem)
    for old in db.session.scalars(held):
        if old.id != d.id:
            old.contract_id = None
    d.contract_id = contract.id
    db.session.flush()
    return d


def disclosure_problem(contract: Contract) -> str | None:
    """What the 公示 rule still asks before this submitted contract can be registered (None: nothing), read without
    locking: told to the submitter when they submit and shown on the registration page to them and the 登记员
    while it waits. The gate itself decides at the registration (registration_decide)."""
    if not needs_disclosure(contract):
        return None
    if (contract.reg_request == "change" and db.session.scalar(
            select(Disclosure.id).where(Disclosure.contract_id == contract.id).limit(1)) is None
            and not _terms_changed_since_registration(contract)):
        return None
    d, problem = _clearing(contract, lock=False)
    return None if d is not None else problem


def _clearing(contract: Contract, *, lock: bool) -> tuple[Disclosure | None, str]:
    """The cleared 公示 this contract may use (locked with `lock`), or None and what is missing."""
    buyer = db.session.get(Organization, contract.buyer_org_id)
    seller = db.session.get(Organization, contract.seller_org_id)
    stmt = (select(Disclosure).where(
        Disclosure.org_id == contract.seller_org_id, Disclosure.contract_type == contract.contract_type,
        Disclosure.price == contract.amount, Disclosure.withdrawn_at.is_(None),
        or_(Disclosure.buyer_org_id == contract.buyer_org_id, Disclosure.buyer_name == (buyer.name if buyer else "")))
        .order_by(Disclosure.ends_at, Disclosure.id))
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    result_id = _result_id(contract)
    if result_id:
        stmt = stmt.where(Disclosure.achievement_id == result_id)
    candidates = list(db.session.scalars(stmt))
    now = utcnow()
    for d in candidates:
        if d.state(now) == "cleared" and not _used_elsewhere(d, contract):
            return d, ""
    what = (f"卖方“{seller.name if seller else ''}”与买方“{buyer.name if buyer else ''}”之间、"
            f"{DISCLOSED_TYPES[contract.contract_type]}、价格 {format_yuan(contract.amount)}")
    if not candidates:
        detail = f"未找到{what}的公示"
    else:
        states = {d.state(now) for d in candidates}
        if "open" in states:
            d = next(d for d in candidates if d.state(now) == "open")
            detail = f"{what}的公示尚在公示期内（至北京时间 {local_dt(d.ends_at)}）"
        elif "pending" in states:
            detail = f"{what}的公示有尚未处理的异议"
        elif states == {"upheld"}:
            detail = f"{what}的公示有成立的异议"
        else:
            detail = f"{what}的公示已用于另一份有效合同"
    return None, f"{GATE_MESSAGE}：{detail}。"
