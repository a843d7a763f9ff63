"""What users see on the demo market (issue 15, part B): the search page's answers to the issue's queries, before
(every analyzer term ORed, as the page did) and after the query plan (market/search/query.py), and the 匹配度 labels
of the stored suggestions per need.

    .venv/bin/python bench/search_queries.py            # a fresh demo market (SQLite) in a temporary folder

Prints one line per query: the hits of the plain OR, the hits the page now shows, what it names 未找到 and which
glossary names it searched too; then, for the demo's needs, how many suggestions each has and of which strength.
"""
from __future__ import annotations

import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from market import create_app  # noqa: E402
from market.extensions import db  # noqa: E402
from market.matching import degree  # noqa: E402
from market.matching.engine import MATCHABLE  # noqa: E402
from market.models import Demand, Suggestion  # noqa: E402
from market.search import query  # noqa: E402
from market.search.indexing import replica  # noqa: E402

QUERIES = ("<script>alert(1)</script>", "1", "machine vision", "Machine Vision 缺陷检测", "PLC改造", "MEMS", "LiDAR",
           "减反射", "导电膜", "锂电池 隔膜", "隔膜", "石墨烯 1", "AR+AF镀膜 盖板玻璃")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        folder = Path(tmp)
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'market.db'}",
                          "SEARCH_INDEX_DIR": str(folder / "index"), "UPLOAD_DIR": str(folder / "uploads"),
                          "SECRET_KEY": "bench-secret", "JOBS_BACKEND": "immediate", "PAGE_CACHE_SECONDS": 0})
        with app.app_context():
            db.create_all()
            out = app.test_cli_runner().invoke(args=["seed-demo"])
            if out.exit_code != 0:
                raise SystemExit(out.output)
            backend = replica().backend()
            print(f"{'query':28} {'plain OR':>8} {'page':>5}  named / searched too")
            for q in QUERIES:
                plain = backend.search(q, per_page=1).total
                plan = query.plan_query(backend, q)
                shown = 0 if plan.refused else backend.search(plan.text, per_page=1).total
                notes = []
                if plan.missing:
                    notes.append("未找到：" + "、".join(plan.missing))
                if plan.expanded:
                    notes.append("同时搜索了：" + "、".join(plan.expanded))
                if plan.refused:
                    notes.append("(no results: " + plan.refused + ")")
                print(f"{q:28} {plain:>8} {shown:>5}  {'; '.join(notes)}")

            needs = db.session.scalars(select(Demand).where(Demand.status == MATCHABLE).order_by(Demand.id)).all()
            per_need, labels, none_strong = [], Counter(), 0
            for need in needs:
                rows = db.session.scalars(select(Suggestion.score).where(Suggestion.demand_id == need.id)).all()
                kinds = [degree.strength_label(degree.match_degree(s)) for s in rows]
                per_need.append(len(rows))
                labels.update(kinds)
                none_strong += "强" not in kinds
            total = db.session.scalar(select(func.count()).select_from(Suggestion))
            print(f"\n{len(needs)} published needs: {sum(per_need) / max(len(needs), 1):.1f} suggestions each "
                  f"(min {min(per_need, default=0)}, max {max(per_need, default=0)}), {total} pairs stored; "
                  f"labels over the needs' suggestions: 强 {labels['强']}, 中 {labels['中']}, 弱 {labels['弱']}; "
                  f"needs whose panel says 暂无较强匹配: {none_strong}")


if __name__ == "__main__":
    main()
