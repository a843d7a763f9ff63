"""`flask --app app jobs ...`: the consumer, and what the queue holds."""
from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from ..extensions import db

jobs_group = click.Group("jobs", help="Background jobs: run a consumer, show the queue, retry failed jobs.")


@jobs_group.command("worker")
@click.option("--workers", default=2, show_default=True, help="Jobs run at once by this consumer (threads).")
@with_appcontext
def worker_command(workers: int) -> None:
    """Run a consumer until stopped (SIGTERM, as systemd sends, finishes the running jobs first; SIGINT stops at
    once: a job cut short is run again by the sweep once its lease is over). An idle consumer looks at the
    embedded queue at least every second (Huey backs off from 50 ms); a Redis queue wakes it at once."""
    from .queue import job_queue

    queue = job_queue()
    if queue.backend == "immediate":
        raise click.ClickException("JOBS_BACKEND=immediate 时任务在提交后立即运行，无需后台进程")
    click.echo(f"jobs: consumer on the {queue.backend} queue, {workers} worker(s)")
    create_consumer(queue, workers).run()


def create_consumer(queue, workers: int):
    """Huey's consumer as every node runs it: threads, the periodic sweep, and SIGTERM (systemd's stop signal)
    finishing the jobs in hand."""
    return queue.huey.create_consumer(workers=workers, worker_type="thread", periodic=True, check_worker_health=True,
                                      initial_delay=0.05, max_delay=1.0, graceful_signal="TERM")


@jobs_group.command("status")
@click.option("--failed", "show_failed", default=10, show_default=True, help="How many recent failures to show.")
@with_appcontext
def status_command(show_failed: int) -> None:
    """Queued, running and failed jobs (the ledger), and the messages waiting in the queue."""
    from ..models import Job
    from . import jobs_summary, kind_label
    from .queue import job_queue

    summary = jobs_summary()
    queue = job_queue()
    pending = queue.pending()
    click.echo(f"queue: {queue.backend}, messages waiting: {pending if pending >= 0 else 'unreachable'}")
    click.echo(" ".join(f"{k}={v}" for k, v in summary.items()))
    running = db.session.scalars(select(Job).where(Job.status.in_(("running", "queued"))).order_by(Job.id).limit(20))
    for job in running:
        click.echo(f"  #{job.id} {job.status:<7} {job.kind} ({kind_label(job.kind)}) attempts={job.attempts}"
                   + (f" lease_until={job.lease_until:%Y-%m-%d %H:%M:%S}" if job.lease_until else ""))
    failed = db.session.scalars(select(Job).where(Job.status == "failed").order_by(Job.id.desc()).limit(show_failed))
    for job in failed:
        last = (job.error or "").strip().splitlines()[-1:] or [""]
        click.echo(f"  #{job.id} failed  {job.kind} ({kind_label(job.kind)}) attempts={job.attempts}: {last[0]}")


@jobs_group.command("retry")
@click.argument("job_id", type=int)
@with_appcontext
def retry_command(job_id: int) -> None:
    """Send a failed job again."""
    from ..errors import DomainError
    from ..models import Job
    from . import job_retry

    job = db.session.get(Job, job_id)
    if job is None:
        raise click.ClickException(f"任务 {job_id} 不存在")
    try:
        job_retry(job=job)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    db.session.commit()
    click.echo(f"任务 {job_id} 已重新排队")


@jobs_group.command("sweep")
@with_appcontext
def sweep_command() -> None:
    """Send again the jobs the queue lost, whose consumer died or whose retry is due (a consumer does it every
    minute)."""
    from . import jobs_sweep

    click.echo(f"{jobs_sweep()} job(s) sent again")


COMMANDS = (jobs_group,)
