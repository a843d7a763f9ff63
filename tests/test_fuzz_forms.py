"""Hypothesis over every form of every POST route (SECURITY.md item 7): never a 5xx.

The routes come from `app.url_map`. For each POST rule that takes input, the fields are found three ways: the
form classes its view instantiates (`XxxForm(` in the view's source, resolved in its module), the names it reads
straight from the request (`request.form.get("x")`, `.getlist("x")`, `posted_text("x")`, `_int_form("x")`,
`request.files.get("x")`, `request.files.getlist("x")`),
and the `<form>` on the real page that posts to it (inputs, options, prefilled values). Each route is posted by a
role allowed to post it, with a valid CSRF token: first a table of NEEDLES in every field at once (1 MB, NUL, lone
surrogates, full-width digits, NaN, 1e309, 2**63, ...), then Hypothesis examples that spoil any subset of the real
page's values. Pass: every answer is 2xx, 3xx or 4xx.

Reproducible: the examples are drawn from MARKET_FUZZ_SEED (tests/helpers.py), which a failure message names;
every input that once gave a 5xx is kept in FOUND and posted on every run.

A POST rule in neither TARGETS nor NON_FORM fails the inventory test, and so does a form class in
market/*/forms.py that no target's view uses. Query parameters are fuzzed by tests/test_fuzz_inputs.py.
"""
from __future__ import annotations

import inspect
import itertools
import logging
import pkgutil
import re
import traceback
from dataclasses import dataclass, field
from datetime import date, timedelta
from html.parser import HTMLParser
from importlib import import_module
from pathlib import Path
from typing import Callable
from urllib.parse import urlencode, urlsplit

import pytest
from flask_wtf import FlaskForm
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from wtforms.fields.core import UnboundField

import market
from market.extensions import db
from market.notifications.topics import TOPICS
from tests import factories
from tests.helpers import FUZZ_SEED, client_for, csrf_token, form_token, fuzz_seed_hint, is_login_redirect, objects

EXAMPLES_PER_TARGET = 16  # Hypothesis draws per target, after the NEEDLES; about 1,200 requests in all

# POST rules that take no input beyond the CSRF token (their permission cells are in tests/test_access_matrix.py).
# test_non_form_posts_read_no_input checks that their views indeed read no form, field or file.
NON_FORM = {
    "auth.logout", "admin.region_delete", "admin.field_delete", "deals.interest_withdraw", "notifications.open_", "notifications.read_all", "jobs.retry",
    "notifications.subscription_delete", "notifications.unsubscribe",  # one button each: only the CSRF token
    "admin.reason_delete",  # a delete button (tests/test_review_queue.py)
    "jobs.search_rebuild",  # one button: a rebuild request (tests/test_search_rebuild.py)
    "members.revoke", "members.remove",  # one button each (单位成员, tests/test_org_members.py)
    "happenings.signup", "happenings.cancel",  # one button each (活动报名, tests/test_happenings.py)
    "campaigns.announce",  # one button (公布揭榜结果, tests/test_campaigns.py)
    "auctions.session_publish", "auctions.session_cancel", "auctions.deposit_returned",  # buttons (竞价, issue 20)
    "agencies.collect_demand",  # one button (登记需求征集, tests/test_agencies_figures.py)
    "transfers.disclosure_withdraw", "transfers.listing_withdraw", "transfers.listing_accept",  # buttons (issue 20)
    "api_pages.revoke",  # one button (撤销 API 令牌, tests/test_api_tokens.py)
    "api.my_demands_create", "api.my_achievements_create",  # JSON, fuzzed by tests/test_api_schema.py
    "api.demands_interest", "api.achievements_interest",  # JSON, fuzzed by tests/test_api_schema.py
}
# POST rules of the token API that read a multipart form (the API never acts on a session, so this fuzz, which
# posts as a signed-in browser, cannot reach them): Schemathesis fuzzes them from the OpenAPI document
# (tests/test_api_schema.py), with a token
API_FORMS = {"api.contracts_submit"}


@dataclass
class Target:
    """One way to post a form: who posts it, to which URLs, and which page holds the form (None: no GET page)."""

    key: str  # endpoint, or "endpoint:<default>" as in tests/test_access_matrix.py
    role: str  # a `world.users` name, or "anonymous"
    urls: Callable  # (objs, world) -> [url, ...]
    page: Callable | None = None  # (objs, world, url) -> the page whose <form action> is url
    valid: Callable = field(default=lambda o, w: {})  # known-good values, overlaid on the page's own


def _same(o, w, url):
    return url


def _valid_listing(kind: str):
    def valid(o, w):
        common = {"title": "寻求光伏玻璃减反射镀膜技术", "field_id": str(w.fields["materials"].id), "keywords": "光伏玻璃",
                  "contact_name": "李四", "contact_phone": "0552-1234567", "contact_email": "li@example.cn"}
        if kind == "demand":
            return {**common, "description": "现有减反射膜耐候性差，两年后衰减明显，寻求合作。", "budget": "12.5",
                    "modes": ["development"], "deadline": (date.today() + timedelta(days=60)).isoformat()}
        return {**common, "summary": "本成果采用磁控溅射工艺制备低方阻透明导电膜。", "price": "80", "maturity": "6",
                "modes": ["transfer"], "team_lead": "王教授"}
    return valid


def _valid_event_form():
    from tests.test_happenings import valid_event_form

    return valid_event_form()


def _valid_task_form(o, w):
    from tests.test_campaigns import valid_task_form

    return valid_task_form(w, o)


def _valid_lot_form(o):
    from tests.test_auctions import valid_lot_form

    return valid_lot_form(o)


def _valid_contract(o, w):
    return {"registration_no": "2026340300009999", "title": "光伏玻璃镀膜技术开发合同", "contract_type": "development",
            "buyer_org_id": str(w.orgs.ent_a.id), "seller_org_id": str(w.orgs.uni.id), "amount": "100000.00",
            "tech_amount": "80000.00", "signed_on": date.today().isoformat(), "field_id": str(w.fields["materials"].id)}


