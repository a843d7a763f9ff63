"""Stored suggestions: recomputed when a listing is published, changed, withdrawn or deleted.

A pair (need, result) is stored while the result is in the need's top list or the need is in the
result's top list, and both are published. Refreshing one listing recomputes its own top list, and
for every pair it had that is no longer in that list, asks the other side's top list whether the pair
still belongs there. Pairs are upserted (their id and created_at stay), so the broker's queue keeps
its rows while scores and reasons are updated. Owners' feedback (feedback.py) is applied here: a pairing marked
不相关 is never kept, one declined as 技术不对口 (and similar ones) is kept with a lower score.

The refresh runs as a job (market/matching/handlers.py) that follows the listing change log, in a session of
its own: never inside a user's request transaction. A failure is kept on the job (the administrator's 后台任务
page, `flask jobs status`); `flask match refresh` repairs.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from flask import Flask
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from ..database import write_intent
from ..extensions import db
from ..models import LISTING_MODELS, Achievement, Demand, Suggestion
from ..models.base import utcnow
from . import feedback
from .engine import MATCHABLE, Matcher

log = logging.getLogger(__name__)

Pair = tuple[int, int]  # (demand_id, achievement_id)


@dataclass
class RefreshPlan:
    kind: str
    listing_id: int
    matchable: bool
    keep: dict[Pair, tuple[float, list[str]]] = field(default_factory=dict)
    drop: set[Pair] = field(default_factory=set)
    picks: set[Pair] = field(default_factory=set)  # the pairs of keep that the listing's own match ranked
    joined: set[tuple[str, int]] = field(default_factory=set)  # listings of the other side this plan gives a new pair


@dataclass
class RefreshReport:
    listings: int = 0
    stored: int = 0
    removed: int = 0
    failed: int = 0
    failed_keys: list[tuple[str, int]] = field(default_factory=list)

    def add(self, other: RefreshReport) -> None:
        self.listings += other.listings
        self.stored += other.stored
        self.removed += other.removed
        self.failed += other.failed


def _side(kind: str):
    return Suggestion.demand_id if kind == "demand" else Suggestion.achievement_id


def _pair(kind: str, listing_id: int, other_id: int) -> Pair:
    return (listing_id, other_id) if kind == "demand" else (other_id, listing_id)


def suggestions_plan(kind: str, listing_id: int, *, matcher: Matcher, own_only: bool = False) -> RefreshPlan:
    """What to store for one listing (reads only). `own_only`: make the listing's own picks again and leave the
    pairs the other side holds as that side's last refresh left them (its flag), without matching each of them
    again: the refresh of a listing a new pair reached (refresh_listings)."""
    session = matcher.session
    listing = session.get(LISTING_MODELS[kind], listing_id)
    if listing is None or listing.status != MATCHABLE:
        return RefreshPlan(kind=kind, listing_id=listing_id, matchable=False)
    plan = RefreshPlan(kind=kind, listing_id=listing_id, matchable=True)
    fb = feedback.for_batch(matcher, session)  # owners' 不相关 marks and 技术不对口 declines
    for m in matcher.matches_for(listing):
        pair = (m.demand_id, m.achievement_id)
        if not fb.is_hidden(pair):
            demand, achievement = (listing, m.other) if kind == "demand" else (m.other, listing)
            plan.keep[pair] = fb.adjust(demand, achievement, m.score, m.reasons)
            plan.picks.add(pair)
    other_kind = "achievement" if kind == "demand" else "demand"
    theirs_pick = Suggestion.achievement_pick if kind == "demand" else Suggestion.demand_pick
    existing = session.execute(
        select(Suggestion.demand_id, Suggestion.achievement_id, Suggestion.score, Suggestion.reasons, theirs_pick)
        .where(_side(kind) == listing_id)
    ).all()
    held = {(d, a) for d, a, *_ in existing}
    plan.joined = {(other_kind, a if kind == "demand" else d) for d, a in plan.keep if (d, a) not in held}
    other_model = LISTING_MODELS[other_kind]
    for demand_id, achievement_id, score, reasons, held_by_them in existing:
        pair = (demand_id, achievement_id)
        if pair in plan.keep:
            continue
        if own_only:
            if held_by_them and not fb.is_hidden(pair):
                plan.keep[pair] = (score, json.loads(reasons or "[]"))  # as the other side stored it
            else:
                plan.drop.add(pair)
            continue
        other = session.get(other_model, achievement_id if kind == "demand" else demand_id)
        theirs = {(m.demand_id, m.achievement_id): m for m in matcher.matches_for(other)} if other else {}
        if pair in theirs and not fb.is_hidden(pair):
            demand, achievement = (listing, other) if kind == "demand" else (other, listing)
            plan.keep[pair] = fb.adjust(demand, achievement, theirs[pair].score, theirs[pair].reasons)
        else:
            plan.drop.add(pair)
    return plan


def suggestions_store(plan: RefreshPlan, *, session: Session) -> RefreshReport:
    """Write a plan: re-checks in this transaction that both sides are still published."""
    report = RefreshReport(listings=1)
    model = LISTING_MODELS[plan.kind]
    status = session.scalar(select(model.status).where(model.id == plan.listing_id))
    if not plan.matchable or status != MATCHABLE:
        result = session.execute(delete(Suggestion).where(_side(plan.kind) == plan.listing_id))
        report.removed += result.rowcount or 0
        return report
    for d, a in sorted(plan.drop):
        result = session.execute(
            delete(Suggestion).where(Suggestion.demand_id == d, Suggestion.achievement_id == a)
        )
        report.removed += result.rowcount or 0
    pairs = sorted(plan.keep)
    if pairs:
        live_d = set(session.scalars(select(Demand.id).where(
            Demand.id.in_({d for d, _ in pairs}), Demand.status == MATCHABLE)))
        live_a = set(session.scalars(select(Achievement.id).where(
            Achievement.id.in_({a for _, a in pairs}), Achievement.status == MATCHABLE)))
        now = utcnow()
        pick = f"{plan.kind}_pick"  # this listing's side: its own picks, and not the pairs only the other side holds
        rows = [
            {"demand_id": d, "achievement_id": a, "score": float(plan.keep[(d, a)][0]),
             "reasons": json.dumps(plan.keep[(d, a)][1], ensure_ascii=False), "created_at": now,
             pick: (d, a) in plan.picks}
            for d, a in pairs if d in live_d and a in live_a
        ]
        if rows:
            _upsert(session, rows, pick)
            report.stored += len(rows)
    return report


def _upsert(session: Session, rows: list[dict], pick: str) -> None:
    """INSERT ... ON CONFLICT (demand_id, achievement_id) DO UPDATE: safe against a concurrent refresh. The score,
    the reasons and this side's `pick` are the refresh's; the other side's pick stays as its own refresh left it."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(Suggestion.__table__).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["demand_id", "achievement_id"],
        set_={"score": stmt.excluded.score, "reasons": stmt.excluded.reasons, pick: stmt.excluded[pick]},
    )
    session.execute(stmt)


