"""Form helpers shared by every feature."""
from __future__ import annotations

import unicodedata

from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import ValidationError

from .errors import DomainError
from .extensions import db
from .models import Field, Region


def clean_text(value):
    """Strip, drop NUL/control characters and lone surrogates (they cannot be stored)."""
    if not isinstance(value, str):
        return value
    out = []
    for ch in value:
        if "\ud800" <= ch <= "\udfff":
            continue
        if unicodedata.category(ch) == "Cc" and ch not in "\n\t":
            continue
        out.append(ch)
    return "".join(out).replace("\r\n", "\n").strip()


class BaseForm(FlaskForm):
    class Meta:
        locales = ("zh",)

        def bind_field(self, form, unbound_field, options):
            filters = unbound_field.kwargs.get("filters", ())
            if unbound_field.field_class.__name__ in ("StringField", "TextAreaField", "PasswordField"):
                unbound_field.kwargs["filters"] = (clean_text, *filters)
            return unbound_field.bind(form=form, **options)

    def apply_error(self, err: DomainError) -> None:
        for name, message in err.fields.items():
            field = getattr(self, name, None)
            if field is not None:
                field.errors = list(field.errors) + [message]
        if not err.fields or not any(hasattr(self, n) for n in err.fields):
            self.form_errors.append(err.message)


def region_choices(levels=("city", "county", "town"), root: Region | None = None) -> list[tuple[int, str]]:
    stmt = select(Region).where(Region.level.in_(levels)).order_by(Region.path, Region.code)
    if root is not None:
        stmt = stmt.where(Region.path.startswith(root.path))
    regions = db.session.scalars(stmt).all()
    names = {r.id: r.name for r in db.session.scalars(select(Region))}
    return [(r.id, " / ".join(names[i] for i in r.ancestor_ids if i in names)) for r in regions]


def field_choices() -> list[tuple[int, str]]:
    fields = db.session.scalars(select(Field).where(Field.parent_id.is_not(None)).order_by(Field.code)).all()
    return [(f.id, f"{f.parent.name} / {f.name}") for f in fields]


def require_choice(message: str):
    def _check(form, field):
        valid = {value for value, _ in field.choices if value not in (0, "", None)}
        if field.data not in valid:
            raise ValidationError(message)

    return _check


from wtforms import SelectMultipleField, StringField, widgets  # noqa: E402


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()

    def pre_validate(self, form):
        valid = {value for value, _ in self.choices}
        if any(item not in valid for item in self.data or []):
            raise ValidationError("选项无效")


class WanField(StringField):
    """An amount in 万元, parsed exactly to a Decimal of 元 (None when empty)."""

    def process_formdata(self, valuelist):
        from .money import AmountError, parse_wan

        self.raw = valuelist[0] if valuelist else ""
        self.data = None
        text = clean_text(self.raw or "")
        if not text:
            return
        try:
            self.data = parse_wan(text)
        except AmountError as exc:
            raise ValueError(str(exc)) from exc

    def _value(self):
        if getattr(self, "raw", None) is not None:
            return self.raw
        if self.data is None:
            return ""
        from .money import WAN

        return format((self.data / WAN).normalize(), "f")


class YuanField(StringField):
    """An amount in 元 with at most two decimals, parsed exactly."""

    def process_formdata(self, valuelist):
        from .money import AmountError, parse_yuan

        self.raw = valuelist[0] if valuelist else ""
        self.data = None
        text = clean_text(self.raw or "")
        if not text:
            return
        try:
            self.data = parse_yuan(text)
        except AmountError as exc:
            raise ValueError(str(exc)) from exc

    def _value(self):
        if getattr(self, "raw", None) is not None:
            return self.raw
        return "" if self.data is None else str(self.data)
