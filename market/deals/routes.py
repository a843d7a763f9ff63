"""Interest on listings, the deal pages, the broker's board, suggestion queue and record."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup

from ..errors import DomainError
from ..extensions import db
from ..formtokens import claim_form_token, form_token_keep_or_issue, new_form_token
from ..models.deal import DEAL_STAGES, FAIL_REASONS, INTEREST_STATUSES, OPEN_STAGES
from ..pagination import get_page, paginate
from ..permissions import can_see_contact, get_listing, is_listing_owner, roles_required
from . import access, queries, services
from .forms import DecideForm, InterestForm, MoveForm, NoteForm, PlanForm, SourceForm

bp = Blueprint("deals", __name__, url_prefix="/deals")


def listing_panel(listing) -> Markup | None:
    """The interest panel on a listing page: the form for the other side, the incoming list for the owner."""
    if not current_user.is_authenticated:
        if listing.status == "published":
            # bandit B704: Markup of a rendered, autoescaped template (not of user text)
            return Markup(render_template("deals/_listing_panel.html", listing=listing, mode="anonymous"))  # nosec B704
        return None
    if is_listing_owner(current_user, listing):
        interests = queries.incoming_interests(listing)
        deals = {i.id: queries.deal_for_interest(i) for i in interests if i.status == "accepted"}
        # bandit B704: Markup of a rendered, autoescaped template (not of user text)
        return Markup(render_template("deals/_listing_panel.html", listing=listing, mode="owner", interests=interests,  # nosec B704
                                      deals=deals, decide_form=DecideForm(formdata=None),
                                      decide_forms=g.get("refused_decide_forms", {})))
    wants = {"achievement": "enterprise", "demand": "institution"}[listing.KIND]
    if current_user.role != wants or current_user.org_id is None:
        return None
    mine = queries.own_interest(current_user.org_id, listing)
    if mine is not None and mine.status in ("pending", "accepted"):
        deal = queries.deal_for_interest(mine) if mine.status == "accepted" else None
        # bandit B704: Markup of a rendered, autoescaped template (not of user text)
        return Markup(render_template("deals/_listing_panel.html", listing=listing, mode="sent", interest=mine, deal=deal))  # nosec B704
    if listing.status != "published":
        return None
    form = g.get("refused_interest_form")  # a refused post: shown again as it was typed, with its errors
    if form is None:
        form = InterestForm(formdata=None)
        form.form_token.data = new_form_token()
        # the page that linked here (search results, a suggestion list) says so in ?from=: kept for attribution
        form.origin.data = services.interest_origin(request.args.get("from"))
    own = services.own_listing_choices(current_user, listing)
    # bandit B704: Markup of a rendered, autoescaped template (not of user text)
    return Markup(render_template("deals/_listing_panel.html", listing=listing, mode="form", form=form, previous=mine,  # nosec B704
                                  own=own))


def _int_form(name: str) -> int | None:
    value = (request.form.get(name) or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else None


def _deal_path(deal_id: int) -> str:
    return url_for("deals.detail", deal_id=deal_id)


def _refused_status(err: DomainError) -> int:
    """A service's refusal of a form shown again: 403/404 are not form errors (raised), a conflict stays 409."""
    if err.status_code in (403, 404):
        raise err
    return 409 if err.status_code == 409 else 400


def _listing_page_again(listing, status: int):
    """The listing's page, on which the refused interest form (kept in g by the caller) is shown as posted."""
    page = current_app.view_functions["listings.detail"](kind=listing.KIND, listing_id=listing.id)
    return page, status


def _commit_and_back(message: str, target: str):
    db.session.commit()
    flash(message, "success")
    return redirect(target)


# --- interest ------------------------------------------------------------------------------------

@bp.route("/interest/<any(demand,achievement):kind>/<int:listing_id>", methods=["POST"])
@roles_required("enterprise", "institution")
def interest_create(kind: str, listing_id: int):
    listing = get_listing(kind, listing_id)
    form = InterestForm()
    g.refused_interest_form = form
    if not form.validate_on_submit():
        form_token_keep_or_issue(form)
        return _listing_page_again(listing, 400)
    try:
        interest = services.interest_create(user=current_user, listing=listing, message=form.message.data,
                                            token=form.form_token.data, link_id=form.link_id.data or None,
                                            origin=form.origin.data)
    except DomainError as err:
        db.session.rollback()
        if err.status_code == 409:
            raise  # already sent (this form or a colleague's): the page no longer offers the form; the 409 page says so
        form.apply_error(err)
        form_token_keep_or_issue(form)
        return _listing_page_again(listing, _refused_status(err))
    return _commit_and_back(f"已提交{interest.kind_label}，请等待对方处理",
                            url_for("listings.detail", kind=kind, listing_id=listing.id))


