"""Submit → accept / return (W2, V-1, SD-1): the submission check, frozen versions, per-section comments,
resubmission history, and new draft versions after acceptance."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from fieldapp.core import clock
from fieldapp.core.audit import AuditEvent
from fieldapp.extensions import db
from fieldapp.households import rules, workflow
from fieldapp.households.models import CreditFile, Household
from fieldapp.visits.models import Consent, Visit
from tests.conftest import HX, login
from tests.support.routes_sections import LAND, complete_household, fresh_household, submitted_household

SECTIONS = ("land", "livestock", "assets", "income", "expenses", "debts", "insurance", "negative")


def text(resp) -> str:
    return resp.get_data(as_text=True)


def fresh(h) -> Household:
    db.session.expire_all()
    return db.session.get(Household, h.id)


def file_versions(h) -> list[CreditFile]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(CreditFile).where(CreditFile.household_id == h.id)
                                   .order_by(CreditFile.version_no)))


def client_for(client, user, lang: str = "en"):
    c = client.application.test_client()
    c.set_cookie("lang", lang)
    login(c, user)
    return c


def review_data(h, decision: str, **comments) -> dict:
    version = file_versions(h)[-1].version
    return {"decision": decision, "version": str(version), **{f"comment_{k}": v for k, v in comments.items()}}


# ---------------------------------------------------------------- V-1

def test_submit_with_problems_is_422_with_a_checklist_linking_each_section(client, world):
    h = fresh_household(world)
    db.session.commit()
    officer = client_for(client, world.officer)
    resp = officer.post(f"/households/{h.id}/submit")
    assert resp.status_code == 422 and "<html" in text(resp)
    body = text(resp)
    assert 'id="submit-problems"' in body
    for code in ("no_completed_visit", "consent_collect", "consent_credit_query"):
        assert rules.PROBLEM_MESSAGES[code] in body
    for name in SECTIONS:
        assert f'href="/households/{h.id}/section/{name}"' in body
    assert rules.PROBLEM_MESSAGES["head_id"] not in body  # the head's ID is valid
    frag = officer.post(f"/households/{h.id}/submit", headers=HX)
    assert frag.status_code == 422 and 'id="file-submit"' in text(frag) and "<html" not in text(frag)
    assert file_versions(h) == [] and fresh(h).file_status == "new"


def test_a_head_without_a_valid_id_and_a_visit_that_was_not_completed_are_problems(client, world):
    h = complete_household(world)
    head = next(m for m in h.members if m.is_head)
    head.id_number = "532931198001010000"  # wrong check digit
    db.session.execute(sa.update(Visit).where(Visit.household_id == h.id).values(outcome="not_home"))
    db.session.commit()
    resp = client_for(client, world.officer).post(f"/households/{h.id}/submit")
    assert resp.status_code == 422
    assert rules.PROBLEM_MESSAGES["head_id"] in text(resp)
    assert rules.PROBLEM_MESSAGES["no_completed_visit"] in text(resp)


def test_a_documented_refusal_of_consent_lets_the_file_be_submitted(client, world):
    h = complete_household(world)
    db.session.execute(sa.update(Consent).where(Consent.household_id == h.id).values(
        method="refused", refusal_note="户主拒绝征信查询"))
    db.session.commit()
    assert workflow.submission_problems(h) == []
    resp = client_for(client, world.officer).post(f"/households/{h.id}/submit")
    assert resp.status_code == 303


def test_a_new_file_with_everything_but_its_visit_transition_is_told_to_record_the_visit(client, world):
    h = complete_household(world)
    h.file_status = "new"
    db.session.commit()
    resp = client_for(client, world.officer).post(f"/households/{h.id}/submit")
    assert resp.status_code == 422 and "Record the completed visit" in text(resp)
    assert file_versions(h) == []


def test_a_revoked_consent_does_not_count(client, world):
    h = complete_household(world)
    db.session.execute(sa.update(Consent).where(Consent.household_id == h.id, Consent.kind == "credit_query")
                       .values(revoked_at=clock.utcnow_naive()))
    db.session.commit()
    assert workflow.submission_problems(h) == ["consent_credit_query"]


# ---------------------------------------------------------------- the happy path

def _fill_through_the_pages(officer, h) -> None:
    """Land as a row, every other section "无" (debts after asking about private loans), all through the forms."""
    assert officer.post(f"/households/{h.id}/section/land/add",
                        data={**LAND, "idem_key": f"happy-land-{h.id}"}).status_code == 303
    for name in SECTIONS[1:]:
        version = fresh(h).version
        data = {"version": str(version)}
        if name == "debts":
            data["asked_private"] = "y"
        assert officer.post(f"/households/{h.id}/section/{name}/none", data=data).status_code == 303, name


def test_the_full_path_submit_accept_return_resubmit_and_change_after_accept(client, world):
    h = fresh_household(world)
    visit = Visit(household_id=h.id, county_id=h.county_id, village_id=h.village_id, group_id=h.group_id,
                  staff_id=world.officer.id, purpose="first", outcome="done", started_at=clock.utcnow_naive())
    db.session.add(visit)
    db.session.flush()
    for kind in ("collect", "credit_query"):
        db.session.add(Consent(household_id=h.id, visit_id=visit.id, kind=kind, method="signature"))
    h.file_status = rules.next_file_status(h.file_status, "visit_saved")  # what saving the visit does
    db.session.commit()
    officer = client_for(client, world.officer)
    manager = client_for(client, world.manager)

    _fill_through_the_pages(officer, h)
    assert fresh(h).file_status == "draft"
    assert file_versions(h) == []  # editing a draft is no transition and opens no version

    # submit: version 1 frozen
    resp = officer.post(f"/households/{h.id}/submit")
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/households/{h.id}")
    (v1,) = file_versions(h)
    assert (v1.version_no, v1.status, v1.submitted_by) == (1, "submitted", world.officer.id)
    assert [r["land_type"] for r in v1.snapshot["sections"]["land"]] == ["arable"]
    assert v1.snapshot["states"]["debts"] == "none"
    assert fresh(h).file_status == "submitted"
    assert officer.post(f"/households/{h.id}/submit").status_code == 303  # resent: still one version
    assert len(file_versions(h)) == 1

    # while it is with the manager, the sections don't change
    blocked = officer.post(f"/households/{h.id}/section/land/add", data={**LAND, "idem_key": "during-review1"})
    assert blocked.status_code == 422 and "being reviewed" in text(blocked)

    # the branch manager returns it: a comment is required
    page = manager.get(f"/households/{h.id}/review")
    assert page.status_code == 200 and 'name="comment_land"' in text(page) and 'value="accept"' in text(page)
    none = manager.post(f"/households/{h.id}/review", data=review_data(h, "return"))
    assert none.status_code == 422 and "at least one comment" in text(none)
    returned = manager.post(f"/households/{h.id}/review",
                            data=review_data(h, "return", land="面积与确权证不符，请核实"))
    assert returned.status_code == 303
    assert fresh(h).file_status == "returned" and file_versions(h)[0].status == "returned"
    assert workflow.review_comments(fresh(h)) == {"land": "面积与确权证不符，请核实"}
    land_page = officer.get(f"/households/{h.id}/section/land")
    assert "面积与确权证不符，请核实" in text(land_page)

    # the officer fixes it and resubmits: history keeps both versions
    row_id = file_versions(h)[0].snapshot["sections"]["land"][0]["id"]
    fix = officer.post(f"/households/{h.id}/section/land/{row_id}",
                       data={**LAND, "area_mu": "3.2", "version": str(fresh(h).version)})
    assert fix.status_code == 303 and fresh(h).file_status == "returned"
    assert officer.post(f"/households/{h.id}/submit").status_code == 303
    v1, v2 = file_versions(h)
    assert (v1.status, v2.status, v2.version_no) == ("returned", "submitted", 2)
    assert v2.snapshot["sections"]["land"][0]["area_mu"] == "3.20"
    assert workflow.review_comments(fresh(h)) == {}

    # accepted
    assert manager.post(f"/households/{h.id}/review", data=review_data(h, "accept")).status_code == 303
    assert fresh(h).file_status == "accepted"
    assert workflow.current_accepted(fresh(h)).version_no == 2
    assert not workflow.file_summary(fresh(h)).can_submit

    # a later change opens draft v3; v2 stays the accepted, current one
    resp = officer.post(f"/households/{h.id}/section/livestock/add",
                        data={"species": "sheep", "head_count": "40", "source": "declared",
                              "idem_key": "after-accept-1"})
    assert resp.status_code == 303
    versions = file_versions(h)
    assert [(v.version_no, v.status) for v in versions] == [(1, "returned"), (2, "accepted"), (3, "draft")]
    assert fresh(h).file_status == "draft"
    assert workflow.current_accepted(fresh(h)).version_no == 2
    summary = workflow.file_summary(fresh(h))
    assert summary.text == "accepted v2; changes in draft v3" and summary.can_submit
    assert "accepted v2; changes in draft v3" in text(officer.get(f"/households/{h.id}/section/livestock"))
    # a second change stays in the same draft
    officer.post(f"/households/{h.id}/section/assets/add",
                 data={"asset_type": "house", "value": "20万", "source": "declared", "idem_key": "after-accept-2"})
    assert len(file_versions(h)) == 3

    # the draft is submitted as v3 and accepted: v3 becomes current
    assert officer.post(f"/households/{h.id}/submit").status_code == 303
    assert [v.status for v in file_versions(h)] == ["returned", "accepted", "submitted"]
    assert workflow.current_accepted(fresh(h)).version_no == 2
    assert manager.post(f"/households/{h.id}/review", data=review_data(h, "accept")).status_code == 303
    assert workflow.current_accepted(fresh(h)).version_no == 3
    history = text(manager.get(f"/households/{h.id}/review"))
    assert "v1" in history and "v2" in history and "v3" in history and "面积与确权证不符，请核实" in history

    # every transition was audited
    transitions = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.entity_type == "credit_files", AuditEvent.entity_id.in_([str(v.id) for v in file_versions(h)]))
    ).all()
    assert {e.action for e in transitions} >= {"create", "transition"}
    household_events = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.entity_type == "households", AuditEvent.entity_id == str(h.id)).order_by(AuditEvent.id))
    statuses = [e.changes["after"]["file_status"] for e in household_events
                if e.action != "create" and "file_status" in (e.changes or {}).get("after", {})]
    assert statuses == ["draft", "submitted", "returned", "submitted", "accepted", "draft", "submitted", "accepted"]


# ---------------------------------------------------------------- SD-1 and who may review

def test_a_manager_cannot_accept_a_file_they_submitted(client, world):
    h = complete_household(world)
    db.session.commit()
    manager = client_for(client, world.manager)
    assert manager.post(f"/households/{h.id}/submit").status_code == 303
    page = manager.get(f"/households/{h.id}/review")
    assert page.status_code == 200 and "another manager must review it" in text(page)
    assert 'value="accept"' not in text(page)
    resp = manager.post(f"/households/{h.id}/review", data=review_data(h, "accept"))
    assert resp.status_code == 403
    assert file_versions(h)[0].status == "submitted"
    hq = client_for(client, world.hq)
    assert hq.post(f"/households/{h.id}/review", data=review_data(h, "accept")).status_code == 303
    assert file_versions(h)[0].status == "accepted" and file_versions(h)[0].reviewed_by == world.hq.id


@pytest.mark.parametrize("role", ["grid_officer", "auditor"])
def test_officers_and_auditors_cannot_decide(client, world, role):
    h = submitted_household(world)
    db.session.commit()
    c = client_for(client, world.roles[role])
    assert c.post(f"/households/{h.id}/review", data=review_data(h, "accept")).status_code == 403
    if role == "auditor":
        page = c.get(f"/households/{h.id}/review")
        assert page.status_code == 200 and 'value="accept"' not in text(page)


def test_review_outside_my_area_is_404(client, world):
    h = submitted_household(world)
    db.session.commit()
    officer2 = client_for(client, world.officer2)  # sees h4, h5 only
    assert officer2.post(f"/households/{h.id}/submit").status_code == 404
    hq_b = client_for(client, world.hq_b)
    assert hq_b.get(f"/households/{h.id}/review").status_code == 404
    assert hq_b.post(f"/households/{h.id}/review", data=review_data(h, "accept")).status_code == 404


def test_a_stale_or_repeated_decision_is_409(client, world):
    h = submitted_household(world)
    db.session.commit()
    manager = client_for(client, world.manager)
    data = review_data(h, "accept")
    assert manager.post(f"/households/{h.id}/review", data=data).status_code == 303
    again = manager.post(f"/households/{h.id}/review", data=data, headers=HX)
    assert again.status_code == 409 and 'id="review"' in text(again)
    assert file_versions(h)[0].status == "accepted"


def test_junk_decisions_are_422(client, world):
    h = submitted_household(world)
    db.session.commit()
    manager = client_for(client, world.manager)
    for data in ({"decision": "maybe", "version": "1"}, {"decision": "accept"}, {"decision": "accept", "version": "x"},
                 {"decision": "return", "version": "1", "comment_land": "\x00"},
                 {"decision": "return", "version": "1", "comment_general": "长" * 501}):
        assert manager.post(f"/households/{h.id}/review", data=data).status_code == 422, data
    assert file_versions(h)[0].status == "submitted"


def test_submitting_an_accepted_file_without_changes_is_refused(client, world):
    h = submitted_household(world)
    db.session.commit()
    client_for(client, world.manager).post(f"/households/{h.id}/review", data=review_data(h, "accept"))
    resp = client_for(client, world.officer).post(f"/households/{h.id}/submit")
    assert resp.status_code == 422 and "nothing new to submit" in text(resp)
    assert len(file_versions(h)) == 1


def test_none_marking_after_accept_also_opens_a_draft(client, world):
    h = submitted_household(world)
    h.declared_none = [s for s in h.declared_none if s != "insurance"]
    db.session.commit()
    client_for(client, world.manager).post(f"/households/{h.id}/review", data=review_data(h, "accept"))
    officer = client_for(client, world.officer)
    resp = officer.post(f"/households/{h.id}/section/insurance/none", data={"version": str(fresh(h).version)})
    assert resp.status_code == 303
    assert [(v.version_no, v.status) for v in file_versions(h)] == [(1, "accepted"), (2, "draft")]
