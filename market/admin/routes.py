"""系统管理: users, organisations, the region tree and the field taxonomy. Administrators only."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..errors import DomainError
from ..extensions import db
from ..forms import clean_text, region_choices
from ..formtokens import claim_form_token, form_token_keep_or_issue
from ..models import Field, Organization, Region, User
from ..models.org import ORG_STATUSES, ORG_TYPES
from ..models.region import LEVEL_ORDER, LEVELS
from ..models.user import ROLES
from ..permissions import admins_only
from ..orgs import org_verify
from ..pagination import get_page, paginate
from ..security import safe_next
from . import queries, services
from .forms import FieldCreateForm, FieldForm, OrgDecisionForm, OrgForm, PasswordResetForm, RegionForm, UserCreateForm, UserEditForm

bp = Blueprint("admin", __name__, url_prefix="/admin")


bp.before_request(admins_only)  # every admin URL, every method


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else None


def _text_arg(name: str, limit: int = 50) -> str:
    return clean_text(request.args.get(name, ""))[:limit]


def _load(model, object_id: int):
    obj = db.session.get(model, object_id)
    if obj is None:
        abort(404)
    return obj


def _submit(form, call) -> tuple[bool, object, int]:
    """Validate, run one service call, commit: (done, result, status for a re-rendered form)."""
    if not form.validate_on_submit():
        return False, None, 400 if request.method == "POST" else 200
    try:
        result = call()
    except DomainError as err:
        db.session.rollback()
        form.apply_error(err)
        return False, None, err.status_code if err.status_code not in (401, 403) else 400
    db.session.commit()
    return True, result, 200


def _create(form, call, *, kind: str, endpoint: str, arg: str) -> tuple[bool, object, int]:
    """_submit for a creating form: its one-time token is claimed in the transaction that writes the record,
    so a resubmission (a lost answer, a second click) makes nothing and links to what the first one made."""

    def claimed():
        submission = claim_form_token(token=form.form_token.data, kind=kind, user=current_user,
                                      link=lambda oid: url_for(endpoint, **{arg: oid}))
        record = call()
        submission.object_id = record.id
        return record

    outcome = _submit(form, claimed)
    form_token_keep_or_issue(form)
    return outcome


# ---------------------------------------------------------------- overview


@bp.route("/")
def index():
    return render_template("admin/index.html", stats=queries.overview(), roles=ROLES, statuses=ORG_STATUSES, levels=LEVELS)


# ---------------------------------------------------------------- users


@bp.route("/users")
def users():
    role = request.args.get("role", "")
    active = {"1": True, "0": False}.get(request.args.get("active", ""))
    filters = {"role": role if role in ROLES else "", "active": request.args.get("active", "") if active is not None else "",
               "q": _text_arg("q")}
    stmt = queries.users(role=filters["role"] or None, active=active, q=filters["q"])
    return render_template("admin/users.html", pagination=paginate(stmt, page=get_page()), filters=filters, roles=ROLES)


@bp.route("/users/new", methods=["GET", "POST"])
def user_new():
    form = UserCreateForm().setup()
    done, user, status = _create(form, lambda: services.user_create(**form.data_dict(), actor=current_user),
                                 kind="user", endpoint="admin.user_edit", arg="user_id")
    if done:
        flash(f"账号 {user.username} 已创建", "success")
        return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, user=None), status


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
def user_edit(user_id: int):
    user = _load(User, user_id)
    form = UserEditForm(obj=user).setup()
    if request.method == "GET" and user.region_id is None:
        form.region_id.data = 0
    done, _, status = _submit(form, lambda: services.user_update(user=user, **form.data_dict()))
    if done:
        flash(f"账号 {user.username} 已保存", "success")
        return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, user=user), status


@bp.route("/users/<int:user_id>/<any(disable,enable):action>", methods=["POST"])
def user_active(user_id: int, action: str):
    user = _load(User, user_id)
    services.user_set_active(user=user, active=action == "enable", actor=current_user)
    db.session.commit()
    flash(f"账号 {user.username} 已{'停用，其登录状态已全部失效' if action == 'disable' else '启用'}", "success")
    return redirect(safe_next(request.form.get("next"), url_for("admin.users")))


@bp.route("/users/<int:user_id>/password", methods=["GET", "POST"])
def user_password(user_id: int):
    user = _load(User, user_id)
    form = PasswordResetForm()
    done, _, status = _submit(form, lambda: services.user_reset_password(user=user, password=form.password.data, actor=current_user))
    if done:
        flash(f"账号 {user.username} 的密码已重置，其登录状态已全部失效", "success")
        return redirect(url_for("admin.users"))
    return render_template("admin/user_password.html", form=form, user=user), status


# ---------------------------------------------------------------- organisations


@bp.route("/orgs")
def orgs():
    org_type = request.args.get("type", "")
    status = request.args.get("status", "")
    region_id = _int_arg("region")
    region = db.session.get(Region, region_id) if region_id else None
    filters = {"type": org_type if org_type in ORG_TYPES else "", "status": status if status in ORG_STATUSES else "",
               "region": region.id if region else "", "q": _text_arg("q")}
    stmt = queries.orgs(org_type=filters["type"] or None, status=filters["status"] or None, region=region, q=filters["q"])
    return render_template("admin/orgs.html", pagination=paginate(stmt, page=get_page()), filters=filters,
                           types=ORG_TYPES, statuses=ORG_STATUSES, regions=region_choices())


@bp.route("/orgs/<int:org_id>/edit", methods=["GET", "POST"])
def org_edit(org_id: int):
    org = _load(Organization, org_id)
    form = OrgForm(obj=org).setup()
    done, _, status = _submit(form, lambda: services.org_update(org=org, **form.data_dict()))
    if done:
        flash(f"单位“{org.name}”已保存", "success")
        return redirect(url_for("admin.orgs"))
    return render_template("admin/org_form.html", form=form, org=org, decision_form=OrgDecisionForm(formdata=None)), status


@bp.route("/orgs/<int:org_id>/decide", methods=["POST"])
def org_decide(org_id: int):
    org = _load(Organization, org_id)
    decision = request.form.get("decision", "")
    decision_form = OrgDecisionForm()
    done, _, status = _submit(decision_form, lambda: org_verify(org=org, user=current_user, decision=decision,
                                                                note=decision_form.note.data or ""))
    if done:
        flash(f"“{org.name}”已{'认证通过' if decision == 'verify' else '标记为认证未通过'}", "success")
        return redirect(url_for("admin.org_edit", org_id=org.id))
    form = OrgForm(obj=org, formdata=None).setup()
    return render_template("admin/org_form.html", form=form, org=org, decision_form=decision_form), status


# ---------------------------------------------------------------- regions


def _region_page(error: str | None = None, status: int = 200):
    return render_template("admin/regions.html", rows=queries.region_tree(), levels=LEVELS, error=error), status


@bp.route("/regions")
def regions():
    return _region_page()


@bp.route("/regions/new", methods=["GET", "POST"])
def region_new():
    form = RegionForm().setup()
    parent = db.session.get(Region, _int_arg("parent") or 0)
    if request.method == "GET" and parent is not None and parent.level != "town":
        form.parent_id.data = parent.id
        form.level.data = LEVEL_ORDER[LEVEL_ORDER.index(parent.level) + 1]
    done, region, status = _create(form, lambda: services.region_create(**form.data_dict()),
                                   kind="region", endpoint="admin.region_edit", arg="region_id")
    if done:
        flash(f"区划“{region.name}”已创建", "success")
        return redirect(url_for("admin.regions"))
    return render_template("admin/region_form.html", form=form, region=None), status


@bp.route("/regions/<int:region_id>/edit", methods=["GET", "POST"])
def region_edit(region_id: int):
    region = _load(Region, region_id)
    form = RegionForm(obj=region).setup(exclude=region)
    if request.method == "GET" and region.parent_id is None:
        form.parent_id.data = 0
    done, _, status = _submit(form, lambda: services.region_update(region=region, **form.data_dict()))
    if done:
        flash(f"区划“{region.name}”已保存", "success")
        return redirect(url_for("admin.regions"))
    return render_template("admin/region_form.html", form=form, region=region), status


@bp.route("/regions/<int:region_id>/delete", methods=["POST"])
def region_delete(region_id: int):
    region = _load(Region, region_id)
    name = region.name
    try:
        services.region_delete(region=region)
    except DomainError as err:
        db.session.rollback()
        return _region_page(err.message, err.status_code)
    db.session.commit()
    flash(f"区划“{name}”已删除", "success")
    return redirect(url_for("admin.regions"))


# ---------------------------------------------------------------- field taxonomy


def _field_page(error: str | None = None, status: int = 200):
    return render_template("admin/fields.html", rows=queries.field_tree(), error=error), status


@bp.route("/fields")
def fields():
    return _field_page()


@bp.route("/fields/new", methods=["GET", "POST"])
def field_new():
    form = FieldCreateForm().setup()
    if request.method == "GET":
        form.parent_id.data = _int_arg("parent") or 0
    done, field, status = _create(form, lambda: services.field_create(
        name=form.name.data, parent_id=form.parent_id.data or None, code=form.code.data or ""),
        kind="field", endpoint="admin.field_edit", arg="field_id")
    if done:
        flash(f"技术领域“{field.name}”（{field.code}）已创建", "success")
        return redirect(url_for("admin.fields"))
    return render_template("admin/field_form.html", form=form, field=None), status


@bp.route("/fields/<int:field_id>/edit", methods=["GET", "POST"])
def field_edit(field_id: int):
    field = _load(Field, field_id)
    form = FieldForm(obj=field)
    done, _, status = _submit(form, lambda: services.field_rename(field=field, name=form.name.data))
    if done:
        flash(f"技术领域 {field.code} 已改名为“{field.name}”", "success")
        return redirect(url_for("admin.fields"))
    return render_template("admin/field_form.html", form=form, field=field), status


@bp.route("/fields/<int:field_id>/move", methods=["POST"])
def field_move(field_id: int):
    field = _load(Field, field_id)
    services.field_move(field=field, direction=request.form.get("direction", ""))
    db.session.commit()
    return redirect(url_for("admin.fields") + f"#field-{field.id}")


@bp.route("/fields/<int:field_id>/delete", methods=["POST"])
def field_delete(field_id: int):
    field = _load(Field, field_id)
    name = field.name
    try:
        services.field_delete(field=field)
    except DomainError as err:
        db.session.rollback()
        return _field_page(err.message, err.status_code)
    db.session.commit()
    flash(f"技术领域“{name}”已删除", "success")
    return redirect(url_for("admin.fields"))


# ---------------------------------------------------------------- stock reasons for 退回 (review queue)

from ..models import ReturnReason  # noqa: E402
from ..review import queries as review_queries  # noqa: E402
from ..review import services as review_services  # noqa: E402
from ..review.forms import ReturnReasonForm  # noqa: E402


@bp.route("/reasons", methods=["GET", "POST"])
def reasons():
    """The stock reasons officials pick when they 退回 a listing; the form below the list adds one."""
    form = ReturnReasonForm()
    done, reason, status = _submit(form, lambda: review_services.return_reason_create(text=form.text.data,
                                                                                      user=current_user))
    if done:
        flash(f"已添加常用退回理由“{reason.text}”", "success")
        return redirect(url_for("admin.reasons"))
    return render_template("admin/reasons.html", reasons=review_queries.return_reasons(), form=form), status


@bp.route("/reasons/<int:reason_id>/edit", methods=["GET", "POST"])
def reason_edit(reason_id: int):
    reason = _load(ReturnReason, reason_id)
    form = ReturnReasonForm(obj=reason)
    done, _, status = _submit(form, lambda: review_services.return_reason_update(reason=reason, text=form.text.data,
                                                                                 user=current_user))
    if done:
        flash("常用退回理由已修改", "success")
        return redirect(url_for("admin.reasons"))
    return render_template("admin/reason_form.html", form=form, reason=reason), status


@bp.route("/reasons/<int:reason_id>/delete", methods=["POST"])
def reason_delete(reason_id: int):
    reason = _load(ReturnReason, reason_id)
    text = reason.text
    review_services.return_reason_delete(reason=reason, user=current_user)
    db.session.commit()
    flash(f"已删除常用退回理由“{text}”（已退回的条目保留原理由）", "success")
    return redirect(url_for("admin.reasons"))


# ---------------------------------------------------------------- 登记表 reference codes (market/admin/reg_codes.py)

from . import reg_codes  # noqa: E402

reg_codes.register(bp)
