"""揭榜挂帅 campaigns: the public list, a campaign and each 榜 (with its 公示 once announced); an official's new
campaign and 榜; a solver's 揭榜方案; the panel's review and scores; the announcement."""
from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ..agencies.queries import expert_conflicts
from ..errors import Conflict, DomainError, NotAllowed
from ..extensions import db
from ..forms import parse_int, region_choices
from ..formtokens import form_token_keep_or_issue
from ..contracts.scans import scan_file
from ..models import Campaign, CampaignMilestone, CampaignProposal, CampaignProposalFile, CampaignTask, Demand, Expert, User
from ..models.base import utcnow
from ..pagination import get_page, paginate
from ..permissions import roles_required
from . import files, queries, services
from .forms import (
    CampaignForm, MilestoneDecideForm, MilestoneForm, MilestoneSubmitForm, ProposalForm, ScoreForm, TaskForm,
    parse_local,
)

bp = Blueprint("campaigns", __name__)


def _get(model, object_id: int):
    obj = db.session.get(model, object_id)
    if obj is None:
        abort(404)
    return obj


def _managed(campaign: Campaign) -> Campaign:
    if not services.can_manage(current_user, campaign):
        abort(403)
    return campaign


def _render_error(form, err: DomainError) -> int:
    db.session.rollback()
    form.apply_error(err)
    return err.status_code


@bp.route("/campaigns")
def index():
    pagination = paginate(queries.campaigns(), page=get_page())
    counts = queries.proposal_counts([t.id for c in pagination.items for t in c.tasks])
    return render_template("campaigns/index.html", pagination=pagination, counts=counts, now=utcnow(),
                           can_create=current_user.is_authenticated and current_user.role == "official")


@bp.route("/campaigns/<int:campaign_id>")
def detail(campaign_id: int):
    campaign = _get(Campaign, campaign_id)
    return render_template("campaigns/detail.html", c=campaign, now=utcnow(),
                           counts=queries.proposal_counts([t.id for t in campaign.tasks]),
                           manager=services.can_manage(current_user, campaign))


@bp.route("/campaigns/new", methods=["GET", "POST"])
@roles_required("official")
def create():
    form = CampaignForm()
    status = 200
    if form.validate_on_submit():
        try:
            campaign = services.campaign_create(user=current_user, title=form.title.data,
                                                description=form.description.data or "", token=form.form_token.data)
        except DomainError as err:
            if err.status_code == 409:
                db.session.rollback()
                raise
            status = _render_error(form, err)
        else:
            db.session.commit()
            flash("榜单已创建，请添加榜", "success")
            return redirect(url_for("campaigns.task_new", campaign_id=campaign.id))
    elif form.is_submitted():
        status = 400
    form_token_keep_or_issue(form)
    return render_template("campaigns/campaign_form.html", form=form), status


def _task_choices(form: TaskForm, campaign: Campaign) -> None:
    demands = db.session.scalars(
        select(Demand).where(Demand.status == "published").order_by(Demand.id.desc()).limit(300))
    region = campaign.region
    form.demand_id.choices = [(0, "请选择")] + [(d.id, f"{d.title}（{d.org.name}）") for d in demands
                                               if region.contains(d.region)]
    form.eligible_region_id.choices = [(0, "不限区域")] + region_choices()
    experts = db.session.scalars(select(Expert).join(User, User.id == Expert.user_id).where(
        Expert.available.is_(True), User.active.is_(True)).order_by(Expert.name, Expert.id).limit(300))
    form.expert_ids.choices = [(e.id, f"{e.name}（{e.org.name}）") for e in experts]


@bp.route("/campaigns/<int:campaign_id>/tasks/new", methods=["GET", "POST"])
@roles_required("official")
def task_new(campaign_id: int):
    campaign = _managed(_get(Campaign, campaign_id))
    form = TaskForm()
    _task_choices(form, campaign)
    status = 200
    if form.validate_on_submit():
        try:
            task = services.task_create(
                user=current_user, campaign=campaign, demand_id=form.demand_id.data, title=form.title.data,
                goal=form.goal.data, indicators=form.indicators.data, award=form.award.data,
                co_funding=form.co_funding.data, deadline=parse_local(form.deadline.data),
                eligible_region_id=form.eligible_region_id.data or None,
                eligible_types=list(form.eligible_types.data or []), rubric_text=form.rubric.data,
                expert_ids=list(form.expert_ids.data or []))
        except DomainError as err:
            status = _render_error(form, err)
        else:
            db.session.commit()
            flash("已发榜", "success")
            return redirect(url_for("campaigns.task", task_id=task.id))
    elif form.is_submitted():
        status = 400
    return render_template("campaigns/task_form.html", form=form, c=campaign), status


@bp.route("/campaigns/tasks/<int:task_id>")
def task(task_id: int):
    t = _get(CampaignTask, task_id)
    now = utcnow()
    state = t.state(now)
    return render_template(
        "campaigns/task.html", t=t, state=state, now=now, count=queries.proposal_counts([t.id]).get(t.id, 0),
        ranking=queries.ranking(t) if state == "announced" else None,
        mine=queries.own_proposal(t.id, current_user), why_not=services.may_solve(current_user, t),
        panel=services.reviewing_expert(current_user, t) is not None,
        manager=services.can_manage(current_user, t.campaign))


