"""Issue 17's smaller display points: the public lists show open listings first (a need solved yesterday does not
sit above one still looking for a partner), a contract page names its need and result by title, every page links
its favicon."""
from __future__ import annotations

from datetime import timedelta

from market.extensions import db
from tests import factories
from tests.helpers import FROZEN_NOW


def test_open_needs_come_before_solved_ones(world, client):
    u, f = world.users, world.fields["materials"]
    factories.demand(owner=u.enterprise, field=f, status="done", title="已经解决的新近需求",
                     published_at=FROZEN_NOW)
    factories.demand(owner=u.enterprise, field=f, status="published", title="仍在征集的较早需求",
                     published_at=FROZEN_NOW - timedelta(days=30))
    factories.demand(owner=u.enterprise, field=f, status="published", title="仍在征集的最新需求",
                     published_at=FROZEN_NOW - timedelta(days=1))
    db.session.commit()
    page = client.get("/demands").get_data(as_text=True)
    order = sorted(("已经解决的新近需求", "仍在征集的较早需求", "仍在征集的最新需求"), key=page.index)
    assert order == ["仍在征集的最新需求", "仍在征集的较早需求", "已经解决的新近需求"]


def test_a_contract_page_names_its_need_and_result(world, login_as):
    u, f = world.users, world.fields["materials"]
    need = factories.demand(owner=u.enterprise, field=f, status="done", published_at=FROZEN_NOW)
    result = factories.achievement(owner=u.institution, field=f, status="done", published_at=FROZEN_NOW,
                                   title="磁控溅射镀膜工艺")
    contract = factories.contract(buyer=world.orgs.ent_a, seller=world.orgs.uni, achievement_id=result.id,
                                  demand_id=need.id)
    db.session.commit()
    page = login_as("admin").get(f"/contracts/{contract.id}").get_data(as_text=True)
    assert f">{need.title}</a>" in page and ">磁控溅射镀膜工艺</a>" in page
    assert f"需求 #{need.id}" not in page and f"成果 #{result.id}" not in page


def test_every_page_links_the_favicon(client):
    page = client.get("/").get_data(as_text=True)
    assert '<link rel="icon" href="/static/favicon.ico"' in page
    icon = client.get("/static/favicon.ico")
    assert icon.status_code == 200 and icon.data[:4] == b"\x00\x00\x01\x00"
