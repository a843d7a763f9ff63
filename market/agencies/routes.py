"""服务机构 directory and pages, an agency's services, the 技术经纪人 registry and profiles, yearly performance
sheets (.xlsx), and the 专家库 (issue 19 section 3)."""
from __future__ import annotations

import io
from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from markupsafe import Markup
from flask_login import current_user, login_required
from sqlalchemy import select

from ..dashboard import exports
from ..dashboard.queries import today as dashboard_today
from ..errors import DomainError
from ..extensions import db
from ..forms import field_choices, region_choices
from ..models import AGENCY_SERVICES, Demand, DemandCollection, Expert, Field, Happening, Organization, User
from ..pagination import get_page, paginate
from ..permissions import user_region
from . import queries, services
from .forms import AgencyServicesForm, BrokerProfileForm, BrokerRegistryForm, EventAgencyForm, ExpertForm
from .sheets import agency_table, broker_table

bp = Blueprint("agencies", __name__)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MIN_YEAR = 2000
SHEET_MAX_ROWS = 50000  # a broker sheet's .xlsx lists at most this many contracts (its 合计 must cover every row)


def _query_text(name: str, max_length: int = 50) -> str:
    value = (request.args.get(name) or "").strip()
    if len(value) > max_length or any(ch in value for ch in "\x00\ufffd") or any("\ud800" <= ch <= "\udfff" for ch in value):
        raise DomainError(f"查询条件无效（不超过{max_length}字，不含无效字符）")
    return value


def _agency(agency_id: int) -> Organization:
    org = db.session.get(Organization, agency_id)
    if org is None or not services.is_agency(org):
        abort(404)
    return org


def _broker(broker_id: int) -> User:
    broker = db.session.get(User, broker_id)
    if broker is None or broker.role != "broker":
        abort(404)
    return broker


def _year() -> int:
    today = dashboard_today()  # the dashboard's today (its TODAY setting, else the server's date)
    raw = request.args.get("year", "")
    if not raw:
        return today.year
    if not (raw.isascii() and raw.isdigit() and len(raw) == 4 and MIN_YEAR <= int(raw) <= today.year + 1):
        raise DomainError(f"年份无效：请填写{MIN_YEAR}年至{today.year + 1}年之间的四位年份")
    return int(raw)


def _format() -> str:
    fmt = request.args.get("format", "html")
    if fmt not in ("html", "xlsx"):
        raise DomainError("导出格式无效，只能下载 xlsx")
    return fmt


def _download(table: exports.Table):
    data = exports.to_xlsx(table, filer=table.place)
    return send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True, download_name=f"{table.filename}.xlsx")


# --- the public directory ---------------------------------------------------------------------------------

@bp.route("/agencies")
def index():
    q = _query_text("q")
    service = request.args.get("service", "")
    if service and service not in AGENCY_SERVICES:
        raise DomainError("服务项目无效")
    pagination = paginate(queries.verified_agencies(q=q, service=service), page=get_page())
    orgs = list(pagination.items)
    return render_template("agencies/index.html", pagination=pagination, q=q, service=service,
                           services_of=queries.services_of([o.id for o in orgs]), labels=AGENCY_SERVICES)


@bp.route("/agencies/<int:agency_id>")
def detail(agency_id: int):
    agency = _agency(agency_id)
    member = current_user.is_authenticated and current_user.org_id == agency.id
    if not agency.is_verified and not member and not (current_user.is_authenticated
                                                      and services.can_see_agency_sheet(current_user, agency)):
        abort(404)
    brokers = queries.agency_brokers(agency.id)
    public = queries.public_broker_ids([b.id for b in brokers])
    viewer_sees_all = current_user.is_authenticated and services.can_see_agency_sheet(current_user, agency)
    return render_template("agencies/detail.html", agency=agency, codes=queries.services_of([agency.id])[agency.id],
                           labels=AGENCY_SERVICES, note=queries.agency_note(agency.id), brokers=brokers, public=public,
                           viewer_sees_all=viewer_sees_all,
                           can_edit=current_user.is_authenticated and services.can_edit_services(current_user, agency))


