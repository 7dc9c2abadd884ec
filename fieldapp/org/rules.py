"""Organisation rules (pure): division codes, date ranges, grid nesting (G-2), one owner at a time (G-1),
no double coverage (G-3) and how assignments end without losing history (G-4).

Nothing here imports Flask or the database: callers pass plain values (or the small dataclasses below) and get
back a problem id (a short string the view turns into a message), a clashing record, or None.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

COUNTY_CODE_RE = re.compile(r"[0-9]{6}")
TOWNSHIP_CODE_RE = re.compile(r"[0-9]{9}")
VILLAGE_CODE_RE = re.compile(r"[0-9]{12}")
LANGUAGE_RE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})?")
ORG_CODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,19}")

GRID_LEVELS = (1, 2)
ASSIGNMENT_KINDS = ("owner", "backup", "cover")
# A grid that is not closed counts for coverage: a draft grid is about to go live, and letting it overlap an
# active one would only move the clash to the day it is activated.
LIVE_GRID_STATUSES = ("draft", "active")


# ---------------------------------------------------------------- division codes (GB/T 2260, NBS 统计用区划代码)

def county_code_problem(code: str) -> str | None:
    """'format' unless the county code is exactly 6 ASCII digits."""
    return None if COUNTY_CODE_RE.fullmatch(code or "") else "format"


def township_code_problem(code: str, county_code: str) -> str | None:
    """'format' unless 9 ASCII digits; 'prefix' unless it starts with the county's code."""
    if not TOWNSHIP_CODE_RE.fullmatch(code or ""):
        return "format"
    return None if code.startswith(county_code) else "prefix"


def village_code_problem(code: str, township_code: str) -> str | None:
    """'format' unless 12 ASCII digits; 'prefix' unless it starts with the township's code."""
    if not VILLAGE_CODE_RE.fullmatch(code or ""):
        return "format"
    return None if code.startswith(township_code) else "prefix"


def codes_outside(prefix: str, codes: Iterable[str]) -> list[str]:
    """The child codes that would no longer start with a parent's (new) code, sorted."""
    return sorted(c for c in codes if not c.startswith(prefix))


def language_problem(tag: str | None) -> str | None:
    """'format' unless empty or a short language tag such as 'mn' or 'mn-Mong'."""
    if not tag:
        return None
    return None if LANGUAGE_RE.fullmatch(tag) else "format"


def org_code_problem(code: str) -> str | None:
    """'format' unless a branch or grid code of 1-20 letters, digits, dot, dash or underscore."""
    return None if ORG_CODE_RE.fullmatch(code or "") else "format"


def coordinate_problem(lat: float | None, lng: float | None) -> str | None:
    """A village centroid (WGS-84) is optional, but both or neither, finite and in range."""
    if lat is None and lng is None:
        return None
    if lat is None or lng is None:
        return "pair"
    if not (math.isfinite(lat) and math.isfinite(lng)):
        return "not_finite"
    if not -90.0 <= lat <= 90.0:
        return "lat_range"
    if not -180.0 <= lng <= 180.0:
        return "lng_range"
    return None


# ---------------------------------------------------------------- dates

def date_range_problem(starts_on: date | None, ends_on: date | None) -> str | None:
    """'ends_before_start' when both are given and the end comes first (an open end is fine)."""
    if starts_on is not None and ends_on is not None and ends_on < starts_on:
        return "ends_before_start"
    return None


def overlaps(a_start: date | None, a_end: date | None, b_start: date | None, b_end: date | None) -> bool:
    """Whether two inclusive date ranges share a day; None is an open start or end. Empty ranges share nothing."""
    lo = max(a_start or date.min, b_start or date.min)
    hi = min(a_end or date.max, b_end or date.max)
    if (a_start and a_end and a_end < a_start) or (b_start and b_end and b_end < b_start):
        return False
    return lo <= hi


# ---------------------------------------------------------------- branches

def branch_parent_problem(branch_id: int | None, county_id: int, parent_id: int | None,
                          parent_county_id: int | None, parents: Mapping[int, int | None]) -> str | None:
    """'other_county' if the parent branch is in another county; 'cycle' if it is the branch itself or one of
    its descendants (`parents` maps every branch id to its parent id)."""
    if parent_id is None:
        return None
    if parent_county_id != county_id:
        return "other_county"
    if branch_id is None:
        return None
    seen: set[int] = set()
    node: int | None = parent_id
    while node is not None and node not in seen:
        if node == branch_id:
            return "cycle"
        seen.add(node)
        node = parents.get(node)
    return None


# ---------------------------------------------------------------- grids (G-2 nesting)

@dataclass(frozen=True)
class GridRef:
    """What the nesting rule needs to know about a would-be parent grid."""

    id: int
    level: int
    branch_id: int
    status: str = "active"