@bp.route("/interests/<int:interest_id>/decide", methods=["POST"])
@roles_required("enterprise", "institution")
def interest_decide(interest_id: int):
    interest = access.get_interest(interest_id)
    if current_user.org_id != interest.to_org_id:
        abort(403)
    form = DecideForm()
    listing = interest.listing
    g.refused_decide_forms = {interest.id: form}
    if not form.validate_on_submit():
        return _listing_page_again(listing, 400)
    try:
        services.interest_decide(interest=interest, user=current_user, decision=form.decision.data or "",
                                 reason_code=form.reason_code.data or "", reason_text=form.reason_text.data or "")
    except DomainError as err:
        db.session.rollback()
        if err.status_code == 409:
            raise  # decided meanwhile: the form is gone from the page; the 409 page says so
        form.apply_error(err)
        return _listing_page_again(listing, _refused_status(err))
    message = "已接受，对方现在可以看到联系方式，对接已开启" if interest.status == "accepted" else "已婉拒"
    return _commit_and_back(message, url_for("listings.detail", kind=listing.KIND, listing_id=listing.id) + "#interests")


@bp.route("/interests/<int:interest_id>/withdraw", methods=["POST"])
@roles_required("enterprise", "institution")
def interest_withdraw(interest_id: int):
    interest = access.get_interest(interest_id)
    services.interest_withdraw(interest=interest, user=current_user)
    return _commit_and_back("已撤回", url_for("deals.interests", dir="sent"))


@bp.route("/interests")
@roles_required("enterprise", "institution")
def interests():
    direction = "sent" if request.args.get("dir") == "sent" else "received"
    pagination = paginate(queries.org_interests(current_user, direction=direction), page=get_page())
    return render_template("deals/interests.html", pagination=pagination, direction=direction, statuses=INTEREST_STATUSES)


# --- deals ---------------------------------------------------------------------------------------

@bp.route("/")
@login_required
def board():
    stage = request.args.get("stage", "")
    stage = stage if stage in DEAL_STAGES or stage == "open" else ""
    context: dict = {"stage": stage, "stages": DEAL_STAGES}
    if current_user.role == "broker":
        columns = queries.broker_board(current_user)
        # the record, the queue's size and the unassigned deals' number: one statement (three before)
        record = queries.broker_record(current_user, counts={"queue": queries.suggestion_queue(current_user),
                                                             "unassigned": queries.unassigned_deals(current_user)})
        context.update(
            columns=columns,
            queue_count=record["counts"]["queue"],
            unassigned=paginate(queries.unassigned_deals(current_user), page=get_page(),
                                total=record["counts"]["unassigned"]),
            overdue=queries.overdue_on_board(columns, current_user, today=date.today()),
            record=record,
            today=date.today(),
        )
        return render_template("deals/board_broker.html", **context)
    context["pagination"] = paginate(queries.visible_deals(current_user, stage=stage or None), page=get_page())
    if current_user.role in ("official", "admin"):
        context["reasons"] = queries.fail_reason_counts(current_user)
    return render_template("deals/board.html", **context)


@bp.route("/queue")
@roles_required("broker")
def queue():
    pagination = paginate(queries.suggestion_queue(current_user), page=get_page())
    return render_template("deals/queue.html", pagination=pagination)


@bp.route("/queue/<int:suggestion_id>/claim", methods=["POST"])
@roles_required("broker")
def claim_suggestion(suggestion_id: int):
    suggestion = access.get_suggestion_for_claim(suggestion_id)
    submission = claim_form_token(token=request.form.get("form_token"), kind="deal", user=current_user, link=_deal_path)
    deal = services.deal_claim_suggestion(suggestion=suggestion, user=current_user,
                                          source=request.form.get("source") or "suggestion")
    submission.object_id = deal.id
    return _commit_and_back("已认领，对接已开启（推荐阶段）", url_for("deals.detail", deal_id=deal.id))


@bp.route("/record")
@roles_required("broker")
def record():
    return render_template("deals/record.html", record=queries.broker_record(current_user), stages=DEAL_STAGES,
                           pagination=paginate(queries.visible_deals(current_user), page=get_page()))


@bp.route("/<int:deal_id>")
@login_required
def detail(deal_id: int):
    return _detail_page(access.get_deal(deal_id))


def _detail_page(deal, *, move_form: MoveForm | None = None, plan_form: PlanForm | None = None,
                 note_form: NoteForm | None = None, source_form: SourceForm | None = None, status: int = 200):
    """The deal's page; after a refused move, plan or note, with that form as posted and its errors at their
    fields (the other forms as usual)."""
    user = current_user
    can_work = access.can_work_deal(user, deal)
    show_contacts = not access.is_party(user, deal) or deal.stage != "recommended"
    if plan_form is None:
        plan_form = PlanForm(obj=deal, formdata=None)
    if note_form is None:
        note_form = NoteForm(formdata=None, data={"form_token": new_form_token()})
    return render_template(
        "deals/detail.html",
        deal=deal,
        events=queries.deal_events(deal),
        contracts=queries.deal_contracts(deal),
        can_work=can_work,
        can_sign=access.can_sign_deal(user, deal) and deal.stage == "negotiating",
        can_claim=access.can_claim_deal(user, deal),
        can_note=can_work or access.can_sign_deal(user, deal),
        can_correct_source=access.can_correct_source(user, deal),
        show_contacts=show_contacts,
        listing_contacts=[x for x in (deal.demand, deal.achievement) if x is not None and can_see_contact(user, x)],
        move_form=move_form or MoveForm(formdata=None),
        plan_form=plan_form,
        note_form=note_form,
        source_form=source_form or SourceForm(formdata=None),
        fail_reasons=FAIL_REASONS,
        open_stages=OPEN_STAGES,
    ), status


