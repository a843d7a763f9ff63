from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_login import current_user, login_required
from sqlalchemy import func, select

from ..extensions import db
from ..listings.queries import card_loads
from ..models import Achievement, Demand, Organization
from ..models.listing import PUBLIC_STATUSES
from . import workbench as wb
from .health import health

bp = Blueprint("main", __name__)


@bp.app_context_processor
def _nav_badges():
    """`nav_badges.get(href)` in base.html: the signed-in user's counts for a menu link, or None."""
    return {"nav_badges": wb.LazyBadges(current_user) if current_user.is_authenticated else {}}


@bp.route("/")
def home():
    latest = {
        kind: db.session.scalars(
            select(model).where(model.status == "published").order_by(model.published_at.desc()).limit(6)
            .options(*card_loads(model))
        ).all()
        for kind, model in (("demand", Demand), ("achievement", Achievement))
    }
    # the three figures in one statement
    row = db.session.execute(select(
        select(func.count()).select_from(Demand).where(Demand.status.in_(PUBLIC_STATUSES)).scalar_subquery(),
        select(func.count()).select_from(Achievement).where(Achievement.status.in_(PUBLIC_STATUSES)).scalar_subquery(),
        select(func.count()).select_from(Organization).where(Organization.status == "verified").scalar_subquery(),
    )).one()
    counts = {"demands": row[0], "achievements": row[1], "orgs": row[2]}
    return render_template("main/home.html", latest=latest, counts=counts)


@bp.route("/workbench")
@login_required
def workbench():
    """工作台: where sign-in lands; counts and next actions for the user's role (market/main/workbench.py)."""
    return render_template("main/workbench.html", **wb.workbench_context(current_user))


@bp.route("/healthz")
def healthz():
    """The database and Redis, each reported on its own (JSON), within a second whatever hangs: 200 while the
    database answers (Redis down is "degraded"), else 503 (market/main/health.py)."""
    report, status = health(current_app._get_current_object()).report()
    headers = {"Cache-Control": "no-store"}
    if status == 503:
        headers["Retry-After"] = "10"
    return report, status, headers
