"""The contract register: list, record (from a deal or directly), edit, void, payments, scans, import."""
from __future__ import annotations

import io

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required
from markupsafe import Markup

from ..dashboard import exports as dashboard_exports
from ..deals import access as deal_access
from ..deals.forms import first_error
from ..formtokens import form_token_keep_or_issue, new_form_token
from ..errors import DomainError
from ..extensions import db
from ..forms import posted_text
from ..imports import ImportFileError, read_rows
from ..models import CONTRACT_TYPES
from ..pagination import get_page, paginate
from ..permissions import is_listing_owner, roles_required
from . import access, import_runs, importer, links, national, queries, register_export, scans, services
from .forms import ContractEditForm, ContractForm, DealContractForm, ImportForm, PaymentForm, VoidForm

bp = Blueprint("contracts", __name__, url_prefix="/contracts")

STATE_LABELS = {"live": "有效", "void": "已作废"}


def link_panel(listing) -> Markup | None:
    """Contracts asking to link a listing, on its page, for its organisation only (accept or decline)."""
    if not current_user.is_authenticated or not is_listing_owner(current_user, listing):
        return None
    items = links.links_for_listing(listing)
    if not items:
        return None
    # bandit B704: Markup of a rendered, autoescaped template (not of user text)
    return Markup(render_template("contracts/_link_panel.html", listing=listing, links=items))  # nosec B704


@bp.route("/links/<int:link_id>", methods=["POST"])
@login_required
def link_decide(link_id: int):
    link = links.get_link_for_owner(link_id)
    decision = request.form.get("decision", "")
    links.link_decide(link=link, user=current_user, decision=decision,
                      reason=posted_text("reason", label="理由", max_length=200))
    db.session.commit()
    flash("已确认关联" if decision == "accept" else "已拒绝关联，条目状态未变", "success")
    return redirect(url_for("listings.detail", kind=link.kind, listing_id=link.listing_id, _anchor="contract-links"))


def _filters() -> dict:
    year = request.args.get("year", "")
    ctype = request.args.get("type", "")
    state = request.args.get("state", "")
    return {
        "year": int(year) if year.isascii() and year.isdigit() and len(year) == 4 else None,
        "type": ctype if ctype in CONTRACT_TYPES else "",
        "state": state if state in STATE_LABELS else "",
        "q": request.args.get("q", "")[:60],
    }


