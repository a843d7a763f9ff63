from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..extensions import db
from ..forms import posted_text
from ..orgs import org_verify
from ..pagination import get_page, paginate
from ..permissions import can_review, get_broker_for_review, get_listing, get_org_for_review, roles_required
from . import queries, services

bp = Blueprint("review", __name__, url_prefix="/review")


@bp.route("/")
@roles_required("official", "admin")
def queue():
    kind = request.args.get("kind", "demand")
    kind = kind if kind in ("demand", "achievement") else "demand"
    pagination = paginate(queries.pending_listings(kind, user=current_user), page=get_page())
    counts = {k: db.session.scalar(db.select(db.func.count()).select_from(queries.pending_listings(k, user=current_user).subquery()))
              for k in ("demand", "achievement")}
    orgs = db.session.scalar(db.select(db.func.count()).select_from(queries.orgs_to_verify(user=current_user).subquery()))
    brokers = db.session.scalar(
        db.select(db.func.count()).select_from(queries.brokers_to_review(user=current_user).subquery()))
    return render_template("review/queue.html", kind=kind, pagination=pagination, counts=counts, org_count=orgs,
                           broker_count=brokers)


@bp.route("/demands/<int:listing_id>", defaults={"kind": "demand"}, methods=["POST"])
@bp.route("/achievements/<int:listing_id>", defaults={"kind": "achievement"}, methods=["POST"])
@roles_required("official", "admin")
def decide(kind: str, listing_id: int):
    listing = get_listing(kind, listing_id)
    if not can_review(current_user, listing):
        from flask import abort

        abort(404)
    decision = request.form.get("decision", "")
    services.listing_review(listing=listing, user=current_user, decision=decision, reason=posted_text("reason", label="理由"))
    db.session.commit()
    flash("已审核通过并发布" if decision == "publish" else "已退回", "success")
    return redirect(url_for("review.queue", kind=kind))


@bp.route("/orgs")
@roles_required("official", "admin")
def orgs():
    status = request.args.get("status", "pending")
    status = status if status in ("pending", "verified", "rejected") else "pending"
    pagination = paginate(queries.orgs_to_verify(user=current_user, status=status), page=get_page())
    return render_template("review/orgs.html", pagination=pagination, status=status)


@bp.route("/orgs/<int:org_id>", methods=["POST"])
@roles_required("official", "admin")
def verify_org(org_id: int):
    org = get_org_for_review(org_id)
    decision = request.form.get("decision", "")
    org_verify(org=org, user=current_user, decision=decision, note=posted_text("note", label="理由"))
    db.session.commit()
    flash(f"“{org.name}”已{'认证通过' if decision == 'verify' else '标记为认证未通过'}", "success")
    return redirect(url_for("review.orgs"))


@bp.route("/brokers")
@roles_required("official", "admin")
def brokers():
    status = request.args.get("status", "pending")
    status = status if status in ("pending", "approved", "rejected") else "pending"
    pagination = paginate(queries.brokers_to_review(user=current_user, status=status), page=get_page())
    return render_template("review/brokers.html", pagination=pagination, status=status)


@bp.route("/brokers/<int:user_id>", methods=["POST"])
@roles_required("official", "admin")
def decide_broker(user_id: int):
    broker = get_broker_for_review(user_id)
    decision = request.form.get("decision", "")
    services.broker_review(broker=broker, user=current_user, decision=decision, note=posted_text("note", label="理由"))
    db.session.commit()
    flash(f"技术经纪人“{broker.name}”{'已审核通过' if decision == 'approve' else '审核未通过'}", "success")
    return redirect(url_for("review.brokers"))
