"""Events (活动): public list and page, an official's new event, sign-up and cancel, the attendee's check-in code
(QR), the organiser's check-in desk, 意向 recorded on the spot, and the outcome page."""
from __future__ import annotations

import segno
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ..errors import DomainError
from ..extensions import db
from ..formtokens import form_token_keep_or_issue
from ..models import Achievement, Demand, Happening
from ..pagination import get_page, paginate
from ..permissions import roles_required
from ..templating import local_dt
from . import queries, services
from .forms import CallOffForm, CheckInForm, HappeningForm, SpotInterestForm, parse_local

bp = Blueprint("happenings", __name__)


def _get(happening_id: int) -> Happening:
    happening = db.session.get(Happening, happening_id)
    if happening is None:
        abort(404)
    return happening


def _managed(happening_id: int) -> Happening:
    happening = _get(happening_id)
    if not services.can_manage(current_user, happening):
        abort(403)
    return happening


@bp.route("/events")
def index():
    upcoming, past = queries.upcoming_and_past()
    return render_template("happenings/index.html", upcoming=upcoming, past=past,
                           can_create=current_user.is_authenticated and current_user.role == "official")


@bp.route("/events/<int:happening_id>")
def detail(happening_id: int):
    happening = _get(happening_id)
    mine = queries.own_signup(happening.id, current_user)
    manager = services.can_manage(current_user, happening)
    # a listing withdrawn since the event was published is named to the organiser only
    presented = [p for p in happening.presented if p.listing is not None and (p.listing.is_public or manager)]
    return render_template("happenings/detail.html", h=happening, mine=mine, presented=presented, manager=manager,
                           editor=services.can_edit(current_user, happening),
                           may_sign_up=current_user.is_authenticated and current_user.role in services.SIGNUP_ROLES,
                           now=services.utcnow())


def _listing_choices() -> list[tuple[str, str]]:
    """Published needs and results, the newest 200 of each (a 成果巡展 presents results from anywhere)."""
    out = []
    for model, label in ((Demand, "需求"), (Achievement, "成果")):
        stmt = select(model.id, model.title).where(model.status == "published")
        for row in db.session.execute(stmt.order_by(model.id.desc()).limit(200)):
            out.append((f"{model.KIND}:{row.id}", f"【{label}】{row.title}"))
    return out


@bp.route("/events/new", methods=["GET", "POST"])
@roles_required("official")
def create():
    form = HappeningForm()
    form.listing_keys.choices = _listing_choices()
    status = 200
    if form.validate_on_submit():
        try:
            happening = services.happening_create(
                user=current_user, kind=form.kind.data, title=form.title.data, place=form.place.data,
                description=form.description.data or "", starts_at=parse_local(form.starts_at.data),
                ends_at=parse_local(form.ends_at.data), signup_deadline=parse_local(form.signup_deadline.data),
                capacity=form.capacity.data, sessions_text=form.sessions.data,
                listing_keys=list(form.listing_keys.data or []), token=form.form_token.data)
        except DomainError as err:
            db.session.rollback()
            if err.status_code == 409:
                raise
            form.apply_error(err)
            status = err.status_code
        else:
            db.session.commit()
            flash("活动已发布", "success")
            return redirect(url_for("happenings.detail", happening_id=happening.id))
    elif form.is_submitted():
        status = 400
    form_token_keep_or_issue(form)
    return render_template("happenings/form.html", form=form, h=None), status


def _local_input(value) -> str:
    return local_dt(value, "%Y-%m-%dT%H:%M")


