"""Who may see and change a contract (load-and-check helpers)."""
from __future__ import annotations

from flask import abort
from flask_login import current_user

from ..deals.access import region_in_scope
from ..extensions import db
from ..models import Contract, Deal, User

RECORDER_ROLES = ("broker", "official", "admin")


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


def can_edit_contract(user: User, contract: Contract) -> bool:
    """Edit and record payments: officials of the region, admins, and the contract's broker."""
    if user.role in ("admin", "official"):
        return can_view_contract(user, contract)
    return is_contract_broker(user, contract)


def can_void_contract(user: User, contract: Contract) -> bool:
    return user.role in ("admin", "official") and can_view_contract(user, contract)


def can_see_audit(user: User, contract: Contract) -> bool:
    return user.role in ("admin", "official") and can_view_contract(user, contract)


def can_record_in(user: User, buyer_region_id: int | None, seller_region_id: int | None) -> bool:
    """A broker or official records contracts with one party in their region; admins anywhere."""
    if user.role == "admin":
        return True
    if user.role not in ("broker", "official"):
        return False
    return region_in_scope(user, buyer_region_id) or region_in_scope(user, seller_region_id)


def get_contract(contract_id: int) -> Contract:
    contract = db.session.get(Contract, contract_id)
    if contract is None or not can_view_contract(current_user, contract):
        abort(404)
    return contract
