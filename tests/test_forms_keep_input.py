"""Issue 17 item 4: every refusal on every form shows that form again, with what was typed and every error at
once, each next to its field, with a 4xx status; nothing is stored.

CASES has one entry per form class in market/forms.py and market/*/forms.py (test_every_form_class_has_a_case
fails on a new form without one) and per form that posts outside a form class (a file upload). Each case posts
input that is wrong in several fields at once, including errors only a service finds (a past deadline, a payment
above the contract, a password rule), and checks on the re-rendered page:
  - the status is 400-422;
  - each expected error is in an element marked data-field="<name>" whose nearest form control before it is
    the field <name> (the error is next to its field, not in a banner);
  - each typed value is still in its field of the form that posted (the value of its input, the text of its
    textarea, the selected option, the ticked box);
  - the form's record count did not change.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from html.parser import HTMLParser
from typing import Callable
from urllib.parse import urlsplit

from flask_wtf import FlaskForm

from market.extensions import db
from market.notifications.topics import TOPICS
from tests import factories
from tests.helpers import client_for, csrf_token, form_token
from tests.test_fuzz_forms import _invitation_token, _PageForms, objs, product_form_classes  # noqa: F401  (objs: a fixture)

# A date that is in the future in the market's time zone (China, UTC+8) whatever this machine's zone and however
# long the run: "tomorrow" here was China's today from 16:00 UTC, and a run that crossed midnight took it as past.
TOMORROW = (date.today() + timedelta(days=3)).isoformat()
YESTERDAY = (date.today() - timedelta(days=1)).isoformat()

# base classes that are never posted themselves (each subclass has its case)
ABSTRACT = {"BaseForm", "ListingForm", "ContractTermsForm"}


@dataclass
class Case:
    forms: tuple[str, ...]  # the form classes this post exercises ("" for a post without a form class)
    role: str  # a `world.users` name, or "anonymous"
    url: Callable  # (objs, world) -> url
    data: Callable  # (objs, world) -> the posted fields
    errors: dict[str, str]  # field -> part of its error message
    kept: dict[str, str] = field(default_factory=dict)  # field -> the value it must show again
    count: Callable | None = None  # (objs, world) -> a number that must not change (rows of the form's table)
    multipart: bool = False


def _agency_named(o, w):
    from sqlalchemy import func, select

    from market.extensions import db
    from market.models import Happening

    return db.session.scalar(select(func.count()).select_from(Happening).where(Happening.agency_id.is_not(None)))


def _count(model_name: str):
    def count(o, w):
        from market import models

        return db.session.query(getattr(models, model_name)).count()
    return count


def _event_statuses(o, w):
    from market.models import Happening

    return [h.status for h in db.session.query(Happening).order_by(Happening.id)]


def _users(o, w):
    from market.models import User

    return db.session.query(User).count()


CASES = [
    Case(("LoginForm",), "anonymous", lambda o, w: "/login", lambda o, w: {"username": "kept_name", "password": ""},
         {"password": "请填写密码"}, {"username": "kept_name"}),
    Case(("RegisterForm",), "anonymous", lambda o, w: "/register",
         lambda o, w: {"role": "enterprise", "username": "ab", "name": "张三丰", "phone": "1380000", "email": "bad@",
                       "password": "short", "password2": "other", "org_name": "保留输入测试企业", "org_type": "enterprise",
                       "uscc": "12345", "region_id": str(w.regions["town_a"].id), "address": "蚌埠市测试路1号",
                       "contact_phone": "0552-12", "form_token": form_token()},
         {"username": "3-32位", "phone": "手机号码", "email": "电子邮箱格式不正确", "password2": "不一致",
          "password": "10", "uscc": "18", "agree": "同意", "contact_phone": "区号"},
         {"name": "张三丰", "phone": "1380000", "email": "bad@", "org_name": "保留输入测试企业", "address": "蚌埠市测试路1号",
          "uscc": "12345", "contact_phone": "0552-12", "username": "ab"}, _users),
    Case(("PasswordForm",), "pw_user", lambda o, w: "/account/password",
         lambda o, w: {"old_password": "", "new_password": "abc", "new_password2": "abd"},
         {"old_password": "请填写原密码", "new_password2": "不一致"}),
    Case(("UserCreateForm", "UserEditForm"), "admin", lambda o, w: "/admin/users/new",
         lambda o, w: {"role": "official", "username": "bad name!", "name": "王五六", "phone": "1380000", "email": "x@",
                       "password": "", "password2": "", "region_id": str(w.regions["county_a"].id),
                       "form_token": form_token()},
         {"username": "3-32位", "phone": "手机号码", "email": "格式不正确", "password": "请设置初始密码"},
         {"name": "王五六", "phone": "1380000", "email": "x@", "username": "bad name!"}, _users),
    Case(("UserEditForm",), "admin", lambda o, w: f"/admin/users/{o.fuzz_user.id}/edit",
         lambda o, w: {"name": "", "phone": "1380000", "email": "y@", "region_id": "0"},
         {"name": "请填写姓名", "phone": "手机号码", "email": "格式不正确"}, {"phone": "1380000", "email": "y@"}),
    Case(("PasswordResetForm",), "admin", lambda o, w: f"/admin/users/{o.fuzz_user.id}/password",
         lambda o, w: {"password": "", "password2": "x"}, {"password": "请填写新密码", "password2": "不一致"}),
    Case(("OrgForm",), "admin", lambda o, w: f"/admin/orgs/{o.fuzz_org.id}/edit",
         lambda o, w: {"name": "甲", "uscc": "", "org_type": "enterprise", "region_id": str(w.regions["county_b"].id),
                       "contact_phone": "1380000", "contact_email": "z@", "address": "地" * 201},
         {"name": "2-100字", "uscc": "请填写统一社会信用代码", "contact_phone": "区号", "contact_email": "格式不正确",
          "address": "不超过200字"},
         {"name": "甲", "contact_phone": "1380000", "contact_email": "z@", "address": "地" * 201}),
    Case(("OrgDecisionForm",), "admin", lambda o, w: f"/admin/orgs/{o.fuzz_org.id}/decide",
         lambda o, w: {"decision": "reject", "note": "意" * 501}, {"note": "不超过500字"}, {"note": "意" * 501}),
    Case(("RegionForm",), "admin", lambda o, w: "/admin/regions/new",
         lambda o, w: {"code": "", "name": "保留输入镇", "level": "town", "parent_id": str(w.regions["county_b"].id),
                       "sort": "abc", "form_token": form_token()},
         {"code": "请填写行政区划代码", "sort": "整数"}, {"name": "保留输入镇", "sort": "abc", "level": "town"},
         _count("Region")),
    Case(("FieldCreateForm", "FieldForm"), "admin", lambda o, w: "/admin/fields/new",
         lambda o, w: {"name": "", "parent_id": str(w.fields["root_materials"].id), "code": "c" * 17,
                       "form_token": form_token()},
         {"name": "请填写领域名称", "code": "领域代码过长"}, {"code": "c" * 17}, _count("Field")),
    Case(("FieldForm",), "admin", lambda o, w: f"/admin/fields/{o.fuzz_field.id}/edit",
         lambda o, w: {"name": "领" * 65}, {"name": "不超过64字"}, {"name": "领" * 65}),
    Case(("ReturnReasonForm",), "admin", lambda o, w: "/admin/reasons", lambda o, w: {"text": "由" * 201},
         {"text": "不超过200字"}, {"text": "由" * 201}, _count("ReturnReason")),
    Case(("ReturnReasonForm",), "admin", lambda o, w: f"/admin/reasons/{o.fuzz_reason.id}/edit",
         lambda o, w: {"text": ""}, {"text": "请填写理由"}),
    # the need form's errors come at once: the past deadline and the missing 合作方式 (the service's checks) with
    # the validators' (issue 17: "reports its errors in rounds")
    Case(("DemandForm",), "enterprise", lambda o, w: "/demands/new",
         lambda o, w: {"title": "短标题", "field_id": str(w.fields["materials"].id), "description": "太短了",
                       "budget": "-1", "contact_name": "李四", "contact_phone": "1380000", "contact_email": "li@",
                       "deadline": YESTERDAY, "keywords": "保留的关键词", "form_token": form_token()},
         {"title": "4-120字", "description": "10-5000字", "budget": "", "contact_phone": "区号",
          "contact_email": "格式不正确", "deadline": "晚于今天", "modes": "合作方式"},
         {"title": "短标题", "description": "太短了", "budget": "-1", "contact_phone": "1380000", "contact_email": "li@",
          "deadline": YESTERDAY, "keywords": "保留的关键词", "contact_name": "李四"}, _count("Demand")),
    Case(("AchievementForm",), "institution", lambda o, w: "/achievements/new",
         lambda o, w: {"title": "保留输入的成果标题", "field_id": str(w.fields["root_materials"].id), "summary": "短",
                       "maturity": "0", "price": "一百万", "contact_name": "王教授", "contact_phone": "0552-1234567",
                       "team_lead": "", "team_members": "甲、乙", "modes": ["transfer"], "form_token": form_token()},
         {"summary": "10-5000字", "maturity": "请选择技术成熟度", "price": "", "team_lead": "请填写团队负责人",
          "field_id": "请选择技术领域"},
         {"title": "保留输入的成果标题", "summary": "短", "price": "一百万", "team_members": "甲、乙", "modes": "transfer"},
         _count("Achievement")),
    Case(("DemandForm",), "enterprise", lambda o, w: f"/demands/{o.draft_demand.id}/edit",
         lambda o, w: {"title": "修改后的需求标题", "field_id": str(w.fields["materials"].id), "description": "修改后的描述",
                       "budget": "", "contact_name": "李四", "contact_phone": "0552-1234567", "modes": ["development"],
                       "deadline": YESTERDAY},
         {"budget": "面议", "deadline": "晚于今天", "description": "10-5000字"},
         {"title": "修改后的需求标题", "description": "修改后的描述", "deadline": YESTERDAY}),
    # 退回 without a reason (issue 17: a bare "400 · 请求有误" page)
    Case(("DecisionForm",), "official", lambda o, w: f"/review/demands/{o.pending_demand.id}",
         lambda o, w: {"decision": "return", "reason": "   ", "reason_id": "0"}, {"reason": "请填写退回理由"}),
    Case(("ContractForm",), "broker", lambda o, w: "/contracts/new",
         lambda o, w: {"registration_no": "", "title": "保留输入的合同", "contract_type": "development",
                       "buyer_name": "甲", "seller_name": "保留输入的卖方单位", "amount": "abc", "tech_amount": "-5",
                       "signed_on": TOMORROW, "buyer_region_id": str(w.regions["county_a"].id),
                       "seller_region_id": str(w.regions["county_a"].id), "form_token": form_token()},
         {"registration_no": "登记编号", "amount": "", "tech_amount": "", "signed_on": "不能晚于今天"},
         {"title": "保留输入的合同", "seller_name": "保留输入的卖方单位", "amount": "abc", "tech_amount": "-5",
          "signed_on": TOMORROW}, _count("Contract")),
    Case(("DealContractForm",), "broker", lambda o, w: f"/contracts/from-deal/{o.deal.id}",
         lambda o, w: {"registration_no": "", "title": "签约的保留合同", "contract_type": "", "amount": "1000",
                       "tech_amount": "2000", "signed_on": "2026-02-30", "version": "1", "form_token": form_token()},
         {"registration_no": "登记编号", "contract_type": "请选择合同类型", "tech_amount": "不能超过合同成交额",
          "signed_on": ""},
         {"title": "签约的保留合同", "amount": "1000", "tech_amount": "2000", "signed_on": "2026-02-30"},
         _count("Contract")),
    Case(("ContractEditForm",), "broker", lambda o, w: f"/contracts/{o.contract.id}/edit",
         lambda o, w: {"registration_no": "", "title": "修改后的保留合同", "contract_type": "development", "amount": "abc",
                       "tech_amount": "10", "signed_on": TOMORROW, "version": str(o.contract.version),
                       "buyer_region_id": str(w.regions["county_a"].id), "seller_region_id": str(w.regions["city"].id)},
         {"registration_no": "登记编号", "amount": "", "signed_on": "不能晚于今天"},
         {"title": "修改后的保留合同", "amount": "abc", "signed_on": TOMORROW}),
    # a payment dated in the future and above the contract (issue 17: "the form gone")
    Case(("PaymentForm",), "broker", lambda o, w: f"/contracts/{o.contract.id}/payments",
         lambda o, w: {"paid_on": TOMORROW, "amount": "99999999.00", "note": "第一期保留", "form_token": form_token()},
         {"paid_on": "不能晚于今天", "amount": "超过合同成交额"},
         {"paid_on": TOMORROW, "amount": "99999999.00", "note": "第一期保留"}, _count("Payment")),
    Case(("VoidForm",), "city_official", lambda o, w: f"/contracts/{o.void_contract.id}/void",
         lambda o, w: {"reason": "废"}, {"reason": "2-500字"}, {"reason": "废"}),
    Case(("ImportForm",), "broker", lambda o, w: "/contracts/import", lambda o, w: {"skip_bad": "y"},
         {"file": "请选择要导入的文件"}, {"skip_bad": "y"}, _count("Contract"), multipart=True),
    Case(("",), "broker", lambda o, w: f"/contracts/{o.contract.id}/scan", lambda o, w: {}, {"scan": "请选择"},
         multipart=True),
    Case(("TargetForm",), "admin", lambda o, w: f"/dashboard/targets/{w.regions['county_a'].id}",
         lambda o, w: {"amount": "十二万", "tech_amount": "1e3", "count": "1.5", "conversions": "3",
                       "form_token": form_token()},
         {"amount": "", "tech_amount": "", "count": "整数"},
         {"amount": "十二万", "tech_amount": "1e3", "count": "1.5", "conversions": "3"}, _count("Target")),
    Case(("InterestForm",), "enterprise", lambda o, w: f"/deals/interest/achievement/{o.offer.id}",
         lambda o, w: {"message": "想合作", "form_token": form_token()}, {"message": "5-1000字"}, {"message": "想合作"},
         _count("Interest")),
    Case(("DecideForm",), "institution", lambda o, w: f"/deals/interests/{o.interest.id}/decide",
         lambda o, w: {"decision": "decline", "reason_code": "other", "reason_text": ""},
         {"reason_text": "请填写具体原因"}, {"reason_code": "other"}),
    Case(("MoveForm",), "broker", lambda o, w: f"/deals/{o.deal.id}/move",
         lambda o, w: {"to": "terminated", "version": str(o.deal.version), "reason_code": "", "text": "终止的说明保留"},
         {"reason_code": "请选择原因"}, {"text": "终止的说明保留"}),
    Case(("PlanForm",), "broker", lambda o, w: f"/deals/{o.deal.id}/plan",
         lambda o, w: {"next_action_on": "2026-02-30", "next_action": ""},
         {"next_action_on": "", "next_action": "请填写下一步要做的事"}, {"next_action_on": "2026-02-30"}),
    Case(("SourceForm",), "broker", lambda o, w: f"/deals/{o.deal.id}/source",
         lambda o, w: {"source": "broker_visit", "note": "走"}, {"note": "2-200字"}, {"note": "走"}, _count("DealEvent")),
    Case(("NoteForm",), "broker", lambda o, w: f"/deals/{o.deal.id}/note",
         lambda o, w: {"text": "记" * 1001, "form_token": form_token()}, {"text": "不超过1000字"}, {"text": "记" * 1001},
         _count("DealEvent")),
    # 技术合同登记 (objs: county A's 登记点 with world.users.registrar; fuzz_submission waits there)
    Case(("SubmissionForm",), "institution", lambda o, w: "/registration/submit",
         lambda o, w: {"title": "保留输入的登记合同", "contract_type": "development", "buyer_name": w.orgs.ent_a.name,
                       "seller_name": w.orgs.uni.name, "amount": "abc", "tech_amount": "-5", "signed_on": TOMORROW,
                       "buyer_region_id": str(w.regions["county_a"].id), "seller_region_id": str(w.regions["county_a"].id),
                       "form_token": form_token()},
         {"amount": "", "tech_amount": "", "signed_on": "不能晚于今天"},
         {"title": "保留输入的登记合同", "amount": "abc", "tech_amount": "-5", "signed_on": TOMORROW},
         _count("Contract"), multipart=True),
    Case(("DecisionForm",), "registrar", lambda o, w: f"/registration/{o.fuzz_submission.id}/decide",
         lambda o, w: {"decision": "register", "tech_amount": "一百万", "reason": "", "version": str(o.fuzz_submission.version)},
         {"tech_amount": ""}, {"tech_amount": "一百万"}),
    Case(("DecisionForm",), "registrar", lambda o, w: f"/registration/{o.fuzz_submission.id}/decide",
         lambda o, w: {"decision": "return", "tech_amount": "", "reason": "  ", "version": str(o.fuzz_submission.version)},
         {"reason": "请填写"}, {"decision": "return"}),
    Case(("CancelForm",), "institution", lambda o, w: f"/registration/{o.cancel_contract.id}/cancel",
         lambda o, w: {"reason": "废"}, {"reason": "2-500字"}, {"reason": "废"}),
    Case(("PointForm",), "admin", lambda o, w: "/registration/points",
         lambda o, w: {"name": "", "kind": "", "region_id": "0", "division": "34032", "serial": "0"},
         {"name": "登记点名称", "kind": "类型", "region_id": "区域", "division": "6位数字", "serial": "1-99"},
         {"division": "34032", "serial": "0"}, _count("RegPoint")),
    Case(("RegistrarForm",), "admin", lambda o, w: f"/registration/points/{o.reg_point.id}",
         lambda o, w: {"username": "ab", "name": "登记员甲", "password": "short"},
         {"username": "3-32位", "password": "10"}, {"username": "ab", "name": "登记员甲"}, _users),
    Case(("StateForm",), "admin", lambda o, w: f"/registration/points/{o.reg_point.id}/state",
         lambda o, w: {"active": "0", "confirm": "", "move_to": "0"}, {"confirm": "请勾选"}, {}, _count("RegStep")),
    Case(("CalendarDayForm",), "admin", lambda o, w: "/registration/calendar",
         lambda o, w: {"day": "2027-02-30", "kind": "", "name": "春节"}, {"day": "请填写日期", "kind": "请选择"},
         {"day": "2027-02-30", "name": "春节"}, _count("WorkCalendarDay")),
    # 单位成员 (ent_a's first account administers it in `objs`)
    Case(("InviteForm",), "enterprise", lambda o, w: "/org/invitations",
         lambda o, w: {"note": "备" * 51, "email": "colleague@", "form_token": form_token()},
         {"note": "不能超过50字", "email": "格式不正确"}, {"note": "备" * 51, "email": "colleague@"},
         _count("OrgInvitation")),
    Case(("JoinForm",), "anonymous", lambda o, w: f"/join/{_invitation_token(o.fuzz_invitation)}",
         lambda o, w: {"username": "ab", "name": "受邀的同事", "phone": "1380000", "email": "bad@", "password": "",
                       "password2": "x", "form_token": form_token()},
         {"username": "3-32位", "phone": "手机号码", "email": "格式不正确", "password": "请设置密码", "agree": "同意"},
         {"username": "ab", "name": "受邀的同事", "phone": "1380000", "email": "bad@"}, _users),
    # events (objs.happening: tests/test_happenings.event_objects)
    Case(("HappeningForm",), "official", lambda o, w: "/events/new",
         lambda o, w: {**_event_form(), "title": "短", "capacity": "十", "starts_at": "明天上午", "sessions": ""},
         {"title": "4-100字", "capacity": "有效的整数", "starts_at": "时间格式不对", "sessions": "请至少填写一个议程"},
         {"title": "短", "starts_at": "明天上午"}, _count("Happening")),
    Case(("HappeningForm",), "official", lambda o, w: f"/events/{o.happening.id}/edit",
         lambda o, w: {**w.happening_edit, "title": "短", "capacity": "十", "ends_at": "后天", "sessions": ""},
         {"title": "4-100字", "capacity": "有效的整数", "ends_at": "时间格式不对", "sessions": "请至少填写一个议程"},
         {"title": "短", "ends_at": "后天"}, _count("HappeningSession")),
    # 服务机构, 技术经纪人, 专家库 (objs: tests/test_agencies.agency_objects)
    Case(("AgencyServicesForm",), "broker", lambda o, w: "/agencies/services",
         lambda o, w: {"services": ["transfer", "bogus"], "note": "长" * 501},
         {"services": "选项无效", "note": "不超过500字"}, {}, _count("AgencyService")),
    Case(("BrokerProfileForm",), "broker", lambda o, w: "/brokers/me",
         lambda o, w: {"public": "y", "intro": "长" * 501}, {"intro": "不超过500字"}, {}, _count("BrokerProfile")),
    Case(("BrokerRegistryForm",), "official", lambda o, w: f"/brokers/{w.users.broker.id}/registry",
         lambda o, w: {"cert_no": "JJ-1", "agency_id": str(w.orgs.agency.id), "region_id": str(w.regions["county_b"].id)},
         {"cert_no": "证书编号为6-32位", "region_id": "管辖范围内的区域"}, {"cert_no": "JJ-1"}),
    Case(("ExpertForm",), "official", lambda o, w: "/experts/new",
         lambda o, w: {"name": "李研究员", "title": "研究员", "username": "nobody_here", "org_name": "不存在的单位",
                       "region_id": str(w.regions["county_a"].id), "available": "y"},
         {"username": "未找到该账号", "org_name": "未找到该单位", "field_ids": "至少一个技术领域"},
         {"username": "nobody_here", "org_name": "不存在的单位", "title": "研究员"}, _count("Expert")),
    Case(("CallOffForm",), "official", lambda o, w: f"/events/{o.happening.id}/call-off",
         lambda o, w: {"reason": "因故" * 251}, {"reason": "不超过500字", "confirm": "请勾选确认"},
         {"reason": "因故" * 251}, _event_statuses),
    Case(("EventAgencyForm",), "official", lambda o, w: f"/events/{o.happening.id}/agency",
         lambda o, w: {"agency_id": "第一服务机构"}, {"agency_id": "选择无效"}, {}, _agency_named),
    Case(("CheckInForm",), "official", lambda o, w: f"/events/{o.happening.id}/checkin",
         lambda o, w: {"code": "1-" + "A" * 70}, {"code": "签到码无效"}, {}, _count("HappeningSignup")),
    Case(("SpotInterestForm",), "official", lambda o, w: f"/events/{o.happening.id}/interest",
         lambda o, w: {"signup_id": str(w.happening_signup_id), "listing_key": "", "message": "短",
                       "form_token": form_token()},
         {"listing_key": "请选择展示的需求或成果", "message": "5-1000字"}, {"message": "短"}, _count("Interest")),
    # 协议定价 公示 and 挂牌 (tests/test_transfers.transfer_objects, in objs)
    Case(("DisclosureForm",), "institution", lambda o, w: f"/achievements/{o.achievement.id}/disclosures/new",
         lambda o, w: {"buyer_name": "甲", "contract_type": "", "price": "12.5万元", "days": "3", "contact_name": "张老师",
                       "contact_phone": "123", "contact_email": "", "form_token": form_token()},
         {"buyer_name": "2-100字", "contract_type": "请选择", "price": "单位已是元", "days": "5-90天",
          "contact_phone": "电话号码"}, {"buyer_name": "甲", "price": "12.5万元", "days": "3"}, _count("Disclosure")),
    Case(("ObjectionForm",), "enterprise_b", lambda o, w: f"/disclosures/{o.disclosure.id}/objections",
         lambda o, w: {"reasons": "太短", "contact": "1", "form_token": form_token()}, {"reasons": "10-2000字", "contact": "5-120字"},
         {"reasons": "太短", "contact": "1"}, _count("DisclosureObjection")),
    Case(("AnswerForm",), "institution", lambda o, w: f"/objections/{o.objection.id}/answer",
         lambda o, w: {"answer": "答"}, {"answer": "2-2000字"}, {"answer": "答"}),
    Case(("ObjectionDecideForm",), "admin", lambda o, w: f"/objections/{o.objection_open.id}/decide",
         lambda o, w: {"decision": "", "reason": "理" * 501}, {"decision": "请选择认定结果", "reason": "2-500字"}),
    Case(("PriceListingForm",), "institution", lambda o, w: f"/achievements/{o.achievement.id}/price-listings/new",
         lambda o, w: {"contract_type": "transfer", "price": "12.5万元", "days": "400", "note": "",
                       "form_token": form_token()},
         {"price": "单位已是元", "days": "1-365天"}, {"price": "12.5万元", "days": "400"}, _count("PriceListing")),
    # 竞价 (tests/test_auctions.auction_objects, in objs)
    Case(("AuctionSessionForm",), "official", lambda o, w: "/auctions/new",
         lambda o, w: {"title": "短", "form_token": form_token()},
         {"title": "4-100字"}, {"title": "短"}, _count("AuctionSession")),
    Case(("AuctionLotForm",), "official", lambda o, w: f"/auctions/{o.auction_session.id}/lots/new",
         lambda o, w: {"achievement_id": str(o.achievement.id), "starting_price": "12.5万元", "reserve_price": "",
                       "increment": "1000", "deposit_amount": "0", "starts_at": "明天上午", "ends_at": "2030-01-02T09:00",
                       "snipe_window_minutes": "5", "extend_minutes": "0", "form_token": form_token()},
         {"starting_price": "单位已是元", "starts_at": "时间格式不对", "extend_minutes": "1-1440分钟"},
         {"starting_price": "12.5万元", "starts_at": "明天上午"}, _count("AuctionLot")),
    Case(("BidForm",), "enterprise", lambda o, w: f"/auctions/lots/{o.auction_lot.id}/bid",
         lambda o, w: {"amount": "12.5万元"}, {"amount": "单位已是元"}, {"amount": "12.5万元"}, _count("AuctionBid")),
    Case(("ProxyBidForm",), "enterprise", lambda o, w: f"/auctions/lots/{o.auction_lot.id}/proxy",
         lambda o, w: {"ceiling": "12.5万元"}, {"ceiling": "单位已是元"}, {"ceiling": "12.5万元"}, _count("AuctionProxy")),
    Case(("AuctionDepositForm",), "official", lambda o, w: f"/auctions/lots/{o.auction_lot.id}/deposits",
         lambda o, w: {"org_id": str(w.orgs.uni.id), "amount": "12.5万元"}, {"amount": "单位已是元"},
         {"amount": "12.5万元"}, _count("AuctionDeposit")),
    # 揭榜挂帅 (tests/test_campaigns.forms_setup)
    Case(("MilestoneForm",), "official", lambda o, w: f"/campaigns/tasks/{_campaign(w).campaign_done_task.id}/milestones",
         lambda o, w: {"title": "小", "due_on": "明年", "amount": "-1"},
         {"title": "2-100字", "due_on": "计划完成日期", "amount": "不能为负数"}, {"title": "小", "amount": "-1"},
         _count("CampaignMilestone")),
    Case(("MilestoneSubmitForm",), "enterprise_b",
         lambda o, w: f"/campaigns/milestones/{_campaign(w).campaign_milestone.id}/submit",
         lambda o, w: {"note": "短"}, {"note": "5-5000字"}, {"note": "短"}, _count("CampaignMilestone")),
    Case(("MilestoneDecideForm",), "enterprise",
         lambda o, w: f"/campaigns/milestones/{_campaign(w).campaign_delivered.id}/decide",
         lambda o, w: {"decision": "", "reason": "理" * 2001}, {"decision": "请选择验收结论", "reason": "不超过2000字"},
         {}, _count("CampaignMilestone")),
    Case(("CampaignForm",), "official", lambda o, w: "/campaigns/new",
         lambda o, w: {"title": "短", "form_token": form_token()}, {"title": "4-100字"}, {"title": "短"},
         _count("Campaign")),
    Case(("TaskForm",), "official", lambda o, w: f"/campaigns/{_campaign(w).campaign.id}/tasks/new",
         lambda o, w: {**_campaign_task_form(w), "title": "短", "award": "12.5万元", "deadline": "明天上午"},
         {"title": "4-100字", "award": "单位已是元", "deadline": "时间格式不对"},
         {"title": "短", "award": "12.5万元", "deadline": "明天上午"}, _count("CampaignTask")),
    Case(("ProposalForm",), "institution", lambda o, w: f"/campaigns/tasks/{_campaign(w).campaign_task.id}/proposal",
         lambda o, w: {"summary": "短", "plan": "太短的方案"}, {"summary": "5-200字", "plan": "20-20000字"},
         {"summary": "短", "plan": "太短的方案"}, _count("CampaignProposal")),
    Case(("ScoreForm",), "institution",
         lambda o, w: f"/campaigns/proposals/{_campaign(w).scored_proposal.id}/score",
         lambda o, w: {"points-0": "六十", "points-1": "101"},
         {"points-0": "有效的整数", "points-1": "0至100"}, {"points-0": "六十", "points-1": "101"},
         _count("CampaignScore")),
    Case(("TokenForm",), "enterprise", lambda o, w: "/account/tokens",
         lambda o, w: {"name": "令" * 61, "expires_on": "2099-01-01"},
         {"name": "不超过60字", "scopes": "至少选择一项", "expires_on": "最长一年"},
         {"name": "令" * 61, "expires_on": "2099-01-01"}, _count("ApiToken")),
    Case(("MailSettingsForm",), "enterprise", lambda o, w: "/notifications/settings",
         lambda o, w: {**{f"mode_{t}": "digest" for t in TOPICS}, "email": "mail@"}, {"email": "格式不正确"},
         {"email": "mail@"}),
]


def _campaign(w):
    from tests.test_campaigns import forms_setup

    return forms_setup(w)


def _campaign_task_form(w):
    from tests.test_campaigns import valid_task_form

    return valid_task_form(w, _campaign(w))


def _event_form():
    from tests.test_happenings import valid_event_form

    return valid_event_form()


class _Page(HTMLParser):
    """The controls of a page in order: where each data-field error sits, and each form's current values."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.last_control: str | None = None
        self.errors: list[tuple[str, str | None, str]] = []  # (data-field, the control before it, text)
        self._error: list | None = None
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("input", "select", "textarea") and a.get("name") and a.get("type") != "hidden":
            self.last_control = a["name"]
        if self._error is not None and tag == "div":
            self._depth += 1
        elif tag == "div" and "data-field" in a:
            self._error = [a["data-field"], self.last_control, ""]
            self._depth = 0

    def handle_data(self, data):
        if self._error is not None:
            self._error[2] += data

    def handle_endtag(self, tag):
        if self._error is not None and tag == "div":
            if self._depth == 0:
                self.errors.append(tuple(self._error))
                self._error = None
            else:
                self._depth -= 1


