"""公示 of 协议定价 and 挂牌: the public lists and pages; an owner's new 公示 or 挂牌 and withdrawal; objections,
answers and decisions; a buyer's acceptance of a 挂牌 price. Who may do what: services.py's docstring."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from markupsafe import Markup

from ..errors import DomainError
from ..extensions import db
from ..formtokens import AlreadySubmitted, form_token_keep_or_issue
from ..models import Achievement
from ..models.base import utcnow
from ..models.transfer import Disclosure, DisclosureObjection, PriceListing
from ..pagination import get_page, paginate
from . import queries, services
from .forms import AnswerForm, ObjectionDecideForm, DisclosureForm, PriceListingForm, ObjectionForm

bp = Blueprint("transfers", __name__)


def _get(model, object_id: int):
    obj = db.session.get(model, object_id)
    if obj is None:
        abort(404)
    return obj


def _render_error(form, err: DomainError) -> int:
    """A refusal shown on the form; a resubmitted one-time token goes to the 409 page with the record's link."""
    db.session.rollback()
    if isinstance(err, AlreadySubmitted):
        raise err
    form.apply_error(err)
    return err.status_code


def _refused(err: DomainError, page):
    """A refusal of a one-button action: the page it came from, with the reason and the refusal's status."""
    db.session.rollback()
    flash(err.message, "danger")
    body, _ = page()
    return body, err.status_code


# --- 公示 ---------------------------------------------------------------------------------------------------

@bp.route("/disclosures")
def disclosures():
    return render_template("transfers/disclosures.html", pagination=paginate(queries.disclosures(), page=get_page()),
                           now=utcnow())


def _disclosure_page(d: Disclosure, *, objection_form=None, answer_forms=None, decide_forms=None, status=200):
    objection_form = objection_form or ObjectionForm()
    form_token_keep_or_issue(objection_form)
    return render_template(
        "transfers/disclosure.html", d=d, now=utcnow(), why_not=services.may_object(current_user, d),
        objection_form=objection_form, answer_forms=answer_forms or {},
        decide_forms=decide_forms or {}, owner=services.is_member(current_user, d.org_id),
        decider=services.can_decide(current_user, d), contacts=services.can_see_contacts(current_user, d)), status


@bp.route("/disclosures/<int:disclosure_id>")
def disclosure(disclosure_id: int):
    return _disclosure_page(_get(Disclosure, disclosure_id))


@bp.route("/achievements/<int:achievement_id>/disclosures/new", methods=["GET", "POST"])
@login_required
def disclosure_new(achievement_id: int):
    achievement = _get(Achievement, achievement_id)
    if not services.can_own_disclosure(current_user, achievement):
        abort(403)
    form = DisclosureForm()
    if not form.is_submitted():
        form.days.data = services.default_days()
        form.contact_name.data = achievement.contact_name
        form.contact_phone.data = achievement.contact_phone
    status = 200
    if form.validate_on_submit():
        try:
            d = services.disclosure_create(
                user=current_user, achievement=achievement, buyer_name=form.buyer_name.data,
                contract_type=form.contract_type.data, price=form.price.data, days=form.days.data,
                contact_name=form.contact_name.data, contact_phone=form.contact_phone.data or "",
                contact_email=form.contact_email.data or "", note=form.note.data or "", token=form.form_token.data)
        except DomainError as err:
            status = _render_error(form, err)
        else:
            db.session.commit()
            flash("协议定价公示已发布", "success")
            return redirect(url_for("transfers.disclosure", disclosure_id=d.id))
    elif form.is_submitted():
        status = 400
    form_token_keep_or_issue(form)
    return render_template("transfers/disclosure_form.html", form=form, a=achievement), status


@bp.route("/disclosures/<int:disclosure_id>/withdraw", methods=["POST"])
@login_required
def disclosure_withdraw(disclosure_id: int):
    d = _get(Disclosure, disclosure_id)
    try:
        services.disclosure_withdraw(user=current_user, disclosure=d)
    except DomainError as err:
        return _refused(err, lambda: _disclosure_page(d))
    db.session.commit()
    flash("公示已撤回", "success")
    return redirect(url_for("transfers.disclosure", disclosure_id=d.id))


@bp.route("/disclosures/<int:disclosure_id>/objections", methods=["POST"])
@login_required
def objection_new(disclosure_id: int):
    d = _get(Disclosure, disclosure_id)
    form = ObjectionForm()
    if form.validate_on_submit():
        try:
            services.objection_lodge(user=current_user, disclosure=d, reasons=form.reasons.data,
                                     contact=form.contact.data, token=form.form_token.data)
        except DomainError as err:
            status = _render_error(form, err)
            return _disclosure_page(d, objection_form=form, status=status)
        db.session.commit()
        flash("异议已提交，公示单位将答复，科技局将认定", "success")
        return redirect(url_for("transfers.disclosure", disclosure_id=d.id))
    return _disclosure_page(d, objection_form=form, status=400)


