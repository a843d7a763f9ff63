"""`flask --app app create-admin`, `init-reference` and `import regions FILE`: what an administrator sets up."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..clitools import finish_import, read_import_file, skip_bad_option
from ..errors import DomainError
from ..extensions import db
from ..reference import ensure_fields, ensure_return_reasons
from .services import REGION_LAYOUT, regions_import, user_create


@click.command("create-admin")
@click.option("--username", prompt="用户名")
@click.option("--name", prompt="姓名")
@click.password_option("--password", prompt="密码")
@with_appcontext
def create_admin(username: str, name: str, password: str) -> None:
    """Create an administrator account for a real deployment (the same checks as the admin page's)."""
    try:
        user = user_create(role="admin", username=username, name=name, password=password)
    except DomainError as err:
        db.session.rollback()
        raise click.ClickException("；".join(err.fields.values()) or err.message) from None
    db.session.commit()
    click.echo(f"管理员 {user.username} 已创建")


@click.command("init-reference")
@with_appcontext
def init_reference() -> None:
    """Insert the field taxonomy (技术领域), the stock 退回 reasons, the 登记表 codes and the seeded 节假日安排 when
    missing; safe to run again."""
    added = ensure_fields()
    reasons = ensure_return_reasons()
    from ..contracts.regcodes import ensure_reg_codes

    codes = ensure_reg_codes()
    from ..registration.calendar import ensure_seed

    holidays = ensure_seed()
    db.session.commit()
    click.echo(f"已写入技术领域 {added} 个。" if added else "技术领域已存在，未做改动。")
    if reasons:
        click.echo(f"已写入常用退回理由 {reasons} 条。")
    if codes:
        click.echo(f"已写入登记表代码 {codes} 个。")
    if holidays:
        click.echo(f"已写入节假日安排 {holidays} 天。")


@click.command("regions")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@skip_bad_option
@with_appcontext
def import_regions(path: str, skip_bad: bool) -> None:
    """Import 行政区划 from a .csv or .jsonl file (columns: code, name, parent_code, level)."""
    rows = read_import_file(path, REGION_LAYOUT)
    report = regions_import([{**row, "_line": line} for line, row in rows], skip_bad=skip_bad)
    finish_import(report, what="数据", summary=[
        f"导入完成：新增 {report.created} 个，更新 {report.updated} 个，未变 {report.unchanged} 个"])


COMMANDS = (create_admin, init_reference)
IMPORT_COMMANDS = (import_regions,)