@bp.route("/<int:deal_id>/claim", methods=["POST"])
@roles_required("broker")
def claim(deal_id: int):
    deal = access.get_deal(deal_id)
    submission = claim_form_token(token=request.form.get("form_token"), kind="deal_claim", user=current_user,
                                  link=_deal_path)
    services.deal_claim(deal=deal, user=current_user)
    submission.object_id = deal.id
    return _commit_and_back("已认领该对接", url_for("deals.detail", deal_id=deal.id))


@bp.route("/<int:deal_id>/source", methods=["POST"])
@login_required
def correct_source(deal_id: int):
    """The broker working the deal corrects its source (attribution in the dashboard's 成交来源)."""
    deal = access.get_deal(deal_id)
    if not access.can_correct_source(current_user, deal):
        abort(403)
    form = SourceForm()
    if not form.validate_on_submit():
        return _detail_page(deal, source_form=form, status=400)
    try:
        services.deal_source_correct(deal=deal, user=current_user, source=form.source.data or "", note=form.note.data or "")
    except DomainError as err:
        db.session.rollback()
        form.apply_error(err)
        return _detail_page(deal, source_form=form, status=_refused_status(err))
    return _commit_and_back("已更正对接来源", url_for("deals.detail", deal_id=deal.id))


@bp.route("/<int:deal_id>/move", methods=["POST"])
@login_required
def move(deal_id: int):
    deal = access.get_deal(deal_id)
    if not (access.can_work_deal(current_user, deal) or access.can_sign_deal(current_user, deal)):
        abort(403)
    form = MoveForm()
    if not form.validate_on_submit():
        return _detail_page(deal, move_form=form, status=400)
    to = form.to.data or ""
    if to == "signed":
        return redirect(url_for("contracts.from_deal", deal_id=deal.id))
    try:
        services.deal_move(deal=deal, user=current_user, to=to, version=_int_form("version"),
                           text=form.text.data or "", reason_code=form.reason_code.data or "")
    except DomainError as err:
        db.session.rollback()
        status = _refused_status(err)
        if "reason_text" in err.fields:  # the move form's explanation is its `text`
            err.fields["text"] = err.fields.pop("reason_text")
        form.apply_error(err)
        return _detail_page(deal, move_form=form, status=status)
    return _commit_and_back(f"对接已进入“{deal.stage_label}”阶段", url_for("deals.detail", deal_id=deal.id))


@bp.route("/<int:deal_id>/plan", methods=["POST"])
@login_required
def plan(deal_id: int):
    deal = access.get_deal(deal_id)
    if not access.can_work_deal(current_user, deal):
        abort(403)
    form = PlanForm()
    if not form.validate_on_submit():
        return _detail_page(deal, plan_form=form, status=400)
    try:
        services.deal_plan(deal=deal, user=current_user, on=form.next_action_on.data, text=form.next_action.data)
    except DomainError as err:
        db.session.rollback()
        status = _refused_status(err)
        form.apply_error(err)
        return _detail_page(deal, plan_form=form, status=status)
    return _commit_and_back("下一步已安排", url_for("deals.detail", deal_id=deal.id))


@bp.route("/<int:deal_id>/note", methods=["POST"])
@login_required
def note(deal_id: int):
    deal = access.get_deal(deal_id)
    if not (access.can_work_deal(current_user, deal) or access.can_sign_deal(current_user, deal)):
        abort(403)
    form = NoteForm()
    if not form.validate_on_submit():
        form_token_keep_or_issue(form)
        return _detail_page(deal, note_form=form, status=400)
    try:
        submission = claim_form_token(token=form.form_token.data, kind="note", user=current_user,
                                      link=lambda _id: _deal_path(deal.id) + "#events")
        submission.object_id = services.deal_note(deal=deal, user=current_user, text=form.text.data).id
    except DomainError as err:
        db.session.rollback()
        status = _refused_status(err)
        form.apply_error(err)
        form_token_keep_or_issue(form)
        return _detail_page(deal, note_form=form, status=status)
    return _commit_and_back("记录已添加", url_for("deals.detail", deal_id=deal.id) + "#events")



@bp.app_template_filter("from_json_list")
def _from_json_list(text: str | None) -> list[str]:
    """A suggestion's reasons (a JSON list of sentences); anything else shows nothing."""
    import json

    try:
        value = json.loads(text or "[]")
    except ValueError:
        return []
    return [str(item) for item in value] if isinstance(value, list) else []
