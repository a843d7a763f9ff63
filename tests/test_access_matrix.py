"""Who may reach which URL: every route of the app, every role, every method.

Adding a route? Add ONE line to EXPECTED below: "<endpoint>": {roles allowed}. If its rules differ by a
default (the listings' `kind`), key them "<endpoint>:<value>". If the URL has a parameter this file cannot fill
yet, add a line to FILL (parameter name -> the id of a real object from the `objs` fixture, which you may extend).
A route nobody listed makes test_every_route_has_an_expectation fail; a public route must also be in PUBLIC.
"""
from __future__ import annotations

import itertools
from urllib.parse import urlsplit

import pytest
from werkzeug.routing.converters import AnyConverter

from tests.helpers import Poster, client_for, diff, form_token, objects, snapshot

ANON, ENT, INST, BROKER, OFFICIAL, ADMIN, UNVERIFIED = (
    "anonymous", "enterprise", "institution", "broker", "official", "admin", "unverified")
# a self-registered broker nobody reviewed yet (服务机构 pending too), and one whose review refused them
PENDING_BROKER, REJECTED_BROKER = "pending_broker", "rejected_broker"
REGISTRAR = "registrar"  # the 登记员 of county A's 登记点 (objs.reg_point), where objs.contract was registered
ROLES = (ANON, ENT, INST, BROKER, OFFICIAL, ADMIN, UNVERIFIED, PENDING_BROKER, REJECTED_BROKER, REGISTRAR)
EVERYONE = frozenset(ROLES)
SIGNED_IN = EVERYONE - {ANON}
# signed in and verified by a person (permissions.is_verified_actor): the others only read and keep own drafts
VERIFIED = SIGNED_IN - {UNVERIFIED, PENDING_BROKER, REJECTED_BROKER}
REVIEWERS = frozenset({OFFICIAL, ADMIN})

# Reachable without signing in. Everything else must refuse an anonymous request on every method.
PUBLIC = {"static", "main.home", "main.healthz", "auth.login", "auth.register", "listings.browse", "listings.detail",
          "search.search", "notifications.unsubscribe"}
PUBLIC |= {"registration.verify"}  # anyone checks a 登记证明 by its code
PUBLIC |= {"members.join"}  # an invitation link: the invited colleague registers (or signs in) from it
PUBLIC |= {"happenings.index", "happenings.detail"}  # events: the public list and page
PUBLIC |= {"agencies.index", "agencies.detail", "agencies.broker"}  # 服务机构 directory, an agency, an opted-in broker
PUBLIC |= {"campaigns.index", "campaigns.detail", "campaigns.task"}  # 揭榜挂帅: list, campaign, 榜 (公示)
# the open API's public reads and its document (issue 21)
API_PUBLIC = {"api.demands_list", "api.demands_detail", "api.achievements_list", "api.achievements_detail",
              "api.search", "api.campaigns_list", "api.events_list", "api-docs.openapi_json",
              "api_pages.docs"}
PUBLIC |= API_PUBLIC
PUBLIC |= {"auctions.index", "auctions.session_detail", "auctions.lot_detail", "auctions.lot_state"}  # 竞价
PUBLIC |= {"transfers.disclosures", "transfers.disclosure", "transfers.listings", "transfers.listing"}  # 公示, 挂牌

