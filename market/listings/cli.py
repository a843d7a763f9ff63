"""`flask --app app import achievements|demands FILE`: listings collected offline by brokers."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..clitools import finish_import, read_import_file, skip_bad_option
from .importing import LAYOUT, listings_import

KIND_WORD = {"achievement": "科技成果", "demand": "技术需求"}


def _run(kind: str, path: str, skip_bad: bool) -> None:
    report = listings_import(kind=kind, rows=read_import_file(path, LAYOUT), skip_bad=skip_bad)
    summary = []
    if report.new_orgs:
        summary.append(f"新建单位 {len(report.new_orgs)} 个（未认证，请在审核中认证）：" + "、".join(report.new_orgs))
    if report.placeholder_owners:
        summary.append(f"为没有账号的单位建立了不能登录的占位账号 {len(report.placeholder_owners)} 个。")
    summary.append(f"{KIND_WORD[kind]}导入完成并已发布：新增 {report.created} 条，更新 {report.updated} 条，"
                   f"未变 {report.unchanged} 条")
    finish_import(report, what="数据", summary=summary)


@click.command("achievements")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@skip_bad_option
@with_appcontext
def import_achievements(path: str, skip_bad: bool) -> None:
    """Import 科技成果 from .jsonl, .csv or .xlsx (external_id, title, summary, keywords, organization, ...)."""
    _run("achievement", path, skip_bad)


@click.command("demands")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@skip_bad_option
@with_appcontext
def import_demands(path: str, skip_bad: bool) -> None:
    """Import 技术需求 from .jsonl, .csv or .xlsx (external_id, title, description, keywords, organization, ...)."""
    _run("demand", path, skip_bad)


IMPORT_COMMANDS = (import_achievements, import_demands)
