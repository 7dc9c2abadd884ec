"""Visit rules (fieldapp/visits/rules.py): distance, flags, V-3 and the W2 state table; no app, no database."""
from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldapp.households.rules import FILE_STATUSES
from fieldapp.visits import rules
from fieldapp.visits.rules import (
    FILE_EVENTS,
    TransitionError,
    allowed_events,
    distance_to_reference_m,
    haversine_m,
    next_file_status,
    revisit_state,
    visit_flags,
)

T0 = datetime(2026, 3, 15, 2, 0, 0)  # naive UTC, like the database columns
HOME = (25.0, 100.0)
METRES_PER_DEGREE_LAT = math.pi * rules.EARTH_RADIUS_M / 180  # ≈ 111,195 m


def d(day: int, month: int = 3) -> date:
    return date(2026, month, day)


# ---------------------------------------------------------------- distance

@pytest.mark.parametrize(("a", "b", "metres", "tolerance"), [
    pytest.param(HOME, HOME, 0.0, 1e-9, id="same-point"),
    pytest.param((0.0, 0.0), (1.0, 0.0), METRES_PER_DEGREE_LAT, 0.01, id="one-degree-lat"),
    pytest.param((0.0, 0.0), (0.0, 1.0), METRES_PER_DEGREE_LAT, 0.01, id="one-degree-lng-at-equator"),
    pytest.param((60.0, 10.0), (60.0, 11.0), METRES_PER_DEGREE_LAT / 2, 1.0, id="one-degree-lng-at-60N"),
    pytest.param((25.0, 100.0), (25.0 + 500 / METRES_PER_DEGREE_LAT, 100.0), 500.0, 1e-6, id="500m-north"),
    pytest.param((39.9042, 116.4074), (31.2304, 121.4737), 1_067_000, 2_000, id="beijing-shanghai"),
    pytest.param((0.0, 0.0), (0.0, 180.0), math.pi * rules.EARTH_RADIUS_M, 1e-6, id="antipodal"),
    pytest.param((0.0, 179.9999), (0.0, -179.9999), 22.24, 0.01, id="across-the-date-line"),
])
def test_haversine_m(a, b, metres, tolerance):
    assert haversine_m(*a, *b) == pytest.approx(metres, abs=tolerance)
    assert haversine_m(*b, *a) == pytest.approx(metres, abs=tolerance)


@pytest.mark.parametrize(("fix", "home", "centroid", "expected"), [
    pytest.param((25.0, 100.0), HOME, None, 0.0, id="at-home"),
    pytest.param((25.001, 100.0), HOME, (26.0, 100.0), 111.195, id="home-wins-over-centroid"),
    pytest.param((25.001, 100.0), None, HOME, 111.195, id="centroid-when-home-unknown"),
    pytest.param((25.001, 100.0), (None, None), HOME, 111.195, id="home-with-empty-columns"),
    pytest.param((25.001, 100.0), None, None, None, id="no-reference"),
    pytest.param((None, None), HOME, HOME, None, id="no-fix"),
    pytest.param((25.0, None), HOME, None, None, id="half-a-fix"),
])
def test_distance_to_reference_m(fix, home, centroid, expected):
    result = distance_to_reference_m(*fix, home=home, centroid=centroid)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected, abs=0.01)


@given(lat1=st.floats(-90, 90), lng1=st.floats(-180, 180), lat2=st.floats(-90, 90), lng2=st.floats(-180, 180))
def test_haversine_is_symmetric_and_bounded(lat1, lng1, lat2, lng2):
    there = haversine_m(lat1, lng1, lat2, lng2)
    assert there == pytest.approx(haversine_m(lat2, lng2, lat1, lng1), abs=1e-6)
    assert 0 <= there <= math.pi * rules.EARTH_RADIUS_M + 1e-6


# ---------------------------------------------------------------- visit flags (§2.4)

