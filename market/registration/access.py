"""Who may see and move a contract's registration (load-and-check helpers)."""
from __future__ import annotations

from flask import abort
from flask_login import current_user

from ..contracts import access as contract_access
from ..extensions import db
from ..models import Contract, RegPoint, User
from ..permissions import is_verified_actor


def can_manage_points(user: User) -> bool:
    """The city designates 登记点 and opens 登记员 accounts: administrators and officials of the city node."""
    if user.role == "admin":
        return True
    return (user.role == "official" and is_verified_actor(user) and user.region is not None
            and user.region.parent_id is None)


def is_registrar_of(user: User, point_id: int | None) -> bool:
    if user.role != "registrar" or point_id is None or user.reg_point_id != point_id or not user.active:
        return False
    point = db.session.get(RegPoint, point_id)
    return point is not None and point.active


def can_submit_for(user: User, contract: Contract) -> bool:
    """The seller side: a verified member of the selling organisation, or the contract's broker."""
    if not is_verified_actor(user):
        return False
    if user.role == "broker":
        return contract_access.is_contract_broker(user, contract)
    return user.role in ("enterprise", "institution") and user.org_id == contract.seller_org_id


def can_decide(user: User, contract: Contract) -> bool:
    """Only a 登记员 of the 登记点 the submission went to."""
    return contract.reg_status == "submitted" and is_registrar_of(user, contract.reg_point_id)


def can_view(user: User, contract: Contract) -> bool:
    """Whoever sees the contract (parties, broker, officials of its region, admins), the submitter, and the
    登记员s of the 登记点 it was sent to."""
    if contract_access.can_view_contract(user, contract):
        return True
    if contract.submitted_by_id is not None and contract.submitted_by_id == user.id:
        return True
    return is_registrar_of(user, contract.reg_point_id)


def get_submission(contract_id: int) -> Contract:
    contract = db.session.get(Contract, contract_id)
    if contract is None or not can_view(current_user, contract):
        abort(404)
    return contract
