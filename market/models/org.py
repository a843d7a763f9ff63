from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, utcnow
from .region import Region

ORG_TYPES = {"enterprise": "企业", "university": "高校", "institute": "科研院所", "agency": "服务机构"}
ORG_STATUSES = {"pending": "待认证", "verified": "已认证", "rejected": "认证未通过"}
INSTITUTION_TYPES = ("university", "institute")


class Organization(db.Model):
    __tablename__ = "organizations"
    __table_args__ = (
        CheckConstraint("org_type IN ('enterprise', 'university', 'institute', 'agency')", name="org_type"),
        CheckConstraint("status IN ('pending', 'verified', 'rejected')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    uscc: Mapped[str | None] = mapped_column(String(18), unique=True)
    org_type: Mapped[str] = mapped_column(String(16))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)  # on the city's tree
    # where it is in the country (GB/T 2260, market/divisions.py): a party in the city has its node's code, one
    # elsewhere only this; NULL for a party abroad, and for one left on the city node before issue 16
    division_code: Mapped[str | None] = mapped_column(String(6))
    country: Mapped[str] = mapped_column(String(2), default="CN", server_default="CN")  # 国别, ISO 3166-1
    legal_form: Mapped[str | None] = mapped_column(String(8))  # 法人性质, reg_codes kind legal_form
    contact_name: Mapped[str] = mapped_column(String(50), default="")
    contact_phone: Mapped[str] = mapped_column(String(30), default="")
    contact_email: Mapped[str] = mapped_column(String(120), default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    review_note: Mapped[str] = mapped_column(String(500), default="")
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", use_alter=True))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    region: Mapped[Region | None] = relationship()

    @property
    def type_label(self) -> str:
        return ORG_TYPES[self.org_type]

    @property
    def status_label(self) -> str:
        return ORG_STATUSES[self.status]

    @property
    def place_label(self) -> str:
        from ..divisions import place_label

        return place_label(region=self.region, division_code=self.division_code, country=self.country)

    @property
    def is_verified(self) -> bool:
        return self.status == "verified"

    @property
    def is_institution(self) -> bool:
        return self.org_type in INSTITUTION_TYPES
