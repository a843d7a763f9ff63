from decimal import Decimal

from market.extensions import db
from market.models import Demand, IndexChange
from tests import factories
from tests.helpers import app_config, form_token, login, post


def test_enterprise_creates_and_submits_demand(world, login_as):
    c = login_as("enterprise")
    resp = post(c, "/demands/new", {
        "title": "寻求光伏玻璃减反射镀膜技术",
        "field_id": world.fields["materials"].id,
        "description": "我公司光伏玻璃透光率偏低，现有减反射膜耐候性差，两年后衰减明显。",
        "indicators": "透光率≥94%",
        "budget": "12.5",
        "modes": ["development"],
        "keywords": "光伏玻璃、减反射",
        "contact_name": "李四",
        "contact_phone": "0552-1234567",
        "then": "submit",
        "form_token": form_token(),
    })
    assert resp.status_code == 302, resp.get_data(as_text=True)
    d = db.session.scalar(db.select(Demand))
    assert d.status == "pending"
    assert d.budget == Decimal("125000.00")
    assert d.keyword_list == ["光伏玻璃", "减反射"]
    # private before and after: nothing for the index to do
    assert db.session.scalar(db.select(db.func.count()).select_from(IndexChange)) == 0


def test_only_changes_that_touch_public_listings_queue_index_work(world):
    count = lambda: db.session.scalar(db.select(db.func.count()).select_from(IndexChange))  # noqa: E731
    d = factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="draft")
    db.session.commit()
    d.title = "草稿改了标题"
    db.session.commit()
    assert count() == 0
    d.status = "published"
    db.session.commit()
    assert count() == 1
    d.status = "draft"  # withdrawn: the index must drop it
    db.session.commit()
    assert count() == 2
    d.title = "又改了一次草稿"
    db.session.commit()
    assert count() == 2


def test_the_suites_shared_url_builders_build_what_werkzeug_builds(app, tmp_path):
    """tests/helpers.py memoize_route_builders: every later app's rules share the builders the first compiled;
    each builds, for every rule, the URL werkzeug's own compile builds, defaults and extra arguments included."""
    from werkzeug.routing.converters import AnyConverter, IntegerConverter
    from werkzeug.routing.rules import Rule

    from market import create_app

    assert Rule._compile_builder.memoized
    original = Rule._compile_builder.original
    other = create_app(app_config(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path / "other"))
    other_rules = {(r.rule, r.endpoint): r for r in other.url_map.iter_rules()}
    checked = 0
    for rule in app.url_map.iter_rules():
        assert other_rules[(rule.rule, rule.endpoint)]._build.__func__ is rule._build.__func__
        values = {}
        for name in rule.arguments:
            converter = rule._converters.get(name)
            values[name] = (sorted(converter.items)[0] if isinstance(converter, AnyConverter)
                            else 7 if isinstance(converter, IntegerConverter) else "技术a b")
        for append_unknown in (False, True):
            fresh = original(rule, append_unknown).__get__(rule, None)
            shared = rule._build_unknown if append_unknown else rule._build
            extra = {"zz_page": 2, "zz_q": "导电 膜"} if append_unknown else {}
            assert shared(**values, **extra) == fresh(**values, **extra), rule.rule
            checked += 1
    assert checked > 400


def test_the_suites_apps_share_compiled_templates_and_recompile_a_changed_one(app, tmp_path):
    """tests/helpers.py share_compiled_templates: a later app loads base.html from the code the first compiled,
    and a template whose source differs from the cached code's is compiled again (Jinja's checksum)."""
    from jinja2 import FileSystemLoader

    from market import create_app

    assert app.test_client().get("/").status_code == 200
    cache = app.jinja_env.bytecode_cache
    other = create_app(app_config(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path / "other"))
    assert other.jinja_env.bytecode_cache is cache
    assert any(key for key in cache.code)  # the first app stored what it compiled
    folder = tmp_path / "tpl"
    folder.mkdir()
    (folder / "t.html").write_text("一{{ 1 + 1 }}", encoding="utf-8")
    env = other.jinja_env.overlay(loader=FileSystemLoader(str(folder)))
    assert env.get_template("t.html").render() == "一2"
    (folder / "t.html").write_text("二{{ 2 + 2 }}", encoding="utf-8")
    fresh = other.jinja_env.overlay(loader=FileSystemLoader(str(folder)))
    assert fresh.get_template("t.html").render() == "二4"


def test_the_suites_apps_share_an_engine_only_with_the_same_database_settings(app, tmp_path):
    """tests/helpers.py share_engines: a later app with the same database and settings gets the same engine (and so
    SQLAlchemy's compiled statements); one whose database settings differ (a statement timeout here, so other
    connection hooks) gets its own, with its own settings applied; an app on a database of a test's own gets a new
    engine every time (tests/test_faults_database.py wants an engine that never met its frozen server)."""
    from flask_sqlalchemy.extension import SQLAlchemy
    from sqlalchemy import text

    from market import create_app

    assert SQLAlchemy._make_engine.shared
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    same = create_app(app_config(url, tmp_path / "same"))
    other_timeout = create_app({**app_config(url, tmp_path / "timeout"), "DB_STATEMENT_TIMEOUT_MS": 1234})
    other_db = create_app(app_config(f"sqlite:///{tmp_path / 'other.db'}", tmp_path / "other"))
    other_db_again = create_app(app_config(f"sqlite:///{tmp_path / 'other.db'}", tmp_path / "other_again"))
    with same.app_context():
        shared = db.engine
    assert shared is db.engine
    with other_timeout.app_context():
        timed = db.engine
        if timed.dialect.name == "postgresql":
            with timed.connect() as conn:
                assert conn.execute(text("SHOW statement_timeout")).scalar() == "1234ms"
    with other_db.app_context():
        elsewhere = db.engine
    with other_db_again.app_context():  # a database of a test's own: an engine per app, shared with none
        assert db.engine is not elsewhere
        db.engine.dispose()
    assert timed is not shared and elsewhere is not shared and elsewhere is not timed
    assert elsewhere.url.database == str(tmp_path / "other.db")
    # the compiled statements go with the engine: one this test's app ran is not compiled again by the other
    from sqlalchemy import select

    def run():
        return db.session.execute(select(Demand.id).where(Demand.title == "共用引擎")).all()

    assert run() == []
    compiled = len(shared._compiled_cache)
    db.session.rollback()  # SQLite: this session's write transaction would hold off the other app's
    with same.app_context():
        assert run() == [] and len(db.engine._compiled_cache) == compiled
    timed.dispose()
    elsewhere.dispose()
