"""The objection workflow through the staff routes on a real database (W4 N-6..N-11, SD-1): complaints after the
window never block (N-7), an open objection blocks only its household (N-8), every decision has a written reason,
an upheld objection with a change is re-rated from the corrected file and approved by a second person, then
re-noticed on a supplement with the amended item (N-10); favouritism flags the meeting (N-11); only named objectors
get a reply letter, and the letter shows no unmasked name or phone (N-6, §4.3).
"""
from __future__ import annotations

import html
import subprocess
from datetime import datetime, time, timedelta

import sqlalchemy as sa

from fieldapp.core import clock
from fieldapp.core.audit import AuditEvent
from fieldapp.extensions import db
from fieldapp.households.models import Household
from fieldapp.notices import services
from fieldapp.notices.models import Notice, Objection
from fieldapp.ratings.models import Rating, ReviewMeeting
from fieldapp.visits.services import VisitInput, record_visit
from tests.conftest import HX, login
from tests.support.ratings import accept_file
from tests.support.routes_objections import CENTRE, board_photo, file, item_for, open_notice

MAKER_CHECKER = "You proposed this rating, so someone else must approve it (maker-checker)."
# SC-01 H23: the investigation finds a 60,000 private loan at 2 fen a month (24 %/yr), above the lawful cap
# A strong household (two working-age members, 600,000 assets, 150,000 verified income, a settled bank loan)
STRONG = dict(income=[(150000, "document")], assets=[("house", 600000)], debts=[{"balance": 0, "status": "settled"}])
PRIVATE_LOAN = {"kind": "private", "balance": 60000, "rate_value": 2, "rate_unit": "fen_month",
                "annual_rate": "0.24", "status": "normal", "flags": ["over_cap"]}


def text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def client_for(app, user):
    c = app.test_client()
    c.set_cookie("lang", "en")
    login(c, user)
    return c


def at_local(app, day, hour: int = 10) -> None:
    clock.set_now(app, datetime.combine(day, time(hour, 0), tzinfo=clock.LOCAL_TZ))


def fresh(model, id_):
    db.session.expire_all()
    return db.session.get(model, id_)


def item_status(notice, household) -> str:
    db.session.expire_all()
    return item_for(notice, household).status


def version(objection) -> str:
    return str(fresh(Objection, objection.id).version)


def decide(c, objection, **data):
    form = {"version": version(objection), "decision": "rejected", "reason": "经核实不属实"}
    form.update(data)
    return c.post(f"/objections/{objection.id}/decide", data=form)


def pdf_text(data: bytes) -> str:
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=data, capture_output=True, check=True)
    return out.stdout.decode("utf-8")


# ---------------------------------------------------------------- N-7, N-8

def test_a_late_objection_is_a_complaint_and_does_not_block(app, world):
    notice = open_notice(world)
    at_local(app, notice.ends_on + timedelta(days=2))  # SC-01 objection C: day 11, the window closed on day 9
    late = file(notice, world.h1, name=None, phone=None, grounds="other", text="迟到的意见")
    assert late.within_window is False and late.status == "received"
    officer = client_for(app, world.officer)
    body = text(officer.get(f"/notices/{notice.id}/objections"))
    assert "Complaint (after the window)" in body and late.receipt_no in body and "张三" in body
    notice = fresh(Notice, notice.id)  # closed on read of the list: the complaint blocks nothing
    assert notice.status == "finalised" and item_status(notice, world.h1) == "final"
    assert services.open_objections(item_for(notice, world.h1)) == []
    # still investigated and decided
    assert officer.post(f"/objections/{late.id}/investigate", data={"version": version(late), "notes": "已核实"}) \
        .status_code == 303
    assert decide(officer, late).status_code == 303
    assert fresh(Objection, late.id).status == "decided"