@pytest.mark.parametrize(("device", "accuracy", "distance", "flags"), [
    pytest.param(T0, 10.0, 20.0, set(), id="clean"),
    pytest.param(None, None, None, set(), id="nothing-known"),
    pytest.param(T0 + timedelta(minutes=10), None, None, set(), id="exactly-10-min-ahead"),
    pytest.param(T0 - timedelta(minutes=10), None, None, set(), id="exactly-10-min-behind"),
    pytest.param(T0 + timedelta(minutes=10, seconds=1), None, None, {"clock_skew"}, id="just-over-10-ahead"),
    pytest.param(T0 - timedelta(minutes=10, seconds=1), None, None, {"clock_skew"}, id="just-over-10-behind"),
    pytest.param(T0 + timedelta(hours=8), None, None, {"clock_skew"}, id="device-in-local-time"),
    pytest.param(T0, 100.0, None, set(), id="exactly-100m-accuracy"),
    pytest.param(T0, 100.1, None, {"low_accuracy"}, id="over-100m-accuracy"),
    pytest.param(T0, None, 500.0, set(), id="exactly-500m"),
    pytest.param(T0, None, 500.01, {"off_site"}, id="over-500m"),
    pytest.param(T0 + timedelta(minutes=30), 1500.0, 3000.0, {"clock_skew", "low_accuracy", "off_site"}, id="all"),
])
def test_visit_flags(device, accuracy, distance, flags):
    assert visit_flags(T0, device, accuracy, distance) == flags
    assert flags <= set(rules.VISIT_FLAG_MESSAGES) == set(rules.VISIT_FLAGS)


def test_visit_flag_thresholds_are_parameters():
    assert visit_flags(T0, T0 + timedelta(minutes=6), 60.0, 300.0, skew_limit=timedelta(minutes=5),
                       accuracy_limit_m=50.0, off_site_m=250.0) == {"clock_skew", "low_accuracy", "off_site"}


def test_off_site_from_a_real_fix():
    near = (HOME[0] + 499 / METRES_PER_DEGREE_LAT, HOME[1])
    far = (HOME[0] + 501 / METRES_PER_DEGREE_LAT, HOME[1])
    assert visit_flags(T0, T0, 5.0, distance_to_reference_m(*near, home=HOME)) == set()
    assert visit_flags(T0, T0, 5.0, distance_to_reference_m(*far, home=HOME)) == {"off_site"}


# ---------------------------------------------------------------- V-3

@pytest.mark.parametrize(("attempts", "pending"), [
    pytest.param([], False, id="no-attempts"),
    pytest.param([(d(1), "not_home"), (d(2), "not_home")], False, id="two-days"),
    pytest.param([(d(1), "not_home"), (d(2), "not_home"), (d(3), "unreachable")], True, id="three-days"),
    pytest.param([(d(3), "not_home"), (d(1), "unreachable"), (d(2), "not_home")], True, id="any-order"),
    pytest.param([(d(1), "not_home"), (d(1), "not_home"), (d(1), "not_home")], False, id="same-day-counted-once"),
    pytest.param([(d(1), "not_home"), (d(1), "unreachable"), (d(2), "not_home"), (d(2), "not_home")], False,
                 id="four-attempts-two-days"),
    pytest.param([(d(1), "not_home"), (d(1), "not_home"), (d(2), "not_home"), (d(9), "not_home")], True,
                 id="same-day-plus-two-more-days"),
    pytest.param([(d(1), "not_home"), (d(2), "not_home"), (d(3), "not_home"), (d(4), "done")], False,
                 id="reset-by-completed-visit"),
    pytest.param([(d(1), "done"), (d(2), "not_home"), (d(3), "not_home"), (d(4), "not_home")], True,
                 id="three-after-completed"),
    pytest.param([(d(1), "not_home"), (d(2), "done"), (d(3), "not_home"), (d(4), "not_home")], False,
                 id="only-two-after-completed"),
    pytest.param([(d(2), "not_home"), (d(2), "done"), (d(3), "not_home"), (d(4), "not_home")], False,
                 id="same-day-as-completed-not-counted"),
    pytest.param([(d(1), "refused"), (d(2), "refused"), (d(3), "refused")], False, id="refusals-dont-count"),
    pytest.param([(d(1), "not_home"), (d(2), "refused"), (d(3), "not_home"), (d(4), "unreachable")], True,
                 id="refusal-does-not-reset"),
])
def test_revisit_state(attempts, pending):
    assert revisit_state(attempts) is pending


