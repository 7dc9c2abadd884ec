"""The rating page ("why this grade"), its printed copy, maker-checker override and approval (SD-1, SD-4, RT-9),
the approvals queue and bonus recommendations (RT-3), through the real routes on a real database.

Ratings are made with the real services (accepted file -> propose -> a closed meeting's tally); every expected figure
is read from the rating's own breakdown or the model, never typed in.
"""
from __future__ import annotations

import html
import re
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as translate

from fieldapp.core.audit import AuditEvent
from fieldapp.core.masking import mask_id_number
from fieldapp.core.money import format_yuan
from fieldapp.extensions import db
from fieldapp.households.models import Member
from fieldapp.ratings import rules, services
from fieldapp.ratings.models import BonusRecommendation, Rating, ScoringModel
from tests.conftest import HX, login
from tests.support.ratings import accept_file
from tests.support.routes_ratings import reviewed_rating, set_birth_dates

SELF_APPROVAL = "You proposed this rating, so someone else must approve it (maker-checker)."
OWN_OVERRIDE = "You asked for this override, so someone else must approve it (maker-checker)."
NO_REASON = "An override of the grade or the line needs a written reason."
OVER_AUTHORITY = "This credit line is above the branch's approval authority: head office must approve it."
# A strong household: two working-age members, 600,000 assets, 150,000 verified income, a settled bank loan.
STRONG = dict(income=[(150000, "document")], assets=[("house", 600000)],
              debts=[{"balance": 0, "status": "settled"}])


def text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def client_for(app, user, lang: str = "en"):
    c = app.test_client()
    c.set_cookie("lang", lang)
    login(c, user)
    return c


def fresh(rating_id: int) -> Rating:
    db.session.expire_all()
    return db.session.get(Rating, rating_id)


def yuan(fen: int) -> str:
    return f"{format_yuan(fen)} yuan"


def shown(points) -> str:
    """Points as the page prints them: "15", "7.5"."""
    d = rules._num(points)
    return f"{d.normalize():f}" if d == d.to_integral_value() else str(d)


def events(action: str, rating_id: int) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == action, AuditEvent.entity_type == "Rating", AuditEvent.entity_id == str(rating_id))))


# ---------------------------------------------------------------- why this grade

def test_why_page_shows_each_indicators_points_with_the_facts_behind_them(app, world):
    rating = reviewed_rating(world.h1, world.officer, yes=4, voters=5, **STRONG)
    body = text(client_for(app, world.officer).get(f"/ratings/{rating.id}"))
    b = rating.breakdown
    for item in b["indicators"]:
        section = body.split(f'id="indicator-{item["code"]}"')[1].split("</li>")[0]
        assert f"{shown(item['points'])} of {item['max_points']} points" in section, item
        assert rules.INDICATOR_LABELS[item["code"]] in section
    income = next(i for i in b["indicators"] if i["code"] == "income")["facts"]
    assert yuan(income["net_income_fen"]) in body.split('id="indicator-income"')[1].split("</li>")[0]
    family = body.split('id="indicator-family"')[1].split("</li>")[0]
    assert "张三" in family and "李四妹" in family  # the working-age members named
    character = body.split('id="indicator-character"')[1].split("</li>")[0]
    assert "48 of 60" in character  # 4 of 5 voters said yes on each of 12 items
    summary = body.split('id="rating-summary"')[1].split("</dl>")[0]
    assert rules.GRADE_LABELS[rating.grade] in summary and shown(rating.final_score) in summary
    assert yuan(rating.suggested_line_fen) in body
    assert "the lowest: this one sets the line" in body
    assert "model v" not in body and "version %d" % rating.model_version in body
    assert f'href="/meetings/{rating.meeting_id}"' in body
    assert "李网格" in body  # the proposer


