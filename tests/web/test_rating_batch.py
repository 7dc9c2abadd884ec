"""Batch rating of a village through the job queue, and the village's results page (issue 5 item 6)."""
from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from fieldapp.core import clock, jobs
from fieldapp.core.idempotency import new_key
from fieldapp.core.jobs import Job, JobItem
from fieldapp.extensions import db
from fieldapp.households.models import Household
from fieldapp.ratings import rules, services
from fieldapp.ratings.models import Rating
from tests.conftest import HX, login
from tests.support.ratings import accept_file
from tests.support.world import add_household, make_id

EXTRA = 60  # with h1 and h2: 62 households, three chunks of 25


def _en(client, user):
    login(client, user)
    client.set_cookie("lang", "en")


def _many(village, n: int) -> list[int]:
    """n more households in the village, each with an accepted file (half in each group)."""
    groups = list(village.groups)
    ids = []
    for i in range(n):
        h = add_household(village, groups[i % 2], f"H-B-{i:03d}",
                          [(f"批量{i:03d}", "head", make_id("532931", "19800101", 100 + i))])
        db.session.commit()
        accept_file(h, income=[(30000 + 1000 * i, "document")])
        ids.append(h.id)
    return ids


def _ratings_per_household(village_id: int) -> dict[int, int]:
    db.session.expire_all()
    return dict(db.session.execute(sa.select(Rating.household_id, sa.func.count()).where(
        Rating.village_id == village_id).group_by(Rating.household_id)).all())


def _main(html: str) -> str:
    return html[html.index("<main"):html.index("</main>")]


def _polls(html: str) -> bool:
    tag = re.search(r'<div id="job-progress"[^>]*>', html).group(0)
    return "hx-get=" in tag and 'hx-trigger="every 2s"' in tag


def test_a_batch_killed_midway_and_resumed_rates_every_household_exactly_once(app, client, world):
    v1 = world.v1
    accept_file(world.h1)
    accept_file(world.h2)
    households = [world.h1.id, world.h2.id, *_many(v1, EXTRA)]
    total = len(households)
    assert total >= 60 and services.village_households_to_rate(v1.id) == sorted(households)

    _en(client, world.officer)
    page = client.get(f"/villages/{v1.id}/ratings").get_data(as_text=True)
    assert f"{total} households with an accepted file are not rated yet." in page

    key = new_key()
    resp = client.post(f"/villages/{v1.id}/ratings/batch", data={"idem_key": key})
    assert resp.status_code == 303
    job_url = resp.headers["Location"]
    job_id = int(job_url.rsplit("/", 1)[1])
    again = client.post(f"/villages/{v1.id}/ratings/batch", data={"idem_key": key})  # a double tap
    assert again.status_code == 303 and again.headers["Location"] == job_url
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 1
    assert _ratings_per_household(v1.id) == {}  # queued: nothing rated yet

    # the progress page polls every 2 s and offers a plain refresh link for phones without script
    full = client.get(job_url).get_data(as_text=True)
    part = client.get(job_url, headers=HX).get_data(as_text=True)
    assert _polls(full) and _polls(part) and f'href="{job_url}"' in part and "Refresh" in part

    # a worker rates one chunk of 25, then is killed
    job = jobs.claim("worker-a")
    assert job.id == job_id
    job = jobs.run(job, stop_after_chunks=1)
    assert (job.status, job.total, job.done_count) == ("running", total, 25)
    counts = _ratings_per_household(v1.id)
    assert len(counts) == 25 and set(counts.values()) == {1}
    part = client.get(job_url, headers=HX).get_data(as_text=True)
    assert f"25 of {total} done" in part and _polls(part)

    # two minutes without a heartbeat: another worker takes the job over and finishes it
    clock.set_now(app, clock.now() + timedelta(minutes=2, seconds=5))
    job = jobs.claim("worker-b")
    assert job is not None and job.id == job_id
    job = jobs.run(job)
    assert (job.status, job.total, job.done_count) == ("done", total, total)
    counts = _ratings_per_household(v1.id)
    assert counts == {hid: 1 for hid in households}  # every household rated, none twice
    assert db.session.scalar(sa.select(sa.func.count()).select_from(JobItem).where(JobItem.job_id == job_id)) == total
    ratings = db.session.scalars(sa.select(Rating).where(Rating.village_id == v1.id)).all()
    assert {r.status for r in ratings} == {"proposed"} and {r.proposed_by for r in ratings} == {world.officer.id}
    assert all(r.live_household_id == r.household_id and r.model_version == 1 for r in ratings)

    # done: no more polling, and a way back to the results
    part = client.get(job_url, headers=HX).get_data(as_text=True)
    assert not _polls(part) and f'href="/villages/{v1.id}/ratings"' in part and f"{total} of {total} done" in part

    # the finished job run again changes nothing
    jobs.run(db.session.get(Job, job_id))
    assert _ratings_per_household(v1.id) == {hid: 1 for hid in households}

    # a second batch for the village rates nobody again: no job is queued, the page says why
    assert services.village_households_to_rate(v1.id) == []
    resp = client.post(f"/villages/{v1.id}/ratings/batch", data={"idem_key": new_key()})
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/villages/{v1.id}/ratings")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 1
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Every household with an accepted file is already rated." in page
    # even a job queued straight through the service finds nothing to do
    empty = services.start_batch(v1.id, user_id=world.manager.id, idem="again")
    db.session.commit()
    empty = jobs.run(jobs.claim("worker-c"))
    assert empty.id != job_id and (empty.status, empty.total, empty.done_count) == ("done", 0, 0)
    assert _ratings_per_household(v1.id) == {hid: 1 for hid in households}


