"""Issue 17 item 6: organisations with members. The first registrant administers the organisation and invites
colleagues by a one-time link (signed, expiring, single use); members share the organisation's listings and
interests; removing a member ends their sessions at once; only the organisation's administrator manages members."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from market.extensions import db
from market.models import Interest, OrgInvitation, User, UserSession
from market.models.base import utcnow
from tests import factories
from tests.helpers import MAIL_SITE_URL, Poster, assert_refused, client_for, form_token

LINK = re.compile(r'class="form-control form-control-sm invitation-link" readonly value="https?://[^/"]+(/join/[^"]+)"')


@pytest.fixture
def team(app, world):
    """ent_a is its organisation's administrator."""
    world.users.enterprise.org_admin = True
    db.session.commit()
    return world


def _as(app, user):
    return Poster(client_for(app, user))


def _invite(admin_client) -> str:
    resp = admin_client.post("/org/invitations", {"note": "研发部"})
    assert resp.status_code == 303, assert_refused(resp)
    links = LINK.findall(admin_client.get("/org/members").get_data(as_text=True))
    assert links
    return links[0]


def _join_form(**over):
    return {"username": "ent_a_colleague", "name": "王工程师", "phone": "13912345678", "email": "",
            "password": "Colleague-2026x", "password2": "Colleague-2026x", "agree": "y", "form_token": form_token(),
            **over}


def test_first_registrant_administers_and_a_second_is_told_to_ask_for_an_invitation(app, world):
    from tests.test_auth import reg

    form = reg(world, username="founder", uscc=factories.uscc(9101, area="340322"), org_name="怀远新注册科技有限公司")
    c = Poster(app.test_client())
    resp = c.post("/register", form)
    assert resp.status_code == 302, assert_refused(resp)
    founder = db.session.scalar(select(User).where(User.username == "founder"))
    assert founder.org_admin
    second = Poster(app.test_client())
    resp = second.post("/register", {**form, "username": "second", "org_name": "另一个名字有限公司",
                                     "form_token": form_token()})
    messages = assert_refused(resp, "请向本单位管理员索取邀请链接")
    assert "该统一社会信用代码已注册" not in " ".join(messages)


def test_invitation_accepted_by_registering(app, team):
    admin = _as(app, team.users.enterprise)
    link = _invite(admin)
    anon = Poster(app.test_client())
    page = anon.get(link).get_data(as_text=True)
    assert "怀远甲企业有限公司" in page and 'id="join-form"' in page
    # a refused form keeps what was typed and says why; the link stays unused
    resp = anon.post(link, _join_form(agree=""))
    assert resp.status_code == 400 and "请阅读并同意" in resp.get_data(as_text=True)
    resp = anon.post(link, _join_form(password2="different-2026"))
    assert resp.status_code == 400 and 'value="ent_a_colleague"' in resp.get_data(as_text=True)
    resp = anon.post(link, _join_form())
    assert resp.status_code == 302, assert_refused(resp)
    colleague = db.session.scalar(select(User).where(User.username == "ent_a_colleague"))
    assert (colleague.org_id, colleague.role, colleague.org_admin) == (team.orgs.ent_a.id, "enterprise", False)
    assert colleague.terms_accepted_at is not None
    inv = db.session.scalar(select(OrgInvitation))
    assert inv.used_by_id == colleague.id and inv.used_at is not None
    # signed in at once, in the organisation's workbench
    assert anon.client.get("/my/demands").status_code == 200
    # used: refused for anyone else, and nothing created
    again = Poster(app.test_client())
    resp = again.post(link, _join_form(username="third_person"))
    assert resp.status_code == 410 and "已被使用" in resp.get_data(as_text=True)
    assert db.session.scalar(select(User).where(User.username == "third_person")) is None


