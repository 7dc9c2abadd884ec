"""Credit-file rules that need no request: search keys, rates and lawful caps (PL-2..PL-4), debt flags, section
completeness and the submission check (V-1). No Flask, no database: plain values in, plain values or small frozen
dataclasses out, "today" passed in."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from pypinyin import Style, lazy_pinyin

from ..core.money import round_yuan

# Characters read differently as surnames than in ordinary words (姓氏读音). Compound surnames first.
SURNAME_READINGS: dict[str, list[str]] = {
    "尉迟": ["yu", "chi"], "万俟": ["mo", "qi"], "长孙": ["zhang", "sun"], "单于": ["chan", "yu"],
    "单": ["shan"], "曾": ["zeng"], "解": ["xie"], "仇": ["qiu"], "朴": ["piao"], "查": ["zha"], "盖": ["ge"],
    "区": ["ou"], "黑": ["he"], "乐": ["yue"], "缪": ["miao"], "翟": ["zhai"], "覃": ["qin"], "种": ["chong"],
    "秘": ["bi"], "员": ["yun"], "句": ["gou"], "召": ["shao"], "冼": ["xian"], "繁": ["po"], "折": ["she"],
    "能": ["nai"], "那": ["na"], "燕": ["yan"], "宿": ["su"], "沈": ["shen"], "任": ["ren"], "柏": ["bai"],
    "薄": ["bo"], "华": ["hua"], "纪": ["ji"], "隗": ["wei"], "晟": ["cheng"], "阚": ["kan"],
}
SEPARATORS = "·•・‧. "


def name_syllables(name: str) -> list[str]:
    """Pinyin syllables of a name, the surname read as a surname; non-Chinese characters kept as lowercase words."""
    name = "".join(ch for ch in (name or "").strip() if ch not in SEPARATORS)
    if not name:
        return []
    head: list[str] = []
    for surname in sorted(SURNAME_READINGS, key=len, reverse=True):
        if name.startswith(surname):
            head = SURNAME_READINGS[surname]
            name = name[len(surname):]
            break
    rest = lazy_pinyin(name, style=Style.NORMAL, errors=lambda chars: [c.lower() for c in chars])
    return head + [s.lower().replace("ü", "v") for s in rest if s.strip()]


def search_keys(name: str) -> tuple[str, str]:
    """(full pinyin, initials) for indexed name search: 张三 -> ("zhangsan", "zs"), 单田芳 -> ("shantianfang", "stf")."""
    syllables = name_syllables(name)
    return "".join(syllables)[:200], "".join(s[0] for s in syllables if s)[:50]


# ================================================================ shared plumbing
#
# Everything below is pure: plain values in, plain values or small frozen dataclasses out, "today" passed in.
# Codes are short ASCII strings; the English texts next to them are msgids marked with N_ (an identity function that
# `pybabel extract` picks up by default), so a view shows them with `_(rules.PROBLEM_MESSAGES[code])`.

def N_(text: str) -> str:
    """Mark a string for translation without translating it here (rules import no Flask)."""
    return text


def _decimal(value: Decimal | int | str, name: str) -> Decimal:
    """A finite Decimal from Decimal/int/str; floats and bools raise TypeError, junk raises ValueError."""
    if isinstance(value, (float, bool)) or not isinstance(value, (Decimal, int, str)):
        raise TypeError(f"{name} must be Decimal, int or str, not {type(value).__name__}")
    try:
        d = value if isinstance(value, Decimal) else Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise ValueError(f"{name} is not a number: {value!r}") from None
    if not d.is_finite():
        raise ValueError(f"{name} must be finite, not {d}")
    return d


def _as_date(day: date | datetime) -> date:
    return day.date() if isinstance(day, datetime) else day


# ================================================================ rates (domain §0.4, W11 PL-2/PL-3/PL-4, SC-12)
#
# Rural borrowers quote rates per month. The traditional units, for a MONTHLY rate (月息):
#   1 分 (fen) = 1 % per month          月息2分   = 2 %/month   = 24 %/year
#   1 厘 (li)  = 0.1 % per month = 1 ‰  月息8厘   = 0.8 %/month = 9.6 %/year (the same number as ‰/month)
#   ‰ per month                          月息9.3‰ = 0.93 %/month = 11.16 %/year (seed 001)
# For an annual rate (年息) the same words mean ten times less (年息1分 = 10 %/year); that reading is not offered: the
# form asks for "% per year" instead. Monthly rates are annualised by simple multiplication by 12 (no compounding),
# which is how the seeds and the courts quote them.

RATE_UNITS = ("pct_year", "pct_month", "permille_month", "fen_month", "li_month")
RATE_UNIT_LABELS: dict[str, str] = {
    "pct_year": N_("% per year"),
    "pct_month": N_("% per month"),
    "permille_month": N_("‰ per month"),
    "fen_month": N_("fen (分) per month: 1 fen = 1% a month"),
    "li_month": N_("li (厘) per month: 1 li = 0.1% a month"),
}
# annual fraction = value × factor
_RATE_FACTORS: dict[str, Decimal] = {
    "pct_year": Decimal("0.01"),
    "pct_month": Decimal("0.12"),
    "permille_month": Decimal("0.012"),
    "fen_month": Decimal("0.12"),
    "li_month": Decimal("0.012"),
}
RATE_PLACES = 6  # rates are stored as annual decimal fractions with 6 places (domain §0.4; Numeric(9, 6))


def annualise(value: Decimal | int | str, unit: str) -> Decimal:
    """The stated rate as an annual decimal fraction, 6 places, half-up: (2, "fen_month") -> Decimal("0.240000").

    Raises ValueError for an unknown unit or a negative value, TypeError for a float.
    """
    if unit not in _RATE_FACTORS:
        raise ValueError(f"unknown rate unit {unit!r}; expected one of {RATE_UNITS}")
    d = _decimal(value, "value")
    if d < 0:
        raise ValueError("a rate must not be negative")
    return round_yuan(d * _RATE_FACTORS[unit], RATE_PLACES)


# One-year (and five-year) loan prime rate (贷款市场报价利率, LPR) in PERCENT, each row effective from its date
# (published by the National Interbank Funding Center on the 20th, or the next working day). Only the months the
# one-year or five-year figure changed are listed; 2019-08-20 is the first quote under the reformed mechanism.
# This DATA seeds the editable `lpr_rates` table (LprRate, hq_admin edits it); code reads the database table, never
# this constant, except to seed it and in tests. Rows are (effective_on, one_year_pct, five_year_pct).
DEFAULT_LPR_TABLE: tuple[tuple[date, Decimal, Decimal], ...] = tuple(
    (date.fromisoformat(day), Decimal(one), Decimal(five)) for day, one, five in (
        ("2019-08-20", "4.25", "4.85"),
        ("2019-09-20", "4.20", "4.85"),
        ("2019-11-20", "4.15", "4.80"),
        ("2020-02-20", "4.05", "4.75"),
        ("2020-04-20", "3.85", "4.65"),
        ("2021-12-20", "3.80", "4.65"),
        ("2022-01-20", "3.70", "4.60"),
        ("2022-05-20", "3.70", "4.45"),
        ("2022-08-22", "3.65", "4.30"),
        ("2023-06-20", "3.55", "4.20"),
        ("2023-08-21", "3.45", "4.20"),
        ("2024-02-20", "3.45", "3.95"),
        ("2024-07-22", "3.35", "3.85"),
        ("2024-10-21", "3.10", "3.60"),
        ("2025-05-20", "3.00", "3.50"),
    )
)

# SPC 民间借贷司法解释 (2020 revision, in force 2020-08-20), art. 25 and art. 31.
LPR_REFORM_DATE = date(2020, 8, 20)
LPR_CAP_MULTIPLE = Decimal(4)
OLD_RULE_SUPPORTED = Decimal("0.240000")  # pre-reform: interest up to 24 %/year supported
OLD_RULE_VOID_ABOVE = Decimal("0.360000")  # pre-reform: above 36 %/year void; 24-36 % not enforced but not refundable


class LprMissing(LookupError):
    """The LPR table has no row effective on the day the cap needs (an hq_admin must add it)."""

    def __init__(self, day: date) -> None:
        self.day = day
        super().__init__(f"no one-year LPR effective on {day.isoformat()}")


def lpr_row_on(day: date | datetime, table: Iterable[tuple]) -> tuple[date, Decimal] | None:
    """(effective_on, one-year LPR in percent) of the latest row with effective_on <= day, or None.

    Rows are (effective_on, one_year_pct[, more columns ignored]) in any order. The change day itself already has the
    new rate.
    """
    day = _as_date(day)
    best: tuple[date, Decimal] | None = None
    for row in table:
        effective_on, one_year = _as_date(row[0]), row[1]
        if effective_on <= day and (best is None or effective_on >= best[0]):
            best = (effective_on, _decimal(one_year, "one_year"))
    return best


def lpr_on(day: date | datetime, table: Iterable[tuple]) -> Decimal | None:
    """The one-year LPR in percent (e.g. Decimal("3.65")) effective on ``day``, or None before the table starts."""
    row = lpr_row_on(day, table)
    return None if row is None else row[1]


def _four_times(lpr_pct: Decimal) -> Decimal:
    if lpr_pct < 0:
        raise ValueError(f"an LPR must not be negative: {lpr_pct}")
    return round_yuan(lpr_pct * LPR_CAP_MULTIPLE / 100, RATE_PLACES)


@dataclass(frozen=True)
class LawfulCap:
    """The lawful interest cap for one contract, with what the UI needs to explain it.

    regime "lpr": contract formed on/after 2020-08-20; cap = 4 × the one-year LPR effective on the contract date.
    regime "transitional": contract formed before 2020-08-20. Interest up to 2020-08-19 is judged under the old rule
    (24 %/year supported; 24-36 % not enforced; above 36 % void): ``cap`` is that 24 %. Interest from 2020-08-20 on is
    judged under 4 × the one-year LPR at the time of filing (起诉时); we use ``today`` as the filing day:
    ``after_reform_cap`` (None if the table has no row for today).
    """

    regime: str  # "lpr" | "transitional"
    contract_date: date
    cap: Decimal  # the cap lawful_cap() returns, a fraction with 6 places
    lpr_pct: Decimal | None  # the LPR (percent) behind after_reform_cap
    lpr_effective_on: date | None  # the table row it came from
    lpr_basis_date: date  # contract date ("lpr") or today, standing in for the filing date ("transitional")
    after_reform_cap: Decimal | None  # 4 × lpr_pct as a fraction
    before_reform_cap: Decimal | None  # 0.240000 for "transitional", else None
    before_reform_void_above: Decimal | None  # 0.360000 for "transitional", else None


def lawful_cap_detail(contract_date: date, table: Iterable[tuple], today: date) -> LawfulCap:
    """Both parts of the lawful cap (see LawfulCap). Raises LprMissing if a post-reform contract has no LPR row."""
    contract_date, today = _as_date(contract_date), _as_date(today)
    rows = list(table)
    if contract_date >= LPR_REFORM_DATE:
        row = lpr_row_on(contract_date, rows)
        if row is None:
            raise LprMissing(contract_date)
        cap = _four_times(row[1])
        return LawfulCap("lpr", contract_date, cap, row[1], row[0], contract_date, cap, None, None)
    row = lpr_row_on(today, rows)
    after = None if row is None else _four_times(row[1])
    return LawfulCap("transitional", contract_date, OLD_RULE_SUPPORTED, None if row is None else row[1],
                     None if row is None else row[0], today, after, OLD_RULE_SUPPORTED, OLD_RULE_VOID_ABOVE)


def lawful_cap(contract_date: date, table: Iterable[tuple], today: date) -> Decimal:
    """The highest annual rate courts support for a private loan, as a fraction with 6 places (PL-2).

    Contracts formed on/after 2020-08-20: 4 × the one-year LPR effective on the contract date (2023-03-01 -> 4 × 3.65 %
    = 0.146000). Earlier contracts: 0.240000, the cap for interest up to 2020-08-19; interest after that is judged
    under 4 × the LPR at filing, which lawful_cap_detail() reports as after_reform_cap. Raises LprMissing when a
    post-reform contract date precedes every row of the table.
    """
    return lawful_cap_detail(contract_date, table, today).cap


# ---------------------------------------------------------------- debt flags (PL-3, PL-4)

DEBT_KINDS = ("bank", "private", "mutual", "credit_sale", "guarantee")
# The private-lending cap (SPC 民间借贷司法解释) does not govern licensed financial institutions (art. 1), nor a
# guarantee the household gave for someone else's loan; it is checked for these kinds only.
CAPPED_KINDS = frozenset({"private", "mutual", "credit_sale"})
# A written contract is expected of a private loan (PL-4 "no written contract").
CONTRACT_EXPECTED_KINDS = frozenset({"private"})
BELOW_MARKET_SHARE = Decimal("0.5")  # [assumption] offset rent below 50 % of the local reference rent is flagged

DEBT_FLAGS = ("over_cap", "head_interest", "no_contract", "below_market_offset")
DEBT_FLAG_MESSAGES: dict[str, str] = {
    "over_cap": N_("Rate above the lawful cap"),
    "head_interest": N_("Interest deducted up front (less received than written)"),
    "no_contract": N_("Private loan without a written contract"),
    "below_market_offset": N_("Asset offset at less than half the local rent"),
}


def effective_principal(written, received):
    """PL-3: the principal is what the borrower actually received (interest deducted up front is not principal).

    ``received`` None (not asked) means the written amount. Never more than the written amount: a receipt above the
    IOU is a typing error, not a larger debt. Works on int fen or Decimal yuan alike (same unit for both).
    """
    if received is None:
        return written
    return min(written, received)


def debt_flags(kind: str, principal_written, principal_received, annual_rate: Decimal | None, cap: Decimal | None,
               written_contract: bool, offset_rent_per_mu=None, reference_rent_per_mu=None) -> list[str]:
    """PL-4 flags of one debt, in DEBT_FLAGS order.

    - over_cap: kind in CAPPED_KINDS and annual_rate > cap (equal is lawful; None on either side: unknown, no flag);
    - head_interest (砍头息): principal_received < principal_written (any kind; None received: no flag);
    - no_contract: a private loan without a written contract;
    - below_market_offset: the asset offset's implied rent per mu is below 50 % of the reference rent (both given,
      reference > 0); exactly half is not flagged.
    Principals in one unit (int fen or Decimal yuan), rents in one unit.
    """
    flags: list[str] = []
    if kind in CAPPED_KINDS and annual_rate is not None and cap is not None and annual_rate > cap:
        flags.append("over_cap")
    if principal_received is not None and principal_received < principal_written:
        flags.append("head_interest")
    if kind in CONTRACT_EXPECTED_KINDS and not written_contract:
        flags.append("no_contract")
    if (offset_rent_per_mu is not None and reference_rent_per_mu is not None and reference_rent_per_mu > 0
            and offset_rent_per_mu < reference_rent_per_mu * BELOW_MARKET_SHARE):
        flags.append("below_market_offset")
    return flags


@dataclass(frozen=True)
class DebtAssessment:
    """What the debt form stores and shows: normalised rate, cap, effective principal and flags."""

    annual_rate: Decimal | None
    cap: Decimal | None  # None: kind not capped, no contract date, or no LPR row (lpr_missing)
    cap_detail: LawfulCap | None
    principal: object  # effective_principal(), same unit as the input
    flags: list[str]
    lpr_missing: bool = False


def assess_debt(*, kind: str, principal_written, principal_received, rate_value, rate_unit: str | None,
                contract_date: date | None, written_contract: bool, table: Iterable[tuple], today: date,
                offset_rent_per_mu=None, reference_rent_per_mu=None) -> DebtAssessment:
    """annualise + lawful_cap_detail + effective_principal + debt_flags in one call, tolerating unknowns.

    No rate (value or unit None) -> annual_rate None; no contract date or a kind outside CAPPED_KINDS -> cap None;
    a post-reform date with no LPR row -> cap None and lpr_missing True (the form should say so, not fail).
    """
    annual = None if rate_value is None or rate_unit is None else annualise(rate_value, rate_unit)
    detail, missing = None, False
    if kind in CAPPED_KINDS and contract_date is not None:
        try:
            detail = lawful_cap_detail(contract_date, table, today)
        except LprMissing:
            missing = True
    cap = None if detail is None else detail.cap
    flags = debt_flags(kind, principal_written, principal_received, annual, cap, written_contract,
                       offset_rent_per_mu, reference_rent_per_mu)
    return DebtAssessment(annual, cap, detail, effective_principal(principal_written, principal_received), flags,
                          missing)


# ================================================================ completeness and submission (W2 V-1)

# Mirrors households.models.SECTIONS / NONE_ALLOWED / FILE_STATUSES (a unit test keeps them equal).
SECTION_ORDER = ("members", "land", "livestock", "assets", "income", "expenses", "debts", "insurance", "negative")
NONE_ALLOWED = frozenset(SECTION_ORDER) - {"members"}  # every section but members may be marked "无"
FILE_STATUSES = ("new", "draft", "submitted", "returned", "accepted", "pending_revisit")
SECTION_STATES = ("filled", "none", "empty")
REQUIRED_CONSENTS = ("collect", "credit_query")  # 信息采集, 征信查询授权 (V-1, §4.2)

SECTION_LABELS: dict[str, str] = {
    "members": N_("Head and members"),
    "land": N_("Land"),
    "livestock": N_("Livestock"),
    "assets": N_("Other assets"),
    "income": N_("Income"),
    "expenses": N_("Expenses"),
    "debts": N_("Debts"),
    "insurance": N_("Insurance"),
    "negative": N_("Negative records"),
}

PROBLEM_MESSAGES: dict[str, str] = {
    "head_id": N_("The head of household needs a valid ID number."),
    "no_completed_visit": N_("Record at least one completed visit."),
    "consent_collect": N_("Record the consent to collect information, or a documented refusal."),
    "consent_credit_query": N_("Record the authorisation to query the credit report, or a documented refusal."),
    "section:members": N_("Add the head of household and the members."),
    "section:land": N_("Fill in the land section, or mark it as none."),
    "section:livestock": N_("Fill in the livestock section, or mark it as none."),
    "section:assets": N_("Fill in the other assets section, or mark it as none."),
    "section:income": N_("Fill in the income section, or mark it as none."),
    "section:expenses": N_("Fill in the expenses section, or mark it as none."),
    "section:debts": N_("Fill in the debts section (ask about private loans), or mark it as none."),
    "section:insurance": N_("Fill in the insurance section, or mark it as none."),
    "section:negative": N_("Fill in the negative records section, or mark it as none."),
}


def section_state(rows: int, declared_none: bool) -> str:
    """"filled" when the section has rows (rows win over a stale "无"), "none" when marked "无", else "empty"."""
    if rows > 0:
        return "filled"
    return "none" if declared_none else "empty"


def section_done(section: str, state: str) -> bool:
    """Filled, or explicitly "none" where that is allowed (members can't be "none")."""
    return state == "filled" or (state == "none" and section in NONE_ALLOWED)


def completeness(states: Mapping[str, str]) -> int:
    """Percent of SECTION_ORDER sections done, rounded down (100 only when all are); missing keys count as empty."""
    done = sum(1 for s in SECTION_ORDER if section_done(s, states.get(s, "empty")))
    return done * 100 // len(SECTION_ORDER)


def submission_problems(head_id_valid: bool, has_done_visit: bool, consents: Iterable[str], consent_refused: bool,
                        states: Mapping[str, str]) -> list[str]:
    """V-1 problem codes in a stable order (empty list: the file may be submitted); texts in PROBLEM_MESSAGES.

    ``consents``: kinds captured by signature or paper (Consent.method != "refused", not revoked).
    ``consent_refused``: a documented refusal exists; it satisfies the consent requirement for submission, but
    blocks_rating() then says the household can't be rated.
    """
    problems: list[str] = []
    if not head_id_valid:
        problems.append("head_id")
    if not has_done_visit:
        problems.append("no_completed_visit")
    given = set(consents)
    if not consent_refused:
        problems.extend(f"consent_{kind}" for kind in REQUIRED_CONSENTS if kind not in given)
    problems.extend(f"section:{s}" for s in SECTION_ORDER if not section_done(s, states.get(s, "empty")))
    return problems


def blocks_rating(consents: Iterable[str], consent_refused: bool) -> bool:
    """A refusal note, or a required consent (信息采集, 征信查询授权) not given, keeps the household out of rating."""
    return consent_refused or not set(REQUIRED_CONSENTS) <= set(consents)


def problem_message(code: str) -> str:
    """The English msgid for a problem code (the code itself if unknown); translate it with _()."""
    return PROBLEM_MESSAGES.get(code, code)


# The W2 file state table lives with the visit rules that drive most of its transitions; the credit file uses it too.
from ..visits.rules import FILE_EVENTS, FILE_TRANSITIONS, TransitionError, allowed_events, next_file_status  # noqa: E402,F401
