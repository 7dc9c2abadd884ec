"""The village review meeting (评议会, issue 5 item 3): quorum, composition, recusals, back-to-back secrecy, tally,
close, read-only afterwards, idempotent scheduling and stale forms, through the real web stack.

Meetings are built with tests/support/ratings.make_meeting (meetings.py use cases on real accepted files); every
step under test goes through HTTP. Pages are read in English (lang cookie) so messages can be matched.
"""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from fieldapp.core.idempotency import new_key
from fieldapp.extensions import db
from fieldapp.ratings import rules
from fieldapp.ratings.models import Ballot, Rating, Recusal, ReviewItem, ReviewMeeting
from tests.conftest import HX, login
from tests.support.ratings import ballot, ballot_form, make_meeting, proposed_household, village_user


def _en(client, user):
    login(client, user)
    client.set_cookie("lang", "en")
    return client


def _as(app, user):
    return _en(app.test_client(), user)


def _meeting(mid: int) -> ReviewMeeting:
    db.session.expire_all()
    return db.session.get(ReviewMeeting, mid)


def _phones(meeting: ReviewMeeting) -> list:
    """The present members voting on a phone, with their users, in seat order."""
    from fieldapp.accounts.models import User
    return [(m, db.session.get(User, m.user_id)) for m in meeting.members if m.present and m.user_id]


def _post(client, url, data=None, **kw):
    return client.post(url, data=data or {}, **kw)


def _main(html: str) -> str:
    return html[html.index("<main"):html.index("</main>")]


def _record_count_step(app, meeting, user):
    c = _as(app, user)
    resp = _post(c, f"/meetings/{meeting.id}/agenda", {"step": "count", "version": str(_meeting(meeting.id).version)})
    assert resp.status_code == 303, _main(resp.get_data(as_text=True))


# ---------------------------------------------------------------- schedule

def test_scheduling_is_idempotent_and_lists_only_proposed_households(app, client, world):
    h_ok = proposed_household(world.v1, head="已提议户")
    _en(client, world.officer)
    page = client.get(f"/villages/{world.v1.id}/meetings/new")
    assert page.status_code == 200 and world.secretary.name in page.get_data(as_text=True)
    key = new_key()
    data = {"held_on": "2025-03-01", "location": "村委会", "mode": "phones", "chair": str(world.secretary.id),
            "idem_key": key}
    first = client.post(f"/villages/{world.v1.id}/meetings/new", data=data)
    again = client.post(f"/villages/{world.v1.id}/meetings/new", data=data)
    assert first.status_code == 303 and again.status_code == 303
    assert again.headers["Location"] == first.headers["Location"]
    meetings = list(db.session.scalars(sa.select(ReviewMeeting)))
    assert len(meetings) == 1
    m = meetings[0]
    # h1/h2 have no accepted file, hence no proposal (RV-5): only the proposed household is on the list
    assert [i.household_id for i in m.items] == [h_ok.id]
    assert m.officer_user_id == world.officer.id and m.chair_user_id == world.secretary.id
    # a chair who is not a village secretary of the village is refused
    bad = dict(data, chair=str(world.panel.id), idem_key=new_key())
    assert client.post(f"/villages/{world.v1.id}/meetings/new", data=bad).status_code == 422
    # refresh adds a household proposed later, once
    h_late = proposed_household(world.v1, head="后提议户")
    resp = client.post(f"/meetings/{m.id}/refresh", data={"version": str(_meeting(m.id).version)})
    assert resp.status_code == 303
    assert {i.household_id for i in _meeting(m.id).items} == {h_ok.id, h_late.id}


def test_village_page_links_to_meetings(app, client, world):
    _en(client, world.secretary)
    html = client.get(f"/villages/{world.v1.id}").get_data(as_text=True)
    assert f"/villages/{world.v1.id}/meetings" in html


# ---------------------------------------------------------------- quorum and composition (RV-1, RV-2)

def test_quorum_three_of_five_refused_four_of_five_opens(app, world):
    m = make_meeting(world, present=3, open_voting=False)
    chair = _as(app, world.secretary)
    resp = _post(chair, f"/meetings/{m.id}/open", {"version": str(m.version)})
    assert resp.status_code == 422
    assert "Not enough members are present: 4 of 5 must attend, 3 are here." in resp.get_data(as_text=True)
    assert _meeting(m.id).status == "scheduled"
    officer = _as(app, world.officer)
    four = [str(x.id) for x in _meeting(m.id).members[:4]]
    resp = _post(officer, f"/meetings/{m.id}/attendance", {"present": four, "version": str(_meeting(m.id).version)})
    assert resp.status_code == 303
    resp = _post(chair, f"/meetings/{m.id}/open", {"version": str(_meeting(m.id).version)})
    assert resp.status_code == 303, _main(resp.get_data(as_text=True))
    m = _meeting(m.id)
    assert (m.status, m.quorum_needed, m.present_count) == ("voting", 4, 4)
    assert m.opened_at is not None and [e["step"] for e in m.agenda][-1] == "vote"


