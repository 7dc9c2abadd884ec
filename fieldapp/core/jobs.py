"""Database-backed jobs: batch work in idempotent, resumable chunks, and time-driven ticks.

A job kind names two functions: `items(params)` lists stable item keys, and `process(params, key)` does one
item's work inside the current transaction. The worker commits each chunk together with the JobItem rows that
mark its items done (unique per job and key), so a worker killed mid-chunk loses only uncommitted work, and a
resumed job never processes an item twice. Pages poll its progress (`done_count` of `total`) at /jobs/<id>.
"""
from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterable

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from . import clock

STATUSES = ("queued", "running", "done", "failed")
STALE_AFTER = timedelta(minutes=2)


class Job(db.Model):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(50), index=True)
    params: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    status: Mapped[str] = mapped_column(sa.String(10), default="queued", index=True)
    total: Mapped[int] = mapped_column(default=0)
    done_count: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.utcnow_naive)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(sa.String(100))
    heartbeat_at: Mapped[datetime | None]
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(100), unique=True)

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        return int(100 * self.done_count / self.total) if self.total else 0

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")


class JobItem(db.Model):
    __tablename__ = "job_items"
    __table_args__ = (sa.UniqueConstraint("job_id", "item_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(sa.ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    item_key: Mapped[str] = mapped_column(sa.String(100))


@dataclass
class Kind:
    items: Callable[[dict], Iterable[str]]
    process: Callable[[dict, str], None]
    chunk: int = 50


KINDS: dict[str, Kind] = {}
TICKS: dict[str, Callable[[], int]] = {}


def register(name: str, items, process, chunk: int = 50) -> None:
    """Declare a job kind (capabilities call this at import time)."""
    KINDS[name] = Kind(items, process, chunk)


def tick_task(name: str):
    """Declare a time-driven task run by `flask jobs tick`; it returns how many records it changed."""
    def wrap(fn):
        TICKS[name] = fn
        return fn
    return wrap


def enqueue(kind: str, params: dict | None = None, *, user_id: int | None = None,
            dedupe_key: str | None = None) -> Job:
    """Queue a job (flushes, the caller commits); the same dedupe key returns the existing job."""
    if kind not in KINDS:
        raise KeyError(kind)
    if dedupe_key:
        existing = db.session.scalar(sa.select(Job).where(Job.dedupe_key == dedupe_key))
        if existing is not None:
            return existing
    job = Job(kind=kind, params=params or {}, created_by=user_id, dedupe_key=dedupe_key)
    if not dedupe_key:
        db.session.add(job)
        db.session.flush()
        return job
    try:
        with db.session.begin_nested():  # a concurrent enqueue with the same key: keep theirs
            db.session.add(job)
    except IntegrityError:
        theirs = db.session.scalar(sa.select(Job).where(Job.dedupe_key == dedupe_key))
        if theirs is None:
            raise
        return theirs
    return job


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:100]


def _claimable(now: datetime):
    stale = now - STALE_AFTER
    return sa.or_(Job.status == "queued",
                  sa.and_(Job.status == "running", sa.or_(Job.heartbeat_at.is_(None), Job.heartbeat_at < stale)))


def claim(worker: str | None = None) -> Job | None:
    """Take the oldest queued job, or a running one whose worker stopped sending heartbeats (commits)."""
    worker = worker or _worker_name()
    now = clock.utcnow_naive()
    candidates = db.session.scalars(sa.select(Job.id).where(_claimable(now)).order_by(Job.id).limit(5)).all()
    for job_id in candidates:
        # The condition is checked again by the UPDATE itself, so two workers never both win the same job.
        result = db.session.execute(
            sa.update(Job).where(Job.id == job_id, _claimable(now))
            .values(status="running", locked_by=worker, heartbeat_at=now, error=None, finished_at=None,
                    started_at=sa.func.coalesce(Job.started_at, now)))
        db.session.commit()
        if result.rowcount == 1:
            return db.session.get(Job, job_id, populate_existing=True)
    db.session.commit()
    return None


def requeue(job_id: int) -> bool:
    """Put a failed job back in the queue to resume where it stopped (flushes, the caller commits)."""
    result = db.session.execute(
        sa.update(Job).where(Job.id == job_id, Job.status == "failed")
        .values(status="queued", error=None, finished_at=None, locked_by=None))
    return (result.rowcount or 0) == 1


def run(job: Job, *, stop_after_chunks: int | None = None, worker: str | None = None) -> Job:
    """Work through a claimed job chunk by chunk; `stop_after_chunks` simulates a kill (tests, bench).

    Each chunk commits its effects together with the JobItem rows that mark its items done, and only while
    `worker` (by default the one that claimed the job) still holds it: a worker that lost the job (its heartbeat
    went stale and another worker reclaimed it) rolls its chunk back and stops.
    """
    job_id, owner = job.id, worker or job.locked_by
    if owner is None:  # run without claim(): take it now
        owner = _worker_name()
        db.session.execute(sa.update(Job).where(Job.id == job_id).values(
            status="running", locked_by=owner, heartbeat_at=clock.utcnow_naive(), error=None, finished_at=None,
            started_at=sa.func.coalesce(Job.started_at, clock.utcnow_naive())))
        db.session.commit()
    mine = sa.and_(Job.id == job_id, Job.locked_by == owner, Job.status == "running")
    try:
        kind = KINDS[job.kind]
        params = dict(job.params or {})
        keys = list(dict.fromkeys(str(k) for k in kind.items(params)))  # stable order, no duplicates
        done = set(db.session.scalars(sa.select(JobItem.item_key).where(JobItem.job_id == job_id)))
        todo = [k for k in keys if k not in done]
        if db.session.execute(sa.update(Job).where(mine).values(
                total=len(keys), done_count=len(keys) - len(todo), heartbeat_at=clock.utcnow_naive())).rowcount != 1:
            db.session.rollback()
            return db.session.get(Job, job_id, populate_existing=True)
        db.session.commit()
        chunks = 0
        for start in range(0, len(todo), kind.chunk):
            for key in todo[start:start + kind.chunk]:
                kind.process(params, key)
                db.session.add(JobItem(job_id=job_id, item_key=key))
            db.session.flush()
            count = db.session.scalar(sa.select(sa.func.count()).select_from(JobItem).where(JobItem.job_id == job_id))
            still_mine = db.session.execute(
                sa.update(Job).where(mine).values(done_count=count, heartbeat_at=clock.utcnow_naive())).rowcount
            if still_mine != 1:
                db.session.rollback()  # another worker took the job over: this chunk is theirs to do
                return db.session.get(Job, job_id, populate_existing=True)
            db.session.commit()
            chunks += 1
            if stop_after_chunks is not None and chunks >= stop_after_chunks:
                return db.session.get(Job, job_id, populate_existing=True)
        db.session.execute(sa.update(Job).where(mine)
                           .values(status="done", finished_at=clock.utcnow_naive(), locked_by=None))
        db.session.commit()
    except Exception as exc:  # noqa: BLE001 - a failed job is recorded, the worker carries on
        db.session.rollback()
        current_app.logger.exception("job %s failed", job_id)
        db.session.execute(sa.update(Job).where(mine)
                           .values(status="failed", error=f"{type(exc).__name__}: {exc}"[:2000],
                                   finished_at=clock.utcnow_naive(), locked_by=None))
        db.session.commit()
    return db.session.get(Job, job_id, populate_existing=True)


def work_once() -> Job | None:
    """Claim and run one job, if any."""
    job = claim()
    return run(job) if job else None


def tick() -> dict[str, int]:
    """Run every time-driven task once, each in its own transaction; each is idempotent.

    A task that fails is rolled back and logged, the others still run; its count is -1.
    """
    results = {}
    for name, fn in sorted(TICKS.items()):
        try:
            results[name] = int(fn() or 0)
            db.session.commit()
        except Exception:  # noqa: BLE001 - one broken task must not stop the others
            db.session.rollback()
            current_app.logger.exception("tick task %s failed", name)
            results[name] = -1
    return results


@tick_task("core.purge_idempotency_keys")
def _purge_keys() -> int:
    from .idempotency import purge
    return purge()


@tick_task("core.requeue_stale_jobs")
def _requeue_stale() -> int:
    result = db.session.execute(
        sa.update(Job).where(Job.status == "running", Job.heartbeat_at < clock.utcnow_naive() - STALE_AFTER)
        .values(status="queued", locked_by=None))
    return result.rowcount or 0


cli = AppGroup("jobs", help="Batch jobs and time-driven transitions.")


@cli.command("work")
@click.option("--once", is_flag=True, help="Process at most one job and exit.")
@click.option("--idle", default=2.0, help="Seconds to sleep when the queue is empty.")
def work_command(once: bool, idle: float) -> None:
    """Process queued jobs until stopped."""
    while True:
        job = work_once()
        if once:
            click.echo(f"job {job.id}: {job.status}" if job else "no job")
            return
        if job is None:
            db.session.remove()
            time.sleep(idle)


@cli.command("tick")
def tick_command() -> None:
    """Fire time-driven transitions (idempotent; run from cron every few minutes)."""
    results = tick()
    for name, count in results.items():
        click.echo(f"{name}: {count if count >= 0 else 'failed'}")
    if any(count < 0 for count in results.values()):
        click.get_current_context().exit(1)
