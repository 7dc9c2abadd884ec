"""Batch jobs: chunks with progress, kill and crash then resume doing each item once, stale reclaim, ticks."""
from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from fieldapp.core import clock, jobs
from fieldapp.core.idempotency import IdempotencyKey, new_key
from fieldapp.core.jobs import Job, JobItem
from fieldapp.extensions import db
from fieldapp.org.models import Village, VillageGroup
from tests.conftest import HX, login

KIND = "test.add_groups"
ITEMS = 12
CHUNK = 5
CRASH = {"key": None, "crashed": False}


def _items(params: dict) -> list[str]:
    return [f"{i:02d}" for i in range(params["n"])]


def _process(params: dict, key: str) -> None:
    """A real effect per item: a new village group, and a counter that double work would overshoot."""
    if key == CRASH["key"] and not CRASH["crashed"]:
        CRASH["crashed"] = True
        raise RuntimeError("power cut")
    village = db.session.get(Village, params["village_id"])
    db.session.add(VillageGroup(county_id=village.county_id, village_id=village.id, name=f"J{key}"))
    village.centroid_lat = (village.centroid_lat or 0) + 1


@pytest.fixture(autouse=True)
def kind():
    jobs.register(KIND, _items, _process, chunk=CHUNK)
    CRASH.update(key=None, crashed=False)
    yield
    jobs.KINDS.pop(KIND, None)


def _effects(village_id: int) -> tuple[int, int]:
    """(job-made groups, counter) as stored."""
    db.session.expire_all()
    groups = db.session.scalar(sa.select(sa.func.count()).select_from(VillageGroup).where(
        VillageGroup.village_id == village_id, VillageGroup.name.like("J%")))
    counter = db.session.scalar(sa.select(Village.centroid_lat).where(Village.id == village_id)) or 0
    return groups, int(counter)


def _job_items(job_id: int) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(JobItem).where(JobItem.job_id == job_id))


def _progress(client, job_id: int) -> tuple[str, str]:
    page = client.get(f"/jobs/{job_id}")
    assert page.status_code == 200
    fragment = client.get(f"/jobs/{job_id}", headers=HX)
    assert fragment.status_code == 200
    full, part = page.get_data(as_text=True), fragment.get_data(as_text=True)
    assert "<html" in full and 'id="job-progress"' in full
    assert "<html" not in part and 'id="job-progress"' in part
    return full, part


def _polls(html: str) -> bool:
    tag = re.search(r'<div id="job-progress"[^>]*>', html).group(0)
    return "hx-get=" in tag and "hx-trigger=" in tag


def test_enqueue_dedupes(world):
    params = {"n": ITEMS, "village_id": world.v1.id}
    first = jobs.enqueue(KIND, params, user_id=world.officer.id, dedupe_key=f"groups:{world.v1.id}")
    db.session.commit()
    again = jobs.enqueue(KIND, {"n": 1, "village_id": world.v2.id}, user_id=world.officer2.id,
                         dedupe_key=f"groups:{world.v1.id}")
    assert again.id == first.id and again.params == params
    other = jobs.enqueue(KIND, params, user_id=world.officer.id, dedupe_key=f"groups:{world.v2.id}")
    assert other.id != first.id
    plain = [jobs.enqueue(KIND, params), jobs.enqueue(KIND, params)]
    assert plain[0].id != plain[1].id  # no dedupe key: a new job each time
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 4
    with pytest.raises(KeyError):
        jobs.enqueue("no.such.kind")


