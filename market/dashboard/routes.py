"""数据看板: contract figures, targets, conversions, 产学研 coverage and data checks for officials and admins.

Every page reads the region from `?region=` (default: the official's own region) and refuses a region
outside the official's scope; every figure, list and export is restricted to that region and below.
"""
from __future__ import annotations

import io
from datetime import date

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.util import identity_key

from ..errors import DomainError, NotAllowed
from ..extensions import db
from ..formtokens import claim_form_token, form_token_keep_or_issue
from ..models import Region, Target
from ..models.contract import TARGET_METRICS
from ..pagination import get_page, paginate
from ..permissions import in_scope, user_region
from . import exports, queries, reports, services, sources, stats
from .charts import overview_charts, ranked_level, ranking_chart
from .forms import TargetForm
from .stats import Period

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")

PERIOD_KINDS = {"year": "全年", "quarter": "季度", "month": "月份", "range": "自定义"}
TABS = (
    ("dashboard.index", "总览"),
    ("dashboard.targets", "目标任务与排名"),
    ("dashboard.conversions", "成果转化"),
    ("dashboard.sources", "成交来源"),
    ("dashboard.coverage", "产学研一对一"),
    ("dashboard.checks", "数据核查"),
    ("dashboard.reports", "报表"),
    ("auctions.results", "竞价"),  # 竞价专场 results of the official's scope, with their export (market/auctions)
)
BREAKDOWNS = ("region", "month", "type", "field")
EXPORT_FORMATS = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                  "csv": "text/csv; charset=utf-8"}
EXPORT_LIMIT = 50_000


@bp.before_request
def _officials_only():
    """Every dashboard URL, every method: anonymous -> sign in; not an official or admin -> 403."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if current_user.role not in ("official", "admin"):
        abort(403)
    if current_user.role == "official" and user_region(current_user) is None:
        raise NotAllowed("您的账号尚未设置管辖区域，请联系管理员")
    stats.plan_each_query()
    return None


@bp.app_template_filter("pct")
def pct(value) -> str:
    return "—" if value is None else f"{value:+.1f}%"


# --- request parsing -------------------------------------------------------------------------------------

def _home() -> Region | None:
    """Where an official's view starts (their region); an administrator's: the only city, else everything."""
    if current_user.role == "official":
        return user_region(current_user)
    roots = db.session.scalars(select(Region).where(Region.parent_id.is_(None)).limit(2)).all()
    return roots[0] if len(roots) == 1 else None


def view_region() -> Region | None:
    """The region asked for with ?region=, checked against the user's scope (refused outside it)."""
    raw = request.args.get("region", "").strip()
    if not raw:
        return _home()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        return _home()
    region = db.session.get(Region, int(raw))
    if region is None:
        abort(404)
    if not in_scope(current_user, region):
        raise NotAllowed("您无权查看该区域的数据")
    return region


def _int_arg(name: str, low: int, high: int) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 4:
        return None
    value = int(raw)
    return value if low <= value <= high else None


def _date_arg(name: str) -> date | None:
    raw = request.args.get(name, "").strip()
    if len(raw) != 10 or not raw.isascii():
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        return None
    return value if 2000 <= value.year <= 2100 else None