TARGETS = [
    Target("auth.login", "anonymous", lambda o, w: ["/login"], _same,
           lambda o, w: {"username": "ent_a", "password": "wrong-password"}),
    Target("auth.register", "anonymous", lambda o, w: ["/register"], _same,
           lambda o, w: {"role": "enterprise", "username": "fuzz_new", "name": "张三", "phone": "13800000001",
                         "password": "Fuzz-pass-2026", "password2": "Fuzz-pass-2026", "org_name": "模糊测试企业",
                         "org_type": "enterprise", "uscc": factories.uscc(990001), "region_id": str(w.regions["town_a"].id),
                         "agree": "y"}),
    Target("auth.change_password", "pw_user", lambda o, w: ["/account/password"], _same,
           lambda o, w: {"old_password": factories.PASSWORD, "new_password": "Fuzz-pass-2027",
                         "new_password2": "Fuzz-pass-2027"}),
    Target("listings.create:demand", "enterprise", lambda o, w: ["/demands/new"], _same, _valid_listing("demand")),
    Target("listings.create:achievement", "institution", lambda o, w: ["/achievements/new"], _same,
           _valid_listing("achievement")),
    Target("listings.edit:demand", "enterprise", lambda o, w: [f"/demands/{o.draft_demand.id}/edit"], _same),
    Target("listings.edit:achievement", "institution", lambda o, w: [f"/achievements/{o.draft_achievement.id}/edit"], _same),
    Target("listings.transition:demand", "enterprise",
           lambda o, w: [f"/demands/{o.draft_demand.id}/{a}" for a in ("submit", "withdraw", "close", "done")]
           + [f"/demands/{o.open_demand.id}/{a}" for a in ("close", "done")]),
    Target("listings.transition:achievement", "institution",
           lambda o, w: [f"/achievements/{o.draft_achievement.id}/{a}" for a in ("submit", "withdraw", "close", "done")]
           + [f"/achievements/{o.open_achievement.id}/{a}" for a in ("close", "done")]),
    Target("listings.reopen:demand", "enterprise", lambda o, w: [f"/demands/{o.contract_done_demand.id}/reopen"],
           lambda o, w, url: f"/demands/{o.contract_done_demand.id}", lambda o, w: {"reason": "合同未履行"}),
    Target("listings.reopen:achievement", "institution",
           lambda o, w: [f"/achievements/{o.contract_done_achievement.id}/reopen"],
           lambda o, w, url: f"/achievements/{o.contract_done_achievement.id}", lambda o, w: {"reason": "合同未履行"}),
    Target("review.decide:demand", "official", lambda o, w: [f"/review/demands/{o.pending_demand.id}"],
           lambda o, w, url: f"/demands/{o.pending_demand.id}", lambda o, w: {"decision": "reject", "reason": "请补充技术指标"}),
    Target("review.decide:achievement", "admin", lambda o, w: [f"/review/achievements/{o.pending_achievement.id}"],
           lambda o, w, url: f"/achievements/{o.pending_achievement.id}", lambda o, w: {"decision": "reject", "reason": "请补充技术指标"}),
    Target("review.verify_org", "official", lambda o, w: [f"/review/orgs/{o.org.id}"], lambda o, w, url: "/review/orgs",
           lambda o, w: {"decision": "reject", "note": "信用代码与名称不符"}),
    Target("review.decide_broker", "official", lambda o, w: [f"/review/brokers/{o.review_broker.id}"],
           lambda o, w, url: "/review/brokers", lambda o, w: {"decision": "reject", "note": "证书编号不符"}),
    Target("review.batch", "official", lambda o, w: ["/review/batch"], lambda o, w, url: "/review/?kind=demand",
           lambda o, w: {"kind": "demand", "ids": [str(o.pending_demand.id)]}),
    Target("admin.reasons", "admin", lambda o, w: ["/admin/reasons"], _same, lambda o, w: {"text": "模糊测试的退回理由"}),
    Target("admin.reason_edit", "admin", lambda o, w: [f"/admin/reasons/{o.fuzz_reason.id}/edit"], _same),
    Target("admin.reg_code_new", "admin", lambda o, w: ["/admin/reg-codes/new"], lambda o, w, url: "/admin/reg-codes",
           lambda o, w: {"kind": "ip_type", "code": "8", "label": "模糊测试的代码", "sort": "8"}),
    Target("admin.reg_code_edit", "admin", lambda o, w: [f"/admin/reg-codes/{o.fuzz_reg_code.id}"], _same),
    Target("admin.user_new", "admin", lambda o, w: ["/admin/users/new"], _same),
    Target("admin.user_edit", "admin", lambda o, w: [f"/admin/users/{o.fuzz_user.id}/edit"], _same),
    Target("admin.user_active", "admin",
           lambda o, w: [f"/admin/users/{o.fuzz_user.id}/disable", f"/admin/users/{o.fuzz_user.id}/enable"],
           lambda o, w, url: "/admin/users"),
    Target("admin.user_password", "admin", lambda o, w: [f"/admin/users/{o.fuzz_user.id}/password"], _same),
    Target("admin.org_edit", "admin", lambda o, w: [f"/admin/orgs/{o.fuzz_org.id}/edit"], _same),
    Target("admin.org_decide", "admin", lambda o, w: [f"/admin/orgs/{o.fuzz_org.id}/decide"],
           lambda o, w, url: f"/admin/orgs/{o.fuzz_org.id}/edit", lambda o, w: {"decision": "reject"}),
    Target("admin.region_new", "admin", lambda o, w: ["/admin/regions/new"], _same),
    Target("admin.region_edit", "admin", lambda o, w: [f"/admin/regions/{o.fuzz_region.id}/edit"], _same),
    Target("admin.field_new", "admin", lambda o, w: ["/admin/fields/new"], _same),
    Target("admin.field_edit", "admin", lambda o, w: [f"/admin/fields/{o.fuzz_field.id}/edit"], _same),
    Target("admin.field_move", "admin", lambda o, w: [f"/admin/fields/{o.fuzz_field.id}/move"],
           lambda o, w, url: "/admin/fields", lambda o, w: {"direction": "down"}),
    Target("contracts.create", "broker", lambda o, w: ["/contracts/new"], _same, _valid_contract),
    Target("contracts.from_deal", "broker", lambda o, w: [f"/contracts/from-deal/{o.deal.id}"], _same),
    Target("contracts.edit", "broker", lambda o, w: [f"/contracts/{o.contract.id}/edit"], _same),
    Target("contracts.add_payment", "broker", lambda o, w: [f"/contracts/{o.contract.id}/payments"],
           lambda o, w, url: f"/contracts/{o.contract.id}",
           lambda o, w: {"paid_on": date.today().isoformat(), "amount": "1000.00"}),
    Target("contracts.upload_scan", "broker", lambda o, w: [f"/contracts/{o.contract.id}/scan"],
           lambda o, w, url: f"/contracts/{o.contract.id}"),
    Target("contracts.import_file", "broker", lambda o, w: ["/contracts/import"], _same),
    Target("contracts.link_decide", "enterprise", lambda o, w: [f"/contracts/links/{o.link.id}"],
           lambda o, w, url: f"/demands/{o.demand.id}", lambda o, w: {"decision": "decline", "reason": "未签订该合同"}),
    # the contract's sides lie in county A and the city itself: only an official over both may void it
    Target("contracts.void", "city_official", lambda o, w: [f"/contracts/{o.void_contract.id}/void"],
           lambda o, w, url: f"/contracts/{o.void_contract.id}", lambda o, w: {"reason": "重复登记"}),
    # 技术合同登记 (issue 16 item 4): objs.contract is registered at objs.reg_point; objs.fuzz_submission waits there
    Target("registration.submit", "enterprise", lambda o, w: ["/registration/submit"], _same,
           lambda o, w: {"buyer_name": "五河乙企业有限公司", "title": "热处理工艺技术开发合同", "contract_type": "development",
                         "amount": "100000.00", "tech_amount": "80000.00", "signed_on": date.today().isoformat(),
                         "buyer_region_id": str(w.regions["county_b"].id), "seller_region_id": str(w.regions["town_a"].id)}),
    Target("registration.edit", "institution", lambda o, w: [f"/registration/{o.contract.id}/edit"], _same,
           lambda o, w: {"reason": "补充协议"}),
    Target("registration.cancel", "institution", lambda o, w: [f"/registration/{o.cancel_contract.id}/cancel"],
           lambda o, w, url: f"/registration/{o.cancel_contract.id}", lambda o, w: {"reason": "合同解除"}),
    Target("registration.decide", "registrar", lambda o, w: [f"/registration/{o.fuzz_submission.id}/decide"],
           lambda o, w, url: f"/registration/{o.fuzz_submission.id}",
           lambda o, w: {"decision": "return", "reason": "缺少签字页"}),
    Target("registration.points", "admin", lambda o, w: ["/registration/points"], _same,
           lambda o, w: {"name": "五河县技术合同登记点", "kind": "bureau", "region_id": str(w.regions["county_b"].id),
                         "division": "340322", "serial": "1"}),
    Target("registration.point", "admin", lambda o, w: [f"/registration/points/{o.reg_point.id}"], _same,
           lambda o, w: {"username": "fuzz_reg", "name": "模糊登记员", "password": "Fuzz-pass-2026"}),
    Target("registration.point_state", "admin", lambda o, w: [f"/registration/points/{o.reg_point.id}/state"],
           lambda o, w, url: f"/registration/points/{o.reg_point.id}", lambda o, w: {"active": "0", "confirm": "y"}),
    Target("registration.registrar_state", "admin", lambda o, w: [f"/registration/registrars/{w.users.registrar.id}/state"],
           lambda o, w, url: f"/registration/points/{o.reg_point.id}", lambda o, w: {"active": "0", "confirm": "y"}),
    Target("registration.calendar_days", "admin", lambda o, w: ["/registration/calendar"],
           lambda o, w, url: "/registration/calendar", lambda o, w: {"day": "2027-02-08", "kind": "holiday", "name": "春节"}),
    Target("registration.verify", "anonymous", lambda o, w: ["/registration/verify"], _same,
           lambda o, w: {"code": "ABCDEFGH2345"}),
    Target("dashboard.target_edit", "admin", lambda o, w: [f"/dashboard/targets/{w.regions['county_a'].id}"], _same,
           lambda o, w: {"amount": "12.5", "count": "3"}),
    Target("deals.interest_create", "enterprise", lambda o, w: [f"/deals/interest/achievement/{o.offer.id}"],
           lambda o, w, url: f"/achievements/{o.offer.id}", lambda o, w: {"message": "希望就该成果开展合作，请联系。"}),
    Target("deals.interest_create", "institution", lambda o, w: [f"/deals/interest/demand/{o.demand.id}"],
           lambda o, w, url: f"/demands/{o.demand.id}", lambda o, w: {"message": "我方有相关成果，希望合作。"}),
    Target("deals.interest_decide", "institution", lambda o, w: [f"/deals/interests/{o.interest.id}/decide"],
           lambda o, w, url: f"/achievements/{o.achievement.id}", lambda o, w: {"decision": "decline", "reason_code": "price"}),
    Target("deals.plan", "broker", lambda o, w: [f"/deals/{o.deal.id}/plan"], lambda o, w, url: f"/deals/{o.deal.id}",
           lambda o, w: {"next_action_on": (date.today() + timedelta(days=7)).isoformat(), "next_action": "约双方面谈"}),
    Target("deals.note", "broker", lambda o, w: [f"/deals/{o.deal.id}/note"], lambda o, w, url: f"/deals/{o.deal.id}",
           lambda o, w: {"text": "已电话联系买方"}),
    Target("deals.correct_source", "broker", lambda o, w: [f"/deals/{o.deal.id}/source"],
           lambda o, w, url: f"/deals/{o.deal.id}", lambda o, w: {"source": "broker_visit", "note": "走访企业时收集的需求"}),
    # the claim buttons post only their one-time token
    Target("deals.claim_suggestion", "broker", lambda o, w: [f"/deals/queue/{o.suggestion.id}/claim"],
           lambda o, w, url: "/deals/queue"),
    Target("deals.claim", "broker", lambda o, w: [f"/deals/{o.unclaimed_deal.id}/claim"],
           lambda o, w, url: f"/deals/{o.unclaimed_deal.id}"),
    Target("notifications.settings", "enterprise", lambda o, w: ["/notifications/settings"], _same,
           lambda o, w: {**{f"mode_{t}": "digest" for t in TOPICS}, "email": "li.si@example.cn"}),
    Target("notifications.subscription_new", "enterprise", lambda o, w: ["/notifications/subscriptions/new"],
           lambda o, w, url: "/search?q=导电膜", lambda o, w: {"q": "导电膜", "kind": "all"}),
    # 单位成员 and changes to published listings (issue 17 items 5-6)
    Target("happenings.create", "official", lambda o, w: ["/events/new"], _same, lambda o, w: _valid_event_form()),
    # 服务机构, 技术经纪人, 专家库 (tests/test_agencies.agency_objects)
    Target("agencies.collect_decide", "enterprise", lambda o, w: [f"/demands/{o.demand.id}/collect/decide"], None,
           lambda o, w: {"decision": "confirm"}),
    Target("agencies.edit_services", "broker", lambda o, w: ["/agencies/services"], _same,
           lambda o, w: {"services": ["transfer", "ip"], "note": "成果评价与转化"}),
    Target("agencies.broker_profile", "broker", lambda o, w: ["/brokers/me"], _same,
           lambda o, w: {"public": "y", "intro": "专注新材料成果转化"}),
    Target("agencies.broker_registry", "official", lambda o, w: [f"/brokers/{w.users.broker.id}/registry"], _same,
           lambda o, w: {"cert_no": "JJR-2026-0002", "agency_id": str(w.orgs.agency.id),
                         "region_id": str(w.regions["county_a"].id)}),
    Target("agencies.expert_new", "official", lambda o, w: ["/experts/new"], _same,
           lambda o, w: {"name": "李研究员", "org_name": w.orgs.uni.name, "region_id": str(w.regions["county_a"].id),
                         "field_ids": [str(w.fields["materials"].id)], "available": "y"}),
    # a spare entry: a generated valid edit of o.expert may unbind its account, which later targets act through
    Target("agencies.expert_edit", "official", lambda o, w: [f"/experts/{o.spare_expert.id}/edit"], _same),
    Target("agencies.event_agency", "official", lambda o, w: [f"/events/{o.happening.id}/agency"], _same,
           lambda o, w: {"agency_id": "0"}),
    # 协议定价 公示 and 挂牌 (tests/test_transfers.transfer_objects); a valid 挂牌 is refused while one is open (409)
    Target("transfers.disclosure_new", "institution", lambda o, w: [f"/achievements/{o.achievement.id}/disclosures/new"],
           _same, lambda o, w: {"buyer_name": w.orgs.ent_a.name, "contract_type": "transfer", "price": "500000.00",
                                "days": "15", "contact_name": "张老师", "contact_phone": "0552-1234567",
                                "form_token": form_token()}),
    Target("transfers.objection_new", "enterprise_b", lambda o, w: [f"/disclosures/{o.disclosure.id}/objections"],
           lambda o, w, url: f"/disclosures/{o.disclosure.id}",
           lambda o, w: {"reasons": "该成果的价格明显低于评估价值，请核实。", "contact": "13800000000",
                         "form_token": form_token()}),
    Target("transfers.objection_answer", "institution", lambda o, w: [f"/objections/{o.objection.id}/answer"],
           lambda o, w, url: f"/disclosures/{o.disclosure.id}", lambda o, w: {"answer": "价格经第三方评估。"}),
    Target("transfers.objection_decide", "admin", lambda o, w: [f"/objections/{o.objection_open.id}/decide"],
           lambda o, w, url: f"/disclosures/{o.disclosure.id}",
           lambda o, w: {"decision": "rejected", "reason": "评估报告合规"}),
    Target("transfers.listing_new", "institution", lambda o, w: [f"/achievements/{o.achievement.id}/price-listings/new"],
           _same, lambda o, w: {"contract_type": "transfer", "price": "500000.00", "days": "30", "form_token": form_token()}),
    # 竞价 (tests/test_auctions.auction_objects): county A's official's session, a running and an upcoming lot
    Target("auctions.session_new", "official", lambda o, w: ["/auctions/new"], _same,
           lambda o, w: {"title": "怀远县第二场科技成果竞价", "form_token": form_token()}),
    Target("auctions.session_edit", "official", lambda o, w: [f"/auctions/{o.auction_session.id}/edit"], _same,
           lambda o, w: {"title": "怀远县科技成果竞价专场（修改）"}),
    Target("auctions.lot_new", "official", lambda o, w: [f"/auctions/{o.auction_session.id}/lots/new"], _same,
           lambda o, w: _valid_lot_form(o) | {"form_token": form_token()}),
    Target("auctions.lot_edit", "official", lambda o, w: [f"/auctions/lots/{o.auction_upcoming.id}/edit"], _same,
           lambda o, w: {k: v for k, v in _valid_lot_form(o).items() if k != "achievement_id"}),
    Target("auctions.deposit_new", "official", lambda o, w: [f"/auctions/lots/{o.auction_lot.id}/deposits"],
           lambda o, w, url: f"/auctions/lots/{o.auction_lot.id}",
           lambda o, w: {"org_id": str(w.orgs.uni.id), "amount": "5000"}),
    Target("auctions.bid", "enterprise", lambda o, w: [f"/auctions/lots/{o.auction_lot.id}/bid"],
           lambda o, w, url: f"/auctions/lots/{o.auction_lot.id}", lambda o, w: {"amount": "100000"}),
    Target("auctions.proxy", "enterprise", lambda o, w: [f"/auctions/lots/{o.auction_lot.id}/proxy"],
           lambda o, w, url: f"/auctions/lots/{o.auction_lot.id}", lambda o, w: {"ceiling": "300000"}),
    # API tokens of one's account (issue 21)
    Target("api_pages.tokens", "enterprise", lambda o, w: ["/account/tokens"], _same,
           lambda o, w: {"name": "ERP 同步", "scopes": ["listings:read"],
                         "expires_on": (date.today() + timedelta(days=30)).isoformat()}),
    # 揭榜挂帅 (tests/test_campaigns.campaign_objects)
    Target("campaigns.create", "official", lambda o, w: ["/campaigns/new"], _same,
           lambda o, w: {"title": "新材料揭榜挂帅榜单", "form_token": form_token()}),
    Target("campaigns.task_new", "official", lambda o, w: [f"/campaigns/{o.campaign.id}/tasks/new"], _same,
           lambda o, w: _valid_task_form(o, w)),
    Target("campaigns.propose", "institution", lambda o, w: [f"/campaigns/tasks/{o.campaign_task.id}/proposal"],
           _same, lambda o, w: {"summary": "大学的揭榜方案概要", "plan": "技术路线：磁控溅射加纳米涂层，进度一年，团队五人。"}),
    Target("campaigns.score", "institution", lambda o, w: [f"/campaigns/proposals/{o.scored_proposal.id}/score"],
           _same, lambda o, w: {"points-0": "50", "points-1": "30"}),
    Target("campaigns.milestone_add", "official", lambda o, w: [f"/campaigns/tasks/{o.campaign_done_task.id}/milestones"],
           lambda o, w, url: f"/campaigns/tasks/{o.campaign_done_task.id}/project",
           lambda o, w: {"title": "小试样品", "due_on": "2027-06-30", "amount": "1.00"}),
    Target("campaigns.milestone_submit", "enterprise_b", lambda o, w: [f"/campaigns/milestones/{o.campaign_milestone.id}/submit"],
           lambda o, w, url: f"/campaigns/tasks/{o.campaign_done_task.id}/project",
           lambda o, w: {"note": "小试样品及检测报告"}),
    Target("campaigns.milestone_decide", "enterprise", lambda o, w: [f"/campaigns/milestones/{o.campaign_delivered.id}/decide"],
           lambda o, w, url: f"/campaigns/tasks/{o.campaign_done_task.id}/project",
           lambda o, w: {"decision": "reject", "reason": "透过率未达到指标要求"}),
    Target("agencies.expert_availability", "institution", lambda o, w: [f"/experts/{o.expert.id}/availability"],
           lambda o, w, url: "/experts/me", lambda o, w: {"available": "0"}),
    Target("happenings.edit", "official", lambda o, w: [f"/events/{o.happening.id}/edit"], _same,
           lambda o, w: {**w.happening_edit, "title": "修改后的权限测试路演"}),
    Target("happenings.checkin", "official", lambda o, w: [f"/events/{o.happening.id}/checkin"], _same,
           lambda o, w: {"code": w.happening_code}),
    Target("happenings.spot_interest", "official", lambda o, w: [f"/events/{o.happening.id}/interest"], _same,
           lambda o, w: {"signup_id": str(w.happening_signup_id), "message": "现场洽谈，希望获得技术许可",
                         "listing_key": f"achievement:{w.happening_achievement_id}"}),
    Target("happenings.call_off", "official", lambda o, w: [f"/events/{o.happening_spare.id}/call-off"], _same,
           lambda o, w: {"reason": "场馆临时关闭", "confirm": "y"}),
    Target("members.invite", "enterprise", lambda o, w: ["/org/invitations"], lambda o, w, url: "/org/members",
           lambda o, w: {"note": "研发部"}),
    Target("members.set_admin", "enterprise", lambda o, w: [f"/org/members/{o.fuzz_member.id}/admin"],
           lambda o, w, url: "/org/members", lambda o, w: {"admin": "1"}),
    Target("members.join", "anonymous", lambda o, w: [f"/join/{_invitation_token(o.fuzz_invitation)}"], _same,
           lambda o, w: {"username": "fuzz_joiner", "name": "李工", "phone": "13800000002",
                         "password": "Fuzz-pass-2026", "password2": "Fuzz-pass-2026", "agree": "y"}),
    Target("review.revision", "official", lambda o, w: [f"/review/revisions/{o.fuzz_revision.id}"], _same,
           lambda o, w: {"decision": "return", "reason": "模糊测试退回"}),
    # late: a valid mark hides the suggestion the claim above uses
    Target("matching.not_relevant", "enterprise", lambda o, w: [f"/matching/{o.suggestion.id}/not-relevant"],
           lambda o, w, url: f"/demands/{o.suggestion.demand_id}"),
    # last: a valid move ends the deal
    Target("deals.move", "broker", lambda o, w: [f"/deals/{o.deal.id}/move"], lambda o, w, url: f"/deals/{o.deal.id}",
           lambda o, w: {"to": "terminated", "version": "1", "reason_code": "price"}),
]

