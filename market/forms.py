"""Form helpers shared by every feature."""
from __future__ import annotations

import re

from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import aliased, contains_eager
from wtforms import IntegerField, StringField, ValidationError
from wtforms.validators import DataRequired, InputRequired, StopValidation

from .errors import DomainError
from .extensions import db
from .models import Field, Region
from .text import clean_name


# control characters (Unicode's Cc: U+0000-U+001F, U+007F-U+009F) but the newline and the tab, and lone surrogates
_DROPPED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_INVALID = re.compile("[\x00\ufffd\ud800-\udfff]")


def clean_text(value):
    """Strip, drop NUL/control characters and lone surrogates (they cannot be stored)."""
    if not isinstance(value, str):
        return value
    return _DROPPED.sub("", value).strip()


INVALID_CHARS = "内容含有无效字符（空字符或无法识别的字符），请删除后重新提交"


def reject_invalid_chars(value):
    """A filter: NUL, lone surrogates and U+FFFD (what undecodable bytes become) are refused, never dropped.

    Dropping them silently changes what the user meant ("12\x005" would become 125).
    """
    if isinstance(value, str) and _INVALID.search(value):
        raise ValueError(INVALID_CHARS)
    return value


def posted_text(name: str, *, label: str, max_length: int = 500) -> str:
    """A free-text value posted outside a form (a reason, a note): cleaned, or a DomainError (400)."""
    from flask import request

    try:
        value = clean_text(reject_invalid_chars(request.form.get(name, "")))
    except ValueError as exc:
        raise DomainError(str(exc), fields={name: str(exc)}) from exc
    if len(value) > max_length:
        message = f"{label}不超过{max_length}字"
        raise DomainError(message, fields={name: message})
    return value


MAX_RECORD_ID = 2**31 - 1  # PostgreSQL INTEGER
MAX_INT_DIGITS = 18  # any 18-digit number fits an int64 and converts to a float without overflow
INVALID_INTEGER = "请输入有效的整数"


def parse_int(value, *, max_digits: int = MAX_INT_DIGITS) -> int | None:
    """An optional sign and 1 to max_digits ASCII digits, surrounding spaces allowed: the int; anything else None.

    int() alone takes "１２３", "٣", "1_000" and a number of any length; a 400-digit one then reaches
    WTForms' NumberRange, whose math.isnan() raises OverflowError (a 500).
    """
    if not isinstance(value, str):
        return None
    text = value.strip(" \t")
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not 1 <= len(digits) <= max_digits or not (digits.isascii() and digits.isdigit()):
        return None
    return int(text)


def record_id(value) -> int:
    """int() for a posted choice id, refusing what no INTEGER column can hold."""
    if isinstance(value, int) and not isinstance(value, bool):  # a default, not typed by anyone
        number = value
    else:
        number = parse_int(value)
        if number is None:
            raise ValueError("编号无效")
    if not -MAX_RECORD_ID <= number <= MAX_RECORD_ID:
        raise ValueError("编号超出范围")
    return number


class IntField(IntegerField):
    """The project's integer field: bounded ASCII digits (parse_int) before any validator runs.

    Empty is None with no error (Optional / DataRequired decide); anything else that is not such a number is
    "请输入有效的整数", and then no range validator runs on it.
    """

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        raw = valuelist[0]
        self.data = None
        if isinstance(raw, str) and not raw.strip():
            return
        number = parse_int(raw)
        if number is None:
            raise ValueError(self.invalid_value_message or INVALID_INTEGER)
        self.data = number

    def pre_validate(self, form):
        if self.process_errors:
            raise StopValidation()  # the message is already in errors; a range check has nothing to compare


class NameField(StringField):
    """A name (organisation, account, person, listing title, region, field): market.text.clean_name runs on it
    before any validator, so uniqueness and length are checked on the stored form; an invisible or control
    character is refused with a message naming the field, never dropped silently."""

    def __init__(self, label=None, validators=None, filters=(), **kwargs):
        super().__init__(label, validators, filters=(reject_invalid_chars, self._clean_name, *filters), **kwargs)

    def _clean_name(self, value):
        return clean_name(value, field_label=self.label.text) if isinstance(value, str) else value


class BaseForm(FlaskForm):
    class Meta:
        locales = ("zh",)

        def bind_field(self, form, unbound_field, options):
            if unbound_field.field_class.__name__ in ("StringField", "TextAreaField", "PasswordField"):
                # passed to this binding only: the class-level UnboundField must not grow on every request
                filters = (reject_invalid_chars, clean_text, *unbound_field.kwargs.get("filters", ()))
                return unbound_field.bind(form=form, filters=filters, **options)
            if unbound_field.kwargs.get("coerce") is int:
                # an id posted as 2**63 would reach the database and fail there (SQLite OverflowError,
                # PostgreSQL "integer out of range"): out of range is "选择无效" like any unknown choice
                return unbound_field.bind(form=form, coerce=record_id, **options)
            return unbound_field.bind(form=form, **options)

    #: where the record made by the first submission of this form is (set when a resubmission is refused)
    saved_url: str | None = None

    def apply_error(self, err: DomainError) -> None:
        self.saved_url = getattr(err, "url", None) or self.saved_url
        for name, message in err.fields.items():
            field = getattr(self, name, None)
            if field is not None:
                field.errors = list(field.errors) + [message]
        if not err.fields or not any(hasattr(self, n) for n in err.fields):
            self.form_errors.append(err.message)

    def add_problems(self, problems: dict[str, str], *, rename: dict[str, str] | None = None) -> None:
        """The service's own checks, run on a form that already failed its validators, so that every error is
        shown at once instead of in rounds: each reason goes to its field unless that field already has one."""
        for name, message in problems.items():
            field = getattr(self, (rename or {}).get(name, name), None)
            if field is not None and hasattr(field, "errors") and not field.errors:
                field.errors = [message]


