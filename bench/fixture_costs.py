"""What every test pays before its first line: the `app` fixture's create_app and empty_tables, and `world`.

    .venv/bin/python bench/fixture_costs.py                               # SQLite in a temp folder
    MARKET_TEST_DB=postgres .venv/bin/python bench/fixture_costs.py       # a PostgreSQL database of its own, dropped after
    N=20 .venv/bin/python bench/fixture_costs.py                          # more rounds (default 8)

Prints the median wall time and this process's CPU time of each step over N rounds (after one warm-up round),
as tests/conftest.py runs them: on a shared machine compare runs made back to back.
"""
from __future__ import annotations

import os
import pathlib
import statistics
import sys
import tempfile
import time
from contextlib import nullcontext

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from market import create_app  # noqa: E402
from market.extensions import db  # noqa: E402
from tests.helpers import app_config, empty_tables, make_world, pg_database  # noqa: E402


def main() -> None:
    rounds = int(os.environ.get("N", "8"))
    folder = pathlib.Path(tempfile.mkdtemp(prefix="market-fixture-costs-"))
    postgres = os.environ.get("MARKET_TEST_DB") == "postgres"
    with pg_database("market_bench_fixtures") if postgres else nullcontext(f"sqlite:///{folder / 'test.db'}") as url:
        schema = create_app(app_config(url, folder / "schema"))
        with schema.app_context():
            db.create_all()
            db.engine.dispose()
        steps: dict[str, list[tuple[float, float]]] = {"create_app": [], "empty_tables": [], "world": [], "teardown": []}

        def clock():
            return time.perf_counter(), time.process_time()

        for i in range(rounds + 1):
            marks = [clock()]
            app = create_app(app_config(url, folder / f"t{i}"))
            marks.append(clock())
            with app.app_context():
                empty_tables()
                marks.append(clock())
                make_world()
                marks.append(clock())
                db.session.remove()
                db.engine.dispose()
            marks.append(clock())
            if i:  # the first round warms up (imports, jieba, the scrypt hash of the factories)
                for name, a, b in zip(steps, marks, marks[1:]):
                    steps[name].append((b[0] - a[0], b[1] - a[1]))
    print(f"{'postgresql' if postgres else 'sqlite'}, {rounds} rounds")
    for name, values in steps.items():
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        print(f"{name:13} wall median {wall:.3f} s   cpu median {cpu:.3f} s")


if __name__ == "__main__":
    main()