# endpoint (or "endpoint:<default>") -> the roles allowed. "official" is county A's official; the objects are
# county A's enterprise's published demand and the city university's published result (see `objs`).
EXPECTED: dict[str, frozenset] = {
    "static": EVERYONE,
    "main.home": EVERYONE,
    "main.healthz": EVERYONE,
    "main.workbench": SIGNED_IN,  # each sees own counts (tests/test_workbench.py); the unverified see why they wait
    "auth.login": EVERYONE,
    "auth.register": EVERYONE,
    "auth.logout": SIGNED_IN,
    "auth.change_password": SIGNED_IN,
    "auth.account_status": SIGNED_IN,
    "listings.browse": EVERYONE,
    "listings.detail": EVERYONE,
    "listings.mine:demand": frozenset({ENT, UNVERIFIED}),
    "listings.mine:achievement": frozenset({INST}),
    "listings.create:demand": frozenset({ENT, UNVERIFIED}),
    "listings.create:achievement": frozenset({INST}),
    "listings.edit:demand": frozenset({ENT}),
    "listings.edit:achievement": frozenset({INST}),
    "listings.transition:demand": frozenset({ENT}),
    "listings.transition:achievement": frozenset({INST}),
    "listings.reopen:demand": frozenset({ENT}),  # own listings a contract marked done (test_contract_links.py)
    "listings.reopen:achievement": frozenset({INST}),
    "review.queue": REVIEWERS,
    "review.orgs": REVIEWERS,
    "review.decide:demand": REVIEWERS,  # county A's pending need
    "review.decide:achievement": frozenset({ADMIN}),  # the city university's: above county A's official
    "review.batch": REVIEWERS,
    "review.verify_org": REVIEWERS,
    "review.brokers": REVIEWERS,
    "review.decide_broker": REVIEWERS,
    "admin.index": frozenset({ADMIN}),
    "admin.users": frozenset({ADMIN}),
    "admin.user_new": frozenset({ADMIN}),
    "admin.user_edit": frozenset({ADMIN}),
    "admin.user_active": frozenset({ADMIN}),
    "admin.user_password": frozenset({ADMIN}),
    "admin.orgs": frozenset({ADMIN}),
    "admin.org_edit": frozenset({ADMIN}),
    "admin.org_decide": frozenset({ADMIN}),
    "admin.regions": frozenset({ADMIN}),
    "admin.region_new": frozenset({ADMIN}),
    "admin.region_edit": frozenset({ADMIN}),
    "admin.region_delete": frozenset({ADMIN}),
    "admin.fields": frozenset({ADMIN}),
    "admin.field_new": frozenset({ADMIN}),
    "admin.field_edit": frozenset({ADMIN}),
    "admin.field_move": frozenset({ADMIN}),
    "admin.field_delete": frozenset({ADMIN}),
    "admin.reasons": frozenset({ADMIN}),  # stock reasons for 退回 (tests/test_review_queue.py)
    "admin.reason_edit": frozenset({ADMIN}),
    "admin.reason_delete": frozenset({ADMIN}),
    "admin.reg_codes": frozenset({ADMIN}),  # 登记表 codes (tests/test_registration_form.py)
    "admin.reg_code_new": frozenset({ADMIN}),
    "admin.reg_code_edit": frozenset({ADMIN}),
    "jobs.index": frozenset({ADMIN}),
    "jobs.retry": frozenset({ADMIN}),
    "jobs.search_rebuild": frozenset({ADMIN}),
    "search.search": EVERYONE,
    "matching.mine": VERIFIED - {REGISTRAR},  # each sees own listings' or own region's suggestions (test_matching.py)
    "matching.not_relevant": frozenset({ENT, INST}),  # an owner of either side marks 不相关 (test_match_feedback.py)
    # deals, contracts, notifications (objects: factories.deal_objects)
    "deals.interest_create": frozenset({ENT, INST}),
    "deals.interest_decide": frozenset({INST}),
    "deals.interest_withdraw": frozenset({ENT}),
    "deals.interests": frozenset({ENT, INST}),
    "deals.board": VERIFIED,
    "deals.queue": frozenset({BROKER}),
    "deals.claim_suggestion": frozenset({BROKER}),
    "deals.record": frozenset({BROKER}),
    "deals.detail": frozenset({ENT, INST, BROKER, OFFICIAL, ADMIN}),
    "deals.claim": frozenset({BROKER}),
    "deals.move": frozenset({BROKER, ADMIN, OFFICIAL}),
    "deals.plan": frozenset({BROKER, ADMIN}),
    "deals.correct_source": frozenset({BROKER, ADMIN}),  # the deal's broker (can_work_deal), issue 19
    "deals.note": frozenset({BROKER, ADMIN, OFFICIAL}),
    "contracts.index": VERIFIED,
    "contracts.export": frozenset({BROKER, OFFICIAL, ADMIN}),
    "contracts.create": frozenset({BROKER, OFFICIAL, ADMIN}),
    "contracts.from_deal": frozenset({BROKER, OFFICIAL, ADMIN}),
    "contracts.detail": frozenset({ENT, INST, BROKER, OFFICIAL, ADMIN}),
    "contracts.edit": frozenset({BROKER, OFFICIAL, ADMIN}),
    "contracts.void": frozenset({OFFICIAL, ADMIN}),
    "contracts.add_payment": frozenset({BROKER, OFFICIAL, ADMIN}),
    "contracts.upload_scan": frozenset({BROKER, OFFICIAL, ADMIN}),
    "contracts.download_scan": frozenset({ENT, INST, BROKER, OFFICIAL, ADMIN}),
    "contracts.import_file": frozenset({BROKER, OFFICIAL, ADMIN}),
    "contracts.import_template": frozenset({BROKER, OFFICIAL, ADMIN}),
    "contracts.import_result": frozenset({OFFICIAL, ADMIN}),  # objs.import_run: county A's official uploaded it
    "contracts.link_decide": frozenset({ENT}),  # the organisation of the linked need (objs.link)
    "notifications.index": SIGNED_IN,
    "notifications.open_": frozenset({ENT}),
    "notifications.read_all": SIGNED_IN,
    "notifications.settings": SIGNED_IN,  # one's own e-mail choices: no user id in the URL or the form
    "notifications.unsubscribe": EVERYONE,  # the signed 退订 link of a mail works without signing in
    "notifications.subscriptions": SIGNED_IN,
    "notifications.subscription_new": SIGNED_IN,
    "notifications.subscription_delete": frozenset({ENT}),  # objs.subscription is county A's enterprise user's
    # 数据看板: officials and admins; a target is set from the parent region (county A's own: admin or city)
    "dashboard.index": REVIEWERS,
    "dashboard.targets": REVIEWERS,
    "dashboard.target_edit": frozenset({ADMIN}),
    "dashboard.conversions": REVIEWERS,
    "dashboard.sources": REVIEWERS,  # 成交来源 (issue 19 section 4)
    "dashboard.coverage": REVIEWERS,
    "dashboard.checks": REVIEWERS,
    "dashboard.reports": REVIEWERS,  # 报表 (issue 16): the tables T1-T10 of the official's own scope
    "dashboard.export": REVIEWERS,
    # 技术合同登记 (issue 16 item 4): objs.contract (county A's enterprise buys from the city university, county A's
    # broker) was registered at county A's 登记点; objs.submission waits there; only the admin is on the city level
    "registration.index": VERIFIED,
    "registration.submit": frozenset({ENT, INST, BROKER}),
    "registration.detail": frozenset({ENT, INST, BROKER, OFFICIAL, ADMIN, REGISTRAR}),
    "registration.certificate": frozenset({ENT, INST, BROKER, OFFICIAL, ADMIN, REGISTRAR}),
    "registration.edit": frozenset({INST, BROKER}),  # the seller's members and the contract's broker
    "registration.cancel": frozenset({INST, BROKER}),
    "registration.decide": frozenset({REGISTRAR}),  # objs.submission
    "registration.verify": EVERYONE,
    "registration.points": frozenset({ADMIN}),  # and officials of the city node (tests/test_registration_workflow.py)
    "registration.point": frozenset({ADMIN}),
    "registration.point_state": frozenset({ADMIN}),  # deactivation (tests/test_registration_points_state.py)
    "registration.registrar_state": frozenset({ADMIN}),
    "registration.calendar_days": frozenset({ADMIN}),  # 节假日安排
    # 单位成员 (issue 17 item 6): county A's enterprise user administers its organisation (objs); a colleague of it
    "members.index": frozenset({ENT}),
    "members.invite": frozenset({ENT}),
    "members.revoke": frozenset({ENT}),
    "members.remove": frozenset({ENT}),
    "members.set_admin": frozenset({ENT}),
    "members.join": EVERYONE,  # the link shows the organisation; accepting is tested in tests/test_org_members.py
    "review.revision": REVIEWERS,  # a change to county A's published need (tests/test_pending_edits.py)
    # events (objs.happening: county A's official's; the enterprise signed up and checked in, the university signed
    # up; tests/test_happenings.py has every role and the other region's official)
    "happenings.index": EVERYONE,
    "happenings.detail": EVERYONE,
    "happenings.create": frozenset({OFFICIAL}),
    "happenings.edit": frozenset({OFFICIAL}),  # officials of the event's region (tests/test_happenings.py)
    "happenings.call_off": frozenset({OFFICIAL}),  # as edit: officials of the event's region
    "happenings.signup": frozenset({ENT, INST, BROKER}),
    "happenings.cancel": frozenset({ENT, INST, BROKER}),
    "happenings.ticket": frozenset({ENT, INST}),  # one's own sign-up only
    "happenings.checkin": frozenset({OFFICIAL, ADMIN}),
    "happenings.spot_interest": frozenset({ENT, OFFICIAL, ADMIN}),  # the organiser, or an attendee checked in
    "happenings.outcome": frozenset({OFFICIAL, ADMIN}),
    # 服务机构, 技术经纪人, 专家库 (objs from tests/test_agencies.agency_objects: the broker, county A's, of the city
    # agency, opted in to a public profile; the university user is county A's expert; tests/test_agencies.py has
    # the other agency's broker, the other region's official and the agency's administrator)
    "agencies.index": EVERYONE,
    "agencies.detail": EVERYONE,
    "agencies.broker": EVERYONE,  # opted in; a private profile is 404 to others (test_agencies.py)
    "agencies.edit_services": frozenset({BROKER}),  # a member of the agency
    "agencies.broker_profile": frozenset({BROKER}),
    "agencies.brokers": REVIEWERS,
    "agencies.broker_registry": REVIEWERS,
    "agencies.broker_performance": frozenset({BROKER, OFFICIAL, ADMIN}),
    "agencies.agency_performance": frozenset({ADMIN}),  # the agency is the city's: above county A's official
    "agencies.experts": REVIEWERS,
    "agencies.expert_new": REVIEWERS,
    "agencies.expert_edit": REVIEWERS,
    "agencies.expert_me": VERIFIED,
    "agencies.expert_availability": frozenset({INST, OFFICIAL, ADMIN}),  # the expert, or who manages the entry
    # 需求征集 (county A's broker of the verified city agency records objs.demand) and an event's 承办机构 (objs.happening's
    # organiser, county A's official); tests/test_agencies_figures.py has the other region, unverified and every role
    "agencies.collect_demand": frozenset({BROKER}),
    "agencies.collect_decide": frozenset({ENT}),  # the need's company confirms or disputes a broker's claim
    "agencies.event_agency": frozenset({OFFICIAL, ADMIN}),
    # 揭榜挂帅 (tests/test_campaigns.campaign_objects: county A's official's campaign, one open 榜 on objs.demand
    # with the university user on its panel, a proposal of the second enterprise; tests/test_campaigns.py has
    # the other region's official, the non-panel expert, the deadline, the conflict and the score privacy)
    "campaigns.index": EVERYONE,
    "campaigns.detail": EVERYONE,
    "campaigns.task": EVERYONE,
    "campaigns.create": frozenset({OFFICIAL}),
    "campaigns.task_new": frozenset({OFFICIAL}),  # officials of the campaign's region
    "campaigns.propose": frozenset({INST}),  # eligible solvers; not the company that set the need
    "campaigns.review": frozenset({INST, OFFICIAL}),  # the panel, the region's official (no scores)
    "campaigns.score": frozenset({INST}),  # a panel expert, not of the solver's organisation
    "campaigns.announce": frozenset({OFFICIAL}),
    "campaigns.project": frozenset({ENT, OFFICIAL}),  # the company, the winner (the second enterprise), the official
    "campaigns.milestone_add": frozenset({OFFICIAL}),
    "campaigns.milestone_submit": frozenset(),  # the winner: the second enterprise (tests/test_campaigns.py)
    "campaigns.milestone_decide": frozenset({ENT}),  # the company that set the need
    # the second enterprise's attachment, its 榜 still open: the official who runs it only (the university user
    # sits on the panel, which reads it after the deadline; tests/test_campaign_files.py has every other role)
    "campaigns.proposal_file": frozenset({OFFICIAL}),
}
# 竞价 (tests/test_auctions.auction_objects: county A's official's published session, one running lot of the
# city university's result; county A's enterprise has a deposit held, the second enterprise one to return;
# tests/test_auctions.py has the seller, the bidder without deposit and the other region's official)
EXPECTED.update({e: EVERYONE for e in ("auctions.index", "auctions.session_detail", "auctions.lot_detail",
                                      "auctions.lot_state")})
