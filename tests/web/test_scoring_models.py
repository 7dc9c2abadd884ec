"""Scoring model versions: the list, the read view, publishing from the prefilled form (validated, idempotent,
stale-safe), and that a new version never changes an existing rating but scores new proposals (issue 5 item 1)."""
from __future__ import annotations

import html as html_lib
import re
from decimal import Decimal

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldapp.core.audit import AuditEvent
from fieldapp.core.idempotency import new_key
from fieldapp.extensions import db
from fieldapp.households.models import Household
from fieldapp.households.workflow import current_accepted
from fieldapp.ratings import rules, services
from fieldapp.ratings.model_admin import flatten, rebuild
from fieldapp.ratings.models import Rating, ScoringModel
from tests.conftest import HX, login
from tests.support.ratings import accept_file

NEW = "/admin/scoring-models/new"


def _en(client, user):
    login(client, user)
    client.set_cookie("lang", "en")


def _form_fields(page: str) -> dict[str, str]:
    """The form as a browser would send it: every named input and textarea with its value."""
    form = re.search(r'<form id="model-form".*?</form>', page, re.S).group(0)
    inputs = re.findall(r'<input [^>]*?name="([^"]+)" value="([^"]*)"', form)
    fields = {name: html_lib.unescape(value) for name, value in inputs}
    for name, value in re.findall(r'<textarea [^>]*?name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        fields[name] = html_lib.unescape(value)
    fields.pop("csrf_token", None)
    return fields


def _versions() -> list[int]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(ScoringModel.version_no).order_by(ScoringModel.version_no)))


def test_flatten_and_rebuild_keep_the_model_exactly():
    fields = flatten(rules.DEFAULT_MODEL)
    keys = [f.key for f in fields]
    assert len(keys) == len(set(keys))
    by_key = {f.key: f for f in fields}
    band = by_key["indicators.income.bands.1.0"]
    assert (band.kind, band.value) == ("number", "20000")
    assert by_key["indicators.liabilities.bands.1.0"].value == "0.5"
    assert (by_key["asset_types"].kind, by_key["asset_types"].value) == ("list", "house, machinery, vehicle")
    assert (by_key["grades.0.0"].kind, by_key["grades.0.1"].value) == ("fixed", "90")
    params, entered, errors = rebuild(rules.DEFAULT_MODEL, {f.key: f.value for f in fields})
    assert errors == {} and params == rules.DEFAULT_MODEL  # same shape, same types (ints stay ints, "0.5" a string)
    assert rules.validate_model(params) == []
    # edits keep the types: a fraction stays a string, codes are split on commas (also Chinese ones)
    params, _, errors = rebuild(rules.DEFAULT_MODEL, {"declared_income_factor": "0.60", "line_step": "2,000",
                                                      "asset_types": "house，vehicle, ", "bonus_cap": "8"})
    assert errors == {}
    assert (params["declared_income_factor"], params["line_step"], params["bonus_cap"]) == ("0.6", 2000, 8)
    assert params["asset_types"] == ["house", "vehicle"]
    _, _, errors = rebuild(rules.DEFAULT_MODEL,
                           {"bonus_cap": "ten", "line_step": "", "indicators.family.weight": "NaN"})
    assert set(errors) == {"bonus_cap", "line_step", "indicators.family.weight"}


def test_lists_and_read_views(app, client, world):
    _en(client, world.hq)
    page = client.get("/admin/scoring-models").get_data(as_text=True)
    assert "Version 1" in page and "In force" in page and "Publish a new version" in page
    v1 = services.current_model()
    page = client.get(f"/admin/scoring-models/{v1.id}").get_data(as_text=True)
    assert "<table class=\"params\">" in page and "Income and repayment capacity, band 2: from (yuan)" in page
    assert "<td>20000</td>" in page and "Lowest score for Excellent" in page and "house, machinery, vehicle" in page
    assert client.get("/admin/scoring-models/999999").status_code == 404
    # the admin area links here
    assert 'href="/admin/scoring-models"' in client.get("/admin/org").get_data(as_text=True)

    auditor = app.test_client()
    _en(auditor, world.auditor)
    page = auditor.get("/admin/scoring-models").get_data(as_text=True)
    assert "Version 1" in page and "Publish a new version" not in page
    assert auditor.get(f"/admin/scoring-models/{v1.id}").status_code == 200
    assert auditor.get(NEW).status_code == 403
    assert auditor.post(NEW, data={"idem_key": new_key(), "name": "x"}).status_code == 403
    officer = app.test_client()
    _en(officer, world.officer)
    assert officer.get("/admin/scoring-models").status_code == 403


