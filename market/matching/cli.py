"""`flask --app app match ...`: recompute stored suggestions, export them as JSON lines."""
from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from ..database import write_intent
from ..extensions import db
from . import degree, queries, services

match_group = click.Group("match", help="推荐匹配：重新计算、导出、拟合模型")


@match_group.command("refresh")
@click.option("--all", "everything", is_flag=True, help="Recompute every published listing (default: only those without any suggestion).")
@click.option("--demand", "demand_id", type=int, help="Recompute one need.")
@click.option("--achievement", "achievement_id", type=int, help="Recompute one result.")
@with_appcontext
def refresh(everything: bool, demand_id: int | None, achievement_id: int | None) -> None:
    """Bring stored suggestions up to date: drop pairs of unpublished listings, then recompute."""
    app = current_app._get_current_object()
    with Session(db.engine) as session:
        removed = services.suggestions_purge(session=session)
        session.commit()
        token = write_intent.set(False)
        try:
            if demand_id or achievement_id:
                keys = ([("demand", demand_id)] if demand_id else []) + ([("achievement", achievement_id)] if achievement_id else [])
            elif everything:
                keys = services.all_matchable(session)
            else:
                keys = services.listings_without_suggestions(session)
        finally:
            write_intent.reset(token)
    report = services.refresh_listings(app, keys, catch_up=True)
    click.echo(f"已清理下架条目的推荐 {removed} 条；重新计算 {report.listings} 个条目，"
               f"写入推荐 {report.stored} 条，移除 {report.removed} 条"
               + (f"，失败 {report.failed} 个（详见日志）" if report.failed else "") + "。")
    if report.failed:
        sys.exit(1)


@match_group.command("export")
@click.option("--limit", "limit", type=click.IntRange(1, 100), default=10, show_default=True,
              help="Suggestions per need.")
@with_appcontext
def export(limit: int) -> None:
    """One JSON object per published need, one a line, with its stored suggestions best first."""
    for demand, pairs in queries.export_rows(db.session, limit=limit):
        line = {
            "demand": {"id": demand.id, "external_id": demand.external_id, "title": demand.title},
            "suggestions": [
                {"id": a.id, "external_id": a.external_id, "title": a.title, "score": round(s.score, 2),
                 "degree": degree.match_degree(s.score), "strength": degree.strength_label(degree.match_degree(s.score)),
                 "reasons": queries.reasons_of(s)}
                for a, s in pairs
            ],
        }
        click.echo(json.dumps(line, ensure_ascii=False))


@match_group.command("fit")
@click.option("--related", type=click.FloatRange(0, 0.9), default=None,
              help="Soft label of a same-field pairing (default: the value the benchmark chose).")
@click.option("--dry-run", is_flag=True, help="Print the figures; write no model file.")
@click.option("--topic", is_flag=True,
              help="Also train the technical-field classifier on the listings with a field (the topic signal; "
                   "compare the held-out figures with and without it).")
@with_appcontext
def fit(related: float | None, dry_run: bool, topic: bool) -> None:
    """Fit the matching model on this market's listings and store it beside the search index."""
    from ..search.indexing import replica
    from . import engine, fitting

    backend = replica().backend()
    token = write_intent.set(False)
    try:
        report = fitting.model_fit(session=db.session, backend=backend,
                                   related=fitting.RELATED_LABEL if related is None else related, topic=topic)
    except fitting.NotEnoughData as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    finally:
        db.session.rollback()
        write_intent.reset(token)
    names = {"probe": "按关键词探测本条目", "deal": "已确认的对接与意向"}
    click.echo(f"拟合样本：{report.sources} 个条目的探测需求，{report.deal_probes} 个已确认配对的需求，{report.rows} 行。")
    clf = report.model.classifier
    if topic:
        click.echo(f"技术领域分类器：{sum(clf.docs.values())} 个选了技术领域的条目，{len(clf.docs)} 个领域。" if clf is not None
                   else "技术领域分类器：选了技术领域的条目不足两个领域，未训练（topic 信号为 0）。")
    for kind, value in report.held_out.items():
        click.echo(f"{names[kind]}：MRR@10 留出（2 折）{value:.3f}，样本内 {report.in_sample[kind]:.3f}")
    click.echo("权重：" + "，".join(f"{n} {w:+.2f}" for n, w in report.model.weights.items())
               + f"，偏置 {report.model.bias:+.2f}")
    if dry_run:
        return
    path = engine.model_path_for(backend)
    fitting.model_write(report.model, path)
    click.echo(f"已写入 {path}（优先于随附模型；删除该文件即恢复随附模型）。")


COMMANDS = (match_group,)
