"""Rating rules (domain W3: RV-1..RV-5, RT-1..RT-9; §2.3, §2.5): the scoring model as data, facts from a frozen
credit-file snapshot, the score, grade and suggested line, the committee's arithmetic, and the rating lifecycle.

Pure: no Flask, no database, "today" passed in. Money is integer fen; the model quotes yuan (ints) and fractions
(strings) so it stays JSON. Scores are Decimals with one decimal place (the character indicator is a vote share).
Codes are short ASCII strings; the English texts next to them are msgids marked with N_, shown with
`_(LABELS[code])` in views.
"""
from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation


def N_(text: str) -> str:
    """Mark a string for translation without translating it here (rules import no Flask)."""
    return text


ONE_PLACE = Decimal("0.1")
FEN_PER_YUAN = 100

# ================================================================ the model (data, never code)
#
# An admin publishes new versions of this dict (model_version on the Rating); validate_model() checks one.
# Yuan amounts are ints, fractions are strings. Band semantics:
#   family / assets / income: [threshold, points] ascending; the points of the highest threshold <= value
#                             (a value below the first threshold, e.g. a net loss, takes the first band's points).
#   liabilities: [ratio, points] ascending; debt / net income <= ratio -> points (the first "0" band means no debt);
#                anything above the last ratio, or debt with no positive income, takes "else".
DEFAULT_MODEL: dict = {
    "indicators": {
        "family": {"weight": 15, "bands": [[0, 0], [1, 8], [2, 15]]},  # labour members (count)
        "assets": {"weight": 20, "bands": [[0, 5], [50000, 10], [200000, 15], [500000, 20]]},  # yuan
        "income": {"weight": 25, "bands": [[0, 5], [20000, 12], [50000, 18], [100000, 25]]},  # yuan, counted net
        "liabilities": {"weight": 15, "bands": [["0", 15], ["0.5", 12], ["1", 8], ["2", 4]], "else": 0},
        "history": {"weight": 15, "clean": 15, "none": 10},
        "character": {"weight": 10},
    },
    "labour_age": [18, 60],  # inclusive, age on the rating date
    "labour_capacities": ["full", "partial"],
    "asset_types": ["house", "machinery", "vehicle"],
    "livestock_prices": {"cattle": 8000, "sheep": 800, "pig": 1500, "poultry": 50, "other": 500},  # yuan per head
    "verified_sources": ["document", "village"],  # counted in full; anything else counts as self-declared
    "declared_income_factor": "0.7",
    # outstanding debt; guarantees given for others are contingent and not counted
    "debt_kinds": ["bank", "institution", "private", "mutual", "credit_sale"],
    "history_kinds": ["bank", "institution", "private", "mutual"],  # rows that show a borrowing history
    "insurance_types": ["agricultural", "accident"],
    "bonuses": {"party_helper": 3, "award": 2, "red_credit_demo": 5, "insured": 2},
    "repeatable_bonuses": ["award"],  # counted once per recommendation; the others once
    "bonus_cap": 10,
    "deductions": {"overdue_episode": 5, "over_cap_private_loan": 10, "debt_over_income": 10, "unverified_income": 5},
    "debt_income_limit": "1",  # debt_over_income applies when outstanding debt > this x counted net income
    "unverified_share": "0.5",  # unverified_income applies when declared net > this share of all net income
    "grades": [["excellent", 90], ["good", 80], ["fair", 60]],  # descending; below the last: not_rated
    "grade_caps": {"excellent": 200000, "good": 100000, "fair": 50000},
    "product_caps": {"standard": 200000, "poverty": 50000},
    "poverty_tags": ["poverty_registered", "poverty_monitored", "lifted_poor", "monitored"],
    "income_multiple": 2,
    "line_step": 1000,
    "preferential_grades": ["excellent"],
    "validity_months": 12,
    "approval_limit_branch": 200000,
    "min_committee": 5,
}

INDICATORS = ("family", "assets", "income", "liabilities", "history", "character")
INDICATOR_LABELS = {
    "family": N_("Family and labour"),
    "assets": N_("Assets"),
    "income": N_("Income and repayment capacity"),
    "liabilities": N_("Liabilities incl. private debt"),
    "history": N_("Credit history"),
    "character": N_("Character (committee votes)"),
}
BONUS_LABELS = {
    "party_helper": N_("Party member who helps poor households"),
    "award": N_("Award (good household bookkeeper, model of hard work, most beautiful family)"),
    "red_credit_demo": N_("Red-credit model household"),
    "insured": N_("Holds agricultural or accident insurance"),
}
DEDUCTION_LABELS = {
    "overdue_episode": N_("Overdue repayment"),
    "over_cap_private_loan": N_("Private loan above the lawful rate cap"),
    "debt_over_income": N_("Debts above annual net income"),
    "unverified_income": N_("Income mostly self-declared, not verified"),
}
GRADES = ("excellent", "good", "fair", "not_rated")
GRADE_LABELS = {
    "excellent": N_("Excellent"),
    "good": N_("Good"),
    "fair": N_("Fair"),
    "not_rated": N_("Not rated"),
}
RATE_TIERS = ("preferential", "standard")
RATE_TIER_LABELS = {"preferential": N_("Preferential rate"), "standard": N_("Standard rate")}
PRODUCTS = ("standard", "poverty")
PRODUCT_LABELS = {"standard": N_("Whole-village credit"), "poverty": N_("Poverty-alleviation microcredit")}

