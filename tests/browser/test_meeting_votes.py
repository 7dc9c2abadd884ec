"""背靠背 on four phones (issue 5 "Must show"): a committee of 5 with 4 present, each member voting in their own
Galaxy S8 context; before the close every meeting URL and fragment fetched as each member shows no other member's
vote and no tally; a recused member cannot vote on that household; with 3 of 5 present voting cannot open.

The meeting is set up with the meetings.py use cases (households with accepted files and proposed ratings, the
committee, the agenda up to 申请户发言, the tellers); attendance, opening, voting, the count step and the close go
through the pages.
"""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from fieldapp.extensions import db
from tests.browser.helpers import in_db

pytestmark = pytest.mark.browser

CHECKED_Q = re.compile(r'<input[^>]*\bchecked\b[^>]*name="q_(\w+)"[^>]*value="(\w+)"|'
                       r'<input[^>]*name="q_(\w+)"[^>]*value="(\w+)"[^>]*\bchecked\b')
CHECKED_VETO = re.compile(r'<input[^>]*(\bchecked\b[^>]*name="veto_(\w+)"|name="veto_(\w+)"[^>]*\bchecked\b)')


def setup_meeting(live_server):
    """A scheduled phones meeting of 金星村 with two households, 5 seats (4 on phones), 3 present, p4 recused for A."""
    from fieldapp.accounts.models import User
    from fieldapp.org.models import Village
    from fieldapp.ratings import meetings
    from tests.support.ratings import make_meeting, village_user

    ids = live_server.world

    def build():
        w = SimpleNamespace(v1=db.session.get(Village, ids.v1.id), secretary=db.session.get(User, ids.secretary.id),
                            panel=db.session.get(User, ids.panel.id), officer=db.session.get(User, ids.officer.id))
        phones = [village_user(w.v1, name=f"手机委员{i}") for i in range(1, 5)]
        m = make_meeting(w, households=2, phone_users=phones, seats=5, present=3, open_voting=False)
        item_a, item_b = m.items
        seats = {s.user_id: s for s in m.members}
        meetings.add_recusal(m, member=seats[phones[3].id], household_id=item_a.household_id, relation="in_law",
                             note=None, user_id=w.officer.id)
        db.session.commit()
        return SimpleNamespace(id=m.id, a=item_a.id, b=item_b.id, users=[u.username for u in phones],
                               seat_ids=[seats[u.id].id for u in phones])
    return in_db(live_server, build)


def meeting_status(live_server, mid):
    from fieldapp.ratings.models import ReviewMeeting
    return in_db(live_server, lambda: db.session.get(ReviewMeeting, mid).status)


def meeting_urls(live_server, m) -> list[str]:
    """Every GET URL of the meeting module for this meeting (the PDF too)."""
    from tests.browser.helpers import all_routes
    urls = []
    for route in all_routes():
        if not route.endpoint.startswith("ratings.meeting") or "GET" not in route.methods:
            continue
        values = {"village_id": live_server.world.v1.id, "meeting_id": m.id}
        items = [m.a, m.b] if "item_id" in route.params else [None]
        for item in items:
            url = route.rule
            for name, value in {**values, "item_id": item}.items():
                url = url.replace(f"<int:{name}>", str(value))
            urls.append(url)
    return sorted(set(urls))


def checked_answers(html: str) -> dict:
    out = {}
    for match in CHECKED_Q.finditer(html):
        code, value = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
        out[code] = value
    return out


def vote(page, m, item_id, answers: dict, vetoes=()):
    page.goto(f"/meetings/{m.id}/vote")
    page.click(f'a[href="/meetings/{m.id}/vote/{item_id}"]')
    form = page.locator("#ballot-form")
    expect(form).to_be_visible()
    for code, value in answers.items():
        form.locator(f'input[name="q_{code}"][value="{value}"]').check()
    for code in vetoes:
        form.locator(f'input[name="veto_{code}"]').check()
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(rf"/meetings/{m.id}/vote$"))


