"""Rating lifecycle on the real database: RV-5, one live rating per household, re-rating a new accepted file version
with history kept, SC-01's H23 through the file workflow, and expiry by the tick."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from fieldapp.core import clock, jobs
from fieldapp.extensions import db
from fieldapp.households import workflow
from fieldapp.households.models import Debt, Household
from fieldapp.ratings import rules, services
from fieldapp.ratings.models import Rating
from tests.support.ratings import accept_file, fen


def fresh(h) -> Household:
    return db.session.get(Household, h.id)


def test_only_an_accepted_file_is_rated(app, world):
    with pytest.raises(services.Refused) as refused:
        services.propose(fresh(world.h1), user_id=world.officer.id)
    assert refused.value.code == "not_accepted"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Rating)) == 0


def test_proposing_twice_on_the_same_version_gives_the_same_rating(app, world):
    accept_file(world.h1)
    first = services.propose(fresh(world.h1), user_id=world.officer.id)
    db.session.commit()
    again = services.propose(fresh(world.h1), user_id=world.officer.id)
    assert again.id == first.id
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Rating)) == 1
    assert first.model_version == services.current_model().version_no
    assert first.status == "proposed" and first.live_household_id == world.h1.id


def test_the_database_refuses_a_second_live_rating(app, world):
    accept_file(world.h1)
    first = services.propose(fresh(world.h1), user_id=world.officer.id)
    db.session.commit()
    twin = Rating(county_id=first.county_id, village_id=first.village_id, household_id=first.household_id,
                  live_household_id=first.household_id, credit_file_id=first.credit_file_id, file_version_no=1,
                  model_id=first.model_id, model_version=first.model_version, base_score=0, final_score=0,
                  grade="fair")
    db.session.add(twin)
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_a_new_accepted_version_rerates_and_keeps_history_sc01_h23(app, world):
    """SC-01 H23: an over-cap 60,000 private loan found later lowers score, grade and line as the model says."""
    model = rules.DEFAULT_MODEL
    # a past bank loan, repaid: the history indicator is the same before and after the private loan is found
    accept_file(world.h1, income=[(60000, "document")], assets=[("house", 150000)],
                debts=[{"balance": 0, "status": "settled"}])
    before = services.propose(fresh(world.h1), user_id=world.officer.id)
    db.session.commit()

    # the expected figures, from the model's own numbers over the file's facts
    version = workflow.current_accepted(fresh(world.h1))
    facts = services.facts_for(fresh(world.h1), version, model)
    expected_before = rules.score(facts, model)
    assert before.final_score == expected_before.final_score

    # the investigation finds a 60,000 private loan at 2 fen a month (24 %/yr), above the lawful cap
    db.session.add(Debt(household_id=world.h1.id, kind="private", principal_written_fen=fen(60000),
                        balance_fen=fen(60000), rate_value=2, rate_unit="fen_month", annual_rate="0.24",
                        status="normal", flags=["over_cap"]))
    h = fresh(world.h1)
    h.file_status = "draft"
    db.session.flush()
    new_version = workflow.submit_version(h)
    workflow.decide(h, new_version, "accept", {})  # the file_accepted signal re-rates
    db.session.commit()

    after = services.live_rating(world.h1.id)
    assert after.id != before.id and after.file_version_no == new_version.version_no
    old = db.session.get(Rating, before.id)
    assert old.status == "superseded" and old.superseded_by_id == after.id and old.live_household_id is None
    assert [r.id for r in services.ratings_of(world.h1.id)] == [after.id, before.id]

    facts_after = services.facts_for(fresh(world.h1), new_version, model)
    expected_after = rules.score(facts_after, model)
    drop = model["deductions"]["over_cap_private_loan"]
    liab_before = expected_before.indicator("liabilities").points
    liab_after = expected_after.indicator("liabilities").points
    assert expected_after.indicator("history").points == expected_before.indicator("history").points
    assert after.final_score == expected_before.final_score - drop - (liab_before - liab_after)
    assert after.final_score == expected_after.final_score
    assert after.grade == rules.grade_for(after.final_score, model)
    assert after.suggested_line_fen == expected_after.suggested_line_fen
    assert after.suggested_line_fen < before.suggested_line_fen


def test_expiry_by_the_tick(app, world):
    accept_file(world.h1)
    rating = services.propose(fresh(world.h1), user_id=world.officer.id)
    rating.status = "final"
    rating.valid_from = clock.today()
    rating.valid_to = clock.today() + timedelta(days=10)
    db.session.commit()
    assert jobs.tick()["ratings.expire"] == 0
    clock.set_now(app, clock.now() + timedelta(days=11))
    try:
        assert services.is_expired(db.session.get(Rating, rating.id))
        assert jobs.tick()["ratings.expire"] == 1
        rating = db.session.get(Rating, rating.id, populate_existing=True)
        assert rating.status == "expired" and rating.live_household_id is None
        assert jobs.tick()["ratings.expire"] == 0
    finally:
        clock.reset(app)


def test_lifecycle_steps_outside_the_table_are_refused(app, world):
    accept_file(world.h1)
    rating = services.propose(fresh(world.h1), user_id=world.officer.id)
    with pytest.raises(services.Refused):
        services.transition(rating, "finalise")
    assert rating.status == "proposed"
