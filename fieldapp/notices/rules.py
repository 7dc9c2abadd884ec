"""Public-notice rules (domain W4, N-1..N-11, §4.3): windows, states, receipts, the frozen snapshot, the posting radius.

No Flask, no database: plain values in, plain values out. The numbers (7 days, 5..15, 3-day re-notice, 1500 m) are
settings passed in by the caller; the defaults here only document them.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from ..core.money import format_wan
from ..households.rules import N_
from ..ratings.rules import VETO_LABELS
from ..visits.rules import haversine_m

LOCAL_TZ = ZoneInfo("Asia/Shanghai")

DEFAULT_DAYS = 7       # N-1
MIN_DAYS = 5
MAX_DAYS = 15
RENOTICE_DAYS = 3      # N-10
POSTING_RADIUS_M = 1500.0  # N-3: the board is in the village
PASS_MARK = 60         # RT-6: below this a household is not rated (private notice, N-5)

# ---------------------------------------------------------------- notice states (W4)

# Mirrors notices.models.NOTICE_STATUSES / ITEM_STATUSES / OBJECTION_STATUSES (a unit test keeps them equal).
NOTICE_STATUSES = ("draft", "scheduled", "open", "closed", "finalised", "cancelled")
ITEM_STATUSES = ("listed", "objected", "changed", "withdrawn", "final")
OBJECTION_STATUSES = ("received", "investigating", "decided", "replied", "withdrawn")
OPEN_OBJECTION_STATUSES = ("received", "investigating")

STATUS_LABELS = {
    "draft": N_("Draft"), "scheduled": N_("Scheduled"), "open": N_("Open for objections"),
    "closed": N_("Closed"), "finalised": N_("Finalised"), "cancelled": N_("Cancelled"),
}
ITEM_STATUS_LABELS = {
    "listed": N_("Listed"), "objected": N_("Objection open"), "changed": N_("Changed (re-noticed)"),
    "withdrawn": N_("Withdrawn"), "final": N_("Final"),
}
NOTICE_EVENTS = ("schedule", "open", "close", "finalise", "cancel")
TRANSITIONS: dict[tuple[str, str], str] = {
    ("draft", "schedule"): "scheduled",
    ("scheduled", "open"): "open",        # N-3: only with the posting photo inside the village
    ("open", "close"): "closed",          # after the end of the last day, never earlier
    ("closed", "finalise"): "finalised",  # every item settled (final, changed or withdrawn)
    ("draft", "cancel"): "cancelled",
    ("scheduled", "cancel"): "cancelled",  # once posted, corrections are supplementary notices, not a cancel
}


class TransitionRefused(ValueError):
    """The notice's status does not allow this event."""

    def __init__(self, current: str, event: str) -> None:
        self.current = current
        self.event = event
        super().__init__(f"notice status {current!r} does not allow {event!r}")


def next_status(current: str, event: str) -> str:
    try:
        return TRANSITIONS[(current, event)]
    except KeyError:
        raise TransitionRefused(current, event) from None


def allowed_events(current: str) -> list[str]:
    """The events ``current`` allows, in NOTICE_EVENTS order (for showing only the buttons that work)."""
    return [event for event in NOTICE_EVENTS if (current, event) in TRANSITIONS]


# ---------------------------------------------------------------- items

SETTLED_ITEM_STATUSES = frozenset({"final", "changed", "withdrawn"})
PENDING_ITEM_STATUSES = ("listed", "objected")
ON_NOTICE_RATING = frozenset({"on_notice", "re_notice"})


def item_outcome(item_status: str, rating_status: str, blocked: bool) -> str | None:
    """What closing does to one item: "final", "withdrawn", "wait" (N-8: an open objection, or the re-rating is
    not through yet) or None (already settled).

    - settled items (final, changed, withdrawn) stay as they are;
    - a rating the household withdrew makes the item withdrawn, objection or not;
    - a blocked item waits; other items proceed (N-8 blocks only its household);
    - only a rating still on notice (or re-notice) becomes final; anything else (a re-rating approved but not
      yet re-noticed) waits.
    """
    if item_status in SETTLED_ITEM_STATUSES:
        return None
    if rating_status == "withdrawn":
        return "withdrawn"
    if blocked:
        return "wait"
    if rating_status in ON_NOTICE_RATING:
        return "final"
    return "wait"


def notice_settled(item_statuses: Iterable[str]) -> bool:
    """A closed notice is finalised when none of its items is still pending."""
    return all(status in SETTLED_ITEM_STATUSES for status in item_statuses)


# ---------------------------------------------------------------- the window (N-1, N-7)

