"""Issue 17's smaller display points: a contract page names its need and result by title, every page links its
favicon."""
from __future__ import annotations

from market.extensions import db
from tests import factories
from tests.helpers import FROZEN_NOW


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