EXPECTED.update({"auctions.session_new": frozenset({OFFICIAL, BROKER})})  # officials, brokers of a 服务机构
EXPECTED.update({e: frozenset({OFFICIAL}) for e in ("auctions.session_edit", "auctions.session_publish",
                                                   "auctions.session_cancel", "auctions.lot_new", "auctions.lot_edit",
                                                   "auctions.deposit_new", "auctions.deposit_returned")})
EXPECTED.update({"auctions.bid": frozenset({ENT}), "auctions.proxy": frozenset({ENT})})  # a deposit held
EXPECTED.update({"auctions.results": REVIEWERS})  # 竞价成交情况: officials (their scope) and admins
# 协议定价 公示 and 挂牌 (tests/test_transfers.transfer_objects: on the city university's result an open 公示 with
# two objections of the second enterprise, and an open 挂牌; county A's official does not hold the city node, so
# only an administrator decides here; tests/test_transfers.py has the city's official and the other county's)
EXPECTED.update({e: EVERYONE for e in ("transfers.disclosures", "transfers.disclosure", "transfers.listings",
                                      "transfers.listing")})
EXPECTED.update({e: frozenset({INST}) for e in ("transfers.disclosure_new", "transfers.disclosure_withdraw",
                                               "transfers.objection_answer", "transfers.listing_new",
                                               "transfers.listing_withdraw")})  # the result's organisation