@pytest.mark.parametrize("seats, expected", [
    ([("committee", True), ("representative", False), ("elder", False), ("representative", False)],
     ["at least 5 members"]),
    ([("representative", False)] * 4 + [("elder", True)], ["a member of the village committees"]),
    ([("committee", False)] * 3 + [("representative", False), ("elder", False)], ["a party member"]),
    ([("committee", True), ("party_centre", False), ("committee", False), ("stationed", False),
      ("party_centre", False)], ["a villager representative or an elder"]),
])
def test_composition_refusals(app, world, seats, expected, monkeypatch):
    from tests.support import ratings as support
    monkeypatch.setattr(support, "MEETING_SEATS", tuple(seats))
    m = make_meeting(world, seats=len(seats), present=len(seats), open_voting=False)
    resp = _post(_as(app, world.secretary), f"/meetings/{m.id}/open", {"version": str(m.version)})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    for text in expected:
        assert text in html
    assert _meeting(m.id).status == "scheduled"


def test_agenda_steps_in_order_and_open_needs_them(app, world):
    m = make_meeting(world, agenda=False, open_voting=False)
    officer = _as(app, world.officer)
    resp = _post(officer, f"/meetings/{m.id}/agenda", {"step": "adopt_method", "version": str(m.version)})
    assert resp.status_code == 422 and "in order" in resp.get_data(as_text=True)
    chair = _as(app, world.secretary)
    resp = _post(chair, f"/meetings/{m.id}/open", {"version": str(_meeting(m.id).version)})
    assert resp.status_code == 422 and "Record the agenda first" in resp.get_data(as_text=True)
    for step in ("publicise", "explain_method", "adopt_method", "applicants_speak"):
        resp = _post(officer, f"/meetings/{m.id}/agenda", {"step": step, "version": str(_meeting(m.id).version)})
        assert resp.status_code == 303
    agenda = _meeting(m.id).agenda
    assert [e["step"] for e in agenda] == ["publicise", "explain_method", "adopt_method", "applicants_speak"]
    assert all(e["by"] == world.officer.id and e["at"] for e in agenda)
    assert _post(chair, f"/meetings/{m.id}/open", {"version": str(_meeting(m.id).version)}).status_code == 303


def test_only_the_chair_opens_and_closes(app, world):
    m = make_meeting(world, open_voting=False)
    other_secretary = village_user(world.v1, "village_secretary", name="副书记")
    resp = _post(_as(app, other_secretary), f"/meetings/{m.id}/open", {"version": str(m.version)})
    assert resp.status_code == 403
    assert _post(_as(app, world.officer), f"/meetings/{m.id}/open", {"version": str(m.version)}).status_code == 403
    assert _meeting(m.id).status == "scheduled"


def test_tellers_must_be_two_different_people(app, world):
    m = make_meeting(world, tellers=False, open_voting=False)
    officer = _as(app, world.officer)
    resp = _post(officer, f"/meetings/{m.id}/tellers", {"monitor": "王五", "counter": "王五", "version": str(m.version)})
    assert resp.status_code == 422 and "two different people" in resp.get_data(as_text=True)
    resp = _post(officer, f"/meetings/{m.id}/tellers", {"monitor": "王五", "counter": "赵六", "version": str(m.version)})
    assert resp.status_code == 303
    assert (_meeting(m.id).monitor_name, _meeting(m.id).counter_name) == ("王五", "赵六")


# ---------------------------------------------------------------- voting, recusal, tally, close

def _vote(app, user, meeting_id, item_id, answers, vetoes=(), version=0):
    return _post(_as(app, user), f"/meetings/{meeting_id}/vote/{item_id}", ballot_form(answers, vetoes, version))