def test_four_phones_vote_back_to_back(watched_context, live_server):
    from fieldapp.ratings import rules
    from tests.support.ratings import ballot

    m = setup_meeting(live_server)
    world = live_server.world
    chair = watched_context(world.roles["village_secretary"]).new_page()
    officer = watched_context(world.roles["grid_officer"]).new_page()

    # 3 of 5 present: the chair cannot open voting
    chair.goto(f"/meetings/{m.id}")
    chair.click("#open-form button[type=submit]")
    expect(chair.locator("#meeting-error")).to_be_visible()
    assert meeting_status(live_server, m.id) == "scheduled"

    # the officer ticks the fourth member present; now the chair opens voting
    officer.goto(f"/meetings/{m.id}")
    officer.locator(f"#present-{m.seat_ids[3]}").check()
    with officer.expect_response(lambda r: r.request.method == "POST" and "/attendance" in r.url):
        officer.click("#attendance-form button[type=submit]")  # saved before the chair tries again
    expect(officer.locator(f"#present-{m.seat_ids[3]}")).to_be_checked()
    chair.goto(f"/meetings/{m.id}")
    chair.click("#open-form button[type=submit]")
    expect(chair.locator("#meeting-progress")).to_be_visible()
    assert meeting_status(live_server, m.id) == "voting"

    # four phones, four members; each votes with a distinct pattern
    phones = [watched_context(name).new_page() for name in m.users]
    own: dict[int, dict[int, tuple[dict, list]]] = {i: {} for i in range(4)}
    for i, page in enumerate(phones):
        answers_b = ballot("yes", **{rules.CHECKLIST[i]: "no", rules.CHECKLIST[i + 6]: "abstain"})
        vetoes_b = [rules.COMMITTEE_VETOES[i]] if i < 3 else []
        vote(page, m, m.b, answers_b, vetoes_b)
        own[i][m.b] = (answers_b, vetoes_b)
        if i < 3:  # the fourth member stepped aside for A
            answers_a = ballot("no", **{rules.CHECKLIST[-1 - i]: "yes"})
            vote(page, m, m.a, answers_a)
            own[i][m.a] = (answers_a, [])

    # the recused member: A is not offered, its ballot page has no form, and a forged POST is refused
    recused = phones[3]
    recused.goto(f"/meetings/{m.id}/vote")
    expect(recused.locator(f'a[href="/meetings/{m.id}/vote/{m.a}"]')).to_have_count(0)
    expect(recused.locator("[data-recused=yes]")).to_have_count(1)
    recused.goto(f"/meetings/{m.id}/vote/{m.a}")
    expect(recused.locator("#ballot-form")).to_have_count(0)
    expect(recused.locator("#ballot .error")).to_be_visible()
    token = recused.locator('input[name="csrf_token"]').first.get_attribute("value")
    data = {f"q_{c}": "yes" for c in rules.CHECKLIST} | {"version": "0", "csrf_token": token}
    resp = recused.request.post(f"/meetings/{m.id}/vote/{m.a}", form=data)
    assert resp.status == 403

    # before the close: every URL, full and as an htmx fragment, as each member shows only their own ballots
    urls = meeting_urls(live_server, m)
    assert any(u.endswith("/results") for u in urls) and any("/vote/" in u for u in urls)
    for i, page in enumerate(phones):
        for url in urls:
            for headers in ({}, {"HX-Request": "true"}):
                resp = page.request.get(url, headers=headers)
                where = f"{m.users[i]} {url} {headers}"
                assert resp.status in (200, 403, 404), where
                if resp.headers.get("content-type", "").startswith("application/pdf"):
                    continue
                html = resp.text()
                assert 'id="results"' not in html and 'id="result-' not in html, where
                assert "veto_votes" not in html and "data-tally" not in html, where
                item_id = next((x for x in (m.a, m.b) if url.endswith(f"/vote/{x}")), None)
                if item_id is not None and item_id in own[i]:
                    answers, vetoes = own[i][item_id]
                    assert checked_answers(html) == answers, where
                    assert {g or h for _, g, h in CHECKED_VETO.findall(html)} == set(vetoes), where
                else:
                    assert checked_answers(html) == {} and not CHECKED_VETO.search(html), where
                if url.endswith("/vote"):
                    assert html.count('data-voted="yes"') == len(own[i]), where
                if url.endswith("/results"):
                    assert 'id="not-announced"' in html, where
        # and the page they actually look at says only their own progress
        page.goto(f"/meetings/{m.id}/vote")
        expect(page.locator("#my-progress")).to_contain_text(f"{len(own[i])}")

    # the chair's page: present and ballots in per member, nothing more
    chair.goto(f"/meetings/{m.id}")
    progress = chair.locator("#meeting-progress")
    expect(progress.locator("li")).to_have_count(5)
    assert checked_answers(chair.content()) == {}

    # the count step, the close, and the announced results
    officer.goto(f"/meetings/{m.id}")
    officer.click("#step-form button[type=submit]")
    expect(officer.locator("#agenda li")).to_have_count(6)
    chair.goto(f"/meetings/{m.id}")
    chair.click("#close-form button[type=submit]")
    expect(chair.locator("#results-link")).to_be_visible()
    assert meeting_status(live_server, m.id) == "closed"
    phones[0].goto(f"/meetings/{m.id}/results")
    expect(phones[0].locator(f"#result-{m.a}")).to_be_visible()
    expect(phones[0].locator(f"#result-{m.b}")).to_be_visible()

    from fieldapp.ratings.models import ReviewItem

    def tallies():
        return {i.id: i.tally for i in db.session.query(ReviewItem).filter(ReviewItem.meeting_id == m.id)}
    tally = in_db(live_server, tallies)
    assert tally[m.a]["voters"] == 3 and tally[m.b]["voters"] == 4
    for code in rules.CHECKLIST:
        assert tally[m.b]["yes"][code] == sum(1 for i in range(4) if own[i][m.b][0][code] == "yes")
        assert tally[m.a]["yes"][code] == sum(1 for i in range(3) if own[i][m.a][0][code] == "yes")