def test_an_invalid_model_is_refused_with_every_problem_and_the_input_kept(app, client, world):
    _en(client, world.hq)
    page = client.get(NEW).get_data(as_text=True)
    form = _form_fields(page)
    assert form["indicators.income.bands.1.0"] == "20000" and form["labour_capacities"] == "full, partial"
    assert form["based_on"] == "1" and form["name"]
    key = form["idem_key"]
    form.update({"indicators.income.weight": "30",                # weights now add up to 105
                 "indicators.assets.bands.2.0": "40000",          # below the band before it (50,000)
                 "name": "Broken", "note": "try"})
    resp = client.post(NEW, data=form, headers=HX)
    assert resp.status_code == 422
    part = resp.get_data(as_text=True)
    assert "<html" not in part and 'id="model-form"' in part and "The model was not published:" in part
    assert "Indicator weights must add up to 100 (they add up to 105)." in part
    assert "The thresholds of indicators.assets.bands must be strictly ascending." in part
    assert 'name="indicators.income.weight" value="30"' in part
    assert 'name="indicators.assets.bands.2.0" value="40000"' in part
    assert 'name="name" value="Broken"' in part and ">try</textarea>" in part
    assert re.search(r'<div class="field has-error">\s*<label for="m-indicators-assets-bands-2-0">', part)
    assert _versions() == [1]

    # a field that is not a number is named, and nothing is published
    form.update({"indicators.income.weight": "25", "indicators.assets.bands.2.0": "200000", "bonus_cap": "ten"})
    resp = client.post(NEW, data=form)
    assert resp.status_code == 422
    assert "Bonus cap (points): Enter a number." in resp.get_data(as_text=True) and _versions() == [1]
    resp = client.post(NEW, data={**form, "bonus_cap": "10", "name": " "})
    assert resp.status_code == 422 and "Give the version a name." in resp.get_data(as_text=True)

    # corrected, the same one-time key publishes once; a repeat replays the redirect
    form.update({"bonus_cap": "10", "name": "Fixed"})
    resp = client.post(NEW, data=form)
    assert resp.status_code == 303
    again = client.post(NEW, data=form)
    assert again.status_code == 303 and again.headers["Location"] == resp.headers["Location"]
    assert _versions() == [1, 2]
    v2 = db.session.scalar(sa.select(ScoringModel).where(ScoringModel.version_no == 2))
    assert v2.params == rules.DEFAULT_MODEL and v2.name == "Fixed" and v2.note == "try"
    assert v2.published_by == world.hq.id and key == form["idem_key"]


def test_a_form_opened_before_another_publish_is_refused_with_the_other_version_shown(app, client, world):
    _en(client, world.hq)
    first = _form_fields(client.get(NEW).get_data(as_text=True))
    second = _form_fields(client.get(NEW).get_data(as_text=True))
    first.update({"indicators.income.bands.1.1": "14", "name": "Ours"})
    assert client.post(NEW, data=first).status_code == 303
    second.update({"line_step": "500", "name": "Theirs"})
    resp = client.post(NEW, data=second)
    assert resp.status_code == 409
    page = resp.get_data(as_text=True)
    assert "Version 2 was published by 总行管理员" in page and 'href="/admin/scoring-models/' in page
    assert 'name="based_on" value="2"' in page and 'name="line_step" value="500"' in page
    assert _versions() == [1, 2]
    # sent again from version 2, it publishes version 3
    assert client.post(NEW, data=_form_fields(page)).status_code == 303
    assert _versions() == [1, 2, 3]