EXPECTED.update({"transfers.objection_new": frozenset({ENT, BROKER, OFFICIAL, ADMIN, REGISTRAR}),  # verified others
                 "transfers.objection_decide": frozenset({ADMIN}),
                 "transfers.listing_accept": frozenset({ENT})})  # a verified buyer of another organisation

# the open API (issue 21). It never acts on the session cookie: a signed-in browser is anonymous there, so no role
# reaches a token endpoint here (401, or the actor gate's 403); tokens x endpoints are tested in
# tests/test_api_tokens.py::test_token_endpoint_matrix. The account's token page is for verified actors.
EXPECTED.update({e: EVERYONE for e in API_PUBLIC})
EXPECTED.update({f"api.my_{p}_{op}": frozenset() for p in ("demands", "achievements")
                 for op in ("list", "create", "detail", "update", "suggestions")})
EXPECTED.update({"api.stats": frozenset(), "api.token_info": frozenset(), "api.demands_interest": frozenset(),
                 "api.achievements_interest": frozenset()})
EXPECTED.update({"api.contracts_submit": frozenset(), "api.my_contracts_list": frozenset()})  # token only
EXPECTED.update({"api_pages.tokens": VERIFIED, "api_pages.revoke": VERIFIED})  # one's own tokens

# URL parameter -> value, from the objects of the `objs` fixture: (objs, rule, values) -> value, where `values`
# holds the rule's defaults and the other parameters chosen so far (e.g. kind).
FILL = {
    "listing_id": lambda o, rule, v: (
        (o.pending_demand if v.get("kind", "demand") == "demand" else o.pending_achievement).id
        if rule.endpoint == "review.decide"
        else (o.demand if v.get("kind", "demand") == "demand" else o.achievement).id),
    "org_id": lambda o, rule, v: o.org.id,
    "user_id": lambda o, rule, v: (o.rejected_broker.id if rule.endpoint == "review.decide_broker"
                                   else o.colleague.id if rule.endpoint.startswith("members.")
                                   else o.registrar.id if rule.endpoint == "registration.registrar_state"
                                   else o.demand.owner_id),
    "region_id": lambda o, rule, v: o.org.region_id,
    "field_id": lambda o, rule, v: o.demand.field_id,
    "filename": lambda o, rule, v: "css/app.css",
    "deal_id": lambda o, rule, v: o.deal.id,
    "contract_id": lambda o, rule, v: o.contract.id,
    "interest_id": lambda o, rule, v: o.interest.id,
    "suggestion_id": lambda o, rule, v: o.suggestion.id,
    "notification_id": lambda o, rule, v: o.notification.id,
    "job_id": lambda o, rule, v: o.job.id,
    "link_id": lambda o, rule, v: o.link.id,
    "run_id": lambda o, rule, v: o.import_run.id,
    "subscription_id": lambda o, rule, v: o.subscription.id,
    "token": lambda o, rule, v: (_invitation_token(o.invitation) if rule.endpoint == "members.join"
                                 else _unsubscribe_token(o.demand.owner_id)),
    "invitation_id": lambda o, rule, v: o.invitation.id,
    "revision_id": lambda o, rule, v: o.revision.id,
    "reason_id": lambda o, rule, v: o.reason.id,
    "code_id": lambda o, rule, v: o.reg_code.id,
    "point_id": lambda o, rule, v: o.reg_point.id,
    "happening_id": lambda o, rule, v: o.happening.id,
    "demand_id": lambda o, rule, v: o.demand.id,
    "agency_id": lambda o, rule, v: o.agency.id,
    "broker_id": lambda o, rule, v: o.agency_broker.id,
    "expert_id": lambda o, rule, v: o.expert.id,
    "campaign_id": lambda o, rule, v: o.campaign.id,
    "task_id": lambda o, rule, v: o.campaign_task.id,
    "proposal_id": lambda o, rule, v: o.scored_proposal.id,  # in review: the panel's score page opens
    "milestone_id": lambda o, rule, v: o.campaign_delivered.id,
    "file_id": lambda o, rule, v: o.campaign_file.id,
    "token_id": lambda o, rule, v: o.api_token.id,  # the enterprise user's API token
    "session_id": lambda o, rule, v: o.auction_session.id,
    "lot_id": lambda o, rule, v: o.auction_lot.id,
    "deposit_id": lambda o, rule, v: o.auction_deposit.id,  # marked for return
    "achievement_id": lambda o, rule, v: o.achievement.id,  # the city university's published result
    "disclosure_id": lambda o, rule, v: o.disclosure.id,
    "objection_id": lambda o, rule, v: o.objection.id,
    "price_listing_id": lambda o, rule, v: o.price_listing.id,
}
# the 登记员's decision is on a submission waiting at its point; every other contract route takes objs.contract
_CONTRACT_ID = FILL["contract_id"]
FILL["contract_id"] = lambda o, rule, v: (o.submission.id if rule.endpoint == "registration.decide"
                                          else _CONTRACT_ID(o, rule, v))

