"""Notifications by e-mail (issue 17 item 1): every event that concerns someone makes a notice in the site, and a
mail sent by a background job through a real SMTP server started here (aiosmtpd); the signed 退订 link; the daily
digest; a job run twice mails once; a failing server is retried and the notice stays; per-user choices."""
from __future__ import annotations

import os
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from market.database import write_intent
from market.extensions import db
from market.jobs import job_run
from market.listings.services import listing_transition
from market.models import Job, MailDigest, Notification, NotificationPref
from market.notifications import mail
from market.notifications.handlers import suggestions_notify
from tests import factories
from tests.helpers import MAIL_SITE_URL, form_token, post
from tests.mailserver import body, free_port, links, unsubscribe_link

SITE = MAIL_SITE_URL  # the smtp fixture's site address (tests/conftest.py)
# what does not depend on the database kind (the admin's banner, signed tokens, a form) runs in the SQLite run only
SQLITE_RUN_ONLY = pytest.mark.skipif(os.environ.get("MARKET_TEST_DB") == "postgres",
                                     reason="does not depend on the database kind: run once")


@pytest.fixture(autouse=True)
def _reads_do_not_lock(app):
    """The test's own reads begin deferred (SQLite): jobs write from sessions of their own meanwhile."""
    token = write_intent.set(False)
    yield
    write_intent.reset(token)



@pytest.fixture
def people(world):
    for name in ("enterprise", "enterprise_b", "institution", "official", "broker"):
        getattr(world.users, name).email = f"{name}@example.com"
    db.session.commit()
    return world.users


def notices(user, kind: str | None = None) -> list[Notification]:
    stmt = select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
    if kind:
        stmt = stmt.where(Notification.kind == kind)
    rows = list(db.session.scalars(stmt))
    db.session.commit()  # hold no transaction: the jobs write from sessions of their own
    return rows


def pending_demand(world, title="寻求高透光导电膜玻璃镀膜技术"):
    demand = factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="pending",
                              title=title)
    db.session.commit()
    return demand


def test_approval_notice_mail_and_unsubscribe_link(world, people, smtp, login_as, client):
    demand = pending_demand(world)
    listing_transition(listing=demand, user=people.official, to="published")
    db.session.commit()

    [note] = notices(people.enterprise, "listing_published")
    assert "已通过审核并公开发布" in note.text and note.mail == "now"
    page = login_as("enterprise").get("/notifications/").get_data(as_text=True)
    assert "《寻求高透光导电膜玻璃镀膜技术》已通过审核并公开发布" in page
    [message] = smtp.wait_for("enterprise@example.com")
    assert "已通过审核并公开发布" in message["Subject"]
    assert f"{SITE}/demands/{demand.id}" in links(message)
    assert message["List-Unsubscribe"].startswith(f"<{SITE}/notifications/unsubscribe/")
    assert not notices(people.official)  # the reviewer is not told about their own act
    db.session.refresh(note)
    assert note.mailed_at is not None

    # the 退订 link works without signing in and turns off this kind of mail only
    path = urlsplit(unsubscribe_link(message)).path
    page = client.get(path)  # opening the link changes nothing (mail gateways open links too)
    assert page.status_code == 200 and 'id="confirm-unsubscribe"' in page.get_data(as_text=True)
    assert db.session.get(NotificationPref, (people.enterprise.id, "listing")) is None
    resp = post(client, path)  # the one button, as an anonymous visitor
    assert resp.status_code == 200 and "已退订" in resp.get_data(as_text=True)
    assert db.session.get(NotificationPref, (people.enterprise.id, "listing")).mode == "off"
    assert db.session.get(NotificationPref, (people.enterprise.id, "deal")) is None

    second = pending_demand(world, title="寻求锂电池隔膜涂覆工艺")
    listing_transition(listing=second, user=people.official, to="returned", reason="预算与需求描述不符，请补充")
    db.session.commit()
    [returned] = notices(people.enterprise, "listing_returned")
    assert "理由：预算与需求描述不符，请补充" in returned.text and returned.mail == ""  # in the site, no mail
    assert len(smtp.to("enterprise@example.com")) == 1


