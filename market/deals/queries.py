"""Reads for interests, deals, the suggestion queue and the broker's record; selects are scoped here."""
from __future__ import annotations

from datetime import date

from sqlalchemy import Select, and_, case, exists, false, func, or_, select, true
from sqlalchemy.orm import contains_eager, joinedload

from ..extensions import db
from ..models import (Achievement, Contract, Deal, DealEvent, Demand, Interest, ListingMixin, MatchFeedback, Payment,
                      Suggestion, User)
from ..models.deal import DEAL_STAGES, FAIL_REASONS, OPEN_STAGES
from ..money import exact_sum, join_sum
from ..permissions import scope_region_ids
from .access import party_filter


def _card_loads() -> tuple:
    """What a deal card shows (templates/deals/_deal_card.html), loaded with the deals: the title comes from the
    need and the result, then both parties and the broker (lazy loads cost five statements per card)."""
    return (joinedload(Deal.demand), joinedload(Deal.achievement), joinedload(Deal.buyer_org),
            joinedload(Deal.seller_org), joinedload(Deal.broker))


def visible_deals(user: User, *, stage: str | None = None) -> Select:
    """Deals the user may see: parties their own, brokers theirs, officials their region's, admins all."""
    stmt = select(Deal)
    if user.role == "official":
        sub = scope_region_ids(user)
        stmt = stmt.where(false()) if sub is None else stmt.where(
            or_(Deal.buyer_region_id.in_(sub), Deal.seller_region_id.in_(sub))
        )
    elif user.role == "broker":
        stmt = stmt.where(Deal.broker_id == user.id)
    elif user.role != "admin":
        stmt = stmt.where(false()) if user.org_id is None else party_filter(stmt, user)
    if stage in DEAL_STAGES:
        stmt = stmt.where(Deal.stage == stage)
    elif stage == "open":
        stmt = stmt.where(Deal.stage.in_(OPEN_STAGES))
    return stmt.options(*_card_loads()).order_by(Deal.updated_at.desc(), Deal.id.desc())


def unassigned_deals(user: User) -> Select:
    """Open deals without a broker in the broker's region (to claim)."""
    sub = scope_region_ids(user)
    if user.role != "broker" or sub is None:
        return select(Deal).where(false())
    return (
        select(Deal)
        .where(Deal.broker_id.is_(None), Deal.stage.in_(OPEN_STAGES))
        .where(or_(Deal.buyer_region_id.in_(sub), Deal.seller_region_id.in_(sub)))
        .options(*_card_loads())
        .order_by(Deal.created_at.desc(), Deal.id.desc())
    )


def broker_board(user: User, *, per_stage: int = 100) -> dict[str, list[Deal]]:
    """The broker's deals by stage, at most `per_stage` each, in one statement (it was one per stage): open
    stages by next action date (none last), closed ones newest first."""
    is_open = Deal.stage.in_(OPEN_STAGES)
    order = (case((is_open, Deal.next_action_on.is_(None))), case((is_open, Deal.next_action_on)),
             case((~is_open, Deal.updated_at)).desc(), Deal.id.desc())
    ranked = (
        select(Deal.id, func.row_number().over(partition_by=Deal.stage, order_by=order).label("n"))
        .where(Deal.broker_id == user.id)
        .subquery()
    )
    stmt = (select(Deal).join(ranked, ranked.c.id == Deal.id).where(ranked.c.n <= per_stage)
            .options(*_card_loads()).order_by(Deal.stage, ranked.c.n))
    board: dict[str, list[Deal]] = {stage: [] for stage in DEAL_STAGES}
    for deal in db.session.scalars(stmt).unique():
        board.setdefault(deal.stage, []).append(deal)
    return board


def overdue_on_board(board: dict[str, list[Deal]], user: User, *, today: date, limit: int = 50,
                     per_stage: int = 100) -> list[Deal]:
    """overdue_deals read from the board already loaded (no statement), unless an open column was cut at
    `per_stage` (then some overdue deal may be missing from it, and the database is asked)."""
    if any(len(board.get(stage, ())) >= per_stage for stage in OPEN_STAGES):
        return list(db.session.scalars(overdue_deals(user, today=today).limit(limit)))
    found = [d for stage in OPEN_STAGES for d in board.get(stage, ())
             if d.next_action_on is not None and d.next_action_on < today]
    return sorted(found, key=lambda d: (d.next_action_on, d.id))[:limit]


def overdue_deals(user: User, *, today: date | None = None) -> Select:
    today = today or date.today()
    return (
        select(Deal)
        .where(Deal.broker_id == user.id, Deal.stage.in_(OPEN_STAGES), Deal.next_action_on < today)
        .order_by(Deal.next_action_on, Deal.id)
    )