@pytest.mark.committing
def test_concurrent_enqueues_with_one_dedupe_key_make_one_job(app, world):
    params = {"n": 1, "village_id": world.v1.id}
    db.session.rollback()  # this thread holds no lock while the others write
    barrier = threading.Barrier(5)
    ids: list = []

    def enqueue() -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                job = jobs.enqueue(KIND, params, dedupe_key="same-button")
                db.session.commit()
                ids.append(job.id)
            except BaseException as exc:  # noqa: BLE001 - reported below
                ids.append(exc)

    threads = [threading.Thread(target=enqueue, daemon=True) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert len(ids) == 5 and len(set(ids)) == 1, ids
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 1


def test_kill_crash_and_resume_do_every_item_exactly_once(app, client, world):
    village_id = world.v1.id
    job = jobs.enqueue(KIND, {"n": ITEMS, "village_id": village_id}, user_id=world.officer.id)
    db.session.commit()
    job_id = job.id
    login(client, world.officer)
    client.set_cookie("lang", "en")
    full, part = _progress(client, job_id)
    assert _polls(full) and _polls(part) and "queued" in part

    # a worker does one chunk, then is killed
    job = jobs.claim("worker-a")
    assert job.id == job_id and job.status == "running" and job.locked_by == "worker-a"
    job = jobs.run(job, stop_after_chunks=1)
    assert (job.status, job.total, job.done_count) == ("running", ITEMS, CHUNK)
    assert _effects(village_id) == (CHUNK, CHUNK)
    full, part = _progress(client, job_id)
    assert f"{CHUNK} of {ITEMS} done" in part and "running" in part and f"{CHUNK} of {ITEMS} done" in full
    assert _polls(full) and _polls(part)
    assert 'value="41"' in part  # 5 of 12 = 41 %

    # while its heartbeat is fresh nobody else takes it; two minutes later it is reclaimed
    assert jobs.claim("worker-b") is None
    clock.set_now(app, clock.now() + timedelta(minutes=2, seconds=5))
    job = jobs.claim("worker-b")
    assert job is not None and job.id == job_id and job.locked_by == "worker-b"
    # the killed worker, were it still alive, can no longer commit anything for this job
    stale = jobs.run(job, worker="worker-a")
    assert stale.locked_by == "worker-b" and _effects(village_id) == (CHUNK, CHUNK)

    # worker b crashes in the middle of its first chunk: that chunk's work is rolled back
    CRASH["key"] = f"{CHUNK + 2:02d}"
    job = jobs.run(job)
    assert job.status == "failed" and "power cut" in job.error and job.locked_by is None
    assert job.done_count == CHUNK and _job_items(job_id) == CHUNK
    assert _effects(village_id) == (CHUNK, CHUNK)
    full, part = _progress(client, job_id)
    assert not _polls(full) and not _polls(part)
    assert "failed" in part and "can be resumed" in part

    # resumed: the rest is done, nothing twice
    assert jobs.requeue(job_id) is True
    assert jobs.requeue(job_id) is False  # only a failed job is requeued
    db.session.commit()
    job = jobs.claim("worker-c")
    assert job.id == job_id and job.error is None
    job = jobs.run(job)
    assert (job.status, job.total, job.done_count, job.percent) == ("done", ITEMS, ITEMS, 100)
    assert job.finished_at is not None and job.locked_by is None
    assert _job_items(job_id) == ITEMS
    assert _effects(village_id) == (ITEMS, ITEMS)
    names = db.session.scalars(sa.select(VillageGroup.name).where(
        VillageGroup.village_id == village_id, VillageGroup.name.like("J%")).order_by(VillageGroup.name)).all()
    assert names == [f"J{i:02d}" for i in range(ITEMS)]
    # the audit log saw each group created once: the crashed chunk's events were rolled back with it
    from fieldapp.core.audit import AuditEvent
    logged = db.session.scalars(sa.select(AuditEvent.changes).where(
        AuditEvent.action == "create", AuditEvent.entity_type == "village_groups")).all()
    assert sorted(c["after"]["name"] for c in logged if c["after"]["name"].startswith("J")) == names
    full, part = _progress(client, job_id)
    assert not _polls(full) and not _polls(part)
    assert 'value="100"' in part and f"{ITEMS} of {ITEMS} done" in part

    # running a finished job again changes nothing
    assert jobs.claim() is None
    jobs.run(db.session.get(Job, job_id))
    assert _effects(village_id) == (ITEMS, ITEMS)


def test_work_command_processes_the_queue(app, world):
    job = jobs.enqueue(KIND, {"n": 3, "village_id": world.v2.id})
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["jobs", "work", "--once"])
    assert result.exit_code == 0, result.output
    assert f"job {job.id}: done" in result.output
    assert _effects(world.v2.id) == (3, 3)
    assert "no job" in runner.invoke(args=["jobs", "work", "--once"]).output