def test_daily_digest_two_events_one_mail_once_a_day(world, people, smtp, app):
    db.session.add(NotificationPref(user_id=people.enterprise.id, topic="listing", mode="digest"))
    db.session.commit()
    first, second = pending_demand(world), pending_demand(world, title="寻求锂电池隔膜涂覆工艺")
    listing_transition(listing=first, user=people.official, to="published")
    listing_transition(listing=second, user=people.official, to="returned", reason="请补充技术指标")
    db.session.commit()
    assert [n.mail for n in notices(people.enterprise)] == ["digest", "digest"]
    assert smtp.to("enterprise@example.com") == []

    china = timezone(timedelta(hours=8))
    before = datetime.now(china).replace(hour=app.config["MAIL_DIGEST_HOUR"] - 1)
    assert mail.digests_queue(before.astimezone(timezone.utc)) == 0  # not before the hour
    at = (datetime.now(china) + timedelta(days=1)).replace(hour=app.config["MAIL_DIGEST_HOUR"], minute=5)
    assert mail.digests_queue(at.astimezone(timezone.utc)) == 1
    [digest] = smtp.wait_for("enterprise@example.com")
    text = body(digest)
    assert "2 条新通知" in text and "已通过审核并公开发布" in text and "理由：请补充技术指标" in text
    assert "通知汇总（2 条）" in digest["Subject"]
    # once a day: the sweep runs every minute, on every node
    assert mail.digests_queue(at.astimezone(timezone.utc) + timedelta(minutes=1)) == 0
    db.session.commit()  # end this session's read: the jobs wrote meanwhile
    row = db.session.scalar(select(MailDigest))
    assert row.notices == 2 and row.sent_at is not None and row.day == at.date()
    assert all(n.mailed_at is not None for n in notices(people.enterprise))
    assert len(smtp.to("enterprise@example.com")) == 1


def test_a_mail_job_run_twice_mails_once(world, people, smtp):
    listing_transition(listing=pending_demand(world), user=people.official, to="published")
    db.session.commit()
    smtp.wait_for("enterprise@example.com")
    job = db.session.scalar(select(Job).where(Job.kind == "mail.send"))
    assert job.status == "done"
    job.status, job.lease_until = "queued", None  # as if the queue delivered the message a second time
    job_id = job.id
    db.session.commit()
    assert job_run(job_id) == "done"
    db.session.commit()
    db.session.refresh(job)
    assert "已发送过" in job.result
    assert len(smtp.to("enterprise@example.com")) == 1


def test_a_failing_smtp_server_is_retried_and_the_notice_stays(world, people, smtp, login_as):
    smtp.refuse = True
    listing_transition(listing=pending_demand(world), user=people.official, to="published")
    db.session.commit()
    job = db.session.scalar(select(Job).where(Job.kind == "mail.send"))
    assert job.status == "queued" and job.attempts == 1 and "451" in job.error  # to be retried
    assert "已通过审核并公开发布" in login_as("enterprise").get("/notifications/").get_data(as_text=True)
    [note] = notices(people.enterprise)
    assert note.mailed_at is None

    smtp.refuse = False
    job.lease_until = datetime.now(timezone.utc) - timedelta(seconds=1)  # its retry is due
    job_id = job.id
    db.session.commit()
    assert job_run(job_id) == "done"
    smtp.wait_for("enterprise@example.com")
    db.session.commit()
    db.session.refresh(note)
    assert note.mailed_at is not None


def test_one_event_one_job_a_refused_address_does_not_block_the_others(world, people, smtp):
    colleague = factories.user(role="enterprise", org=world.orgs.ent_a, username="ent_a2")
    colleague.email = "gone@example.com"
    db.session.commit()
    smtp.unknown.add("gone@example.com")
    listing_transition(listing=pending_demand(world), user=people.official, to="published")
    db.session.commit()
    [job] = db.session.scalars(select(Job).where(Job.kind == "mail.send")).all()  # one job for the event
    assert job.status == "done" and "1 个地址被邮件服务器拒收" in job.result
    assert len(smtp.wait_for("enterprise@example.com")) == 1 and smtp.to("gone@example.com") == []
    [refused] = notices(colleague)
    assert refused.mail == "refused" and refused.mailed_at is None  # in the site; never retried


