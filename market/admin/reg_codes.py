"""系统管理 › 登记表代码: the reference codes of the 技术合同登记表 (法人性质, 知识产权类型, 登记技术领域, 计划来源,
社会经济目标), kept as data so that a revised 管理办法 needs no release. routes.py adds these views to the admin
blueprint (`register`), behind its admins-only check."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Length, NumberRange, Optional

from ..data.reg_codes import REG_CODE_KINDS
from ..errors import DomainError
from ..extensions import db
from ..forms import BaseForm, IntField
from ..models import RegCode
from .services.reg_codes import reg_code_create, reg_code_update


class RegCodeForm(BaseForm):
    kind = SelectField("类别", choices=list(REG_CODE_KINDS.items()), validate_choice=False)
    code = StringField("代码", validators=[Length(max=8, message="代码为1-8位字母或数字")])
    label = StringField("名称", validators=[Length(max=100, message="名称不超过100字")])
    parent_code = StringField("上级代码", validators=[Optional(), Length(max=8, message="上级代码为1-8位字母或数字")])
    sort = IntField("排序", validators=[Optional(), NumberRange(min=0, max=99999, message="排序为0-99999")])


class RegCodeEditForm(BaseForm):
    label = StringField("名称", validators=[Length(max=100, message="名称不超过100字")])
    sort = IntField("排序", validators=[Optional(), NumberRange(min=0, max=99999, message="排序为0-99999")])
    active = BooleanField("启用（停用后新登记的合同不能再选，已登记的合同保留）")


def _submit(form, call) -> tuple[bool, object, int]:
    """Validate, run one service call, commit: (done, result, status for a re-rendered form)."""
    if not form.validate_on_submit():
        return False, None, 400 if request.method == "POST" else 200
    try:
        result = call()
    except DomainError as err:
        db.session.rollback()
        form.apply_error(err)
        return False, None, 400
    db.session.commit()
    return True, result, 200


def _kind_arg() -> str:
    kind = request.args.get("kind", "")
    return kind if kind in REG_CODE_KINDS else "legal_form"


def _codes(kind: str) -> list[RegCode]:
    return list(db.session.scalars(select(RegCode).where(RegCode.kind == kind).order_by(RegCode.sort, RegCode.code)))


def _list_page(form: RegCodeForm, kind: str, status: int = 200):
    return render_template("admin/reg_codes.html", kinds=REG_CODE_KINDS, kind=kind, codes=_codes(kind),
                           form=form), status


def reg_codes():
    kind = _kind_arg()
    form = RegCodeForm(formdata=None, kind=kind)
    return _list_page(form, kind)


def reg_code_new():
    form = RegCodeForm()
    kind = form.kind.data if form.kind.data in REG_CODE_KINDS else "legal_form"
    done, row, status = _submit(form, lambda: reg_code_create(
        kind=form.kind.data or "", code=form.code.data or "", label=form.label.data or "",
        parent_code=form.parent_code.data or "", sort=form.sort.data or 0, user=current_user))
    if done:
        flash(f"已添加{REG_CODE_KINDS[row.kind]}代码 {row.code} {row.label}", "success")
        return redirect(url_for("admin.reg_codes", kind=row.kind))
    return _list_page(form, kind, status)


def reg_code_edit(code_id: int):
    row = db.session.get(RegCode, code_id)
    if row is None:
        abort(404)
    form = RegCodeEditForm(obj=row)
    done, _, status = _submit(form, lambda: reg_code_update(row=row, label=form.label.data or "",
                                                             sort=form.sort.data or 0, active=form.active.data,
                                                             user=current_user))
    if done:
        flash("代码已保存", "success")
        return redirect(url_for("admin.reg_codes", kind=row.kind))
    return render_template("admin/reg_code_form.html", form=form, row=row, kinds=REG_CODE_KINDS), status


def register(bp) -> None:
    bp.add_url_rule("/reg-codes", view_func=reg_codes)
    bp.add_url_rule("/reg-codes/new", view_func=reg_code_new, methods=["POST"])
    bp.add_url_rule("/reg-codes/<int:code_id>", view_func=reg_code_edit, methods=["GET", "POST"])