def region_choices(levels=("city", "county", "town"), root: Region | None = None) -> list[tuple[int, str]]:
    stmt = select(Region).where(Region.level.in_(levels)).order_by(Region.path, Region.code)
    if root is not None:
        stmt = stmt.where(Region.path.startswith(root.path))
    regions = db.session.scalars(stmt).all()
    names = {r.id: r.name for r in db.session.scalars(select(Region))}
    return [(r.id, " / ".join(names[i] for i in r.ancestor_ids if i in names)) for r in regions]


def field_choices() -> list[tuple[int, str]]:
    parent = aliased(Field)  # in the order the administrator set (sort), then by code
    fields = db.session.scalars(
        select(Field)
        .join(parent, Field.parent_id == parent.id)
        .options(contains_eager(Field.parent.of_type(parent)))
        .order_by(parent.sort, parent.code, Field.sort, Field.code)
    ).all()
    return [(f.id, f"{f.parent.name} / {f.name}") for f in fields]


def require_choice(message: str):
    def _check(form, field):
        valid = {value for value, _ in field.choices if value not in (0, "", None)}
        if field.data not in valid:
            raise ValidationError(message)

    return _check


from wtforms import SelectMultipleField, widgets  # noqa: E402
from wtforms.validators import Regexp  # noqa: E402


class EmailAddress(Regexp):
    """A plain e-mail check (WTForms' Email() needs the email_validator package, which is not installed)."""

    def __init__(self, message: str = "电子邮箱格式不正确"):
        super().__init__(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+$", message=message)


PHONE_PATTERN = re.compile(
    r"^(?:(?:\+|00)?86[ -]?)?(?:"
    r"1[3-9]\d(?:[ -]?\d{4}){2}"  # a mobile: 1[3-9] and 9 more digits (138 0000 0000, 138-0000-0000)
    r"|(?:0\d{2,3}[ -]?|[(（]0\d{2,3}[)）] ?)[1-9]\d{2,3}[ -]?\d{4}(?:(?:-|转|分机)\d{1,6})?"  # 0552-1234567-801
    r"|[48]00[ -]?\d{3}[ -]?\d{4}"  # a 400 / 800 service number
    r")$"
)
PHONE_MESSAGE = "请填写正确的电话号码：11位手机号码（如13800000000），或带区号的固定电话（如0552-1234567）"
MOBILE_PATTERN = re.compile(r"^(?:(?:\+|00)?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}$")
MOBILE_MESSAGE = "请填写11位手机号码（如13800000000）"


class Phone:
    """A Chinese mobile number (1[3-9] and 9 more digits) or a landline with its area code (0552-1234567,
    extension after 转 or -), optionally after +86; spaces and hyphens between the groups are allowed.
    Phone(mobile=True): a mobile number only (an account's 手机号码)."""

    def __init__(self, message: str | None = None, *, mobile: bool = False):
        self.pattern = MOBILE_PATTERN if mobile else PHONE_PATTERN
        self.message = message or (MOBILE_MESSAGE if mobile else PHONE_MESSAGE)

    def __call__(self, form, field):
        value = field.data or ""
        if value and not self.pattern.match(value.strip()):
            raise ValidationError(self.message)


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()

    def pre_validate(self, form):
        valid = {value for value, _ in self.choices}
        if any(item not in valid for item in self.data or []):
            raise ValidationError("选项无效")


class _AmountField(StringField):
    """An amount typed as text. Text that is only blanks or control characters counts as empty, and an
    empty amount in a required field is refused here: InputRequired alone looks at the raw text, so
    "\x13" would have passed it with no amount at all."""

    def pre_validate(self, form):
        if self.data is None and not self.process_errors and self.flags.required:
            message = next((v.message for v in self.validators
                            if isinstance(v, (InputRequired, DataRequired)) and v.message), "请填写金额")
            raise StopValidation(message)


class WanField(_AmountField):
    """An amount in 万元, parsed exactly to a Decimal of 元 (None when empty)."""

    def process_formdata(self, valuelist):
        from .money import AmountError, parse_wan

        self.raw = valuelist[0] if valuelist else ""
        self.data = None
        text = clean_text(reject_invalid_chars(self.raw or ""))
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


class YuanField(_AmountField):
    """An amount in 元 with at most two decimals, parsed exactly."""

    def process_formdata(self, valuelist):
        from .money import AmountError, parse_yuan

        self.raw = valuelist[0] if valuelist else ""
        self.data = None
        text = clean_text(reject_invalid_chars(self.raw or ""))
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
