"""Command-line interface: `flask --app app <command>`."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext

from .extensions import db


def register_cli(app: Flask) -> None:
    app.cli.add_command(seed_demo)
    app.cli.add_command(create_admin)


@click.command("seed-demo")
@click.option("--force", is_flag=True, help="Seed even if the database already has users.")
@with_appcontext
def seed_demo(force: bool) -> None:
    """Fill an empty database with a realistic demo market and print the demo log-ins."""
    from .seed import seed_demo_data

    from .models import User

    if not force and db.session.scalar(db.select(db.func.count()).select_from(User)):
        click.echo("数据库已有数据，跳过演示数据（使用 --force 强制写入）。")
        return
    logins = seed_demo_data()
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
    """Create an administrator account for a real deployment."""
    from .auth.services import password_problem
    from .models import User

    problem = password_problem(password, username=username)
    if problem:
        raise click.ClickException(problem)
    if db.session.scalar(db.select(User.id).where(User.username == username)):
        raise click.ClickException("该用户名已存在")
    user = User(username=username, name=name, role="admin")
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    click.echo(f"管理员 {username} 已创建")