# RT-5. File vetoes are documented facts (a negative record in the file vetoes by itself); committee vetoes need a
# majority of the eligible voters. A "vice"/"idleness" record in the file is shown to the committee as a flag.
FILE_VETOES = ("arrears", "dishonest_debtor")
COMMITTEE_VETOES = ("vice", "idleness", "usurer")
COMMITTEE_FLAG_CATEGORIES = ("vice", "idleness")
VETO_LABELS = {
    "arrears": N_("Unpaid loan principal or interest, or on a blacklist"),
    "dishonest_debtor": N_("Dishonest judgment debtor"),
    "vice": N_("Gambling, drugs or prostitution"),
    "idleness": N_("Idle, unwilling to work"),
    "usurer": N_("Usurious or violent lender"),
}


# ================================================================ small helpers

def _num(value, name: str = "value") -> Decimal:
    """A finite Decimal from int/str/Decimal (a float from JSON via its repr); bools and junk raise ValueError."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{name} is not a number: {value!r}")
    if isinstance(value, float):
        value = repr(value)
    if not isinstance(value, (int, str, Decimal)):
        raise ValueError(f"{name} is not a number: {value!r}")
    try:
        d = value if isinstance(value, Decimal) else Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise ValueError(f"{name} is not a number: {value!r}") from None
    if not d.is_finite():
        raise ValueError(f"{name} is not a number: {value!r}")
    return d


def _fen(yuan) -> int:
    """Model yuan -> integer fen."""
    return int((_num(yuan) * FEN_PER_YUAN).to_integral_value(rounding=ROUND_HALF_UP))


def _int(value) -> int:
    """A row's money/count value as int (None -> 0)."""
    if value is None or value == "":
        return 0
    return int(_num(value))


def _day(value) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def age_on(birth: date, on: date) -> int:
    """Completed years on ``on`` (a birthday on 29 Feb counts from 1 Mar in other years)."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _plain(value):
    """JSON-able copy: Decimal -> str, date -> iso, tuples -> lists, dataclasses handled by callers."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _band_points(value: Decimal | int, bands) -> Decimal:
    """Points of the highest band whose threshold <= value; below the first threshold, the first band's points."""
    points = _num(bands[0][1])
    for threshold, band_points in bands:
        if value >= _num(threshold):
            points = _num(band_points)
    return points


# ================================================================ facts (from a CreditFile snapshot)

@dataclass(frozen=True)
class Facts:
    """The plain values behind every indicator; printable on the "why this grade" page (as_dict)."""

    on: date | None = None
    members: int = 0
    labour_count: int = 0
    labour_names: tuple[str, ...] = ()
    asset_value_fen: int = 0
    asset_breakdown: tuple[tuple[str, int], ...] = ()  # (asset_type, fen) per counted type, model order
    livestock_breakdown: tuple[tuple[str, int, int], ...] = ()  # (species, heads, fen)
    income_year: int | None = None
    verified_income_fen: int = 0  # net (gross - cost) from document / village-confirmed rows, latest year
    declared_income_fen: int = 0  # net from self-declared rows, latest year, before the factor
    net_income_fen: int = 0  # counted: verified + declared x factor (a declared loss counts in full)
    debt_fen: int = 0  # outstanding on debt_kinds rows not settled (balance, else principal received, else written)
    guarantee_fen: int = 0  # contingent, shown only
    has_borrowed: bool = False
    overdue_episodes: int = 0
    over_cap_loans: int = 0
    insured: bool = False
    file_vetoes: tuple[str, ...] = ()
    committee_flags: tuple[str, ...] = ()  # vice/idleness records in the file: shown to the committee
    tags: tuple[str, ...] = ()
    bonuses: tuple[str, ...] = ()  # recommended bonus kind codes; "award" may repeat

    def as_dict(self) -> dict:
        return {name: _plain(getattr(self, name)) for name in self.__dataclass_fields__}


