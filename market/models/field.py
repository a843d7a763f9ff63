from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db


class Field(db.Model):
    """技术领域: eight top-level domains ('01'..'08') with subfields ('01.02')."""

    __tablename__ = "fields"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("fields.id"), index=True)
    sort: Mapped[int] = mapped_column(Integer, default=0)

    parent: Mapped[Field | None] = relationship(remote_side=[id])

    @property
    def root_code(self) -> str:
        return self.code.split(".")[0]

    @property
    def label(self) -> str:
        return f"{self.parent.name} / {self.name}" if self.parent else self.name
