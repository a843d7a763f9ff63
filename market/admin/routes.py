from __future__ import annotations

from flask import Blueprint, render_template

from ..permissions import roles_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/")
@roles_required("admin", "official")
def index():
    return render_template("admin/index.html")