def test_which_line_term_binds_is_marked(app, world):
    # 30,000 income: 2 x 30,000 - 0 = 60,000 is below the grade cap of a "fair" household
    rating = reviewed_rating(world.h1, world.officer, income=[(30000, "document")], assets=[("house", 600000)],
                             debts=[{"balance": 0, "status": "settled"}])
    body = text(client_for(app, world.officer).get(f"/ratings/{rating.id}"))
    line = body.split('id="rating-line"')[1].split("</ul>")[0]
    parts = rating.breakdown["line_parts"]
    terms = {"grade": parts["grade_cap_fen"], "product": parts["product_cap_fen"],
             "income": parts["income_formula_fen"]}
    lowest = min(terms.values())
    items = line.split("<li>")[1:]
    assert len(items) == 3
    for item, fen in zip(items, terms.values()):
        assert yuan(fen) in item
        assert ("this one sets the line" in item) == (fen == lowest)


def test_deductions_and_vetoes_are_shown_with_their_reasons(app, world):
    rating = reviewed_rating(world.h1, world.officer, debts=[{"balance": 20000, "status": "overdue"}],
                             negative=["arrears"])
    assert rating.vetoes == ["arrears"] and rating.grade == "not_rated"
    body = text(client_for(app, world.officer).get(f"/ratings/{rating.id}"))
    deductions = body.split('id="rating-deductions"')[1].split("</ul>")[0]
    for code, points in rating.breakdown["deduction_items"]:
        assert rules.DEDUCTION_LABELS[code] in deductions and f"−{points}" in deductions
    assert "overdue_episode" in [code for code, _ in rating.breakdown["deduction_items"]]
    vetoes = body.split('id="rating-vetoes"')[1].split("</div>")[0]
    assert rules.VETO_LABELS["arrears"] in vetoes
    assert "Not rated" in body.split('id="rating-summary"')[1].split("</dl>")[0]
    assert "this one sets the line" not in body  # no term binds: a vetoed household gets no line


def test_household_rating_page_explains_a_missing_rating_then_shows_live_and_history(app, world):
    officer = client_for(app, world.officer)
    body = text(officer.get(f"/households/{world.h1.id}/rating"))
    assert "only an accepted credit file can be rated" in body
    set_birth_dates(world.h1)
    accept_file(world.h1)
    body = text(officer.get(f"/households/{world.h1.id}/rating"))
    assert "the file is accepted but no rating has been proposed" in body
    first = reviewed_rating(world.h1, world.officer)
    second = reviewed_rating(world.h1, world.officer, **STRONG)  # a new accepted version re-rates
    assert fresh(first.id).status == "superseded"
    body = text(officer.get(f"/households/{world.h1.id}/rating"))
    live, history = body.split("Earlier ratings")
    assert f"/ratings/{second.id}" in live and f"file v{second.file_version_no}" in live
    assert f"/ratings/{first.id}" in history
    assert f"model v{first.model_version}, file v{first.file_version_no}" in history
    assert "Superseded" in history
    page = text(officer.get(f"/households/{world.h1.id}"))
    summary = page.split('id="household-rating"')[1].split("</ul>")[0]
    assert rules.GRADE_LABELS[second.grade] in summary and yuan(second.suggested_line_fen) in summary


def test_why_page_is_not_for_village_roles(app, world):
    rating = reviewed_rating(world.h1, world.officer)
    for user in (world.secretary, world.panel):
        assert client_for(app, user).get(f"/ratings/{rating.id}").status_code == 403


# ---------------------------------------------------------------- the printed copy

def test_print_is_an_internal_pdf_with_the_points_and_no_id_numbers(app, world):
    rating = reviewed_rating(world.h1, world.officer, **STRONG)
    resp = client_for(app, world.officer).get(f"/ratings/{rating.id}/print")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=resp.data, capture_output=True,
                         check=True, timeout=60).stdout.decode()
    flat = re.sub(r"\s+", "", out)
    assert "内部" in flat
    for item in rating.breakdown["indicators"]:
        assert f"{shown(item['points'])}of{item['max_points']}points" in flat
    assert "张三" in flat
    for member in db.session.scalars(sa.select(Member).where(Member.household_id == world.h1.id)):
        assert member.id_number not in flat
        assert re.sub(r"\s+", "", mask_id_number(member.id_number)) not in flat
        assert member.id_number[-4:] not in flat
    assert not re.search(r"\d{17}[\dX]", flat)
    assert events("print", rating.id)
    html = client_for(app, world.officer).get(f"/ratings/{rating.id}/print?format=html")
    assert html.status_code == 200 and 'class="internal"' in text(html)