def test_revisit_state_with_datetimes():
    at = datetime(2026, 3, 1, 9, 0)
    morning_done_then_evening_miss = [(at, "done"), (at + timedelta(hours=9), "not_home"),
                                      (at + timedelta(days=1), "not_home"), (at + timedelta(days=2), "not_home")]
    assert revisit_state(morning_done_then_evening_miss)  # with times, the evening miss is after the done visit
    twice_a_day = [(at + timedelta(days=n, hours=h), "not_home") for n in range(2) for h in (0, 6)]
    assert not revisit_state(twice_a_day)


def test_revisit_parameters():
    attempts = [(d(1), "refused"), (d(2), "not_home")]
    assert revisit_state(attempts, limit=2, counted=frozenset({"refused", "not_home"}))
    assert not revisit_state(attempts, limit=2)


@given(st.lists(st.tuples(st.dates(min_value=d(1), max_value=d(28)), st.sampled_from(rules.OUTCOMES)), max_size=12))
def test_revisit_counts_distinct_days_only(attempts):
    doubled = attempts + attempts  # repeating every attempt on the same day changes nothing
    assert revisit_state(doubled) == revisit_state(attempts)
    assert rules.failed_days(attempts) <= {day for day, outcome in attempts if outcome in rules.UNREACHED_OUTCOMES}


# ---------------------------------------------------------------- W2 state table

ALLOWED = [
    ("new", "visit_saved", "draft"),
    ("draft", "submit", "submitted"),
    ("returned", "submit", "submitted"),
    ("submitted", "accept", "accepted"),
    ("submitted", "return", "returned"),
    ("accepted", "change", "draft"),
    ("pending_revisit", "visit_done", "draft"),
] + [(status, "unreachable", "pending_revisit") for status in FILE_STATUSES]


@pytest.mark.parametrize(("current", "event", "after"),
                         [pytest.param(*row, id=f"{row[0]}-{row[1]}") for row in ALLOWED])
def test_allowed_transitions(current, event, after):
    assert next_file_status(current, event) == after
    assert event in allowed_events(current)


FORBIDDEN = [
    ("new", "submit"), ("new", "accept"), ("new", "change"), ("new", "visit_done"),
    ("draft", "accept"), ("draft", "return"), ("draft", "visit_saved"), ("draft", "change"),
    ("submitted", "submit"), ("submitted", "change"), ("submitted", "visit_saved"),
    ("returned", "accept"), ("returned", "return"),
    ("accepted", "submit"), ("accepted", "accept"), ("accepted", "return"),
    ("pending_revisit", "submit"), ("pending_revisit", "visit_saved"), ("pending_revisit", "accept"),
    ("archived", "submit"), ("draft", "explode"), ("", ""),
]


@pytest.mark.parametrize(("current", "event"), [pytest.param(*row, id=f"{row[0]}-{row[1]}") for row in FORBIDDEN])
def test_forbidden_transitions(current, event):
    with pytest.raises(TransitionError) as caught:
        next_file_status(current, event)
    assert (caught.value.current, caught.value.event) == (current, event)
    assert isinstance(caught.value, ValueError)


def test_the_table_is_exactly_the_allowed_list():
    every = {(s, e) for s in FILE_STATUSES for e in FILE_EVENTS}
    allowed = {(s, e) for s, e, _ in ALLOWED}
    assert set(rules.FILE_TRANSITIONS) == allowed
    for status, event in every - allowed:
        with pytest.raises(TransitionError):
            next_file_status(status, event)
    assert set(rules.FILE_TRANSITIONS.values()) <= set(FILE_STATUSES)


@pytest.mark.parametrize(("current", "events"), [
    pytest.param("new", ["visit_saved", "unreachable"], id="new"),
    pytest.param("draft", ["submit", "unreachable"], id="draft"),
    pytest.param("submitted", ["accept", "return", "unreachable"], id="submitted"),
    pytest.param("returned", ["submit", "unreachable"], id="returned"),
    pytest.param("accepted", ["change", "unreachable"], id="accepted"),
    pytest.param("pending_revisit", ["unreachable", "visit_done"], id="pending-revisit"),
    pytest.param("bogus", [], id="unknown-status"),
])
def test_allowed_events(current, events):
    assert allowed_events(current) == events


def test_a_full_round():
    status = "new"
    for event in ("visit_saved", "submit", "return", "submit", "accept", "change", "unreachable", "visit_done",
                  "submit", "accept"):
        status = next_file_status(status, event)
    assert status == "accepted"
