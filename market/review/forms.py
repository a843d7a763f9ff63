from __future__ import annotations

from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from ..forms import BaseForm

DECISIONS = [("publish", "审核通过并发布"), ("return", "退回")]


class DecisionForm(BaseForm):
    """One listing's review. The listing page posts only `decision` and `reason`; the review page adds a stock
    reason (`reason_id`), which goes before anything typed."""

    decision = SelectField("审核结果", choices=DECISIONS, validate_choice=False)
    reason_id = SelectField("常用退回理由", coerce=int, validate_choice=False, default=0)
    reason = TextAreaField("退回理由", validators=[Length(max=500, message="退回理由不超过500字")])

    def setup(self, reasons) -> DecisionForm:
        self.reason_id.choices = [(0, "（不使用常用理由）")] + [(r.id, r.text) for r in reasons]
        self._stock = {r.id: r.text for r in reasons}
        return self

    def full_reason(self) -> str:
        """The stock reason and what was typed, joined; '' when neither."""
        parts = [self._stock.get(self.reason_id.data or 0, ""), (self.reason.data or "").strip()]
        return "；".join(p for p in parts if p)[:500]


class ReturnReasonForm(BaseForm):
    text = StringField("退回理由", validators=[DataRequired("请填写理由"), Length(max=200, message="理由不超过200字")])
