"""`flask --app app backup PATH` and `restore PATH`: a consistent copy of the database.

SQLite: the online backup API copies a consistent snapshot while the app keeps serving.
PostgreSQL: pg_dump in custom format (a consistent snapshot by MVCC), pg_restore --clean.
After a restore the search index is rebuilt from the restored rows.
"""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import make_url

from .extensions import db


def _pg_args(url) -> tuple[list[str], dict]:
    args = ["--host", url.host or "127.0.0.1", "--port", str(url.port or 5432), "--username", url.username or "postgres"]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    return args, env


def database_backup(path: str) -> None:
    url = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
    target = os.path.abspath(path)
    os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
    if url.get_backend_name() == "sqlite":
        tmp = target + ".tmp"
        src = sqlite3.connect(url.database)
        dst = sqlite3.connect(tmp)
        try:
            with dst:
                src.backup(dst)
        finally:
            dst.close()
            src.close()
        os.replace(tmp, target)
    elif url.get_backend_name() == "postgresql":
        args, env = _pg_args(url)
        subprocess.run(["pg_dump", *args, "--format=custom", "--no-owner", "--file", target, url.database],
                       check=True, env=env)
    else:  # pragma: no cover
        raise click.ClickException(f"不支持的数据库：{url.get_backend_name()}")


def database_restore(path: str) -> None:
    source = os.path.abspath(path)
    if not os.path.isfile(source):
        raise click.ClickException(f"备份文件不存在：{path}")
    url = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
    db.session.remove()
    db.engine.dispose()
    if url.get_backend_name() == "sqlite":
        with open(source, "rb") as fh:
            if fh.read(16) != b"SQLite format 3\x00":
                raise click.ClickException("不是 SQLite 备份文件")
        src = sqlite3.connect(source)
        dst = sqlite3.connect(url.database)
        try:
            src.backup(dst)  # replaces every page of the live database, under its lock
        finally:
            dst.close()
            src.close()
    elif url.get_backend_name() == "postgresql":
        args, env = _pg_args(url)
        subprocess.run(["pg_restore", *args, "--clean", "--if-exists", "--no-owner", "--single-transaction",
                        "--dbname", url.database, source], check=True, env=env)
    else:  # pragma: no cover
        raise click.ClickException(f"不支持的数据库：{url.get_backend_name()}")
    from .search.indexing import replica

    replica().reindex()


@click.command("backup")
@click.argument("path")
@with_appcontext
def backup_command(path: str) -> None:
    """Write a consistent copy of the database to PATH."""
    database_backup(path)
    click.echo(f"备份完成：{path}")


@click.command("restore")
@click.argument("path")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_command(path: str, yes: bool) -> None:
    """Replace the database with the backup at PATH, then rebuild the search index."""
    if not yes and sys.stdin.isatty():
        click.confirm("恢复将覆盖当前数据库的全部数据，确定继续吗？", abort=True)
    database_restore(path)
    click.echo(f"已从 {path} 恢复，并已重建搜索索引")


COMMANDS = (backup_command, restore_command)
