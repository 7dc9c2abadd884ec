"""Visit rules (domain §2.4, W2 V-3): distance, visit flags, the revisit rule and the credit-file state table.

No Flask, no database: plain values in, plain values out. Thresholds are [assumption]s of the domain document, so
each is a module constant that the functions also accept as a keyword argument.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from ..households.rules import FILE_STATUSES, N_

# Mirrors visits.models.OUTCOMES / CONSENT_KINDS (a unit test keeps them equal).
OUTCOMES = ("done", "not_home", "refused", "unreachable")  # 完成 / 无人在家 / 拒访 / 外出失联
DONE = "done"
# V-3 counts attempts that did not reach the household. A refusal (拒访) reached it: it neither counts nor resets.
UNREACHED_OUTCOMES = frozenset({"not_home", "unreachable"})

CLOCK_SKEW_LIMIT = timedelta(minutes=10)  # device vs server start; more than this apart is flagged
LOW_ACCURACY_M = 100.0  # GPS accuracy worse than this: warn, never block
OFF_SITE_M = 500.0  # farther than this from the home (or the village centroid): flag for branch review
REVISIT_ATTEMPTS = 3  # unsuccessful attempts on different days before pending_revisit

EARTH_RADIUS_M = 6_371_008.8  # IUGG mean Earth radius

VISIT_FLAGS = ("clock_skew", "low_accuracy", "off_site")
VISIT_FLAG_MESSAGES: dict[str, str] = {
    "clock_skew": N_("The phone's clock differs from the server's by more than 10 minutes."),
    "low_accuracy": N_("The location is imprecise (accuracy worse than 100 m)."),
    "off_site": N_("Recorded more than 500 m from the home."),
}


# ---------------------------------------------------------------- distance

def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres between two WGS-84 points (spherical Earth; < 0.5 % error)."""
    p1, p2 = math.radians(float(lat1)), math.radians(float(lat2))
    dp, dl = p2 - p1, math.radians(float(lng2) - float(lng1))
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def distance_to_reference_m(lat: float | None, lng: float | None,
                            home: tuple[float, float] | None = None,
                            centroid: tuple[float, float] | None = None) -> float | None:
    """Distance from the visit's GPS fix to the home, or to the village centroid when the home is unknown.

    None when the visit has no fix or neither reference point is known. Points are (lat, lng).
    """
    if lat is None or lng is None:
        return None
    ref = home if home is not None and None not in home else centroid
    if ref is None or None in ref:
        return None
    return haversine_m(lat, lng, ref[0], ref[1])


# ---------------------------------------------------------------- flags (§2.4)

def visit_flags(server_start: datetime, device_start: datetime | None, gps_accuracy_m: float | None,
                distance_m: float | None, *, skew_limit: timedelta = CLOCK_SKEW_LIMIT,
                accuracy_limit_m: float = LOW_ACCURACY_M, off_site_m: float = OFF_SITE_M) -> set[str]:
    """Review flags of a visit; none of them blocks saving.

    - clock_skew: device and server start more than 10 minutes apart (exactly 10 is fine). Both times must be on
      the same basis (e.g. naive UTC): the view converts the browser's time before calling.
    - low_accuracy: GPS accuracy above 100 m (warn only; exactly 100 is fine).
    - off_site: more than 500 m from the home or village centroid (exactly 500 is fine).
    A missing value (None) raises no flag.
    """
    flags: set[str] = set()
    if device_start is not None and abs(server_start - device_start) > skew_limit:
        flags.add("clock_skew")
    if gps_accuracy_m is not None and gps_accuracy_m > accuracy_limit_m:
        flags.add("low_accuracy")
    if distance_m is not None and distance_m > off_site_m:
        flags.add("off_site")
    return flags


# ---------------------------------------------------------------- V-3

def _day(when: date | datetime) -> date:
    return when.date() if isinstance(when, datetime) else when


def failed_days(attempts: Iterable[tuple[date | datetime, str]], *,
                counted: frozenset[str] = UNREACHED_OUTCOMES) -> set[date]:
    """The distinct days with an unsuccessful attempt after the last completed visit.

    ``attempts`` are (when, outcome) in any order; ``when`` is a date or a datetime (don't mix them). With dates,
    attempts on the day of the last completed visit don't count (the completed one is taken as the day's last).
    """
    items = list(attempts)
    done = [when for when, outcome in items if outcome == DONE]
    last_done = max(done) if done else None
    return {_day(when) for when, outcome in items
            if outcome in counted and (last_done is None or when > last_done)}


def revisit_state(attempts: Iterable[tuple[date | datetime, str]], *, limit: int = REVISIT_ATTEMPTS,
                  counted: frozenset[str] = UNREACHED_OUTCOMES) -> bool:
    """V-3: True when the household was not reached on at least 3 different days since its last completed visit.

    Several attempts on one day count once. Outcomes counted: 无人在家 (not_home) and 外出失联 (unreachable).
    """
    return len(failed_days(attempts, counted=counted)) >= limit


# ---------------------------------------------------------------- W2 credit-file state table

FILE_EVENTS = ("visit_saved", "submit", "accept", "return", "change", "unreachable", "visit_done")


class TransitionError(ValueError):
    """The event is not allowed in the file's current state."""

    def __init__(self, current: str, event: str) -> None:
        self.current = current
        self.event = event
        super().__init__(f"file status {current!r} does not allow {event!r}")


FILE_TRANSITIONS: dict[tuple[str, str], str] = {
    ("new", "visit_saved"): "draft",  # the first visit is saved (any outcome)
    ("draft", "submit"): "submitted",  # the grid officer submits (V-1 checked by the caller)
    ("returned", "submit"): "submitted",  # resubmission after a return
    ("submitted", "accept"): "accepted",  # branch manager
    ("submitted", "return"): "returned",  # branch manager, with comments per section
    ("accepted", "change"): "draft",  # a later change opens a new version; the accepted one stays current
    ("pending_revisit", "visit_done"): "draft",  # a completed visit brings the household back
    # V-3 from any state (pending_revisit -> pending_revisit is a harmless repeat).
    **{(status, "unreachable"): "pending_revisit" for status in FILE_STATUSES},
}


def next_file_status(current: str, event: str) -> str:
    """The file status after ``event`` (one of FILE_EVENTS); raises TransitionError for anything not in the table.

    "change" applies to an accepted file only: editing a draft or returned file is no transition, and a submitted
    file is locked until the branch manager accepts or returns it.
    """
    try:
        return FILE_TRANSITIONS[(current, event)]
    except KeyError:
        raise TransitionError(current, event) from None


def allowed_events(current: str) -> list[str]:
    """The events ``current`` allows, in FILE_EVENTS order (for showing only the buttons that work)."""
    return [event for event in FILE_EVENTS if (current, event) in FILE_TRANSITIONS]