@bp.route("/campaigns/tasks/<int:task_id>/proposal", methods=["GET", "POST"])
@roles_required(*services.SOLVER_ROLES)
def propose(task_id: int):
    t = _get(CampaignTask, task_id)
    reason = services.may_solve(current_user, t)
    if reason:
        abort(403, reason)
    mine = queries.own_proposal(t.id, current_user)
    form = ProposalForm(obj=mine if mine is not None else None)
    status = 200
    if form.validate_on_submit():
        try:
            services.proposal_save(user=current_user, task=t, summary=form.summary.data, plan=form.plan.data,
                                   files=request.files.getlist("files"),
                                   remove_file_ids=_ids(request.form.getlist("remove_file")))
        except DomainError as err:
            status = _render_error(form, err)
        else:
            db.session.commit()
            flash("揭榜方案已提交；截止前可以继续修改" if mine is None else "揭榜方案已修改", "success")
            return redirect(url_for("campaigns.propose", task_id=t.id))
    elif form.is_submitted():
        status = 400
    return render_template("campaigns/proposal.html", t=t, form=form, mine=mine, open_=t.state(utcnow()) == "open",
                           max_files=files.MAX_FILES), status


def _ids(values: list[str]) -> list[int]:
    """Posted ids; anything that is not one becomes -1, which the service refuses as an unknown attachment."""
    return [n if (n := parse_int(v, max_digits=9)) is not None else -1 for v in values]


@bp.route("/campaigns/proposal-files/<int:file_id>")
@login_required
def proposal_file(file_id: int):
    """An attachment of a 揭榜方案, to those `services.may_read_files` names only; always a PDF download."""
    f = _get(CampaignProposalFile, file_id)
    if not services.may_read_files(current_user, f.proposal):
        abort(403)
    path = scan_file(f.path)
    if path is None:
        abort(404)
    response = send_file(path, mimetype="application/pdf", as_attachment=True, max_age=0)
    response.headers["Content-Disposition"] = files.content_disposition(f)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _refuse_non_reviewer(t: CampaignTask):
    """403: with the reason when the user sits on the panel but is recused, bare otherwise."""
    if services.panel_expert(current_user, t) is not None:
        raise NotAllowed(services.RECUSED)
    abort(403)


def _reviewer_or_manager(t: CampaignTask):
    expert = services.reviewing_expert(current_user, t)
    manager = services.can_manage(current_user, t.campaign)
    if expert is None and not manager:
        _refuse_non_reviewer(t)
    return expert, manager


@bp.route("/campaigns/tasks/<int:task_id>/review")
@login_required
def review(task_id: int):
    """The panel sees every proposal, its own scores and the ranking; the official sees the proposals and who has
    scored (no points) until the announcement."""
    t = _get(CampaignTask, task_id)
    expert, manager = _reviewer_or_manager(t)
    state = t.state(utcnow())
    pagination = paginate(queries.proposals_in_order(t.id), page=get_page())
    # sealed until the deadline (as tenders are until 开标): a panel expert reads no proposal while solvers may
    # still revise theirs, only how many have come in; the official running the campaign sees them
    sealed = state == "open" and not manager
    props = [] if sealed else pagination.items
    mine = {p.id: queries.expert_scores(p.id, expert.id) for p in props} if expert else {}
    ranking = queries.ranking(t) if (expert is not None and not sealed) or state == "announced" else None
    progress = {p.id: len(queries.scored_by(p)) for p in props}
    # the panel opens the attachments once the deadline has passed (services.may_read_files), the official always
    show_files = not sealed
    return render_template("campaigns/review.html", t=t, state=state, proposals=props, pagination=pagination,
                           expert=expert, manager=manager, mine=mine, ranking=ranking, progress=progress,
                           missing=queries.missing_scores(t), show_files=show_files, sealed=sealed)


@bp.route("/campaigns/proposals/<int:proposal_id>/score", methods=["GET", "POST"])
@login_required
def score(proposal_id: int):
    proposal = _get(CampaignProposal, proposal_id)
    t = proposal.task
    expert = services.reviewing_expert(current_user, t)
    if expert is None:
        _refuse_non_reviewer(t)
    if expert_conflicts(expert, [proposal.org_id]):  # an account that moved to the solver's organisation
        raise NotAllowed(services.RECUSED)
    if t.state(utcnow()) == "open":
        raise Conflict("揭榜截止后才能查看和评分揭榜方案")
    form = ScoreForm()
    criteria = t.criteria
    if not form.is_submitted():
        kept = queries.expert_scores(proposal.id, expert.id)
        for c in criteria:
            form.points.append_entry(kept.get(c.id))
    while len(form.points.entries) < len(criteria):
        form.points.append_entry()
    status = 200
    if form.is_submitted() and len(form.points.entries) != len(criteria):
        form.form_errors.append("评分项与评分细则不一致，请刷新页面后重新评分")
        status = 400
    elif form.validate_on_submit():
        try:
            services.score_save(user=current_user, proposal=proposal,
                                points={c.id: e.data for c, e in zip(criteria, form.points.entries)})
        except DomainError as err:
            db.session.rollback()
            if err.status_code == 403:
                raise
            index = {f"c{c.id}": e for c, e in zip(criteria, form.points.entries)}
            for name, message in err.fields.items():
                index[name].errors = list(index[name].errors) + [message]
            if not err.fields:
                form.form_errors.append(err.message)
            status = err.status_code
        else:
            db.session.commit()
            flash("评分已保存", "success")
            return redirect(url_for("campaigns.review", task_id=t.id))
    elif form.is_submitted():
        status = 400
    return render_template("campaigns/score.html", t=t, p=proposal, form=form,
                           rows=list(zip(criteria, form.points.entries))), status


