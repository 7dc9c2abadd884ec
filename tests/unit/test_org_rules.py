"""Organisation rules (fieldapp/org/rules.py): tables of cases, no app and no database."""
from __future__ import annotations

from datetime import date

import pytest

from fieldapp.org import rules
from fieldapp.org.rules import Cover, Duty, GridRef

D = date(2026, 3, 15)


def d(day: int, month: int = 3) -> date:
    return date(2026, month, day)


# ---------------------------------------------------------------- division codes

@pytest.mark.parametrize(("code", "expected"), [
    pytest.param("532931", None, id="six-digits"),
    pytest.param("53293", "format", id="five-digits"),
    pytest.param("5329311", "format", id="seven-digits"),
    pytest.param("53293a", "format", id="letter"),
    pytest.param("５３２９３１", "format", id="fullwidth-digits"),
    pytest.param("532931\n", "format", id="trailing-newline"),
    pytest.param("", "format", id="empty"),
    pytest.param(None, "format", id="none"),
])
def test_county_code_problem(code, expected):
    assert rules.county_code_problem(code) == expected


@pytest.mark.parametrize(("code", "county", "expected"), [
    pytest.param("532931101", "532931", None, id="ok"),
    pytest.param("532932101", "532931", "prefix", id="other-county"),
    pytest.param("53293110", "532931", "format", id="eight-digits"),
    pytest.param("5329311011", "532931", "format", id="ten-digits"),
    pytest.param("532931１01", "532931", "format", id="fullwidth-digit"),
])
def test_township_code_problem(code, county, expected):
    assert rules.township_code_problem(code, county) == expected


@pytest.mark.parametrize(("code", "township", "expected"), [
    pytest.param("532931101001", "532931101", None, id="ok"),
    pytest.param("532931102001", "532931101", "prefix", id="other-township"),
    pytest.param("53293110100", "532931101", "format", id="eleven-digits"),
    pytest.param("5329311010011", "532931101", "format", id="thirteen-digits"),
    pytest.param("532931101 01", "532931101", "format", id="space"),
])
def test_village_code_problem(code, township, expected):
    assert rules.village_code_problem(code, township) == expected


def test_codes_outside_lists_children_that_would_lose_their_prefix():
    assert rules.codes_outside("532931", ["532931101", "532932101", "532931102"]) == ["532932101"]
    assert rules.codes_outside("532931", []) == []


@pytest.mark.parametrize(("tag", "expected"), [
    pytest.param(None, None, id="none"), pytest.param("", None, id="empty"),
    pytest.param("mn", None, id="mn"), pytest.param("mn-Mong", None, id="script"),
    pytest.param("bo", None, id="tibetan"), pytest.param("MN", "format", id="upper"),
    pytest.param("mongolian", "format", id="word"), pytest.param("m", "format", id="one-letter"),
])
def test_language_problem(tag, expected):
    assert rules.language_problem(tag) == expected


@pytest.mark.parametrize(("code", "expected"), [
    pytest.param("B01", None, id="ok"), pytest.param("G01-1", None, id="dash"),
    pytest.param("", "format", id="empty"), pytest.param("-G", "format", id="leading-dash"),
    pytest.param("G 1", "format", id="space"), pytest.param("A" * 21, "format", id="too-long"),
    pytest.param("网格1", "format", id="cjk"),
])
def test_org_code_problem(code, expected):
    assert rules.org_code_problem(code) == expected


@pytest.mark.parametrize(("lat", "lng", "expected"), [
    pytest.param(None, None, None, id="neither"),
    pytest.param(26.53, 99.9, None, id="both"),
    pytest.param(90.0, -180.0, None, id="edges"),
    pytest.param(26.5, None, "pair", id="lat-only"),
    pytest.param(None, 99.9, "pair", id="lng-only"),
    pytest.param(90.1, 99.9, "lat_range", id="lat-high"),
    pytest.param(-90.1, 99.9, "lat_range", id="lat-low"),
    pytest.param(26.5, 180.5, "lng_range", id="lng-high"),
    pytest.param(float("nan"), 99.9, "not_finite", id="nan"),
    pytest.param(26.5, float("inf"), "not_finite", id="inf"),
])
def test_coordinate_problem(lat, lng, expected):
    assert rules.coordinate_problem(lat, lng) == expected


# ---------------------------------------------------------------- dates

@pytest.mark.parametrize(("start", "end", "expected"), [
    pytest.param(d(1), d(1), None, id="same-day"),
    pytest.param(d(1), d(2), None, id="later"),
    pytest.param(d(2), d(1), "ends_before_start", id="earlier"),
    pytest.param(d(1), None, None, id="open-end"),
    pytest.param(None, d(1), None, id="open-start"),
])
def test_date_range_problem(start, end, expected):
    assert rules.date_range_problem(start, end) == expected