def _posted_form_values(page: str, url: str) -> dict[str, list[str]]:
    parser = _PageForms()
    parser.feed(page)
    values: dict[str, list[str]] = {}
    for form in parser.forms:
        if (urlsplit(form["action"]).path or urlsplit(url).path) == urlsplit(url).path:
            for name, found in form["values"].items():  # a textarea's text starts with the newline WTForms writes
                values.setdefault(name, []).extend(v.removeprefix("\r\n").removeprefix("\n") for v in found)
    return values


def test_every_form_class_has_a_case():
    """A new form class without a case here fails: each form must show its refusals with the input kept."""
    named = {name for case in CASES for name in case.forms}
    classes = {c.__name__ for c in product_form_classes()}
    missing = sorted(classes - named - ABSTRACT)
    assert not missing, f"form classes with no case in tests/test_forms_keep_input.py: {missing}"
    stale = sorted(named - classes - {""})
    assert not stale, f"cases naming no form class: {stale}"
    assert all(issubclass(c, FlaskForm) for c in product_form_classes())


def test_refused_forms_keep_input_and_show_each_error_at_its_field(app, world, objs):
    """Every case on one set of objects (a refused post stores nothing, so the cases do not meet); every
    problem of every case is reported at once."""
    problems: list[str] = []
    clients: dict[str, object] = {}
    for case in CASES:
        if case.role not in clients:
            clients[case.role] = (app.test_client() if case.role == "anonymous"
                                  else client_for(app, getattr(world.users, case.role)))
        problems += _check(case, clients[case.role], objs, world)
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)


