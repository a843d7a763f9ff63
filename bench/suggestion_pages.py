"""What a listing's page shows of its suggestions, on the demo market: its own match's picks, or pairs only the
other side's match holds.

    .venv/bin/python bench/suggestion_pages.py

A fresh demo market (`flask seed-demo` in a temporary folder: SQLite, Whoosh; the CSL papers are in it when
../shared/data/csl-dev.jsonl is there). Every published need and result has its ten best stored as its own picks
(`suggestions.demand_pick` / `achievement_pick`); every listing of the other side that ranks it among its ten adds a
pair too, scored from that side's place. For each published listing, printed: how many of the ten slots of its page
hold one of its own picks (when it has that many) ordered as the page orders them now (its own picks first, then
by 匹配度), and ordered by 匹配度 alone (as before 2026-12-07); and how often the page's picks come in the order of
the listing's own match (its first, and all ten): a pair both sides picked carries the score of whichever side
refreshed last, so within the picks the order can differ from the listing's own.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TOP = 10


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="market-bench-pages-"))
    env = {**os.environ, "MARKET_INSTANCE_DIR": str(folder / "instance"),
           "DATABASE_URL": f"sqlite:///{folder / 'demo.db'}", "SEARCH_INDEX_DIR": str(folder / "index")}
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    for command in (["db", "upgrade"], ["seed-demo"]):
        subprocess.run(flask + command, cwd=ROOT, env=env, check=True, capture_output=True)
    os.environ.update(env)
    from sqlalchemy import func, select

    from app import app
    from market.extensions import db
    from market.matching.engine import MATCHABLE, Matcher
    from market.matching.queries import for_listing
    from market.models import Achievement, Demand, Suggestion
    from market.search.indexing import replica

    with app.app_context():
        matcher = Matcher(db.session, replica().backend())
        for noun, model, side, pick in (("needs", Demand, Suggestion.demand_id, "demand_pick"),
                                        ("results", Achievement, Suggestion.achievement_id, "achievement_pick")):
            ids = db.session.scalars(select(model.id).where(model.status == MATCHABLE).order_by(model.id)).all()
            now = before = wanted = hurt = first = order = matched = 0
            for listing_id in ids:
                listing = db.session.get(model, listing_id)
                own = [m.other.id for m in matcher.matches_for(listing)]
                page = [s.achievement_id if noun == "needs" else s.demand_id
                        for s in db.session.scalars(for_listing(listing).limit(TOP)) if getattr(s, pick)]
                if own:
                    matched += 1
                    first += bool(page) and page[0] == own[0]
                    order += page == own[:len(page)]
                picks = db.session.scalar(select(func.count()).select_from(Suggestion).where(
                    side == listing_id, getattr(Suggestion, pick)))
                shown = db.session.scalars(for_listing(db.session.get(model, listing_id)).limit(TOP)).all()
                by_score = db.session.scalars(select(Suggestion).where(side == listing_id)
                                              .order_by(Suggestion.score.desc(), Suggestion.id).limit(TOP)).all()
                own_now = sum(1 for s in shown if getattr(s, pick))
                own_before = sum(1 for s in by_score if getattr(s, pick))
                wanted += min(picks, TOP)
                now += own_now
                before += own_before
                hurt += own_before < min(picks, TOP)
            print(f"{noun}: {len(ids)} published; slots that could hold an own pick {wanted}; held one: now {now}, "
                  f"by 匹配度 alone {before} ({hurt} {noun} showed the other side's pairs in place of their own); "
                  f"of {matched} with suggestions, the page's first is the own match's first for {first}, "
                  f"its picks in the own match's order for {order}")
        db.engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