def test_an_open_objection_blocks_only_its_household_until_decided(app, world):
    notice = open_notice(world)
    objection = file(notice, world.h1)
    assert item_status(notice, world.h1) == "objected" and item_status(notice, world.h2) == "listed"
    at_local(app, notice.ends_on + timedelta(days=1))
    officer = client_for(app, world.officer)
    officer.get(f"/notices/{notice.id}/objections")  # closes on read
    notice = fresh(Notice, notice.id)
    assert notice.status == "closed"
    assert item_status(notice, world.h2) == "final" and item_status(notice, world.h1) == "objected"
    h1_rating = db.session.get(Rating, item_for(notice, world.h1).rating_id)
    assert h1_rating.status == "on_notice"
    # rejected: the household is released and becomes final; the notice is finalised
    assert decide(officer, objection, reason="经走访核实, 借款已结清").status_code == 303
    officer.get(f"/notices/{notice.id}/objections")
    notice = fresh(Notice, notice.id)
    assert item_status(notice, world.h1) == "final" and notice.status == "finalised"
    assert fresh(Rating, h1_rating.id).status == "final"


def test_a_decision_needs_a_written_reason(app, world):
    notice = open_notice(world)
    objection = file(notice, world.h1)
    officer = client_for(app, world.officer)
    for reason in ("", "   "):
        resp = decide(officer, objection, reason=reason)
        assert resp.status_code == 422
        assert "Every decision needs a written reason." in text(resp)
    resp = decide(officer, objection, decision="")
    assert resp.status_code == 422 and "Choose the decision." in text(resp)
    objection = fresh(Objection, objection.id)
    assert objection.status == "received" and objection.decision is None and objection.decision_reason is None
    assert item_status(notice, world.h1) == "objected"
    # a rejected objection cannot carry a re-rating
    resp = decide(officer, objection, decision="rejected", change="y")
    assert resp.status_code == 422 and fresh(Objection, objection.id).decision is None


# ---------------------------------------------------------------- N-10: upheld with a change

