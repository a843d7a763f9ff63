"""单位成员: the organisation administrator's page (members, open invitations, remove, administrators) and the
invitation link a colleague opens to join."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user
from sqlalchemy import select

from ..auth import throttle
from ..auth.services import session_start
from ..errors import DomainError
from ..extensions import db
from ..formtokens import claim_form_token, form_token_keep_or_issue
from ..models import OrgInvitation, User
from ..models.base import utcnow
from ..notifications.mail import mail_configured
from . import services
from .forms import InviteForm, JoinForm
from .mail import invitation_mail_queue

bp = Blueprint("members", __name__)


def _admin_or_403():
    try:
        return services.require_org_admin(current_user)
    except DomainError:
        abort(403)


def _member(user_id: int) -> User:
    member = db.session.get(User, user_id)
    if member is None or member.org_id != current_user.org_id:
        abort(404)
    return member


def _index(form: InviteForm, status: int = 200):
    org = _admin_or_403()
    members = db.session.scalars(select(User).where(User.org_id == org.id).order_by(
        User.active.desc(), User.org_admin.desc(), User.id)).all()
    now = utcnow()
    invitations = db.session.scalars(select(OrgInvitation).where(
        OrgInvitation.org_id == org.id, OrgInvitation.used_at.is_(None), OrgInvitation.revoked_at.is_(None),
        OrgInvitation.expires_at > now).order_by(OrgInvitation.id.desc())).all()
    links = {i.id: url_for("members.join", token=services.invitation_token(i), _external=True) for i in invitations}
    return render_template("members/index.html", org=org, members=members, invitations=invitations, links=links,
                           form=form, days=services.INVITATION_DAYS, mail_on=mail_configured()), status


@bp.route("/org/members")
@login_required
def index():
    return _index(InviteForm())


@bp.route("/org/invitations", methods=["POST"])
@login_required
def invite():
    _admin_or_403()
    form = InviteForm()
    if not form.validate_on_submit():
        return _index(form, 400)
    address = (form.email.data or "").strip()
    try:
        invitation = services.invitation_create(user=current_user, note=form.note.data or "")
        mailed = bool(address) and invitation_mail_queue(invitation=invitation, to=address, user=current_user)
    except DomainError as err:
        db.session.rollback()
        form.apply_error(err)
        return _index(form, 400)
    db.session.commit()  # the mail job, if any, is sent to the queue after this commit, never in the request
    valid = f"{services.INVITATION_DAYS}天内有效，只能使用一次"
    if mailed:
        flash(f"邀请链接已生成（{valid}），邀请邮件正在发送至 {address}；也可复制“待接受的邀请”中的链接转交", "success")
    elif address:
        flash(f"邀请链接已生成（{valid}）。本站未配置邮件服务器，邮件不会发送：请复制“待接受的邀请”中的链接，"
              f"通过可信渠道手工转交给 {address}", "warning")
    else:
        flash(f"邀请链接已生成（{valid}）：复制“待接受的邀请”中的链接发给同事", "success")
    return redirect(url_for("members.index", _anchor=f"invitation-{invitation.id}"), 303)


@bp.route("/org/invitations/<int:invitation_id>/revoke", methods=["POST"])
@login_required
def revoke(invitation_id: int):
    _admin_or_403()
    invitation = db.session.get(OrgInvitation, invitation_id)
    if invitation is None or invitation.org_id != current_user.org_id:
        abort(404)
    services.invitation_revoke(invitation=invitation, user=current_user)
    db.session.commit()
    flash("邀请链接已撤销", "success")
    return redirect(url_for("members.index"))


@bp.route("/org/members/<int:user_id>/remove", methods=["GET", "POST"])
@login_required
def remove(user_id: int):
    """GET asks for confirmation; POST removes (the account is disabled and its sessions end at once)."""
    _admin_or_403()
    member = _member(user_id)
    if request.method == "POST":
        name = member.name
        try:
            services.member_remove(member=member, user=current_user)
        except DomainError as err:
            db.session.rollback()
            if err.status_code not in (400, 409):
                raise
            flash(err.message, "danger")
            return render_template("members/remove.html", member=member), err.status_code
        db.session.commit()
        flash(f"已将{name}移出本单位，其登录已失效", "success")
        return redirect(url_for("members.index"))
    return render_template("members/remove.html", member=member)


@bp.route("/org/members/<int:user_id>/admin", methods=["POST"])
@login_required
def set_admin(user_id: int):
    _admin_or_403()
    member = _member(user_id)
    make = request.form.get("admin") == "1"
    services.member_set_admin(member=member, user=current_user, admin=make)
    db.session.commit()
    flash(f"已{'指定' if make else '取消'}{member.name}为单位管理员", "success")
    return redirect(url_for("members.index"))


def _invitation_or_page(token: str):
    try:
        return services.invitation_from_token(token), None
    except DomainError as err:
        db.session.rollback()
        return None, (render_template("members/join.html", invitation=None, problem=err.message, form=None),
                      err.status_code)


@bp.route("/join/<token>", methods=["GET", "POST"])
def join(token: str):
    """The invitation link: anonymous -> a registration form for the organisation; signed in -> accept."""
    invitation, refused = _invitation_or_page(token[:400])
    if refused:
        return refused
    if current_user.is_authenticated:
        status = 200
        if request.method == "POST":
            try:
                services.member_join(invitation=invitation, user=current_user)
            except DomainError as err:
                db.session.rollback()
                flash(err.message, "danger")
                status = err.status_code
            else:
                org_name = invitation.org.name
                db.session.commit()
                flash(f"您已加入“{org_name}”", "success")
                return redirect(url_for("main.workbench"))
        return render_template("members/join.html", invitation=invitation, problem=None, form=None), status
    form = JoinForm()
    status = 200
    if form.validate_on_submit():
        attempt = throttle.register_begin(request.remote_addr or "unknown")
        if not attempt.allowed:
            flash("注册尝试过于频繁，请稍后再试", "danger")
            form_token_keep_or_issue(form)
            return render_template("members/join.html", invitation=invitation, problem=None, form=form), 429
        try:
            submission = claim_form_token(token=form.form_token.data, kind="register", user=None,
                                          link=lambda _id: url_for("auth.login"),
                                          message="该注册表单已经提交过，账号已创建（只创建一个），请直接登录。")
            user = services.member_register(
                invitation=invitation, username=form.username.data, name=form.name.data,
                password=form.password.data, phone=form.phone.data, email=form.email.data or "",
                broker_cert_no=form.broker_cert_no.data or "", terms_accepted=form.agree.data)
        except DomainError as err:
            db.session.rollback()
            form.apply_error(err)
            status = err.status_code if err.status_code in (409, 410) else 400
        else:
            submission.object_id = user.id
            org_name = invitation.org.name
            session_start(user=user, ip=request.remote_addr or "unknown")
            login_user(user)
            db.session.commit()
            flash(f"注册成功，您已加入“{org_name}”", "success")
            return redirect(url_for("main.workbench"))
    elif request.method == "POST":
        status = 400
    form_token_keep_or_issue(form)
    return render_template("members/join.html", invitation=invitation, problem=None, form=form), status