def suggestions_refresh_for(kind: str, listing_id: int, *, session: Session | None = None,
                            matcher: Matcher | None = None) -> RefreshReport:
    """Recompute and store one listing's suggestions in `session` (flushes; the caller commits).

    A listing that is missing or no longer published loses all its pairs.
    """
    from ..search.indexing import replica

    session = session or db.session
    matcher = matcher or Matcher(session, replica().backend())
    plan = suggestions_plan(kind, listing_id, matcher=matcher)
    return suggestions_store(plan, session=session)


def suggestions_purge(*, session: Session) -> int:
    """Delete every pair whose need or result is no longer published."""
    dead = or_(
        Suggestion.demand_id.not_in(select(Demand.id).where(Demand.status == MATCHABLE)),
        Suggestion.achievement_id.not_in(select(Achievement.id).where(Achievement.status == MATCHABLE)),
    )
    result = session.execute(delete(Suggestion).where(dead))
    return result.rowcount or 0


def listings_without_suggestions(session: Session) -> list[tuple[str, int]]:
    """Published listings that have no stored pair (never refreshed, or nothing above the threshold)."""
    out: list[tuple[str, int]] = []
    for kind, model in LISTING_MODELS.items():
        has = select(Suggestion.id).where(_side(kind) == model.id).exists()
        out += [(kind, i) for i in session.scalars(
            select(model.id).where(model.status == MATCHABLE, ~has).order_by(model.id))]
    return out


def all_matchable(session: Session) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for kind, model in LISTING_MODELS.items():
        out += [(kind, i) for i in session.scalars(select(model.id).where(model.status == MATCHABLE).order_by(model.id))]
    return out


def refresh_listings(app: Flask, keys: Iterable[tuple[str, int]], *, catch_up: bool = False) -> RefreshReport:
    """Refresh each (kind, id) in a session of its own: read with a deferred transaction, then write
    in a short one (BEGIN IMMEDIATE on SQLite), one listing at a time; failures are logged and counted.

    Then each listing of the other side that one of them gave a new pair (a result just published that ranks a
    waiting need among its ten) is refreshed too, once: its own picks, which its page lists first, are made
    again with the newcomer among its candidates. Without it the need kept its old ten picks above the new
    result, however much better its own match now ranks that result."""
    from ..search.indexing import replica

    keys = list(keys)
    report = RefreshReport()
    index = replica(app)
    with Session(db.engine, expire_on_commit=False) as session:
        if catch_up:
            token = write_intent.set(False)
            try:
                index.catch_up(session)
                session.commit()
            finally:
                write_intent.reset(token)
        matcher = Matcher(session, index.backend())
        done = set(keys)
        queue = list(keys)
        for position, (kind, listing_id) in enumerate(queue):
            try:
                token = write_intent.set(False)
                try:
                    plan = suggestions_plan(kind, listing_id, matcher=matcher, own_only=position >= len(keys))
                    session.commit()
                finally:
                    write_intent.reset(token)
                token = write_intent.set(True)
                try:
                    report.add(suggestions_store(plan, session=session))
                    session.commit()
                finally:
                    write_intent.reset(token)
                if position < len(keys):  # the counterparts of the listings asked for, not theirs in turn
                    for other in sorted(plan.joined - done):
                        done.add(other)
                        queue.append(other)
            except Exception:
                session.rollback()
                report.failed += 1
                report.failed_keys.append((kind, listing_id))
                log.exception("suggestion refresh failed for %s:%s", kind, listing_id)
    return report