@bp.route("/events/<int:happening_id>/edit", methods=["GET", "POST"])
@roles_required("official")
def edit(happening_id: int):
    happening = _get(happening_id)
    if not services.can_edit(current_user, happening):
        abort(403)
    services.refuse_cancelled(happening, "不能再修改")
    form = HappeningForm()
    choices = _listing_choices()
    listed = {key for key, _ in choices}
    for p in happening.presented:  # the event's own, even when no longer among the newest or no longer public
        listing = p.listing
        if listing is not None and f"{p.kind}:{p.listing_id}" not in listed:
            label = "需求" if p.kind == "demand" else "成果"
            choices.insert(0, (f"{p.kind}:{p.listing_id}", f"【{label}】{listing.title}"))
    form.listing_keys.choices = choices
    status = 200
    if form.validate_on_submit():
        try:
            changed = services.happening_update(
                user=current_user, happening=happening, kind=form.kind.data, title=form.title.data,
                place=form.place.data, description=form.description.data or "",
                starts_at=parse_local(form.starts_at.data), ends_at=parse_local(form.ends_at.data),
                signup_deadline=parse_local(form.signup_deadline.data), capacity=form.capacity.data,
                sessions_text=form.sessions.data, listing_keys=list(form.listing_keys.data or []),
                version=form.version.data)
        except DomainError as err:
            db.session.rollback()
            form.apply_error(err)
            status = err.status_code
        else:
            db.session.commit()
            flash(f"已保存修改：{'、'.join(changed)}" if changed else "没有改动", "success")
            return redirect(url_for("happenings.detail", happening_id=happening.id))
    elif form.is_submitted():
        status = 400
    else:
        h = happening
        form.kind.data, form.title.data, form.place.data, form.description.data = h.kind, h.title, h.place, h.description
        form.starts_at.data, form.ends_at.data, form.signup_deadline.data = (
            _local_input(h.starts_at), _local_input(h.ends_at), _local_input(h.signup_deadline))
        form.capacity.data = h.capacity
        form.sessions.data = "\n".join(f"{local_dt(s.starts_at)}-{local_dt(s.ends_at, '%H:%M')} {s.title}" for s in h.sessions)
        form.listing_keys.data = [f"{p.kind}:{p.listing_id}" for p in h.presented]
        form.version.data = services.happening_version(h)
    return render_template("happenings/form.html", form=form, h=happening), status


@bp.route("/events/<int:happening_id>/call-off", methods=["GET", "POST"])
@roles_required("official")
def call_off(happening_id: int):
    """The organiser cancels the event (/cancel is an attendee's sign-up): a confirmation page naming whom it
    tells, a required reason and a confirm box."""
    happening = _get(happening_id)
    if not services.can_edit(current_user, happening):
        abort(403)
    services.refuse_cancelled(happening, "不需重复取消")
    if services.utcnow() > happening.ends_at:
        raise DomainError("活动已结束，不能再取消", status_code=409)
    form = CallOffForm()
    status = 200
    if form.validate_on_submit():
        try:
            told = services.happening_cancel(user=current_user, happening=happening, reason=form.reason.data,
                                             confirmed=bool(form.confirm.data))
        except DomainError as err:
            db.session.rollback()
            if err.status_code != 400:
                raise
            form.apply_error(err)
            status = err.status_code
        else:
            db.session.commit()
            flash(f"活动已取消，已通知{len(told)}位已报名和候补的参会人", "success")
            return redirect(url_for("happenings.detail", happening_id=happening.id))
    elif form.is_submitted():
        status = 400
    return render_template("happenings/call_off.html", h=happening, form=form,
                           counts=queries.attendance(happening.id)), status


@bp.route("/events/<int:happening_id>/signup", methods=["POST"])
@roles_required(*services.SIGNUP_ROLES)
def signup(happening_id: int):
    happening = _get(happening_id)
    row = services.signup(user=current_user, happening=happening)
    db.session.commit()
    if row.status == "confirmed":
        flash("报名成功：请在活动当天出示签到码", "success")
        return redirect(url_for("happenings.ticket", happening_id=happening.id))
    flash("名额已满，您已进入候补名单；有人取消时按报名先后依次递补", "warning")
    return redirect(url_for("happenings.detail", happening_id=happening.id))


@bp.route("/events/<int:happening_id>/cancel", methods=["POST"])
@roles_required(*services.SIGNUP_ROLES)
def cancel(happening_id: int):
    happening = _get(happening_id)
    services.cancel(user=current_user, happening=happening)
    db.session.commit()
    flash("已取消报名", "success")
    return redirect(url_for("happenings.detail", happening_id=happening.id))


def _qr(data: str) -> tuple[int, str]:
    """The QR code of `data` (segno) as (size in modules, SVG path of its dark modules): the template draws it,
    autoescaped, so no markup is marked safe."""
    qr = segno.make(data, error="m")
    rows = list(qr.matrix_iter(border=4))
    path = "".join(f"M{x} {y}h1v1h-1z" for y, row in enumerate(rows) for x, dark in enumerate(row) if dark)
    return len(rows), path