def grid_nesting_problem(level: int, parent: GridRef | None, branch_id: int, grid_id: int | None = None,
                         has_children: bool = False) -> str | None:
    """G-2: grids nest one level only. A level-1 grid has no parent; a level-2 grid has a live level-1 parent
    of the same branch; a grid with child grids cannot itself become level 2."""
    if level not in GRID_LEVELS:
        return "level_invalid"
    if level == 1:
        return "level1_has_parent" if parent is not None else None
    if parent is None:
        return "level2_needs_parent"
    if grid_id is not None and parent.id == grid_id:
        return "parent_is_self"
    if has_children:
        return "has_children"
    if parent.level != 1:
        return "parent_not_level1"
    if parent.branch_id != branch_id:
        return "parent_other_branch"
    if parent.status == "closed":
        return "parent_closed"
    return None


def activation_problem(old_status: str | None, new_status: str, has_owner_today: bool) -> str | None:
    """G-1: a grid becomes active only once it has an owner on duty today ('needs_owner')."""
    if new_status == "active" and old_status != "active" and not has_owner_today:
        return "needs_owner"
    return None


# ---------------------------------------------------------------- assignments (G-1, G-4)

@dataclass(frozen=True)
class Duty:
    """One staff assignment on one grid: inclusive dates, open end = until further notice."""

    user_id: int
    kind: str
    starts_on: date
    ends_on: date | None = None
    id: int | None = None


def assignment_problem(new: Duty) -> str | None:
    """Shape of a new assignment: known kind, a temporary cover always ends, the end is not before the start."""
    if new.kind not in ASSIGNMENT_KINDS:
        return "kind_invalid"
    if new.kind == "cover" and new.ends_on is None:
        return "cover_needs_end"
    return date_range_problem(new.starts_on, new.ends_on)


def _same_period(a: Duty, b: Duty) -> bool:
    return (a.id is None or a.id != b.id) and overlaps(a.starts_on, a.ends_on, b.starts_on, b.ends_on)


def owner_conflict(assignments: Iterable[Duty], new_assignment: Duty) -> Duty | None:
    """G-1: the existing owner assignment whose dates overlap a new owner's, or None (one owner at any date)."""
    if new_assignment.kind != "owner":
        return None
    for other in assignments:
        if other.kind == "owner" and _same_period(new_assignment, other):
            return other
    return None


def person_conflict(assignments: Iterable[Duty], new_assignment: Duty) -> Duty | None:
    """The same person already on this grid (in any capacity) over overlapping dates, or None."""
    for other in assignments:
        if other.user_id == new_assignment.user_id and _same_period(new_assignment, other):
            return other
    return None


def assignment_state(starts_on: date, ends_on: date | None, today: date) -> str:
    """'future', 'current', 'past' — or 'cancelled' for an assignment ended before its first day."""
    if ends_on is not None and ends_on < starts_on:
        return "cancelled"
    if starts_on > today:
        return "future"
    if ends_on is not None and ends_on < today:
        return "past"
    return "current"


def default_end_date(today: date) -> date:
    """Ending "now": the last day on duty is yesterday, so visibility is gone today (G-4)."""
    return today - timedelta(days=1)


def end_problem(starts_on: date, ends_on: date | None, new_end: date, today: date) -> str | None:
    """Ending (never deleting) an assignment: not already over, not later than an end already set, and not
    earlier than the day before it started (that day means: cancelled before it began)."""
    if ends_on is not None and ends_on < today:
        return "already_ended"
    if ends_on is not None and new_end > ends_on:
        return "later_than_planned"
    if new_end < starts_on - timedelta(days=1):
        return "before_start"
    return None


# ---------------------------------------------------------------- coverage (G-3)

@dataclass(frozen=True)
class Cover:
    """A grid covering a whole village (group_id None) or one of its groups, with the grid's status and dates."""

    grid_id: int | None
    village_id: int
    group_id: int | None = None
    status: str = "active"
    active_from: date | None = None
    active_to: date | None = None
    ref: object = field(default=None, compare=False)


@dataclass(frozen=True)
class CoverageClash:
    kind: str  # 'same_grid' (already covered by this grid) or 'other_grid'
    other: Cover


def _same_land(a: Cover, b: Cover) -> bool:
    """Same village, and one of them is the whole village or both are the same group."""
    return a.village_id == b.village_id and (a.group_id is None or b.group_id is None or a.group_id == b.group_id)


def coverage_conflict(existing: Iterable[Cover], new: Cover) -> CoverageClash | None:
    """G-3: a village (or group) is covered by at most one live grid at any date. Returns the first clash:
    the same grid covering it already, or another live grid whose dates overlap."""
    others = []
    for cover in existing:
        if not _same_land(new, cover):
            continue
        if cover.grid_id == new.grid_id:
            return CoverageClash("same_grid", cover)
        others.append(cover)
    if new.status not in LIVE_GRID_STATUSES:
        return None
    for cover in others:
        if cover.status in LIVE_GRID_STATUSES and overlaps(new.active_from, new.active_to,
                                                           cover.active_from, cover.active_to):
            return CoverageClash("other_grid", cover)
    return None