def test_a_new_version_leaves_existing_ratings_alone_and_scores_new_proposals(app, client, world):
    # two households with the same income (30,000 yuan documented: the 20,000 band, 12 points in version 1)
    accept_file(world.h1, income=[(30000, "document")])
    accept_file(world.h2, income=[(30000, "document")])
    old = services.propose(db.session.get(Household, world.h1.id), user_id=world.officer.id)
    db.session.commit()
    v1 = services.current_model()
    income = {i["code"]: i for i in old.breakdown["indicators"]}["income"]
    assert old.model_version == 1 and Decimal(income["points"]) == 12
    before = {c: getattr(old, c) for c in ("model_id", "model_version", "base_score", "final_score", "grade",
                                            "suggested_line_fen", "breakdown", "vetoes", "rate_tier", "version")}

    _en(client, world.hq)
    form = _form_fields(client.get(NEW).get_data(as_text=True))
    form.update({"indicators.income.bands.1.1": "16", "name": "Income band 2 worth 16", "note": "more for 20k-50k"})
    resp = client.post(NEW, data=form)
    assert resp.status_code == 303
    v2 = db.session.scalar(sa.select(ScoringModel).where(ScoringModel.version_no == 2))
    assert resp.headers["Location"].endswith(f"/admin/scoring-models/{v2.id}")
    assert v2.params["indicators"]["income"]["bands"][1] == [20000, 16]
    changed = client.get(f"/admin/scoring-models/{v2.id}").get_data(as_text=True)
    assert re.search(r'<tr class="changed"><th scope="row">Income and repayment capacity, band 2: points</th>'
                     r'<td>16', changed)
    assert changed.count('class="changed"') == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.entity_type == "scoring_models", AuditEvent.action == "create")) >= 1

    # the existing rating did not move
    db.session.expire_all()
    old = db.session.get(Rating, old.id)
    assert {c: getattr(old, c) for c in before} == before

    # a new proposal is scored with version 2: 4 more points for the same income
    new = services.propose(db.session.get(Household, world.h2.id), user_id=world.officer.id)
    db.session.commit()
    assert (new.model_id, new.model_version) == (v2.id, 2)
    new_income = {i["code"]: i for i in new.breakdown["indicators"]}["income"]
    assert Decimal(new_income["points"]) == 16
    h2 = db.session.get(Household, world.h2.id)
    facts = services.facts_for(h2, current_accepted(h2), v2.params)
    expected = rules.score(facts, v2.params)
    under_v1 = rules.score(services.facts_for(h2, current_accepted(h2), v1.params), v1.params)
    assert new.final_score == expected.final_score == under_v1.final_score + 4
    assert (new.grade, new.suggested_line_fen) == (expected.grade, expected.suggested_line_fen)

    # rescoring the old rating (e.g. at its meeting) still uses its own version 1
    services.rescore(old)
    assert old.final_score == before["final_score"] and old.model_version == 1
    db.session.rollback()


KEYS = ["indicators.family.weight", "indicators.income.bands.1.0", "indicators.liabilities.bands.1.0",
        "indicators.liabilities.else", "asset_types", "declared_income_factor", "grades.0.1", "grades.0.0",
        "grade_caps.good", "labour_age.1", "line_step", "name", "note", "based_on", "idem_key"]
junk = st.one_of(st.text(max_size=40), st.sampled_from(["", "0", "-1", "1", "1e9", "NaN", "Infinity", "0.5", "\x00",
                                                        "99999999999999999999", "２", "1,000", "house, vehicle"]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.dictionaries(st.sampled_from(KEYS), junk, max_size=8))
def test_junk_never_500_and_a_refusal_publishes_nothing(app, world, data):
    client = app.test_client()
    login(client, world.hq)
    before = _versions()
    resp = client.post(NEW, data=data)
    assert resp.status_code < 500, (data, resp.status_code)
    if resp.status_code >= 400:
        assert _versions() == before
    else:
        assert resp.status_code == 303 and len(_versions()) == len(before or [1]) + 1