# ---------------------------------------------------------------- maker-checker

def test_self_approval_is_refused_with_a_clear_message(app, world):
    rating = reviewed_rating(world.h3, world.manager)  # the branch manager proposed it
    manager = client_for(app, world.manager)
    resp = manager.post(f"/ratings/{rating.id}/approve", data={"version": str(rating.version)})
    assert resp.status_code == 422 and SELF_APPROVAL in text(resp)
    frag = manager.post(f"/ratings/{rating.id}/approve", data={"version": str(rating.version)}, headers=HX)
    assert frag.status_code == 422 and SELF_APPROVAL in text(frag) and "<html" not in text(frag)
    assert fresh(rating.id).status == "reviewed" and fresh(rating.id).approved_by is None


def test_reasonless_override_is_refused(app, world):
    rating = reviewed_rating(world.h1, world.officer)
    officer = client_for(app, world.officer)
    for reason in ("", "   "):
        resp = officer.post(f"/ratings/{rating.id}/override",
                            data={"grade": "fair", "line": "30000", "reason": reason, "version": str(rating.version)})
        assert resp.status_code == 422 and NO_REASON in text(resp)
    r = fresh(rating.id)
    assert r.override_by is None and r.override_grade is None and not events("rating.override", r.id)


def test_override_approved_by_a_second_person_sets_the_approved_grade_and_line_and_shows_both(app, world):
    rating = reviewed_rating(world.h1, world.officer, **STRONG)
    old_grade, old_line = rating.grade, rating.suggested_line_fen
    officer = client_for(app, world.officer)
    resp = officer.post(f"/ratings/{rating.id}/override",
                        data={"grade": "good", "line": "8万", "reason": "家中老人重病，收入不稳定",
                              "version": str(rating.version)})
    assert resp.status_code == 303
    r = fresh(rating.id)
    assert (r.override_grade, r.override_line_fen, r.override_by) == ("good", 8_000_000, world.officer.id)
    assert r.approved_by is None and r.status == "reviewed"  # nothing in force until someone else approves
    # the requester may not approve it either, even as a manager: the manager asks, then tries to approve
    manager = client_for(app, world.manager)
    resp = manager.post(f"/ratings/{rating.id}/approve", data={"version": str(r.version), "comment": "同意调整"})
    assert resp.status_code == 303
    r = fresh(rating.id)
    assert (r.status, r.approved_grade, r.approved_line_fen) == ("approved", "good", 8_000_000)
    assert (r.approved_by, r.approved_role, r.approval_comment) == (world.manager.id, "branch_manager", "同意调整")
    body = text(officer.get(f"/ratings/{rating.id}"))
    override = body.split('id="rating-override"')[1].split("</div>")[0]
    assert "李网格" in override and "家中老人重病，收入不稳定" in override
    assert f"{rules.GRADE_LABELS[old_grade]} → Good" in override
    assert f"{yuan(old_line)} → {yuan(8_000_000)}" in override
    approval = body.split('id="rating-approval"')[1].split("</div>")[0]
    assert "金华支行长" in approval and "Branch manager" in approval and "同意调整" in approval
    assert events("rating.override", r.id) and events("rating.approved", r.id)