@bp.route("/events/<int:happening_id>/ticket")
@login_required
def ticket(happening_id: int):
    happening = _get(happening_id)
    mine = queries.own_signup(happening.id, current_user)
    if mine is None or mine.status == "cancelled":
        abort(404)
    code = services.checkin_code(mine) if mine.status == "confirmed" and not happening.cancelled else None
    position = queries.waiting_position(mine) if mine.status == "waiting" else None
    return render_template("happenings/ticket.html", h=happening, mine=mine, code=code, position=position,
                           qr=_qr(code) if code else None)


@bp.route("/events/<int:happening_id>/checkin", methods=["GET", "POST"])
@login_required
def checkin(happening_id: int):
    happening = _managed(happening_id)
    form = CheckInForm()
    status, done = 200, None
    if form.validate_on_submit():
        try:
            done = services.check_in(user=current_user, happening=happening, code=form.code.data)
        except DomainError as err:
            db.session.rollback()
            form.apply_error(err)
            status = err.status_code
        else:
            db.session.commit()
            form = CheckInForm(formdata=None)
    elif form.is_submitted():
        status = 400
    return render_template("happenings/checkin.html", h=happening, form=form, done=done,
                           outcome=queries.attendance(happening.id)), status


def _attendee_choices(pagination) -> list[tuple[int, str]]:
    return [(s.id, f"{s.org.name if s.org else s.user.name}（{s.user.name}）") for s in pagination.items]


def _presented_choices(happening: Happening) -> list[tuple[str, str]]:
    out = [("", "请选择")]
    for p in happening.presented:
        listing = p.listing
        if listing is not None:
            out.append((f"{p.kind}:{p.listing_id}", f"【{'需求' if p.kind == 'demand' else '成果'}】{listing.title}"))
    return out


@bp.route("/events/<int:happening_id>/interest", methods=["GET", "POST"])
@login_required
def spot_interest(happening_id: int):
    happening = _get(happening_id)
    manager = services.can_manage(current_user, happening)
    mine = queries.own_signup(happening.id, current_user)
    if not manager and (mine is None or mine.status != "confirmed" or mine.checked_in_at is None):
        abort(403)
    form = SpotInterestForm()
    # the organiser picks from one page of those checked in (the post names any of the event's: the service checks)
    attendees = paginate(queries.checked_in_list(happening.id), page=get_page()) if manager else None
    form.signup_id.choices = [(0, "请选择")] + (_attendee_choices(attendees) if manager else [])
    form.listing_key.choices = _presented_choices(happening)
    status = 200
    if form.validate_on_submit():
        try:
            interest = services.record_interest(
                user=current_user, happening=happening, signup_id=form.signup_id.data or None if manager else None,
                listing_key=form.listing_key.data, message=form.message.data, token=form.form_token.data)
        except DomainError as err:
            db.session.rollback()
            if err.status_code == 409 and not err.fields:
                raise
            form.apply_error(err)
            status = err.status_code
        else:
            db.session.commit()
            flash(f"已记录{interest.kind_label}：{interest.from_org.name} → 《{interest.listing.title}》", "success")
            return redirect(url_for("happenings.outcome", happening_id=happening.id) if manager
                            else url_for("happenings.detail", happening_id=happening.id))
    elif form.is_submitted():
        status = 400
    form_token_keep_or_issue(form)
    return render_template("happenings/interest.html", h=happening, form=form, manager=manager,
                           attendees=attendees), status


OUTCOME_LISTS = {"interests": "现场意向", "deals": "对接与合同", "signups": "报名名单"}


@bp.route("/events/<int:happening_id>/outcome")
@login_required
def outcome(happening_id: int):
    """The figures (counts and exact sums in SQL) and one paged list: the interests, the deals with their
    registered contracts, or the sign-ups."""
    happening = _managed(happening_id)
    o = queries.outcome(happening.id)
    shown = request.args.get("list", "interests")
    if shown not in OUTCOME_LISTS:
        shown = "interests"
    contracts = {}
    if shown == "signups":
        pagination = paginate(queries.signup_list(happening.id), page=get_page(), total=o.confirmed + o.waiting)
    elif shown == "deals":
        pagination = paginate(queries.deal_list(happening.id), page=get_page(), total=o.deals)
        contracts = queries.contracts_of([d.id for d in pagination.items])
    else:
        pagination = paginate(queries.interest_list(happening.id), page=get_page(), total=o.interests)
    return render_template("happenings/outcome.html", h=happening, o=o, pagination=pagination, shown=shown,
                           lists=OUTCOME_LISTS, contracts=contracts)
