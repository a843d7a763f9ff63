"""科技大市场: the application factory."""
from __future__ import annotations

import os

from flask import Flask
from werkzeug.routing import IntegerConverter

from .config import PROJECT_ROOT, Config


class BoundedIntConverter(IntegerConverter):
    """Flask's `int` URL converter, capped at the largest PostgreSQL INTEGER (forms.MAX_RECORD_ID)."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = None,
                 signed: bool = False) -> None:
        from .forms import MAX_RECORD_ID

        cap = MAX_RECORD_ID if max is None or max > MAX_RECORD_ID else max
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=cap, signed=signed)


def create_app(config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=os.environ.get("MARKET_INSTANCE_DIR") or str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    # every <int:...> in a URL is a record id: one no INTEGER column can hold is simply not found (404), before
    # PostgreSQL ("integer out of range") or SQLite ("Python int too large") turns it into a 500
    app.url_map.converters["int"] = BoundedIntConverter
    app.config.from_object(Config())
    if config:
        app.config.update(config)

    from .database import engine_options
    from .extensions import csrf, db, login_manager, migrate

    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)

    from . import models  # noqa: F401  (register every table)
    from .database import configure_engine
    from .errors import register_error_handlers
    from .pagecache import init_page_cache
    from .security import init_security
    from .templating import init_templating

    with app.app_context():
        configure_engine(db.engine, app.config)
    init_security(app)
    from .permissions import init_actor_gate

    init_actor_gate(app)
    init_page_cache(app)
    from .usercache import init_user_page_cache

    init_user_page_cache(app)  # after the actor gate: an account that may not act is refused, never served
    init_templating(app)
    register_error_handlers(app)

    from .formtokens import init_form_tokens

    init_form_tokens(app)  # the 409 page of a resubmitted form, with a link to what the first one saved

    from .jobs import init_jobs
    from .pipeline import init_pipeline
    from .registries import init_registries

    init_jobs(app)
    init_registries(app)
    init_pipeline(app)

    from .blueprints import register_blueprints, register_handlers

    register_blueprints(app)
    register_handlers(app)

    from .cli import register_cli

    register_cli(app)

    from .security import wrap_proxy_fix

    wrap_proxy_fix(app)
    return app