def test_upheld_with_a_change_is_rerated_approved_by_a_second_person_and_re_noticed(app, world):
    notice = open_notice(world, **STRONG)
    old = db.session.get(Rating, item_for(notice, world.h1).rating_id)
    objection = file(notice, world.h1, name="李举报", phone="13812345678", grounds="hidden_debt",
                     text="张三家欠别人6万块, 月息2分")
    officer, manager = client_for(app, world.officer), client_for(app, world.manager)

    # assigned to the owner of the household's grid by default
    page = text(officer.get(f"/objections/{objection.id}"))
    assert f'<option selected value="{world.officer.id}">{world.officer.name}</option>' in page
    assert manager.post(f"/objections/{objection.id}/assign", data={"version": version(objection)}).status_code == 303
    assert fresh(Objection, objection.id).assigned_to == world.officer.id

    # the investigation visit, linked to the objection
    visit = record_visit(db.session.get(Household, world.h1.id), world.officer,
                         VisitInput(purpose="dispute", outcome="done", notes="核实民间借款"))
    db.session.commit()
    resp = officer.post(f"/objections/{objection.id}/investigate",
                        data={"version": version(objection), "visit": str(visit.id), "notes": "借款属实"})
    assert resp.status_code == 303
    objection = fresh(Objection, objection.id)
    assert objection.status == "investigating" and objection.visit_id == visit.id

    # the officer corrects the file and the branch manager accepts it (the hint on the page), then decides
    assert "first correct the credit file" in text(officer.get(f"/objections/{objection.id}"))
    accept_file(world.h1, income=[], assets=[], debts=[PRIVATE_LOAN])
    assert fresh(Rating, old.id).status == "on_notice"  # accepting a file of a household on notice re-rates nothing
    resp = decide(officer, objection, decision="upheld", change="y", reason="核实有6万元民间借款, 月息2分, 超过法定上限")
    assert resp.status_code == 303, text(resp)[:2000]
    objection = fresh(Objection, objection.id)
    new = db.session.get(Rating, objection.rerating_id)
    assert objection.status == "decided" and objection.decision == "upheld"
    assert new.status == "reviewed" and new.replaces_id == old.id and new.proposed_by == world.officer.id
    # the corrected file's over-cap private loan costs points, grade and line (RT-4, RT-7)
    assert [code for code, _points in new.breakdown["deduction_items"]] == ["over_cap_private_loan"]
    assert new.final_score < old.final_score and new.grade != old.grade
    assert new.suggested_line_fen < old.effective_line_fen
    assert item_status(notice, world.h1) == "objected"  # still blocked until the re-rating is approved (N-8)
    body = text(officer.get(f"/objections/{objection.id}"))
    assert "Waiting for a branch manager's approval" in body and "Approve the re-rating" not in body
    assert officer.post(f"/objections/{objection.id}/approve", data={"version": version(objection)}) \
        .status_code == 403  # a grid officer never approves
    # the window ends meanwhile: h2 becomes final, h1 waits for the approval
    at_local(app, notice.ends_on + timedelta(days=1))
    manager.get(f"/notices/{notice.id}/objections")
    assert fresh(Notice, notice.id).status == "closed" and item_status(notice, world.h1) == "objected"

    # the branch manager approves: the supplement lists the amended item
    assert "Approve the re-rating" in text(manager.get(f"/objections/{objection.id}"))
    resp = manager.post(f"/objections/{objection.id}/approve", data={"version": version(objection), "comment": "同意"})
    assert resp.status_code == 303, text(resp)[:2000]
    old, new = fresh(Rating, old.id), fresh(Rating, new.id)
    assert old.status == "superseded" and new.status == "re_notice" and new.approved_by == world.manager.id
    assert item_status(notice, world.h1) == "changed"
    assert fresh(Notice, notice.id).status == "finalised"  # its last blocked item is settled
    supplement = db.session.scalar(sa.select(Notice).where(Notice.parent_id == notice.id))
    assert supplement.supplement and supplement.status == "draft" and supplement.duration_days == 3
    [amended] = supplement.items
    assert amended.amended and amended.household_id == world.h1.id and amended.rating_id == new.id
    assert amended.grade == new.effective_grade and amended.line_fen == new.effective_line_fen
    assert amended.display_name == "张*" and "更正为" in amended.amendment_note
    detail = text(manager.get(f"/objections/{objection.id}"))
    assert f'href="/notices/{supplement.id}"' in detail

    # the supplement is posted and opened like any notice; its public page marks the correction
    services.schedule(supplement)
    services.open_notice(supplement, user=world.secretary, photo=board_photo(), lat=CENTRE[0], lng=CENTRE[1],
                         accuracy_m=5.0)
    db.session.commit()
    public = app.test_client()
    public.set_cookie("lang", "en")
    body = text(public.get(f"/n/{supplement.public_token}"))
    assert "Supplementary notice" in body and "Corrected" in body and amended.amendment_note in body
    assert "张三" not in body
    body = text(public.get(f"/n/{notice.public_token}"))
    assert "Changed after an objection" in body and f'href="/n/{supplement.public_token}"' in body
    # the re-notice ends 3 days later: the new rating is final
    at_local(app, supplement.ends_on + timedelta(days=1))
    public.get(f"/n/{supplement.public_token}")
    assert fresh(Rating, new.id).status == "final" and fresh(Notice, supplement.id).status == "finalised"
    # the named objector reads the decision and its reason with the phone
    body = text(public.post("/n/status", data={"receipt": objection.receipt_no, "phone": "13812345678"}))
    assert "The objection was upheld." in body and "超过法定上限" in body


