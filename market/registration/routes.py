"""技术合同登记: submissions of the seller side, the 登记员's queue and decisions, the 登记证明 and its public
verification, and the city's 登记点 with their 登记员 accounts."""
from __future__ import annotations

import math

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..auth import throttle
from ..auth.routes import client_ip
from ..contracts import queries as contract_queries
from ..contracts import services as contract_services
from ..errors import DomainError
from ..extensions import db
from ..formtokens import new_form_token
from ..models import RegPoint, User
from ..pagination import get_page, paginate
from ..transfers.gate import disclosure_problem
from . import access, queries, services
from .certificate import certificate_lines, certificate_pdf
from .forms import PLACED, CalendarDayForm, CancelForm, DecisionForm, PointForm, RegistrarForm, StateForm, SubmissionForm

bp = Blueprint("registration", __name__, url_prefix="/registration")

SUBMITTERS = ("enterprise", "institution", "broker")


def _int_form(name: str) -> int | None:
    value = (request.form.get(name) or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else None


@bp.route("/")
@login_required
def index():
    """The 登记员's queue (oldest first); the seller side's submissions; officials' and admins' waiting list."""
    user = current_user
    if user.role == "registrar":
        stmt, heading = queries.queue(user), "待登记的技术合同（按提交时间，最早的在前）"
    elif user.role in SUBMITTERS:
        stmt, heading = queries.submissions_of(user), "我提交的技术合同登记"
    else:
        stmt, heading = queries.waiting_in_scope(user), "本区域待登记的技术合同"
    return render_template("registration/index.html", pagination=paginate(stmt, page=get_page()), heading=heading,
                           queries=queries, today=queries.china_today(), can_submit=user.role in SUBMITTERS,
                           can_manage=access.can_manage_points(user))


def _render_submit(form, *, contract=None, status: int = 200):
    extra = [f for f in form if f.name not in PLACED and f.type not in ("HiddenField", "CSRFTokenField")]
    return render_template("registration/submit.html", form=form, contract=contract, extra=extra,
                           org_names=contract_queries.org_names()), status


@bp.route("/submit", methods=["GET", "POST"])
@login_required
def submit():
    if current_user.role not in SUBMITTERS:
        abort(403)
    form = SubmissionForm().setup()
    if request.method != "POST":
        form.form_token.data = new_form_token()
        if current_user.org is not None and current_user.role != "broker":
            form.seller_name.data = current_user.org.name
            form.seller_region_id.data = current_user.org.region_id or 0
        return _render_submit(form)
    if not form.validate_on_submit():
        form.add_problems(contract_services.validate_terms(contract_services.with_outside_places(form.data_dict())))  # every error at once, not in rounds
        return _render_submit(form, status=400)
    try:
        contract = services.submission_create(user=current_user, data=form.data_dict(), token=form.form_token.data,
                                              scan=request.files.get("scan"))
    except DomainError as err:
        db.session.rollback()
        form.apply_error(err)
        return _render_submit(form, status=err.status_code)
    contract_id, point, problem = contract.id, contract.reg_point.name, disclosure_problem(contract)
    db.session.commit()
    flash(f"已提交登记，由{point}办理（15个工作日内）", "success")
    if problem:
        flash(f"请注意：{problem}", "warning")
    return redirect(url_for("registration.detail", contract_id=contract_id))


@bp.route("/<int:contract_id>")
@login_required
def detail(contract_id: int):
    return _detail(access.get_submission(contract_id))


def _detail(contract, *, decision_form: DecisionForm | None = None, cancel_form: CancelForm | None = None,
            status: int = 200):
    """The contract's registration page; a refused decision or cancellation comes back here with its form, what
    was typed and each error at its field."""
    if decision_form is None:
        decision_form = DecisionForm()
        decision_form.version.data = str(contract.version)
        decision_form.tech_amount.data = contract.tech_amount
    return render_template(
        "registration/detail.html", contract=contract, steps=queries.steps(contract), queries=queries,
        today=queries.china_today(), can_decide=access.can_decide(current_user, contract),
        can_submit=access.can_submit_for(current_user, contract), decision_form=decision_form,
        cancel_form=cancel_form or CancelForm(), deadline=queries.DEADLINE_WORKING_DAYS,
        disclosure_problem=disclosure_problem(contract) if contract.reg_status in ("submitted", "returned") else None,
    ), status


@bp.route("/<int:contract_id>/decide", methods=["POST"])
@login_required
def decide(contract_id: int):
    contract = access.get_submission(contract_id)
    if not access.can_decide(current_user, contract):
        if access.is_registrar_of(current_user, contract.reg_point_id):  # decided meanwhile (by a colleague)
            raise DomainError(f"该合同当前为“{queries.status_label(contract)}”，无需办理，请刷新页面", status_code=409)
        raise DomainError("只有受理该合同的登记点的登记员可以办理登记", status_code=403)
    form = DecisionForm()
    if _int_form("version") != contract.version:
        raise DomainError("该合同已被他人修改，请刷新页面后重试", status_code=409)
    if not form.validate_on_submit():
        return _detail(contract, decision_form=form, status=400)
    decision = form.decision.data
    try:
        services.registration_decide(contract=contract, user=current_user, decision=decision,
                                     reason=form.reason.data, tech_amount=form.tech_amount.data)
    except DomainError as err:
        db.session.rollback()
        contract = access.get_submission(contract_id)
        form.apply_error(err)
        return _detail(contract, decision_form=form, status=err.status_code)
    number = contract.registration_no
    db.session.commit()
    flash({"register": f"已登记，登记编号 {number}", "return": "已退回提交人修改",
           "refuse": "已决定不予登记"}[decision], "success")
    return redirect(url_for("registration.index"))


@bp.route("/<int:contract_id>/edit", methods=["GET", "POST"])
@login_required
def edit(contract_id: int):
    """A returned submission edited and sent again, or the change of a registered contract (变更登记)."""
    contract = access.get_submission(contract_id)
    if not access.can_submit_for(current_user, contract):
        abort(403)
    if contract.voided or contract.reg_status not in ("returned", "registered"):
        flash(f"该合同当前为“{queries.status_label(contract)}”，不能修改后提交", "warning")
        return redirect(url_for("registration.detail", contract_id=contract.id))
    form = SubmissionForm(obj=contract).setup()
    if request.method != "POST":
        form.buyer_name.data, form.seller_name.data = contract.buyer_org.name, contract.seller_org.name
        form.field_id.data = contract.field_id or 0
        return _render_submit(form, contract=contract)
    if not form.validate_on_submit():
        form.add_problems(contract_services.validate_terms(contract_services.with_outside_places(form.data_dict())))  # every error at once, not in rounds
        return _render_submit(form, contract=contract, status=400)
    try:
        services.submission_resubmit(contract=contract, user=current_user, data=form.data_dict(),
                                     scan=request.files.get("scan"), reason=form.reason.data or "")
    except DomainError as err:
        db.session.rollback()
        form.apply_error(err)
        return _render_submit(form, contract=contract, status=err.status_code)
    problem = disclosure_problem(contract)
    db.session.commit()
    flash("已重新提交登记", "success")
    if problem:
        flash(f"请注意：{problem}", "warning")
    return redirect(url_for("registration.detail", contract_id=contract_id))


@bp.route("/<int:contract_id>/cancel", methods=["POST"])
@login_required
def cancel(contract_id: int):
    contract = access.get_submission(contract_id)
    if not access.can_submit_for(current_user, contract):
        raise DomainError("只有该合同的卖方单位或其技术经纪人可以申请注销登记", status_code=403)
    form = CancelForm()
    if not form.validate_on_submit():
        return _detail(contract, cancel_form=form, status=400)
    try:
        services.cancellation_request(contract=contract, user=current_user, reason=form.reason.data)
    except DomainError as err:
        db.session.rollback()
        form.apply_error(err)
        return _detail(access.get_submission(contract_id), cancel_form=form, status=err.status_code)
    db.session.commit()
    flash("已申请注销登记，等待登记点办理", "success")
    return redirect(url_for("registration.detail", contract_id=contract_id))


@bp.route("/<int:contract_id>/certificate.pdf")
@login_required
def certificate(contract_id: int):
    contract = access.get_submission(contract_id)
    if contract.reg_verify_code is None or contract.reg_status != "registered":
        abort(404)
    payload = certificate_pdf(contract, verify_url=url_for("registration.verify", _external=True))
    return Response(payload, mimetype="application/pdf", headers={
        "Content-Disposition": f"attachment; filename=certificate-{contract.registration_no}.pdf",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})


@bp.route("/verify", methods=["GET", "POST"])
def verify():
    """Anyone (no sign-in) checks a 登记证明 by its code: what the certificate shows, nothing more. Each lookup is
    counted per address on the sign-in throttle's shared store."""
    code = (request.values.get("code") or "").strip()[:32]
    if request.method != "POST":
        return render_template("registration/verify.html", code=code, lines=None, state=None)
    cfg = current_app.config
    attempt = throttle.address_limit_begin(client_ip(), scope="regverify",
                                           limit=cfg.get("REG_VERIFY_MAX_PER_ADDRESS", 30),
                                           window=cfg.get("REG_VERIFY_WINDOW_SECONDS", 3600))
    if not attempt.allowed:
        seconds = max(1, math.ceil(attempt.wait))
        flash(f"查验过于频繁，请{seconds}秒后再试", "danger")
        return render_template("registration/verify.html", code=code, lines=None, state=None), 429, \
            {"Retry-After": str(seconds)}
    contract = queries.by_code(code)
    if contract is None:
        return render_template("registration/verify.html", code=code, lines=None, state="unknown"), 404
    if contract.voided:
        state = "cancelled"
    elif contract.reg_status != "registered":
        state = "pending"
    else:
        state = "valid"
    return render_template("registration/verify.html", code=code, lines=certificate_lines(contract), state=state)


# --- 登记点 and 登记员 ------------------------------------------------------------------------------------------

@bp.route("/points", methods=["GET", "POST"])
@login_required
def points():
    if not access.can_manage_points(current_user):
        abort(403)
    form = PointForm().setup()
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                point = services.reg_point_create(user=current_user, name=form.name.data or "", kind=form.kind.data,
                                                  region_id=form.region_id.data or None,
                                                  division=form.division.data or "", serial=form.serial.data)
                name = point.name
            except DomainError as err:
                db.session.rollback()
                form.apply_error(err)
                status = err.status_code
            else:
                db.session.commit()
                flash(f"已设立登记点“{name}”", "success")
                return redirect(url_for("registration.points"))
    return render_template("registration/points.html", form=form, points=queries.points(), queries=queries), status


def _managed_point(point_id: int) -> RegPoint:
    if not access.can_manage_points(current_user):
        abort(403)
    reg_point = db.session.get(RegPoint, point_id)
    if reg_point is None:
        abort(404)
    return reg_point


def _point_page(reg_point: RegPoint, *, form=None, state_form=None, registrar_forms=None, status: int = 200):
    if state_form is None:
        state_form = StateForm(formdata=None).setup(exclude=reg_point.id)
        state_form.active.data = "0" if reg_point.active else "1"
    registrars = queries.registrars(reg_point)
    forms = registrar_forms or {}
    for u in registrars:
        if u.id not in forms:
            forms[u.id] = StateForm(formdata=None)
            forms[u.id].active.data = "0" if u.active else "1"
    return render_template("registration/point.html", point=reg_point, form=form or RegistrarForm(formdata=None),
                           registrars=registrars, state_form=state_form, registrar_forms=forms,
                           waiting=queries.waiting_at(reg_point)), status


@bp.route("/points/<int:point_id>/state", methods=["POST"])
@login_required
def point_state(point_id: int):
    """Deactivate or reactivate a 登记点 (confirmed by a ticked box); its open submissions move (services)."""
    reg_point = _managed_point(point_id)
    form = StateForm().setup(exclude=reg_point.id)
    active = form.active.data == "1"
    if not form.validate_on_submit():
        return _point_page(reg_point, state_form=form, status=400)
    try:
        moved = services.reg_point_set_active(user=current_user, point=reg_point, active=active,
                                              move_to_id=form.move_to.data or None)
    except DomainError as err:
        db.session.rollback()
        form.apply_error(err)
        return _point_page(db.session.get(RegPoint, point_id), state_form=form, status=err.status_code)
    name = reg_point.name
    db.session.commit()
    flash(f"已启用登记点“{name}”" if active else f"已停用登记点“{name}”，{moved} 份等待登记的合同已移交", "success")
    return redirect(url_for("registration.point", point_id=point_id))


@bp.route("/registrars/<int:user_id>/state", methods=["POST"])
@login_required
def registrar_state(user_id: int):
    """Deactivate or reactivate a 登记员 account (confirmed by a ticked box)."""
    if not access.can_manage_points(current_user):
        abort(403)
    registrar = db.session.get(User, user_id)
    if registrar is None or registrar.role != "registrar" or registrar.reg_point_id is None:
        abort(404)
    reg_point = db.session.get(RegPoint, registrar.reg_point_id)
    form = StateForm()
    active = form.active.data == "1"
    if not form.validate_on_submit():
        return _point_page(reg_point, registrar_forms={user_id: form}, status=400)
    try:
        services.registrar_set_active(user=current_user, registrar=registrar, active=active)
    except DomainError as err:
        db.session.rollback()
        form.apply_error(err)
        return _point_page(reg_point, registrar_forms={user_id: form}, status=err.status_code)
    username = registrar.username
    db.session.commit()
    flash(f"已{'启用' if active else '停用'}登记员账号 {username}", "success")
    return redirect(url_for("registration.point", point_id=reg_point.id))


@bp.route("/calendar", methods=["GET", "POST"])
@login_required
def calendar_days():
    """节假日安排: the days that differ from Monday to Friday in the 登记 deadline (registration/calendar.py)."""
    from . import calendar

    if not access.can_manage_points(current_user):
        abort(403)
    form = CalendarDayForm()
    status = 200
    year = request.args.get("year", "")
    year = int(year) if len(year) == 4 and year.isascii() and year.isdigit() and 2000 <= int(year) <= 2100 \
        else queries.china_today().year
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                services.calendar_day_set(user=current_user, day=form.day.data, kind=form.kind.data or "",
                                          name=form.name.data or "")
            except DomainError as err:
                db.session.rollback()
                form.apply_error(err)
                status = err.status_code
            else:
                day = form.day.data
                db.session.commit()
                flash(f"已保存 {day.isoformat()} 的安排", "success")
                return redirect(url_for("registration.calendar_days", year=day.year))
        else:
            form.add_problems(_calendar_problems(form))
    return render_template("registration/calendar.html", form=form, year=year, days=calendar.days_of_year(year),
                           known=sorted(calendar.known_years())), status


def _calendar_problems(form) -> dict[str, str]:
    """The service's own checks for what the field validators let through (every error at once)."""
    if form.kind.data not in services.CALENDAR_KINDS:
        return {"kind": "请选择放假、调休上班或恢复为普通日"}
    return {}


@bp.route("/points/<int:point_id>", methods=["GET", "POST"])
@login_required
def point(point_id: int):
    reg_point = _managed_point(point_id)
    form = RegistrarForm()
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                registrar = services.registrar_create(user=current_user, point=reg_point, username=form.username.data or "",
                                                      name=form.name.data or "", password=form.password.data or "")
                username = registrar.username
            except DomainError as err:
                db.session.rollback()
                form.apply_error(err)
                status = err.status_code
            else:
                db.session.commit()
                flash(f"已开设登记员账号 {username}", "success")
                return redirect(url_for("registration.point", point_id=point_id))
    return _point_page(reg_point, form=form, status=status)
