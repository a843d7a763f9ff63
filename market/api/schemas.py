"""The open API's request and response shapes (marshmallow), from which flask-smorest writes the OpenAPI document."""
from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import EXCLUDE, RAISE, Schema, fields, validate

from ..models import API_SCOPES
from ..models.listing import ACHIEVEMENT_MODES, DEMAND_MODES, IP_STATUSES, IP_TYPES, MATURITY_LEVELS, PRICE_BANDS

MAX_LIMIT = 100
AMOUNT_PATTERN = r"^\d{1,15}(\.\d{1,2})?$"


class ProblemSchema(Schema):
    type = fields.String(metadata={"description": "问题类型（about:blank）"})
    title = fields.String(metadata={"description": "状态的中文名称"})
    status = fields.Integer()
    detail = fields.String(metadata={"description": "中文说明"})
    errors = fields.Dict(keys=fields.String(), values=fields.String(), metadata={"description": "字段 -> 中文错误说明"})


class CursorArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    cursor = fields.String(load_default=None, validate=validate.Length(max=200),
                           metadata={"description": "上一页返回的 next_cursor；首页不填"})
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_LIMIT),
                           metadata={"description": f"每页条数（1-{MAX_LIMIT}）"})


class ListingFilterArgs(CursorArgs):
    field = fields.String(load_default="", validate=validate.Length(max=16), metadata={"description": "技术领域代码"})
    region = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2_147_483_647),
                            metadata={"description": "区域 id（含下级区域）"})
    mode = fields.String(load_default="", validate=validate.Length(max=16), metadata={"description": "合作/交易方式代码"})
    band = fields.String(load_default="", validate=validate.OneOf(["", "negotiable", *PRICE_BANDS]),
                         metadata={"description": "预算/价格区间（万元）"})


class AchievementFilterArgs(ListingFilterArgs):
    maturity = fields.Integer(load_default=None, validate=validate.OneOf(list(MATURITY_LEVELS)),
                              metadata={"description": "技术成熟度（1-9）"})


class NamedRef(Schema):
    id = fields.Integer()
    name = fields.String()


class FieldRef(Schema):
    id = fields.Integer(metadata={"description": "新建、修改条目时的 field_id"})
    code = fields.String()
    name = fields.String()


class ListingSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "demand（技术需求）或 achievement（科技成果）"})
    title = fields.String()
    status = fields.String()
    status_label = fields.String()
    body = fields.String(metadata={"description": "需求描述或成果简介"})
    org = fields.Nested(NamedRef)
    region = fields.Nested(NamedRef, allow_none=True)
    field = fields.Nested(FieldRef, allow_none=True)
    keywords = fields.List(fields.String())
    modes = fields.List(fields.String())
    amount = fields.String(allow_none=True, metadata={"description": "预算或价格，单位元，两位小数；null 为面议"})
    maturity = fields.Integer(allow_none=True)
    deadline = fields.Date(allow_none=True)
    published_at = fields.DateTime(allow_none=True)
    updated_at = fields.DateTime()
    contact = fields.Dict(allow_none=True, metadata={"description": "联系方式（仅在可见时提供）"})
    url = fields.String()


class ListingPage(Schema):
    items = fields.List(fields.Nested(ListingSchema))
    next_cursor = fields.String(allow_none=True)


