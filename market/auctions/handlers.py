"""The auctions' hooks: the jobs sweep closes lots whose end has passed, and `flask auctions close-due` does the
same by hand (each lot in its own transaction; closing a closed lot is a no-op)."""
from __future__ import annotations

import logging

import click
from flask import Flask
from flask.cli import AppGroup

from ..extensions import db
from ..jobs import on_sweep

log = logging.getLogger(__name__)


def close_due() -> int:
    """Close every lot due now; the number closed."""
    from . import services

    closed = 0
    try:
        due = services.due_lot_ids()
    finally:
        # a read: end it, so that the sweep leaves no transaction (on SQLite, an old snapshot) open in the caller's
        # session; the jobs sweep then read a job as still queued after the job had run (tests/test_jobs.py)
        db.session.rollback()
    for lot_id in due:
        try:
            closed += services.lot_close(lot=lot_id)
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("closing auction lot %s failed", lot_id)
    return closed


auctions_cli = AppGroup("auctions", help="竞价 sessions: close lots whose end has passed.")


@auctions_cli.command("close-due")
def close_due_command() -> None:
    """Close every lot whose end has passed (sold or unsold), as the sweep does."""
    click.echo(f"closed {close_due()} lot(s)")


def init_app(app: Flask) -> None:
    on_sweep(close_due)
    app.cli.add_command(auctions_cli)
