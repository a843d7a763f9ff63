"""Every domain event a feature may listen to, in one place (blinker signals, as Flask's own).

A service records an event while it changes the database:

    events.record(events.listing_published, listing=listing, user=user)

The event is sent only once the transaction commits (market/pipeline.py, the last step after the search index
caught up), to handlers connected with `signal.connect(handler)` from the listening feature's own `handlers.py`,
which create_app registers. A transaction that rolls back sends nothing. Handlers run after the commit, outside
the request's transaction: they may not write through `db.session` of the committed request; durable work goes
to a job (market/jobs: `job_enqueue_now`), which runs on a consumer.

Keyword arguments are documented per signal; `sender` is the Flask app. Objects passed are the committed ORM
instances (read their ids and plain attributes; reload what you need in your own session).
"""
from __future__ import annotations

from blinker import Namespace
from sqlalchemy.orm import Session

from .extensions import db

_signals = Namespace()

# -- listings (技术需求 / 科技成果) ------------------------------------------------------------------------------
listing_submitted = _signals.signal("listing-submitted", doc="Owner submitted a listing for review. listing, user")
listing_published = _signals.signal(
    "listing-published", doc="A reviewer (or an import) published a listing: it is public and matchable. listing, user")
listing_returned = _signals.signal("listing-returned", doc="A reviewer returned a listing to its owner. listing, user, reason")
listing_changed = _signals.signal(
    "listing-changed", doc="A public listing's text or facts changed (its search document did). listing, user")
listing_withdrawn = _signals.signal(
    "listing-withdrawn", doc="Owner withdrew or closed a listing: no longer public. listing, user")
listing_done = _signals.signal(
    "listing-done", doc="A listing is 已解决/已转化 (by its owner, a signed deal or a confirmed contract). listing, user")
suggestions_refreshed = _signals.signal(
    "suggestions-refreshed", doc="A matching refresh job stored suggestions (new pairs may be among them). (no arguments)")
listings_changed = _signals.signal(
    "listings-changed",
    doc="The search index holds the listings of a commit (any kind of change, imports included). "
        "keys: set of (kind, id)")

# -- organisations and accounts ---------------------------------------------------------------------------------
org_verified = _signals.signal("org-verified", doc="An official or admin verified an organisation. org, user")
org_rejected = _signals.signal("org-rejected", doc="An official or admin refused an organisation. org, user, note")
broker_reviewed = _signals.signal(
    "broker-reviewed", doc="A broker account was approved or refused. broker, user, decision ('approve'|'reject')")

# -- interests and deals (对接) -----------------------------------------------------------------------------------
interest_made = _signals.signal("interest-made", doc="An organisation expressed interest or answered a need. interest, user")
interest_answered = _signals.signal(
    "interest-answered", doc="The listing owner accepted or declined an interest. interest, user, decision")
deal_claimed = _signals.signal("deal-claimed", doc="A broker took a deal or a suggestion. deal, user")
deal_moved = _signals.signal("deal-moved", doc="A deal changed stage. deal, user, from_stage, to_stage")
deal_signed = _signals.signal("deal-signed", doc="A deal reached 签约 with its contract. deal, contract, user")

# -- contracts (技术合同) -----------------------------------------------------------------------------------------
contract_recorded = _signals.signal("contract-recorded", doc="A contract was registered (form, deal or import). contract, user")
contract_changed = _signals.signal("contract-changed", doc="A contract was edited (audit rows written). contract, user")
contract_voided = _signals.signal("contract-voided", doc="A contract was voided. contract, user, reason")
payment_recorded = _signals.signal("payment-recorded", doc="A payment was recorded on a contract. contract, payment, user")
contract_reg_submitted = _signals.signal(
    "contract-reg-submitted",
    doc="The seller side submitted a contract for 登记 (new, resubmitted, a change or a cancellation). contract, user")
contract_reg_decided = _signals.signal(
    "contract-reg-decided",
    doc="A 登记员 decided a submission. contract, user, decision ('register'|'return'|'refuse'), reason")
target_set = _signals.signal("target-set", doc="An annual target was set for a region. target, user")

# -- the market as a whole ----------------------------------------------------------------------------------------
demo_seeded = _signals.signal("demo-seeded", doc="`flask seed-demo` committed the demo market. (no arguments)")

ALL = tuple(_signals[name] for name in sorted(_signals))

_KEY = "market.events"


def record(signal, /, *, session: Session | None = None, **kwargs) -> None:
    """Note an event in the current transaction; it is sent after the commit (never if it rolls back)."""
    (session or db.session).info.setdefault(_KEY, []).append((signal, kwargs))


def take_committed(session: Session) -> list[tuple[object, dict]]:
    return session.info.pop(_KEY, [])


def forget_uncommitted(session: Session) -> None:
    session.info.pop(_KEY, None)


def send(app, recorded: list[tuple[object, dict]]) -> None:
    """Send recorded events in the order they happened; a failing handler is logged, the others still run."""
    import logging

    log = logging.getLogger(__name__)
    for signal, kwargs in recorded:
        for receiver in list(signal.receivers_for(app)):
            try:
                receiver(app, **kwargs)
            except Exception:
                log.exception("handler %r of %s failed", receiver, signal.name)
