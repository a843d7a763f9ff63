from __future__ import annotations

from wtforms import HiddenField, StringField

from ..forms import BaseForm, WanField, clean_text


class CountField(StringField):
    """A whole number of items (ASCII digits only); None when empty."""

    def process_formdata(self, valuelist):
        self.raw = valuelist[0] if valuelist else ""
        self.data = None
        text = clean_text(self.raw or "").replace(",", "")
        if not text:
            return
        if not text.isascii() or not text.isdigit() or len(text) > 10:
            raise ValueError("请填写不超过10亿的整数（半角数字）")
        self.data = int(text)

    def _value(self):
        if getattr(self, "raw", None) is not None:
            return self.raw
        return "" if self.data is None else str(self.data)


class TargetForm(BaseForm):
    amount = WanField("合同成交额目标（万元）")
    tech_amount = WanField("技术交易额目标（万元）")
    count = CountField("合同数量目标（份）")
    conversions = CountField("成果转化目标（项）")
    form_token = HiddenField()  # one-time submission token (market/formtokens.py)

    METRICS = ("amount", "tech_amount", "count", "conversions")

    def values(self) -> dict:
        return {name: getattr(self, name).data for name in self.METRICS}
