"""Command-line interface: `flask --app app <command>`. Each feature declares its commands in its own cli.py:
COMMANDS (top-level commands and groups) and IMPORT_COMMANDS (subcommands of `flask --app app import`); they are
registered here, from one list."""
from __future__ import annotations

import click
from flask import Flask

from . import backup, seed
from .admin import cli as admin_cli
from .contracts import cli as contracts_cli
from .dashboard import cli as dashboard_cli
from .jobs import cli as jobs_cli
from .listings import cli as listings_cli
from .matching import cli as matching_cli
from .notifications import cli as notifications_cli
from .search import cli as search_cli

COMMAND_MODULES = (seed, admin_cli, listings_cli, contracts_cli, matching_cli, dashboard_cli, search_cli, jobs_cli,
                   backup, notifications_cli)


def register_cli(app: Flask) -> None:
    import_group = click.Group("import", help="Import reference data and records from CSV, JSONL or Excel files.")
    for module in COMMAND_MODULES:
        for command in getattr(module, "COMMANDS", ()):
            app.cli.add_command(command)
        for command in getattr(module, "IMPORT_COMMANDS", ()):
            import_group.add_command(command)
    app.cli.add_command(import_group)