def test_results_page_counts_the_village_and_draws_the_grades(app, client, world):
    accept_file(world.h1, income=[(120000, "document")], assets=[("house", 600000)])
    accept_file(world.h2, negative=["arrears"])  # a file veto: not rated, line 0
    for h in (world.h1, world.h2):
        services.propose(db.session.get(Household, h.id), user_id=world.officer.id)
    db.session.commit()
    good = services.live_rating(world.h1.id)
    vetoed = services.live_rating(world.h2.id)
    assert vetoed.vetoes and vetoed.grade == "not_rated" and vetoed.suggested_line_fen == 0
    assert not good.vetoes

    _en(client, world.hq)
    resp = client.get(f"/villages/{world.v1.id}/ratings")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    main = _main(html)
    assert "<dt>Current ratings</dt><dd>2</dd>" in main
    assert "<dt>Proposed</dt><dd>2</dd>" in main
    assert "<dt>Vetoed</dt><dd>1</dd>" in main
    below = 1 if good.final_score < 60 else 0  # the vetoed one counts as vetoed, not as below 60
    assert f"<dt>Score below 60</dt><dd>{below}</dd>" in main

    # the grade distribution: an inline SVG with a title, one bar and count per grade, no style attribute
    svg = re.search(r"<svg.*?</svg>", html, re.S).group(0)
    assert 'role="img"' in svg and 'aria-labelledby="grade-chart-title"' in svg
    assert re.search(r'<title id="grade-chart-title">Grade distribution: ', svg)
    by_grade = {g: 0 for g in rules.GRADES}
    for r in (good, vetoed):
        by_grade[r.grade] += 1
    for code in rules.GRADES:
        label = rules.GRADE_LABELS[code]
        assert f"{label} {by_grade[code]}" in svg  # the title reads every bar
        assert re.search(rf">{label}</text>\s*<rect [^>]*/>\s*<text [^>]*>{by_grade[code]}</text>", svg), code
    widths = [int(w) for w in re.findall(r'<rect [^>]*width="(\d+)"', svg)]
    assert max(widths) == 170 and widths.count(0) == sum(1 for n in by_grade.values() if n == 0)
    assert "style=" not in html and "<script>" not in html

    # the list: head, group, score, grade, line, status; each row links to the rating's page
    assert f'href="/ratings/{good.id}"' in main and f'href="/ratings/{vetoed.id}"' in main
    assert "张三" in main and "单田芳" in main and "一组" in main and "二组" in main
    assert f"Score {good.final_score}" in main and "0.00 yuan" in main and "Vetoed</span>" in main
    # filtering by grade swaps just the list
    part = client.get(f"/villages/{world.v1.id}/ratings?grade=not_rated", headers=HX).get_data(as_text=True)
    assert 'id="rating-rows"' in part and "<html" not in part
    assert f'href="/ratings/{vetoed.id}"' in part and f'href="/ratings/{good.id}"' not in part

    # auditors read the page but get no batch button; hq is not a batch role either
    assert "Rate these households" not in main and "ratings/batch" not in main
    client2 = app.test_client()
    _en(client2, world.auditor)
    assert client2.get(f"/villages/{world.v1.id}/ratings").status_code == 200
    assert client2.post(f"/villages/{world.v1.id}/ratings/batch", data={"idem_key": new_key()}).status_code == 403


