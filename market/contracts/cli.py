"""`flask --app app import contracts FILE`: contracts registered elsewhere."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from ..extensions import db


@click.command("contracts")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--skip-bad", is_flag=True, help="Store the good rows and report the bad ones.")
@click.option("--user", "username", default="", help="Record as this user (default: the first administrator).")
@with_appcontext
def import_contracts_command(path: str, skip_bad: bool, username: str) -> None:
    """Import technology contracts from a .jsonl, .csv (UTF-8) or .xlsx file.

    Fields: registration_no, type, subtype, buyer, seller, buyer_region, seller_region,
    amount, tech_amount (元), signed_on (YYYY-MM-DD), field.
    """
    from ..models import User
    from .importer import ImportFileError, import_contracts, read_rows

    if username:
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None:
            raise click.ClickException(f"用户 {username} 不存在")
    else:
        user = db.session.scalar(select(User).where(User.role == "admin", User.active.is_(True)).order_by(User.id))
        if user is None:
            raise click.ClickException("没有管理员账号：请先创建管理员，或用 --user 指定登记人")
    try:
        rows = read_rows(Path(path).read_bytes(), path)
    except ImportFileError as exc:
        raise click.ClickException(exc.message) from exc
    report = import_contracts(rows=rows, user=user, skip_bad=skip_bad)
    for bad in report.bad:
        click.echo(f"第{bad.line}行" + (f"（{bad.registration_no}）" if bad.registration_no else "") + f"：{bad.reason}", err=True)
    if report.refused:
        db.session.rollback()
        raise click.ClickException(
            f"共 {len(report.bad)} 行有误，未导入任何合同（可用 --skip-bad 只导入正确的行）。"
        )
    db.session.commit()
    for name in report.created_orgs:
        click.echo(f"新建单位（待认证）：{name}")
    click.echo(f"导入完成：共 {report.total} 行，导入 {len(report.stored)} 份合同"
               + (f"，跳过有误的 {len(report.bad)} 行。" if report.bad else "。"))
