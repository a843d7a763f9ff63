"""竞价 sessions: the public list, a session with its lots (and results for the organiser's side and officials),
a lot with its live state, history, bid and proxy forms; the organiser's session, lots, publication and deposits.
A lot whose end has passed is closed when someone looks at it (and by the sweep and `flask auctions close-due`)."""
from __future__ import annotations

import io

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlalchemy import select

from ..database import write_intent
from ..errors import DomainError
from ..extensions import db
from ..formtokens import AlreadySubmitted, form_token_keep_or_issue
from ..models import Achievement, Organization
from ..models.auction import AuctionDeposit, AuctionLot, AuctionSession
from ..models.base import utcnow
from ..pagination import get_page, paginate
from ..permissions import roles_required
from . import queries, services
from .forms import BidForm, AuctionDepositForm, AuctionLotForm, ProxyBidForm, AuctionSessionForm, parse_local

bp = Blueprint("auctions", __name__)


def _get(model, object_id: int):
    obj = db.session.get(model, object_id)
    if obj is None:
        abort(404)
    return obj


def _visible(session: AuctionSession) -> AuctionSession:
    """A draft is the organiser's side's alone (404 for anyone else)."""
    if session.state == "draft" and not services.can_manage(current_user, session):
        abort(404)
    return session


def _managed(session: AuctionSession) -> AuctionSession:
    if not services.can_manage(current_user, session):
        abort(403)
    return session


def _close_due(lots: list[AuctionLot]) -> None:
    """Close the lots whose end has passed, each in a short write transaction of its own (a GET reads with a
    deferred transaction on SQLite; the close needs the write lock up front)."""
    now = utcnow()
    due = [lot.id for lot in lots if lot.state == "open" and lot.ends_at <= now and lot.session.state == "published"]
    if not due:
        return
    db.session.commit()
    token = write_intent.set(True)
    try:
        for lot_id in due:
            services.lot_close(lot=lot_id)
            db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    finally:
        write_intent.reset(token)
    for lot in lots:
        db.session.refresh(lot)


def _refused_page(lot_id: int, status: int, **forms):
    """The lot's page again after a refused POST, read in a deferred transaction: the refusal has rolled back, and
    on SQLite the page must not hold the write lock (BEGIN IMMEDIATE) while it renders."""
    token = write_intent.set(False)
    try:
        return _lot_page(db.session.get(AuctionLot, lot_id), status=status, **forms)
    finally:
        write_intent.reset(token)


def _error(form, err: DomainError) -> int:
    """A refusal shown on the form; one that is not about what was typed (who may act, a resubmitted one-time
    token) goes to the error page."""
    db.session.rollback()
    if err.status_code == 403 or isinstance(err, AlreadySubmitted):
        raise err
    form.apply_error(err)
    return err.status_code


@bp.route("/auctions")
def index():
    pagination = paginate(queries.sessions_visible(current_user), page=get_page())
    results = queries.session_results([s.id for s in pagination.items])
    return render_template("auctions/index.html", pagination=pagination, results=results,
                           can_create=services.may_organise(current_user))


@bp.route("/auctions/new", methods=["GET", "POST"])
@roles_required("official", "broker")
def session_new():
    if not services.may_organise(current_user):
        abort(403)
    form = AuctionSessionForm()
    status = 200
    if form.validate_on_submit():
        try:
            session = services.session_create(user=current_user, title=form.title.data,
                                              description=form.description.data or "", token=form.form_token.data)
        except DomainError as err:
            status = _error(form, err)
        else:
            db.session.commit()
            flash("专场已创建，请添加拍品", "success")
            return redirect(url_for("auctions.lot_new", session_id=session.id))
    elif form.is_submitted():
        status = 400
    form_token_keep_or_issue(form)
    return render_template("auctions/session_form.html", form=form, s=None), status


@bp.route("/auctions/<int:session_id>")
def session_detail(session_id: int):
    session = _visible(_get(AuctionSession, session_id))
    _close_due(session.lots)
    see = services.can_see_results(current_user, session)
    return render_template("auctions/session.html", s=session, now=utcnow(), see_results=see,
                           results=queries.session_results([session.id])[session.id],
                           manager=services.can_manage(current_user, session))


