"""All-nodes rebuilds of the search index: each node keeps its own index copy, so a rebuild is a request recorded
here that every node's job consumer applies to its own copy (market/search/rebuild.py)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import UTCDateTime, utcnow


class SearchRebuild(db.Model):
    """One request; its id is the generation number a node's copy records once rebuilt after it (applied.json)."""

    __tablename__ = "search_rebuilds"

    id: Mapped[int] = mapped_column(primary_key=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    source: Mapped[str] = mapped_column(String(16), default="admin")  # "admin" (后台任务 page) or "cli"

    requested_by = relationship("User")