def test_only_the_owner_and_head_office_see_a_job(app, world):
    job = jobs.enqueue(KIND, {"n": 1, "village_id": world.v1.id}, user_id=world.officer.id)
    db.session.commit()
    anonymous = app.test_client()
    assert anonymous.get(f"/jobs/{job.id}").status_code == 302
    for user, status in ((world.officer, 200), (world.officer2, 404), (world.manager, 404), (world.hq, 200),
                         (world.auditor, 200)):
        c = app.test_client()
        login(c, user)
        assert c.get(f"/jobs/{job.id}").status_code == status, user.username
        assert c.get(f"/jobs/{job.id}", headers=HX).status_code == status, user.username
    c = app.test_client()
    login(c, world.officer)
    assert c.get("/jobs/999999").status_code == 404


def _tick(runner) -> dict[str, int]:
    result = runner.invoke(args=["jobs", "tick"])
    assert result.exit_code == 0, result.output
    counts = {}
    for line in result.output.splitlines():
        name, _, count = line.partition(": ")
        counts[name] = int(count)
    return counts


def test_tick_purges_old_keys_requeues_stale_jobs_and_is_idempotent(app, world):
    start = clock.now()
    old = IdempotencyKey(key=new_key(), owner="user:1", endpoint="accounts.staff_new", payload_hash="x",
                         status_code=303, location="/staff/1", created_at=clock.utcnow_naive())
    db.session.add(old)
    job = jobs.enqueue(KIND, {"n": 2, "village_id": world.v3.id})
    db.session.commit()
    claimed = jobs.claim("worker-gone")
    assert claimed.id == job.id
    clock.set_now(app, start + timedelta(days=2))
    young = IdempotencyKey(key=new_key(), owner="user:1", endpoint="accounts.staff_new", payload_hash="y",
                           status_code=303, location="/staff/2", created_at=clock.utcnow_naive())
    db.session.add(young)
    db.session.commit()

    runner = app.test_cli_runner()
    clock.set_now(app, start + timedelta(days=1))
    first = _tick(runner)
    assert first["core.purge_idempotency_keys"] == 0  # nothing is a week old yet
    assert first["core.requeue_stale_jobs"] == 1  # its worker has been silent for a day
    assert db.session.get(Job, job.id, populate_existing=True).status == "queued"
    assert set(_tick(runner).values()) == {0}

    clock.set_now(app, start + timedelta(days=7, minutes=1))
    first = _tick(runner)
    assert first["core.purge_idempotency_keys"] == 1
    db.session.expire_all()
    keys = set(db.session.scalars(sa.select(IdempotencyKey.key)))
    assert keys == {young.key}
    second = _tick(runner)
    assert set(second.values()) == {0}, second

    # the requeued job finishes on the next worker, exactly once
    job = jobs.claim("worker-next")
    assert jobs.run(job).status == "done"
    assert _effects(world.v3.id) == (2, 2)
    clock.reset(app)


def test_a_failing_tick_task_does_not_stop_the_others(app, world):
    def broken() -> int:
        raise RuntimeError("broken task")

    jobs.TICKS["test.broken"] = broken
    try:
        result = app.test_cli_runner().invoke(args=["jobs", "tick"])
    finally:
        jobs.TICKS.pop("test.broken")
    assert result.exit_code == 1
    assert "test.broken: failed" in result.output
    assert "core.purge_idempotency_keys: 0" in result.output