def test_the_proposer_of_the_rerating_cannot_approve_it(app, world):
    notice = open_notice(world)
    objection = file(notice, world.h1)
    manager, hq = client_for(app, world.manager), client_for(app, world.hq)
    assert decide(manager, objection, decision="partly", change="y", reason="部分属实").status_code == 303
    rerating = fresh(Rating, fresh(Objection, objection.id).rerating_id)
    assert rerating.proposed_by == world.manager.id
    page = text(manager.get(f"/objections/{objection.id}"))
    assert MAKER_CHECKER in page and "Approve the re-rating" not in page
    resp = manager.post(f"/objections/{objection.id}/approve", data={"version": version(objection)})
    assert resp.status_code == 403 and MAKER_CHECKER in text(resp)
    assert fresh(Rating, rerating.id).status == "reviewed" and item_status(notice, world.h1) == "objected"
    # head office (another person) may approve it
    assert hq.post(f"/objections/{objection.id}/approve", data={"version": version(objection)}).status_code == 303
    assert fresh(Rating, rerating.id).approved_by == world.hq.id and item_status(notice, world.h1) == "changed"


def test_favouritism_sets_the_committee_aside_and_flags_the_meeting(app, world):
    notice = open_notice(world)
    old = db.session.get(Rating, item_for(notice, world.h2).rating_id)
    assert old.meeting_id is not None
    objection = file(notice, world.h2, grounds="favouritism", text="评议时村干部替亲戚拉票")
    officer = client_for(app, world.officer)
    resp = decide(officer, objection, decision="upheld", change="y", favouritism="y",
                  reason="评议会上存在家族势力干预, 撤销评议结果由支行重新评分")
    assert resp.status_code == 303
    meeting = fresh(ReviewMeeting, old.meeting_id)
    assert meeting.flagged and objection.receipt_no in meeting.flag_reason
    objection = fresh(Objection, objection.id)
    rerating = db.session.get(Rating, objection.rerating_id)
    assert objection.favouritism and rerating.meeting_id is None  # re-scored by the branch, committee set aside
    assert "committee's result set aside" in text(officer.get(f"/objections/{objection.id}"))


# ---------------------------------------------------------------- N-6: replies

def test_a_rejected_anonymous_objection_keeps_its_reason_and_gets_no_reply_letter(app, world):
    notice = open_notice(world)
    anonymous = file(notice, world.h2, name=None, phone=None, grounds="bad_habits", text="他赌博")
    officer = client_for(app, world.officer)
    assert decide(officer, anonymous, reason="赌博一事查无实据").status_code == 303
    anonymous = fresh(Objection, anonymous.id)
    assert anonymous.status == "decided" and anonymous.decision == "rejected"
    assert anonymous.decision_reason == "赌博一事查无实据" and anonymous.decided_by == world.officer.id
    assert item_status(notice, world.h2) == "listed"
    body = text(officer.get(f"/objections/{anonymous.id}"))
    assert "Anonymous objection: no reply letter is sent" in body and "reply.pdf" not in body
    resp = officer.get(f"/objections/{anonymous.id}/reply.pdf")
    assert resp.status_code == 409 and resp.mimetype == "text/html"
    resp = officer.post(f"/objections/{anonymous.id}/replied",
                        data={"version": version(anonymous), "channel": "in_person",
                              "replied_on": clock.today().isoformat()})
    assert resp.status_code == 422 and "Anonymous objectors get no reply letter." in text(resp)
    assert fresh(Objection, anonymous.id).status == "decided"


def test_the_reply_letter_has_no_unmasked_name_or_phone_and_the_handover_is_recorded(app, world):
    notice = open_notice(world)
    named = file(notice, world.h1, name="李举报", phone="13812345678")
    officer, secretary = client_for(app, world.officer), client_for(app, world.secretary)
    assert decide(officer, named, reason="经走访核实, 借款已结清, 不影响评级").status_code == 303
    resp = secretary.get(f"/objections/{named.id}/reply.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    letter = pdf_text(resp.data)
    assert named.receipt_no in letter and "李*报" in letter and "张*" in letter
    assert "借款已结清" in letter and "0872-1234567" in letter
    for secret in ("李举报", "13812345678", "138****5678", "张三", "单田芳"):
        assert secret not in letter, secret
    assert fresh(Objection, named.id).reply_printed_at is not None
    assert db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "print", AuditEvent.entity_type == "Objection",
        AuditEvent.entity_id == str(named.id))) is not None
    resp = secretary.post(f"/objections/{named.id}/replied",
                          data={"version": "1", "channel": "secretary", "replied_on": clock.today().isoformat()})
    assert resp.status_code == 303
    named = fresh(Objection, named.id)
    assert named.status == "replied" and named.reply_channel == "secretary" and named.replied_at is not None
    assert "Decided and answered" in text(secretary.get(f"/objections/{named.id}"))


