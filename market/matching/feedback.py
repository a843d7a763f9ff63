"""Owners' feedback on suggestions, and how every refresh applies it.

- 不相关: an owner of either side marks a suggested pairing; it is stored (`match_feedback`), hidden at once from
  every list of suggestions (queries.py) and kept out of the stored suggestions at every refresh after.
- 技术不对口: an interest (意向 / 揭榜应答) declined with the reason 'not_relevant' (market/deals) demotes, at the next
  refresh of its listings (queued by handlers.py as the decline commits), that pairing and similar ones:
    the pairing itself (the interest linked the author's own listing)                 score x EXACT_FACTOR
    the target with any listing of the author's organisation (no listing linked),
    or a pairing whose other side is close in key terms to a declined one           score x SIMILAR_FACTOR
  The declines are read from `interests` itself, so nothing has to be copied for them to count.
Penalties are symmetric in (need, result): refreshing either side gives the pair the same score.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import NotAllowed
from ..jobs import job_enqueue
from ..models import LISTING_MODELS, Interest, ListingMixin, MatchFeedback, Suggestion, User
from ..models.base import utcnow
from .engine import listing_terms

EXACT_FACTOR = 0.4
SIMILAR_FACTOR = 0.7
SIMILAR_TERMS = 15  # key terms compared
SIMILAR_SHARE = 0.5  # shared key terms / the smaller set, to count as "similar"
DECLINE_CODE = "not_relevant"  # FAIL_REASONS code shown as 需求与成果不相关 (技术不对口)
EXACT_REASON = "对方曾以“技术不对口”婉拒该配对，已降低匹配度"
SIMILAR_REASON = "与曾被婉拒为“技术不对口”的配对相近，已降低匹配度"

Pair = tuple[int, int]


# -- writes ---------------------------------------------------------------------------------------------------

def owner_side(user: User, suggestion: Suggestion) -> ListingMixin | None:
    """The side of the pairing that the user's organisation owns (None: neither)."""
    if user.org_id is None:
        return None
    if suggestion.demand.org_id == user.org_id:
        return suggestion.demand
    if suggestion.achievement.org_id == user.org_id:
        return suggestion.achievement
    return None


def suggestion_mark_not_relevant(*, suggestion: Suggestion, user: User, session: Session) -> MatchFeedback:
    """Store the owner's 不相关 for the pairing (once per organisation) and queue a refresh of both listings, so
    that the freed slot can be filled. The caller checked that the user is a verified user of an owner."""
    own = owner_side(user, suggestion)
    if own is None:
        raise NotAllowed("只有推荐所涉条目的所属单位可以标记")
    found = session.scalar(select(MatchFeedback).where(
        MatchFeedback.demand_id == suggestion.demand_id, MatchFeedback.achievement_id == suggestion.achievement_id,
        MatchFeedback.org_id == user.org_id, MatchFeedback.kind == "not_relevant"))
    if found is not None:
        return found
    row = MatchFeedback(demand_id=suggestion.demand_id, achievement_id=suggestion.achievement_id, kind="not_relevant",
                        org_id=user.org_id, user_id=user.id, created_at=utcnow())
    session.add(row)
    session.flush()
    job_enqueue(kind="matching.refresh", user=user, session=session,
                payload={"keys": [["demand", suggestion.demand_id], ["achievement", suggestion.achievement_id]]})
    return row


def decline_refresh_keys(interest) -> list[list]:
    """The listings whose suggestions a 技术不对口 decline changes: the target and the author's linked listing."""
    keys = []
    for kind, listing_id in (("demand", interest.demand_id), ("achievement", interest.achievement_id)):
        if listing_id:
            keys.append([kind, int(listing_id)])
    return keys


# -- reads, applied by every refresh ----------------------------------------------------------------------------

