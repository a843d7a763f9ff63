"""Suggestions on pages: the panel on a listing's page and the `/matching` list."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user
from markupsafe import Markup

from ..extensions import db
from ..pagination import get_page, paginate
from ..permissions import in_scope, is_listing_owner, roles_required
from . import queries
from .engine import MATCHABLE, TOP_N

bp = Blueprint("matching", __name__)


def listing_panel(listing) -> Markup | None:
    """推荐成果 / 推荐需求 on a listing's page: for its owner, and for reviewers, officials and brokers of its region."""
    if not current_user.is_authenticated:
        return None
    owner = is_listing_owner(current_user, listing)
    if not (owner or in_scope(current_user, listing.region)):
        return None
    if listing.status != MATCHABLE:
        if owner and listing.status in ("draft", "pending", "returned"):
            # bandit B704: Markup of a rendered, autoescaped template (not of user text)
            return Markup(render_template("matching/_panel.html", listing=listing, items=None))  # nosec B704
        return None
    items = db.session.scalars(queries.for_listing(listing).limit(TOP_N)).all()
    # bandit B704: Markup of a rendered, autoescaped template (not of user text)
    return Markup(render_template("matching/_panel.html", listing=listing, items=items, reasons_of=queries.reasons_of))  # nosec B704


@bp.route("/matching")
@roles_required("enterprise", "institution", "official", "broker", "admin")
def mine():
    pagination = paginate(queries.for_user(current_user), page=get_page())
    return render_template("matching/mine.html", pagination=pagination, reasons_of=queries.reasons_of)