@bp.route("/auctions/<int:session_id>/edit", methods=["GET", "POST"])
@roles_required("official", "broker")
def session_edit(session_id: int):
    session = _managed(_get(AuctionSession, session_id))
    form = AuctionSessionForm(obj=session)
    status = 200
    if form.validate_on_submit():
        try:
            services.session_update(user=current_user, session=session, title=form.title.data,
                                    description=form.description.data or "")
        except DomainError as err:
            status = _error(form, err)
        else:
            db.session.commit()
            flash("专场已保存", "success")
            return redirect(url_for("auctions.session_detail", session_id=session.id))
    elif form.is_submitted():
        status = 400
    return render_template("auctions/session_form.html", form=form, s=session), status


def _decide(session_id: int, action, done: str):
    """A POST that only decides (publish, cancel): a refusal raises to the error page with its reason."""
    session = _managed(_get(AuctionSession, session_id))
    action(user=current_user, session=session)
    db.session.commit()
    flash(done, "success")
    return redirect(url_for("auctions.session_detail", session_id=session_id))


@bp.route("/auctions/<int:session_id>/publish", methods=["POST"])
@roles_required("official", "broker")
def session_publish(session_id: int):
    return _decide(session_id, services.session_publish, "专场已发布")


@bp.route("/auctions/<int:session_id>/cancel", methods=["POST"])
@roles_required("official", "broker")
def session_cancel(session_id: int):
    return _decide(session_id, services.session_cancel, "专场已取消，已登记的保证金标记为待退还")


def _lot_choices(form: AuctionLotForm, session: AuctionSession) -> None:
    achievements = db.session.scalars(select(Achievement).where(Achievement.status == "published")
                                      .order_by(Achievement.id.desc()).limit(300))
    region = session.region
    form.achievement_id.choices = [(0, "请选择")] + [(a.id, f"{a.title}（{a.org.name}）") for a in achievements
                                                    if region.contains(a.region)]


def _lot_terms(form: AuctionLotForm) -> dict:
    return dict(starting_price=form.starting_price.data, reserve_price=form.reserve_price.data,
                increment=form.increment.data, deposit_amount=form.deposit_amount.data,
                starts_at=parse_local(form.starts_at.data), ends_at=parse_local(form.ends_at.data),
                snipe_window_minutes=form.snipe_window_minutes.data, extend_minutes=form.extend_minutes.data)


@bp.route("/auctions/<int:session_id>/lots/new", methods=["GET", "POST"])
@roles_required("official", "broker")
def lot_new(session_id: int):
    session = _managed(_get(AuctionSession, session_id))
    form = AuctionLotForm()
    _lot_choices(form, session)
    status = 200
    if form.validate_on_submit():
        try:
            lot = services.lot_create(user=current_user, session=session, achievement_id=form.achievement_id.data,
                                      token=form.form_token.data, **_lot_terms(form))
        except DomainError as err:
            status = _error(form, err)
        else:
            db.session.commit()
            flash("拍品已添加", "success")
            return redirect(url_for("auctions.lot_detail", lot_id=lot.id))
    elif form.is_submitted():
        status = 400
    form_token_keep_or_issue(form)
    return render_template("auctions/lot_form.html", form=form, s=session, lot=None), status


@bp.route("/auctions/lots/<int:lot_id>/edit", methods=["GET", "POST"])
@roles_required("official", "broker")
def lot_edit(lot_id: int):
    lot = _get(AuctionLot, lot_id)
    session = _managed(lot.session)
    form = AuctionLotForm()
    if not form.is_submitted():
        from ..templating import local_dt

        form.starting_price.data, form.reserve_price.data = lot.starting_price, lot.reserve_price
        form.increment.data, form.deposit_amount.data = lot.increment, lot.deposit_amount
        form.starts_at.data = local_dt(lot.starts_at).replace(" ", "T")
        form.ends_at.data = local_dt(lot.ends_at).replace(" ", "T")
        form.snipe_window_minutes.data, form.extend_minutes.data = lot.snipe_window_minutes, lot.extend_minutes
    form.achievement_id.choices = [(lot.achievement_id, lot.achievement.title)]
    status = 200
    if form.validate_on_submit():
        try:
            services.lot_update(user=current_user, lot=lot, **_lot_terms(form))
        except DomainError as err:
            status = _error(form, err)
        else:
            db.session.commit()
            flash("拍品已保存", "success")
            return redirect(url_for("auctions.lot_detail", lot_id=lot.id))
    elif form.is_submitted():
        status = 400
    return render_template("auctions/lot_form.html", form=form, s=session, lot=lot), status


