"""Who may see and change a contract (load-and-check helpers)."""
from __future__ import annotations

from flask import abort
from flask_login import current_user

from ..extensions import db
from ..models import Contract, Deal, Region, User
from ..permissions import region_in_scope

RECORDER_ROLES = ("broker", "official", "admin")

# The terms that move the official figures (counts and sums by region, type, field and month). A change of any
# of them, or a void, changes the figures of the contract's buyer and seller regions, before and after.
FIGURE_FIELDS = ("amount", "tech_amount", "signed_on", "contract_type", "field_id", "buyer_region_id",
                 "seller_region_id", "voided")


def contract_in_region(user: User, contract: Contract) -> bool:
    return region_in_scope(user, contract.buyer_region_id) or region_in_scope(user, contract.seller_region_id)


def is_contract_broker(user: User, contract: Contract) -> bool:
    if user.role != "broker":
        return False
    if contract.broker_id == user.id:
        return True
    deal = db.session.get(Deal, contract.deal_id) if contract.deal_id else None
    return deal is not None and deal.broker_id == user.id


def can_view_contract(user: User, contract: Contract) -> bool:
    """The parties, their brokers, officials of the region, admins."""
    if user.role == "admin":
        return True
    if user.role == "official":
        return contract_in_region(user, contract)
    if user.role == "broker":
        return is_contract_broker(user, contract)
    return user.org_id is not None and user.org_id in (contract.buyer_org_id, contract.seller_org_id)


def in_registration(contract: Contract) -> bool:
    """A submission the 登记 workflow holds (待登记, 已退回, 不予登记): its terms change only there
    (market/registration), never by a direct edit or void of the register."""
    return contract.reg_status != "registered"


def can_edit_contract(user: User, contract: Contract) -> bool:
    """Edit: officials of the region, admins, and the contract's broker; a submission still in registration
    is changed through the 登记 workflow only."""
    if in_registration(contract):
        return False
    return can_record_payment(user, contract)


def can_record_payment(user: User, contract: Contract) -> bool:
    """Record payments and scans: officials of the region, admins, and the contract's broker."""
    if user.role in ("admin", "official"):
        return can_view_contract(user, contract)
    return is_contract_broker(user, contract)


def can_void_contract(user: User, contract: Contract) -> bool:
    """Officials of the region and admins; a submission still in registration is cancelled there."""
    return user.role in ("admin", "official") and not in_registration(contract) and can_view_contract(user, contract)


def can_see_audit(user: User, contract: Contract) -> bool:
    return user.role in ("admin", "official") and can_view_contract(user, contract)


def can_record_in(user: User, buyer_region_id: int | None, seller_region_id: int | None) -> bool:
    """A broker or official records contracts with one party in their region; admins anywhere."""
    if user.role == "admin":
        return True
    if user.role not in ("broker", "official"):
        return False
    return region_in_scope(user, buyer_region_id) or region_in_scope(user, seller_region_id)


def figure_regions(contract: Contract, new_values: dict) -> set[int]:
    """The regions whose figures `new_values` (field -> value) would change: none when no figure term changes,
    else the old and the new buyer and seller regions."""
    if not any(name in new_values and new_values[name] != getattr(contract, name) for name in FIGURE_FIELDS):
        return set()
    regions = {contract.buyer_region_id, contract.seller_region_id,
               new_values.get("buyer_region_id", contract.buyer_region_id),
               new_values.get("seller_region_id", contract.seller_region_id)}
    return {rid for rid in regions if rid is not None}


def regions_outside_scope(user: User, contract: Contract, new_values: dict) -> list[Region]:
    """The regions whose figures the change would move although they lie outside the user's scope."""
    outside = sorted(rid for rid in figure_regions(contract, new_values) if not region_in_scope(user, rid))
    return [region for region in (db.session.get(Region, rid) for rid in outside) if region is not None]


def can_change_figures(user: User, contract: Contract, new_values: dict) -> bool:
    """The one rule for edits and voids (README, "Security and reliability", row 12.5): nobody moves the figures
    of a region outside their scope. An official or broker may change a contract's figures only when every region
    whose figures change (old and new buyer and seller regions) lies in their region; an official of a higher
    region containing them all, or an administrator, may. Changes that move no figure (title, number, term) are
    not limited here."""
    return not regions_outside_scope(user, contract, new_values)


def figures_refusal(user: User, contract: Contract, new_values: dict) -> str | None:
    """The Chinese reason `can_change_figures` is false, naming the regions; None when the change is allowed."""
    outside = regions_outside_scope(user, contract, new_values)
    if not outside:
        return None
    names = "、".join(region.full_name() for region in outside)
    return (f"该操作会改变{names}的技术合同统计数据，不在您负责的区域内，已拒绝。"
            "涉及其他区域的合同，修改金额、日期、类型、领域、区域或作废，须由同时管辖双方区域的上级科技局工作人员或系统管理员办理；"
            "合同名称、登记编号、履行期限可以由您修改。")


def figures_locked(user: User, contract: Contract) -> str | None:
    """Why `user` may change none of this contract's figures as it stands (for the edit and void forms)."""
    return figures_refusal(user, contract, {"voided": not contract.voided})


def get_contract(contract_id: int) -> Contract:
    contract = db.session.get(Contract, contract_id)
    if contract is None or not can_view_contract(current_user, contract):
        abort(404)
    return contract