@SQLITE_RUN_ONLY
def test_without_a_mail_server_notices_stay_in_the_site_and_the_admin_is_told(world, people, login_as, app):
    app.config.update(MAIL_SERVER="", SEARCH_SYNC_AFTER_COMMIT=False)
    listing_transition(listing=pending_demand(world), user=people.official, to="published")
    db.session.commit()
    assert [n.mail for n in notices(people.enterprise)] == [""]
    assert db.session.scalar(select(func.count()).select_from(Job).where(Job.kind == "mail.send")) == 0
    admin = login_as("admin")
    for url in ("/admin/", "/admin/jobs/"):
        page = admin.get(url).get_data(as_text=True)
        assert 'id="mail-not-configured"' in page and "未配置邮件服务器" in page, url
    app.config["MAIL_SERVER"] = "127.0.0.1"
    assert 'id="mail-not-configured"' not in admin.get("/admin/").get_data(as_text=True)


def test_every_event_that_concerns_someone_is_a_notice(world, people, smtp):
    from market.contracts.services import payment_add
    from market.deals.services import deal_claim, deal_move
    from market.orgs import org_verify

    pending = factories.org(region=world.regions["county_a"], status="pending", name="怀远申请认证企业")
    applicant = factories.user(role="enterprise", org=pending, username="applicant")
    applicant.email = "applicant@example.com"
    db.session.commit()
    org_verify(org=pending, user=people.official, decision="reject", note="营业执照照片不清晰")
    db.session.commit()
    [rejected] = notices(applicant, "org_rejected")
    assert "认证未通过，理由：营业执照照片不清晰" in rejected.text
    assert "营业执照照片不清晰" in body(smtp.wait_for("applicant@example.com")[0])

    need = factories.demand(owner=people.enterprise, field=world.fields["materials"], status="published")
    deal = factories.deal(buyer=world.orgs.ent_a, seller=world.orgs.uni, demand=need, stage="recommended")
    db.session.commit()
    deal_claim(deal=deal, user=people.broker)
    db.session.commit()
    for party in (people.enterprise, people.institution):
        [claimed] = notices(party, "deal_claimed")
        assert f"技术经纪人 {people.broker.name} 已认领对接" in claimed.text
    deal_move(deal=deal, user=people.broker, to="contacted", version=deal.version)
    db.session.commit()
    assert "从“推荐”推进到“接洽”阶段" in notices(people.enterprise, "deal_moved")[0].text
    assert not notices(people.broker, "deal_moved")  # the broker moved it

    contract = factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, recorded_by=people.official)
    db.session.commit()
    payment_add(contract=contract, user=people.official, paid_on=date.today(), amount=Decimal("25000.00"),
                token=form_token())
    db.session.commit()
    [paid] = notices(people.institution, "payment_recorded")
    assert "登记了一笔付款 2.50万元" in paid.text
    assert notices(people.enterprise, "payment_recorded")


def test_new_strong_suggestions_are_told_once_to_both_owners(world, people, smtp):
    from sqlalchemy.orm import Session

    def scan():
        with Session(db.engine, expire_on_commit=False) as session:
            return suggestions_notify(session, {})

    old = factories.suggestion(
        demand=factories.demand(owner=people.enterprise, field=world.fields["materials"], status="published",
                                title="升级前已有推荐的需求"),
        achievement=factories.achievement(owner=people.institution, field=world.fields["materials"],
                                          status="published", title="升级前已有推荐的成果"), score=90)
    db.session.commit()
    assert "起点" in scan()  # the first scan after an upgrade: pairs that exist are not new
    demand = factories.demand(owner=people.enterprise, field=world.fields["materials"], status="published")
    achievement = factories.achievement(owner=people.institution, field=world.fields["materials"], status="published")
    weak = factories.achievement(owner=people.institution, field=world.fields["materials"], status="published",
                                 title="一种弱相关的成果")
    factories.suggestion(demand=demand, achievement=achievement, score=95)
    factories.suggestion(demand=demand, achievement=weak, score=5)
    db.session.commit()
    for _ in range(2):  # run twice: the notice's key makes it once
        scan()
    [told] = notices(people.enterprise, "suggestion_strong")
    assert "新的强匹配推荐" in told.text and achievement.title in told.text and told.mail == "digest"
    assert len(notices(people.institution, "suggestion_strong")) == 1
    assert "一种弱相关的成果" not in " ".join(n.text for n in notices(people.enterprise))
    assert "升级前已有推荐" not in " ".join(n.text for n in notices(people.enterprise) + notices(people.institution))
    assert old.id  # kept (only not told)


