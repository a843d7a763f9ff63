"""Rebuilding the search index on every node (issue 13 item 3): `flask search reindex --all-nodes` and the
administrator's button record a request in the shared database; each node's job consumer rebuilds its own copy on
its sweep, in the background, and records in its copy which request it has applied."""
from __future__ import annotations

import os
import time

import pytest
from sqlalchemy import select

from market import create_app
from market.extensions import db
from market.jobs import SWEEPS, jobs_sweep
from market.models import SearchRebuild
from market.models.base import utcnow
from market.search.indexing import replica
from market.search.rebuild import SAME_REQUEST_WITHIN, node_status, rebuild_sweep
from tests import factories
from tests.helpers import app_config, post

NO_DRIFT = {"missing": [], "phantom": [], "stale": []}


def _wait_rebuilt(app, request_id: int, timeout: float = 60.0) -> None:
    """Until the node's copy records `request_id` (its rebuild thread swapped the new generation in) and the
    thread has finished (applied what came meanwhile, removed the old generation)."""
    deadline = time.monotonic() + timeout
    with app.app_context():
        while True:
            status = node_status()
            db.session.rollback()
            if status.rebuilt >= request_id and not status.running:
                return
            assert time.monotonic() < deadline, f"request #{request_id} not applied within {timeout:.0f}s"
            time.sleep(0.05)


@pytest.fixture
def node_b(app, database_url, tmp_path):
    """A second node: the same database, an index copy of its own."""
    other = create_app(app_config(database_url, tmp_path / "node-b"))
    yield other
    with other.app_context():
        db.session.remove()


def test_a_request_is_applied_by_every_nodes_sweep(app, node_b, world, runner):
    listing = factories.demand(owner=world.users.enterprise, field=world.fields["materials"], status="published",
                               title="寻求石墨烯导电膜低温制备技术", published_at=utcnow())
    db.session.commit()
    doc_id = f"demand:{listing.id}"
    # on SQLite a transaction of the test's own session (reading an expired object starts one) would hold the
    # write lock the nodes wait for: the test commits after each read
    db.session.commit()
    nodes = (app, node_b)
    gens = {}
    for node in nodes:
        with node.app_context():
            replica().catch_up()
            gens[node] = os.readlink(replica().current_link)
            assert rebuild_sweep() is None  # nothing requested: nothing to do
    assert rebuild_sweep in SWEEPS  # registered by create_app: the consumer's sweep runs it

    result = runner.invoke(args=["search", "reindex", "--all-nodes"])
    assert result.exit_code == 0 and "重建请求 #" in result.output and "已记录" in result.output, result.output
    request = db.session.scalar(select(SearchRebuild))
    assert request.source == "cli" and request.requested_by_id is None
    assert "未重复记录" in runner.invoke(args=["search", "reindex", "--all-nodes"]).output  # the same request
    assert db.session.scalar(select(SearchRebuild.id).order_by(SearchRebuild.id.desc())) == request.id
    request_id = request.id
    db.session.commit()

    for node in nodes:
        with node.app_context():
            assert not node_status().done
            db.session.commit()
            jobs_sweep()  # what each node's consumer does every minute and when it starts
        _wait_rebuilt(node, request_id)
        with node.app_context():
            index = replica()
            assert os.readlink(index.current_link) != gens[node]  # a new generation serves
            assert [n for n in os.listdir(index.root) if n.startswith("gen-")] == [os.readlink(index.current_link)]
            assert index.check(db.session) == NO_DRIFT
            assert doc_id in index.backend().versions()
            assert node_status().done
            assert rebuild_sweep() is None  # applied: the next sweeps leave it alone
            db.session.rollback()


def test_a_local_reindex_started_after_a_request_satisfies_it(app, world, runner):
    db.session.add(SearchRebuild(source="cli", requested_at=utcnow()))
    db.session.commit()
    assert not node_status().done
    result = runner.invoke(args=["search", "reindex"])
    assert result.exit_code == 0 and "reindexed" in result.output
    assert node_status().done and rebuild_sweep() is None


def test_the_administrator_asks_every_node_to_rebuild(app, world, login_as):
    admin = login_as("admin")
    page = admin.get("/admin/jobs/").get_data(as_text=True)
    assert "重建搜索索引（全部节点）" in page and "尚无全部节点重建请求" in page
    assert 'data-confirm="确定让全部节点重建搜索索引吗' in page

    resp = post(admin, "/admin/jobs/search-rebuild")
    assert resp.status_code == 302
    request = db.session.scalar(select(SearchRebuild))
    assert request.requested_by_id == world.users.admin.id and request.source == "admin"
    page = admin.get("/admin/jobs/").get_data(as_text=True)
    assert f"#{request.id}" in page and "已记录重建请求" in page and "尚未完成" in page

    # a double click records one request
    post(admin, "/admin/jobs/search-rebuild")
    assert db.session.scalar(select(SearchRebuild.id).order_by(SearchRebuild.id.desc())) == request.id

    with app.app_context():
        thread = rebuild_sweep()
    assert thread is not None
    thread.join(60)
    assert not thread.is_alive()
    page = admin.get("/admin/jobs/").get_data(as_text=True)
    assert f"#{request.id}" in page and "已完成" in page

    # once the minute is over, a new request is a new generation
    request.requested_at = utcnow() - SAME_REQUEST_WITHIN
    db.session.commit()
    post(admin, "/admin/jobs/search-rebuild")
    assert db.session.scalar(select(SearchRebuild.id).order_by(SearchRebuild.id.desc())) == request.id + 1

    # nobody else may ask
    for name in ("official", "broker", "enterprise"):
        assert post(login_as(name), "/admin/jobs/search-rebuild").status_code == 403
    assert db.session.scalar(select(SearchRebuild.id).order_by(SearchRebuild.id.desc())) == request.id + 1
