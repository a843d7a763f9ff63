"""The job ledger: one row per piece of work that runs after the answer (market/jobs)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow

JOB_STATUSES = {"queued": "排队中", "running": "运行中", "done": "已完成", "failed": "失败"}


class Job(db.Model):
    """Written in the same transaction as the change that asks for it, so a job is never lost between the commit
    and the queue: the queue (Huey) only carries the row's id, and the sweep sends again any row the queue lost
    or whose consumer died (its lease ran out)."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(50), index=True)
    payload: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=3)
    error: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[str] = mapped_column(String(500), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # while running: the consumer holds the job until then; a job still "running" after it is sent again
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)

    @property
    def status_label(self) -> str:
        return JOB_STATUSES[self.status]


class LogCursor(db.Model):
    """How far a consumer of a change log (e.g. the suggestion refresh reading `index_changes`) has got."""

    __tablename__ = "log_cursors"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    seq: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
