"""Certificate rules (domain W5 C-0..C-7, §2.7): QR tokens and check codes, certificate numbers, the verify URL,
the line and certificate lifecycles, validity by date and the words the public page shows.

Pure: no Flask, no database; "today" and the random source are passed in. Codes are short ASCII strings; the English
texts next to them are msgids marked with N_, shown with `_(LABELS[code])` by callers.
"""
from __future__ import annotations

import calendar
import math
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

from ..core.money import format_wan
from ..households.rules import N_

# ---------------------------------------------------------------- tokens and check codes (C-7)

# Upper-case letters and digits without the ones people confuse on paper: no 0/O, 1/I/L. 31 symbols.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
TOKEN_LENGTH = 26          # 26 x log2(31) = 128.8 bits
CHECK_CODE_LENGTH = 6
MAX_INPUT = 200            # longer input is rejected before any work
_TYPED_NOISE = re.compile(r"[\s\-_.·]+")


def token_bits(length: int = TOKEN_LENGTH, alphabet: str = ALPHABET) -> float:
    """Entropy in bits of a uniformly random string of `length` symbols from `alphabet`."""
    return length * math.log2(len(alphabet))


def _random_string(length: int, rng) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(length))


def new_token(rng=secrets) -> str:
    """A fresh QR token: 26 upper-case symbols of ALPHABET (≥ 128 random bits); `rng` needs `.choice`."""
    return _random_string(TOKEN_LENGTH, rng)


def new_check_code(rng=secrets) -> str:
    """A fresh 6-symbol check code printed on the card (random per certificate, never from personal data)."""
    return _random_string(CHECK_CODE_LENGTH, rng)


def _clean(text, length: int) -> str | None:
    if not isinstance(text, str) or len(text) > MAX_INPUT:
        return None
    value = _TYPED_NOISE.sub("", unicodedata.normalize("NFKC", text)).upper()
    if len(value) != length or any(ch not in ALPHABET for ch in value):
        return None
    return value


def normalise_token(text) -> str | None:
    """A token as scanned or typed (any case, spaces or dashes between groups) in canonical form; None if malformed.

    There is no 0, O, 1, I or L in the alphabet, so a token containing one is rejected, not guessed at.
    """
    return _clean(text, TOKEN_LENGTH)


def normalise_check_code(text) -> str | None:
    """A check code as typed, upper-cased and stripped; None if malformed."""
    return _clean(text, CHECK_CODE_LENGTH)


# ---------------------------------------------------------------- certificate numbers (§2.7)

CERT_NO_RE = re.compile(r"^(\d{6})-([A-Z0-9]{1,10})-(\d{4})-(\d{6})$")
MAX_SERIAL = 999_999
_DASHES = re.compile(r"[\u2010-\u2015\u2212\uff0d_]")


@dataclass(frozen=True)
class CertNo:
    county: str
    branch: str
    year: int
    serial: int

    def __str__(self) -> str:
        return cert_no(self.county, self.branch, self.year, self.serial)


def branch_part(code: str | None) -> str:
    """The branch code as it appears in a certificate number: upper-case letters and digits, at most 10; "0" if none."""
    cleaned = "".join(ch for ch in unicodedata.normalize("NFKC", code or "").upper() if ch.isascii() and ch.isalnum())
    return cleaned[:10] or "0"


def cert_no_prefix(county_code: str, branch_code: str | None, year: int) -> str:
    """"county-branch-year-": every number of one series starts with it (serials count per series)."""
    county = str(county_code)
    if not (len(county) == 6 and county.isascii() and county.isdigit()):
        raise ValueError(f"county code must be 6 digits, not {county_code!r}")
    if not 1000 <= int(year) <= 9999:
        raise ValueError(f"year out of range: {year!r}")
    return f"{county}-{branch_part(branch_code)}-{int(year):04d}-"


def cert_no(county_code: str, branch_code: str | None, year: int, serial: int) -> str:
    """The human-readable number "county-branch-year-serial", e.g. "532931-B01-2026-000042"."""
    if isinstance(serial, bool) or not isinstance(serial, int) or not 1 <= serial <= MAX_SERIAL:
        raise ValueError(f"serial must be 1..{MAX_SERIAL}, not {serial!r}")
    return f"{cert_no_prefix(county_code, branch_code, year)}{serial:06d}"


def normalise_cert_no(text) -> str | None:
    """A number as typed (full-width characters, other dashes, spaces, lower case) in canonical form, or None."""
    if not isinstance(text, str) or len(text) > MAX_INPUT:
        return None
    value = _DASHES.sub("-", unicodedata.normalize("NFKC", text))
    value = re.sub(r"\s+", "", value).upper()
    return value if CERT_NO_RE.match(value) else None