def facts_from_snapshot(snapshot: Mapping, *, on: date, tags: Iterable[str] = (), bonuses: Iterable[str] = (),
                        model: Mapping = DEFAULT_MODEL) -> Facts:
    """Facts from a CreditFile.snapshot (rows as plain JSON: iso dates, Decimal strings, money in fen).

    ``tags`` are the household's tags (merged with snapshot["household"]["tags"] if the snapshot has them);
    ``bonuses`` the bonus kind codes recommended for this rating (recorded elsewhere with who recommended them).
    """
    on = on.date() if isinstance(on, datetime) else on
    sections = snapshot.get("sections") or {}

    def rows(name: str) -> list[Mapping]:
        return [row for row in (sections.get(name) or []) if isinstance(row, Mapping)]

    # family: members aged labour_age (inclusive) with a listed labour capacity; no birth date -> not counted
    low, high = (int(_num(x)) for x in model["labour_age"])
    capacities = set(model["labour_capacities"])
    members = rows("members")
    labour = []
    for member in members:
        birth = _day(member.get("birth_date"))
        if birth is None or member.get("labour_capacity") not in capacities:
            continue
        if low <= age_on(birth, on) <= high:
            labour.append(str(member.get("name") or ""))

    # assets: counted asset types + livestock heads x unit price
    asset_types = list(model["asset_types"])
    by_type = {kind: 0 for kind in asset_types}
    for row in rows("assets"):
        if row.get("asset_type") in by_type:
            by_type[row["asset_type"]] += _int(row.get("value_fen"))
    prices = model["livestock_prices"]
    by_species: dict[str, list[int]] = {}
    for row in rows("livestock"):
        species = row.get("species") if row.get("species") in prices else "other"
        heads = _int(row.get("head_count"))
        entry = by_species.setdefault(species, [0, 0])
        entry[0] += heads
        entry[1] += heads * _fen(prices.get(species, prices.get("other", 0)))
    asset_breakdown = tuple((kind, fen) for kind, fen in by_type.items() if fen)
    livestock_breakdown = tuple((species, heads, fen) for species, (heads, fen) in by_species.items() if heads)
    asset_value = sum(fen for _, fen in asset_breakdown) + sum(fen for _, _, fen in livestock_breakdown)

    # income: the latest year present; net per row = gross - cost
    income_rows = [row for row in rows("income") if row.get("year") not in (None, "")]
    year = max((int(_num(row["year"])) for row in income_rows), default=None)
    verified_sources = set(model["verified_sources"])
    verified = declared = 0
    for row in income_rows:
        if int(_num(row["year"])) != year:
            continue
        net = _int(row.get("gross_fen")) - _int(row.get("cost_fen"))
        if row.get("source") in verified_sources:
            verified += net
        else:
            declared += net
    factor = _num(model["declared_income_factor"])
    counted_declared = declared if declared <= 0 else int(
        (declared * factor).to_integral_value(rounding=ROUND_HALF_UP))

    # debts. Reading of "credit history" (RT-2): "clean" means the household has borrowed before (any bank /
    # institution / private / mutual row, settled or not); overdue episodes are RT-4 deductions, so a household with
    # overdue debts still gets the "clean" points here and loses 5 per episode there. No borrowing at all -> "none".
    debt_kinds = set(model["debt_kinds"])
    history_kinds = set(model["history_kinds"])
    debt = guarantee = overdue = over_cap = 0
    has_borrowed = False
    for row in rows("debts"):
        kind = row.get("kind")
        if kind in history_kinds:
            has_borrowed = True
        settled = row.get("status") == "settled"
        outstanding = 0 if settled else _int(next(
            (row.get(k) for k in ("balance_fen", "principal_received_fen", "principal_written_fen")
             if row.get(k) not in (None, "")), 0))
        if kind in debt_kinds:
            debt += outstanding
            # a row whose status is "overdue" is one episode (the file keeps no repayment history)
            overdue += row.get("status") == "overdue"
            # an over-cap private loan still outstanding (a settled one no longer counts against the household)
            over_cap += (not settled) and "over_cap" in (row.get("flags") or ())
        elif kind == "guarantee":
            guarantee += outstanding

    # insurance: a listed type whose period covers ``on`` (open ends count as covering)
    insurance_types = set(model["insurance_types"])
    insured = False
    for row in rows("insurance"):
        start, end = _day(row.get("period_from")), _day(row.get("period_to"))
        if row.get("insurance_type") in insurance_types and (start is None or start <= on) and (
                end is None or end >= on):
            insured = True

    categories = [row.get("category") for row in rows("negative")]
    household_tags = (snapshot.get("household") or {}).get("tags") or ()
    return Facts(
        on=on, members=len(members), labour_count=len(labour), labour_names=tuple(labour),
        asset_value_fen=asset_value, asset_breakdown=asset_breakdown, livestock_breakdown=livestock_breakdown,
        income_year=year, verified_income_fen=verified, declared_income_fen=declared,
        net_income_fen=verified + counted_declared, debt_fen=debt, guarantee_fen=guarantee,
        has_borrowed=has_borrowed, overdue_episodes=int(overdue), over_cap_loans=int(over_cap), insured=insured,
        file_vetoes=tuple(code for code in FILE_VETOES if code in categories),
        committee_flags=tuple(code for code in COMMITTEE_FLAG_CATEGORIES if code in categories),
        tags=tuple(sorted(set(tags) | set(household_tags))), bonuses=tuple(bonuses),
    )


# ================================================================ committee arithmetic (RV-1..RV-3)

CHECKLIST = (
    "law_abiding", "family_harmony", "neighbourly",  # 三好: 遵纪守法好, 家庭和睦好, 邻里团结好
    "responsible", "credit_minded", "repayment_secured",  # 三强: 责任意识强, 信用观念强, 履约保障强
    "able_to_work", "wants_to_prosper", "has_project",  # 三有: 有劳动能力, 有致富愿望, 有致富项目
    # 三无: 无赌博吸毒嫖娼等不良习气, 无拖欠贷款本息/黑名单记录, 无游手好闲好吃懒做
    "no_vice", "no_arrears", "no_idleness",
)
CHECKLIST_LABELS = {
    "law_abiding": N_("Abides by the law"),
    "family_harmony": N_("Harmonious family"),
    "neighbourly": N_("Gets on with the neighbours"),
    "responsible": N_("Strong sense of responsibility"),
    "credit_minded": N_("Values good credit"),
    "repayment_secured": N_("Repayment is secured"),
    "able_to_work": N_("Able to work"),
    "wants_to_prosper": N_("Wants to get better off"),
    "has_project": N_("Has a project to earn a living"),
    "no_vice": N_("No gambling, drugs or prostitution"),
    "no_arrears": N_("No unpaid loans, not on a blacklist"),
    "no_idleness": N_("Not idle, willing to work"),
}
BALLOT_VALUES = ("yes", "no", "abstain")
MIN_COMMITTEE = DEFAULT_MODEL["min_committee"]
MEMBER_ROLES = ("committee", "party_centre", "representative", "elder", "stationed")
MEMBER_ROLE_LABELS = {
    "committee": N_("Village committee (two committees)"),
    "party_centre": N_("Party member household centre"),
    "representative": N_("Villager representative"),
    "elder": N_("Senior party member or elder"),
    "stationed": N_("Stationed village cadre"),
}
COMPOSITION_MESSAGES = {
    "too_few": N_("The review committee needs at least %(minimum)s members."),
    "no_committee": N_("The review committee needs a member of the village committees."),
    "no_party_member": N_("The review committee needs a party member."),
    "no_representative": N_("The review committee needs a villager representative or an elder."),
}