class ListingWriteSchema(Schema):
    """What a listing's owner sends; the same rules as the form on the pages (market/listings/services.py)."""

    class Meta:
        unknown = RAISE

    title = fields.String(required=True, validate=validate.Length(min=4, max=120))
    field_id = fields.Integer(required=True, validate=validate.Range(min=1, max=2_147_483_647))
    body = fields.String(required=True, validate=validate.Length(min=10, max=5000),
                         metadata={"description": "需求：拟解决的技术难题；成果：成果简介"})
    keywords = fields.List(fields.String(validate=validate.Length(max=30)), load_default=list,
                           validate=validate.Length(max=12))
    modes = fields.List(fields.String(validate=validate.Length(max=16)), required=True,
                        validate=validate.Length(min=1, max=8),
                        metadata={"description": "需求：" + "、".join(DEMAND_MODES) + "；成果：" + "、".join(ACHIEVEMENT_MODES)})
    amount = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(AMOUNT_PATTERN),
                           metadata={"description": "金额（元，最多两位小数）；null 为面议"})
    contact_name = fields.String(required=True, validate=validate.Length(min=1, max=50))
    contact_phone = fields.String(required=True, validate=validate.Length(min=5, max=30))
    contact_email = fields.String(load_default="", validate=validate.Length(max=120))
    contact_public = fields.Boolean(load_default=False)
    indicators = fields.String(load_default="", validate=validate.Length(max=2000))
    deadline = fields.Date(load_default=None, allow_none=True)
    maturity = fields.Integer(load_default=None, allow_none=True, validate=validate.OneOf(list(MATURITY_LEVELS)))
    ip_type = fields.String(load_default="", validate=validate.OneOf(["", *IP_TYPES]))
    ip_numbers = fields.String(load_default="", validate=validate.Length(max=300))
    ip_status = fields.String(load_default="", validate=validate.OneOf(["", *IP_STATUSES]))
    team_lead = fields.String(load_default="", validate=validate.Length(max=50))
    team_members = fields.String(load_default="", validate=validate.Length(max=300))
    submit = fields.Boolean(load_default=False, metadata={"description": "true：保存后提交审核（同页面上的“提交审核”）"})


class IdempotencyHeader(Schema):
    class Meta:
        unknown = EXCLUDE

    idempotency_key = fields.String(data_key="Idempotency-Key", load_default=None,
                                    validate=validate.Length(min=1, max=100),
                                    metadata={"description": "同一个键重试只创建一条记录"})


class InterestWriteSchema(Schema):
    class Meta:
        unknown = RAISE

    message = fields.String(required=True, validate=validate.Length(min=5, max=1000),
                            metadata={"description": "留言（5-1000字）"})
    link_id = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=2_147_483_647),
                             metadata={"description": "可选：关联本单位一条已发布的另一类条目"})


class InterestSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "interest（对成果的意向）或 solution（对需求的揭榜应答）"})
    status = fields.String()
    listing_kind = fields.String()
    listing_id = fields.Integer()


class SuggestionSchema(Schema):
    score = fields.Integer(metadata={"description": "匹配度（0-100）：同一匹配度的配对中是正确配对的比例（校准于留出评测），与页面相同"})
    strength = fields.String(metadata={"description": "强（≥50）/ 中（≥20）/ 弱"})
    own = fields.Boolean(metadata={"description": "本条目自己的匹配排出的推荐（在前）；否则为对方条目的匹配排出（对方推荐，在后）"})
    reasons = fields.List(fields.String())
    listing = fields.Nested(ListingSchema)


class SuggestionList(Schema):
    items = fields.List(fields.Nested(SuggestionSchema))


class StatsArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    region = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2_147_483_647),
                            metadata={"description": "区域 id；默认为本人管辖区域"})
    year = fields.Integer(load_default=None, validate=validate.Range(min=2000, max=2100))


class FiguresSchema(Schema):
    n = fields.Integer(metadata={"description": "合同数"})
    amount = fields.String(metadata={"description": "合同成交额（元，两位小数）"})
    tech_amount = fields.String(metadata={"description": "技术交易额（元，两位小数）"})


class StatsRowSchema(Schema):
    key = fields.String()
    name = fields.String()
    buyer = fields.Nested(FiguresSchema, metadata={"description": "吸纳"})
    seller = fields.Nested(FiguresSchema, metadata={"description": "输出"})


class StatsSchema(Schema):
    region = fields.Nested(NamedRef, allow_none=True)
    year = fields.Integer()
    total = fields.Nested(StatsRowSchema)
    by_region = fields.List(fields.Nested(StatsRowSchema))
    by_type = fields.List(fields.Nested(StatsRowSchema))


class SearchArgsSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    q = fields.String(load_default="", validate=validate.Length(max=200))
    kind = fields.String(load_default="all", validate=validate.OneOf(["all", "demand", "achievement"]))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1000))
    field = fields.String(load_default="", validate=validate.Length(max=16))
    region = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2_147_483_647))
    mode = fields.String(load_default="", validate=validate.Length(max=16))
    band = fields.String(load_default="", validate=validate.OneOf(["", *PRICE_BANDS]))
    maturity = fields.Integer(load_default=None, validate=validate.OneOf(list(MATURITY_LEVELS)))


class FacetValueSchema(Schema):
    value = fields.String()
    label = fields.String()
    count = fields.Integer()