def test_each_role_sees_and_batches_only_the_households_it_covers(app, client, world):
    """Village 2 is split: officer1 (G01-1) covers 一组 with h3, officer2 (G02) covers 二组 with h4."""
    v2 = world.v2
    accept_file(world.h3)
    accept_file(world.h4)
    # officer1 rates their group only: h4 stays for officer2
    _en(client, world.officer)
    page = client.get(f"/villages/{v2.id}/ratings").get_data(as_text=True)
    assert "1 households with an accepted file are not rated yet." in page
    resp = client.post(f"/villages/{v2.id}/ratings/batch", data={"idem_key": new_key()})
    assert resp.status_code == 303
    job = jobs.work_once()
    assert (job.status, job.total, job.params["household_ids"]) == ("done", 1, [world.h3.id])
    assert set(_ratings_per_household(v2.id)) == {world.h3.id}
    page = client.get(f"/villages/{v2.id}/ratings").get_data(as_text=True)
    assert "曾国强" in page and "解晓东" not in page
    assert "Every household with an accepted file is already rated." in page

    other = app.test_client()
    _en(other, world.officer2)
    page = other.get(f"/villages/{v2.id}/ratings").get_data(as_text=True)
    assert "<dt>Current ratings</dt><dd>0</dd>" in page and "曾国强" not in page
    assert other.post(f"/villages/{v2.id}/ratings/batch", data={"idem_key": new_key()}).status_code == 303
    jobs.work_once()
    assert set(_ratings_per_household(v2.id)) == {world.h3.id, world.h4.id}
    page = other.get(f"/villages/{v2.id}/ratings").get_data(as_text=True)
    assert "解晓东" in page and "曾国强" not in page and "<dt>Current ratings</dt><dd>1</dd>" in page

    # head office sees the whole village; officer2 cannot open officer1's village 1 at all
    hq = app.test_client()
    _en(hq, world.hq)
    page = hq.get(f"/villages/{v2.id}/ratings").get_data(as_text=True)
    assert "解晓东" in page and "曾国强" in page and "<dt>Current ratings</dt><dd>2</dd>" in page
    assert other.get(f"/villages/{world.v1.id}/ratings").status_code == 404
    assert other.post(f"/villages/{world.v1.id}/ratings/batch", data={"idem_key": new_key()}).status_code == 404

    # the village secretary reads their own village's results
    sec = app.test_client()
    _en(sec, world.secretary)
    assert sec.get(f"/villages/{world.v1.id}/ratings").status_code == 200
    assert sec.get(f"/villages/{v2.id}/ratings").status_code == 404


def test_village_pages_link_to_the_ratings(app, client, world):
    _en(client, world.officer)
    for url in (f"/villages/{world.v1.id}", f"/worklist/villages/{world.v1.id}"):
        assert f'href="/villages/{world.v1.id}/ratings"' in client.get(url).get_data(as_text=True), url