@dataclass
class Feedback:
    """Everything owners said, read once per refresh batch (the rows are few: one per mark or decline)."""

    session: Session
    hidden: set[Pair] = field(default_factory=set)
    declined: set[Pair] = field(default_factory=set)
    declined_by_demand: dict[int, set[int]] = field(default_factory=dict)
    declined_by_achievement: dict[int, set[int]] = field(default_factory=dict)
    # a decline with no listing of the author linked: (target kind, target id) -> the author organisations
    declined_orgs: dict[tuple[str, int], set[int]] = field(default_factory=dict)
    _terms: dict[tuple[str, int, int], frozenset[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session) -> Feedback:
        fb = cls(session=session)
        fb.hidden = set(session.execute(
            select(MatchFeedback.demand_id, MatchFeedback.achievement_id).where(MatchFeedback.kind == "not_relevant")
        ).tuples())
        rows = session.execute(
            select(Interest.kind, Interest.demand_id, Interest.achievement_id, Interest.from_org_id)
            .where(Interest.status == "declined", Interest.reason_code == DECLINE_CODE)
        ).all()
        for kind, demand_id, achievement_id, from_org in rows:
            if demand_id and achievement_id:
                fb.declined.add((demand_id, achievement_id))
                fb.declined_by_demand.setdefault(demand_id, set()).add(achievement_id)
                fb.declined_by_achievement.setdefault(achievement_id, set()).add(demand_id)
            elif kind == "solution" and demand_id:  # an institution's answer to a need, no result linked
                fb.declined_orgs.setdefault(("demand", demand_id), set()).add(from_org)
            elif kind == "interest" and achievement_id:  # a company's interest in a result, no need linked
                fb.declined_orgs.setdefault(("achievement", achievement_id), set()).add(from_org)
        return fb

    def is_hidden(self, pair: Pair) -> bool:
        return pair in self.hidden

    def factor(self, demand: ListingMixin, achievement: ListingMixin) -> tuple[float, str | None]:
        """(score multiplier, reason) for a pairing."""
        pair = (demand.id, achievement.id)
        if pair in self.declined:
            return EXACT_FACTOR, EXACT_REASON
        if achievement.org_id in self.declined_orgs.get(("demand", demand.id), ()) \
                or demand.org_id in self.declined_orgs.get(("achievement", achievement.id), ()):
            return SIMILAR_FACTOR, SIMILAR_REASON
        for other_id in self.declined_by_demand.get(demand.id, ()):
            if self._similar(achievement, "achievement", other_id):
                return SIMILAR_FACTOR, SIMILAR_REASON
        for other_id in self.declined_by_achievement.get(achievement.id, ()):
            if self._similar(demand, "demand", other_id):
                return SIMILAR_FACTOR, SIMILAR_REASON
        return 1.0, None

    def adjust(self, demand: ListingMixin, achievement: ListingMixin, score: float,
               reasons: list[str]) -> tuple[float, list[str]]:
        factor, reason = self.factor(demand, achievement)
        if reason is None:
            return score, reasons
        return round(score * factor, 2), [*reasons, reason]

    def _key_terms(self, listing: ListingMixin) -> frozenset[str]:
        key = (listing.KIND, listing.id, listing.version or 1)
        if key not in self._terms:
            self._terms[key] = frozenset(t for t, _ in listing_terms(listing)[:SIMILAR_TERMS])
        return self._terms[key]

    def _similar(self, candidate: ListingMixin, kind: str, declined_id: int) -> bool:
        if declined_id == candidate.id:
            return True
        declined = self.session.get(LISTING_MODELS[kind], declined_id)
        if declined is None:
            return False
        mine, theirs = self._key_terms(candidate), self._key_terms(declined)
        if not mine or not theirs:
            return False
        return len(mine & theirs) / min(len(mine), len(theirs)) >= SIMILAR_SHARE


_loaded: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def for_batch(owner, session: Session) -> Feedback:
    """The feedback for one refresh batch (`owner`: its matcher), read once."""
    fb = _loaded.get(owner)
    if fb is None:
        fb = _loaded[owner] = Feedback.load(session)
    return fb