# What a denied role posts: data that would change something if the permission check were missing.
POST_DATA = {
    "review.decide": lambda w: {"decision": "publish"},
    "review.verify_org": lambda w: {"decision": "verify"},
    "review.decide_broker": lambda w: {"decision": "approve"},
    "review.batch": lambda w: {"kind": "demand", "ids": _pending_demand_ids()},
    "review.revision": lambda w: {"decision": "publish"},
    "members.invite": lambda w: {"note": "越权生成的邀请"},
    "members.set_admin": lambda w: {"admin": "1"},
    "admin.reasons": lambda w: {"text": "越权添加的退回理由"},
    "admin.reason_edit": lambda w: {"text": "被越权修改的退回理由"},
    "admin.reg_code_new": lambda w: {"kind": "ip_type", "code": "8", "label": "越权添加的代码", "sort": "1"},
    "admin.reg_code_edit": lambda w: {"label": "被越权修改的代码", "sort": "1"},
    "admin.user_new": lambda w: {"role": "admin", "username": "intruder", "name": "越权管理员", "password": "Intrude-pass-2026",
                                 "password2": "Intrude-pass-2026", "region_id": "0", "org_id": "0"},
    "admin.user_edit": lambda w: {"name": "被越权修改"},
    "admin.user_password": lambda w: {"password": "Intrude-pass-2026", "password2": "Intrude-pass-2026"},
    "admin.org_decide": lambda w: {"decision": "verify"},
    "admin.region_new": lambda w: {"code": "340399", "name": "越权新建县", "level": "county", "parent_id": w.regions["city"].id},
    "admin.field_new": lambda w: {"name": "越权新建领域", "parent_id": "0"},
    "admin.field_edit": lambda w: {"name": "被越权改名"},
    "admin.field_move": lambda w: {"direction": "down"},
    "deals.interest_create": lambda w: {"message": "越权提交的意向留言内容"},
    "deals.interest_decide": lambda w: {"decision": "accept"},
    "deals.move": lambda w: {"to": "terminated", "version": "1", "reason_code": "price"},
    "deals.plan": lambda w: {"next_action_on": "2030-01-01", "next_action": "越权安排"},
    "deals.correct_source": lambda w: {"source": "direct", "note": "越权更正来源"},
    "deals.note": lambda w: {"text": "越权记录"},
    "contracts.void": lambda w: {"reason": "越权作废"},
    "registration.decide": lambda w: {"decision": "register", "tech_amount": "1.00", "version": "1"},
    "registration.cancel": lambda w: {"reason": "越权注销"},
    "registration.points": lambda w: {"name": "越权设立的登记点", "kind": "agency", "region_id": w.regions["city"].id,
                                      "division": "340300", "serial": "9"},
    "registration.point": lambda w: {"username": "intruder_reg", "name": "越权登记员", "password": "Intrude-pass-2026"},
    "registration.point_state": lambda w: {"active": "0", "confirm": "y"},
    "registration.registrar_state": lambda w: {"active": "0", "confirm": "y"},
    "registration.calendar_days": lambda w: {"day": "2027-02-08", "kind": "holiday", "name": "越权放假"},
    "contracts.link_decide": lambda w: {"decision": "accept"},
    "happenings.create": lambda w: {"kind": "roadshow", "title": "越权发布的路演活动", "place": "某地", "capacity": "10",
                                    "starts_at": "2030-01-01T09:00", "ends_at": "2030-01-01T12:00",
                                    "signup_deadline": "2029-12-31T09:00", "sessions": "2030-01-01 09:00-10:00 越权议程"},
    "happenings.checkin": lambda w: {"code": w.happening_code},  # the university's unused code
    "happenings.edit": lambda w: {**w.happening_edit, "title": "越权修改的活动名称", "capacity": "99"},
    "happenings.call_off": lambda w: {"reason": "越权取消活动", "confirm": "y"},
    "happenings.spot_interest": lambda w: {"signup_id": str(w.happening_signup_id), "message": "越权记录的现场意向",
                                           "listing_key": f"achievement:{w.happening_achievement_id}"},
    "dashboard.target_edit": lambda w: {"amount": "1", "count": "1"},
    "agencies.edit_services": lambda w: {"services": ["financing"], "note": "越权修改的服务说明"},
    "agencies.broker_profile": lambda w: {"intro": "越权修改的简介"},
    "agencies.broker_registry": lambda w: {"cert_no": "JJR-2099-9999", "agency_id": str(w.orgs.agency.id),
                                           "region_id": str(w.regions["county_a"].id)},
    "agencies.expert_new": lambda w: {"name": "越权专家", "org_name": w.orgs.uni.name, "region_id": str(w.regions["city"].id),
                                      "field_ids": [str(w.fields["materials"].id)], "available": "y"},
    "agencies.expert_edit": lambda w: {"name": "被越权修改", "org_name": w.orgs.uni.name,
                                       "region_id": str(w.regions["county_a"].id),
                                       "field_ids": [str(w.fields["materials"].id)]},
    "agencies.expert_availability": lambda w: {"available": "0"},
    "agencies.event_agency": lambda w: {"agency_id": str(w.orgs.agency.id)},
    "campaigns.create": lambda w: {"title": "越权发布的揭榜榜单"},
    "campaigns.task_new": lambda w: {"title": "越权发布的榜", "goal": "x", "indicators": "x", "award": "1",
                                     "co_funding": "0", "deadline": "2030-01-01T09:00", "rubric": "技术 10",
                                     "eligible_types": ["university"]},
    "campaigns.propose": lambda w: {"summary": "越权提交的揭榜方案", "plan": "越权提交的揭榜方案内容，足够二十个字以上的长度。"},
    "campaigns.score": lambda w: {"points-0": "60", "points-1": "40"},
    "campaigns.milestone_add": lambda w: {"title": "越权里程碑", "due_on": "2027-06-30", "amount": "1.00"},
    "campaigns.milestone_submit": lambda w: {"note": "越权提交的成果"},
    "campaigns.milestone_decide": lambda w: {"decision": "accept"},
    "auctions.session_new": lambda w: {"title": "越权创建的竞价专场"},
    "auctions.session_edit": lambda w: {"title": "被越权修改的竞价专场"},
    "auctions.lot_new": lambda w: {"achievement_id": "1", "starting_price": "100", "increment": "1",
                                   "deposit_amount": "0", "starts_at": "2030-01-01T09:00", "ends_at": "2030-01-02T09:00",
                                   "snipe_window_minutes": "5", "extend_minutes": "5"},
    "auctions.bid": lambda w: {"amount": "100000000"},
    "auctions.proxy": lambda w: {"ceiling": "900000000"},
    "auctions.deposit_new": lambda w: {"org_id": str(w.orgs.ent_b.id), "amount": "100000"},
    "transfers.disclosure_new": lambda w: {"buyer_name": "越权公示的受让单位", "contract_type": "transfer",
                                           "price": "1.00", "days": "15", "contact_name": "越权", "contact_phone": "13800000000"},
    "transfers.objection_new": lambda w: {"reasons": "越权提出的异议理由，不少于十个字。", "contact": "13800000000"},
    "transfers.objection_answer": lambda w: {"answer": "越权的答复"},
    "transfers.objection_decide": lambda w: {"decision": "upheld", "reason": "越权的认定"},
    "transfers.listing_new": lambda w: {"contract_type": "transfer", "price": "1.00", "days": "30"},
    "contracts.add_payment": lambda w: {"paid_on": "2025-01-01", "amount": "1.00"},
    "listings.edit": lambda w: {"title": "被越权修改的标题", "field_id": w.fields["materials"].id, "modes": ["transfer"],
                                "description": "越权修改的描述文字足够长", "summary": "越权修改的简介文字足够长", "maturity": "5",
                                "team_lead": "某某", "budget": "1", "price": "1", "contact_name": "某某", "contact_phone": "0552-12345678"},
    "listings.create": lambda w: {"title": "越权发布的条目标题", "field_id": w.fields["materials"].id, "modes": ["transfer"],
                                  "description": "越权发布的描述文字足够长", "summary": "越权发布的简介文字足够长", "maturity": "5",
                                  "team_lead": "某某", "budget": "1", "price": "1", "contact_name": "某某", "contact_phone": "0552-12345678"},
}
USERS = {ENT: "enterprise", INST: "institution", BROKER: "broker", OFFICIAL: "official", ADMIN: "admin",
         UNVERIFIED: "unverified", PENDING_BROKER: "pending_broker", REJECTED_BROKER: "rejected_broker",
         REGISTRAR: "registrar"}