def test_expired_forged_and_revoked_links_are_refused(app, team):
    admin = _as(app, team.users.enterprise)
    link = _invite(admin)
    anon = Poster(app.test_client())
    # forged: one character of the signature changed, or a token made with another key
    forged = link[:-2] + ("A" if link[-2] != "A" else "B") + link[-1]
    assert anon.get(forged).status_code == 404
    from itsdangerous import URLSafeTimedSerializer

    inv = db.session.scalar(select(OrgInvitation))
    other_key = URLSafeTimedSerializer("not-the-secret", salt="org-invitation").dumps({"i": inv.id, "n": inv.nonce})
    assert anon.get(f"/join/{other_key}").status_code == 404
    # the right signature but a guessed nonce
    from market.members.services import _serializer

    guessed = _serializer().dumps({"i": inv.id, "n": "x" * 43})
    assert anon.get(f"/join/{guessed}").status_code == 404
    # expired
    db.session.execute(update(OrgInvitation).values(expires_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    resp = anon.post(link, _join_form())
    assert resp.status_code == 410 and "过期" in resp.get_data(as_text=True)
    # revoked
    link2 = _invite(admin)
    inv2 = db.session.scalar(select(OrgInvitation).order_by(OrgInvitation.id.desc()))
    assert admin.post(f"/org/invitations/{inv2.id}/revoke", {}).status_code == 302
    assert anon.post(link2, _join_form()).status_code == 410
    assert db.session.scalar(select(User).where(User.username == "ent_a_colleague")) is None


def test_members_share_listings_and_interests(app, team):
    u = team.users
    colleague = factories.user(role="enterprise", org=team.orgs.ent_a, username="ent_a2")
    d = factories.demand(owner=u.enterprise, field=team.fields["materials"], status="draft", title="甲企业内部草稿需求")
    a = factories.achievement(owner=u.institution, field=team.fields["materials"], status="published")
    db.session.commit()
    c = _as(app, colleague)
    # the colleague sees and edits the organisation's draft
    assert c.get(f"/demands/{d.id}").status_code == 200
    assert "甲企业内部草稿需求" in c.get("/my/demands").get_data(as_text=True)
    # the colleague's interest is the organisation's: ent_a sees it, marked with who sent it
    resp = c.post(f"/deals/interest/achievement/{a.id}", {"message": "我们希望进一步了解该成果的中试情况。",
                                                          "form_token": form_token()})
    assert resp.status_code in (302, 303), assert_refused(resp)
    interest = db.session.scalar(select(Interest))
    assert (interest.from_org_id, interest.from_user_id) == (team.orgs.ent_a.id, colleague.id)
    sent = _as(app, u.enterprise).get("/deals/interests?dir=sent").get_data(as_text=True)
    assert a.title in sent and f"由{colleague.name}提交" in sent
    # the first member may withdraw the colleague's interest: it is the organisation's
    assert _as(app, u.enterprise).post(f"/deals/interests/{interest.id}/withdraw", {}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Interest, interest.id).status == "withdrawn"
    # another organisation's member is refused the draft
    assert client_for(app, u.enterprise_b).get(f"/demands/{d.id}").status_code == 404


def test_removed_member_session_ends_and_access_is_gone(app, team):
    colleague = factories.user(role="enterprise", org=team.orgs.ent_a, username="ent_a2")
    d = factories.demand(owner=team.users.enterprise, field=team.fields["materials"], status="draft")
    db.session.commit()
    colleague_client = client_for(app, colleague)
    assert colleague_client.get(f"/demands/{d.id}/edit").status_code == 200
    admin = _as(app, team.users.enterprise)
    assert "确定移除" in admin.get(f"/org/members/{colleague.id}/remove").get_data(as_text=True)
    assert admin.post(f"/org/members/{colleague.id}/remove", {}).status_code == 302
    # the replayed cookie is anonymous at once
    resp = colleague_client.get(f"/demands/{d.id}/edit")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    db.session.expire_all()
    assert not db.session.get(User, colleague.id).active
    assert not db.session.scalar(select(UserSession).where(UserSession.user_id == colleague.id,
                                                           UserSession.revoked_at.is_(None)))


def test_only_the_org_admin_manages_members(app, team):
    u = team.users
    colleague = factories.user(role="enterprise", org=team.orgs.ent_a, username="ent_a2")
    db.session.commit()
    c = _as(app, colleague)  # a member, not an administrator
    assert c.get("/org/members").status_code == 403
    assert c.post("/org/invitations", {}).status_code == 403
    assert c.post(f"/org/members/{u.enterprise.id}/remove", {}).status_code == 403
    assert db.session.scalar(select(OrgInvitation)) is None
    # another organisation's administrator cannot touch ent_a's members or invitations
    u.enterprise_b.org_admin = True
    db.session.commit()
    admin = _as(app, u.enterprise)
    _invite(admin)
    inv = db.session.scalar(select(OrgInvitation))
    other = _as(app, u.enterprise_b)
    assert other.post(f"/org/members/{colleague.id}/remove", {}).status_code == 404
    assert other.post(f"/org/members/{colleague.id}/admin", {"admin": "1"}).status_code == 404
    assert other.post(f"/org/invitations/{inv.id}/revoke", {}).status_code == 404
    db.session.expire_all()
    assert db.session.get(User, colleague.id).active and db.session.get(OrgInvitation, inv.id).revoked_at is None
    for role in ("official", "admin", "broker"):
        assert client_for(app, getattr(u, role)).get("/org/members").status_code == 403, role


def test_last_admin_cannot_remove_themselves(app, team):
    admin = _as(app, team.users.enterprise)
    resp = admin.post(f"/org/members/{team.users.enterprise.id}/remove", {})
    assert resp.status_code == 409 and "至少需要一名管理员" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, team.users.enterprise.id).active
    # with a second administrator it can
    colleague = factories.user(role="enterprise", org=team.orgs.ent_a, username="ent_a2")
    db.session.commit()
    assert admin.post(f"/org/members/{colleague.id}/admin", {"admin": "1"}).status_code == 302
    assert admin.post(f"/org/members/{team.users.enterprise.id}/remove", {}).status_code == 302
    db.session.expire_all()
    assert not db.session.get(User, team.users.enterprise.id).active


def test_signed_in_account_of_another_org_cannot_take_an_invitation(app, team):
    link = _invite(_as(app, team.users.enterprise))
    other = Poster(client_for(app, team.users.enterprise_b))
    resp = other.post(link, {})
    assert resp.status_code == 403
    db.session.expire_all()
    assert db.session.get(User, team.users.enterprise_b.id).org_id == team.orgs.ent_b.id
    assert db.session.scalar(select(OrgInvitation)).used_at is None


# --- the invitation by e-mail (a real SMTP server: tests/mailserver.py) ---------------------------------------------

def test_invitation_mailed_by_the_job_and_its_link_joins(app, team, smtp):
    """The administrator gives an address: the request queues a mail.invitation job (nothing sent in the request);
    the consumer sends it over SMTP; the mail's link opens the join page and registers the colleague."""
    from market.database import write_intent
    from market.models import Job
    from tests.mailserver import body, links

    admin = _as(app, team.users.enterprise)
    page = admin.client.get("/org/members").get_data(as_text=True)
    assert 'id="invite-mail-on"' in page and 'name="email"' in page
    token = write_intent.set(False)
    try:
        resp = admin.post("/org/invitations", {"note": "研发部", "email": "colleague@example.com"})
        assert resp.status_code == 303, assert_refused(resp)
        [message] = smtp.wait_for("colleague@example.com")
        db.session.commit()
        job = db.session.scalar(select(Job).where(Job.kind == "mail.invitation"))
        assert job is not None and '"to": "colleague@example.com"' in job.payload and "/join/" not in job.payload
        db.session.commit()
    finally:
        write_intent.reset(token)
    assert "怀远甲企业有限公司" in message["Subject"] and "怀远甲企业有限公司" in body(message)
    assert "List-Unsubscribe" not in message
    [link] = [u for u in links(message) if "/join/" in u]
    assert link.startswith(f"{MAIL_SITE_URL}/join/")
    path = link[len(MAIL_SITE_URL):]
    anon = Poster(app.test_client())
    assert 'id="join-form"' in anon.get(path).get_data(as_text=True)
    resp = anon.post(path, _join_form(username="mailed_colleague"))
    assert resp.status_code == 302, assert_refused(resp)
    colleague = db.session.scalar(select(User).where(User.username == "mailed_colleague"))
    assert colleague.org_id == team.orgs.ent_a.id


def test_without_a_mail_server_the_link_is_passed_on_by_hand(app, team):
    from market.models import Job

    app.config["MAIL_SERVER"] = ""
    admin = _as(app, team.users.enterprise)
    page = admin.client.get("/org/members").get_data(as_text=True)
    assert 'id="invite-mail-off"' in page and "手工转交" in page
    resp = admin.post("/org/invitations", {"email": "colleague@example.com"})
    assert resp.status_code == 303, assert_refused(resp)
    page = admin.client.get("/org/members").get_data(as_text=True)
    assert "邮件不会发送" in page and "colleague@example.com" in page and LINK.search(page)
    assert db.session.scalar(select(Job).where(Job.kind == "mail.invitation")) is None
    # a bad address: the form again with the error at the field, nothing created
    resp = admin.post("/org/invitations", {"email": "colleague@"})
    assert resp.status_code == 400 and "电子邮箱格式不正确" in resp.get_data(as_text=True)
    assert len(db.session.scalars(select(OrgInvitation)).all()) == 1


def test_an_unverified_organisation_gets_no_mail_sent_and_nothing_is_stored(app, team, smtp):
    """The site's own mail carries names the registrant chose: an unverified organisation's administrator makes no
    invitation and has no mail sent (the attacker's review of issue 17: a brand-new organisation must not make the
    site a phishing relay)."""
    from market.models import Job

    team.orgs.ent_a.status = "pending"
    db.session.commit()
    admin = _as(app, team.users.enterprise)
    resp = admin.post("/org/invitations", {"email": "victim@example.com"})
    assert resp.status_code == 403  # the verified-actor gate: an unverified account acts on nothing
    assert db.session.scalar(select(func.count()).select_from(OrgInvitation)) == 0
    assert db.session.scalar(select(Job).where(Job.kind == "mail.invitation")) is None


def test_links_made_in_a_day_are_capped_revoked_ones_included(app, team):
    """Create and revoke cannot go on for ever: at most MAX_INVITATIONS_PER_DAY links per organisation a day."""
    from market.members import services as member_services

    app.config["MAIL_SERVER"] = ""
    admin = _as(app, team.users.enterprise)
    for _ in range(member_services.MAX_INVITATIONS_PER_DAY):
        resp = admin.post("/org/invitations", {})
        assert resp.status_code == 303, assert_refused(resp)
        invitation = db.session.scalar(select(OrgInvitation).where(OrgInvitation.revoked_at.is_(None)))
        assert admin.post(f"/org/invitations/{invitation.id}/revoke", {}).status_code in (302, 303)
    before = db.session.scalar(select(func.count()).select_from(OrgInvitation))
    assert_refused(admin.post("/org/invitations", {}), "24小时内最多生成", codes=(400,))
    assert db.session.scalar(select(func.count()).select_from(OrgInvitation)) == before