def _int_form(name: str) -> int | None:
    value = (request.form.get(name) or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else None


@bp.route("/")
@login_required
def index():
    filters = _filters()
    stmt = queries.visible_contracts(current_user, filters=filters)
    years = queries.years()
    return render_template(
        "contracts/index.html",
        pagination=paginate(stmt, page=get_page(), count_limit=LIST_COUNT_LIMIT),
        totals=queries.totals(stmt, user=current_user, filters=filters, years=years),
        filters=filters,
        types=CONTRACT_TYPES,
        years=years,
        states=STATE_LABELS,
        can_record=current_user.role in access.RECORDER_ROLES,
    )


EXPORT_MAX_ROWS = 50000
# the list counts its rows up to this many (the pager then says 超过 10,000 条): the 合计 above it stays exact
LIST_COUNT_LIMIT = 10000


@bp.route("/export.csv", defaults={"fmt": "csv"})
@bp.route("/export.xlsx", defaults={"fmt": "xlsx"})
@roles_required("broker", "official", "admin")
def export(fmt: str):
    """The contracts in view. By default the register as people read it (register_export.py: 万元 and the exact 元,
    title rows, frozen header); `?columns=national` gives the national system's columns (national.py), which the
    importer reads back."""
    filters = _filters()
    stmt = queries.visible_contracts(current_user, filters=filters)
    contracts = db.session.scalars(stmt.limit(EXPORT_MAX_ROWS + 1)).all()
    if len(contracts) > EXPORT_MAX_ROWS:  # never a file whose 合计 silently covers part of the view
        raise DomainError(f"符合条件的合同超过 {EXPORT_MAX_ROWS:,} 份，请按年份、类型或状态缩小范围后再导出")
    if request.args.get("columns") == "national":
        data, name = (national.to_xlsx(contracts) if fmt == "xlsx" else national.to_csv(contracts)), "contracts"
    else:
        filters = {**filters, "type_label": CONTRACT_TYPES.get(filters["type"], ("",))[0],
                   "state_label": STATE_LABELS.get(filters["state"], "")}
        table = register_export.register_table(contracts, user=current_user, filters=filters)
        write = dashboard_exports.to_xlsx if fmt == "xlsx" else dashboard_exports.to_csv
        data = write(table, filer=register_export.filer(current_user), made_on=register_export.made_on())
        name = "contracts-register"
    mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if fmt == "xlsx" \
        else "text/csv; charset=utf-8"
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename={name}.{fmt}"})


def _render_form(form, *, deal=None, status: int = 200):
    return render_template("contracts/form.html", form=form, deal=deal, org_names=[] if deal else queries.org_names()), status


@bp.route("/new", methods=["GET", "POST"])
@roles_required("broker", "official", "admin")
def create():
    form = ContractForm().setup()
    if request.method != "POST":
        form.form_token.data = new_form_token()
        if current_user.region_id:
            form.buyer_region_id.data = current_user.region_id
        return _render_form(form)
    if not form.validate_on_submit():
        form.add_problems(services.validate_terms(services.with_outside_places(form.data_dict())))  # all at once
        return _render_form(form, status=400)
    try:
        contract, created = services.contract_record(user=current_user, data=form.data_dict(),
                                                     token=form.form_token.data, scan=request.files.get("scan"))
    except DomainError as err:
        db.session.rollback()
        form.apply_error(err)
        return _render_form(form, status=err.status_code)
    db.session.commit()
    flash(f"技术合同 {contract.registration_no} 已登记", "success")
    for name in created:
        flash(f"单位“{name}”不在平台上，已新建为待认证单位", "warning")
    return redirect(url_for("contracts.detail", contract_id=contract.id))


@bp.route("/from-deal/<int:deal_id>", methods=["GET", "POST"])
@login_required
def from_deal(deal_id: int):
    deal = deal_access.get_deal(deal_id)
    if not deal_access.can_sign_deal(current_user, deal):
        abort(403)
    form = DealContractForm().setup()
    if request.method != "POST":
        if deal.stage != "negotiating":
            flash(f"对接处于“{deal.stage_label}”阶段：只有洽谈阶段的对接可以签约", "warning")
            return redirect(url_for("deals.detail", deal_id=deal.id))
        form.form_token.data = new_form_token()
        form.version.data = str(deal.version)
        form.title.data = deal.title[:200]
        form.buyer_region_id.data = deal.buyer_region_id or 0
        form.seller_region_id.data = deal.seller_region_id or 0
        listing = deal.demand or deal.achievement
        form.field_id.data = listing.field_id if listing and listing.field_id else 0
        if deal.price is not None:  # a 挂牌 or 竞价 price: the contract's 合同成交额
            form.amount.data = deal.price
        return _render_form(form, deal=deal)
    if not form.validate_on_submit():
        form.add_problems(services.validate_terms(services.with_outside_places(
            dict(form.data_dict(), buyer_region_id=deal.buyer_region_id or form.buyer_region_id.data,
                 seller_region_id=deal.seller_region_id or form.seller_region_id.data),
            buyer=deal.buyer_org, seller=deal.seller_org)))
        return _render_form(form, deal=deal, status=400)
    try:
        contract = services.contract_record_from_deal(deal=deal, user=current_user, data=form.data_dict(),
                                                      version=_int_form("version"), token=form.form_token.data,
                                                      scan=request.files.get("scan"))
    except DomainError as err:
        db.session.rollback()
        form.apply_error(err)
        return _render_form(form, deal=deal, status=err.status_code)
    db.session.commit()
    flash(f"已签约，技术合同 {contract.registration_no} 已登记；需求已标记为已解决、成果已标记为已转化", "success")
    return redirect(url_for("contracts.detail", contract_id=contract.id))


@bp.route("/<int:contract_id>")
@login_required
def detail(contract_id: int):
    return _detail_page(access.get_contract(contract_id))


def _detail_page(contract, *, payment_form: PaymentForm | None = None, void_form: VoidForm | None = None,
                 scan_error: str = "", status: int = 200):
    """The contract page; after a refused payment, void or scan upload, with that form as it was posted and its
    errors at their fields (the other forms fresh)."""
    user = current_user
    if payment_form is None:
        payment_form = PaymentForm(formdata=None)
        payment_form.form_token.data = new_form_token()
    can_void = access.can_void_contract(user, contract) and not contract.voided
    void_refusal = access.figures_locked(user, contract) if can_void else None
    can_void = can_void and not void_refusal
    reopen_deal, reopen_listings = services.void_reopens(contract) if can_void else (None, [])
    return render_template(
        "contracts/detail.html",
        contract=contract,
        payments=queries.payments(contract),
        paid=services.paid_total(contract),
        audits=queries.audits(contract) if access.can_see_audit(user, contract) else None,
        can_edit=access.can_edit_contract(user, contract) and not contract.voided,
        can_pay=access.can_record_payment(user, contract) and not contract.voided,
        can_void=can_void,
        void_refusal=void_refusal,
        scan_download_name=scans.download_name(contract),
        scan_error=scan_error,
        reopen_deal=reopen_deal,
        reopen_listings=reopen_listings,
        links=links.links_for_contract(contract),
        payment_form=payment_form,
        void_form=void_form or VoidForm(formdata=None),
        labels=services.FIELD_LABELS,
    ), status


def _refused(err: DomainError) -> int:
    """The status of a form re-rendered after a service refused it: a conflict stays 409, the rest 400."""
    return 409 if err.status_code == 409 else 400


@bp.route("/<int:contract_id>/edit", methods=["GET", "POST"])
@login_required
def edit(contract_id: int):
    contract = access.get_contract(contract_id)
    if access.in_registration(contract) and access.can_view_contract(current_user, contract):
        raise DomainError("该合同正在登记流程中，请在“合同登记”页面办理（修改后重新提交、退回或不予登记）",
                          status_code=409)
    if not access.can_edit_contract(current_user, contract):
        abort(403)
    form = ContractEditForm(obj=contract).setup()
    if request.method != "POST":
        form.version.data = str(contract.version)
        form.field_id.data = contract.field_id or 0
        form.amount.data = contract.amount
        form.tech_amount.data = contract.tech_amount
        return render_template("contracts/edit.html", form=form, contract=contract,
                               figures_note=access.figures_locked(current_user, contract))
    status = 400
    if not form.validate_on_submit():
        form.add_problems(services.validate_terms(services.with_outside_places(  # every error at once
            form.terms(), buyer=contract.buyer_org, seller=contract.seller_org)))
    else:
        try:
            changed = services.contract_update(contract=contract, user=current_user, data=form.terms(),
                                               version=_int_form("version"))
        except DomainError as err:
            db.session.rollback()
            form.apply_error(err)
            status = err.status_code
        else:
            db.session.commit()
            flash("已保存修改：" + "、".join(changed) if changed else "没有需要保存的修改", "success")
            return redirect(url_for("contracts.detail", contract_id=contract.id))
    return render_template("contracts/edit.html", form=form, contract=contract,
                           figures_note=access.figures_locked(current_user, contract)), status


@bp.route("/<int:contract_id>/void", methods=["POST"])
@login_required
def void(contract_id: int):
    contract = access.get_contract(contract_id)
    if access.in_registration(contract) and access.can_view_contract(current_user, contract):
        raise DomainError("该合同正在登记流程中，请在“合同登记”页面办理（修改后重新提交、退回或不予登记）",
                          status_code=409)
    if not access.can_void_contract(current_user, contract):
        abort(403)
    form = VoidForm()
    if not form.validate_on_submit():
        return _detail_page(contract, void_form=form, status=400)
    try:
        services.contract_void(contract=contract, user=current_user, reason=form.reason.data)
    except DomainError as err:
        db.session.rollback()
        if err.status_code in (403, 404):
            raise
        form.apply_error(err)
        return _detail_page(contract, void_form=form, status=_refused(err))
    db.session.commit()
    flash("合同已作废（记录保留，不计入统计）", "success")
    return redirect(url_for("contracts.detail", contract_id=contract.id))


@bp.route("/<int:contract_id>/payments", methods=["POST"])
@login_required
def add_payment(contract_id: int):
    contract = access.get_contract(contract_id)
    if not access.can_record_payment(current_user, contract):
        abort(403)
    form = PaymentForm()
    if form.validate_on_submit():
        try:
            services.payment_add(contract=contract, user=current_user, paid_on=form.paid_on.data,
                                 amount=form.amount.data, note=form.note.data or "", token=form.form_token.data)
        except DomainError as err:
            db.session.rollback()
            if err.status_code in (403, 404):
                raise
            form.apply_error(err)
            status = _refused(err)
        else:
            db.session.commit()
            flash("到账已登记", "success")
            return redirect(url_for("contracts.detail", contract_id=contract.id) + "#payments")
    else:
        status = 400
        form.add_problems(services.payment_problems(contract=contract, paid_on=form.paid_on.data,
                                                    amount=form.amount.data, note=form.note.data or ""))
    form_token_keep_or_issue(form)
    return _detail_page(contract, payment_form=form, status=status)


@bp.route("/<int:contract_id>/scan", methods=["POST"])
@login_required
def upload_scan(contract_id: int):
    contract = access.get_contract(contract_id)
    if not access.can_edit_contract(current_user, contract):
        abort(403)
    try:
        services.contract_set_scan(contract=contract, user=current_user, scan=request.files.get("scan"))
    except DomainError as err:
        db.session.rollback()
        if err.status_code in (403, 404):
            raise
        return _detail_page(contract, scan_error=err.fields.get("scan") or err.message, status=_refused(err))
    db.session.commit()
    flash("扫描件已上传", "success")
    return redirect(url_for("contracts.detail", contract_id=contract.id))


@bp.route("/<int:contract_id>/scan")
@login_required
def download_scan(contract_id: int):
    contract = access.get_contract(contract_id)
    path = scans.scan_file(contract.scan_path)
    if path is None:
        abort(404)
    # always a .pdf named after the contract; the uploader's file name is kept only as data
    response = send_file(path, mimetype="application/pdf", as_attachment=True, max_age=0)
    response.headers["Content-Disposition"] = scans.content_disposition(contract)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _import_page(form, *, report=None, error=None) -> str:
    return render_template("contracts/import.html", form=form, report=report, error=error,
                           runs=import_runs.recent_runs(current_user))


@bp.route("/import", methods=["GET", "POST"])
@roles_required("broker", "official", "admin")
def import_file():
    form = ImportForm()
    if request.method != "POST":
        return _import_page(form)
    if not form.validate_on_submit():
        return _import_page(form, error=first_error(form)), 400
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _import_page(form, error="请选择要导入的文件"), 400
    try:
        rows = read_rows(upload.read(), name=upload.filename, layout=importer.LAYOUT)
    except ImportFileError as err:
        return _import_page(form, error=err.message), 400
    if len(rows) > current_app.config["IMPORT_SYNC_ROWS"]:
        run = import_runs.import_run_create(user=current_user, rows=rows, filename=upload.filename,
                                            skip_bad=form.skip_bad.data)
        db.session.commit()
        flash(f"文件已上传（{len(rows)}行），正在后台检查和导入；完成后会通知您，也可在本页查看进度。", "info")
        return redirect(url_for("contracts.import_result", run_id=run.id), code=303)
    report = importer.import_contracts(rows=rows, user=current_user, skip_bad=form.skip_bad.data,
                                       scoped=current_user.role != "admin")
    if not report.stored:
        db.session.rollback()
        return _import_page(form, report=report), 400
    db.session.commit()
    return _import_page(form, report=report)


@bp.route("/imports/<int:run_id>")
@roles_required("broker", "official", "admin")
def import_result(run_id: int):
    run = import_runs.get_run(run_id, current_user)
    if run is None:
        abort(404)
    return render_template("contracts/import_result.html", run=run, report=run.report_data())


@bp.route("/import/template.xlsx")
@roles_required("broker", "official", "admin")
def import_template():
    return send_file(
        io.BytesIO(importer.template_workbook()),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name="技术合同导入模板.xlsx",
    )
