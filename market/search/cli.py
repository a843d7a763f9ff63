"""`flask --app app search ...`: catch up, rebuild and check the local index copy."""
from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from ..database import write_intent
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
    report = replica().catch_up()
    click.echo(f"applied up to seq {report.seq}: {report.upserted} indexed, {report.deleted} removed; waiting gaps: {report.gaps}")


@search_group.command("reindex")
@with_appcontext
def reindex() -> None:
    """Rebuild the index from the database into a new folder and swap it in."""
    _read_only()
    total = replica().reindex()
    click.echo(f"reindexed {total} public listings")


@search_group.command("check")
@with_appcontext
def check() -> None:
    """Report drift between the database and the index; exit 1 when there is any."""
    _read_only()
    drift = replica().check()
    for name, label in (("missing", "missing from the index"), ("phantom", "in the index but not public"), ("stale", "stale version")):
        ids = drift[name]
        click.echo(f"{label}: {len(ids)}" + (f" ({', '.join(ids[:20])}{' ...' if len(ids) > 20 else ''})" if ids else ""))
    if any(drift.values()):
        sys.exit(1)
    click.echo("index matches the database")


COMMANDS = (search_group,)