def _check(case: Case, client, objs, world) -> list[str]:
    url = case.url(objs, world)
    data = {**case.data(objs, world), "csrf_token": csrf_token(client)}
    before = case.count(objs, world) if case.count else None
    kw = {"content_type": "multipart/form-data"} if case.multipart else {}
    resp = client.post(url, data=data, **kw)
    page = resp.get_data(as_text=True)
    if not 400 <= resp.status_code <= 422:
        return [f"{url}: status {resp.status_code}, want 400-422: {page[:200]!r}"]
    out = []
    parser = _Page()
    parser.feed(page)
    for name, part in case.errors.items():
        shown = [(before_it, text.strip()) for field_name, before_it, text in parser.errors if field_name == name]
        if not shown:
            out.append(f"{url}: no error at field {name!r} (errors shown: {parser.errors})")
        elif not any(part in text for _, text in shown):
            out.append(f"{url}: {name!r} says {shown}, expected {part!r}")
        elif any(before_it != name for before_it, _ in shown):
            out.append(f"{url}: the error of {name!r} is not next to it: {shown}")
    values = _posted_form_values(page, url)
    for name, typed in case.kept.items():
        if typed not in values.get(name, []):
            out.append(f"{url}: {name!r} shows {str(values.get(name))[:80]}, typed {typed[:40]!r}")
    if case.count is not None:
        db.session.rollback()
        if case.count(objs, world) != before:
            out.append(f"{url}: a refused post stored something")
    return out