def _lot_page(lot: AuctionLot, *, bid_form=None, proxy_form=None, deposit_form=None, status: int = 200):
    session = lot.session
    manager = services.can_manage(current_user, session)
    see = services.can_see_results(current_user, session)
    own_org = current_user.org_id if current_user.is_authenticated else None
    now = utcnow()
    why_not = services.may_bid(current_user, lot)
    if deposit_form is None and manager:
        deposit_form = AuctionDepositForm()
    if deposit_form is not None:
        _deposit_choices(deposit_form, lot)
    return render_template(
        "auctions/lot.html", lot=lot, s=session, now=now, phase=lot.phase(now), manager=manager, see_results=see,
        why_not=why_not, own_org_id=own_org, numbers=queries.bidder_numbers(lot.id),
        bids=queries.recent_bids(lot.id, limit=queries.PAGE_BIDS),
        history=paginate(queries.lot_events(lot.id), page=get_page(), per_page=100),
        deposits=queries.deposits(lot.id) if manager or see else [],
        own_deposit=queries.own_deposit(lot.id, own_org), own_proxy=queries.own_proxy(lot.id, own_org),
        next_amount=queries.next_amount(lot), bid_form=bid_form or BidForm(), proxy_form=proxy_form or ProxyBidForm(),
        deposit_form=deposit_form), status


def _deposit_choices(form: AuctionDepositForm, lot: AuctionLot) -> None:
    taken = {d.org_id for d in queries.deposits(lot.id)}
    orgs = db.session.scalars(select(Organization).where(Organization.status == "verified",
                                                         Organization.org_type != "agency",
                                                         Organization.id != lot.seller_org_id)
                              .order_by(Organization.name).limit(500))
    form.org_id.choices = [(0, "请选择")] + [(o.id, o.name) for o in orgs if o.id not in taken]


@bp.route("/auctions/lots/<int:lot_id>")
def lot_detail(lot_id: int):
    lot = _get(AuctionLot, lot_id)
    _visible(lot.session)
    _close_due([lot])
    return _lot_page(lot)


@bp.route("/auctions/lots/<int:lot_id>/state.json")
def lot_state(lot_id: int):
    lot = _get(AuctionLot, lot_id)
    _visible(lot.session)
    _close_due([lot])
    own_org = current_user.org_id if current_user.is_authenticated else None
    state = queries.lot_state(lot, now=utcnow(), viewer_org_id=own_org,
                              may_bid_reason=services.may_bid(current_user, lot))
    return jsonify(state)  # Cache-Control as every page's: no-store signed in, no-cache (revalidated) anonymous


@bp.route("/auctions/lots/<int:lot_id>/bid", methods=["POST"])
@roles_required(*services.BIDDER_ROLES)
def bid(lot_id: int):
    lot = _get(AuctionLot, lot_id)
    _visible(lot.session)
    form = BidForm()
    if form.validate_on_submit():
        try:
            placed = services.bid_place(user=current_user, lot=lot, amount=form.amount.data)
        except DomainError as err:
            status = _error(form, err)
            return _refused_page(lot_id, status, bid_form=form)
        db.session.commit()
        flash(f"出价成功：{placed.amount:,}元", "success")
        return redirect(url_for("auctions.lot_detail", lot_id=lot_id))
    return _lot_page(lot, bid_form=form, status=400)


@bp.route("/auctions/lots/<int:lot_id>/proxy", methods=["POST"])
@roles_required(*services.BIDDER_ROLES)
def proxy(lot_id: int):
    lot = _get(AuctionLot, lot_id)
    _visible(lot.session)
    form = ProxyBidForm()
    if form.validate_on_submit():
        try:
            services.proxy_set(user=current_user, lot=lot, ceiling=form.ceiling.data)
        except DomainError as err:
            status = _error(form, err)
            return _refused_page(lot_id, status, proxy_form=form)
        db.session.commit()
        flash("代理出价已设置：被超过时系统将按加价幅度自动为贵单位出价，直至上限", "success")
        return redirect(url_for("auctions.lot_detail", lot_id=lot_id))
    return _lot_page(lot, proxy_form=form, status=400)