def test_recusal_removes_the_member_from_that_items_denominator(app, world):
    m = make_meeting(world, households=2, open_voting=False)
    item_a, item_b = m.items
    panel_seat = next(s for s in m.members if s.user_id == world.panel.id)
    officer = _as(app, world.officer)
    resp = _post(officer, f"/meetings/{m.id}/recusals", {
        "member": str(panel_seat.id), "household": str(item_a.household_id), "relation": "sibling",
        "idem_key": new_key()})
    assert resp.status_code == 303, _main(resp.get_data(as_text=True))
    # "other" needs a note
    resp = _post(officer, f"/meetings/{m.id}/recusals", {
        "member": str(panel_seat.id), "household": str(item_b.household_id), "relation": "other",
        "idem_key": new_key()})
    assert resp.status_code == 422
    assert _post(_as(app, world.secretary), f"/meetings/{m.id}/open",
                 {"version": str(_meeting(m.id).version)}).status_code == 303

    panel = _as(app, world.panel)
    vote_list = panel.get(f"/meetings/{m.id}/vote").get_data(as_text=True)
    assert f"/vote/{item_a.id}" not in vote_list and f"/vote/{item_b.id}" in vote_list
    assert "You stepped aside" in vote_list
    refused = _vote(app, world.panel, m.id, item_a.id, ballot())
    assert refused.status_code == 403 and "stepped aside" in refused.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Ballot.id)).where(Ballot.item_id == item_a.id)) == 0

    phones = _phones(_meeting(m.id))
    for _seat, user in phones:
        if user.id != world.panel.id:
            assert _vote(app, user, m.id, item_a.id, ballot()).status_code == 303
        assert _vote(app, user, m.id, item_b.id, ballot()).status_code == 303
    # a recusal during voting, after the member voted on the household, is refused
    secretary_seat = next(s for s in _meeting(m.id).members if s.user_id == world.secretary.id)
    resp = _post(officer, f"/meetings/{m.id}/recusals", {
        "member": str(secretary_seat.id), "household": str(item_b.household_id), "relation": "spouse",
        "idem_key": new_key()})
    assert resp.status_code == 422 and "already voted" in resp.get_data(as_text=True)

    _record_count_step(app, m, world.officer)
    resp = _post(_as(app, world.secretary), f"/meetings/{m.id}/close", {"version": str(_meeting(m.id).version)})
    assert resp.status_code == 303, _main(resp.get_data(as_text=True))
    db.session.expire_all()
    a, b = db.session.get(ReviewItem, item_a.id), db.session.get(ReviewItem, item_b.id)
    assert (a.tally["voters"], a.tally["eligible"]) == (3, 3)  # 4 present, 1 recused
    assert (b.tally["voters"], b.tally["eligible"]) == (4, 4)
    assert a.tally["yes"] == {code: 3 for code in rules.CHECKLIST}


def test_tally_after_close_equals_what_was_cast_and_rescores(app, world):
    m = make_meeting(world, households=2)
    item_a, item_b = m.items
    phones = _phones(m)
    assert len(phones) == 4
    cast = [  # (answers on A, vetoes on A)
        (ballot("yes", has_project="no"), ["vice"]),
        (ballot("yes", has_project="abstain", neighbourly="no"), ["vice"]),
        (ballot("no", law_abiding="yes"), ["vice", "idleness"]),
        (ballot("yes"), []),
    ]
    for (answers, vetoes), (_seat, user) in zip(cast, phones):
        assert _vote(app, user, m.id, item_a.id, answers, vetoes).status_code == 303
        assert _vote(app, user, m.id, item_b.id, ballot("yes")).status_code == 303
    _record_count_step(app, m, world.officer)
    chair = _as(app, world.secretary)
    assert _post(chair, f"/meetings/{m.id}/close", {"version": str(_meeting(m.id).version)}).status_code == 303
    m = _meeting(m.id)
    assert m.status == "closed" and m.closed_at is not None and m.agenda[-1]["step"] == "announce"
    a = db.session.get(ReviewItem, item_a.id)
    want = {code: sum(1 for answers, _v in cast if answers[code] == "yes") for code in rules.CHECKLIST}
    assert a.tally["yes"] == want and a.tally["voters"] == 4
    assert a.tally["veto_votes"] == {"vice": 3, "idleness": 1, "usurer": 0}
    assert a.tally["vetoes"] == ["vice"]  # 3 of 4 eligible: a majority; idleness 1 of 4 is not
    rating_a = db.session.get(Rating, a.rating_id)
    assert rating_a.status == "not_rated" and rating_a.meeting_id == m.id and rating_a.suggested_line_fen == 0
    b = db.session.get(ReviewItem, item_b.id)
    rating_b = db.session.get(Rating, b.rating_id)
    assert rating_b.status == "reviewed"
    character = next(i for i in rating_b.breakdown["indicators"] if i["code"] == "character")
    assert character["points"] == "10.0" and not character["pending"]
    # the announced results page shows the counts and the resulting grade
    html = _as(app, world.officer).get(f"/meetings/{m.id}/results").get_data(as_text=True)
    assert f'id="result-{item_a.id}"' in html
    assert f"Abides by the law: {want['law_abiding']}" in html
    assert "Gambling, drugs or prostitution" in html