@pytest.mark.parametrize(("a", "b", "expected"), [
    pytest.param((d(1), d(10)), (d(10), d(20)), True, id="touch-on-last-day"),
    pytest.param((d(1), d(9)), (d(10), d(20)), False, id="back-to-back"),
    pytest.param((d(1), None), (d(10), d(20)), True, id="open-end"),
    pytest.param((None, None), (d(10), d(20)), True, id="open-both"),
    pytest.param((None, d(9)), (d(10), None), False, id="open-disjoint"),
    pytest.param((d(10), d(9)), (d(1), d(20)), False, id="empty-range"),
])
def test_overlaps(a, b, expected):
    assert rules.overlaps(*a, *b) is expected
    assert rules.overlaps(*b, *a) is expected


# ---------------------------------------------------------------- branches

PARENTS = {1: None, 2: 1, 3: 2, 4: None}


@pytest.mark.parametrize(("branch_id", "parent_id", "parent_county", "expected"), [
    pytest.param(None, None, None, None, id="new-top-level"),
    pytest.param(None, 1, 7, None, id="new-under-1"),
    pytest.param(4, 3, 7, None, id="move-under-grandchild-of-other"),
    pytest.param(1, 3, 7, "cycle", id="under-own-grandchild"),
    pytest.param(2, 2, 7, "cycle", id="under-itself"),
    pytest.param(None, 1, 8, "other_county", id="other-county"),
])
def test_branch_parent_problem(branch_id, parent_id, parent_county, expected):
    assert rules.branch_parent_problem(branch_id, 7, parent_id, parent_county, PARENTS) == expected


# ---------------------------------------------------------------- grids (G-2)

L1 = GridRef(id=1, level=1, branch_id=10)


@pytest.mark.parametrize(("level", "parent", "grid_id", "has_children", "expected"), [
    pytest.param(1, None, None, False, None, id="level1"),
    pytest.param(1, L1, None, False, "level1_has_parent", id="level1-with-parent"),
    pytest.param(2, L1, None, False, None, id="level2-under-level1"),
    pytest.param(2, None, None, False, "level2_needs_parent", id="level2-without-parent"),
    pytest.param(2, GridRef(5, 2, 10), None, False, "parent_not_level1", id="three-levels"),
    pytest.param(2, GridRef(1, 1, 11), None, False, "parent_other_branch", id="other-branch"),
    pytest.param(2, GridRef(1, 1, 10, "closed"), None, False, "parent_closed", id="closed-parent"),
    pytest.param(2, L1, 1, False, "parent_is_self", id="own-parent"),
    pytest.param(2, L1, 3, True, "has_children", id="has-children"),
    pytest.param(3, None, None, False, "level_invalid", id="level3"),
])
def test_grid_nesting_problem(level, parent, grid_id, has_children, expected):
    assert rules.grid_nesting_problem(level, parent, 10, grid_id, has_children) == expected


@pytest.mark.parametrize(("old", "new", "has_owner", "expected"), [
    pytest.param(None, "draft", False, None, id="new-draft"),
    pytest.param(None, "active", False, "needs_owner", id="new-active-no-owner"),
    pytest.param("draft", "active", True, None, id="activate-with-owner"),
    pytest.param("draft", "active", False, "needs_owner", id="activate-without-owner"),
    pytest.param("active", "active", False, None, id="stays-active"),
    pytest.param("active", "closed", False, None, id="close"),
])
def test_activation_problem(old, new, has_owner, expected):
    assert rules.activation_problem(old, new, has_owner) == expected


# ---------------------------------------------------------------- assignments (G-1, G-4)

@pytest.mark.parametrize(("duty", "expected"), [
    pytest.param(Duty(1, "owner", d(1)), None, id="owner-open"),
    pytest.param(Duty(1, "cover", d(1), d(10)), None, id="cover-with-end"),
    pytest.param(Duty(1, "cover", d(1)), "cover_needs_end", id="cover-open"),
    pytest.param(Duty(1, "backup", d(10), d(1)), "ends_before_start", id="backwards"),
    pytest.param(Duty(1, "boss", d(1)), "kind_invalid", id="unknown-kind"),
])
def test_assignment_problem(duty, expected):
    assert rules.assignment_problem(duty) == expected


OWNER = Duty(1, "owner", d(1), None, id=100)
PAST_OWNER = Duty(2, "owner", d(1, 1), d(28, 2), id=101)
BACKUP = Duty(3, "backup", d(1), None, id=102)


@pytest.mark.parametrize(("new", "expected"), [
    pytest.param(Duty(4, "owner", d(20)), OWNER, id="second-owner-overlaps"),
    pytest.param(Duty(4, "owner", d(1, 2), d(28, 2)), PAST_OWNER, id="overlaps-past-owner"),
    pytest.param(Duty(4, "owner", d(1, 1), d(31, 1)), PAST_OWNER, id="inside-past-owner"),
    pytest.param(Duty(4, "owner", date(2025, 12, 1), date(2025, 12, 31)), None, id="before-everyone"),
    pytest.param(Duty(4, "backup", d(20)), None, id="backup-is-not-owner"),
    pytest.param(Duty(4, "cover", d(20), d(25)), None, id="cover-is-not-owner"),
    pytest.param(Duty(1, "owner", d(1), d(5), id=100), None, id="same-row-edited"),
])
def test_owner_conflict(new, expected):
    assert rules.owner_conflict([PAST_OWNER, OWNER, BACKUP], new) == expected