def view_period() -> tuple[Period, list[str]]:
    """The period asked for (year / quarter / month / custom range); odd values fall back with a notice."""
    today = queries.today()
    notes: list[str] = []
    kind = request.args.get("period", "year")
    if kind not in PERIOD_KINDS:
        kind = "year"
    year = _int_arg("year", 2000, 2100)
    if year is None:
        if request.args.get("year"):
            notes.append("年份无效，已显示本年数据")
        year = today.year
    if kind == "quarter":
        quarter = _int_arg("quarter", 1, 4) or ((today.month - 1) // 3 + 1 if year == today.year else 1)
        return Period.quarter(year, quarter), notes
    if kind == "month":
        month = _int_arg("month", 1, 12) or (today.month if year == today.year else 1)
        return Period.month(year, month), notes
    if kind == "range":
        start, end = _date_arg("start"), _date_arg("end")
        if start is None or end is None or start > end:
            notes.append("日期范围无效（请填写起止日期，且开始日期不晚于结束日期），已显示全年数据")
            return Period.year(year), notes
        return Period.between(start, end), notes
    return Period.year(year), notes


def _breadcrumb(region: Region | None) -> list[tuple[str, str | None]]:
    """(name, url or None) from the top of the user's scope down to the region shown."""
    crumbs: list[tuple[str, str | None]] = []
    if region is None:
        return [("全部区域", None)]
    ids = region.ancestor_ids
    # the official's own region and what the page loaded are in the session already: only the others are read
    regions = {rid: r for rid in ids if (r := db.session.identity_map.get(identity_key(Region, rid))) is not None}
    missing = [rid for rid in ids if rid not in regions]
    if missing:
        regions.update((r.id, r) for r in db.session.scalars(select(Region).where(Region.id.in_(missing))))
    if current_user.role == "admin" and _home() is None:
        crumbs.append(("全部区域", url_with_region(None)))
    for rid in ids:
        r = regions.get(rid)
        if r is None or not in_scope(current_user, r):
            continue
        crumbs.append((r.name, None if rid == region.id else url_with_region(r.id)))
    return crumbs


def url_with_region(region_id: int | None, endpoint: str | None = None, **extra) -> str:
    args = {k: v for k, v in request.args.items() if k not in ("region", "page")}
    args.update(extra)
    if region_id is not None:
        args["region"] = region_id
    return url_for(endpoint or request.endpoint, **args)


def _place(region: Region | None) -> str:
    return region.name if region is not None else "全部区域"


def _context(region: Region | None, period: Period | None, notes: list[str], **kw) -> dict:
    for note in notes:
        flash(note, "warning")
    return dict(
        region=region,
        place=_place(region),
        period=period,
        period_kinds=PERIOD_KINDS,
        tabs=TABS,
        breadcrumb=_breadcrumb(region),
        export_url=lambda table, fmt, **extra: url_with_region(
            region.id if region is not None else None, "dashboard.export", table=table, format=fmt, **extra
        ),
        drill_url=lambda rid: url_with_region(rid),
        today=queries.today(),
        **kw,
    )


def frame_for_tab() -> tuple[Region | None, Period, dict]:
    """For a page shown under the dashboard's tabs by another part (auctions.results): the region and period asked
    for, checked as the dashboard's own pages check them, and the frame its template (dashboard/_layout.html)
    needs."""
    _officials_only()
    region = view_region()
    period, notes = view_period()
    return region, period, _context(region, period, notes)


# --- pages -----------------------------------------------------------------------------------------------

@bp.route("/")
def index():
    region = view_region()
    period, notes = view_period()
    year = period.start.year
    # the region's targets first: with targets, the year's totals and conversions join the one figures statement
    targets = queries.targets_for([region.id], year) if region is not None else {}
    figures = stats.overview(scope=region, period=period, year_total=bool(targets) and period.kind != "year",
                             conversions=bool(targets))
    current, previous, tables, flows = figures.current, figures.previous, figures.tables, figures.flows
    # 吸纳 equal to 输出 everywhere (every contract inside the scope): each table is shown once, with a note
    one_side = flows.identical and all(row["b"] == row["s"] for rows in tables.values() for row in rows)
    region_links = [None if r.own_level else url_with_region(r.key) for r in tables["region"]]
    charts = overview_charts(tables, region_links=region_links)
    own = None
    if targets:
        board_total = current if period.kind == "year" else figures.year_total
        own = queries.progress_with(region, year, year_total=board_total, targets=targets,
                                    conversions=figures.conversions)
    return render_template(
        "dashboard/index.html",
        **_context(region, period, notes, current=current, previous=previous, tables=tables, charts=charts,
                   region_links=region_links, own=own, growth=queries.growth, flows=flows, one_side=one_side),
    )


@bp.route("/targets")
def targets():
    region = view_region()
    year = _int_arg("year", 2000, 2100) or queries.today().year
    metric = request.args.get("metric", "amount")
    metric = metric if metric in TARGET_METRICS else "amount"
    board = queries.target_board(scope=region, year=year, metric=metric)
    editable = {row.region.id for row in board.rows if services.can_set_target(current_user, row.region)}
    if board.own is not None and services.can_set_target(current_user, board.own.region):
        editable.add(board.own.region.id)
    chart = ranking_chart(board, metric=metric, links=[url_with_region(row.region.id) for row in board.rows])
    return render_template(
        "dashboard/targets.html",
        **_context(region, Period.year(year), [], board=board, year=year, metric=metric, metrics=TARGET_METRICS,
                   editable=editable, charts=[chart], ranked_level=ranked_level),
    )


@bp.route("/targets/<int:region_id>", methods=["GET", "POST"])
def target_edit(region_id: int):
    region = db.session.get(Region, region_id)
    if region is None or not in_scope(current_user, region):
        abort(404)
    if not services.can_set_target(current_user, region):
        raise NotAllowed("只有上级区域的科技局工作人员可以为该区域设定目标任务")
    year = _int_arg("year", 2000, 2100) or queries.today().year
    existing = {t.metric: t for t in db.session.scalars(
        select(Target).where(Target.region_id == region.id, Target.year == year))}
    form = TargetForm()
    if request.method == "GET":
        for metric, t in existing.items():
            getattr(form, metric).data = t.value_amount if metric in queries.MONEY_METRICS else t.value_count
    status = 200
    if form.validate_on_submit():
        try:
            submission = claim_form_token(
                token=form.form_token.data, kind="target", user=current_user,
                link=lambda _id: url_for("dashboard.target_edit", region_id=region.id, year=year))
            services.targets_save(user=current_user, region=region, year=year, values=form.values())
            submission.object_id = region.id  # the record is the region's targets of the year
            db.session.commit()
        except DomainError as err:
            db.session.rollback()
            form.apply_error(err)
            status = err.status_code if err.status_code != 403 else 400
        except IntegrityError:  # someone saved the same target at the same moment
            db.session.rollback()
            form.form_errors.append("该目标刚被他人修改，请刷新页面后重试")
            status = 409
        else:
            flash(f"已保存{region.name}{year}年目标任务", "success")
            parent = region.parent_id if region.parent_id and in_scope(current_user, region.parent) else None
            args = {"year": year}
            if parent is not None:
                args["region"] = parent
            return redirect(url_for("dashboard.targets", **args))
    elif request.method == "POST":
        status = 400
    form_token_keep_or_issue(form)
    return render_template("dashboard/target_edit.html", form=form, target_region=region, year=year,
                           full_name=region.full_name()), status


@bp.route("/conversions")
def conversions():
    region = view_region()
    period, notes = view_period()
    total = stats.conversions(scope=region, period=period)
    by_region = stats.conversions_by_region(scope=region, period=period)
    children = stats.child_regions(region)
    rows = [(child, by_region.get(child.id, {"b": 0, "s": 0, "e": 0})) for child in children]
    if region is not None and region.id in by_region:
        rows.append((None, by_region[region.id]))
    funnel = queries.funnel(scope=region, period=period)
    feedback = queries.match_feedback(scope=region, period=period)
    return render_template(
        "dashboard/conversions.html",
        **_context(region, period, notes, total=total, rows=rows, funnel=funnel, feedback=feedback,
                   previous=stats.conversions(scope=region, period=period.last_year()), growth=queries.growth),
    )


@bp.route("/sources", endpoint="sources")
def sources_page():
    """成交来源 (issue 19): registered contracts by the source, agency and broker of their deal (dashboard.sources)."""
    region = view_region()
    period, notes = view_period()
    side = request.args.get("side", "e")
    side = side if side in sources.SIDES else "e"
    rows = sources.grouped(scope=region, period=period, side=side)
    tables = {"source": ("按来源", sources.by_source(rows)), "agency": ("按服务机构", sources.by_agency(rows)),
              "broker": ("按技术经纪人", sources.by_broker(rows))}
    return render_template("dashboard/sources.html", **_context(region, period, notes, tables=tables, side=side,
                                                                sides=sources.SIDES, top=sources.TOP))


@bp.route("/coverage")
def coverage():
    region = view_region()
    period, notes = view_period()
    summary = queries.coverage_summary(scope=region, period=period)
    # within a region the list holds exactly the uncovered enterprises just counted (no second count query);
    # everything (an administrator) may include enterprises without a region, which the list leaves out
    total = summary.uncovered if region is not None else None
    pagination = paginate(queries.uncovered_enterprises(scope=region, period=period), page=get_page(), total=total)
    return render_template("dashboard/coverage.html",
                           **_context(region, period, notes, summary=summary, pagination=pagination))


@bp.route("/checks")
def checks():
    region = view_region()
    period, notes = view_period()
    check = request.args.get("check", "large")
    check = check if check in queries.CHECKS else "large"
    counts = queries.check_counts(scope=region, period=period)
    pagination = paginate(queries.check_list(check, scope=region, period=period), page=get_page(), total=counts[check])
    return render_template(
        "dashboard/checks.html",
        **_context(region, period, notes, check=check, checks=queries.CHECKS, counts=counts, pagination=pagination,
                   threshold=queries.large_threshold(),
                   unplaced=db.session.scalars(queries.orgs_on_city_node(region).limit(200)).all(),
                   contract_url=(lambda c: url_for("contracts.detail", contract_id=c.id))
                   if "contracts.detail" in current_app.view_functions else None),
    )


@bp.route("/reports", endpoint="reports")
def reports_page():
    """报表: the tables T1–T10 for the region and period, one previewed, each downloadable as .xlsx."""
    region = view_region()
    period, notes = view_period()
    code = request.args.get("table", "T1")
    code = code if code in reports.REPORTS else "T1"
    report = reports.build(code, scope=region, period=period, place=_place(region), preview=True)
    return render_template("dashboard/reports.html",
                           **_context(region, period, notes, report=report, reports=reports.REPORTS, code=code,
                                      headers=exports.unit_headers(report.table.headers, "万元"),
                                      wan_cell=reports.wan_cell))


# --- exports ---------------------------------------------------------------------------------------------

@bp.route("/export")
def export():
    fmt = request.args.get("format", "xlsx")
    if fmt not in EXPORT_FORMATS:
        raise DomainError("导出格式无效，请选择 xlsx 或 csv")
    table = _export_table(request.args.get("table", "summary"))
    made_on = queries.today()
    write = exports.to_xlsx if fmt == "xlsx" else exports.to_csv
    data = write(table, filer=reports.filer(view_region()), made_on=made_on)
    return send_file(io.BytesIO(data), mimetype=EXPORT_FORMATS[fmt], as_attachment=True,
                     download_name=f"{table.filename}.{fmt}", max_age=0)


def _export_table(name: str) -> exports.Table:
    region = view_region()
    place = _place(region)
    if name == "targets":
        year = _int_arg("year", 2000, 2100) or queries.today().year
        metric = request.args.get("metric", "amount")
        return exports.targets_table(queries.target_board(scope=region, year=year, metric=metric), place=place)
    period, _notes = view_period()
    if name in reports.REPORTS:
        return reports.build(name, scope=region, period=period, place=place).table
    if name == "summary":
        current = stats.totals(scope=region, period=period)
        previous = stats.totals(scope=region, period=period.last_year())
        return exports.summary_table(current, previous, queries.growth, place=place, period=period)
    if name in BREAKDOWNS:
        rows = stats.breakdown(name, scope=region, period=period)
        return exports.breakdown_table(name, rows, stats.totals(scope=region, period=period), place=place,
                                       period=period)
    if name == "conversions":
        by_region = stats.conversions_by_region(scope=region, period=period)
        rows = [(c.name, by_region.get(c.id, {})) for c in stats.child_regions(region)]
        if region is not None and region.id in by_region:
            rows.append((f"{region.name}（本级）", by_region[region.id]))
        return exports.conversions_table(rows, stats.conversions(scope=region, period=period),
                                         queries.funnel(scope=region, period=period), place=place, period=period)
    if name == "coverage":
        orgs = db.session.scalars(queries.uncovered_enterprises(scope=region, period=period).limit(EXPORT_LIMIT))
        return exports.coverage_table(orgs, place=place, period=period)
    if name == "flows":
        return exports.flows_table(stats.flows(scope=region, period=period), place=place, period=period)
    if name.startswith("checks_") and name[len("checks_"):] in queries.CHECKS:
        check = name[len("checks_"):]
        contracts = db.session.scalars(queries.check_list(check, scope=region, period=period).limit(EXPORT_LIMIT))
        return exports.checks_table(check, contracts, place=place, period=period)
    abort(404)
