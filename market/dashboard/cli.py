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
    drift = stats.summary_drift()
    if not drift:
        click.echo("合同统计汇总表与合同明细一致。")
        return
    for item in drift[:50]:
        click.echo(f"不一致：{item}", err=True)
    raise click.ClickException(f"共 {len(drift)} 处不一致，可运行 `flask --app app stats rebuild` 重建。")


@stats_group.command("rebuild")
@with_appcontext
def rebuild_command() -> None:
    """Recompute the monthly summary from the contracts table (one transaction)."""
    from ..models.stats import rebuild_contract_stats

    rebuild_contract_stats(db.session.connection())
    db.session.commit()
    click.echo("合同统计汇总表已重建。")


COMMANDS = (stats_group,)