def test_owner_after_the_old_owner_ended_yesterday_is_fine():
    old = Duty(1, "owner", d(1), d(14), id=1)
    assert rules.owner_conflict([old], Duty(2, "owner", d(15))) is None
    assert rules.owner_conflict([old], Duty(2, "owner", d(14))) == old


@pytest.mark.parametrize(("new", "expected"), [
    pytest.param(Duty(3, "owner", d(20)), BACKUP, id="backup-becomes-owner-too"),
    pytest.param(Duty(3, "cover", d(1, 2), d(28, 2)), None, id="before-their-backup"),
    pytest.param(Duty(5, "backup", d(20)), None, id="someone-else"),
])
def test_person_conflict(new, expected):
    assert rules.person_conflict([OWNER, BACKUP], new) == expected


@pytest.mark.parametrize(("start", "end", "expected"), [
    pytest.param(d(1), None, "current", id="open"),
    pytest.param(d(15), d(15), "current", id="just-today"),
    pytest.param(d(16), None, "future", id="tomorrow"),
    pytest.param(d(1), d(14), "past", id="ended-yesterday"),
    pytest.param(d(15), d(14), "cancelled", id="ended-before-start"),
])
def test_assignment_state(start, end, expected):
    assert rules.assignment_state(start, end, D) == expected


def test_default_end_is_yesterday_so_visibility_ends_now():
    end = rules.default_end_date(D)
    assert end == d(14)
    assert rules.assignment_state(d(1), end, D) == "past"


@pytest.mark.parametrize(("start", "end", "new_end", "expected"), [
    pytest.param(d(1), None, d(14), None, id="end-yesterday"),
    pytest.param(d(1), None, d(31), None, id="end-later"),
    pytest.param(d(15), None, d(14), None, id="cancel-starting-today"),
    pytest.param(d(15), None, d(13), "before_start", id="before-the-day-before"),
    pytest.param(d(1), d(10), d(9), "already_ended", id="already-over"),
    pytest.param(d(1), d(20), d(25), "later_than_planned", id="extend-cover"),
    pytest.param(d(1), d(20), d(18), None, id="shorten-cover"),
])
def test_end_problem(start, end, new_end, expected):
    assert rules.end_problem(start, end, new_end, D) == expected


# ---------------------------------------------------------------- coverage (G-3)

WHOLE_V1 = Cover(grid_id=1, village_id=1)
GROUP_V2 = Cover(grid_id=2, village_id=2, group_id=21)


@pytest.mark.parametrize(("new", "expected"), [
    pytest.param(Cover(9, 1), ("other_grid", WHOLE_V1), id="whole-village-twice"),
    pytest.param(Cover(9, 1, 11), ("other_grid", WHOLE_V1), id="group-of-covered-village"),
    pytest.param(Cover(9, 2), ("other_grid", GROUP_V2), id="whole-village-with-covered-group"),
    pytest.param(Cover(9, 2, 21), ("other_grid", GROUP_V2), id="same-group"),
    pytest.param(Cover(9, 2, 22), None, id="other-group-same-village"),
    pytest.param(Cover(9, 3), None, id="other-village"),
    pytest.param(Cover(1, 1, 11), ("same_grid", WHOLE_V1), id="same-grid-already-whole"),
    pytest.param(Cover(9, 1, status="closed"), None, id="closed-grid-does-not-count"),
])
def test_coverage_conflict(new, expected):
    clash = rules.coverage_conflict([WHOLE_V1, GROUP_V2], new)
    assert (clash.kind, clash.other) == expected if expected else clash is None


@pytest.mark.parametrize(("other", "new", "clash"), [
    pytest.param(Cover(1, 1, status="closed"), Cover(9, 1), False, id="other-closed"),
    pytest.param(Cover(1, 1, status="draft"), Cover(9, 1), True, id="other-draft"),
    pytest.param(Cover(1, 1, active_to=d(31)), Cover(9, 1, active_from=d(1, 4)), False, id="handover-dates"),
    pytest.param(Cover(1, 1, active_to=d(31)), Cover(9, 1, active_from=d(31)), True, id="same-last-day"),
    pytest.param(Cover(1, 1, active_from=d(1, 4)), Cover(9, 1), True, id="open-new-grid"),
])
def test_coverage_counts_live_grids_over_overlapping_dates(other, new, clash):
    assert (rules.coverage_conflict([other], new) is not None) is clash