@bp.route("/agencies/services", methods=["GET", "POST"])
@login_required
def edit_services():
    org = current_user.org
    if org is None or not services.can_edit_services(current_user, org):
        abort(403)
    form = AgencyServicesForm()
    status = 200
    if request.method != "POST":
        form.services.data = queries.services_of([org.id])[org.id]
        form.note.data = queries.agency_note(org.id)
    elif form.validate_on_submit():
        try:
            services.agency_services_save(user=current_user, org=org, codes=list(form.services.data or []),
                                          note=form.note.data or "")
        except DomainError as err:
            db.session.rollback()
            form.apply_error(err)
            status = err.status_code
        else:
            db.session.commit()
            flash("服务项目已保存", "success")
            return redirect(url_for("agencies.detail", agency_id=org.id))
    else:
        status = 400
    return render_template("agencies/services.html", form=form, agency=org), status


# --- brokers -----------------------------------------------------------------------------------------------

@bp.route("/brokers/<int:broker_id>")
def broker(broker_id: int):
    person = _broker(broker_id)
    profile = queries.broker_profile(person.id)
    if not services.can_see_broker(current_user, person, profile):
        abort(404)
    public = services.is_public_broker(person, profile)
    # a public profile shows the whole record; otherwise only what the viewer's sheet would show
    record = queries.broker_figures([person.id], viewer=None if public else current_user)[person.id]
    return render_template("agencies/broker.html", broker=person, profile=profile, record=record, public=public,
                           sheet=services.can_see_broker_sheet(current_user, person),
                           registry=services.can_manage_registry(current_user, person))


@bp.route("/brokers/me", methods=["GET", "POST"])
@login_required
def broker_profile():
    if current_user.role != "broker":
        abort(403)
    profile = queries.broker_profile(current_user.id)
    form = BrokerProfileForm()
    status = 200
    if request.method != "POST":
        form.public.data = bool(profile and profile.public)
        form.intro.data = profile.intro if profile else ""
    elif form.validate_on_submit():
        try:
            services.broker_profile_save(user=current_user, public=form.public.data, intro=form.intro.data or "")
        except DomainError as err:
            db.session.rollback()
            form.apply_error(err)
            status = err.status_code
        else:
            db.session.commit()
            flash("经纪人主页设置已保存", "success")
            return redirect(url_for("agencies.broker", broker_id=current_user.id))
    else:
        status = 400
    return render_template("agencies/broker_profile.html", form=form), status


@bp.route("/brokers")
@login_required
def brokers():
    if current_user.role not in ("official", "admin"):
        abort(403)
    q = _query_text("q")
    pagination = paginate(queries.registry_brokers(current_user, q=q), page=get_page())
    people = list(pagination.items)
    return render_template("agencies/brokers.html", pagination=pagination, q=q, brokers=people,
                           records=queries.broker_figures([b.id for b in people], viewer=current_user), regions=queries.region_names())


@bp.route("/brokers/<int:broker_id>/registry", methods=["GET", "POST"])
@login_required
def broker_registry(broker_id: int):
    person = _broker(broker_id)
    if not services.can_manage_registry(current_user, person):
        abort(404)
    form = BrokerRegistryForm()
    form.agency_id.choices = ([(person.org.id, person.org.name)] if services.is_agency(person.org)
                              else [(0, "（所在单位不是服务机构）")])
    scope = None if current_user.role == "admin" else user_region(current_user)
    form.region_id.choices = region_choices(root=scope)
    status = 200
    if request.method != "POST":
        form.cert_no.data, form.agency_id.data, form.region_id.data = (person.broker_cert_no, person.org_id,
                                                                       person.region_id)
    elif form.validate_on_submit():
        try:
            services.broker_registry_save(user=current_user, broker=person, cert_no=form.cert_no.data,
                                          agency_id=form.agency_id.data, region_id=form.region_id.data)
        except DomainError as err:
            db.session.rollback()
            form.apply_error(err)
            status = err.status_code
        else:
            db.session.commit()
            flash("登记信息已保存", "success")
            return redirect(url_for("agencies.broker", broker_id=person.id))
    else:
        status = 400
    return render_template("agencies/broker_registry.html", form=form, broker=person), status


