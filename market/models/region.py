from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db

LEVELS = {"city": "市", "county": "县区", "town": "镇街道"}
LEVEL_ORDER = ("city", "county", "town")


class Region(db.Model):
    """A node of the 市 → 县区 → 镇街道 tree. `path` is '/1/5/23/' (ancestor ids) for subtree queries."""

    __tablename__ = "regions"
    __table_args__ = (CheckConstraint("level IN ('city', 'county', 'town')", name="level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(8))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    path: Mapped[str] = mapped_column(String(255), index=True, default="")
    sort: Mapped[int] = mapped_column(Integer, default=0)

    parent: Mapped[Region | None] = relationship(remote_side=[id])

    @property
    def level_label(self) -> str:
        return LEVELS[self.level]

    @property
    def ancestor_ids(self) -> list[int]:
        return [int(part) for part in self.path.strip("/").split("/") if part]

    def full_name(self) -> str:
        rows = {r.id: r.name for r in db.session.scalars(select(Region).where(Region.id.in_(self.ancestor_ids)))}
        return "/".join(rows[i] for i in self.ancestor_ids if i in rows)

    def contains(self, other: Region | None) -> bool:
        return other is not None and other.path.startswith(self.path)

    def __repr__(self) -> str:
        return f"<Region {self.code} {self.name}>"
