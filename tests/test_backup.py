"""backup / restore: a consistent copy comes back exactly, and the index is rebuilt on restore."""
from __future__ import annotations

from decimal import Decimal

from market.extensions import db
from market.models import Demand
from market.search.indexing import replica
from tests import factories


def test_backup_then_restore_brings_back_rows_and_index(app, world, runner, tmp_path):
    u = world.users.enterprise
    kept = factories.demand(owner=u, field=world.fields["materials"], status="published", title="备份前发布的需求",
                            budget=Decimal("123456.78"))
    db.session.commit()
    kept_id = kept.id
    path = tmp_path / "backup" / "market.dump"
    result = runner.invoke(args=["backup", str(path)])
    assert result.exit_code == 0, result.output
    assert path.exists() and path.stat().st_size > 0

    # after the backup: one need changed, one added
    kept.title = "备份后改过的标题"
    factories.demand(owner=u, field=world.fields["materials"], status="published", title="备份后新增的需求")
    db.session.commit()
    assert db.session.scalar(db.select(db.func.count()).select_from(Demand)) == 2

    result = runner.invoke(args=["restore", "--yes", str(path)])
    assert result.exit_code == 0, result.output
    db.session.remove()
    rows = db.session.execute(db.select(Demand.title, Demand.budget)).all()
    assert rows == [("备份前发布的需求", Decimal("123456.78"))]
    drift = replica().check()
    assert drift == {"missing": [], "phantom": [], "stale": []}
    assert replica().backend().versions().keys() == {f"demand:{kept_id}"}


def test_restore_refuses_a_missing_file(app, runner, tmp_path):
    result = runner.invoke(args=["restore", "--yes", str(tmp_path / "nope.dump")])
    assert result.exit_code != 0
    assert "备份文件不存在" in result.output