def test_close_needs_tellers_count_step_and_votes(app, world):
    m = make_meeting(world, households=1, tellers=False)
    chair = _as(app, world.secretary)
    resp = _post(chair, f"/meetings/{m.id}/close", {"version": str(m.version)})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "Name the vote monitor and the vote counter" in html and "no votes yet" in html
    assert _meeting(m.id).status == "voting"


def test_non_members_and_absent_members_cannot_vote(app, world):
    m = make_meeting(world, households=1)
    item = m.items[0]
    outsider = village_user(world.v1, "panel_member", name="旁听者")
    c = _as(app, outsider)
    assert c.get(f"/meetings/{m.id}/vote").status_code == 404
    assert _vote(app, outsider, m.id, item.id, ballot()).status_code == 404
    # the meeting page shows an outsider panel member no household
    assert "评议户" not in _main(c.get(f"/meetings/{m.id}").get_data(as_text=True))
    absent_user = village_user(world.v1, "panel_member", name="缺席者")
    m2 = make_meeting(world, households=1,
                      phone_users=[world.secretary, world.panel, village_user(world.v1), village_user(world.v1),
                                   absent_user])
    resp = _vote(app, absent_user, m2.id, m2.items[0].id, ballot())
    assert resp.status_code == 403 and "not recorded as present" in resp.get_data(as_text=True)
    # the chair of another meeting, the officer and the manager have no vote page
    assert _as(app, world.officer).get(f"/meetings/{m.id}/vote").status_code == 403


def test_revote_replaces_own_ballot_and_stale_form_is_409(app, world):
    m = make_meeting(world, households=1)
    item = m.items[0]
    assert _vote(app, world.panel, m.id, item.id, ballot("yes")).status_code == 303
    # a second screen still holding version 0
    stale = _vote(app, world.panel, m.id, item.id, ballot("no"), version=0)
    assert stale.status_code == 409
    html = stale.get_data(as_text=True)
    assert "Your saved vote" in html and "Abides by the law: Yes" in html
    saved = db.session.scalar(sa.select(Ballot).where(Ballot.item_id == item.id))
    resp = _vote(app, world.panel, m.id, item.id, ballot("no"), version=saved.version)
    assert resp.status_code == 303
    db.session.expire_all()
    ballots = list(db.session.scalars(sa.select(Ballot).where(Ballot.item_id == item.id)))
    assert len(ballots) == 1 and set(ballots[0].answers.values()) == {"no"}


def test_stale_meeting_form_is_409_showing_the_other_change(app, world):
    m = make_meeting(world, open_voting=False, tellers=False)
    old = str(m.version)
    officer, manager = _as(app, world.officer), _as(app, world.manager)
    assert _post(manager, f"/meetings/{m.id}/tellers",
                 {"monitor": "先到的监票", "counter": "先到的计票", "version": old}).status_code == 303
    resp = _post(officer, f"/meetings/{m.id}/tellers", {"monitor": "后到的监票", "counter": "后到的计票", "version": old})
    assert resp.status_code == 409
    html = resp.get_data(as_text=True)
    assert "先到的监票" in html and 'id="conflict"' in html
    assert _meeting(m.id).monitor_name == "先到的监票"


