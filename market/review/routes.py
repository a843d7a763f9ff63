from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..errors import DomainError
from ..extensions import db
from ..forms import parse_int, posted_text
from ..orgs import org_verify
from ..pagination import get_page, paginate
from ..permissions import can_review, get_broker_for_review, get_listing, get_org_for_review, roles_required
from ..listings import revisions
from ..models import ListingRevision
from . import queries, services
from .forms import DecisionForm

bp = Blueprint("review", __name__, url_prefix="/review")


def _kind_arg(value: str | None) -> str:
    return value if value in ("demand", "achievement") else "demand"


@bp.route("/")
@roles_required("official", "admin")
def queue():
    kind = _kind_arg(request.args.get("kind"))
    counts = queries.queue_counts(user=current_user)  # the tabs' counts; the list's total among them
    pagination = paginate(queries.pending_listings(kind, user=current_user), page=get_page(), total=counts[kind])
    submitted = queries.submitted_times(kind, [listing.id for listing in pagination.items])
    today = queries.china_today()
    rows = [(listing, submitted.get(listing.id) or listing.updated_at) for listing in pagination.items]
    return render_template("review/queue.html", kind=kind, pagination=pagination, counts=counts, rows=rows,
                           days=lambda at: queries.days_waiting(at, today),
                           revisions=revisions.pending_revisions(kind, user=current_user))


@bp.route("/revisions/<int:revision_id>", methods=["GET", "POST"])
@roles_required("official", "admin")
def revision(revision_id: int):
    """A change to a published listing: the field-by-field diff (published -> proposed), approve or 退回."""
    rev = db.session.get(ListingRevision, revision_id)
    listing = revisions.revision_listing(rev) if rev is not None else None
    if listing is None or not can_review(current_user, listing):
        abort(404)
    form = DecisionForm().setup(queries.return_reasons())
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                if form.decision.data == "publish":
                    revisions.revision_approve(revision=rev, user=current_user)
                elif form.decision.data == "return":
                    revisions.revision_return(revision=rev, user=current_user, reason=form.full_reason())
                else:
                    raise DomainError("请选择审核结果")
            except DomainError as err:
                db.session.rollback()
                if err.status_code in (404, 409):
                    raise
                form.apply_error(err)
                status = 400
            else:
                approved = form.decision.data == "publish"
                db.session.commit()
                flash("修改已审核通过，公开内容已更新" if approved else "修改已退回，公开内容保持不变", "success")
                return redirect(url_for("review.queue", kind=listing.KIND, _anchor="revisions"))
        else:
            status = 400
    return render_template("review/revision.html", revision=rev, listing=listing, form=form,
                           diff=revisions.revision_diff(rev, listing) if rev.status == "pending" else [],
                           waiting=queries.days_waiting(rev.submitted_at)), status


@bp.route("/batch", methods=["POST"])
@roles_required("official", "admin")
def batch():
    """批量通过 the ticked listings of one tab; each is checked as a single approval is."""
    kind = _kind_arg(request.form.get("kind"))
    ids = [parse_int(v, max_digits=9) for v in request.form.getlist("ids")]
    try:
        outcome = services.listings_publish_batch(kind=kind, ids=[i for i in ids if i is not None and i > 0],
                                                  user=current_user)
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "warning")
        return redirect(url_for("review.queue", kind=kind)), 303
    db.session.commit()
    if outcome.published:
        flash(f"已批量审核通过并发布 {len(outcome.published)} 条", "success")
    if outcome.decided:
        titles = "、".join(f"“{listing.title}”" for listing in outcome.decided)
        flash(f"{titles}已由其他审核人员处理（当前状态：{outcome.decided[0].status_label}等），已跳过", "warning")
    if outcome.refused:
        flash(f"{len(outcome.refused)} 条不存在或不在您的审核范围内，未做处理", "warning")
    return redirect(url_for("review.queue", kind=kind))


@bp.route("/demands/<int:listing_id>", defaults={"kind": "demand"}, methods=["GET", "POST"])
@bp.route("/achievements/<int:listing_id>", defaults={"kind": "achievement"}, methods=["GET", "POST"])
@roles_required("official", "admin")
def decide(kind: str, listing_id: int):
    """A listing's review form (the listing page carries a short one that posts here too): 退回 needs a reason,
    typed or picked from the stock reasons; a refusal re-renders this form with what was typed."""
    listing = get_listing(kind, listing_id)
    if not can_review(current_user, listing):
        abort(404)
    form = DecisionForm().setup(queries.return_reasons())
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            decision = form.decision.data
            reason = form.full_reason()
            try:
                if decision == "return" and not reason:
                    raise DomainError("退回时请填写或选择退回理由", fields={"reason": "请填写退回理由，或选择一条常用理由"})
                services.listing_review(listing=listing, user=current_user, decision=decision, reason=reason)
            except DomainError as err:
                db.session.rollback()
                if err.status_code == 409:
                    raise  # decided by another reviewer meanwhile: the 409 page says so
                form.apply_error(err)
                status = 400 if err.status_code not in (403, 404) else err.status_code
            else:
                db.session.commit()
                flash("已审核通过并发布" if decision == "publish" else "已退回", "success")
                return redirect(url_for("review.queue", kind=kind))
        else:
            status = 400
    submitted = queries.submitted_times(kind, [listing.id]).get(listing.id) or listing.updated_at
    return render_template("review/decide.html", kind=kind, listing=listing, form=form, submitted=submitted,
                           waiting=queries.days_waiting(submitted)), status


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
