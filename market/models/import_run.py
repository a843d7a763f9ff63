"""A file import that runs as a background job: its rows, where it has got to, and its report."""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime, utcnow

IMPORT_STATUSES = {
    "queued": "排队中",
    "checking": "正在检查",
    "storing": "正在写入",
    "done": "已完成",
    "refused": "未导入（有误的行）",
    "failed": "失败",
}
FINISHED = ("done", "refused", "failed")


class ImportRun(db.Model):
    """One uploaded file. The rows are read and refused-or-kept in the request (file type, size and limits are
    answered at once); checking and storing them runs as a job. The contracts and the run's final status are
    committed in one transaction, so a run is stored wholly once or not at all, whatever crashes."""

    __tablename__ = "import_runs"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'checking', 'storing', 'done', 'refused', 'failed')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="contracts")
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200), default="")
    skip_bad: Mapped[bool] = mapped_column(default=False)
    scoped: Mapped[bool] = mapped_column(default=True)
    rows: Mapped[str | None] = mapped_column(Text)  # JSON [[line, {column: text}], ...]; cleared once finished
    total: Mapped[int] = mapped_column(default=0)
    processed: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    stored: Mapped[int] = mapped_column(default=0)
    bad_count: Mapped[int] = mapped_column(default=0)
    report: Mapped[str] = mapped_column(Text, default="{}")  # JSON {"bad": [[line, ref, reason]...], "created_orgs": [...]}
    error: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def status_label(self) -> str:
        return IMPORT_STATUSES[self.status]

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def percent(self) -> int:
        if self.status in FINISHED or self.status == "storing":
            return 100 if self.status in FINISHED else 95
        return int(90 * self.processed / self.total) if self.total else 0

    def report_data(self) -> dict:
        return json.loads(self.report or "{}")
