"""后台任务: administrators see the queue and the failed jobs with their errors, and send a failed job again."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..extensions import db
from ..models import Job
from ..models.job import JOB_STATUSES
from ..pagination import get_page, paginate
from ..permissions import admins_only
from ..search.rebuild import node_status, rebuild_request
from . import job_retry, jobs_summary, kind_label
from .queue import job_queue

bp = Blueprint("jobs", __name__, url_prefix="/admin/jobs")


bp.before_request(admins_only)


@bp.route("/")
def index():
    status = request.args.get("status", "failed")
    status = status if status in JOB_STATUSES else "failed"
    stmt = select(Job).where(Job.status == status).order_by(Job.id.desc())
    return render_template("jobs/index.html", pagination=paginate(stmt, page=get_page()), status=status,
                           statuses=JOB_STATUSES, summary=jobs_summary(), queue=job_queue(), kind_label=kind_label,
                           search=node_status())


@bp.route("/search-rebuild", methods=["POST"])
def search_rebuild():
    """重建搜索索引（全部节点）: a request every node's consumer applies to its own index copy on its sweep."""
    request_row, created = rebuild_request(user=current_user)
    db.session.commit()
    if created:
        flash(f"已记录重建请求 #{request_row.id}：各节点的后台任务进程将在一分钟内开始重建各自的搜索索引，"
              "重建期间搜索照常可用。", "success")
    else:
        flash(f"重建请求 #{request_row.id} 刚刚已记录，未重复记录。", "info")
    return redirect(url_for("jobs.index"))


@bp.route("/<int:job_id>/retry", methods=["POST"])
def retry(job_id: int):
    job = db.session.get(Job, job_id)
    if job is None:
        abort(404)
    job_retry(job=job)
    db.session.commit()
    flash(f"任务 #{job_id}（{kind_label(job.kind)}）已重新排队", "success")
    return redirect(url_for("jobs.index", status="failed"))