@bp.route("/auctions/lots/<int:lot_id>/deposits", methods=["POST"])
@roles_required("official", "broker")
def deposit_new(lot_id: int):
    lot = _get(AuctionLot, lot_id)
    _managed(lot.session)
    form = AuctionDepositForm()
    _deposit_choices(form, lot)
    if form.validate_on_submit():
        try:
            services.deposit_record(user=current_user, lot=lot, org_id=form.org_id.data, amount=form.amount.data)
        except DomainError as err:
            status = _error(form, err)
            return _refused_page(lot_id, status, deposit_form=form)
        db.session.commit()
        flash("保证金已登记，该单位可以出价", "success")
        return redirect(url_for("auctions.lot_detail", lot_id=lot_id))
    return _lot_page(lot, deposit_form=form, status=400)


@bp.route("/auctions/deposits/<int:deposit_id>/returned", methods=["POST"])
@roles_required("official", "broker")
def deposit_returned(deposit_id: int):
    deposit = _get(AuctionDeposit, deposit_id)
    lot = db.session.get(AuctionLot, deposit.lot_id)
    _managed(lot.session)
    services.deposit_mark_returned(user=current_user, deposit=deposit)
    db.session.commit()
    flash("已登记保证金退还", "success")
    return redirect(url_for("auctions.lot_detail", lot_id=lot.id))


# --- results (section 4): officials and admins, their region and below -------------------------------------------

EXPORT_FORMATS = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                  "csv": "text/csv; charset=utf-8"}
RESULTS_KEPT_ARGS = ("region", "period", "year", "quarter", "month", "start", "end")  # the dashboard's, as its tabs keep them


@bp.route("/auctions/results")
@roles_required("official", "admin")
def results():
    """The dashboard's 竞价 tab, for the region and period it carries: the published sessions of that region (the
    user's scope) with the lots whose end (Beijing date of ends_at) falls in the period; lots, sold, the sold lots'
    starting and final totals, premium; `?format=csv|xlsx` downloads the same table. Lots past their end are
    closed first, so that a sale the sweep has not reached yet is counted."""
    from ..dashboard.queries import period_bounds
    from ..dashboard.routes import frame_for_tab
    from ..dashboard.stats import region_ids_under

    region, period, frame = frame_for_tab()
    _close_due(list(db.session.scalars(select(AuctionLot).where(AuctionLot.id.in_(services.due_lot_ids())))))
    rows = queries.results_rows(current_user, region_ids_under(region) if region is not None else None,
                                period_bounds(period))
    total = queries.results_total(rows)
    fmt = request.args.get("format")
    if fmt is None:
        kept = {k: v for k, v in request.args.items() if k in RESULTS_KEPT_ARGS}
        return render_template("auctions/results.html", rows=rows, total=total, kept=kept, **frame)
    if fmt not in EXPORT_FORMATS:
        raise DomainError("导出格式无效，请选择 xlsx 或 csv")
    from ..dashboard import exports
    from ..dashboard.queries import today

    place = frame["place"]
    table = exports.Table(filename="auction_results", title=f"竞价专场成交情况（{period.label}，按拍品结束日期）",
                          place=place,
                          headers=["专场", "区域", "拍品（项）", "已结束（项）", "成交（项）", "成交拍品起拍价合计（元）",
                                   "成交价合计（元）", "溢价率（%）"])
    for s, r in rows + [(None, total)]:
        table.rows.append([s.title if s else "合计", s.region.name if s else "", r.items, r.closed, r.sold,
                           r.starting_total, r.final_total, str(r.premium) if r.premium is not None else ""])
    write = exports.to_xlsx if fmt == "xlsx" else exports.to_csv
    data = write(table, filer=place, made_on=today())
    return send_file(io.BytesIO(data), mimetype=EXPORT_FORMATS[fmt], as_attachment=True,
                     download_name=f"{table.filename}.{fmt}", max_age=0)