@bp.route("/campaigns/tasks/<int:task_id>/announce", methods=["POST"])
@roles_required("official")
def announce(task_id: int):
    t = _get(CampaignTask, task_id)
    _managed(t.campaign)
    winner = services.announce(user=current_user, task=t)
    db.session.commit()
    flash(f"已公示揭榜结果：{winner.org.name}揭榜成功", "success")
    return redirect(url_for("campaigns.task", task_id=t.id))


def _project(t: CampaignTask, role: str, *, status: int = 200, add=None, submit=None, decide=None, target=None):
    milestones = t.milestones
    paid = sum((m.amount for m in milestones if m.status == "accepted"), Decimal("0.00"))
    return render_template("campaigns/project.html", t=t, role=role, milestones=milestones, paid=paid,
                           winner=services.winner_of(t), add=add or MilestoneForm(formdata=None),
                           submit=submit or MilestoneSubmitForm(formdata=None),
                           decide=decide or MilestoneDecideForm(formdata=None), target=target,
                           # the other rows' forms: the refused one's text and errors stay under its own row
                           blank_submit=MilestoneSubmitForm(formdata=None),
                           blank_decide=MilestoneDecideForm(formdata=None)), status


def _project_role(t: CampaignTask) -> str:
    role = services.project_role(current_user, t)
    if role is None:
        abort(403)
    return role


@bp.route("/campaigns/tasks/<int:task_id>/project")
@login_required
def project(task_id: int):
    """The winner's project: milestones, what the company accepted and the award paid (the parties, the official)."""
    t = _get(CampaignTask, task_id)
    return _project(t, _project_role(t))


@bp.route("/campaigns/tasks/<int:task_id>/milestones", methods=["POST"])
@roles_required("official")
def milestone_add(task_id: int):
    t = _get(CampaignTask, task_id)
    role = _project_role(t)
    form = MilestoneForm()
    if form.validate_on_submit():
        try:
            services.milestone_add(user=current_user, task=t, title=form.title.data, due_on=form.due_on.data,
                                   amount=form.amount.data)
        except DomainError as err:
            return _project(t, role, status=_render_error(form, err), add=form)
        db.session.commit()
        flash("已添加里程碑", "success")
        return redirect(url_for("campaigns.project", task_id=t.id))
    return _project(t, role, status=400, add=form)


@bp.route("/campaigns/milestones/<int:milestone_id>/submit", methods=["POST"])
@roles_required(*services.SOLVER_ROLES)
def milestone_submit(milestone_id: int):
    m = _get(CampaignMilestone, milestone_id)
    t = m.task
    role = _project_role(t)
    form = MilestoneSubmitForm()
    if form.validate_on_submit():
        try:
            services.milestone_submit(user=current_user, milestone=m, note=form.note.data)
        except DomainError as err:
            return _project(t, role, status=_render_error(form, err), submit=form, target=m.id)
        db.session.commit()
        flash("已提交里程碑成果，等待出题企业验收", "success")
        return redirect(url_for("campaigns.project", task_id=t.id))
    return _project(t, role, status=400, submit=form, target=m.id)


@bp.route("/campaigns/milestones/<int:milestone_id>/decide", methods=["POST"])
@roles_required(*services.SOLVER_ROLES)
def milestone_decide(milestone_id: int):
    m = _get(CampaignMilestone, milestone_id)
    t = m.task
    role = _project_role(t)
    form = MilestoneDecideForm()
    if form.validate_on_submit() and form.decision.data in ("accept", "reject"):
        try:
            services.milestone_decide(user=current_user, milestone=m, accept=form.decision.data == "accept",
                                      reason=form.reason.data or "")
        except DomainError as err:
            return _project(t, role, status=_render_error(form, err), decide=form, target=m.id)
        db.session.commit()
        flash("已通过验收，奖补资金记为已拨付" if form.decision.data == "accept" else "已退回，并告知不通过的理由", "success")
        return redirect(url_for("campaigns.project", task_id=t.id))
    if form.decision.data not in ("", "accept", "reject", None):
        form.decision.errors = list(form.decision.errors) + ["请选择验收结论"]
    return _project(t, role, status=400, decide=form, target=m.id)
