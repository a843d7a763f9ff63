"""One row counting the committed write transactions of this database (PostgreSQL): the signed-in page cache's
version (market/usercache.py), which moves with this database's writes only, not with the server's."""
from __future__ import annotations

from sqlalchemy import BigInteger, Integer
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class WriteCounter(db.Model):
    __tablename__ = "write_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # always 1
    n: Mapped[int] = mapped_column(BigInteger, default=0)