# ------------------------------------------------------------------ what a view reads

READS = re.compile(r"(?:request\.form\.get(?:list)?|posted_text|_int_form)\(\s*[\"']([A-Za-z_][A-Za-z0-9_]*)[\"']")
FILES = re.compile(r"request\.files\.get(?:list)?\(\s*[\"']([A-Za-z_][A-Za-z0-9_]*)[\"']")
FORM_CALL = re.compile(r"\b([A-Z][A-Za-z0-9]*Form)\(")
FORM_TABLE = re.compile(r"\b([A-Z_]+)\[kind\]\(")  # FORMS[kind](): one form class per listing kind


def rule_key(rule) -> str:
    defaults = rule.defaults or {}
    return rule.endpoint + (":" + ",".join(str(v) for v in defaults.values()) if defaults else "")


def post_rules(app) -> dict[str, object]:
    return {rule_key(r): r for r in app.url_map.iter_rules() if "POST" in r.methods}


def view_reads(app, key: str) -> tuple[list[type], set[str], set[str]]:
    """(form classes, names read from request.form, file names) of the view of a rule key, from its source."""
    endpoint, _, kind = key.partition(":")
    view = inspect.unwrap(app.view_functions[endpoint])
    source = inspect.getsource(view)
    module = inspect.getmodule(view)
    forms = [getattr(module, name) for name in FORM_CALL.findall(source) if hasattr(module, name)]
    for table in FORM_TABLE.findall(source):
        choices = getattr(module, table)
        forms += [choices[kind]] if kind else list(choices.values())
    return forms, set(READS.findall(source)), set(FILES.findall(source))