def test_read_only_after_close(app, world):
    m = make_meeting(world, households=1)
    item = m.items[0]
    for _seat, user in _phones(m):
        assert _vote(app, user, m.id, item.id, ballot()).status_code == 303
    _record_count_step(app, m, world.officer)
    chair = _as(app, world.secretary)
    assert _post(chair, f"/meetings/{m.id}/close", {"version": str(_meeting(m.id).version)}).status_code == 303
    m = _meeting(m.id)
    before = (m.version, dict(db.session.get(ReviewItem, item.id).tally))
    v = str(m.version)
    seat = m.members[0]
    officer = _as(app, world.officer)
    posts = [
        (officer, f"/meetings/{m.id}/refresh", {"version": v}),
        (officer, f"/meetings/{m.id}/members", {"name": "迟到者", "role": "elder", "idem_key": new_key()}),
        (officer, f"/meetings/{m.id}/members/{seat.id}/remove", {}),
        (officer, f"/meetings/{m.id}/attendance", {"present": [str(seat.id)], "version": v}),
        (officer, f"/meetings/{m.id}/recusals", {"member": str(seat.id), "household": str(item.household_id),
                                                  "relation": "spouse", "idem_key": new_key()}),
        (officer, f"/meetings/{m.id}/tellers", {"monitor": "甲", "counter": "乙", "version": v}),
        (officer, f"/meetings/{m.id}/agenda", {"step": "announce", "version": v}),
        (officer, f"/meetings/{m.id}/cancel", {"version": v}),
        (chair, f"/meetings/{m.id}/open", {"version": v}),
        (chair, f"/meetings/{m.id}/close", {"version": v}),
        (chair, f"/meetings/{m.id}/paper/{item.id}", {"voters": "4", "version": v}),
        (_as(app, world.panel), f"/meetings/{m.id}/vote/{item.id}", ballot_form(ballot("no"), version=1)),
    ]
    for client, url, data in posts:
        resp = _post(client, url, data)
        assert resp.status_code in (409, 422), (url, resp.status_code)
        assert 'role="alert"' in resp.get_data(as_text=True), url
    m = _meeting(m.id)
    assert (m.version, db.session.get(ReviewItem, item.id).tally) == before and m.status == "closed"
    assert db.session.scalar(sa.select(sa.func.count(Recusal.id))) == 0


def test_cancel_while_scheduled(app, world):
    m = make_meeting(world, open_voting=False)
    assert _post(_as(app, world.officer), f"/meetings/{m.id}/cancel", {"version": str(m.version)}).status_code == 303
    assert _meeting(m.id).status == "cancelled"


# ---------------------------------------------------------------- paper mode

def test_paper_sheet_and_tally(app, world):
    m = make_meeting(world, households=1, mode="paper")
    item = m.items[0]
    officer = _as(app, world.officer)
    pdf = officer.get(f"/meetings/{m.id}/sheet.pdf")
    assert pdf.status_code == 200 and pdf.data[:4] == b"%PDF" and pdf.mimetype == "application/pdf"
    html = officer.get(f"/meetings/{m.id}/sheet.pdf?format=html").get_data(as_text=True)
    assert 'class="internal"' in html and "评议户" in html
    from fieldapp.households.models import Member
    ids = [n for n in db.session.scalars(sa.select(Member.id_number).where(
        Member.household_id == item.household_id)) if n]
    assert ids and not any(n in html or n[-4:] in html for n in ids)
    chair = _as(app, world.secretary)
    url = f"/meetings/{m.id}/paper/{item.id}"
    assert chair.get(url).status_code == 200
    assert _as(app, world.officer).get(url).status_code == 403
    counts = {f"yes_{c}": str(i % 5) for i, c in enumerate(rules.CHECKLIST)}
    too_many = dict(counts, voters="3", yes_law_abiding="4", veto_vice="0", veto_idleness="0", veto_usurer="0",
                    version=str(m.version))
    resp = _post(chair, url, too_many)
    assert resp.status_code == 422 and "between 0 and the number of voters" in resp.get_data(as_text=True)
    resp = _post(chair, url, dict(counts, voters="5", veto_vice="0", veto_idleness="0", veto_usurer="0",
                                  version=str(m.version)))
    assert resp.status_code == 422  # 4 present and not recused
    good = dict(counts, voters="4", veto_vice="3", veto_idleness="2", veto_usurer="0", version=str(m.version))
    assert _post(chair, url, good).status_code == 303
    # the chair's own page never shows what was entered
    again = chair.get(url).get_data(as_text=True)
    assert 'value="3"' not in again.split('id="paper-form"')[1].split("veto_vice")[1][:200]
    _record_count_step(app, m, world.officer)
    assert _post(chair, f"/meetings/{m.id}/close", {"version": str(_meeting(m.id).version)}).status_code == 303
    tally = db.session.get(ReviewItem, item.id).tally
    assert tally["voters"] == 4 and tally["yes"] == {c: i % 5 for i, c in enumerate(rules.CHECKLIST)}
    assert tally["vetoes"] == ["vice"]  # 3 of 4; idleness 2 of 4 is not more than half


# ---------------------------------------------------------------- 背靠背: nothing leaks before the close