@bp.route("/objections/<int:objection_id>/answer", methods=["POST"])
@login_required
def objection_answer(objection_id: int):
    o = _get(DisclosureObjection, objection_id)
    form = AnswerForm()
    if form.validate_on_submit():
        try:
            services.objection_answer(user=current_user, objection=o, answer=form.answer.data)
        except DomainError as err:
            status = _render_error(form, err)
            return _disclosure_page(o.disclosure, answer_forms={o.id: form}, status=status)
        db.session.commit()
        flash("答复已提交", "success")
        return redirect(url_for("transfers.disclosure", disclosure_id=o.disclosure_id, _anchor=f"objection-{o.id}"))
    if not services.is_member(current_user, o.disclosure.org_id):
        abort(403)
    return _disclosure_page(o.disclosure, answer_forms={o.id: form}, status=400)


@bp.route("/objections/<int:objection_id>/decide", methods=["POST"])
@login_required
def objection_decide(objection_id: int):
    o = _get(DisclosureObjection, objection_id)
    form = ObjectionDecideForm()
    if form.validate_on_submit():
        try:
            services.objection_decide(user=current_user, objection=o, decision=form.decision.data, reason=form.reason.data)
        except DomainError as err:
            status = _render_error(form, err)
            return _disclosure_page(o.disclosure, decide_forms={o.id: form}, status=status)
        db.session.commit()
        flash("异议认定已保存", "success")
        return redirect(url_for("transfers.disclosure", disclosure_id=o.disclosure_id, _anchor=f"objection-{o.id}"))
    if not services.can_decide(current_user, o.disclosure):
        abort(403)
    return _disclosure_page(o.disclosure, decide_forms={o.id: form}, status=400)


# --- 挂牌 ---------------------------------------------------------------------------------------------------

@bp.route("/price-listings")
def listings():
    return render_template("transfers/listings.html", pagination=paginate(queries.listings(), page=get_page()),
                           now=utcnow())


def _listing_page(pl: PriceListing):
    return render_template("transfers/listing.html", pl=pl, now=utcnow(), why_not=services.may_accept(current_user, pl),
                           owner=services.is_member(current_user, pl.org_id)), 200


@bp.route("/price-listings/<int:price_listing_id>")
def listing(price_listing_id: int):
    return _listing_page(_get(PriceListing, price_listing_id))


@bp.route("/achievements/<int:achievement_id>/price-listings/new", methods=["GET", "POST"])
@login_required
def listing_new(achievement_id: int):
    achievement = _get(Achievement, achievement_id)
    if not services.can_own_listing(current_user, achievement):
        abort(403)
    form = PriceListingForm()
    if not form.is_submitted():
        form.days.data = 30
    status = 200
    if form.validate_on_submit():
        try:
            pl = services.listing_create(user=current_user, achievement=achievement, price=form.price.data,
                                         days=form.days.data, contract_type=form.contract_type.data,
                                         note=form.note.data or "", token=form.form_token.data)
        except DomainError as err:
            status = _render_error(form, err)
        else:
            db.session.commit()
            flash("成果已挂牌", "success")
            return redirect(url_for("transfers.listing", price_listing_id=pl.id))
    elif form.is_submitted():
        status = 400
    form_token_keep_or_issue(form)
    return render_template("transfers/listing_form.html", form=form, a=achievement), status


@bp.route("/price-listings/<int:price_listing_id>/withdraw", methods=["POST"])
@login_required
def listing_withdraw(price_listing_id: int):
    pl = _get(PriceListing, price_listing_id)
    try:
        services.listing_withdraw(user=current_user, listing=pl)
    except DomainError as err:
        return _refused(err, lambda: _listing_page(pl))
    db.session.commit()
    flash("已撤牌", "success")
    return redirect(url_for("transfers.listing", price_listing_id=pl.id))


@bp.route("/price-listings/<int:price_listing_id>/accept", methods=["POST"])
@login_required
def listing_accept(price_listing_id: int):
    pl = _get(PriceListing, price_listing_id)
    try:
        deal = services.listing_accept(user=current_user, listing=pl)
    except DomainError as err:
        return _refused(err, lambda: _listing_page(pl))
    db.session.commit()
    flash("摘牌成功：对接已按挂牌价开启，技术经纪人将跟进签约", "success")
    return redirect(url_for("deals.detail", deal_id=deal.id))


def listing_panel(listing) -> Markup | None:
    """On a result's page: its 公示 and 挂牌, and for its owner the buttons to publish or list."""
    if listing.KIND != "achievement":
        return None
    ds, ls = queries.for_achievement(listing.id)
    can_disclose = services.can_own_disclosure(current_user, listing)
    can_list = services.can_own_listing(current_user, listing) and listing.status == "published"
    if not ds and not ls and not can_disclose and not can_list:
        return None
    # bandit B704: Markup of a rendered, autoescaped template (not of user text)
    return Markup(render_template("transfers/_panel.html", a=listing, ds=ds, ls=ls, now=utcnow(),  # nosec B704
                                  can_disclose=can_disclose, can_list=can_list))