def parse_cert_no(text) -> CertNo | None:
    value = normalise_cert_no(text)
    if value is None:
        return None
    county, branch, year, serial = CERT_NO_RE.match(value).groups()
    if int(serial) == 0:
        return None
    return CertNo(county, branch, int(year), int(serial))


def serial_of(number: str) -> int:
    """The serial of a canonical number (0 if it is not one)."""
    parsed = parse_cert_no(number)
    return parsed.serial if parsed else 0


# ---------------------------------------------------------------- the verify URL in the QR code

VERIFY_PREFIX = "/V/"
# QR alphanumeric mode: digits, upper-case letters and these nine characters. Anything else (lower case!) forces the
# much larger byte mode.
QR_ALPHANUMERIC = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")


def verify_path(token: str) -> str:
    return VERIFY_PREFIX + token


def verify_url(base_url: str, token: str) -> str:
    """PUBLIC_BASE_URL + "/V/" + TOKEN with the scheme and host in upper case (both are case-insensitive), so the
    whole URL stays in QR alphanumeric mode. A path prefix in the base URL is kept as configured."""
    parts = urlsplit((base_url or "").strip().rstrip("/"))
    if not parts.scheme or not parts.netloc:
        raise ValueError(f"PUBLIC_BASE_URL must be absolute, not {base_url!r}")
    return f"{parts.scheme.upper()}://{parts.netloc.upper()}{parts.path}{verify_path(token)}"


def is_qr_alphanumeric(text: str) -> bool:
    return all(ch in QR_ALPHANUMERIC for ch in text)


# ---------------------------------------------------------------- lifecycles (W5)

CERT_STATUSES = ("issued", "active", "suspended", "expired", "revoked", "superseded")
LINE_STATUSES = ("pending", "active", "suspended", "expired", "revoked")
LIVE_CERT_STATUSES = ("issued", "active", "suspended")   # may still change; the others are final
LIVE_LINE_STATUSES = ("pending", "active", "suspended")
SUSPENSION_CATEGORIES = ("village_risk", "overdue", "under_review", "rating_expired", "manual")
# Categories a person may set by hand (rating_expired is set and lifted by the date alone).
MANUAL_CATEGORIES = ("village_risk", "overdue", "under_review", "manual")

CERT_EVENTS = ("activate", "suspend", "resume", "expire", "revoke", "supersede")
CERT_TRANSITIONS: dict[tuple[str, str], str] = {
    ("issued", "activate"): "active",
    ("issued", "suspend"): "suspended",
    ("active", "suspend"): "suspended",
    ("suspended", "resume"): "active",
    **{(s, "expire"): "expired" for s in LIVE_CERT_STATUSES},
    **{(s, "revoke"): "revoked" for s in LIVE_CERT_STATUSES},
    **{(s, "supersede"): "superseded" for s in LIVE_CERT_STATUSES},  # C-5 reissue
}
LINE_EVENTS = ("activate", "suspend", "resume", "expire", "revoke")
LINE_TRANSITIONS: dict[tuple[str, str], str] = {
    ("pending", "activate"): "active",
    ("active", "suspend"): "suspended",
    ("suspended", "resume"): "active",
    **{(s, "expire"): "expired" for s in LIVE_LINE_STATUSES},
    **{(s, "revoke"): "revoked" for s in LIVE_LINE_STATUSES},
}
_TABLES = {"certificate": (CERT_TRANSITIONS, CERT_EVENTS), "line": (LINE_TRANSITIONS, LINE_EVENTS)}


class TransitionRefused(ValueError):
    """The certificate's (or line's) status does not allow this event."""

    def __init__(self, current: str, event: str, kind: str = "certificate") -> None:
        self.current = current
        self.event = event
        self.kind = kind
        super().__init__(f"{kind} status {current!r} does not allow {event!r}")


def next_status(current: str, event: str, kind: str = "certificate") -> str:
    """The status after `event`; `kind` is "certificate" or "line"."""
    table, _events = _TABLES[kind]
    try:
        return table[(current, event)]
    except KeyError:
        raise TransitionRefused(current, event, kind) from None


def allowed_events(current: str, kind: str = "certificate") -> list[str]:
    table, events = _TABLES[kind]
    return [event for event in events if (current, event) in table]


# ---------------------------------------------------------------- issuing and validity (C-1, C-2)

DEFAULT_VALID_YEARS = 3
RECONFIRM_MONTHS = 12


def may_issue(rating_status: str, grade: str) -> bool:
    """C-1: only a final rating whose grade is not 不予评级."""
    return rating_status == "final" and grade not in ("not_rated", "", None)


