from __future__ import annotations

import math

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..divisions import OUTSIDE_CHOICE
from ..errors import DomainError
from ..extensions import db, login_manager
from ..forms import region_choices
from ..formtokens import claim_form_token, form_token_keep_or_issue
from ..models import User
from ..security import safe_next
from . import services, throttle
from .forms import LoginForm, PasswordForm, RegisterForm

bp = Blueprint("auth", __name__)
REGISTERED_MESSAGE = "该注册表单已经提交过，账号已创建（只创建一个），请勿重复提交，请直接登录。"

login_manager.login_view = "auth.login"
login_manager.login_message = "请先登录"
login_manager.login_message_category = "warning"
login_manager.user_loader(services.load_session_user)


def client_ip() -> str:
    return request.remote_addr or "unknown"


def _wait(template: str, form, reason: str, wait: float):
    """429: the form again, saying how long to wait, and the same in Retry-After."""
    seconds = max(1, math.ceil(wait))
    minutes, rest = divmod(seconds, 60)
    words = f"{seconds}秒" if not minutes else f"{minutes}分钟" if not rest else f"{minutes}分{rest}秒"
    flash(f"{reason}，请{words}后再试", "danger")
    return render_template(template, form=form), 429, {"Retry-After": str(seconds)}


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.workbench"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        username = form.username.data
        user = db.session.scalar(db.select(User).where(db.func.lower(User.username) == username.lower()))
        attempt = throttle.sign_in_begin(username, client_ip(), user_id=user.id if user is not None else None)
        if not attempt.allowed:
            return _wait("auth/login.html", form, "登录失败次数过多", attempt.wait)
        # an unknown user costs the same scrypt check as a known one: no timing difference
        password_ok = services.password_matches(user, form.password.data)
        if user is None or not password_ok or not user.active:
            # same answer for an unknown user, a wrong password and a disabled account (the attempt stays charged)
            throttle.sign_in_failed(attempt)
            form.form_errors.append("用户名或密码不正确")
            status = 400
        else:
            throttle.sign_in_succeeded(attempt)
            services.session_start(user=user, ip=client_ip())
            login_user(user)
            db.session.commit()
            return redirect(safe_next(request.args.get("next"), url_for("main.workbench")))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    services.session_end()
    logout_user()
    db.session.commit()
    flash("您已安全退出", "success")
    return redirect(url_for("main.home"))


@bp.route("/register", methods=["GET", "POST"])
def register():
    form = RegisterForm()
    form.region_id.choices = [(0, "请选择")] + region_choices(("county", "town")) + [OUTSIDE_CHOICE]
    status = 200
    if form.validate_on_submit():
        attempt = throttle.register_begin(client_ip())
        if not attempt.allowed:
            form_token_keep_or_issue(form)
            return _wait("auth/register.html", form, "注册尝试过于频繁", attempt.wait)
        try:
            submission = claim_form_token(token=form.form_token.data, kind="register", user=None,
                                          link=lambda _id: url_for("auth.login"), message=REGISTERED_MESSAGE)
            user = services.user_register(
                role=form.role.data,
                username=form.username.data,
                name=form.name.data,
                password=form.password.data,
                phone=form.phone.data,
                email=form.email.data or "",
                org_name=form.org_name.data,
                org_type=form.org_type.data,
                uscc=form.uscc.data,
                region_id=form.region_id.data,
                contact_name=form.contact_name.data or "",
                contact_phone=form.contact_phone.data or "",
                address=form.address.data or "",
                broker_cert_no=form.broker_cert_no.data or "",
                terms_accepted=form.agree.data,
                division_code=form.division_code.data or "",
                country=form.country.data or "CN",
            )
        except DomainError as err:
            db.session.rollback()
            form.apply_error(err)
            status = 409 if err.status_code == 409 else 400
        else:
            submission.object_id = user.id
            services.session_start(user=user, ip=client_ip())
            login_user(user)
            db.session.commit()
            if user.role == "broker":
                flash("注册成功。所在服务机构认证、经纪人证书编号经所在区域科技局工作人员审核通过后，"
                      "才能查看推荐、认领对接和登记合同。", "success")
            else:
                flash("注册成功。单位信息待认证，认证通过前可以编辑草稿，但不能提交发布。", "success")
            return redirect(url_for("main.home"))
    elif request.method == "POST":
        status = 400
        # the service's checks too (password rule, 信用代码, names taken): every error at once, not in rounds
        form.add_problems(services.user_register_problems(
            role=form.role.data, username=form.username.data, name=form.name.data, password=form.password.data,
            org_name=form.org_name.data, org_type=form.org_type.data, uscc=form.uscc.data,
            region_id=form.region_id.data, broker_cert_no=form.broker_cert_no.data,
            division_code=form.division_code.data, country=form.country.data))
    form_token_keep_or_issue(form)
    return render_template("auth/register.html", form=form), status


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = PasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            services.password_change(user=current_user, old=form.old_password.data, new=form.new_password.data)
        except DomainError as err:
            db.session.rollback()
            form.apply_error(err)
            status = 400
        else:
            logout_user()
            db.session.commit()
            flash("密码已修改，所有登录会话已失效，请重新登录", "success")
            return redirect(url_for("auth.login"))
    elif request.method == "POST":
        status = 400
    return render_template("auth/password.html", form=form), status


@bp.route("/account/status")
@login_required
def account_status():
    """What the account waits for and who decides (also the page every refusal of the actor gate shows)."""
    from ..permissions import is_verified_actor, unverified_reason

    verified = is_verified_actor(current_user)
    reason = "您的账号已通过认证，可以使用全部功能。" if verified else unverified_reason(current_user)
    return render_template("auth/status.html", reason=reason, refused=False)
