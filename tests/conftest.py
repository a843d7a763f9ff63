"""Fixtures: a real database (SQLite file, or PostgreSQL with MARKET_TEST_DB=postgres) and a real index folder;
the seed of the run's generated inputs reported. Helpers the tests import are in tests/helpers.py.

The schema is created once per run; every test starts from empty tables.
"""
from __future__ import annotations

import os

import pytest

from market import create_app
from market.extensions import db
from tests.helpers import FROZEN_TODAY, MAIL_SITE_URL, FUZZ_SEED, FreshContextClient, app_config, empty_tables, fuzz_seed_hint, \
    login, make_world, memoize_route_builders, pg_database, \
    share_compiled_templates, share_engine_of, share_engines
from tests.mailserver import mail_sink_for


@pytest.hookimpl(tryfirst=True)  # before Hypothesis' own plugin reads --hypothesis-seed
def pytest_configure(config):
    from hypothesis import settings

    # a failing Hypothesis test prints its falsifying example and the @reproduce_failure blob that replays it
    settings.register_profile("market", print_blob=True)
    settings.load_profile("market")
    memoize_route_builders()
    share_compiled_templates()
    share_engines()
    if config.getoption("hypothesis_seed", None) is None:
        config.option.hypothesis_seed = str(FUZZ_SEED)


def pytest_report_header(config):
    return f"generated inputs: {fuzz_seed_hint()}"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if exitstatus:
        terminalreporter.write_line(f"generated inputs of this run: {fuzz_seed_hint()}")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    if os.environ.get("MARKET_TEST_DB", "sqlite") == "postgres":
        with pg_database("market_test") as url:
            yield share_engine_of(url)
    else:
        yield share_engine_of(f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}")


@pytest.fixture(scope="session")
def _schema(database_url, tmp_path_factory):
    app = create_app(app_config(database_url, tmp_path_factory.mktemp("inst")))
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    return True


@pytest.fixture
def app(database_url, _schema, tmp_path):
    app = create_app(app_config(database_url, tmp_path))
    app.test_client_class = FreshContextClient
    with app.app_context():
        empty_tables()
        yield app
        db.session.remove()
        # close this app's pooled connections now: waiting for the garbage collector let hundreds of apps' pools
        # pile up on PostgreSQL ("too many clients already", max_connections 100, seen in the clean-clone run)
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def world(app):
    """Regions, fields, and one user of every role (plus a second enterprise in another county)."""
    return make_world()


@pytest.fixture
def smtp(app):
    """A real SMTP server (tests/mailserver.py) the app mails to, its links on SITE_URL; the index is left to catch
    up later (SEARCH_SYNC_AFTER_COMMIT=False): these tests read mail, not search."""
    with mail_sink_for(app, site_url=MAIL_SITE_URL, SEARCH_SYNC_AFTER_COMMIT=False) as sink:
        yield sink


@pytest.fixture
def frozen_today(app):
    """The dashboard's today is FROZEN_TODAY (its TODAY setting, market.dashboard.queries.today) in this test."""
    app.config["TODAY"] = FROZEN_TODAY
    return FROZEN_TODAY


@pytest.fixture
def login_as(app, world):
    """login_as('enterprise') -> a signed-in test client for that world user."""

    def _login(name: str):
        c = app.test_client()
        login(c, getattr(world.users, name).username)
        return c

    return _login