@bp.route("/brokers/<int:broker_id>/performance")
@login_required
def broker_performance(broker_id: int):
    person = _broker(broker_id)
    if not services.can_see_broker_sheet(current_user, person):
        abort(404)
    year, fmt = _year(), _format()
    figures = queries.broker_figures([person.id], year, current_user)[person.id]  # only what the viewer may see
    stmt = queries.broker_contracts(person.id, year, current_user)
    if fmt == "xlsx":
        contracts = db.session.scalars(stmt.limit(SHEET_MAX_ROWS + 1)).all()
        if len(contracts) > SHEET_MAX_ROWS:  # never a file whose rows cover part of its 合计
            raise DomainError(f"该经纪人{year}年的合同超过 {SHEET_MAX_ROWS:,} 份，无法导出为一个文件；"
                              "请在网页上分页查看，或在合同登记簿按条件导出")
        return _download(broker_table(person, year, figures, contracts))
    pagination = paginate(stmt, page=get_page(), total=figures.contracts)
    return render_template("agencies/broker_performance.html", broker=person, year=year, f=figures,
                           contracts=list(pagination.items), pagination=pagination)


@bp.route("/agencies/<int:agency_id>/performance")
@login_required
def agency_performance(agency_id: int):
    agency = _agency(agency_id)
    if not services.can_see_agency_sheet(current_user, agency):
        abort(404)
    year, fmt = _year(), _format()
    sheet = queries.agency_sheet(agency, year, current_user)  # an official's: the contracts of their region
    if fmt == "xlsx":
        return _download(agency_table(agency, sheet))
    return render_template("agencies/agency_performance.html", agency=agency, sheet=sheet)


# --- 专家库 -------------------------------------------------------------------------------------------------

def _expert(expert_id: int) -> Expert:
    expert = db.session.get(Expert, expert_id)
    if expert is None:
        abort(404)
    return expert


@bp.route("/experts")
@login_required
def experts():
    if not services.can_manage_experts(current_user):
        abort(403)
    q = _query_text("q")
    field_code = request.args.get("field", "")
    if field_code and not db.session.scalar(select(Field.id).where(Field.code == field_code)):
        raise DomainError("技术领域无效")
    available = request.args.get("available", "")
    if available not in ("", "0", "1"):
        raise DomainError("可用状态无效")
    pagination = paginate(queries.experts_list(current_user, q=q, field_code=field_code, available=available),
                          page=get_page())
    roots = list(db.session.scalars(select(Field).where(Field.parent_id.is_(None)).order_by(Field.sort, Field.code)))
    return render_template("agencies/experts.html", pagination=pagination, q=q, field_code=field_code,
                           available=available, roots=roots)


def _expert_form(form: ExpertForm, expert: Expert | None):
    scope = None if current_user.role == "admin" else user_region(current_user)
    form.region_id.choices = region_choices(root=scope)
    form.field_ids.choices = field_choices()
    status = 200
    if request.method != "POST" and expert is not None:
        form.name.data, form.title.data, form.available.data = expert.name, expert.title, expert.available
        form.username.data = expert.user.username if expert.user else ""
        form.org_name.data = expert.org.name
        form.region_id.data = expert.region_id
        form.field_ids.data = [f.id for f in expert.fields]
    elif request.method == "POST" and form.validate_on_submit():
        try:
            saved = services.expert_save(
                user=current_user, expert=expert, name=form.name.data, username=form.username.data or "",
                org_name=form.org_name.data or "", region_id=form.region_id.data, title=form.title.data or "",
                field_ids=list(form.field_ids.data or []), available=form.available.data)
        except DomainError as err:
            db.session.rollback()
            form.apply_error(err)
            status = err.status_code
        else:
            db.session.commit()
            flash("专家信息已保存", "success")
            return redirect(url_for("agencies.experts", q=saved.name))
    elif request.method == "POST":
        status = 400
    return render_template("agencies/expert_form.html", form=form, expert=expert), status


@bp.route("/experts/new", methods=["GET", "POST"])
@login_required
def expert_new():
    if not services.can_manage_experts(current_user):
        abort(403)
    return _expert_form(ExpertForm(), None)