def _key(rule) -> str:
    defaults = rule.defaults or {}
    if defaults:
        specific = rule.endpoint + ":" + ",".join(str(v) for v in defaults.values())
        if specific in EXPECTED:
            return specific
    return rule.endpoint


def _rules(app):
    return sorted(app.url_map.iter_rules(), key=lambda r: (r.endpoint, r.rule))


def _urls(rule, objs, *, strict: bool) -> list[str] | None:
    """Every URL for the rule (one per option of an any() part); None when a parameter cannot be filled."""
    params = sorted(rule.arguments - set(rule.defaults or {}))
    options = [
        [(name, item) for item in sorted(rule._converters[name].items)]
        for name in params if isinstance(rule._converters.get(name), AnyConverter)
    ]
    urls = []
    for combo in itertools.product(*options):
        values = {**(rule.defaults or {}), **dict(combo)}
        for name in params:
            if name in values:
                continue
            if name in FILL:
                values[name] = FILL[name](objs, rule, values)
            elif strict:
                return None
            else:  # the anonymous inventory: any id will do, the refusal must come first
                values[name] = 1 if type(rule._converters.get(name)).__name__ == "IntegerConverter" else "x"
        urls.append(rule.build(values, append_unknown=False)[1])
    return urls


def _methods(rule) -> list[str]:
    methods = set(rule.methods) | {"OPTIONS"}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def _refused(resp) -> bool:
    if resp.status_code in (401, 403, 404, 405):
        return True
    return resp.status_code in (301, 302, 303) and urlsplit(resp.headers.get("Location", "")).path == "/login"


