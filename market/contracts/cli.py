"""`flask --app app import contracts FILE`: contracts registered elsewhere."""
from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from ..clitools import finish_import, read_import_file, skip_bad_option
from ..extensions import db
from ..models import User
from ..permissions import is_verified_actor, unverified_reason
from .importer import LAYOUT, import_contracts


@click.command("contracts")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@skip_bad_option
@click.option("--user", "username", default="", help="Record as this user (default: the first administrator).")
@with_appcontext
def import_contracts_command(path: str, skip_bad: bool, username: str) -> None:
    """Import technology contracts from a .jsonl, .csv (UTF-8) or .xlsx file.

    Fields: registration_no, type, subtype, buyer, seller, buyer_region, seller_region,
    amount, tech_amount (元), signed_on (YYYY-MM-DD), field.
    """
    if username:
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None:
            raise click.ClickException(f"用户 {username} 不存在")
    else:
        user = db.session.scalar(select(User).where(User.role == "admin", User.active.is_(True)).order_by(User.id))
        if user is None:
            raise click.ClickException("没有管理员账号：请先创建管理员，或用 --user 指定登记人")
    if not is_verified_actor(user) or user.role not in ("broker", "official", "admin"):
        raise click.ClickException(unverified_reason(user) if not is_verified_actor(user)
                                   else f"用户 {user.username} 不能登记技术合同")
    report = import_contracts(rows=read_import_file(path, LAYOUT), user=user, skip_bad=skip_bad)
    finish_import(report, what="合同", summary=[*(f"新建单位（待认证）：{name}" for name in report.created_orgs),
                                               f"导入完成：共 {report.total} 行，导入 {len(report.contracts)} 份合同"])


IMPORT_COMMANDS = (import_contracts_command,)