def test_phone_numbers():
    """One validator (market.forms.Phone): a mobile 1[3-9] and 9 digits, or a landline with its area code."""
    from market.forms import MOBILE_PATTERN, PHONE_PATTERN

    for good in ("13800000000", "138-0000-0000", "+86 139 0000 1111", "0552-1234567", "0552-12345678", "010-12345678",
                 "(0552)1234567", "0552-1234567转801", "400-123-4567"):
        assert PHONE_PATTERN.match(good), good
    for bad in ("1380000", "12345678", "12800000000", "1380000000", "0552-123456", "0552-0234567", "abc", "138000000000"):
        assert not PHONE_PATTERN.match(bad), bad
    assert MOBILE_PATTERN.match("13800000000") and not MOBILE_PATTERN.match("0552-1234567")


def test_username_hint_and_errors_state_one_rule(app):
    from market.auth.forms import USERNAME_HINT, USERNAME_RULE

    page = app.test_client().get("/register").get_data(as_text=True)
    assert USERNAME_HINT in page and USERNAME_RULE.endswith(USERNAME_HINT)
    assert "点（.）和减号（-）" in USERNAME_HINT


def test_registration_records_consent(app, world):
    from market.models import User

    client = app.test_client()
    page = client.get("/register").get_data(as_text=True)
    assert 'href="/static/legal/terms.html"' in page and 'href="/static/legal/privacy.html"' in page
    for path, title in (("/static/legal/terms.html", "用户协议"), ("/static/legal/privacy.html", "隐私政策")):
        resp = client.get(path)
        assert resp.status_code == 200 and title in resp.get_data(as_text=True)
    data = {"role": "enterprise", "username": "consent_user", "name": "赵六", "phone": "13800000009",
            "password": "Consent-pass-2026", "password2": "Consent-pass-2026", "org_name": "同意协议测试企业",
            "org_type": "enterprise", "uscc": factories.uscc(990077), "region_id": str(world.regions["town_a"].id),
            "form_token": form_token(), "csrf_token": csrf_token(client)}
    resp = client.post("/register", data=data)
    assert resp.status_code == 400 and "请阅读并同意" in resp.get_data(as_text=True)
    assert db.session.query(User).filter_by(username="consent_user").count() == 0
    resp = client.post("/register", data={**data, "agree": "y"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    db.session.expire_all()
    user = db.session.query(User).filter_by(username="consent_user").one()
    assert user.terms_accepted_at is not None
