"""A contract entered directly that names another organisation's need or result: a link its owner confirms."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, utcnow
from .contract import Contract
from .listing import LISTING_MODELS, ListingMixin
from .user import User

LINK_STATUSES = {"pending": "待确认", "accepted": "已确认", "declined": "已拒绝"}


class ContractListingLink(db.Model):
    """The recorder of a contract asks to link it to a listing; only the listing's organisation decides.

    Until it is accepted the contract does not name the listing (contracts.demand_id / achievement_id stay
    empty) and the listing's status is untouched. One link per contract and kind.
    """

    __tablename__ = "contract_listing_links"
    __table_args__ = (
        UniqueConstraint("contract_id", "kind", name="uq_contract_listing_links_contract_kind"),
        CheckConstraint("kind IN ('demand', 'achievement')", name="kind"),
        CheckConstraint("status IN ('pending', 'accepted', 'declined')", name="status"),
        Index("ix_contract_listing_links_listing", "kind", "listing_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id"))
    kind: Mapped[str] = mapped_column(String(16))
    listing_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decline_reason: Mapped[str] = mapped_column(String(200), default="")

    contract: Mapped[Contract] = relationship()
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    @property
    def status_label(self) -> str:
        return LINK_STATUSES[self.status]

    @property
    def listing(self) -> ListingMixin | None:
        return db.session.get(LISTING_MODELS[self.kind], self.listing_id)
