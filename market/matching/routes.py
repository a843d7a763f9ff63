"""Suggestions on pages: the panel on a listing's page, the `/matching` list, and an owner's 不相关 mark."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup

from ..extensions import db
from ..models import Suggestion
from ..pagination import get_page, paginate
from ..permissions import in_scope, is_listing_owner, is_verified_actor, require_verified_actor, roles_required
from . import degree, feedback, queries
from .engine import MATCHABLE, TOP_N

bp = Blueprint("matching", __name__)


@bp.app_template_filter("match_degree")
def _match_degree(score) -> int:
    """{{ s.score|match_degree }}: the 匹配度 every page shows (degree.py)."""
    return degree.match_degree(score)


@bp.app_template_filter("match_strength")
def _match_strength(score) -> str:
    """{{ s.score|match_strength }}: "strong" | "medium" | "weak" (degree.LABELS gives 强 / 中 / 弱)."""
    return degree.strength(degree.match_degree(score))


@bp.app_template_global("match_strength_labels")
def _labels() -> dict[str, str]:
    return degree.LABELS


@bp.app_template_global("match_scale_note")
def _scale_note() -> str:
    return degree.scale_note()


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
    strong = [s for s in items if degree.strength(degree.match_degree(s.score)) != "weak"]
    widen = queries.widen_args(listing) if not strong else {}
    # bandit B704: Markup of a rendered, autoescaped template (not of user text)
    return Markup(render_template(  # nosec B704
        "matching/_panel.html", listing=listing, items=items, has_strong=bool(strong), widen=widen,
        reasons_of=queries.reasons_of, can_mark=owner and is_verified_actor(current_user)))


@bp.route("/matching")
@roles_required("enterprise", "institution", "official", "broker", "admin")
def mine():
    pagination = paginate(queries.for_user(current_user), page=get_page())
    can_mark = current_user.role in ("enterprise", "institution") and is_verified_actor(current_user)
    return render_template("matching/mine.html", pagination=pagination, reasons_of=queries.reasons_of,
                           can_mark=can_mark, side=queries.side_of(current_user))


@bp.route("/matching/<int:suggestion_id>/not-relevant", methods=["POST"])
@roles_required("enterprise", "institution")
def not_relevant(suggestion_id: int):
    """An owner marks a suggestion 不相关: stored, hidden from every list, kept out at every refresh."""
    suggestion = db.session.get(Suggestion, suggestion_id)
    if suggestion is None:
        abort(404)
    own = feedback.owner_side(current_user, suggestion)
    if own is None:
        abort(404)  # another party's suggestion is not shown to this organisation either
    require_verified_actor(current_user)
    feedback.suggestion_mark_not_relevant(suggestion=suggestion, user=current_user, session=db.session)
    db.session.commit()
    flash("已标记为不相关，该推荐不再显示；系统会据此更新推荐。", "success")
    if request.form.get("back") == "matching":
        return redirect(url_for("matching.mine"))
    return redirect(url_for("listings.detail", kind=own.KIND, listing_id=own.id) + "#suggestions")
