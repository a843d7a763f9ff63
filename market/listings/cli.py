"""`flask --app app import achievements|demands FILE`: listings collected offline by brokers."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..extensions import db

KIND_WORD = {"achievement": "科技成果", "demand": "技术需求"}


def _run(kind: str, path: str, skip_bad: bool) -> None:
    from ..imports import ImportFileError, read_rows
    from .importing import listings_import

    try:
        rows = read_rows(path)
        report = listings_import(kind=kind, rows=rows, skip_bad=skip_bad)
    except ImportFileError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    for bad in report.bad:
        click.echo(f"第{bad.line}行" + (f"（{bad.external_id}）" if bad.external_id else "") + f"：{bad.reason}", err=True)
    if not report.stored:
        db.session.rollback()
        raise click.ClickException(f"共 {len(report.bad)} 行有误，未导入任何数据（可用 --skip-bad 只导入正确的行）。")
    db.session.commit()
    if report.new_orgs:
        click.echo(f"新建单位 {len(report.new_orgs)} 个（未认证，请在审核中认证）：" + "、".join(report.new_orgs))
    if report.placeholder_owners:
        click.echo(f"为没有账号的单位建立了不能登录的占位账号 {len(report.placeholder_owners)} 个。")
    click.echo(f"{KIND_WORD[kind]}导入完成并已发布：新增 {report.created} 条，更新 {report.updated} 条，未变 {report.unchanged} 条"
               + (f"，跳过有误的 {len(report.bad)} 行。" if report.bad else "。"))


@click.command("achievements")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--skip-bad", is_flag=True, help="Store the good rows and report the bad ones.")
@with_appcontext
def import_achievements(path: str, skip_bad: bool) -> None:
    """Import 科技成果 from .jsonl, .csv or .xlsx (external_id, title, summary, keywords, organization, ...)."""
    _run("achievement", path, skip_bad)


@click.command("demands")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--skip-bad", is_flag=True, help="Store the good rows and report the bad ones.")
@with_appcontext
def import_demands(path: str, skip_bad: bool) -> None:
    """Import 技术需求 from .jsonl, .csv or .xlsx (external_id, title, description, keywords, organization, ...)."""
    _run("demand", path, skip_bad)


IMPORT_COMMANDS = (import_achievements, import_demands)
