"""`/search`: both libraries, with facets, highlighted snippets, sorting and pages. Any input gives a page."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from ..extensions import db
from . import query
from .indexing import replica

bp = Blueprint("search", __name__)

UNAVAILABLE = "搜索服务暂时不可用，请稍后再试；也可以先浏览需求库和成果库。"


@bp.route("/search")
def search():
    sargs = query.parse_args(request.args)
    context = dict(sargs=sargs, kinds=query.KINDS, sorts=query.SORTS, facet_names=query.FACETS)
    index = replica()
    try:
        index.catch_up()
    except Exception:
        # the copy we have is still correct for what it holds, and hits are re-checked in the database
        db.session.rollback()
        current_app.logger.exception("search: catching up the index failed")
    try:
        pagination, facets, counts, qplan = query.run(index.backend(), sargs,
                                                      per_page=current_app.config["PAGE_SIZE"])
    except Exception:
        db.session.rollback()
        current_app.logger.exception("search failed for %r", sargs)
        return render_template("search/index.html", error=UNAVAILABLE, pagination=None, facets={}, counts={},
                               qplan=None, **context), 503
    return render_template("search/index.html", error=None, pagination=pagination, facets=facets, counts=counts,
                           qplan=qplan, **context)
