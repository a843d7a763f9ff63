"""`flask --app app search ...`: catch up, rebuild and check the local index copy; ask every node to rebuild."""
from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select

from ..database import write_intent
from ..extensions import db
from ..models import IndexChange
from .indexing import replica

search_group = click.Group("search", help="搜索索引：同步、重建、校验")


def _read_only() -> None:
    """These commands only read the database: a deferred BEGIN, so on SQLite a long rebuild never
    holds the write lock that the site's writers wait for (they give up after the busy timeout)."""
    write_intent.set(False)


@search_group.command("sync")
@with_appcontext
def sync() -> None:
    """Apply the change log to this node's index copy (also done before every search)."""
    _read_only()
    try:
        report = replica().catch_up(force=True)
    except Exception as exc:
        raise click.ClickException(f"索引无法更新（{exc}），变更日志仍完整保存，恢复后再运行本命令或等待自动追上") from exc
    click.echo(f"applied up to seq {report.seq}: {report.upserted} indexed, {report.deleted} removed; waiting gaps: {report.gaps}")


@search_group.command("reindex")
@click.option("--all-nodes", is_flag=True,
              help="Record a rebuild request instead: every node's job consumer rebuilds its own copy at its next "
                   "sweep (within a minute).")
@with_appcontext
def reindex(all_nodes: bool) -> None:
    """Rebuild this node's index from the database into a new folder and swap it in."""
    if all_nodes:
        from .rebuild import rebuild_request

        request, created = rebuild_request(source="cli")
        db.session.commit()
        click.echo(f"重建请求 #{request.id} " + ("已记录" if created else "刚刚已记录，未重复记录")
                   + "：各节点的后台任务进程将在下一次巡检（一分钟内）开始重建各自的索引副本。")
        return
    _read_only()
    try:
        total = replica().reindex()
    except Exception as exc:
        raise click.ClickException(f"重建失败（{exc}），正在使用的索引未受影响") from exc
    click.echo(f"reindexed {total} public listings")


@search_group.command("check")
@with_appcontext
def check() -> None:
    """Report drift between the database and the index; exit 1 when there is any, 2 when the index cannot be
    brought up to date (a full or failing disk) or read."""
    _read_only()
    index = replica()
    failure = None
    try:
        index.catch_up(force=True)
    except Exception as exc:
        failure = exc
    try:
        drift = index.check(catch_up=False)
    except Exception as exc:
        click.echo(f"无法读取索引（{exc}）", err=True)
        sys.exit(2)
    for name, label in (("missing", "missing from the index"), ("phantom", "in the index but not public"), ("stale", "stale version")):
        ids = drift[name]
        click.echo(f"{label}: {len(ids)}" + (f" ({', '.join(ids[:20])}{' ...' if len(ids) > 20 else ''})" if ids else ""))
    if failure is not None:
        applied = int(index.applied().get("seq") or 0)
        newest = db.session.scalar(select(func.max(IndexChange.seq))) or 0
        click.echo(f"索引无法更新：{failure}。已应用到变更 {applied}，变更日志到 {newest}（落后 {max(newest - applied, 0)} 条），"
                   "搜索结果可能不完整；数据库与变更日志完好，释放空间或修复后各进程会自动追上（或运行 flask search sync）。")
        sys.exit(2)
    if any(drift.values()):
        sys.exit(1)
    click.echo("index matches the database")


COMMANDS = (search_group,)