def test_the_override_requester_cannot_approve_it(app, world):
    rating = reviewed_rating(world.h3, world.officer)
    manager = client_for(app, world.manager)
    resp = manager.post(f"/ratings/{rating.id}/override",
                        data={"line": "10000", "reason": "负债偏高", "version": str(rating.version)})
    assert resp.status_code == 303
    resp = manager.post(f"/ratings/{rating.id}/approve", data={"version": str(fresh(rating.id).version)})
    assert resp.status_code == 422 and OWN_OVERRIDE in text(resp)
    assert fresh(rating.id).status == "reviewed"


def test_a_line_above_the_branch_authority_needs_head_office(app, world):
    rating = reviewed_rating(world.h3, world.officer, **STRONG)
    limit = rules._fen(db.session.get(ScoringModel, rating.model_id).params["approval_limit_branch"])
    above = limit + 5_000_000
    officer = client_for(app, world.officer)
    assert officer.post(f"/ratings/{rating.id}/override", data={
        "line": format_yuan(above).replace(",", ""), "reason": "示范户扩大养殖规模", "version": str(rating.version)
    }).status_code == 303
    version = fresh(rating.id).version
    manager = client_for(app, world.manager)
    resp = manager.post(f"/ratings/{rating.id}/approve", data={"version": str(version)})
    assert resp.status_code == 422 and OVER_AUTHORITY in text(resp)
    assert fresh(rating.id).status == "reviewed"
    queue = text(manager.get("/approvals"))
    assert "head office approves" in queue and "change requested" in queue
    hq = client_for(app, world.hq)
    assert hq.post(f"/ratings/{rating.id}/approve", data={"version": str(version)}).status_code == 303
    r = fresh(rating.id)
    assert (r.status, r.approved_line_fen, r.approved_role) == ("approved", above, "hq_admin")


def test_approval_sets_validity_and_status_and_is_audited_and_on_the_audit_page(app, world):
    from fieldapp.core import clock
    rating = reviewed_rating(world.h1, world.officer)
    manager = client_for(app, world.manager)
    assert manager.post(f"/ratings/{rating.id}/approve", data={"version": str(rating.version)}).status_code == 303
    r = fresh(rating.id)
    params = db.session.get(ScoringModel, r.model_id).params
    assert r.status == "approved" and r.valid_from == clock.today()
    assert r.valid_to == rules.valid_to(clock.today(), params)
    assert r.approved_grade == r.grade and r.approved_line_fen == r.suggested_line_fen
    [event] = events("rating.approved", r.id)
    assert event.actor_id == world.manager.id
    audit_page = text(client_for(app, world.hq).get("/audit?entity=Rating"))
    assert "rating.approved" in audit_page
    # once approved it is no longer in the queue and cannot be approved again
    assert f"approval-{r.id}" not in text(manager.get("/approvals"))
    again = client_for(app, world.hq).post(f"/ratings/{r.id}/approve", data={"version": str(r.version)})
    assert again.status_code == 422


def test_a_stale_form_is_409_and_shows_the_other_change(app, world):
    rating = reviewed_rating(world.h3, world.officer)
    seen = str(rating.version)
    officer = client_for(app, world.officer)
    assert officer.post(f"/ratings/{rating.id}/override", data={
        "grade": "fair", "reason": "邻里反映有赌博苗头", "version": seen}).status_code == 303
    manager = client_for(app, world.manager)
    resp = manager.post(f"/ratings/{rating.id}/approve", data={"version": seen})
    assert resp.status_code == 409
    assert "邻里反映有赌博苗头" in text(resp) and "Someone else changed this rating" in text(resp)
    assert fresh(rating.id).status == "reviewed"
    resp = manager.post(f"/ratings/{rating.id}/override", data={"grade": "good", "reason": "复核", "version": seen},
                        headers=HX)
    assert resp.status_code == 409 and "邻里反映有赌博苗头" in text(resp) and "<html" not in text(resp)
    assert fresh(rating.id).override_grade == "fair"


