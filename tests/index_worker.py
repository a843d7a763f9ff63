"""A separate process for the index tests (run as `python -m tests.index_worker '<json>'`).

Actions on the test's database and index folder:
  publish   create `count` published needs, one commit each (each commit catches the index up)
  churn     publish, edit and withdraw needs for `seconds` (changes arriving during a reindex)
  catchup   apply the change log to the index
  reindex   rebuild the index into a new generation and swap it in

It can die at a chosen point, like a killed worker: MARKET_CRASH_AT=<point> (see indexing.crash_point),
or MARKET_CRASH_IN_WHOOSH_WRITER=1, which ends the process inside Whoosh's writer after the documents
were added and before its commit (only Whoosh's own class is patched; nothing of ours).
"""
from __future__ import annotations

import json
import os
import sys
import time
from datetime import date, timedelta


def main() -> int:
    cfg = json.loads(sys.argv[1])
    if os.environ.get("MARKET_CRASH_IN_WHOOSH_WRITER"):
        from whoosh.writing import SegmentWriter

        def _die(self, *args, **kwargs):
            os._exit(76)

        SegmentWriter.commit = _die

    from market import create_app
    from market.extensions import db
    from market.models import Demand
    from market.models.base import utcnow
    from market.search.indexing import replica

    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": cfg["db"],
        "SEARCH_INDEX_DIR": cfg["index"],
        "SEARCH_ENGINE": cfg.get("engine", "whoosh"),
        "SEARCH_SYNC_AFTER_COMMIT": cfg.get("sync", True),
        "SECRET_KEY": "worker",
    })

    def new_demand(i: int) -> Demand:
        d = Demand(title=f"{cfg.get('prefix', '进程')}需求{i}：石墨烯导电膜改性工艺", description="石墨烯导电膜的改性工艺与量产设备。",
                   org_id=cfg["org_id"], owner_id=cfg["owner_id"], region_id=cfg.get("region_id"),
                   field_id=cfg["field_id"], status="published", published_at=utcnow(), keywords="石墨烯,导电膜",
                   deadline=date.today() + timedelta(days=30))
        d.set_modes(["development"])
        return d

    with app.app_context():
        action = cfg["action"]
        if action == "publish":
            for i in range(cfg["count"]):
                db.session.add(new_demand(i))
                db.session.commit()
        elif action == "churn":
            deadline = time.monotonic() + cfg["seconds"]
            i = 0
            while time.monotonic() < deadline:
                d = new_demand(i)
                db.session.add(d)
                db.session.commit()
                if i % 3 == 1:
                    d.title = d.title + "（修改）"
                    db.session.commit()
                if i % 3 == 2:
                    d.status = "draft"
                    db.session.commit()
                i += 1
            print(i)
        elif action == "catchup":
            replica().catch_up()
        elif action == "reindex":
            replica().reindex()
        else:
            raise SystemExit(f"unknown action {action}")
        db.session.remove()
        db.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