def quorum_needed(members: int) -> int:
    """RV-1: ceil(2/3 x members) present (7 -> 5, 6 -> 4, 5 -> 4)."""
    if members < 0:
        raise ValueError("members must not be negative")
    return -(-2 * members // 3)


def quorum_met(members: int, present: int) -> bool:
    """RV-1: at least 2/3 of the committee present (a committee of nobody never has a quorum)."""
    return members > 0 and 0 <= present <= members and present >= quorum_needed(members)


def composition_problems(members: Iterable[tuple[str, bool]], min_committee: int = MIN_COMMITTEE) -> list[str]:
    """RV-1/RV-2 problem codes (COMPOSITION_MESSAGES) for committee members given as (role, party_member).

    A party member is a 党员中心户 (role "party_centre") or anyone with the party_member flag; a villager
    representative or an elder satisfies the representative rule. The grid manager attends without a vote and is
    not passed in. Unknown roles raise ValueError.
    """
    members = list(members)
    for role, _ in members:
        if role not in MEMBER_ROLES:
            raise ValueError(f"unknown committee role: {role!r}")
    roles = {role for role, _ in members}
    problems = []
    if len(members) < min_committee:
        problems.append("too_few")
    if "committee" not in roles:
        problems.append("no_committee")
    if not any(role == "party_centre" or party for role, party in members):
        problems.append("no_party_member")
    if not roles & {"representative", "elder"}:
        problems.append("no_representative")
    return problems


@dataclass(frozen=True)
class CharacterTally:
    """Checklist "yes" counts per item from ``voters`` eligible (present, non-recused) members."""

    yes: Mapping[str, int]
    voters: int

    def __post_init__(self):
        if self.voters < 0:
            raise ValueError("voters must not be negative")
        for item, count in self.yes.items():
            if item not in CHECKLIST:
                raise ValueError(f"unknown checklist item: {item!r}")
            if not 0 <= count <= self.voters:
                raise ValueError(f"{item}: {count} yes votes from {self.voters} voters")
        object.__setattr__(self, "yes", {item: int(self.yes.get(item, 0)) for item in CHECKLIST})

    @property
    def pending(self) -> bool:
        return self.voters == 0

    @property
    def total_yes(self) -> int:
        return sum(self.yes.values())

    @property
    def denominator(self) -> int:
        return self.voters * len(CHECKLIST)

    def points(self, weight: int | Decimal = 10) -> Decimal:
        """weight x yes / (voters x 12), rounded half-up to one decimal place; 0 when pending."""
        if self.pending:
            return Decimal("0.0")
        return (_num(weight) * self.total_yes / self.denominator).quantize(ONE_PLACE, rounding=ROUND_HALF_UP)

    def as_dict(self) -> dict:
        return {"yes": dict(self.yes), "voters": self.voters}


def tally_ballots(ballots: Iterable[Mapping[str, str]]) -> CharacterTally:
    """One ballot per eligible voter (item -> "yes"|"no"|"abstain"; a missing item is an abstention).

    Abstentions and "no" both count in the denominator (voters x 12): only "yes" earns points. Recused members'
    ballots must not be passed in (RV-3).
    """
    yes = {item: 0 for item in CHECKLIST}
    voters = 0
    for ballot in ballots:
        voters += 1
        for item, value in ballot.items():
            if item not in yes:
                raise ValueError(f"unknown checklist item: {item!r}")
            if value not in BALLOT_VALUES:
                raise ValueError(f"{item}: unknown vote {value!r}")
            yes[item] += value == "yes"
    return CharacterTally(yes=yes, voters=voters)


def committee_vetoes(veto_votes: Mapping[str, int], voters: int) -> tuple[str, ...]:
    """RT-5/RV-1: the committee veto codes confirmed by more than half of the eligible voters (3 of 6 is not)."""
    for code, votes in veto_votes.items():
        if code not in COMMITTEE_VETOES:
            raise ValueError(f"not a committee veto: {code!r}")
        if not 0 <= votes <= voters:
            raise ValueError(f"{code}: {votes} votes from {voters} voters")
    return tuple(code for code in COMMITTEE_VETOES if 2 * veto_votes.get(code, 0) > voters)


# Bands on the internal review sheet (yuan thresholds).
INCOME_BANDS = (("under_20k", 0), ("20k_50k", 20000), ("50k_100k", 50000), ("100k_up", 100000))
INCOME_BAND_LABELS = {
    "under_20k": N_("Under 20,000 yuan"), "20k_50k": N_("20,000 to 50,000 yuan"),
    "50k_100k": N_("50,000 to 100,000 yuan"), "100k_up": N_("100,000 yuan or more"),
}
DEBT_BANDS = (("under_50k", 0), ("50k_200k", 50000), ("200k_up", 200000))
DEBT_BAND_LABELS = {
    "none": N_("No debts"), "under_50k": N_("Under 50,000 yuan"),
    "50k_200k": N_("50,000 to 200,000 yuan"), "200k_up": N_("200,000 yuan or more"),
}


def income_band(fen: int) -> str:
    """Annual net income band code: <20,000 | 20,000-<50,000 | 50,000-<100,000 | >=100,000 yuan (a loss is <20,000)."""
    code = INCOME_BANDS[0][0]
    for band, yuan in INCOME_BANDS:
        if fen >= yuan * FEN_PER_YUAN:
            code = band
    return code


def debt_band(fen: int) -> str:
    """Outstanding debt band code: none | <50,000 | 50,000-<200,000 | >=200,000 yuan."""
    if fen <= 0:
        return "none"
    code = DEBT_BANDS[0][0]
    for band, yuan in DEBT_BANDS:
        if fen >= yuan * FEN_PER_YUAN:
            code = band
    return code


# ================================================================ the score (RT-1..RT-7)

@dataclass(frozen=True)
class IndicatorScore:
    code: str
    points: Decimal
    max_points: int
    facts: Mapping = field(default_factory=dict)  # display values behind the points
    pending: bool = False  # character before the meeting

    def as_dict(self) -> dict:
        return {"code": self.code, "points": str(self.points), "max_points": self.max_points,
                "facts": _plain(self.facts), "pending": self.pending}


@dataclass(frozen=True)
class LineParts:
    grade_cap_fen: int  # 0 for not_rated
    product_cap_fen: int
    income_formula_fen: int  # income_multiple x counted net income - outstanding debt (may be negative)
    product: str  # "standard" | "poverty"

    def as_dict(self) -> dict:
        return {"grade_cap_fen": self.grade_cap_fen, "product_cap_fen": self.product_cap_fen,
                "income_formula_fen": self.income_formula_fen, "product": self.product}


@dataclass(frozen=True)
class Result:
    indicators: tuple[IndicatorScore, ...]
    base: Decimal
    bonus_items: tuple[tuple[str, int], ...]  # before the cap
    bonus: int  # capped
    deduction_items: tuple[tuple[str, int], ...]
    deduction: int
    final_score: Decimal  # one decimal place, 0..100
    vetoes: tuple[str, ...]
    grade: str
    suggested_line_fen: int
    line_parts: LineParts
    rate_tier: str
    pending: bool  # some indicator is pending (character before the meeting): not ready to propose

    @property
    def vetoed(self) -> bool:
        return bool(self.vetoes)

    def indicator(self, code: str) -> IndicatorScore:
        return next(item for item in self.indicators if item.code == code)

    def as_dict(self) -> dict:
        return {
            "indicators": [item.as_dict() for item in self.indicators], "base": str(self.base),
            "bonus_items": [[code, points] for code, points in self.bonus_items], "bonus": self.bonus,
            "deduction_items": [[code, points] for code, points in self.deduction_items],
            "deduction": self.deduction, "final_score": str(self.final_score), "vetoes": list(self.vetoes),
            "grade": self.grade, "suggested_line_fen": self.suggested_line_fen,
            "line_parts": self.line_parts.as_dict(), "rate_tier": self.rate_tier, "pending": self.pending,
        }


def grade_for(final_score: Decimal | int | str, model: Mapping = DEFAULT_MODEL, *, vetoed: bool = False) -> str:
    """RT-6: the first grade whose threshold the score reaches (89.9 is "good"); not_rated below or on a veto."""
    if vetoed:
        return "not_rated"
    score = _num(final_score)
    for grade, threshold in model["grades"]:
        if score >= _num(threshold):
            return grade
    return "not_rated"


def product_for(tags: Iterable[str], model: Mapping = DEFAULT_MODEL) -> str:
    """"poverty" (扶贫小额信贷, lower cap) for a household with a poverty tag, else "standard"."""
    return "poverty" if set(tags) & set(model["poverty_tags"]) else "standard"


def rate_tier_for(grade: str, model: Mapping = DEFAULT_MODEL) -> str:
    return "preferential" if grade in model["preferential_grades"] else "standard"


def line_for(grade: str, net_income_fen: int, debt_fen: int, product: str,
             model: Mapping = DEFAULT_MODEL) -> tuple[int, LineParts]:
    """RT-7: min(grade cap, product cap, income_multiple x net income - debt), floored to line_step, never negative;
    0 for not_rated. The income term uses the counted net income (verified in full, self-declared x factor)."""
    grade_cap = _fen(model["grade_caps"][grade]) if grade in model["grade_caps"] else 0
    product_cap = _fen(model["product_caps"][product])
    formula = int(_num(model["income_multiple"]) * net_income_fen) - debt_fen
    parts = LineParts(grade_cap_fen=grade_cap, product_cap_fen=product_cap, income_formula_fen=formula,
                      product=product)
    if grade == "not_rated":
        return 0, parts
    step = _fen(model["line_step"])
    line = (Decimal(min(grade_cap, product_cap, formula)) / step).to_integral_value(rounding=ROUND_FLOOR) * step
    return max(0, int(line)), parts


def score(facts: Facts, model: Mapping = DEFAULT_MODEL, *, character: CharacterTally | None = None,
          committee_vetoes: Iterable[str] = ()) -> Result:
    """RT-1: final = clamp(base + min(bonus, cap) - deductions, 0, 100), one decimal; any veto -> not_rated, line 0.

    ``character`` is the meeting's tally (None before the meeting: 0 points, pending); ``committee_vetoes`` the codes
    the committee confirmed by majority (see committee_vetoes()); file vetoes come from the facts.
    """
    ind = model["indicators"]
    income = facts.net_income_fen
    debt = facts.debt_fen
    indicators = []

    family = _band_points(facts.labour_count, ind["family"]["bands"])
    indicators.append(IndicatorScore("family", family, int(_num(ind["family"]["weight"])),
                                     {"labour_count": facts.labour_count, "labour_names": list(facts.labour_names),
                                      "members": facts.members}))

    yuan_bands = lambda code: [[_fen(t), p] for t, p in ind[code]["bands"]]  # noqa: E731
    assets = _band_points(facts.asset_value_fen, yuan_bands("assets"))
    indicators.append(IndicatorScore("assets", assets, int(_num(ind["assets"]["weight"])),
                                     {"asset_value_fen": facts.asset_value_fen,
                                      "asset_breakdown": [list(x) for x in facts.asset_breakdown],
                                      "livestock_breakdown": [list(x) for x in facts.livestock_breakdown]}))

    income_points = _band_points(income, yuan_bands("income"))
    indicators.append(IndicatorScore("income", income_points, int(_num(ind["income"]["weight"])),
                                     {"income_year": facts.income_year, "net_income_fen": income,
                                      "verified_income_fen": facts.verified_income_fen,
                                      "declared_income_fen": facts.declared_income_fen,
                                      "declared_income_factor": str(model["declared_income_factor"])}))

    # liabilities: debt / counted net income <= ratio, compared without dividing (debt <= ratio x income)
    liab = ind["liabilities"]
    ratio = None
    if debt <= 0:
        liabilities = _num(liab["bands"][0][1])
    elif income <= 0:
        liabilities = _num(liab["else"])
    else:
        ratio = (Decimal(debt) / Decimal(income)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        liabilities = next((_num(p) for t, p in liab["bands"] if debt <= _num(t) * income), _num(liab["else"]))
    indicators.append(IndicatorScore("liabilities", liabilities, int(_num(liab["weight"])),
                                     {"debt_fen": debt, "net_income_fen": income,
                                      "ratio": None if ratio is None else str(ratio),
                                      "guarantee_fen": facts.guarantee_fen}))

    hist = ind["history"]
    history = _num(hist["clean"] if facts.has_borrowed else hist["none"])
    indicators.append(IndicatorScore("history", history, int(_num(hist["weight"])),
                                     {"has_borrowed": facts.has_borrowed,
                                      "overdue_episodes": facts.overdue_episodes}))

    char_weight = int(_num(ind["character"]["weight"]))
    pending = character is None or character.pending
    char_points = Decimal("0.0") if pending else character.points(char_weight)
    indicators.append(IndicatorScore("character", char_points, char_weight,
                                     {"yes": 0 if character is None else character.total_yes,
                                      "votes": 0 if character is None else character.denominator,
                                      "voters": 0 if character is None else character.voters,
                                      "committee_flags": list(facts.committee_flags)}, pending=pending))

    base = sum((item.points for item in indicators), Decimal(0))

    # RT-3 bonuses: recommendations by kind code; "insured" comes from the file (once), repeatable kinds per entry
    bonus_table = model["bonuses"]
    repeatable = set(model.get("repeatable_bonuses", ()))
    counts: dict[str, int] = {}
    for code in facts.bonuses:
        if code in bonus_table and code != "insured":
            counts[code] = counts.get(code, 0) + 1 if code in repeatable else 1
    if facts.insured and "insured" in bonus_table:
        counts["insured"] = 1
    bonus_items = tuple((code, int(_num(bonus_table[code])) * counts[code]) for code in bonus_table if code in counts)
    bonus = min(sum(points for _, points in bonus_items), int(_num(model["bonus_cap"])))

    # RT-4 deductions
    ded = model["deductions"]
    deduction_items = []
    if facts.overdue_episodes:
        deduction_items.append(("overdue_episode", int(_num(ded["overdue_episode"])) * facts.overdue_episodes))
    if facts.over_cap_loans:
        deduction_items.append(("over_cap_private_loan", int(_num(ded["over_cap_private_loan"]))))
    if debt > 0 and debt > _num(model["debt_income_limit"]) * income:
        deduction_items.append(("debt_over_income", int(_num(ded["debt_over_income"]))))
    declared = facts.declared_income_fen
    if declared > 0 and declared > _num(model["unverified_share"]) * (facts.verified_income_fen + declared):
        deduction_items.append(("unverified_income", int(_num(ded["unverified_income"]))))
    deduction = sum(points for _, points in deduction_items)

    final = min(Decimal(100), max(Decimal(0), base + bonus - deduction)).quantize(ONE_PLACE, rounding=ROUND_HALF_UP)

    # RT-5 vetoes: file facts, then the committee's confirmed codes
    confirmed = tuple(committee_vetoes)
    for code in confirmed:
        if code not in COMMITTEE_VETOES:
            raise ValueError(f"not a committee veto: {code!r}")
    vetoes = tuple(dict.fromkeys(tuple(facts.file_vetoes) + confirmed))

    grade = grade_for(final, model, vetoed=bool(vetoes))
    line, parts = line_for(grade, income, debt, product_for(facts.tags, model), model)
    return Result(indicators=tuple(indicators), base=base.quantize(ONE_PLACE), bonus_items=bonus_items, bonus=bonus,
                  deduction_items=tuple(deduction_items), deduction=deduction, final_score=final, vetoes=vetoes,
                  grade=grade, suggested_line_fen=line, line_parts=parts, rate_tier=rate_tier_for(grade, model),
                  pending=pending)


# ================================================================ lifecycle and authority (W3, RT-8, RT-9)

STATUSES = ("proposed", "reviewed", "approved", "on_notice", "re_notice", "final", "expired", "superseded",
            "withdrawn", "not_rated")
STATUS_LABELS = {
    "proposed": N_("Proposed"), "reviewed": N_("Reviewed by the committee"), "approved": N_("Approved"),
    "on_notice": N_("On public notice"), "re_notice": N_("On notice again"), "final": N_("Final"),
    "expired": N_("Expired"), "superseded": N_("Superseded"), "withdrawn": N_("Withdrawn"),
    "not_rated": N_("Not rated"),
}
LIVE_STATUSES = ("proposed", "reviewed", "approved", "on_notice", "re_notice", "final")
EVENTS = ("review", "approve", "return_for_review", "veto", "notice", "object_upheld", "renotice", "finalise",
          "withdraw", "expire", "supersede")
TRANSITIONS: dict[tuple[str, str], str] = {
    ("proposed", "review"): "reviewed",  # the meeting scored it
    ("reviewed", "approve"): "approved",  # R2 (or R1 above the branch limit) approves / adjusts
    ("approved", "return_for_review"): "reviewed",  # approval undone before the notice opens (e.g. wrong line)
    ("approved", "notice"): "on_notice",
    ("on_notice", "object_upheld"): "re_notice",  # score/grade/line changed: a short second notice
    # an upheld objection's re-rating (a new row, approved by a second person) goes straight to the re-notice; the
    # rating it replaces is superseded
    ("approved", "renotice"): "re_notice",
    ("on_notice", "finalise"): "final",
    ("re_notice", "finalise"): "final",
    ("on_notice", "withdraw"): "withdrawn",
    ("final", "expire"): "expired",
    **{(status, "veto"): "not_rated" for status in LIVE_STATUSES},
    # a new rating replaces the old one; a not_rated one too, so "the current rating" is always the newest
    **{(status, "supersede"): "superseded" for status in LIVE_STATUSES + ("not_rated",)},
}


class TransitionRefused(ValueError):
    """The rating's status does not allow this event."""

    def __init__(self, current: str, event: str) -> None:
        self.current = current
        self.event = event
        super().__init__(f"rating status {current!r} does not allow {event!r}")


def next_status(current: str, event: str) -> str:
    try:
        return TRANSITIONS[(current, event)]
    except KeyError:
        raise TransitionRefused(current, event) from None


def allowed_events(current: str) -> list[str]:
    """The events ``current`` allows, in EVENTS order."""
    return [event for event in EVENTS if (current, event) in TRANSITIONS]


def approval_role_needed(line_fen: int, model: Mapping = DEFAULT_MODEL) -> str:
    """RT-9: "branch_manager" up to approval_limit_branch yuan (inclusive), "hq_admin" above."""
    return "branch_manager" if line_fen <= _fen(model["approval_limit_branch"]) else "hq_admin"


def valid_to(valid_from: date, model: Mapping = DEFAULT_MODEL) -> date:
    """RT-8: valid_from + validity_months (the last day of a shorter month when the day does not exist)."""
    months = valid_from.month - 1 + int(_num(model["validity_months"]))
    year, month = valid_from.year + months // 12, months % 12 + 1
    next_first = date(year + month // 12, month % 12 + 1, 1)
    return date(year, month, min(valid_from.day, (next_first - date(year, month, 1)).days))


valid_until = valid_to


# ================================================================ model validation

MODEL_MESSAGES = {
    "missing": N_("The model is missing %(key)s."),
    "not_number": N_("%(key)s must be a number."),
    "weights": N_("Indicator weights must add up to 100 (they add up to %(total)s)."),
    "points_above_weight": N_("%(key)s gives %(points)s points, more than its weight %(weight)s."),
    "negative_points": N_("%(key)s must not be negative."),
    "thresholds_order": N_("The thresholds of %(key)s must be strictly ascending."),
    "points_increasing": N_("The points of %(key)s must not go down as the value goes up."),
    "points_decreasing": N_("The points of %(key)s must not go up as the debt ratio goes up."),
    "grades_order": N_("Grade thresholds must be strictly descending."),
    "grade_range": N_("Grade threshold %(key)s must be between 0 and 100."),
    "cap_positive": N_("%(key)s must be more than 0."),
    "fraction": N_("%(key)s must be between 0 and 1."),
}
REQUIRED_KEYS = ("indicators", "labour_age", "labour_capacities", "asset_types", "livestock_prices",
                 "verified_sources", "declared_income_factor", "debt_kinds", "history_kinds", "insurance_types",
                 "bonuses", "bonus_cap", "deductions", "debt_income_limit", "unverified_share", "grades",
                 "grade_caps", "product_caps", "poverty_tags", "income_multiple", "line_step",
                 "preferential_grades", "validity_months", "approval_limit_branch")
BAND_INDICATORS = ("family", "assets", "income", "liabilities")


def model_problems(model: Mapping) -> list[tuple[str, dict]]:
    """(msgid, params) pairs, so a view can show ``_(msgid, **params)``; empty when the model is usable."""
    out: list[tuple[str, dict]] = []

    def add(code: str, **params) -> None:
        out.append((MODEL_MESSAGES[code], params))

    def number(value, key: str) -> Decimal | None:
        try:
            return _num(value, key)
        except ValueError:
            add("not_number", key=key)
            return None

    if not isinstance(model, Mapping):
        add("missing", key="indicators")
        return out
    for key in REQUIRED_KEYS:
        if key not in model:
            add("missing", key=key)
    indicators = model.get("indicators") if isinstance(model.get("indicators"), Mapping) else {}
    weights: dict[str, Decimal] = {}
    for code in INDICATORS:
        spec = indicators.get(code)
        if not isinstance(spec, Mapping) or "weight" not in spec:
            add("missing", key=f"indicators.{code}.weight")
            continue
        weight = number(spec["weight"], f"indicators.{code}.weight")
        if weight is not None:
            weights[code] = weight
    if len(weights) == len(INDICATORS) and sum(weights.values()) != 100:
        add("weights", total=str(sum(weights.values())))

    for code in BAND_INDICATORS:
        spec = indicators.get(code)
        if not isinstance(spec, Mapping):
            continue
        key = f"indicators.{code}.bands"
        bands = spec.get("bands")
        if not isinstance(bands, list) or not bands or not all(
                isinstance(b, (list, tuple)) and len(b) == 2 for b in bands):
            add("missing", key=key)
            continue
        thresholds = [number(t, f"{key} threshold") for t, _ in bands]
        points = [number(p, f"{key} points") for _, p in bands]
        if code == "liabilities":
            if "else" not in spec:
                add("missing", key=f"indicators.{code}.else")
            else:
                points_else = number(spec["else"], f"indicators.{code}.else")
                if points_else is not None:
                    points = points + [points_else]
        if None in thresholds or None in points:
            continue
        weight = weights.get(code)
        for p in points:
            if p < 0:
                add("negative_points", key=key)
                break
        if weight is not None and max(points) > weight:
            add("points_above_weight", key=key, points=str(max(points)), weight=str(weight))
        if any(b <= a for a, b in zip(thresholds, thresholds[1:])):
            add("thresholds_order", key=key)
        if code == "liabilities":
            if any(b > a for a, b in zip(points, points[1:])):
                add("points_decreasing", key=key)
        elif any(b < a for a, b in zip(points, points[1:])):
            add("points_increasing", key=key)

    hist = indicators.get("history")
    if isinstance(hist, Mapping):
        for sub in ("clean", "none"):
            if sub not in hist:
                add("missing", key=f"indicators.history.{sub}")
                continue
            value = number(hist[sub], f"indicators.history.{sub}")
            if value is None:
                continue
            if value < 0:
                add("negative_points", key=f"indicators.history.{sub}")
            elif "history" in weights and value > weights["history"]:
                add("points_above_weight", key=f"indicators.history.{sub}", points=str(value),
                    weight=str(weights["history"]))

    grades = model.get("grades")
    if "grades" in model:
        if not isinstance(grades, list) or not grades or not all(
                isinstance(g, (list, tuple)) and len(g) == 2 for g in grades):
            add("missing", key="grades")
        else:
            thresholds = [number(t, f"grades.{g}") for g, t in grades]
            if None not in thresholds:
                for (g, _), t in zip(grades, thresholds):
                    if not 0 <= t <= 100:
                        add("grade_range", key=str(g))
                if any(b >= a for a, b in zip(thresholds, thresholds[1:])):
                    add("grades_order")
            caps = model.get("grade_caps") if isinstance(model.get("grade_caps"), Mapping) else {}
            for g, _ in grades:
                if g not in caps and "grade_caps" in model:
                    add("missing", key=f"grade_caps.{g}")

    for table in ("grade_caps", "product_caps"):
        caps = model.get(table)
        if table in model and not isinstance(caps, Mapping):
            add("missing", key=table)
            continue
        for name, cap in (caps or {}).items():
            value = number(cap, f"{table}.{name}")
            if value is not None and value <= 0:
                add("cap_positive", key=f"{table}.{name}")
    if isinstance(model.get("product_caps"), Mapping):
        for product in PRODUCTS:
            if product not in model["product_caps"]:
                add("missing", key=f"product_caps.{product}")
    for key in ("line_step", "income_multiple", "approval_limit_branch", "validity_months"):
        if key in model:
            value = number(model[key], key)
            if value is not None and value <= 0:
                add("cap_positive", key=key)
    for key in ("bonus_cap",):
        if key in model:
            value = number(model[key], key)
            if value is not None and value < 0:
                add("negative_points", key=key)
    for table in ("bonuses", "deductions"):
        for name, points in (model.get(table) or {}).items() if isinstance(model.get(table), Mapping) else ():
            value = number(points, f"{table}.{name}")
            if value is not None and value < 0:
                add("negative_points", key=f"{table}.{name}")
    if isinstance(model.get("deductions"), Mapping):
        for code in DEDUCTION_LABELS:
            if code not in model["deductions"]:
                add("missing", key=f"deductions.{code}")
    for key in ("declared_income_factor", "unverified_share"):
        if key in model:
            value = number(model[key], key)
            if value is not None and not 0 <= value <= 1:
                add("fraction", key=key)
    if "debt_income_limit" in model:
        value = number(model["debt_income_limit"], "debt_income_limit")
        if value is not None and value <= 0:
            add("cap_positive", key="debt_income_limit")
    age = model.get("labour_age")
    if "labour_age" in model:
        if not isinstance(age, (list, tuple)) or len(age) != 2:
            add("missing", key="labour_age")
        else:
            low, high = number(age[0], "labour_age"), number(age[1], "labour_age")
            if low is not None and high is not None and not 0 <= low <= high:
                add("thresholds_order", key="labour_age")
    return out


def validate_model(model: Mapping) -> list[str]:
    """English messages for everything wrong with ``model`` (msgids from MODEL_MESSAGES, filled); [] means valid."""
    return [msgid % params for msgid, params in model_problems(model)]


def copy_model(model: Mapping = DEFAULT_MODEL) -> dict:
    """A deep copy to edit into a new model version."""
    return copy.deepcopy(dict(model))
