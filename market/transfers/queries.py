"""Reads: the public lists of 公示 and 挂牌, and what a result's page shows of them."""
from __future__ import annotations

from sqlalchemy import Select, select

from ..extensions import db
from ..models.transfer import Disclosure, PriceListing


def disclosures() -> Select:
    """Every 公示, newest first (withdrawn ones stay listed as 已撤回: a 公示 is a public record)."""
    return select(Disclosure).order_by(Disclosure.starts_at.desc(), Disclosure.id.desc())


def listings() -> Select:
    return select(PriceListing).order_by(PriceListing.created_at.desc(), PriceListing.id.desc())


def for_achievement(achievement_id: int) -> tuple[list[Disclosure], list[PriceListing]]:
    ds = list(db.session.scalars(select(Disclosure).where(Disclosure.achievement_id == achievement_id)
                                 .order_by(Disclosure.id.desc()).limit(5)))
    ls = list(db.session.scalars(select(PriceListing).where(PriceListing.achievement_id == achievement_id)
                                 .order_by(PriceListing.id.desc()).limit(5)))
    return ds, ls
