"""`flask --app app stats ...`: the dashboard's contract figures on the command line, and summary upkeep."""
from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from ..extensions import db
from . import stats

stats_group = click.Group("stats", help="Contract statistics (the same figures as the dashboard).")

SIDES = {"buyer": "b", "seller": "s"}


def contract_figures(*, year: int, by: str, level: str | None, side: str) -> dict:
    """{"rows": [...], "total": {...}}: counts and sums (two-decimal strings) for one side, all regions."""
    period = stats.Period.year(year)
    code = SIDES[side]
    rows = stats.breakdown(by, scope=None, period=period, level=(level or "county") if by == "region" else None)
    out = []
    for row in rows:
        key = row.key
        if by == "region" and row.region is None and row[code].n == 0:
            continue  # nothing above the level on this side
        if by == "region":
            key = row.region.code if row.region is not None else None
        elif by == "field":
            key = row.key  # the root field code, or None for contracts without a field
        out.append({"key": key, "name": row.name, **row[code].as_dict()})
    total = stats.totals(scope=None, period=period)[code]
    return {"rows": out, "total": total.as_dict()}


@stats_group.command("contracts")
@click.option("--year", type=click.IntRange(1900, 2200), required=True, help="Calendar year of signing.")
@click.option("--by", "by", type=click.Choice(["region", "type", "month", "field"]), required=True)
@click.option("--level", type=click.Choice(["city", "county", "town"]), default=None,
              help="With --by region: count each contract under its region's ancestor at this level (default county).")
@click.option("--side", type=click.Choice(["buyer", "seller"]), default="buyer", show_default=True,
              help="Whose region counts: the buyer's (吸纳) or the seller's (输出).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@with_appcontext
def contracts_command(year: int, by: str, level: str | None, side: str, as_json: bool) -> None:
    """Live (not voided) contracts signed in YEAR, grouped, with count, 成交额 and 技术交易额 in 元."""
    if level and by != "region":
        raise click.UsageError("--level 只能与 --by region 一起使用")
    stats.plan_each_query()
    figures = contract_figures(year=year, by=by, level=level, side=side)
    if as_json:
        click.echo(json.dumps(figures, ensure_ascii=False, indent=2))
        return
    click.echo(f"{year}年技术合同（{'吸纳' if side == 'buyer' else '输出'}口径）")
    click.echo(f"{'名称':<20}{'份数':>10}{'成交额（元）':>24}{'技术交易额（元）':>24}")
    for row in figures["rows"] + [{"name": "合计", **figures["total"]}]:
        click.echo(f"{row['name']:<20}{row['count']:>10}{row['amount']:>26}{row['tech_amount']:>26}")


@stats_group.command("report")
@click.option("--table", "code", required=True, help="报表编号：T1 至 T10。")
@click.option("--year", required=True, help="统计年度，如 2026。")
@click.option("--quarter", default=None, help="季度 1 至 4（不填为全年）。")
@click.option("--region", "region_code", default=None, help="区域代码（不填为全部区域）。")
@click.option("--xlsx", "path", required=True, type=click.Path(dir_okay=False, writable=True),
              help="写出的 .xlsx 文件。")
@with_appcontext
def report_command(code: str, year: str, quarter: str | None, region_code: str | None, path: str) -> None:
    """Write one report table (T1–T10, issue 16) as an .xlsx in 万元: the same figures as the dashboard's 报表 tab."""
    from sqlalchemy import select

    from ..models import Region
    from . import exports, queries, reports

    code = code.strip().upper()
    if code not in reports.REPORTS:
        raise click.BadParameter(f"报表编号无效：{code}，可选 {', '.join(reports.REPORTS)}", param_hint="--table")
    if not (year.isascii() and year.isdigit() and 2000 <= int(year) <= 2100):
        raise click.BadParameter(f"年份无效：{year}，请填写 2000 至 2100 之间的年份", param_hint="--year")
    if quarter is not None and quarter not in ("1", "2", "3", "4"):
        raise click.BadParameter(f"季度无效：{quarter}，请填写 1、2、3 或 4", param_hint="--quarter")
    if not path.lower().endswith(".xlsx"):
        raise click.BadParameter(f"文件名须以 .xlsx 结尾：{path}", param_hint="--xlsx")
    region = None
    if region_code is not None:
        region = db.session.scalar(select(Region).where(Region.code == region_code.strip()))
        if region is None:
            raise click.BadParameter(f"区域代码不存在：{region_code}", param_hint="--region")
    period = stats.Period.quarter(int(year), int(quarter)) if quarter else stats.Period.year(int(year))
    stats.plan_each_query()
    place = region.name if region is not None else "全部区域"
    report = reports.build(code, scope=region, period=period, place=place)
    data = exports.to_xlsx(report.table, filer=reports.filer(region), made_on=queries.today())
    try:
        with open(path, "wb") as out:
            out.write(data)
    except OSError as err:
        raise click.ClickException(f"无法写入文件 {path}：{err.strerror}") from err
    click.echo(f"已写出 {report.table.title}（{place} · {period.label}，单位：万元）：{path}")


@stats_group.command("check")
@with_appcontext
def check_command() -> None:
    """Compare the monthly summary with the contracts table; exit 1 on any difference. Also lists the
    organisations still placed on the city node (issue 16: their real place is not known yet)."""
    from .queries import orgs_on_city_node

    unplaced = db.session.scalars(orgs_on_city_node(None)).all()
    if unplaced:
        click.echo(f"仍登记在市本级、未填写实际所在地的单位 {len(unplaced)} 个（请在单位资料中选择所在区县，"
                   "或填写市外单位的行政区划代码、境外单位的国别）：")
        for org in unplaced[:50]:
            click.echo(f"  {org.name}")
    from ..models.checks import check_drift

    drift = stats.summary_drift()
    wrong = check_drift(db.session.connection())
    if wrong:
        drift.append(f"{wrong} 份合同的数据核查字段（双方单位类型、疑似重复标记）与明细不符")
    if not drift:
        click.echo("合同统计汇总表与合同明细一致。")
        return
    for item in drift[:50]:
        click.echo(f"不一致：{item}", err=True)
    raise click.ClickException(f"共 {len(drift)} 处不一致，可运行 `flask --app app stats rebuild` 重建。")


@stats_group.command("rebuild")
@with_appcontext
def rebuild_command() -> None:
    """Recompute the monthly summary, and the data checks' columns, from the contracts table (one transaction)."""
    from ..models.checks import fill_check_columns
    from ..models.stats import rebuild_contract_stats

    rebuild_contract_stats(db.session.connection())
    fill_check_columns(db.session.connection())
    db.session.commit()
    click.echo("合同统计汇总表已重建。")


COMMANDS = (stats_group,)