def suggestion_queue(user: User) -> Select:
    """Engine suggestions in the broker's region, both listings published, that no deal works yet and no owner
    marked 不相关, best 匹配度 first."""
    sub = scope_region_ids(user)
    if user.role != "broker" or sub is None:
        return select(Suggestion).where(false())
    claimed = exists().where(Deal.demand_id == Suggestion.demand_id, Deal.achievement_id == Suggestion.achievement_id)
    # an owner marked the pairing 不相关 (market/matching/feedback.py): not worth a broker's call
    marked = exists().where(MatchFeedback.demand_id == Suggestion.demand_id,
                            MatchFeedback.achievement_id == Suggestion.achievement_id, MatchFeedback.kind == "not_relevant")
    return (
        select(Suggestion)
        .join(Demand, Demand.id == Suggestion.demand_id)
        .join(Achievement, Achievement.id == Suggestion.achievement_id)
        .where(Demand.status == "published", Achievement.status == "published", Demand.org_id != Achievement.org_id)
        .where(or_(Demand.region_id.in_(sub), Achievement.region_id.in_(sub)))
        .where(~claimed, ~marked)
        # the queue's cards show both listings and their organisations: loaded with the row, not one by one
        .options(contains_eager(Suggestion.demand).joinedload(Demand.org),
                 contains_eager(Suggestion.achievement).joinedload(Achievement.org))
        # best 匹配度 first (market/matching/degree.py: monotone in the stored score)
        .order_by(Suggestion.score.desc(), Suggestion.id)
    )


def count(stmt: Select) -> int:
    return db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


def broker_record(user: User, *, counts: dict[str, Select] | None = None) -> dict:
    """Deals by stage and the value of the broker's contracts, summed in SQL (exact), in one statement; with
    `counts` ({name: statement}), the number of rows of each too, in the same statement (record["counts"])."""
    counts = counts or {}
    # `voided IS NOT true` (never NULL: the same rows as `NOT voided`) is no index term: SQLite's planner read
    # `voided = 0` from ix_contracts_voided (nearly every row, 510 ms at 1,000,000 contracts) instead of the
    # broker's few rows from ix_contracts_broker_id
    live = and_(Contract.broker_id == user.id, Contract.voided.is_not(True))
    sums = (select(func.count(Contract.id).label("n"), *exact_sum(Contract.amount, "amount"),
                   *exact_sum(Contract.tech_amount, "tech_amount")).where(live).subquery())
    paid = (select(*exact_sum(Payment.amount, "paid")).join(Contract, Contract.id == Payment.contract_id)
            .where(live).subquery())
    stages = (select(*[func.count().filter(Deal.stage == stage).label(f"stage_{i}") for i, stage in enumerate(DEAL_STAGES)])
              .where(Deal.broker_id == user.id).subquery())
    # three one-row subqueries side by side
    extra = [select(func.count()).select_from(stmt.order_by(None).subquery()).scalar_subquery().label(f"count_{name}")
             for name, stmt in counts.items()]
    row = db.session.execute(select(stages, sums, paid, *extra)
                             .select_from(stages.join(sums, true()).join(paid, true()))).one()
    by_stage = {stage: getattr(row, f"stage_{i}") or 0 for i, stage in enumerate(DEAL_STAGES)}
    return {
        "by_stage": by_stage,
        "deals": sum(by_stage.values()),
        "signed": by_stage.get("signed", 0),
        "contracts": row.n or 0,
        "amount": join_sum(row.amount_hi, row.amount),
        "tech_amount": join_sum(row.tech_amount_hi, row.tech_amount),
        "paid": join_sum(row.paid_hi, row.paid),
        "counts": {name: getattr(row, f"count_{name}") or 0 for name in counts},
    }


def deal_events(deal: Deal) -> list[DealEvent]:
    return list(db.session.scalars(select(DealEvent).where(DealEvent.deal_id == deal.id).order_by(DealEvent.at, DealEvent.id)))


def deal_contracts(deal: Deal) -> list[Contract]:
    return list(db.session.scalars(select(Contract).where(Contract.deal_id == deal.id).order_by(Contract.id)))


def incoming_interests(listing: ListingMixin) -> list[Interest]:
    from .services import target_filter

    return list(db.session.scalars(
        select(Interest).where(target_filter(listing)).order_by(Interest.created_at.desc(), Interest.id.desc())
    ))


def own_interest(org_id: int, listing: ListingMixin) -> Interest | None:
    from .services import target_filter

    return db.session.scalar(
        select(Interest).where(target_filter(listing), Interest.from_org_id == org_id).order_by(Interest.id.desc()).limit(1)
    )


def deal_for_interest(interest: Interest) -> Deal | None:
    return db.session.scalar(select(Deal).where(Deal.interest_id == interest.id))


def org_interests(user: User, *, direction: str) -> Select:
    column = Interest.to_org_id if direction == "received" else Interest.from_org_id
    return select(Interest).where(column == user.org_id).order_by(Interest.created_at.desc(), Interest.id.desc())


def fail_reason_counts(user: User) -> list[tuple[str, int, int]]:
    """Why pairings fail: (reason label, declined interests, terminated deals), within the user's scope."""
    interests = select(Interest.reason_code, func.count()).where(Interest.status == "declined")
    deals = select(Deal.end_reason, func.count()).where(Deal.stage == "terminated")
    if user.role != "admin":
        sub = scope_region_ids(user)
        if sub is None:
            return []
        from ..models import Organization

        interests = interests.join(Organization, Organization.id == Interest.to_org_id).where(Organization.region_id.in_(sub))
        deals = deals.where(or_(Deal.buyer_region_id.in_(sub), Deal.seller_region_id.in_(sub)))
    declined = dict(db.session.execute(interests.group_by(Interest.reason_code)).all())
    ended = dict(db.session.execute(deals.group_by(Deal.end_reason)).all())
    return [(label, declined.get(code, 0), ended.get(code, 0)) for code, label in FAIL_REASONS.items()]
