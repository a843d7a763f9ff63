"""Command-line interface: `flask --app app <command>`."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext

from .extensions import db


#: `flask --app app import <what> FILE`: every importer adds its subcommand to this group.
import_group = click.Group("import", help="Import reference data and records from CSV, JSONL or Excel files.")

#: exit status of `import ... --skip-bad` that stored the good rows and skipped bad ones (0: none skipped)
EXIT_SKIPPED = 3

skip_bad_option = click.option(
    "--skip-bad", is_flag=True,
    help=f"Store the good rows and report the bad ones. Exits 0 only when no row was skipped, "
         f"{EXIT_SKIPPED} when good rows were stored and bad ones skipped.",
)


def read_import_file(path: str, layout) -> list[tuple[int, dict]]:
    """The rows of an import file (market.imports.read_rows); a file that cannot be read ends the command."""
    from .imports import ImportFileError, read_rows

    try:
        return read_rows(path, layout=layout)
    except ImportFileError as exc:
        raise click.ClickException(exc.message) from exc


def finish_import(report, *, what: str, summary: list[str]) -> None:
    """Print every bad row; commit and print `summary` when rows were stored, else roll back and fail.

    Exit status: 0 when every row was stored, EXIT_SKIPPED when --skip-bad left bad rows out, 1 when
    nothing was stored. The last summary line is followed by the count of skipped rows.
    """
    for bad in report.bad:
        click.echo(f"第{bad.line}行" + (f"（{bad.ref}）" if bad.ref else "") + f"：{bad.reason}", err=True)
    if not report.stored:
        db.session.rollback()
        raise click.ClickException(f"共 {len(report.bad)} 行有误，未导入任何{what}（可用 --skip-bad 只导入正确的行）。")
    if report.bad and report.total <= len(report.bad):
        db.session.rollback()
        raise click.ClickException(f"共 {len(report.bad)} 行有误，没有正确的行，未导入任何{what}。")
    db.session.commit()
    *lines, last = summary
    for line in lines:
        click.echo(line)
    click.echo(last + (f"，跳过有误的 {len(report.bad)} 行。" if report.bad else "。"))
    if report.skipped:
        click.get_current_context().exit(EXIT_SKIPPED)


def register_cli(app: Flask) -> None:
    app.cli.add_command(seed_demo)
    app.cli.add_command(create_admin)
    app.cli.add_command(import_group)

    from .dashboard.cli import stats_group

    app.cli.add_command(stats_group)

    from .contracts.cli import import_contracts_command

    import_group.add_command(import_contracts_command)
    app.cli.add_command(init_reference)

    from .backup import backup_command, restore_command
    from .search.cli import search_group

    app.cli.add_command(search_group)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)

    from .listings.cli import IMPORT_COMMANDS
    from .matching.cli import match_group

    for command in IMPORT_COMMANDS:
        import_group.add_command(command)
    app.cli.add_command(match_group)

    from .jobs.cli import jobs_group

    app.cli.add_command(jobs_group)


@click.command("seed-demo")
@click.option("--force", is_flag=True, help="Seed even if the database already has users.")
@with_appcontext
def seed_demo(force: bool) -> None:
    """Fill an empty database with a realistic demo market and print the demo log-ins."""
    from .seed import seed_demo_data, seed_demo_pipeline

    from .models import User

    if not force and db.session.scalar(db.select(db.func.count()).select_from(User)):
        click.echo("数据库已有数据，跳过演示数据（使用 --force 强制写入）。")
        return
    logins = seed_demo_data()
    db.session.commit()
    # the demo's pipeline claims suggestions: they are computed here, not left to the job queue
    from .matching.handlers import catch_up_now

    catch_up_now()
    seed_demo_pipeline()
    db.session.commit()
    click.echo("演示数据已写入。演示账号（密码均为 Demo@2026pass）：")
    for role, username, label in logins:
        click.echo(f"  {role:<12} {username:<16} {label}")


@click.command("create-admin")
@click.option("--username", prompt="用户名")
@click.option("--name", prompt="姓名")
@click.password_option("--password", prompt="密码")
@with_appcontext
def create_admin(username: str, name: str, password: str) -> None:
    """Create an administrator account for a real deployment (the same checks as the admin page's)."""
    from .admin.services import user_create
    from .errors import DomainError

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
    """Insert the field taxonomy (技术领域) when it is empty; safe to run again."""
    from .reference import ensure_fields

    added = ensure_fields()
    db.session.commit()
    click.echo(f"已写入技术领域 {added} 个。" if added else "技术领域已存在，未做改动。")


@import_group.command("regions")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@skip_bad_option
@with_appcontext
def import_regions(path: str, skip_bad: bool) -> None:
    """Import 行政区划 from a .csv or .jsonl file (columns: code, name, parent_code, level)."""
    from .admin.services import REGION_LAYOUT, regions_import

    rows = read_import_file(path, REGION_LAYOUT)
    report = regions_import([{**row, "_line": line} for line, row in rows], skip_bad=skip_bad)
    finish_import(report, what="数据", summary=[
        f"导入完成：新增 {report.created} 个，更新 {report.updated} 个，未变 {report.unchanged} 个"])
