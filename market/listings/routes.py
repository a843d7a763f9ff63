"""Both libraries: public browsing and detail, and each owner's own listings."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload

from ..errors import DomainError
from ..extensions import db
from ..forms import posted_text
from ..formtokens import claim_form_token, form_token_keep_or_issue
from ..models import LISTING_MODELS
from ..models.listing import MATURITY_LEVELS, STATUS_LABELS, STATUSES
from ..pagination import get_page, paginate
from ..permissions import can_review, can_see_contact, get_listing, is_listing_owner
from ..registries import registries
from . import queries, revisions, services
from .forms import FORMS

bp = Blueprint("listings", __name__)

OWNER_ROLE = {"demand": "enterprise", "achievement": "institution"}
ACTIONS = {  # url action -> (target status, success message)
    "submit": ("pending", "已提交审核"),
    "withdraw": ("draft", "已撤回为草稿"),
    "close": ("closed", "已关闭"),
    "done": ("done", "状态已更新"),
}


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else None


@bp.route("/demands", defaults={"kind": "demand"})
@bp.route("/achievements", defaults={"kind": "achievement"})
def browse(kind: str):
    filters = {
        "field": request.args.get("field", "")[:16],
        "region": _int_arg("region"),
        "mode": request.args.get("mode", "")[:16],
        "maturity": _int_arg("maturity"),
        "band": request.args.get("band", "")[:16],
    }
    pagination = paginate(queries.public_listings(kind, filters=filters), page=get_page())
    return render_template(
        "listings/browse.html",
        kind=kind,
        model=LISTING_MODELS[kind],
        pagination=pagination,
        filters=filters,
        options=queries.filter_options(kind),
        maturity_levels=MATURITY_LEVELS,
    )


@bp.route("/demands/<int:listing_id>", defaults={"kind": "demand"})
@bp.route("/achievements/<int:listing_id>", defaults={"kind": "achievement"})
def detail(kind: str, listing_id: int):
    listing = get_listing(kind, listing_id)
    owner = is_listing_owner(current_user, listing)
    reviewer = current_user.is_authenticated and can_review(current_user, listing)
    panels = [panel(listing) for panel in registries().listing_panels]
    return render_template(
        "listings/detail.html",
        kind=kind,
        listing=listing,
        is_owner=owner,
        is_reviewer=reviewer,
        show_contact=can_see_contact(current_user, listing),
        events=queries.listing_events(listing) if (owner or reviewer) else [],
        waiting=revisions.pending_revision(listing) if (owner or reviewer) and listing.is_public else None,
        can_reopen=owner and listing.status == "done" and queries.done_by_contract_reason(listing) is not None,
        panels=[p for p in panels if p],
    )


@bp.route("/my/demands", defaults={"kind": "demand"})
@bp.route("/my/achievements", defaults={"kind": "achievement"})
@login_required
def mine(kind: str):
    if current_user.role != OWNER_ROLE[kind]:
        abort(403)
    status = request.args.get("status", "")
    status = status if status in STATUSES else None
    counts = queries.status_counts(kind, org_id=current_user.org_id)
    model = LISTING_MODELS[kind]
    # each card names its field: joined into the list's statement (a lazy load per distinct field before)
    pagination = paginate(queries.own_listings(kind, org_id=current_user.org_id, status=status)
                          .options(joinedload(model.field)), page=get_page(),
                          total=counts[status] if status else sum(counts.values()))
    return render_template("listings/mine.html", kind=kind, pagination=pagination, status=status,
                           statuses=STATUS_LABELS, model=LISTING_MODELS[kind], counts=counts,
                           row_counts=queries.row_counts(kind, [listing.id for listing in pagination.items]))


@bp.route("/demands/new", defaults={"kind": "demand"}, methods=["GET", "POST"])
@bp.route("/achievements/new", defaults={"kind": "achievement"}, methods=["GET", "POST"])
@login_required
def create(kind: str):
    if current_user.role != OWNER_ROLE[kind]:
        abort(403)
    form = FORMS[kind]().setup()
    if request.method == "GET":
        form.contact_name.data = current_user.name
        form.contact_phone.data = current_user.phone
    status = 200
    if form.validate_on_submit():
        try:
            submission = claim_form_token(token=form.form_token.data, kind=kind, user=current_user,
                                          link=lambda oid: url_for("listings.detail", kind=kind, listing_id=oid))
            listing = services.listing_create(kind=kind, user=current_user, data=form.data_dict())
            submission.object_id = listing.id
            if request.form.get("then") == "submit":
                services.listing_transition(listing=listing, user=current_user, to="pending")
        except DomainError as err:
            db.session.rollback()
            form.apply_error(err)
            status = err.status_code if err.status_code != 403 else 400
        else:
            db.session.commit()
            flash("已提交审核" if listing.status == "pending" else "草稿已保存", "success")
            return redirect(url_for("listings.detail", kind=kind, listing_id=listing.id))
    elif request.method == "POST":
        status = 400
        _all_problems(kind, form)
    form_token_keep_or_issue(form)
    return render_template("listings/form.html", kind=kind, form=form, listing=None), status


@bp.route("/demands/<int:listing_id>/edit", defaults={"kind": "demand"}, methods=["GET", "POST"])
@bp.route("/achievements/<int:listing_id>/edit", defaults={"kind": "achievement"}, methods=["GET", "POST"])
@login_required
def edit(kind: str, listing_id: int):
    listing = get_listing(kind, listing_id, for_edit=True)
    form = FORMS[kind](obj=listing).setup()
    waiting = revisions.pending_revision(listing) if listing.status == "published" else None
    if request.method == "GET":
        values = waiting.values if waiting is not None else {}  # go on from the change that waits for review
        for name, value in values.items():
            if name not in ("keywords", "modes"):
                getattr(form, name).data = value
        form.keywords.data = "、".join(values.get("keywords", listing.keyword_list))
        form.modes.data = values.get("modes", listing.mode_list)
        form.negotiable.data = listing.amount is None
    status = 200
    if form.validate_on_submit():
        try:
            services.listing_update(listing=listing, user=current_user, data=form.data_dict())
            pending = listing.status == "published" and revisions.pending_revision(listing) is not None
        except DomainError as err:
            db.session.rollback()
            form.apply_error(err)
            status = err.status_code
        else:
            db.session.commit()
            flash("修改已保存" + ("；联系方式、截止日期和金额以外的修改已提交审核，审核通过前公开展示原内容" if pending else ""),
                  "success")
            return redirect(url_for("listings.detail", kind=kind, listing_id=listing.id))
    elif request.method == "POST":
        status = 400
        _all_problems(kind, form)
    return render_template("listings/form.html", kind=kind, form=form, listing=listing, waiting=waiting), status


def _all_problems(kind: str, form) -> None:
    """A form refused by its validators also shows what the service would refuse (a past deadline, a first-level
    field, no 合作方式): every error at once, not one round after another."""
    form.add_problems(services.listing_problems(kind=kind, data=form.data_dict()), rename={"amount": form.AMOUNT_FIELD})


@bp.route("/demands/<int:listing_id>/<any(submit,withdraw,close,done):action>", defaults={"kind": "demand"}, methods=["POST"])
@bp.route("/achievements/<int:listing_id>/<any(submit,withdraw,close,done):action>", defaults={"kind": "achievement"}, methods=["POST"])
@login_required
def transition(kind: str, listing_id: int, action: str):
    listing = get_listing(kind, listing_id, for_edit=True)
    to, message = ACTIONS[action]
    services.listing_transition(listing=listing, user=current_user, to=to, reason=posted_text("reason", label="理由"))
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("listings.detail", kind=kind, listing_id=listing.id))


@bp.route("/demands/<int:listing_id>/reopen", defaults={"kind": "demand"}, methods=["POST"])
@bp.route("/achievements/<int:listing_id>/reopen", defaults={"kind": "achievement"}, methods=["POST"])
@login_required
def reopen(kind: str, listing_id: int):
    """The owner reopens a listing a contract marked done (listing_reopen_by_owner states the rule)."""
    listing = get_listing(kind, listing_id, for_edit=True)
    services.listing_reopen_by_owner(listing=listing, user=current_user, reason=posted_text("reason", label="理由"))
    db.session.commit()
    flash("已重新开放，恢复为“已发布”", "success")
    return redirect(url_for("listings.detail", kind=kind, listing_id=listing.id))