# ---------------------------------------------------------------- the village secretary, withdrawal, conflicts

def test_the_secretary_records_a_paper_objection_for_their_village_only(app, world):
    notice = open_notice(world)
    item = item_for(notice, world.h2)
    secretary = client_for(app, world.secretary)
    page = text(secretary.get(f"/notices/{notice.id}/objections"))
    assert "Record a paper or oral objection" in page and "单田芳" in page
    data = {"received_via": "paper", "received_on": clock.today().isoformat(), "item": str(item.id),
            "identity": "named", "name": "王大爷", "phone": "", "relation": "neighbour", "grounds": "false_income",
            "text": "收入没有那么多", "idem_key": "paper-objection-0001"}
    resp = secretary.post(f"/notices/{notice.id}/objections", data=data)
    assert resp.status_code == 303
    again = secretary.post(f"/notices/{notice.id}/objections", data=data)  # a double tap
    assert again.status_code == 303 and again.headers["Location"] == resp.headers["Location"]
    [row] = db.session.scalars(sa.select(Objection)).all()
    assert row.received_via == "paper" and row.recorded_by == world.secretary.id and row.within_window
    assert row.objector_name == "王大爷" and item_status(notice, world.h2) == "objected"
    assert resp.headers["Location"] == f"/objections/{row.id}"
    # a secretary of another village sees none of it
    other = open_notice(world, village=world.v2, households=[world.h3])
    assert secretary.get(f"/notices/{other.id}/objections").status_code == 404
    assert secretary.get(f"/objections/{row.id}").status_code == 200


def test_a_withdrawn_objection_releases_its_household(app, world):
    notice = open_notice(world)
    objection = file(notice, world.h1)
    officer = client_for(app, world.officer)
    resp = officer.post(f"/objections/{objection.id}/withdraw", data={"version": version(objection), "note": ""})
    assert resp.status_code == 422
    resp = officer.post(f"/objections/{objection.id}/withdraw",
                        data={"version": version(objection), "note": "本人来电撤回"})
    assert resp.status_code == 303
    objection = fresh(Objection, objection.id)
    assert objection.status == "withdrawn" and objection.withdrawn_at is not None
    assert "本人来电撤回" in objection.investigation_notes
    assert item_status(notice, world.h1) == "listed"


def test_a_stale_form_gets_409_with_the_other_change(app, world):
    notice = open_notice(world)
    objection = file(notice, world.h1)
    officer, manager = client_for(app, world.officer), client_for(app, world.manager)
    stale = version(objection)
    assert manager.post(f"/objections/{objection.id}/investigate",
                        data={"version": stale, "notes": "支行长先看过"}).status_code == 303
    resp = officer.post(f"/objections/{objection.id}/decide",
                        data={"version": stale, "decision": "rejected", "reason": "不属实"}, headers=HX)
    assert resp.status_code == 409
    body = text(resp)
    assert "Someone else changed this objection meanwhile" in body and "支行长先看过" in body
    assert fresh(Objection, objection.id).decision is None


def test_everything_is_audited(app, world):
    notice = open_notice(world)
    objection = file(notice, world.h1)
    officer = client_for(app, world.officer)
    decide(officer, objection, reason="不属实")
    events = list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.entity_type == "objections",
                                                                 AuditEvent.entity_id == str(objection.id))))
    actions = [e.action for e in events]
    assert "create" in actions and "transition" in actions  # filed, then decided
    for e in events:  # the phone and the objector's name are never stored in clear
        assert "13812345678" not in str(e.changes) and "李举报" not in str(e.changes)
