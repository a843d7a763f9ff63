"""A contract entered directly (平台外签订) may name a need of its buyer or a result of its seller. The rule: a
listing is linked to a contract, and marked 已解决 / 已转化, only through a deal its owner took part in
(contract_record_from_deal), or once its owner accepts the link asked for here. Until then the contract does
not name the listing and the listing is untouched. Writes (keyword-only) and the reads their pages need.
"""
from __future__ import annotations

from flask import abort
from flask_login import current_user
from sqlalchemy import case, select, update

from ..errors import Conflict, DomainError, NotAllowed
from ..extensions import db
from ..listings.services import listing_log, listing_mark_done_by_contract, lock_for_write
from ..models import Contract, ContractAudit, ContractListingLink, ListingMixin, User
from ..models.base import utcnow
from ..models.listing import DONE_BY_CONTRACT
from ..notifications.services import notify, path_for
from ..permissions import is_listing_owner

LINK_COLUMNS = {"demand": "demand_id", "achievement": "achievement_id"}
DECISIONS = {"accept": "accepted", "decline": "declined"}


def _owner_users(listing: ListingMixin) -> list[int]:
    return list(db.session.scalars(select(User.id).where(User.org_id == listing.org_id, User.active.is_(True))))


def _audit(contract: Contract, user: User, kind: str, text: str) -> None:
    db.session.add(ContractAudit(contract_id=contract.id, actor_id=user.id, action="link",
                                 field_name=LINK_COLUMNS[kind], old_value="", new_value=text))


def link_request(*, contract: Contract, listing: ListingMixin, user: User) -> ContractListingLink:
    """The recorder named `listing`: ask its organisation to confirm (a pending link and a notification)."""
    link = ContractListingLink(contract_id=contract.id, kind=listing.KIND, listing_id=listing.id,
                               requested_by_id=user.id, status="pending")
    db.session.add(link)
    db.session.flush()
    number = contract.registration_no
    listing_log(listing=listing, user=user, reason=f"技术合同 {number} 登记时申请关联本{listing.LABEL}，待发布单位确认")
    _audit(contract, user, listing.KIND, f"申请关联{listing.LABEL} #{listing.id}，待发布单位确认")
    notify(
        users=_owner_users(listing),
        kind="contract_link",
        text=(f"{user.name}登记技术合同 {number}（{contract.buyer_org.name} ⇄ {contract.seller_org.name}）时关联了"
              f"贵单位的{listing.LABEL}《{listing.title}》，请确认是否属实：确认后该{listing.LABEL}将标记为"
              f"“{listing.DONE_LABEL}”，拒绝则不变"),
        url=path_for("listings.detail", "contract-links", kind=listing.KIND, listing_id=listing.id),
        exclude=user,
    )
    return link


def link_decide(*, link: ContractListingLink, user: User, decision: str, reason: str = "") -> ContractListingLink:
    """The listing's organisation accepts (the contract names the listing; a published listing becomes
    已解决 / 已转化) or declines (nothing changes but the history). The recorder is told either way."""
    listing = link.listing
    if listing is None or not is_listing_owner(user, listing):
        raise NotAllowed("只有发布单位可以确认或拒绝关联")
    to = DECISIONS.get(decision)
    if to is None:
        raise DomainError("请选择确认或拒绝")
    reason = (reason or "").strip()
    if len(reason) > 200:
        raise DomainError("理由不超过200字", fields={"reason": "理由不超过200字"})
    # once: a concurrent decision finds no pending row
    result = db.session.execute(
        update(ContractListingLink)
        .where(ContractListingLink.id == link.id, ContractListingLink.status == "pending")
        .values(status=to, decided_by_id=user.id, decided_at=utcnow(), decline_reason=reason if to == "declined" else "")
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict("该关联已处理，请刷新页面")
    db.session.refresh(link)
    contract = link.contract
    number = contract.registration_no
    if to == "accepted":
        # the contract row in the same statement: a contract voided meanwhile links nothing
        result = db.session.execute(
            update(Contract)
            .where(Contract.id == contract.id, Contract.voided.is_(False))
            .values({LINK_COLUMNS[link.kind]: listing.id})
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            raise Conflict("该合同已作废，不能确认关联")
        db.session.refresh(contract)
        _audit(contract, user, link.kind, f"{listing.LABEL} #{listing.id}《{listing.title}》，发布单位已确认")
        lock_for_write(listing)
        if listing.status == "published":
            listing_mark_done_by_contract(listing=listing, user=user,
                                          reason=f"{DONE_BY_CONTRACT}（登记编号 {number}），发布单位确认关联")
        else:  # a draft, a listing under review or closed keeps its status (done would make it public)
            listing_log(listing=listing, user=user, reason=f"确认关联技术合同 {number}（状态不变）")
        verdict = f"确认了技术合同 {number} 与{listing.LABEL}《{listing.title}》的关联"
    else:
        _audit(contract, user, link.kind, f"发布单位拒绝关联{listing.LABEL} #{listing.id}" + (f"：{reason}" if reason else ""))
        listing_log(listing=listing, user=user,
                    reason=f"拒绝关联技术合同 {number}" + (f"：{reason}" if reason else "") + "（状态不变）")
        verdict = (f"拒绝了技术合同 {number} 与{listing.LABEL}《{listing.title}》的关联"
                   + (f"（{reason}）" if reason else "") + f"，该{listing.LABEL}状态未变")
    notify(users=[contract.recorded_by_id], kind=f"contract_link_{to}", text=f"{user.org.name} {verdict}",
           url=path_for("contracts.detail", contract_id=contract.id), exclude=user)
    return link


# --- reads ----------------------------------------------------------------------------------------

def get_link_for_owner(link_id: int) -> ContractListingLink:
    """Load a link for its deciding organisation: 404 for everyone else (no hint that it exists)."""
    link = db.session.get(ContractListingLink, link_id)
    listing = link.listing if link is not None else None
    if listing is None or not is_listing_owner(current_user, listing):
        abort(404)
    return link


def links_for_listing(listing: ListingMixin) -> list[ContractListingLink]:
    """Pending first, then the newest."""
    pending_first = case((ContractListingLink.status == "pending", 0), else_=1)
    return db.session.scalars(
        select(ContractListingLink)
        .where(ContractListingLink.kind == listing.KIND, ContractListingLink.listing_id == listing.id)
        .order_by(pending_first, ContractListingLink.id.desc())
    ).all()


def links_for_contract(contract: Contract) -> list[ContractListingLink]:
    return db.session.scalars(
        select(ContractListingLink).where(ContractListingLink.contract_id == contract.id).order_by(ContractListingLink.id)
    ).all()
