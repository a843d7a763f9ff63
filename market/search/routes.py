"""`/search`: both libraries, with facets, highlighted snippets, sorting and pages. Any input gives a page."""
from __future__ import annotations

from flask import Blueprint, current_app, make_response, render_template, request

from ..extensions import db
from . import query
from .indexing import replica

bp = Blueprint("search", __name__)

UNAVAILABLE = "搜索服务暂时不可用，请稍后再试；也可以先浏览需求库和成果库。"
LAGGING = "搜索索引暂未更新，结果可能不完整：最近发布或修改的条目可能搜不到，请稍后再试，或在需求库、成果库中浏览。"


@bp.route("/search")
def search():
    sargs = query.parse_args(request.args)
    context = dict(sargs=sargs, kinds=query.KINDS, sorts=query.SORTS, facet_names=query.FACETS,
                   lagging_notice=LAGGING)
    index = replica()
    try:
        index.catch_up()
    except Exception:
        # the copy we have is still correct for what it holds, and hits are re-checked in the database; the
        # replica logged the failure (once per episode) and the page says results may be incomplete
        db.session.rollback()
    lagging = index.failure is not None
    try:
        pagination, facets, counts, qplan = query.run(index.backend(), sargs,
                                                      per_page=current_app.config["PAGE_SIZE"])
    except Exception:
        db.session.rollback()
        current_app.logger.exception("search failed for %r", sargs)
        return render_template("search/index.html", error=UNAVAILABLE, pagination=None, facets={}, counts={},
                               lagging=False, qplan=None, **context), 503
    response = make_response(render_template("search/index.html", error=None, pagination=pagination, facets=facets,
                                             counts=counts, lagging=lagging, qplan=qplan, **context))
    if lagging:  # neither the page cache (market/pagecache.py) nor a browser keeps a page built from a lagging index
        response.headers["Cache-Control"] = "no-store"
    return response
