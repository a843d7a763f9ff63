"""One 技术经纪人证书编号, one broker: the same stored form and uniqueness rule whether the certificate comes from
self-registration, the administrator's account forms or the officials' broker registry (market.broker_cert), held
by a partial unique index against concurrent saves."""
from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from market.broker_cert import CERT_RULE, CERT_TAKEN, flush_cert_holder
from market.errors import Conflict
from market.extensions import db
from market.models import User
from tests import factories
from tests.helpers import Poster, client_for, count, post
from tests.test_admin import _new_user
from tests.test_auth import reg


def _broker_reg(world, cert: str, username: str = "newco_wang") -> dict:
    return reg(world, role="broker", org_type="agency", broker_cert_no=cert, username=username,
               region_id=world.regions["county_b"].id)


def test_registration_stores_the_normal_form_and_approval_refuses_a_taken_one(app, world, client):
    """A self-registration's number is a claim until an official approves it: the form checks its rule only, so it
    neither tells a stranger whether a number is registered nor lets a stranger's pending account block the real
    holder; the approval refuses a number another approved broker holds."""
    before = count(User)
    resp = Poster(client).post("/register", _broker_reg(world, "X-1"))
    assert resp.status_code == 400 and CERT_RULE in resp.get_data(as_text=True)
    assert count(User) == before
    resp = Poster(client).post("/register", _broker_reg(world, "ｊｊｒ－３４０３００－００９９ "))
    assert resp.status_code == 302
    user = db.session.scalar(select(User).where(User.username == "newco_wang"))
    assert user.broker_cert_no == "JJR-340300-0099"
    # the approved broker's number, typed in lower case by a stranger: stored in its one form, pending
    taken = world.users.broker.broker_cert_no
    squatter = app.test_client()
    resp = Poster(squatter).post("/register", {**_broker_reg(world, f" {taken.lower()} ", username="squatter"),
                                               "org_name": "自称技术转移所", "uscc": factories.uscc(515151, area="340322")})
    assert resp.status_code == 302 and CERT_TAKEN not in resp.get_data(as_text=True)
    claim = db.session.scalar(select(User).where(User.username == "squatter"))
    assert (claim.broker_cert_no, claim.broker_status) == (taken, "pending")
    claim.org.status = "verified"
    db.session.commit()
    official = Poster(client_for(app, world.users.city_official))
    resp = official.post(f"/review/brokers/{claim.id}", {"decision": "approve"})
    assert resp.status_code == 409 and "已登记在其他已审核的技术经纪人名下" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, claim.id).broker_status == "pending"
    # the pending claim never blocks the administrator's account for a real holder of another number
    admin = client_for(app, world.users.admin)
    resp = post(admin, "/admin/users/new", _new_user(role="broker", username="real_holder", org_id=str(world.orgs.agency.id),
                                                    region_id=str(world.regions["county_a"].id),
                                                    broker_cert_no="JJR-340300-0099"))
    assert resp.status_code == 302


def test_admin_forms_store_the_normal_form_and_refuse_a_taken_one(world, login_as):
    admin = login_as("admin")
    taken = world.users.broker.broker_cert_no
    base = {"role": "broker", "org_id": str(world.orgs.agency.id), "region_id": str(world.regions["county_a"].id)}
    resp = post(admin, "/admin/users/new", _new_user(**base, username="jjr_dup", broker_cert_no=taken.lower()))
    assert resp.status_code == 400 and CERT_TAKEN in resp.get_data(as_text=True)
    assert count(User, User.username == "jjr_dup") == 0
    resp = post(admin, "/admin/users/new", _new_user(**base, username="jjr_new", broker_cert_no=" jjr-2026-7777"))
    assert resp.status_code == 302
    new = db.session.scalar(select(User).where(User.username == "jjr_new"))
    assert new.broker_cert_no == "JJR-2026-7777"
    edit = {"name": new.name, "phone": "", "email": "", "region_id": str(world.regions["county_a"].id)}
    resp = post(admin, f"/admin/users/{new.id}/edit", {**edit, "broker_cert_no": taken})
    assert resp.status_code == 400 and CERT_TAKEN in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, new.id).broker_cert_no == "JJR-2026-7777"
    # keeping one's own certificate is not "taken"
    resp = post(admin, f"/admin/users/{new.id}/edit", {**edit, "broker_cert_no": "jjr-2026-7777"})
    assert resp.status_code == 302


def test_the_database_holds_one_broker_per_certificate(app, world):
    """The unique index: two approved brokers with one certificate cannot be stored even past the services' checks
    (a concurrent save); flush_cert_holder answers that as taken (409), not a server error. Empty certificates,
    pending brokers and other roles are outside the rule."""
    taken = world.users.broker.broker_cert_no
    factories.user(role="broker", org=world.orgs.agency, region=world.regions["county_a"], username="racer")
    racer = db.session.scalar(select(User).where(User.username == "racer"))
    racer.broker_cert_no = taken
    with pytest.raises(Conflict) as caught:
        flush_cert_holder()
    assert caught.value.status_code == 409 and caught.value.message == CERT_TAKEN
    db.session.rollback()
    a = factories.user(role="enterprise", org=world.orgs.ent_a)
    b = factories.user(role="enterprise", org=world.orgs.ent_a)
    a.broker_cert_no = b.broker_cert_no = ""
    db.session.flush()  # not brokers: no rule
    db.session.rollback()
    pending = factories.user(role="broker", org=world.orgs.agency, region=world.regions["county_a"],
                             username="claimant", broker_status="pending")
    pending.broker_cert_no = taken
    db.session.flush()  # a pending claim: checked on approval, not by the index
    db.session.rollback()
    other = factories.user(role="broker", org=world.orgs.agency, region=world.regions["county_a"], username="racer2")
    other.broker_cert_no = taken
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