class SearchResultSchema(Schema):
    items = fields.List(fields.Nested(ListingSchema))
    total = fields.Integer()
    page = fields.Integer()
    facets = fields.Dict(keys=fields.String(), values=fields.List(fields.Nested(FacetValueSchema)))
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())


class CampaignTaskSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    award = fields.String(metadata={"description": "奖补资金（元，两位小数）"})
    deadline = fields.DateTime()
    announced = fields.Boolean()
    url = fields.String()


class CampaignSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    description = fields.String()
    region = fields.Nested(NamedRef, allow_none=True)
    created_at = fields.DateTime()
    tasks = fields.List(fields.Nested(CampaignTaskSchema))
    url = fields.String()


class CampaignPage(Schema):
    items = fields.List(fields.Nested(CampaignSchema))
    next_cursor = fields.String(allow_none=True)


class EventSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    kind_label = fields.String()
    title = fields.String()
    place = fields.String()
    region = fields.Nested(NamedRef, allow_none=True)
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    status = fields.String(metadata={"description": "active（正常）或 cancelled（已取消）"})
    url = fields.String()


class EventPage(Schema):
    items = fields.List(fields.Nested(EventSchema))
    next_cursor = fields.String(allow_none=True)


class TokenInfoSchema(Schema):
    name = fields.String()
    scopes = fields.List(fields.String(validate=validate.OneOf(list(API_SCOPES))))
    expires_at = fields.DateTime()
    user = fields.String()
    role = fields.String()


# --- 技术合同登记: the page's submission form (market/registration/forms.py SubmissionForm) as multipart fields ----

_NOT_POSTED = {"registration_no", "reason", "form_token", "version", "csrf_token"}  # drawn, page-only or per request
_REQUIRED = {"buyer_name", "contract_type", "amount", "tech_amount", "signed_on"}


def _submission_form_fields() -> dict:
    """One documented string per field of the page's form, named and labelled as there (so the document cannot
    drift from the form); the form itself parses and checks them, as on the page."""
    from wtforms.fields.core import UnboundField

    from ..registration.forms import SubmissionForm

    found = [(v.creation_counter, n, v) for n in dir(SubmissionForm)
             if isinstance(v := getattr(SubmissionForm, n, None), UnboundField) and n not in _NOT_POSTED]
    out = {}
    for _, name, unbound in sorted(found):
        label = unbound.args[0] if unbound.args else unbound.kwargs.get("label", name)
        kind = unbound.field_class.__name__
        note = {"DateField": "，格式 YYYY-MM-DD", "ContractAmountField": "，最多两位小数",
                "SelectField": "，取值同页面表单的选项"}.get(kind, "")
        if name.endswith("_id"):
            note = "，填 id"
        if name == "seller_name":
            note += "；单位成员提交时为本单位，只有技术经纪人填写"
        out[name] = fields.String(load_default=None, metadata={
            "description": f"{label}{note}{'（必填）' if name in _REQUIRED else ''}"})
    return out


# the multipart body as one documented schema (flask-smorest writes one requestBody per operation): the form's
# fields and the scan; the view reads the fields with the page's form and the scan from request.files
ContractSubmitForm = Schema.from_dict(
    {**_submission_form_fields(),
     "scan": Upload(load_default=None, metadata={"description": "合同扫描件（PDF，不超过10MB；必填）"})},
    name="ContractSubmitForm")
ContractSubmitForm.Meta.unknown = EXCLUDE


class ContractSubmittedSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    registration_no = fields.String(allow_none=True, metadata={"description": "登记编号；登记前为 null"})
    contract_type = fields.String()
    amount = fields.String(metadata={"description": "合同成交额（元，两位小数）"})
    tech_amount = fields.String(metadata={"description": "技术交易额（元，两位小数）"})
    signed_on = fields.Date()
    status = fields.String(metadata={"description": "submitted（待登记）、returned、refused、registered"})
    status_label = fields.String(metadata={"description": "中文状态，如“待登记”"})
    reg_point = fields.Nested(NamedRef, allow_none=True, metadata={"description": "受理的登记点"})
    submitted_at = fields.DateTime(allow_none=True)
    url = fields.String()


class ContractPage(Schema):
    items = fields.List(fields.Nested(ContractSubmittedSchema))
    next_cursor = fields.String(allow_none=True)