def duration_ok(days: int, min_days: int = MIN_DAYS, max_days: int = MAX_DAYS) -> bool:
    return isinstance(days, int) and not isinstance(days, bool) and min_days <= days <= max_days


def window(starts_on: date, duration_days: int) -> date:
    """The last day of a window of `duration_days` calendar days starting on `starts_on` (both days included)."""
    if duration_days < 1:
        raise ValueError("a notice lasts at least one day")
    return starts_on + timedelta(days=duration_days - 1)


def is_open_on(starts_on: date | None, ends_on: date | None, today: date) -> bool:
    """Whether `today` (local calendar day) is inside the window."""
    return starts_on is not None and ends_on is not None and starts_on <= today <= ends_on


def is_over(ends_on: date | None, today: date) -> bool:
    """The window ran to the end of `ends_on` (Asia/Shanghai): it is over from the next day on."""
    return ends_on is not None and today > ends_on


def days_left(ends_on: date | None, today: date) -> int:
    """Calendar days left including today (the last day counts 1); 0 once the window is over."""
    if ends_on is None:
        return 0
    return max(0, (ends_on - today).days + 1)


def local_day(moment: datetime) -> date:
    """The Asia/Shanghai calendar day of a moment (aware, or naive local time)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(LOCAL_TZ)
    return moment.date()


def within_window(received: datetime, starts_on: date | None, ends_on: date | None) -> bool:
    """N-7: an objection is within the window when received from 00:00 of the first day to the end of the last day
    (local time); later (or earlier) it is a complaint that does not block. `received` is local time or aware."""
    return is_open_on(starts_on, ends_on, local_day(received))


# ---------------------------------------------------------------- posting (N-3)

def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres (the visits' haversine)."""
    return haversine_m(lat1, lng1, lat2, lng2)


def posting_ok(distance: float | None, radius_m: float = POSTING_RADIUS_M) -> bool:
    """The board photo was taken inside the village: within `radius_m` of its centroid (exactly the radius is fine)."""
    return distance is not None and distance <= radius_m


# ---------------------------------------------------------------- receipts

RECEIPT_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
RECEIPT_RANDOM = 6
RECEIPT_LENGTH = 2 + RECEIPT_RANDOM + 1
_VALUE = {c: i for i, c in enumerate(RECEIPT_ALPHABET)}
_READ_AS = {"I": "1", "L": "1", "O": "0", "U": "V"}  # what people misread, as Crockford decodes it


def _check_char(body: str) -> str:
    """Luhn mod 32 over the alphabet: catches every single wrong character and most swapped neighbours."""
    n = len(RECEIPT_ALPHABET)
    total, factor = 0, 2
    for ch in reversed(body):
        addend = factor * _VALUE[ch]
        addend = addend // n + addend % n
        total += addend
        factor = 1 if factor == 2 else 2
    return RECEIPT_ALPHABET[(n - total % n) % n]


def new_receipt(rng_bytes: bytes, year: int | None = None) -> str:
    """A receipt number: two digits of the year + 6 random base32 characters + a check character (9 in all).

    `rng_bytes` (at least 4 bytes, e.g. os.urandom(6)) supplies the randomness; `year` defaults to the current
    year in Asia/Shanghai.
    """
    if len(rng_bytes) < 4:
        raise ValueError("need at least 4 random bytes")
    if year is None:
        year = datetime.now(LOCAL_TZ).year
    value = int.from_bytes(rng_bytes, "big")
    chars = []
    for _ in range(RECEIPT_RANDOM):
        value, digit = divmod(value, 32)
        chars.append(RECEIPT_ALPHABET[digit])
    body = f"{year % 100:02d}" + "".join(chars)
    return body + _check_char(body)


def normalise_receipt(text: str | None) -> str | None:
    """A typed receipt number as stored (upper case, spaces and dashes dropped, I/L/O/U read as 1/1/0/V), or None
    when it is not one."""
    raw = "".join(ch for ch in str(text or "").strip().upper() if ch not in " -")
    raw = "".join(_READ_AS.get(ch, ch) for ch in raw)
    if len(raw) != RECEIPT_LENGTH or not raw[:2].isdigit() or any(ch not in _VALUE for ch in raw):
        return None
    if _check_char(raw[:-1]) != raw[-1]:
        return None
    return raw


def receipt_ok(text: str | None) -> bool:
    return normalise_receipt(text) is not None


# ---------------------------------------------------------------- the frozen snapshot