@bp.route("/experts/<int:expert_id>/edit", methods=["GET", "POST"])
@login_required
def expert_edit(expert_id: int):
    expert = _expert(expert_id)
    if not services.can_manage_expert(current_user, expert):
        abort(404)
    return _expert_form(ExpertForm(), expert)


@bp.route("/experts/me")
@login_required
def expert_me():
    return render_template("agencies/expert_me.html", expert=queries.own_expert(current_user))


@bp.route("/experts/<int:expert_id>/availability", methods=["POST"])
@login_required
def expert_availability(expert_id: int):
    expert = _expert(expert_id)
    if not services.can_set_availability(current_user, expert):
        abort(404)
    value = request.form.get("available", "")
    if value not in ("0", "1"):
        raise DomainError("可用状态无效：请选择“可参加评审”或“暂不参加评审”")
    services.expert_set_availability(user=current_user, expert=expert, available=value == "1")
    db.session.commit()
    flash("已设为可参加评审" if expert.available else "已设为暂不参加评审", "success")
    if expert.user_id == current_user.id:
        return redirect(url_for("agencies.expert_me"))
    return redirect(url_for("agencies.experts"))



# --- 需求征集 and 承办机构 (counted on the agency's sheet) -----------------------------------------------------

def listing_panel(listing) -> Markup | None:
    """On a need's page: who recorded collecting it, and for a broker who may, the button to record it."""
    if listing.KIND != "demand" or not current_user.is_authenticated:
        return None
    collection = db.session.get(DemandCollection, listing.id)
    can_collect = collection is None and services.can_collect(current_user, listing)
    if collection is None and not can_collect:
        return None
    can_decide = (collection is not None and collection.confirmed_at is None
                  and services.can_decide_collection(current_user, listing))
    # bandit B704: Markup of a rendered, autoescaped template (not of user text)
    return Markup(render_template("agencies/_collect_panel.html", listing=listing, collection=collection,  # nosec B704
                                  can_collect=can_collect, can_decide=can_decide, days=services.COLLECT_DAYS))


@bp.route("/demands/<int:demand_id>/collect", methods=["POST"])
@login_required
def collect_demand(demand_id: int):
    demand = db.session.get(Demand, demand_id)
    if demand is None or current_user.role != "broker":
        abort(404)
    services.demand_collect(user=current_user, demand=demand)
    db.session.commit()
    flash("已登记为您征集的需求", "success")
    return redirect(url_for("listings.detail", kind="demand", listing_id=demand.id))


@bp.route("/demands/<int:demand_id>/collect/decide", methods=["POST"])
@login_required
def collect_decide(demand_id: int):
    demand = db.session.get(Demand, demand_id)
    decision = request.form.get("decision", "")
    if demand is None or not services.can_decide_collection(current_user, demand):
        abort(404)
    if decision not in ("confirm", "dispute"):
        abort(400, "请选择确认或否认")
    services.collection_decide(user=current_user, demand=demand, confirm=decision == "confirm")
    db.session.commit()
    flash("已确认该需求由该经纪人征集" if decision == "confirm" else "已否认，该征集登记已撤销", "success")
    return redirect(url_for("listings.detail", kind="demand", listing_id=demand.id))


@bp.route("/events/<int:happening_id>/agency", methods=["GET", "POST"])
@login_required
def event_agency(happening_id: int):
    from ..happenings.services import can_manage

    happening = db.session.get(Happening, happening_id)
    if happening is None or not can_manage(current_user, happening):
        abort(404)
    form = EventAgencyForm()
    form.agency_id.choices = [(0, "（无承办机构）")] + [(a.id, a.name) for a in
                                                   services.event_agency_choices(current_user)]
    status = 200
    if request.method != "POST":
        form.agency_id.data = happening.agency_id or 0
    elif form.validate_on_submit():
        try:
            services.happening_set_agency(user=current_user, happening=happening, agency_id=form.agency_id.data)
        except DomainError as err:
            db.session.rollback()
            form.apply_error(err)
            status = err.status_code
        else:
            db.session.commit()
            flash("承办机构已保存", "success")
            return redirect(url_for("happenings.detail", happening_id=happening.id))
    else:
        status = 400
    return render_template("agencies/event_agency.html", form=form, h=happening), status