@SQLITE_RUN_ONLY
def test_settings_are_ones_own_and_tokens_cannot_be_forged(world, people, login_as, client):
    c = login_as("enterprise")
    page = c.get("/notifications/settings").get_data(as_text=True)
    assert 'name="mode_listing"' in page and "enterprise@example.com" in page
    form = {f"mode_{t}": "now" for t in ("listing", "org", "deal", "contract", "suggestion", "subscription", "target",
                                          "other")}
    form.update(mode_deal="digest", user_id=str(people.enterprise_b.id))  # an extra user_id is ignored
    assert post(c, "/notifications/settings", form).status_code == 302
    assert db.session.get(NotificationPref, (people.enterprise.id, "deal")).mode == "digest"
    assert db.session.scalar(select(func.count()).select_from(NotificationPref).where(
        NotificationPref.user_id == people.enterprise_b.id)) == 0
    bad = post(c, "/notifications/settings", {**form, "mode_deal": "hourly"})
    assert bad.status_code == 400 and "请为每类通知选择" in bad.get_data(as_text=True)
    # one's own address: a wrong one is refused at its field, with what was chosen kept
    bad = post(c, "/notifications/settings", {**form, "mode_deal": "off", "email": "not-an-address"})
    page = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "电子邮箱格式不正确" in page and 'value="not-an-address"' in page
    assert 'id="mode_deal_off" aria-label="意向与对接：新意向、答复、经纪人认领与阶段推进：不发邮件" checked' in page
    assert post(c, "/notifications/settings", {**form, "email": "li.si@example.com"}).status_code == 302
    db.session.refresh(people.enterprise)
    assert people.enterprise.email == "li.si@example.com"
    assert people.enterprise_b.email == "enterprise_b@example.com"

    # one user's token changes only that user's choice; a forged or altered token changes nothing
    with c.application.test_request_context():
        token = mail.unsubscribe_token(people.enterprise.id, "deal")
        forged = mail.unsubscribe_token(people.enterprise_b.id, "deal")[:-2] + "xx"
    for bad_token in (forged, token[:-3], token.replace(".", ".x", 1), "abc"):
        for resp in (client.get(f"/notifications/unsubscribe/{bad_token}"),
                     post(client, f"/notifications/unsubscribe/{bad_token}")):
            assert resp.status_code == 400 and "退订链接无效" in resp.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(NotificationPref).where(
        NotificationPref.user_id == people.enterprise_b.id)) == 0
    assert post(client, f"/notifications/unsubscribe/{token}").status_code == 200
    assert db.session.get(NotificationPref, (people.enterprise.id, "deal")).mode == "off"
    assert db.session.scalar(select(func.count()).select_from(NotificationPref).where(
        NotificationPref.user_id == people.enterprise_b.id)) == 0


@SQLITE_RUN_ONLY
def test_the_mail_commands(world, people, smtp, runner, app):
    result = runner.invoke(args=["mail", "test", "ops@example.com"])
    assert result.exit_code == 0, result.output
    assert "测试邮件" in smtp.wait_for("ops@example.com")[0]["Subject"]

    db.session.add(NotificationPref(user_id=people.enterprise.id, topic="listing", mode="digest"))
    db.session.commit()
    listing_transition(listing=pending_demand(world), user=people.official, to="published")
    db.session.commit()
    result = runner.invoke(args=["mail", "digests"])
    assert result.exit_code == 0 and "1 digest(s) queued" in result.output, result.output
    assert "1 条新通知" in body(smtp.wait_for("enterprise@example.com")[0])
    assert "0 digest(s) queued" in runner.invoke(args=["mail", "digests"]).output  # once a day

    app.config["MAIL_PORT"] = free_port()  # nothing listens there: the operator is told why
    result = runner.invoke(args=["mail", "test", "ops@example.com"])
    assert result.exit_code == 1 and "发送失败" in result.output
    app.config["MAIL_SERVER"] = ""
    result = runner.invoke(args=["mail", "test", "ops@example.com"])
    assert result.exit_code == 1 and "未配置邮件服务器" in result.output