def canonical_json(data) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def content_hash(snapshot: Mapping) -> str:
    """SHA-256 (hex) of the snapshot's canonical JSON: keys sorted, no spaces, UTF-8."""
    return hashlib.sha256(canonical_json(snapshot).encode("utf-8")).hexdigest()


SNAPSHOT_ITEM_FIELDS = ("item_id", "position", "display_name", "group_name", "grade", "line_fen", "program",
                        "amended", "amendment_note")
# N-4: what a notice may show of a household; anything else must never reach a snapshot.
FORBIDDEN_ITEM_KEYS = frozenset({"head_name", "name", "id_number", "phone", "mobile", "income", "debt", "score",
                                 "final_score", "household_id", "breakdown"})


def snapshot_item(item: Mapping) -> dict:
    """The public fields of one item, nothing else (N-4)."""
    return {key: item.get(key) for key in SNAPSHOT_ITEM_FIELDS}


# ---------------------------------------------------------------- private notices (N-5)

PRIVATE_REASON_LABELS = {
    **VETO_LABELS,
    "below_60": N_("The score is below 60 points"),
    "not_rated": N_("The bank decided not to rate the household"),
}


def private_reasons(vetoes: Sequence[str] | None, final_score, grade: str | None,
                    pass_mark: int = PASS_MARK) -> list[str]:
    """Why a household is not listed: its veto codes; else "below_60" when the score is under the pass mark;
    else "not_rated" (the approver set the grade to not rated)."""
    if vetoes:
        return list(dict.fromkeys(vetoes))
    try:
        below = final_score is not None and float(final_score) < pass_mark
    except (TypeError, ValueError):
        below = False
    if below:
        return ["below_60"]
    return ["not_rated"] if grade == "not_rated" else []


def is_listed_grade(grade: str | None) -> bool:
    return bool(grade) and grade != "not_rated"


# ---------------------------------------------------------------- printed words (data on the sheet)

# The sheet and notes are printed in Chinese (the villages' language); grades as the seeds name them.
GRADE_ZH = {"excellent": "优秀", "good": "较好", "fair": "一般", "not_rated": "不予评级"}
DEFAULT_TITLE = "{village}农户信用评级授信结果公示"
SUPPLEMENT_TITLE = "{village}农户信用评级补充公示"


def default_title(village_name: str, supplement: bool = False) -> str:
    return (SUPPLEMENT_TITLE if supplement else DEFAULT_TITLE).format(village=village_name)


def _wan(fen: int) -> str:
    """Fen as 万元 text ("10万元", "5.5万元")."""
    return format_wan(int(fen)) + "元"


def amendment_note(old_grade: str, old_line_fen: int, new_grade: str, new_line_fen: int) -> str:
    """The printed note on an amended item: what was posted before and what it is now."""
    return (f"原公示：{GRADE_ZH.get(old_grade, old_grade)}，授信{_wan(old_line_fen)}；"
            f"更正为：{GRADE_ZH.get(new_grade, new_grade)}，授信{_wan(new_line_fen)}")


# The county's second language (N-4 "bilingual where the county has a second language"). Texts to be checked by a
# native speaker before printing for real; printed in the script's own font (Noto Sans Mongolian / Arabic).
SECOND_LANGUAGE = {
    "mn": {
        "name": "ᠮᠣᠩᠭᠣᠯ",
        "title": "ᠵᠡᠭᠡᠯ ᠦᠨ ᠴᠢᠨᠠᠷ ᠤᠨ ᠢᠯᠡ ᠵᠠᠷᠯᠠᠯ",
        "instructions": "ᠰᠠᠨᠠᠯ ᠲᠠᠢ ᠪᠣᠯ ᠢᠯᠡ ᠵᠠᠷᠯᠠᠯ ᠤᠨ ᠬᠤᠭᠤᠴᠠᠭᠠᠨ ᠳᠤ ᠤᠲᠠᠰᠤ ᠪᠠᠷ ᠮᠡᠳᠡᠭᠳᠡᠭᠡᠷᠡᠢ",
        "script": "mongolian",
    },
    "ug": {
        "name": "ئۇيغۇرچە",
        "title": "ئىناۋەت دەرىجىسى ئاشكارىلاش ئۇقتۇرۇشى",
        "instructions": "پىكرىڭىز بولسا، ئاشكارىلاش مۇددىتى ئىچىدە تېلېفون ئارقىلىق ئىنكاس قىلىڭ",
        "script": "arabic",
    },
}


def second_language(code: str | None) -> dict | None:
    """The second-language texts of a county's language code (None when unset or unknown)."""
    return SECOND_LANGUAGE.get((code or "").strip().lower()) if code else None