def _meeting_get_urls(app, meeting, items) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if getattr(view, "__module__", "") != "fieldapp.ratings.meeting_views" or "GET" not in rule.methods:
            continue
        values = {"village_id": meeting.village_id, "meeting_id": meeting.id}
        targets = [dict(values, item_id=i.id) for i in items] if "item_id" in rule.arguments else [values]
        for v in targets:
            url = rule.rule
            for name, value in v.items():
                url = url.replace(f"<int:{name}>", str(value))
            urls.append(url)
            if url.endswith("sheet.pdf"):
                urls.append(url + "?format=html")
    return sorted(urls)


CHECKED_Q = re.compile(r'<input[^>]*checked[^>]*name="q_(\w+)"[^>]*value="(\w+)"|'
                       r'<input[^>]*name="q_(\w+)"[^>]*value="(\w+)"[^>]*checked')
TALLY_TEXT = re.compile(r"(Abides by the law|Harmonious family|Has a project to earn a living): \d")


def _checked(html: str) -> dict:
    found = {}
    for m in CHECKED_Q.finditer(html):
        code, value = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        found[code] = value
    return found


def test_secrecy_no_page_shows_another_members_vote_or_any_tally_before_close(app, world):
    m = make_meeting(world, households=2)
    item_a, item_b = m.items
    phones = _phones(m)
    # distinctive ballots: member i answers "no" on a different question, each flags a different veto or none
    own: dict[int, dict[int, dict]] = {}
    votes_on_b = {0, 1}  # only the first two vote on B, so "voted" marks differ per member
    for i, (_seat, user) in enumerate(phones):
        answers = ballot("yes", **{rules.CHECKLIST[i]: "no", rules.CHECKLIST[i + 4]: "abstain"})
        vetoes = [rules.COMMITTEE_VETOES[i]] if i < 3 else []
        assert _vote(app, user, m.id, item_a.id, answers, vetoes).status_code == 303
        own[user.id] = {item_a.id: (answers, vetoes)}
        if i in votes_on_b:
            answers_b = ballot("abstain", **{rules.CHECKLIST[-1 - i]: "yes"})
            assert _vote(app, user, m.id, item_b.id, answers_b).status_code == 303
            own[user.id][item_b.id] = (answers_b, [])
    assert db.session.scalar(sa.select(sa.func.count(Ballot.id))) == 6

    m = _meeting(m.id)
    urls = _meeting_get_urls(app, m, [item_a, item_b])
    assert len(urls) >= 8
    viewers = [u for _s, u in phones] + [world.officer, world.manager, world.hq, world.auditor]
    for user in viewers:
        client = _as(app, user)
        mine = own.get(user.id, {})
        for url in urls + ["/audit"]:
            for headers in ({}, HX):
                resp = client.get(url, headers=headers)
                where = f"{user.username} {url} {'HX' if headers else 'full'}"
                assert resp.status_code in (200, 403, 404), where
                if resp.mimetype == "application/pdf":
                    continue
                html = resp.get_data(as_text=True)
                assert not TALLY_TEXT.search(html), where
                assert 'id="results"' not in html and "result-" not in html, where
                assert "Tally entered" not in html and "veto_votes" not in html, where
                checked = _checked(html)
                item_id = next((i.id for i in (item_a, item_b) if url.endswith(f"/vote/{i.id}")), None)
                if item_id is not None and item_id in mine:
                    assert checked == mine[item_id][0], where  # only their own answers, prefilled
                    for code in rules.COMMITTEE_VETOES:
                        is_checked = re.search(rf'<input[^>]*(checked[^>]*name="veto_{code}"|name="veto_{code}"'
                                               rf'[^>]*checked)', html) is not None
                        assert is_checked == (code in mine[item_id][1]), where
                else:
                    assert checked == {}, where
                    assert not re.search(r'name="veto_\w+"[^>]*checked|checked[^>]*name="veto_', html), where
                if url.endswith("/vote") and mine:
                    main = _main(html) if not headers else html
                    assert main.count(">voted<") == len(mine), where
                    assert f"You have voted on {len(mine)} of 2 households." in main, where
                if url == "/audit":
                    assert "has_project" not in html and "law_abiding" not in html, where
    # a voting member sees no one else's progress; the chair sees per member only present and ballots in
    panel_html = _as(app, world.panel).get(f"/meetings/{m.id}").get_data(as_text=True)
    assert "submitted " not in panel_html
    chair_html = _as(app, world.secretary).get(f"/meetings/{m.id}").get_data(as_text=True)
    for i, (_seat, user) in enumerate(phones):
        assert f"submitted {2 if i in votes_on_b else 1}/2" in chair_html
