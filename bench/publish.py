"""How long an official's 审核通过 (publish) takes, with matching in the request and with matching as a job.

    .venv/bin/python bench/publish.py                    # 10,000 listings, 30 publishes per mode
    .venv/bin/python bench/publish.py --size 10000 --publishes 30 --engine whoosh

A temporary SQLite market of N published listings (bench/search_perf.py's corpus: sentences of the CSL papers
when ../shared/data/csl-dev.jsonl is there), indexed; then needs waiting for review are published one at a time
through the real app (POST /review/demands/<id> in Flask's test client, signed in as an official):

- before: JOBS_BACKEND=immediate — the suggestion refresh runs inside the publish request, after its commit
  (what every publish did before the job queue);
- after: the embedded queue (JOBS_BACKEND=sqlite) with a consumer (`flask jobs worker`) running beside it: the
  request returns once the listing is committed and indexed; the consumer refreshes the suggestions.

Printed: the publish request's p50/p95 (ms) in each mode, and in the "after" mode the time from the request's
start until the need's suggestions are stored (p50/p95/max), polled every 20 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from search_perf import DATA, build_corpus, load_papers, percentiles, store  # noqa: E402


def _papers():
    if DATA.exists():
        return load_papers(DATA)
    return [{"title": f"基于改性石墨烯的导电膜制备方法研究{i}", "abstract": "本文研究磁控溅射工艺。石墨烯导电膜的方阻与透光率。"
             "光伏玻璃镀膜的耐候性。", "keywords": ["石墨烯", "导电膜", "光伏玻璃"]} for i in range(200)]


def _build(folder: str, size: int, engine: str) -> dict:
    from market import create_app
    from market.extensions import db
    from market.models import Demand, Organization, User, UserSession
    from market.models.base import utcnow
    from market.search.indexing import replica

    config = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{os.path.join(folder, 'bench.db')}",
              "SEARCH_ENGINE": engine, "SEARCH_INDEX_DIR": os.path.join(folder, "index"), "SECRET_KEY": "bench",
              "SEARCH_SYNC_AFTER_COMMIT": False, "JOBS_BACKEND": "immediate", "PAGE_CACHE_SECONDS": 0}
    papers = _papers()
    docs = build_corpus(papers, size)
    app = create_app(config)
    store(app, docs)
    with app.app_context():
        replica(app).reindex()  # the whole corpus into the index
        official = User(username="bench_official", name="审核员", password_hash="!", role="official", region_id=1)
        db.session.add(official)
        enterprise = db.session.get(Organization, 2)  # an enterprise of the corpus (even ids)
        owner = db.session.scalar(db.select(User).where(User.org_id == enterprise.id))
        field_id = db.session.scalar(db.select(Demand.field_id).limit(1))
        pending = []
        for i, paper in enumerate(papers[:400]):
            d = Demand(title=f"寻求合作：{paper['title'][:40]}", description=paper["abstract"][:600],
                       keywords=",".join(paper.get("keywords", [])[:4]), org_id=enterprise.id, owner_id=owner.id,
                       region_id=enterprise.region_id or 11, field_id=field_id, status="pending",
                       modes=",development,")
            db.session.add(d)
            pending.append(d)
        db.session.flush()
        db.session.add(UserSession(id="bench-session", user_id=official.id, ip="127.0.0.1", created_at=utcnow()))
        db.session.commit()
        ids = [d.id for d in pending]
    return {"config": config, "pending": ids}


def _client(app):
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["sid"] = "bench-session"
        sess["_user_id"] = str(_official_id(app))
        sess["_fresh"] = True
        sess.permanent = True
    return client


def _official_id(app) -> int:
    from market.extensions import db
    from market.models import User

    with app.app_context():
        return db.session.scalar(db.select(User.id).where(User.username == "bench_official"))


def _matched(app, demand_id: int) -> bool:
    """The suggestion refresh has processed this need's publication (its change-log row is behind the matching
    cursor): its suggestions are stored, or it has none above the threshold."""
    from market.database import write_intent
    from market.extensions import db
    from market.models import IndexChange, LogCursor

    with app.app_context():
        token = write_intent.set(False)
        try:
            seq = db.session.scalar(db.select(db.func.max(IndexChange.seq)).where(
                IndexChange.kind == "demand", IndexChange.obj_id == demand_id))
            cursor = db.session.scalar(db.select(LogCursor.seq).where(LogCursor.name == "matching")) or 0
            return seq is not None and cursor >= seq
        finally:
            db.session.remove()
            write_intent.reset(token)


def _publish(client, demand_id: int) -> float:
    t = time.perf_counter()
    resp = client.post(f"/review/demands/{demand_id}", data={"decision": "publish"})
    elapsed = (time.perf_counter() - t) * 1000
    assert resp.status_code == 302, resp.status_code
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--publishes", type=int, default=30)
    parser.add_argument("--engine", default="whoosh")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-publish-")
    os.environ["MARKET_INSTANCE_DIR"] = os.path.join(folder, "instance")
    t = time.perf_counter()
    built = _build(folder, args.size, args.engine)
    print(f"market of {args.size:,} listings built and indexed in {time.perf_counter() - t:.0f} s ({args.engine})")
    from market import create_app

    base = dict(built["config"], SEARCH_SYNC_AFTER_COMMIT=True, WTF_CSRF_ENABLED=False)
    ids = iter(built["pending"])

    # before: matching inside the request
    app = create_app(dict(base, JOBS_BACKEND="immediate"))
    client = _client(app)
    for _ in range(3):  # warm up: jieba, the index readers
        _publish(client, next(ids))
    before = [_publish(client, next(ids)) for _ in range(args.publishes)]

    # after: the embedded queue and a consumer beside the site
    queue = os.path.join(folder, "jobs.sqlite3")
    app = create_app(dict(base, JOBS_BACKEND="sqlite", JOBS_SQLITE_PATH=queue))
    env = {**os.environ, "DATABASE_URL": base["SQLALCHEMY_DATABASE_URI"], "SEARCH_ENGINE": args.engine,
           "SEARCH_INDEX_DIR": os.path.join(folder, "index-consumer"), "JOBS_BACKEND": "sqlite",
           "JOBS_SQLITE_PATH": queue, "SECRET_KEY": "bench"}
    consumer = subprocess.Popen([str(ROOT / ".venv/bin/flask"), "--app", "app", "jobs", "worker", "--workers", "1"],
                                cwd=ROOT, env=env, stdout=open(os.path.join(folder, "consumer.log"), "wb"),
                                stderr=subprocess.STDOUT)
    try:
        client = _client(app)
        warm = next(ids)
        _publish(client, warm)
        deadline = time.monotonic() + 300
        while not _matched(app, warm) and time.monotonic() < deadline:  # the consumer's first index copy
            time.sleep(0.05)
        after, until = [], []
        for _ in range(args.publishes):
            demand_id = next(ids)
            t = time.perf_counter()
            after.append(_publish(client, demand_id))
            while not _matched(app, demand_id):
                if time.perf_counter() - t > 120:
                    raise SystemExit(f"need {demand_id} not matched after 120 s")
                time.sleep(0.02)
            until.append((time.perf_counter() - t) * 1000)
    finally:
        consumer.terminate()
        consumer.wait(30)

    b50, b95 = percentiles(before)
    a50, a95 = percentiles(after)
    u50, u95 = percentiles(until)
    print(json.dumps({"size": args.size, "engine": args.engine, "publishes": args.publishes}))
    print(f"publish request, matching in the request (before): p50 {b50:.0f} ms, p95 {b95:.0f} ms")
    print(f"publish request, matching as a job (after):         p50 {a50:.0f} ms, p95 {a95:.0f} ms")
    print(f"from the publish until its suggestions are stored:   p50 {u50:.0f} ms, p95 {u95:.0f} ms, "
          f"max {max(until):.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