def test_approvals_queue_in_scope_and_approve_from_it_with_and_without_htmx(app, world):
    mine = reviewed_rating(world.h1, world.officer)
    also_mine = reviewed_rating(world.h3, world.officer)
    other_branch = reviewed_rating(world.h5, world.officer2)
    set_birth_dates(world.h2)
    accept_file(world.h2)
    proposed_only = services.propose(world.h2, user_id=world.officer.id)  # not reviewed yet: not in the queue
    db.session.commit()
    manager = client_for(app, world.manager)
    queue = text(manager.get("/approvals"))
    assert f'id="approval-{mine.id}"' in queue and f'id="approval-{also_mine.id}"' in queue
    assert f'id="approval-{other_branch.id}"' not in queue and f'id="approval-{proposed_only.id}"' not in queue
    frag = manager.post(f"/ratings/{mine.id}/approve", headers=HX,
                        data={"version": str(mine.version), "origin": "queue"})
    assert frag.status_code == 200 and "<html" not in text(frag)
    assert f'id="approval-{mine.id}"' in text(frag) and "Approved." in text(frag)
    assert fresh(mine.id).status == "approved"
    plain = manager.post(f"/ratings/{also_mine.id}/approve", data={"version": str(also_mine.version),
                                                                    "origin": "queue"})
    assert plain.status_code == 303 and plain.headers["Location"].endswith("/approvals")
    assert fresh(also_mine.id).status == "approved"
    assert text(client_for(app, world.hq).get("/approvals")).count('id="approval-') == 1  # only h5's is left


# ---------------------------------------------------------------- bonus recommendations

def test_a_recorded_bonus_shows_its_recommender_on_the_why_page_after_re_proposal(app, world):
    first = reviewed_rating(world.h1, world.officer)
    officer = client_for(app, world.officer)
    data = {"kind": "red_credit_demo", "recommender_name": "王支书", "body": "party_branch", "idem_key": "bonus-k-0001"}
    assert officer.post(f"/households/{world.h1.id}/bonuses", data=data).status_code == 303
    again = officer.post(f"/households/{world.h1.id}/bonuses", data=data)  # a double tap records once
    assert again.status_code == 303 and again.headers.get("Idempotent-Replayed") == "true"
    award = {"kind": "award", "award": "bookkeeper", "recommender_name": "李主任", "body": "village_committee",
             "idem_key": "bonus-k-0002"}
    assert officer.post(f"/households/{world.h1.id}/bonuses", data=award).status_code == 303
    recs = list(db.session.scalars(sa.select(BonusRecommendation).where(
        BonusRecommendation.household_id == world.h1.id).order_by(BonusRecommendation.id)))
    assert [(r.kind, r.detail, r.recommender) for r in recs] == [
        ("red_credit_demo", None, "王支书（村党支部）"), ("award", "算账理财能手", "李主任（村委会）")]
    page = text(officer.get(f"/households/{world.h1.id}/bonuses"))
    assert "王支书（村党支部）" in page and "算账理财能手" in page
    # the rating already scored does not change; the next one (a new accepted file version) counts the bonuses
    assert "王支书" not in text(officer.get(f"/ratings/{first.id}"))
    second = reviewed_rating(world.h1, world.officer)
    params = db.session.get(ScoringModel, second.model_id).params
    expected = min(params["bonuses"]["red_credit_demo"] + params["bonuses"]["award"], params["bonus_cap"])
    assert int(second.bonus) == expected and int(first.bonus) == 0
    bonuses = text(officer.get(f"/ratings/{second.id}")).split('id="rating-bonuses"')[1].split("</ul>")[0]
    assert "王支书（村党支部）" in bonuses and "李主任（村委会）" in bonuses and "算账理财能手" in bonuses
    assert f"+{params['bonuses']['red_credit_demo']}" in bonuses
    assert rules.BONUS_LABELS["red_credit_demo"] in bonuses
    created = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.entity_type == "bonus_recommendations",
                                                             AuditEvent.action == "create")).all()
    assert len(created) == 2