def form_fields(form_class: type) -> set[str]:
    return {name for name in dir(form_class) if isinstance(getattr(form_class, name, None), UnboundField)}


def product_form_classes() -> set[type]:
    """Every form class defined in market/forms.py and market/*/forms.py."""
    modules = [import_module("market.forms")]
    for info in pkgutil.iter_modules(market.__path__):
        if info.ispkg and (Path(market.__path__[0]) / info.name / "forms.py").exists():
            modules.append(import_module(f"market.{info.name}.forms"))
    return {obj for m in modules for obj in vars(m).values()
            if inspect.isclass(obj) and issubclass(obj, FlaskForm) and obj.__module__ == m.__name__}


# ------------------------------------------------------------------ the real page's form


class _PageForms(HTMLParser):
    """The <form>s of a page: action, field names with their current values, and the options offered."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._form = self._select = self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = {"action": a.get("action", ""), "values": {}, "options": {}, "files": set()}
            self.forms.append(self._form)
            return
        if self._form is None or not a.get("name"):
            if tag == "option" and self._form is not None and self._select:
                self._option(a)
            return
        name, values, options = a["name"], self._form["values"], self._form["options"]
        if tag == "input":
            kind = a.get("type", "text").lower()
            if kind == "file":
                self._form["files"].add(name)
            elif kind in ("checkbox", "radio"):
                options.setdefault(name, []).append(a.get("value", "y"))
                values.setdefault(name, [])
                if "checked" in a:
                    values[name].append(a.get("value", "y"))
            elif kind not in ("submit", "button", "reset", "image"):
                values.setdefault(name, []).append(a.get("value", ""))
            elif "value" in a:  # a submit button's name=value (decision=publish)
                options.setdefault(name, []).append(a["value"])
        elif tag == "button" and "value" in a:
            options.setdefault(name, []).append(a["value"])
        elif tag == "select":
            self._select = name
            values.setdefault(name, [])
        elif tag == "textarea":
            self._textarea = name
            values[name] = [""]

    def _option(self, a):
        value = a.get("value", "")
        self._form["options"].setdefault(self._select, []).append(value)
        if "selected" in a:
            self._form["values"][self._select] = [value]

    def handle_data(self, data):
        if self._form is not None and self._textarea:
            self._form["values"][self._textarea][-1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            if self._form is not None and self._select and not self._form["values"].get(self._select):
                first = self._form["options"].get(self._select, [])
                self._form["values"][self._select] = first[:1]
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def page_form(client, page: str, url: str) -> dict | None:
    resp = client.get(page)
    if resp.status_code != 200:
        return None
    parser = _PageForms()
    parser.feed(resp.get_data(as_text=True))
    merged = None  # several forms may post to one URL (认证通过 / 不予认证): their fields together
    for form in parser.forms:
        action = urlsplit(form["action"]).path or urlsplit(page).path
        if action != urlsplit(url).path:
            continue
        if merged is None:
            merged = {"values": {}, "options": {}, "files": set()}
        for name, values in form["values"].items():
            merged["values"].setdefault(name, values)
        for name, options in form["options"].items():
            merged["options"].setdefault(name, []).extend(options)
        merged["files"] |= form["files"]
    return merged


# ------------------------------------------------------------------ generated values

NUMBERS = ["NaN", "nan", "Infinity", "-Infinity", "1e309", "-1e309", "-1", "0", "-0", "0.005", "1.005", "0.0000001",
           "１２３４", "１２３４.５", "12.5万元", "1,000", "1_000", "0x1f", "²", "①", "٣", "१२", "一百", "9" * 40,
           str(2**31), str(2**63), str(-(2**63) - 1), " 7 ", "+3", "3\x00", "9" * 400]
DATES = ["2025-02-30", "2025-13-01", "0000-01-01", "0001-01-01", "9999-12-31", "10000-01-01", "1970-01-01",
         "２０２６-０５-２０", "2026/05/20", "2026年5月20日", "-2026-01-01", "2026-5-2", "明天"]
TEXTS = ["", " ", "\x00", "技术\x00需求", "\ud800", "技术\udfff需求", "\ud83d", "😀" * 30, "\u202e反转", "\u200b",
         "\r\n", "\t", "<script>alert(1)</script>", "javascript:alert(1)", "'; DROP TABLE users; --", "%00",
         "ＡＢＣ１２３", "技" * 5000, "a" * 100_000, "／／evil", "//evil.example", "../../etc/passwd", "None", "null"]
ONE_MB = "技术需求" * 87_382  # about 1 MB of UTF-8; past MAX_FORM_MEMORY_SIZE, so the answer is 413
NEEDLES = ["\x00", "\ud800", "😀", "１２３４", "NaN", "1e309", "-1", "0.005", str(2**63), "2025-02-30", "技" * 20_000,
           "", "<b onmouseover=alert(1)>x</b>"]
DROP = object()  # the field is left out of the body
CJK_ALPHABET = "技术需求成果蚌埠怀远合同金额万元ＡＢＣ１２３０９²①٣😀\x00\ud800\udfff -:/.,。，、"


def value_strategy(options: list[str]):
    single = st.one_of(
        st.sampled_from(NUMBERS), st.sampled_from(DATES), st.sampled_from(TEXTS),
        st.text(alphabet=st.sampled_from(CJK_ALPHABET), max_size=40),
        st.text(alphabet=st.characters(exclude_categories=()), max_size=40),  # every category, lone surrogates too
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=3), st.integers(100, 60_000)),
        *([st.sampled_from(options)] if options else []),
    )
    return st.one_of(single, single, single, st.lists(single, min_size=2, max_size=3), st.just(DROP))


# inputs that once gave a 5xx, posted on every run (target key -> values overlaid on the page's own)
FOUND: dict[str, list[dict]] = {
    # issue 12 item 0: a 400-digit demand_id reached NumberRange, whose math.isnan() raised OverflowError
    # (demand_id is no longer a field of the deal's contract form: it must be ignored, never a 500)
    "contracts.from_deal": [{"demand_id": "9" * 400}, {"demand_id": "1" + "0" * 399, "achievement_id": "-" + "9" * 400}],
    "contracts.create": [{"demand_id": "9" * 400}, {"achievement_id": "9" * 400}],
    "admin.region_new": [{"sort": "9" * 400}],
    # MARKET_FUZZ_SEED=3116147868: an amount of only a control character passed InputRequired (it reads the raw
    # text) and reached the service as None; every amount field now refuses an empty amount itself
    "campaigns.task_new": [{"award": ["\x13", "117", "\x00"]}, {"co_funding": " \x00"}],
}


# ------------------------------------------------------------------ posting


def encode(values: dict, files: dict[str, tuple[str, bytes]]) -> tuple[bytes | str, str]:
    """A body as a broken client could send it: lone surrogates go out as their UTF-8 bytes."""
    pairs = [(k, v) for k, vs in values.items() for v in (vs if isinstance(vs, list) else [vs])]
    if not files:
        return (urlencode(pairs, encoding="utf-8", errors="surrogatepass"), "application/x-www-form-urlencoded")
    boundary = "----market-fuzz-boundary"
    parts = []
    for key, value in pairs:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'.encode()
                     + str(value).encode("utf-8", "surrogatepass") + b"\r\n")
    for key, (filename, content) in files.items():
        name = filename.replace('"', "%22").replace("\r", "").replace("\n", "")
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"; filename="{name}"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n".encode("utf-8", "surrogatepass")
                     + content + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


FILE_CASES = [("合同扫描件.pdf", b"%PDF-1.4\n%%EOF\n"), ("../../etc/passwd", b"root:x:0:0"), ("", b""),
              ("a.pdf", b"<html><script>alert(1)</script></html>"), ("合同.xlsx", b"PK\x03\x04not a zip"),
              ("技\x00术.csv", "登记编号,合同名称\n=cmd|' /C calc'!A0,技术\ud800\n".encode("utf-8", "surrogatepass")),
              ("\ud800.xlsx", b"\xff\xfe\x00")]


class Session:
    """A client of one role with its CSRF token; signed in again when a post ended its session."""

    def __init__(self, app, world, role: str):
        self.app, self.world, self.role = app, world, role
        self.relogins = 0
        self._new()

    def _new(self):
        if self.role == "anonymous":
            self.client = self.app.test_client()
        else:
            user = getattr(self.world.users, self.role)
            user.active = True  # admin.user_active may have just disabled the account we post as
            db.session.commit()
            self.client = client_for(self.app, user)
        self.token = csrf_token(self.client)

    def post(self, url: str, values: dict, files: dict):
        body, content_type = encode({**values, "csrf_token": self.token}, files)
        resp = self.client.post(url, data=body, content_type=content_type)
        if (self.role != "anonymous" and is_login_redirect(resp)) or (
                resp.status_code == 400 and "CSRF" in resp.get_data(as_text=True)):
            self.relogins += 1
            self._new()
        return resp


@dataclass
class Stats:
    inputs: int = 0
    forms: int = 0
    statuses: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)


class _Report:
    def __init__(self):
        self.lines: list[str] = []

    def pytest_terminal_summary(self, terminalreporter):
        for line in self.lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def report(request):
    plugin = _Report()
    request.config.pluginmanager.register(plugin, "fuzz-forms-report")
    return plugin


@pytest.fixture
def objs(world):
    import json

    from market.listings.revisions import snapshot
    from market.models import ListingRevision, OrgInvitation
    from market.models.base import utcnow

    o = objects(world)
    factories.deal_objects(world, o)
    u, orgs, regions = world.users, world.orgs, world.regions
    o.fuzz_user = factories.user(role="enterprise", org=orgs.ent_b, username="fuzz_target")
    # a broker waiting for review (not world's broker, whose pages later targets post from)
    o.review_broker = factories.user(role="broker", org=orgs.agency, region=regions["county_a"],
                                     username="fuzz_broker", broker_status="pending")
    world.users.pw_user = factories.user(role="enterprise", org=orgs.ent_b, username="pw_user")
    o.fuzz_org = factories.org(region=regions["county_b"], status="pending", name="待认证的模糊测试单位")
    from market.models import Field, Region

    o.fuzz_region = Region(code="340322102", name="模糊测试镇", level="town", parent_id=regions["county_b"].id)
    db.session.add(o.fuzz_region)
    db.session.flush()
    o.fuzz_region.path = regions["county_b"].path + f"{o.fuzz_region.id}/"
    o.fuzz_field = Field(code="04.09", name="模糊测试领域", parent_id=world.fields["root_materials"].id)
    db.session.add(o.fuzz_field)
    o.fuzz_reason = factories.return_reason("被模糊测试修改的退回理由")
    from sqlalchemy import select

    from market.models import RegCode

    o.fuzz_reg_code = db.session.scalar(select(RegCode).where(RegCode.kind == "ip_type", RegCode.code == "9"))
    o.open_demand = factories.demand(owner=u.enterprise, field=world.fields["materials"], status="published",
                                     title="将被关闭的镀膜技术需求")
    o.open_achievement = factories.achievement(owner=u.institution, field=world.fields["materials"], status="published",
                                               title="将被关闭的导电膜成果")
    o.offer = factories.achievement(owner=u.institution, field=world.fields["materials"], status="published",
                                    title="尚无意向的导电膜成果")
    o.void_contract = factories.contract(buyer=orgs.ent_a, seller=orgs.uni, broker_id=u.broker.id)
    o.reg_point, o.fuzz_submission = _registration(world, o)
    o.unclaimed_deal = factories.deal(buyer=orgs.ent_a, seller=orgs.uni, demand=o.open_demand, achievement=o.offer,
                                      broker=None, stage="contacted")
    from market.models import ContractListingLink, ListingEvent

    o.link = ContractListingLink(contract_id=o.contract.id, kind="demand", listing_id=o.demand.id, requested_by_id=u.broker.id)
    db.session.add(o.link)
    # listings a contract marked done, which their owners may reopen
    o.contract_done_demand = factories.demand(owner=u.enterprise, field=world.fields["materials"], status="done",
                                              title="因合同标记为已解决的需求")
    o.contract_done_achievement = factories.achievement(owner=u.institution, field=world.fields["materials"],
                                                        status="done", title="因合同标记为已转化的成果")
    for listing in (o.contract_done_demand, o.contract_done_achievement):
        db.session.add(ListingEvent(kind=listing.KIND, listing_id=listing.id, from_status="published", to_status="done",
                                    reason=f"签订技术合同（登记编号 {o.contract.registration_no}）"))
    # 单位成员: ent_a administers its organisation, which has a second member and an open invitation; its
    # published need has a change waiting for review
    u.enterprise.org_admin = True
    o.fuzz_member = factories.user(role="enterprise", org=orgs.ent_a, username="fuzz_member")
    o.fuzz_invitation = OrgInvitation(org_id=orgs.ent_a.id, nonce="f" * 43, created_by_id=u.enterprise.id,
                                      expires_at=utcnow() + timedelta(days=7))
    o.fuzz_revision = ListingRevision(kind="demand", listing_id=o.demand.id, submitted_by_id=u.enterprise.id,
                                      data=json.dumps({**snapshot(o.demand), "title": "待审核的修改后标题"}))
    db.session.add_all([o.fuzz_invitation, o.fuzz_revision])
    db.session.commit()
    from tests.test_happenings import event_objects

    event_objects(world, o)  # an event (路演) with a checked-in attendee
    from tests.test_agencies import agency_objects

    agency_objects(world, o)  # an expert (the university user), the broker's public profile
    from tests.test_campaigns import campaign_objects

    campaign_objects(world, o)  # a campaign with an open 榜, the university user on its panel
    from tests.test_campaigns import milestone_objects

    milestone_objects(world, o)  # an announced 榜 with a pending and a delivered milestone
    from tests.test_auctions import auction_objects

    auction_objects(world, o)  # 竞价: a published session with a running and an upcoming lot
    from tests.test_transfers import transfer_objects

    transfer_objects(world, o)  # an open 公示 with two objections and an open 挂牌 of the university's result
    return o


def _invitation_token(invitation) -> str:
    from market.members.services import invitation_token

    return invitation_token(invitation)


def _registration(world, o):
    """County A's 登记点 with its 登记员 (world.users.registrar), objs.contract registered there, and a submission of
    the university waiting there."""
    from market.models import RegPoint, User
    from market.models.base import utcnow

    point = RegPoint(name="怀远县技术合同登记点", kind="bureau", region_id=world.regions["county_a"].id,
                     division="340321", serial=1)
    db.session.add(point)
    db.session.flush()
    registrar = User(username="registrar_a", name="怀远登记员", role="registrar", reg_point_id=point.id,
                     password_hash=factories._password_hash())
    db.session.add(registrar)
    world.users.registrar = registrar
    o.contract.reg_point_id, o.contract.reg_verify_code, o.contract.registered_on = point.id, "TESTCODE2345", date.today()
    submission = factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, reg_status="submitted",
                                    reg_request="new", reg_point_id=point.id, submitted_at=utcnow(),
                                    submitted_by_id=world.users.institution.id, registration_no="待登记-fuzz0123456789")
    # a second registered contract of theirs whose cancellation is asked for (objs.contract's change may come first)
    o.cancel_contract = factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, reg_point_id=point.id)
    return point, submission


# ------------------------------------------------------------------ the tests


def test_every_post_route_is_fuzzed_or_listed(app):
    """A new POST route must get a Target here (or, if it reads no input, a line in NON_FORM)."""
    keys = set(post_rules(app))
    targeted = {t.key for t in TARGETS}
    missing = sorted(keys - targeted - NON_FORM - API_FORMS)
    assert not missing, f"POST routes no form fuzz covers: add a Target in tests/test_fuzz_forms.py: {missing}"
    stale = sorted((targeted | NON_FORM | API_FORMS) - keys)
    assert not stale, f"listed in tests/test_fuzz_forms.py but no such POST route: {stale}"
    used: set[type] = set()
    read_by_name: list[set[str]] = []
    for key in targeted:
        forms, names, _ = view_reads(app, key)
        read_by_name.append(names)
        for form in forms:
            used.update(form.__mro__)
    # a form only rendered (ReasonForm on a detail page) counts when some fuzzed view reads all its fields by name
    unused = sorted(c.__module__ + "." + c.__name__ for c in product_form_classes() - used
                    if not any(form_fields(c) <= names for names in read_by_name))
    assert not unused, f"form classes no fuzzed route uses (add its route to TARGETS): {unused}"


def test_non_form_posts_read_no_input(app):
    for key in NON_FORM:
        forms, names, files = view_reads(app, key)
        assert not (forms or names or files), f"{key} reads input ({forms}, {names}, {files}): give it a Target"


def test_generated_values_in_every_form(app, world, objs, report):
    errors: list[BaseException] = []

    class _Remember(logging.Handler):  # the 500 handler logs the exception it caught
        def emit(self, record):
            if record.exc_info:
                errors.append(record.exc_info[1])

    remember = _Remember(logging.ERROR)
    app.logger.addHandler(remember)
    stats = Stats()
    no_page = []
    try:
        for target in TARGETS:
            _fuzz_target(app, world, objs, target, stats, errors, no_page)
    finally:
        app.logger.removeHandler(remember)
    assert not stats.failures, (f"{len(stats.failures)} server errors with {fuzz_seed_hint()}:\n"
                                + "\n".join(stats.failures[:60]))
    assert not set(FOUND) - {t.key for t in TARGETS}, "FOUND names a target that is not in TARGETS"
    assert not no_page, f"targets whose page shows no <form> posting to them: {no_page}"
    line = (f"form fuzz: {stats.inputs} generated inputs over {stats.forms} forms, {len(stats.failures)} server errors "
            f"(answers: {dict(sorted(stats.statuses.items()))}; MARKET_FUZZ_SEED={FUZZ_SEED})")
    report.lines.append(line)
    print(f"\n{stats.inputs} generated inputs over {stats.forms} forms, {len(stats.failures)} server errors")
    assert 200 in stats.statuses or 302 in stats.statuses  # some posts got past validation


def _fuzz_target(app, world, objs, target: Target, stats: Stats, errors: list, no_page: list) -> None:
    forms, direct, file_names = view_reads(app, target.key)
    names = set(direct)
    for form in forms:
        names |= form_fields(form)
    session = Session(app, world, target.role)
    urls = target.urls(objs, world)
    baseline: dict = {}
    options: dict[str, list[str]] = {}
    if target.page is not None:
        page = target.page(objs, world, urls[0])
        found = page_form(session.client, page, urls[0])
        if found is None:
            no_page.append(f"{target.key} on {page}")
        else:
            baseline.update({k: (v if len(v) != 1 else v[0]) for k, v in found["values"].items() if v})
            options = found["options"]
            names |= set(found["values"]) | set(options)
            file_names |= found["files"]
    baseline.update(target.valid(objs, world))
    baseline.pop("csrf_token", None)
    names.discard("csrf_token")
    names = sorted(names | set(baseline))
    assert names or file_names, f"{target.key}: no field found"
    stats.forms += 1

    def send(url: str, values: dict, files: dict) -> None:
        errors.clear()
        if "form_token" in baseline and values.get("form_token") == baseline["form_token"]:
            values = {**values, "form_token": form_token()}  # the page's one-time token, fresh as each page view's
        resp = session.post(url, values, files)
        stats.inputs += 1
        stats.statuses[resp.status_code] = stats.statuses.get(resp.status_code, 0) + 1
        if resp.status_code >= 500:
            cause = "no exception logged"
            if errors:
                frame = traceback.extract_tb(errors[-1].__traceback__)[-1]
                cause = f"{errors[-1]!r:.200} at {Path(frame.filename).name}:{frame.lineno}"
            shown = {k: (str(v)[:40] + ("..." if len(str(v)) > 40 else "")) for k, v in values.items()}
            stats.failures.append(f"{target.role} POST {url} {shown} files={list(files)} -> {resp.status_code}: {cause}")

    def files_for(i: int) -> dict:
        return {name: FILE_CASES[i % len(FILE_CASES)] for name in file_names}

    for url in urls:
        send(url, dict(baseline), files_for(0))
    for values in FOUND.get(target.key, []):
        send(urls[0], {**baseline, **values}, files_for(0))
    for i, (needle, url) in enumerate(zip(NEEDLES, itertools.cycle(urls))):
        send(url, {**baseline, **{name: needle for name in names}}, files_for(i))
    text_name = next((n for n in names if n not in options), names[0] if names else "x")
    send(urls[0], {**baseline, text_name: ONE_MB}, {})

    strategies = {name: value_strategy(options.get(name, [])) for name in names}

    @seed(FUZZ_SEED)
    @settings(max_examples=EXAMPLES_PER_TARGET, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(url=st.sampled_from(urls), spoiled=st.fixed_dictionaries({}, optional=strategies),
           file_case=st.integers(0, len(FILE_CASES) - 1),
           upload=st.tuples(st.text(max_size=30), st.binary(max_size=200)))
    def fuzz(url, spoiled, file_case, upload):
        values = {**baseline}
        for name, value in spoiled.items():
            if value is DROP:
                values.pop(name, None)
            else:
                values[name] = value
        files = {name: (FILE_CASES[file_case] if file_case % 2 else upload) for name in file_names}
        send(url, values, files)

    fuzz()


@pytest.mark.parametrize("value", [str(2**63), str(2**31), str(-(2**63) - 1)])
def test_an_id_no_integer_column_holds_is_refused(app, world, objs, value):
    """Found by the fuzz above: link_id=2**63 reached the database (SQLite OverflowError, a 500; on PostgreSQL any
    id past 2**31 - 1 is "integer out of range"). Every int-coerced choice is now bounded (market.forms.record_id)."""
    from market.models import Interest
    from tests.helpers import CJK, Poster, messages

    before = db.session.query(Interest).count()
    p = Poster(client_for(app, world.users.enterprise))
    resp = p.post(f"/deals/interest/achievement/{objs.offer.id}",
                  {"message": "希望就该成果开展合作，请联系。", "link_id": value, "form_token": form_token("t")})
    assert resp.status_code == 400, resp.status_code
    assert all(CJK.search(m) for m in messages(resp)) and messages(resp)
    assert db.session.query(Interest).count() == before
    admin = Poster(client_for(app, world.users.admin))
    resp = admin.post("/admin/regions/new", {"code": "340399", "name": "越界上级", "level": "county", "parent_id": value})
    assert resp.status_code == 400, resp.status_code