def _reg_code():
    from sqlalchemy import select

    from market.extensions import db
    from market.models import RegCode

    return db.session.scalar(select(RegCode).where(RegCode.kind == "ip_type", RegCode.code == "1"))


@pytest.fixture
def objs(world):
    from tests import factories
    from tests.factories import broker_accounts, deal_objects

    o = objects(world)
    deal_objects(world, o)
    o.link = _pending_link(world, o)
    o.pending_broker, o.rejected_broker = broker_accounts(world)
    o.job = factories.failed_job()
    o.import_run = factories.import_run(world.users.official)
    o.reason = factories.return_reason()
    o.reg_code = _reg_code()
    o.subscription = _subscription(world)
    o.reg_point, o.submission = _registration(world, o)
    o.registrar = world.users.registrar
    o.colleague, o.invitation, o.revision = _members_and_revision(world, o)
    from tests.test_happenings import event_objects

    event_objects(world, o)  # objs.happening
    from tests.test_agencies import agency_objects

    agency_objects(world, o)  # objs.expert, objs.agency, objs.agency_broker (its profile public)
    from tests.test_campaigns import campaign_objects

    campaign_objects(world, o)  # objs.campaign, objs.campaign_task, objs.campaign_proposal, objs.campaign_file
    from tests.test_campaigns import milestone_objects

    milestone_objects(world, o)  # an announced 榜 won by the second enterprise, with milestones
    from tests.test_api_tokens import api_objects

    api_objects(world, o)  # objs.api_token: the enterprise user's API token
    from tests.test_auctions import auction_objects

    auction_objects(world, o)  # objs.auction_session, objs.auction_lot, objs.auction_deposit
    from tests.test_transfers import transfer_objects

    transfer_objects(world, o)  # objs.disclosure, objs.objection, objs.objection_open, objs.price_listing
    return o


def _members_and_revision(world, o):
    """County A's enterprise user administers its organisation, which has a second member and an open invitation;
    its published need has a change waiting for review."""
    import json
    from datetime import timedelta

    from market.extensions import db
    from market.listings.revisions import snapshot
    from market.models import ListingRevision, OrgInvitation
    from market.models.base import utcnow
    from tests import factories

    world.users.enterprise.org_admin = True
    colleague = factories.user(role="enterprise", org=world.orgs.ent_a, username="ent_a_member")
    invitation = OrgInvitation(org_id=world.orgs.ent_a.id, nonce="n" * 43, created_by_id=world.users.enterprise.id,
                               expires_at=utcnow() + timedelta(days=7))
    revision = ListingRevision(kind="demand", listing_id=o.demand.id, submitted_by_id=world.users.enterprise.id,
                               data=json.dumps({**snapshot(o.demand), "title": "待审核的修改后标题"}, ensure_ascii=False))
    db.session.add_all([invitation, revision])
    db.session.commit()
    return colleague, invitation, revision


def _invitation_token(invitation) -> str:
    from market.members.services import invitation_token

    return invitation_token(invitation)


def _registration(world, o):
    """County A's 登记点 and its 登记员 (world.users.registrar); objs.contract registered there with its 登记证明;
    a second contract of the same parties submitted online by the university, waiting there."""
    from datetime import date

    from market.extensions import db
    from market.models import RegPoint, User
    from market.models.base import utcnow
    from tests import factories

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
                                    submitted_by_id=world.users.institution.id, registration_no="待登记-0123456789abcdef")
    db.session.commit()
    return point, submission


def _subscription(world):
    from market.extensions import db
    from market.models import Subscription

    sub = Subscription(user_id=world.users.enterprise.id, kind="all", q="导电膜", field_code="")
    db.session.add(sub)
    db.session.commit()
    return sub


def _unsubscribe_token(user_id: int) -> str:
    from market.notifications.mail import unsubscribe_token

    return unsubscribe_token(user_id, "deal")


def _pending_demand_ids() -> list[str]:
    from market.extensions import db
    from market.models import Demand

    return [str(i) for i in db.session.scalars(db.select(Demand.id).where(Demand.status == "pending"))]


def _pending_link(world, o):
    """The contract of `o` asks county A's enterprise to confirm a link to its published need."""
    from market.extensions import db
    from market.models import ContractListingLink

    link = ContractListingLink(contract_id=o.contract.id, kind="demand", listing_id=o.demand.id,
                               requested_by_id=world.users.broker.id)
    db.session.add(link)
    db.session.commit()
    return link


class _Report:
    """Prints the figures in pytest's terminal summary (visible without -s)."""

    def __init__(self):
        self.lines: list[str] = []

    def pytest_terminal_summary(self, terminalreporter):
        for line in self.lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def report(request):
    plugin = _Report()
    request.config.pluginmanager.register(plugin, "access-matrix-report")
    return plugin


