"""后台任务: administrators see the queue and the failed jobs with their errors, and send a failed job again."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from ..extensions import db
from ..models import Job
from ..models.job import JOB_STATUSES
from ..pagination import get_page, paginate
from ..permissions import admins_only
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
                           statuses=JOB_STATUSES, summary=jobs_summary(), queue=job_queue(), kind_label=kind_label)


@bp.route("/<int:job_id>/retry", methods=["POST"])
def retry(job_id: int):
    job = db.session.get(Job, job_id)
    if job is None:
        abort(404)
    job_retry(job=job)
    db.session.commit()
    flash(f"任务 #{job_id}（{kind_label(job.kind)}）已重新排队", "success")
    return redirect(url_for("jobs.index", status="failed"))
