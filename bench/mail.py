"""What notifications by e-mail cost: the publish that tells an organisation, with and without a mail server, and
how fast a consumer sends the mails through SMTP (a local aiosmtpd server, optionally slowed down).

    .venv/bin/python bench/mail.py                          # 20 colleagues, 20 publishes per mode, 0 ms SMTP
    .venv/bin/python bench/mail.py --members 20 --publishes 20 --smtp-delay-ms 200

A temporary SQLite market (the embedded job queue, as `make run`): an organisation of M members with e-mail
addresses; an official publishes its needs one at a time (listing_transition + commit, as the review view does).
Printed: the publish's p50/p95 (ms) with MAIL_SERVER unset (notices in the site only) and set (the notices also
queue one "mail.send" job in the same transaction; nothing waits for SMTP); then the consumer's rate (mails/s)
running every queued mail job, and a second run of every job (a message delivered twice), which must send nothing.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument("--publishes", type=int, default=20)
    parser.add_argument("--smtp-delay-ms", type=int, default=0)
    args = parser.parse_args()

    from aiosmtpd.controller import Controller

    from tests.mailserver import free_port

    received = []

    class Sink:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            if args.smtp_delay_ms:
                await asyncio.sleep(args.smtp_delay_ms / 1000)
            received.append(envelope.rcpt_tos[0])
            return "250 OK"

    port = free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    with tempfile.TemporaryDirectory() as folder:
        os.environ["MARKET_INSTANCE_DIR"] = folder
        from sqlalchemy import select, update

        from market import create_app
        from market.extensions import db
        from market.jobs import job_run
        from market.listings.services import listing_transition
        from market.models import Job
        from tests import factories

        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.db", "SECRET_KEY": "bench",
                          "SEARCH_INDEX_DIR": f"{folder}/index", "SEARCH_SYNC_AFTER_COMMIT": False,
                          "JOBS_BACKEND": "sqlite", "JOBS_SQLITE_PATH": f"{folder}/jobs.sqlite3",
                          "PAGE_CACHE_SECONDS": 0, "MAIL_PORT": port, "SITE_URL": "http://market.test"})
        with app.app_context():
            db.create_all()
            regions, fields = factories.region_tree(), factories.fields()
            org = factories.org(region=regions["town_a"], name="怀远县恒通玻璃有限公司")
            members = [factories.user(role="enterprise", org=org, username=f"member{i}") for i in range(args.members)]
            for i, member in enumerate(members):
                member.email = f"member{i}@example.com"
            official = factories.user(role="official", region=regions["county_a"], username="official")
            db.session.commit()
            figures = {}
            for mode, server in (("site only", ""), ("site + mail jobs", "127.0.0.1")):
                app.config["MAIL_SERVER"] = server
                needs = [factories.demand(owner=members[0], field=fields["materials"], status="pending",
                                          title=f"寻求导电膜镀膜技术{mode}{i}") for i in range(args.publishes)]
                db.session.commit()
                times = []
                for need in needs:
                    start = time.perf_counter()
                    listing_transition(listing=need, user=official, to="published")
                    db.session.commit()
                    times.append((time.perf_counter() - start) * 1000)
                times.sort()
                figures[mode] = (statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)])
            for mode, (p50, p95) in figures.items():
                print(f"publish telling {args.members} members, {mode}: p50 {p50:.1f} ms, p95 {p95:.1f} ms")

            ids = list(db.session.scalars(select(Job.id).where(Job.kind == "mail.send").order_by(Job.id)))
            db.session.commit()
            start = time.perf_counter()
            outcomes = [job_run(job_id) for job_id in ids]
            elapsed = time.perf_counter() - start
            print(f"consumer: {len(ids)} mail jobs (one per publish) -> {len(received)} mails in {elapsed:.2f} s "
                  f"({len(received) / elapsed:.0f} mails/s, SMTP delay {args.smtp_delay_ms} ms); "
                  f"outcomes {dict((o, outcomes.count(o)) for o in set(outcomes))}")
            db.session.execute(update(Job).where(Job.kind == "mail.send").values(status="queued", lease_until=None))
            db.session.commit()
            before = len(received)
            for job_id in ids:
                job_run(job_id)
            print(f"every mail job run a second time: {len(received) - before} more mails")
    controller.stop()


if __name__ == "__main__":
    main()
