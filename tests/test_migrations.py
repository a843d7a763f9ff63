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
