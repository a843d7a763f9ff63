"""A separate process for the index tests (run as `python -m tests.index_worker '<json>'`).

Actions on the test's database and index folder:
  publish   create `count` published needs, one commit each (each commit catches the index up)
  churn     publish, edit and withdraw needs until its stdin is closed (changes arriving during a reindex); prints
            `event: changed <n>` after each change and the number of changes at the end
  catchup   apply the change log to the index
  reindex   rebuild the index into a new generation and swap it in

Events are lines on stdout starting with `event: `, flushed at once, so that the test waits for the moment it
needs instead of sleeping.

It can die at a chosen point, like a killed worker: MARKET_CRASH_AT=<point> (see indexing.crash_point),
or inside the search engine's writer, with nothing of ours patched (see _watch_engine_writer):
  MARKET_CRASH_IN_WRITER=1        documents added, the library's commit called: the process ends instead
                                  (MARKET_CRASH_IN_WHOOSH_WRITER=1, the older name, does the same)
  MARKET_CRASH_AFTER_DOCS=<n>     the n-th document handed to any writer of the process ends it (a reindex
                                  killed while it fills the new generation)
  MARKET_PAUSE_AFTER_DOCS=<n>     after the n-th document handed to any writer it prints
                                  `event: paused after document <n>` and waits, for the test to SIGKILL it (it goes
                                  on if its stdin is closed instead)
"""
from __future__ import annotations

import json
import os
import sys
import threading
from datetime import date, timedelta


def main() -> int:
    cfg = json.loads(sys.argv[1])
    _watch_engine_writer(cfg.get("engine", "whoosh"))

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
            stop = threading.Event()
            threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
            i = 0
            while not stop.is_set():
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
                event(f"changed {i}")
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


def event(text: str) -> None:
    print(f"event: {text}", flush=True)


def _watch_engine_writer(engine: str) -> None:
    """Make the search library's writer end the process (exit code 76), as a kill would, or pause it for the test
    to kill, at the boundary where our backend calls the library: Whoosh's SegmentWriter is patched; tantivy's
    classes are native (pyo3, not patchable), so `tantivy.Index` is replaced by a proxy whose writers die or pause
    in `commit` / `add_document`."""
    at_commit = bool(os.environ.get("MARKET_CRASH_IN_WRITER") or os.environ.get("MARKET_CRASH_IN_WHOOSH_WRITER"))
    after_docs = int(os.environ.get("MARKET_CRASH_AFTER_DOCS") or 0)
    pause_after = int(os.environ.get("MARKET_PAUSE_AFTER_DOCS") or 0)
    if not (at_commit or after_docs or pause_after):
        return
    added = [0]

    def _count() -> None:
        added[0] += 1
        if after_docs and added[0] >= after_docs:
            os._exit(76)
        if added[0] == pause_after:
            event(f"paused after document {pause_after}")
            sys.stdin.read()  # until the test kills us (or lets go by closing our stdin)

    def _commit() -> None:
        if at_commit and added[0]:
            os._exit(76)

    if engine == "whoosh":
        from whoosh.writing import SegmentWriter

        real_add, real_commit = SegmentWriter.add_document, SegmentWriter.commit

        def add_document(self, **fields):
            real_add(self, **fields)
            _count()

        def commit(self, *args, **kwargs):
            _commit()
            return real_commit(self, *args, **kwargs)

        SegmentWriter.add_document, SegmentWriter.commit = add_document, commit
        return

    import tantivy

    real_index = tantivy.Index

    class _Writer:
        def __init__(self, writer):
            self._writer = writer

        def add_document(self, document):
            result = self._writer.add_document(document)
            _count()
            return result

        def commit(self):
            _commit()
            return self._writer.commit()

        def __getattr__(self, name):
            return getattr(self._writer, name)

    class _Index:
        def __init__(self, *args, _real=None, **kwargs):
            self._ix = _real if _real is not None else real_index(*args, **kwargs)

        @staticmethod
        def open(path):
            return _Index(_real=real_index.open(path))

        def writer(self, *args, **kwargs):
            return _Writer(self._ix.writer(*args, **kwargs))

        def __getattr__(self, name):
            return getattr(self._ix, name)

    tantivy.Index = _Index


if __name__ == "__main__":
    sys.exit(main())