def test_a_bonus_needs_its_recommender_and_the_award_name(app, world):
    officer = client_for(app, world.officer)
    resp = officer.post(f"/households/{world.h1.id}/bonuses",
                        data={"kind": "award", "body": "other", "idem_key": "bonus-k-0003"})
    assert resp.status_code == 422
    body = text(resp)
    assert "Who recommended it?" in body and "Choose the award." in body and "Write the name." in body
    assert db.session.scalar(sa.select(sa.func.count(BonusRecommendation.id))) == 0


def test_withdrawing_a_bonus_needs_a_reason_and_keeps_the_row(app, world):
    officer = client_for(app, world.officer)
    officer.post(f"/households/{world.h1.id}/bonuses", data={
        "kind": "party_helper", "recommender_name": "赵书记", "body": "township_party", "idem_key": "bonus-k-0004"})
    rec = db.session.scalar(sa.select(BonusRecommendation))
    assert officer.post(f"/bonuses/{rec.id}/withdraw", data={"reason": ""}).status_code == 422
    assert officer.post(f"/bonuses/{rec.id}/withdraw", data={"reason": "帮扶对象已脱贫"}).status_code == 303
    db.session.expire_all()
    rec = db.session.get(BonusRecommendation, rec.id)
    assert rec.withdrawn_at is not None and rec.withdrawn_reason == "帮扶对象已脱贫"
    assert officer.post(f"/bonuses/{rec.id}/withdraw", data={"reason": "again"}).status_code == 409
    page = text(officer.get(f"/households/{world.h1.id}/bonuses"))
    assert "帮扶对象已脱贫" in page and "withdrawn" in page
    assert client_for(app, world.auditor).post(f"/bonuses/{rec.id}/withdraw", data={"reason": "x"}).status_code == 403


# ---------------------------------------------------------------- Chinese messages (the lead fills the catalogue)

@pytest.mark.parametrize("msgid", [SELF_APPROVAL, NO_REASON])
def test_refusals_are_shown_in_chinese(app, world, msgid):
    with force_locale("zh_CN"):
        chinese = translate(msgid)
    assert chinese != msgid, f"catalogue: translate {msgid!r}"
    assert re.search(r"[\u4e00-\u9fff]", chinese)
    if msgid == SELF_APPROVAL:
        rating = reviewed_rating(world.h3, world.manager)
        resp = client_for(app, world.manager, "zh_CN").post(f"/ratings/{rating.id}/approve",
                                                             data={"version": str(rating.version)})
    else:
        rating = reviewed_rating(world.h1, world.officer)
        resp = client_for(app, world.officer, "zh_CN").post(f"/ratings/{rating.id}/override", data={
            "grade": "fair", "reason": "", "version": str(rating.version)})
    assert resp.status_code == 422 and chinese in text(resp) and msgid not in text(resp)


# ---------------------------------------------------------------- junk never 500s

FIELDS = ["grade", "line", "reason", "version", "comment", "origin", "kind", "award", "award_other",
          "recommender_name", "body", "body_other", "idem_key"]
junk = st.one_of(st.text(max_size=40), st.sampled_from(["", "0", "-1", "1", "2", "99999999999", "queue", "fair",
                                                        "not_rated", "award", "other", "5万", "1e9", "NaN", "\x00",
                                                        "２", "-5", "0.001"]))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.dictionaries(st.sampled_from(FIELDS), junk, max_size=8),
       path=st.sampled_from(["override", "approve", "bonuses"]))
def test_junk_to_the_rating_forms_never_500s(app, world, data, path):
    rating_id = db.session.scalar(sa.select(Rating.id).where(Rating.household_id == world.h3.id))
    if rating_id is None:
        rating_id = reviewed_rating(world.h3, world.officer).id
    user = world.hq if path == "approve" else world.manager
    url = f"/households/{world.h3.id}/bonuses" if path == "bonuses" else f"/ratings/{rating_id}/{path}"
    resp = client_for(app, user).post(url, data=data)
    assert resp.status_code < 500, (url, data, resp.status_code)
    db.session.rollback()
