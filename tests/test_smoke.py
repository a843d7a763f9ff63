from decimal import Decimal

from market.extensions import db
from market.models import Demand, IndexChange
from tests import factories
from tests.helpers import form_token, login, post


def test_enterprise_creates_and_submits_demand(world, login_as):
    c = login_as("enterprise")
    resp = post(c, "/demands/new", {
        "title": "寻求光伏玻璃减反射镀膜技术",
        "field_id": world.fields["materials"].id,
        "description": "我公司光伏玻璃透光率偏低，现有减反射膜耐候性差，两年后衰减明显。",
        "indicators": "透光率≥94%",
        "budget": "12.5",
        "modes": ["development"],
        "keywords": "光伏玻璃、减反射",
        "contact_name": "李四",
        "contact_phone": "0552-1234567",
        "then": "submit",
        "form_token": form_token(),
    })
    assert resp.status_code == 302, resp.get_data(as_text=True)
    d = db.session.scalar(db.select(Demand))
    assert d.status == "pending"
    assert d.budget == Decimal("125000.00")
    assert d.keyword_list == ["光伏玻璃", "减反射"]
    # private before and after: nothing for the index to do
    assert db.session.scalar(db.select(db.func.count()).select_from(IndexChange)) == 0


def test_only_changes_that_touch_public_listings_queue_index_work(world):
    count = lambda: db.session.scalar(db.select(db.func.count()).select_from(IndexChange))  # noqa: E731
    d = factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="draft")
    db.session.commit()
    d.title = "草稿改了标题"
    db.session.commit()
    assert count() == 0
    d.status = "published"
    db.session.commit()
    assert count() == 1
    d.status = "draft"  # withdrawn: the index must drop it
    db.session.commit()
    assert count() == 2
    d.title = "又改了一次草稿"
    db.session.commit()
    assert count() == 2