def test_every_route_has_an_expectation(app):
    missing = sorted({_key(r) for r in _rules(app) if _key(r) not in EXPECTED})
    assert not missing, (
        "Routes with no access expectation. Add one line per endpoint to EXPECTED in tests/test_access_matrix.py, "
        '"<endpoint>": frozenset({<roles allowed>}), and put it in PUBLIC if anonymous visitors may use it: '
        + ", ".join(missing)
    )
    for key, roles in EXPECTED.items():
        endpoint = key.split(":")[0]
        assert (ANON in roles) == (endpoint in PUBLIC), f"{key}: anonymous in EXPECTED but not in PUBLIC (or the reverse)"


def test_anonymous_is_refused_everywhere_but_public(app, world, objs, report):
    """Every rule not in PUBLIC refuses an anonymous request: every method it has, HEAD and OPTIONS too."""
    client = app.test_client()
    p = Poster(client)  # a valid CSRF token: the answer must be the permission check, not the CSRF check
    before = snapshot()
    problems, cases = [], 0
    for rule in _rules(app):
        if rule.endpoint in PUBLIC:
            continue
        for method in _methods(rule):
            for url in _urls(rule, objs, strict=False):
                resp = p.post(url) if method == "POST" else client.open(url, method=method)
                cases += 1
                if not _refused(resp):
                    problems.append(f"{method} {url} ({rule.endpoint}) -> {resp.status_code}")
    assert not problems, "anonymous requests that were not refused:\n" + "\n".join(problems)
    assert not diff(before, snapshot())
    line = f"{cases} anonymous route x method cases, 0 unexpected allows"
    report.lines.append(line)
    print("\n" + line)


def test_public_routes_answer_everyone(app, world, objs):
    client = app.test_client()
    for rule in _rules(app):
        if rule.endpoint not in PUBLIC or "GET" not in rule.methods:
            continue
        for url in _urls(rule, objs, strict=True) or []:
            assert client.get(url).status_code == 200, url


def test_role_route_method_matrix(app, world, objs, report):
    """For each listed endpoint: GET (and HEAD) by every role, 200 when allowed, refused otherwise; POST by every
    denied role (with a valid CSRF token and meaningful data) refused and nothing changed."""
    clients = {ANON: app.test_client(), **{role: client_for(app, getattr(world.users, name)) for role, name in USERS.items()}}
    posters = {role: Poster(c) for role, c in clients.items()}
    cases, unexpected_allows, unexpected_refusals, unfillable = 0, [], [], []
    before = snapshot()
    for rule in _rules(app):
        key = _key(rule)
        if key not in EXPECTED:
            continue  # reported by test_every_route_has_an_expectation
        allowed = EXPECTED[key]
        for method in ("GET", "HEAD", "POST"):
            if method not in rule.methods:
                continue
            urls = _urls(rule, objs, strict=True)
            if urls is None:
                unfillable.append(rule.rule)
                continue
            for url, role in itertools.product(urls, ROLES):
                if method == "POST":
                    if role in allowed:
                        continue  # the features' own tests post as the allowed roles
                    # with a valid one-time token (creating forms): what refuses is the access rule, not the token
                    resp = posters[role].post(url, {"form_token": form_token(),
                                                    **POST_DATA.get(rule.endpoint, lambda w: {})(world)})
                else:
                    resp = clients[role].open(url, method=method)
                cases += 1
                if role in allowed:
                    ok = resp.status_code == 200 or (
                        resp.status_code == 302 and rule.endpoint == "auth.login" and role != ANON)  # signed in: home
                    if not ok:
                        unexpected_refusals.append(f"{role} {method} {url} -> {resp.status_code}")
                elif not _refused(resp):
                    unexpected_allows.append(f"{role} {method} {url} -> {resp.status_code}")
    assert not unfillable, "add a FILL entry for the parameters of: " + ", ".join(sorted(set(unfillable)))
    changed = diff(before, snapshot())
    if changed:
        unexpected_allows.append(f"refused requests changed rows: {changed}")
    line = f"{cases} role x route cases, {len(unexpected_allows)} unexpected allows"
    report.lines.append(line)
    print("\n" + line)
    assert not unexpected_allows, "\n".join(unexpected_allows)
    assert not unexpected_refusals, "\n".join(unexpected_refusals)


def test_foreign_objects_by_id(app, world, objs):
    """Organisation B asks for organisation A's private listings by id, on every listing route: 404, unchanged."""
    draft_d, draft_a = objs.draft_demand, objs.draft_achievement
    intruders = {"enterprise_b": draft_d, "institution": draft_d, "enterprise": draft_a, "broker": draft_d,
                 "official_b": draft_d, "official": draft_a}
    before = snapshot()
    for name, listing in intruders.items():
        p = Poster(client_for(app, getattr(world.users, name)))
        path = "demands" if listing is draft_d else "achievements"
        assert p.get(f"/{path}/{listing.id}").status_code == 404, name
        assert p.get(f"/{path}/{listing.id}/edit").status_code == 404, name
        for action in ("submit", "withdraw", "close", "done"):
            assert p.post(f"/{path}/{listing.id}/{action}").status_code == 404, (name, action)
        assert p.post(f"/{path}/{listing.id}/edit", POST_DATA["listings.edit"](world)).status_code == 404, name
    after = snapshot()
    after.pop("user_sessions")
    before.pop("user_sessions")
    assert after == before
