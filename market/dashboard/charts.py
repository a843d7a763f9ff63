"""Chart data for static/js/dashboard.js (ECharts): the dashboard's figures as series, amounts in 万元 with two
decimals (the page adds separators) and the exact yuan for the tooltip.

Pages pass the rows they already hold and the links they build from the request; nothing here reads the database.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP

from ..models.contract import TARGET_METRICS
from ..models.region import LEVELS
from ..money import CENT, WAN, format_yuan
from . import stats


def _wan(value) -> str:
    """The number of 万元 with two decimals, as ECharts reads it (the page formats it with separators)."""
    return str((value / WAN).quantize(CENT, rounding=ROUND_HALF_UP))


def breakdown_chart(chart_id: str, title: str, rows: list[stats.Row], *, kind: str = "bar",
                    links: list | None = None) -> dict:
    """吸纳 and 输出 成交额 of each row, in 万元 (the table beside the chart holds the same figures)."""
    return {
        "id": chart_id,
        "title": title,
        "kind": kind,
        "unit": "万元",
        "categories": [r.name for r in rows],
        "links": links or [None] * len(rows),
        "series": [
            {"name": "吸纳成交额", "data": [_wan(r["b"].amount) for r in rows],
             "exact": [format_yuan(r["b"].amount) for r in rows]},
            {"name": "输出成交额", "data": [_wan(r["s"].amount) for r in rows],
             "exact": [format_yuan(r["s"].amount) for r in rows]},
        ],
    }


def overview_charts(tables: dict[str, list[stats.Row]], *, region_links: list) -> list[dict]:
    """The main page's four charts: by sub-region (each bar links to that region), month, contract type, field."""
    return [
        breakdown_chart("chart-region", "按下级区域（成交额，万元）", tables["region"], links=region_links),
        breakdown_chart("chart-month", "按月份（成交额，万元）", tables["month"], kind="line"),
        breakdown_chart("chart-type", "按合同类型（成交额，万元）", tables["type"]),
        breakdown_chart("chart-field", "按技术领域（成交额，万元）", tables["field"]),
    ]


def ranked_level(board) -> str:
    """What the ranking ranks, by the level of its rows: 县区 under a city, 镇街道 under a county, 市 for an
    administrator's whole view (the 镇办竞赛 of a city is a ranking of its counties)."""
    levels = {row.region.level for row in board.rows}
    return LEVELS[levels.pop()] if len(levels) == 1 else "下级区域"


def ranking_chart(board, *, metric: str, links: list) -> dict:
    """The targets page's ranking: each region's completion rate of `metric` beside the rate expected by today."""
    return {
        "id": "chart-ranking",
        "title": f"各{ranked_level(board)}{TARGET_METRICS[metric]}完成率（%）",
        "kind": "bar",
        "horizontal": True,  # long names (蚌埠高新技术产业开发区) read whole on the category axis
        "unit": "%",
        "categories": [row.region.name for row in board.rows],
        "links": links,
        "series": [{"name": "完成率", "data": [str(row.progress[metric].rate or 0) for row in board.rows]},
                   {"name": "应完成", "data": [str(row.progress[metric].expected_rate or 0) for row in board.rows]}],
    }
