"""`flask db upgrade` builds exactly the schema the models describe, and downgrades cleanly."""
from __future__ import annotations

import os
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text

from market import create_app
from market.extensions import db
from tests.helpers import PG_ADMIN_URL


@pytest.fixture
def fresh_url(tmp_path):
    if os.environ.get("MARKET_TEST_DB") == "postgres":
        name = f"market_mig_{uuid.uuid4().hex[:10]}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        yield f"sqlite:///{tmp_path / 'mig.db'}"


def test_upgrade_matches_models_and_downgrades(fresh_url, tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": fresh_url, "SEARCH_INDEX_DIR": str(tmp_path / "ix"), "TESTING": True})
    app.logger  # the app's logger exists before the upgrade, as in any process that logged something
    with app.app_context():
        upgrade()
        # alembic's fileConfig used to disable every existing logger: the app's warnings vanished for the rest of
        # the process (the TRUSTED_HOSTS warning test failed whenever a test had logged before this one)
        assert not app.logger.disabled
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        tables = set(inspect(db.engine).get_table_names())
        assert {"users", "organizations", "regions", "demands", "achievements", "contracts"} <= tables
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()


def test_pairs_stored_before_the_pick_flags_count_as_both_sides_picks(fresh_url, tmp_path):
    """Which side ranked a pair stored before a1a101c0ffee is unknown: it becomes both sides' pick, so pages keep
    the old order and a refresh that reads the other side's flag to keep a pair does not drop it. On PostgreSQL,
    where a pair can be stored without its listings (replica role); SQLite's batch copy of the table checks the
    foreign keys, and the data step is the same UPDATE on both (test_upgrade_matches_models_and_downgrades runs it
    on SQLite)."""
    if os.environ.get("MARKET_TEST_DB") != "postgres":
        pytest.skip("a pair without its listings: PostgreSQL's replica role only")
    app = create_app({"SQLALCHEMY_DATABASE_URI": fresh_url, "SEARCH_INDEX_DIR": str(tmp_path / "ix"), "TESTING": True})
    with app.app_context():
        upgrade(revision="a1a001c0ffee")
        db.engine.dispose()
    raw = create_engine(fresh_url)  # without the app's hooks: SQLite leaves foreign keys off
    with raw.begin() as conn:
        if raw.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))  # the pair alone, no listings
        conn.execute(text("INSERT INTO suggestions (id, demand_id, achievement_id, score, reasons, created_at) "
                          "VALUES (1, 7, 8, 3.5, '[]', CURRENT_TIMESTAMP)"))
    raw.dispose()
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            row = conn.execute(text("SELECT demand_pick, achievement_pick, score FROM suggestions")).one()
        assert (bool(row[0]), bool(row[1]), row[2]) == (True, True, 3.5)
        db.engine.dispose()