def add_months(day: date, months: int) -> date:
    """The same day `months` later; the end of a shorter month when that day does not exist (29 Feb -> 28 Feb)."""
    total = day.year * 12 + (day.month - 1) + months
    year, month = divmod(total, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def valid_to(issued_on: date, years: int = DEFAULT_VALID_YEARS) -> date:
    """C-2: a line (and its certificate) is valid `years` years from issue (the last valid day)."""
    return add_months(issued_on, 12 * years)


def reconfirm_by(rating_valid_to: date | None, line_valid_to: date, today: date) -> date:
    """The day by which the rating must be re-confirmed: its own validity (12 months), never past the line's end."""
    base = rating_valid_to or add_months(today, RECONFIRM_MONTHS)
    return min(base, line_valid_to)


def reconfirmed_until(today: date, line_valid_to: date) -> date:
    """A yearly re-confirmation made today: 12 months from today, never past the line's end."""
    return min(add_months(today, RECONFIRM_MONTHS), line_valid_to)


@dataclass(frozen=True)
class DateChange:
    event: str                 # expire | suspend | resume
    category: str | None       # the suspension category after it (None unless suspended)


def date_change(status: str, category: str | None, valid_to_: date, reconfirm_by_: date | None,
                today: date) -> DateChange | None:
    """What the date alone does to a line or certificate (C-2, C-3), or None.

    Past valid_to: expired. Past reconfirm_by without re-confirmation: suspended as rating_expired (a suspension for
    another cause stays as it is). Re-confirmed again while suspended only as rating_expired: active again.
    """
    if status not in LIVE_CERT_STATUSES + LIVE_LINE_STATUSES:
        return None
    if today > valid_to_:
        return DateChange("expire", None)
    lapsed = reconfirm_by_ is not None and today > reconfirm_by_
    if lapsed and status in ("issued", "active"):
        return DateChange("suspend", "rating_expired")
    if not lapsed and status == "suspended" and category == "rating_expired":
        return DateChange("resume", None)
    return None


def after_resume(reconfirm_by_: date | None, today: date) -> tuple[str, str | None]:
    """Lifting a suspension by hand: active, unless the yearly re-confirmation has lapsed meanwhile."""
    if reconfirm_by_ is not None and today > reconfirm_by_:
        return "suspended", "rating_expired"
    return "active", None


def effective_status(status: str, category: str | None, valid_to_: date, reconfirm_by_: date | None,
                     today: date) -> tuple[str, str | None]:
    """(status, category) as of `today`, whatever the stored row says (the tick makes it durable)."""
    change = date_change(status, category, valid_to_, reconfirm_by_, today)
    if change is None:
        return status, category
    if change.event == "expire":
        return "expired", None
    if change.event == "suspend":
        return "suspended", change.category
    return "active", None


# ---------------------------------------------------------------- words

CERT_STATUS_LABELS = {
    "issued": N_("Issued"), "active": N_("Valid"), "suspended": N_("Suspended"), "expired": N_("Expired"),
    "revoked": N_("Revoked"), "superseded": N_("Replaced by a new certificate"),
}
LINE_STATUS_LABELS = {
    "pending": N_("Pending"), "active": N_("Active"), "suspended": N_("Suspended"), "expired": N_("Expired"),
    "revoked": N_("Revoked"),
}
SUSPENSION_LABELS = {  # C-6: the only detail the public page gives about a suspension
    "village_risk": N_("Village risk control"),   # 村级风险管控
    "overdue": N_("Overdue"),                      # 逾期
    "under_review": N_("Under review"),            # 复核中
    "rating_expired": N_("Rating expired"),        # 评级过期
    "manual": N_("Suspended by the bank"),         # 人工
}
KINDS = ("credit",)
KIND_LABELS = {"credit": N_("Credit certificate")}  # 授信证

# What the public page says for each stored status (C-6). A revoked certificate is indistinguishable from an unknown
# token: "invalid".
PUBLIC_STATUSES = ("valid", "suspended", "expired", "superseded", "invalid")
PUBLIC_STATUS = {"issued": "valid", "active": "valid", "suspended": "suspended", "expired": "expired",
                 "superseded": "superseded", "revoked": "invalid"}
PUBLIC_STATUS_LABELS = {
    "valid": N_("Valid"),                                # 有效
    "suspended": N_("Suspended"),                        # 暂停
    "expired": N_("Expired"),                            # 已过期
    "superseded": N_("Replaced by a new certificate"),   # 已换发
    "invalid": N_("Certificate not valid"),              # 证书无效
}


def wan_text(fen: int) -> str:
    """Fen as 万元 text for cards and the verify page ("5万元", "10.5万元")."""
    return format_wan(int(fen)) + "元"


def public_status(status: str | None) -> str:
    """The public word's code for a stored status; anything unknown is "invalid"."""
    return PUBLIC_STATUS.get(status or "", "invalid")
