"""Demo layer 2: the households of 剑源县 and their credit files (domain.md §6.2).

About 12,000 households (`flask demo load --households N` scales it; the bench uses 100,000) spread over the 88
villages of the demo county, ≈ 2.75 members each with valid, unique resident ID numbers (the county's address code
for most, realistic birth dates, the sex digit matching the member), search keys filled, names from demo.names.
Each household has land, livestock, other assets, income and expense rows, insurance for some, bank and private
debts, consents (信息采集 + 征信查询授权 + 公示同意) for most, and visits that explain its file status: mostly
accepted / submitted / draft, some returned and pending_revisit, some still new. About 4 % of households carry a
registered private loan (≈ 500 at the default size): about 40 % of them over the lawful cap at their contract date
(4 × the one-year LPR, or 24 % before 2020-08-20), about 10 % with interest deducted up front (砍头息) and a few
secured by land leased away at a fraction of the local rent.

The size is `--households N`, else the DEMO_HOUSEHOLDS setting, else 12,000.

Deterministic: every household's content comes from a random generator seeded with its code
(`<village stat_code>-<seq>`), so the same code always gets the same family. Idempotent, keyed by household code: a
second run adds nothing, a run after a partial load (or with a larger N) adds only the missing households, each
with everything it owns, in the same transaction. The only thing that depends on what is already stored is an ID
number that happens to be taken: the next free sequence number is used instead.

Speed: rows are written with Core bulk inserts in chunks (`db.session.execute(sa.insert(table), rows)`), which
bypass the ORM, so the audit listener does not log them. That is deliberate and acceptable for generated demo data:
nobody did these things, and 200,000 audit rows would only hide the real ones.
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

import sqlalchemy as sa
from flask import current_app

from ..core import clock
from ..core.idnumber import check_char
from ..extensions import db
from ..households import rules
from ..households.models import (CreditFile, Debt, ExpenseItem, Household, IncomeItem, Insurance, LandHolding,
                                 Livestock, Member, OtherAsset)
from ..org.models import Assignment, County, Grid, GridArea, Village, VillageGroup
from ..visits.models import Consent, Visit
from . import org
from .names import NameGenerator

SEED = 5329990002
DEFAULT_HOUSEHOLDS = 12_000
CHUNK = 2500                       # households per bulk-insert round
REF_DAY = date(2025, 1, 1)         # birth dates are drawn relative to this fixed day (never in the future)
ID_SEQ_MAX = 899                   # demo ID sequence numbers are 001-899; 900-999 are left to the sample roster
BANK_NAME = "剑源农商银行"

SIZE_WEIGHTS = ((1, 14), (2, 32), (3, 30), (4, 16), (5, 6), (6, 2))   # members per household: mean ≈ 2.75
FILE_STATUS_WEIGHTS = (("new", 8), ("draft", 24), ("submitted", 20), ("accepted", 38), ("returned", 4),
                       ("pending_revisit", 6))
PRIVATE_LOAN_RATE = 500 / 12_000   # ≈ 500 registered private loans at the default size
OVER_CAP_SHARE = 0.40
HEAD_INTEREST_SHARE = 0.10
OFFSET_SHARE = 0.01                # ≈ 5 loans secured by land leased away cheaply

# Stored codes are those households.section_forms offers (a test keeps them in step).
ETHNICITIES = (("汉族", 68), ("白族", 22), ("彝族", 5), ("傈僳族", 2), ("纳西族", 2), ("回族", 1))
MINORITY_ETHNICITY = {"mongolian": "蒙古族", "tibetan": "藏族", "dotted": "维吾尔族"}
INDUSTRIES = ("种植", "养殖", "烟", "茶", "菜", "桑", "畜", "菌", "加工", "旅游", "务工", "其他")
LIVESTOCK = {"pig": (1, 12), "cattle": (1, 8), "sheep": (5, 60), "poultry": (10, 200)}
LENDER_TYPES = (("individual", 60), ("relative", 25), ("microcredit", 8), ("pawnshop", 3), ("guarantee_company", 2),
                ("cooperative", 2))
LENDER_COMPANIES = {"microcredit": "剑源县鑫达小额贷款有限公司", "pawnshop": "剑源县恒通典当行",
                    "guarantee_company": "剑源县融信担保有限公司", "cooperative": "剑源县丰收农民专业合作社"}
RATE_UNITS = (("fen_month", 45), ("li_month", 10), ("permille_month", 10), ("pct_year", 35))
MOBILE_PREFIXES = org.MOBILE_PREFIXES
FOREIGN_REGIONS = ("532901", "532930", "532932", "530102", "533102", "532301")
REFUSAL_NOTE = "户主不同意查询征信，已在走访记录中签字说明"
RETURN_COMMENTS = ({"debts": "请补充民间借款的出借人和利率"}, {"income": "务工收入与村委会核实数不一致，请核实"},
                   {"land": "流转土地缺少合同编号"}, {"members": "次子身份证号请核对原件"})


@lru_cache(maxsize=None)
def _cumulative(weighted: tuple) -> tuple[tuple, list[float]]:
    values, weights = zip(*weighted)
    total, cum = 0.0, []
    for w in weights:
        total += w
        cum.append(total)
    return values, cum


def _pick(rng: random.Random, weighted: tuple):
    values, cum = _cumulative(weighted)
    return rng.choices(values, cum_weights=cum)[0]


def yuan(amount) -> int:
    """Whole yuan -> fen."""
    return int(amount) * 100


@lru_cache(maxsize=65536)
def _keys(name: str) -> tuple[str, str]:
    return rules.search_keys(name)


# ---------------------------------------------------------------- the plan (pure)

def village_counts(codes: list[str], total: int) -> list[int]:
    """Households per village: proportional to a fixed weight (largest remainder), summing to `total` exactly; the
    same for every run with the same total. At the default size that is 100-175 per village, ≈ 136 on average."""
    if not codes or total <= 0:
        return [0] * len(codes)
    rng = random.Random(SEED)
    weights = [rng.uniform(110, 192) for _ in codes]
    scale = total / sum(weights)
    raw = [w * scale for w in weights]
    counts = [int(x) for x in raw]
    for i in sorted(range(len(codes)), key=lambda i: (counts[i] - raw[i], i))[:total - sum(counts)]:
        counts[i] += 1
    return counts


def household_code(stat_code: str, seq: int) -> str:
    return f"{stat_code}-{seq:04d}"


@dataclass
class PlannedMember:
    name: str
    sex: str
    birth: date
    relation: str
    region: str
    seq: int
    ethnicity: str
    education: str | None
    labour: str | None
    mobile: str | None
    occupation: str | None = None
    migrant_location: str | None = None
    party_member: bool = False

    @property
    def id_number(self) -> str:
        first17 = f"{self.region}{self.birth:%Y%m%d}{self.seq:03d}"
        return first17 + check_char(first17)


@dataclass
class PlannedHousehold:
    """Everything one household holds, before any database ids exist."""

    code: str
    members: list[PlannedMember]
    kind: str
    industry: str
    tags: list[str]
    file_status: str
    home: tuple[float, float] | None
    land: list[dict] = field(default_factory=list)
    livestock: list[dict] = field(default_factory=list)
    assets: list[dict] = field(default_factory=list)
    income: list[dict] = field(default_factory=list)
    expenses: list[dict] = field(default_factory=list)
    insurance: list[dict] = field(default_factory=list)
    debts: list[dict] = field(default_factory=list)
    visits: list[dict] = field(default_factory=list)  # offsets from today: days_ago, hour, minutes, outcome, purpose
    consents: list[tuple[str, str]] = field(default_factory=list)  # (kind, method)
    next_visit_days: int | None = None
    return_comments: dict | None = None
    # filled while writing
    db_id: int | None = None
    officer_id: int | None = None


def _birth(rng: random.Random, age_from: int, age_to: int) -> date:
    return REF_DAY - timedelta(days=rng.randint(age_from * 365 + 1, age_to * 365 + 300))


def _id_seq(rng: random.Random, sex: str) -> int:
    """An odd sequence number for a man, even for a woman (GB 11643), within 001-899."""
    return rng.randrange(0, ID_SEQ_MAX // 2) * 2 + (1 if sex == "M" else 2)


def _mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def _education(rng: random.Random, age: int) -> str | None:
    if age < 7:
        return "none"
    if age < 13:
        return "primary"
    if age < 16:
        return "junior"
    if age < 22:
        return rng.choice(("senior", "vocational", "college", "junior"))
    if age > 60:
        return rng.choice(("none", "primary", "primary", "junior"))
    return _pick(rng, (("primary", 20), ("junior", 45), ("senior", 15), ("vocational", 10), ("college", 6),
                       ("bachelor", 4)))


def _labour(rng: random.Random, age: int) -> str | None:
    if age < 16:
        return None
    if age > 70:
        return rng.choice(("none", "partial"))
    if age > 60:
        return rng.choice(("partial", "full"))
    return "full" if rng.random() < 0.93 else "partial"


def _person(rng: random.Random, names: NameGenerator, relation: str, sex: str, age_from: int, age_to: int,
            surname: str | None, ethnicity: str, minority: str | None) -> PlannedMember:
    if minority:
        name = names.minority(sex, minority)
    else:
        name = names.name(sex, surname=surname)
    birth = _birth(rng, age_from, age_to)
    age = (REF_DAY - birth).days // 365
    region = org.COUNTY[0] if relation != "spouse" or rng.random() < 0.7 else rng.choice(FOREIGN_REGIONS)
    adult = 18 <= age <= 68
    mobile = _mobile(rng) if adult and rng.random() < 0.8 else None
    migrant = None
    occupation = None
    if adult and age < 50 and relation in ("child", "spouse", "head") and rng.random() < 0.12:
        migrant = rng.choice(("昆明市", "大理市", "广东省东莞市", "浙江省义乌市", "上海市"))
        occupation = "外出务工"
    elif adult:
        occupation = rng.choice(("务农", "务农", "务农", "养殖", "个体经营", "务工"))
    return PlannedMember(name=name, sex=sex, birth=birth, relation=relation, region=region, seq=_id_seq(rng, sex),
                         ethnicity=ethnicity, education=_education(rng, age), labour=_labour(rng, age), mobile=mobile,
                         occupation=occupation, migrant_location=migrant,
                         party_member=adult and age > 25 and rng.random() < 0.06)


def plan_members(rng: random.Random) -> list[PlannedMember]:
    """A family: the head first, then a spouse, children, parents or grandchildren, with consistent ages."""
    names = NameGenerator(rng.getrandbits(32))
    minority = None
    if rng.random() < 0.015:
        minority = rng.choice(sorted(MINORITY_ETHNICITY))
        ethnicity = MINORITY_ETHNICITY[minority]
    else:
        ethnicity = _pick(rng, ETHNICITIES)
    size = int(_pick(rng, SIZE_WEIGHTS))
    head_sex = "M" if rng.random() < 0.86 else "F"
    head_age = rng.randint(28, 76) if size > 1 else rng.randint(35, 85)
    surname = None if minority else names.surname()
    head = _person(rng, names, "head", head_sex, head_age, head_age, surname, ethnicity, minority)
    members = [head]
    other_sex = "F" if head_sex == "M" else "M"
    remaining = size - 1
    if remaining and (head_age < 72 or rng.random() < 0.5):
        spouse_age = max(20, min(90, head_age + rng.randint(-6, 3)))
        members.append(_person(rng, names, "spouse", other_sex, spouse_age, spouse_age, None, ethnicity, minority))
        remaining -= 1
    family_surname = surname if head_sex == "M" or minority else None
    while remaining > 0:
        roll = rng.random()
        if head_age >= 58 and roll < 0.3:
            # a grandchild of the house
            age_to = max(1, min(17, head_age - 42))
            members.append(_person(rng, names, "grandchild", names.sex(), 0, age_to, family_surname, ethnicity,
                                   minority))
        elif head_age <= 50 and roll < 0.2 and not any(m.relation == "parent" for m in members):
            age = min(95, head_age + rng.randint(22, 32))
            members.append(_person(rng, names, "parent", rng.choice("MF"), age, age, surname if not minority
                                   else None, ethnicity, minority))
        else:
            age_from = max(0, head_age - 38)
            age_to = max(age_from, head_age - 20)
            members.append(_person(rng, names, "child", names.sex(), age_from, age_to, family_surname, ethnicity,
                                   minority))
        remaining -= 1
    return members


def _area(rng: random.Random, low: float, high: float) -> Decimal:
    return Decimal(str(round(rng.uniform(low, high), 1)))


def plan_household(code: str, centroid: tuple[float, float] | None, today: date,
                   lpr_table: list[tuple]) -> PlannedHousehold:
    """One household, from its code alone (plus today's date for visit dates and the LPR table for the caps)."""
    rng = random.Random(f"{SEED}:{code}")
    members = plan_members(rng)
    head = members[0]
    kind = "herder" if rng.random() < 0.05 else "farmer"
    industry = "畜" if kind == "herder" else rng.choice(INDUSTRIES)
    tags = []
    if rng.random() < 0.15:
        tags.append("lifted_poor" if rng.random() < 0.8 else "monitored")
    if rng.random() < 0.05:
        tags.append("dibao")
    if any(m.party_member for m in members):
        tags.append("party")
    if any(m.migrant_location for m in members):
        tags.append("migrant")
    tags.append("herder" if kind == "herder" else "farmer")
    status = _pick(rng, FILE_STATUS_WEIGHTS)
    home = None
    if centroid and centroid[0] is not None and (status != "new" or rng.random() < 0.2):
        home = (round(centroid[0] + rng.uniform(-0.012, 0.012), 6), round(centroid[1] + rng.uniform(-0.012, 0.012), 6))
    h = PlannedHousehold(code=code, members=members, kind=kind, industry=industry, tags=tags, file_status=status,
                         home=home)
    year = today.year - 1

    def row(source=None, **values):
        values.setdefault("source", source or _pick(rng, (("declared", 70), ("document", 20), ("village", 10))))
        values.setdefault("note", None)
        return values

    # Land
    if kind == "herder":
        h.land.append(row(land_type="grassland", area_mu=_area(rng, 300, 5000), tenure="contracted",
                          certificate_no=f"草原证{rng.randrange(10**6):06d}", counterparty=None,
                          rent_per_mu_year_fen=None, encumbered=False))
    else:
        for _ in range(rng.choice((1, 1, 2, 2, 3))):
            land_type = _pick(rng, (("arable", 70), ("forest", 12), ("orchard", 12), ("water", 2), ("homestead", 4)))
            tenure = _pick(rng, (("contracted", 85), ("leased_in", 10), ("leased_out", 5)))
            rent = yuan(rng.randint(200, 800)) if tenure != "contracted" else None
            h.land.append(row(land_type=land_type, area_mu=_area(rng, 0.8, 15), tenure=tenure,
                              certificate_no=f"确权{rng.randrange(10**8):08d}" if tenure == "contracted" else None,
                              counterparty=_counterparty(rng, tenure), rent_per_mu_year_fen=rent, encumbered=False))
    # Livestock
    if kind == "herder":
        h.livestock.append(row(species="sheep", head_count=rng.randint(50, 500), breeding_count=rng.randint(20, 200),
                               insured=rng.random() < 0.5))
        h.livestock.append(row(species="cattle", head_count=rng.randint(5, 50), breeding_count=rng.randint(2, 20),
                               insured=rng.random() < 0.5))
    elif rng.random() < 0.6:
        for species in rng.sample(sorted(LIVESTOCK), rng.choice((1, 1, 2))):
            low, high = LIVESTOCK[species]
            count = rng.randint(low, high)
            h.livestock.append(row(species=species, head_count=count, breeding_count=rng.randint(0, count // 3),
                                   insured=rng.random() < 0.3))
    # Other assets
    if rng.random() < 0.92:
        h.assets.append(row(asset_type="house", description=rng.choice(("砖混结构两层", "土木结构", "砖木结构平房")),
                            value_fen=yuan(rng.randrange(40, 400) * 1000), pledgeable=rng.random() < 0.3))
    for asset_type, share, low, high, text in (("vehicle", 0.3, 20, 150, "农用车"), ("machinery", 0.2, 5, 80, "微耕机"),
                                               ("greenhouse", 0.05, 20, 200, "蔬菜大棚"),
                                               ("deposit", 0.2, 5, 200, "定期存款")):
        if rng.random() < share:
            h.assets.append(row(asset_type=asset_type, description=text,
                                value_fen=yuan(rng.randrange(low, high) * 1000), pledgeable=asset_type != "deposit"))
    # Income (last full year)
    sources = ["livestock" if kind == "herder" else "crops"]
    if any(m.migrant_location for m in members) or rng.random() < 0.5:
        sources.append("wages")
    if rng.random() < 0.25:
        sources.append("business")
    if "lifted_poor" in tags or "dibao" in tags or rng.random() < 0.3:
        sources.append("transfer")
    if h.livestock and "livestock" not in sources:
        sources.append("livestock")
    for source in sources:
        gross = {"crops": (8, 60), "livestock": (5, 120), "wages": (15, 80), "business": (10, 150),
                 "transfer": (1, 8), "property": (1, 10)}[source]
        g = yuan(rng.randrange(gross[0], gross[1]) * 1000)
        cost = 0 if source in ("wages", "transfer") else int(g * rng.uniform(0.2, 0.55)) // 100 * 100
        h.income.append(row(year=year, income_source=source, gross_fen=g, cost_fen=cost))
    # Expenses
    h.expenses.append(row(year=year, category="living", amount_fen=yuan(rng.randrange(8, 40) * 1000)))
    h.expenses.append(row(year=year, category="production", amount_fen=yuan(rng.randrange(2, 30) * 1000)))
    if any(m.relation in ("child", "grandchild") and (REF_DAY - m.birth).days < 22 * 365 for m in members):
        h.expenses.append(row(year=year, category="education", amount_fen=yuan(rng.randrange(1, 20) * 1000)))
    if rng.random() < 0.25:
        h.expenses.append(row(year=year, category="medical", amount_fen=yuan(rng.randrange(1, 30) * 1000)))
    # Insurance
    if rng.random() < 0.4:
        h.insurance.append(row(insurance_type="agricultural", insurer="中国人保财险", source="document",
                               sum_insured_fen=yuan(rng.randrange(5, 50) * 1000),
                               period_from=date(year + 1, 1, 1), period_to=date(year + 1, 12, 31)))
    if rng.random() < 0.2:
        h.insurance.append(row(insurance_type="accident", insurer="中国人寿", source="document",
                               sum_insured_fen=yuan(rng.randrange(5, 20) * 10_000),
                               period_from=date(year + 1, 3, 1), period_to=date(year + 2, 2, 28)))
    # Debts
    if rng.random() < 0.25:
        start = date(year, 1, 1) + timedelta(days=rng.randrange(0, 700))
        principal = yuan(rng.randrange(2, 20) * 10_000)
        h.debts.append(_debt_row(row, kind="bank", lender_type="bank", creditor_name=BANK_NAME,
                                 written=principal, received=principal,
                                 balance=principal * rng.randrange(30, 101) // 100 // 100 * 100,
                                 contract_date=start, maturity=start + timedelta(days=365 * rng.choice((1, 2, 3))),
                                 rate_value=Decimal(rng.choice(("4.35", "5.22", "5.655", "6.09"))),
                                 rate_unit="pct_year", written_contract=True, collateral=None,
                                 status="normal", source="document", lpr_table=lpr_table, today=today))
    if rng.random() < 0.03:
        amount = yuan(rng.randrange(2, 30) * 1000)
        h.debts.append(_debt_row(row, kind="credit_sale", lender_type="merchant",
                                 creditor_name=rng.choice(("农资店", "饲料店", "建材店")), written=amount, received=amount,
                                 balance=amount, contract_date=date(year, rng.randint(1, 12), rng.randint(1, 28)),
                                 maturity=None, rate_value=None, rate_unit=None, written_contract=False,
                                 collateral=None, status="normal", source="declared", lpr_table=lpr_table,
                                 today=today))
    if rng.random() < PRIVATE_LOAN_RATE:
        h.debts.append(_private_loan(rng, row, h, lpr_table, today))

    _plan_file(rng, h, today)
    return h


def _counterparty(rng: random.Random, tenure: str) -> str | None:
    if tenure == "contracted":
        return None
    return rng.choice(("本村", "邻村", "合作社")) + rng.choice(("张", "李", "杨", "段", "赵")) + "某"


def _debt_row(row, *, kind, lender_type, creditor_name, written, received, balance, contract_date, maturity,
              rate_value, rate_unit, written_contract, collateral, status, source, lpr_table, today,
              offset_land: int | None = None, offset_rent=None, reference_rent=None, note=None) -> dict:
    assessed = rules.assess_debt(kind=kind, principal_written=written, principal_received=received,
                                 rate_value=rate_value, rate_unit=rate_unit, contract_date=contract_date,
                                 written_contract=written_contract, table=lpr_table, today=today,
                                 offset_rent_per_mu=offset_rent, reference_rent_per_mu=reference_rent)
    return row(source=source, note=note, kind=kind, lender_type=lender_type, creditor_name=creditor_name,
               principal_written_fen=written, principal_received_fen=received, balance_fen=balance,
               contract_date=contract_date, maturity=maturity, rate_value=rate_value, rate_unit=rate_unit,
               annual_rate=assessed.annual_rate, cap_rate=assessed.cap, written_contract=written_contract,
               collateral=collateral, offset_land_index=offset_land, status=status, flags=assessed.flags)


def _private_loan(rng: random.Random, row, h: PlannedHousehold, lpr_table, today: date) -> dict:
    """A registered private loan: amount around 110,000, dated 2018-2025, 40 % over the cap, 10 % with 砍头息."""
    contract = date(2018, 6, 1) + timedelta(days=rng.randrange(0, (date(2025, 10, 31) - date(2018, 6, 1)).days))
    written = yuan(int(rng.triangular(20, 300, 80)) * 1000)
    received = written
    if rng.random() < HEAD_INTEREST_SHARE:
        received = written * rng.randrange(85, 96) // 100 // 100_000 * 100_000 or written - yuan(1000)
    cap = rules.lawful_cap(contract, lpr_table, today)
    over = rng.random() < OVER_CAP_SHARE
    target = cap * Decimal(str(round(rng.uniform(1.15, 2.6), 3))) if over else \
        cap * Decimal(str(round(rng.uniform(0.35, 0.95), 3)))
    unit = _pick(rng, RATE_UNITS)
    per_unit = {"fen_month": Decimal("0.12"), "li_month": Decimal("0.012"), "permille_month": Decimal("0.012"),
                "pct_year": Decimal("0.01")}[unit]
    step = Decimal("0.1") if unit != "pct_year" else Decimal("0.5")
    value = (target / per_unit / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step
    value = max(value, step)
    if over and value * per_unit <= cap:
        value += step
    if not over:
        while value * per_unit > cap and value > step:
            value -= step
    lender_type = _pick(rng, LENDER_TYPES)
    creditor = LENDER_COMPANIES.get(lender_type) or NameGenerator(rng.getrandbits(32)).name()
    written_contract = rng.random() < 0.6
    offset_land = offset_rent = reference_rent = None
    collateral = None
    if rng.random() < OFFSET_SHARE:
        # 草场/耕地 leased to the lender for a token rent to offset the debt (seed 004: 0.60 yuan/mu vs 4.50-6.00)
        h.land.append(row(land_type="grassland" if h.kind == "herder" else "arable",
                          area_mu=_area(rng, 200, 4000) if h.kind == "herder" else _area(rng, 5, 30),
                          tenure="offset_out", certificate_no=None, counterparty=creditor, rent_per_mu_year_fen=60,
                          encumbered=True, source="village", note="租给出借人抵债"))
        offset_land = len(h.land) - 1
        offset_rent, reference_rent = Decimal("0.60"), Decimal("5.00")
        collateral = "草场/耕地租给出借人抵债"
    maturity = contract + timedelta(days=365 * rng.choice((1, 1, 2, 3)))
    balance = written * rng.randrange(30, 101) // 100 // 100 * 100
    status = _pick(rng, (("normal", 75), ("overdue", 15), ("dispute", 10)))
    return _debt_row(row, kind="private", lender_type=lender_type, creditor_name=creditor, written=written,
                     received=received, balance=balance, contract_date=contract, maturity=maturity, rate_value=value,
                     rate_unit=unit, written_contract=written_contract, collateral=collateral, status=status,
                     source="document" if written_contract else "declared", lpr_table=lpr_table, today=today,
                     offset_land=offset_land, offset_rent=offset_rent, reference_rent=reference_rent,
                     note="已在民间借贷登记服务中心登记")


def _plan_file(rng: random.Random, h: PlannedHousehold, today: date) -> None:
    """Visits, consents and sections marked "无" consistent with the file status (W2, V-1, V-3)."""
    status = h.file_status
    if status == "new":
        return
    if status == "pending_revisit":
        days = sorted(rng.sample(range(3, 90), 3), reverse=True)
        for i, ago in enumerate(days):
            h.visits.append({"days_ago": ago, "hour": rng.randint(9, 17), "minutes": rng.randint(5, 20),
                             "outcome": rng.choice(("not_home", "unreachable")) if i < 2 else "unreachable",
                             "purpose": "first" if i == 0 else "follow_up"})
        h.next_visit_days = rng.randint(-5, 30)
        return
    first = rng.randint(20, 240)
    if rng.random() < 0.15:  # someone was out the first time
        h.visits.append({"days_ago": first + rng.randint(3, 20), "hour": rng.randint(9, 17),
                         "minutes": rng.randint(5, 15), "outcome": "not_home", "purpose": "first"})
    h.visits.append({"days_ago": first, "hour": rng.randint(9, 17), "minutes": rng.randint(25, 80),
                     "outcome": "done", "purpose": "first"})
    if status == "accepted" and rng.random() < 0.2:
        h.visits.append({"days_ago": rng.randint(1, max(1, first - 1)), "hour": rng.randint(9, 17),
                         "minutes": rng.randint(15, 40), "outcome": "done", "purpose": "update"})
    roll = rng.random()
    if status == "draft" and roll < 0.08:
        h.consents = [("collect", "signature")]
    elif roll < 0.95:
        method = "signature" if rng.random() < 0.7 else "paper"
        h.consents = [("collect", method), ("credit_query", method), ("notice", method)]
        if rng.random() < 0.5:
            h.consents.append(("contact", method))
    else:
        h.consents = [("collect", "signature"), ("credit_query", "refused")]
    if status in ("submitted", "accepted", "returned"):
        if status == "returned":
            h.return_comments = rng.choice(RETURN_COMMENTS)
    if status == "draft" and rng.random() < 0.15:
        h.next_visit_days = rng.randint(-10, 20)
    elif status in ("accepted", "submitted") and rng.random() < 0.1:
        h.next_visit_days = rng.randint(30, 180)


def declared_none(h: PlannedHousehold) -> list[str]:
    """Sections a completed file marks "无" explicitly (V-1); drafts leave some of them open."""
    rows = {"land": h.land, "livestock": h.livestock, "assets": h.assets, "income": h.income,
            "expenses": h.expenses, "debts": h.debts, "insurance": h.insurance, "negative": []}
    empty = [s for s in rules.SECTION_ORDER if s in rows and not rows[s]]
    if h.file_status in ("submitted", "accepted", "returned"):
        return empty
    if h.file_status == "draft":
        return [s for s in empty if s in ("insurance", "negative")]
    return []


# ---------------------------------------------------------------- writing what is missing

@dataclass
class _Context:
    today: date
    now: datetime
    lpr_table: list[tuple]
    officer_by_group: dict[int, int]
    officer_by_village: dict[int, int]
    manager_by_village: dict[int, int]
    taken_ids: set[str]
    added: Counter


def _lpr_rows() -> list[tuple]:
    """The LPR table the caps are computed from, seeded first when it is empty (households.sections owns it)."""
    from ..households.sections import ensure_lpr_seeded, lpr_table
    ensure_lpr_seeded()
    return [(row[0], row[1]) for row in lpr_table()]


def _staff_maps(village_ids: list[int], today: date):
    """Who owns each village (or group) today, and which branch manager reviews its files."""
    from ..accounts.models import RoleGrant
    officer_by_group: dict[int, int] = {}
    officer_by_village: dict[int, int] = {}
    branch_of_village: dict[int, int] = {}
    stmt = (sa.select(GridArea.village_id, GridArea.group_id, Assignment.user_id, Grid.branch_id)
            .join(Grid, Grid.id == GridArea.grid_id)
            .join(Assignment, Assignment.grid_id == Grid.id)
            .where(GridArea.village_id.in_(village_ids), Grid.status == "active", Assignment.kind == "owner",
                   Assignment.starts_on <= today,
                   sa.or_(Assignment.ends_on.is_(None), Assignment.ends_on >= today)))
    for village_id, group_id, user_id, branch_id in db.session.execute(stmt):
        if group_id is None:
            officer_by_village[village_id] = user_id
        else:
            officer_by_group[group_id] = user_id
            officer_by_village.setdefault(village_id, user_id)
        branch_of_village.setdefault(village_id, branch_id)
    managers = {scope_id: user_id for user_id, scope_id in db.session.execute(
        sa.select(RoleGrant.user_id, RoleGrant.scope_id).where(RoleGrant.role == "branch_manager",
                                                              RoleGrant.scope_type == "branch"))}
    manager_by_village = {v: managers[b] for v, b in branch_of_village.items() if b in managers}
    return officer_by_group, officer_by_village, manager_by_village


def _free_id(member: PlannedMember, taken: set[str]) -> str:
    """The member's planned ID number, or the next free sequence number of the same sex and birth date."""
    for _ in range(ID_SEQ_MAX):
        number = member.id_number
        if number not in taken:
            taken.add(number)
            return number
        member.seq = member.seq + 2 if member.seq + 2 <= ID_SEQ_MAX else (1 if member.sex == "M" else 2)
    member.birth -= timedelta(days=1)  # all 450 taken for that day: practically impossible
    return _free_id(member, taken)


def _local_to_utc(day: date, hour: int, minute: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute) - timedelta(hours=8)


def _visit_start(today: date, visit: dict) -> datetime:
    """A planned visit's start (stored as naive UTC; planned in Asia/Shanghai office hours)."""
    return _local_to_utc(today - timedelta(days=visit["days_ago"]), visit["hour"], (visit["minutes"] * 7) % 50)


def _insert(model, rows: list[dict], returning: bool = False) -> list[int]:
    if not rows:
        return []
    table = model.__table__
    if returning:
        result = db.session.execute(sa.insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
        return [r[0] for r in result]
    db.session.execute(sa.insert(table), rows)
    return []


def _write_chunk(planned: list[tuple[PlannedHousehold, Village, VillageGroup | None]], ctx: _Context) -> None:
    from ..households.services import id_hash
    now = ctx.now
    households = []
    for h, village, group in planned:
        officer = ctx.officer_by_group.get(group.id) if group else None
        officer = officer or ctx.officer_by_village.get(village.id)
        last = next((v for v in reversed(h.visits)), None)
        failed = sum(1 for v in h.visits if v["outcome"] in ("not_home", "unreachable")) \
            if h.file_status == "pending_revisit" else 0
        households.append({
            "county_id": village.county_id, "village_id": village.id, "group_id": group.id if group else None,
            "code": h.code, "head_name": h.members[0].name,
            "address": f"{village.name}{group.name if group else ''}{int(h.code.rsplit('-', 1)[1])}号",
            "phone": h.members[0].mobile, "home_lat": h.home[0] if h.home else None,
            "home_lng": h.home[1] if h.home else None, "kind": h.kind, "main_industry": h.industry, "tags": h.tags,
            "declared_none": declared_none(h), "file_status": h.file_status, "status": "active",
            "failed_attempts": failed,
            "last_visit_at": _visit_start(ctx.today, last) if last else None,
            "last_visit_outcome": last["outcome"] if last else None,
            "next_visit_on": ctx.today + timedelta(days=h.next_visit_days) if h.next_visit_days is not None else None,
            "created_at": now, "updated_at": now, "version": 1,
        })
        h.officer_id = officer
    ids = _insert(Household, households, returning=True)
    ctx.added["households"] += len(ids)

    members = []
    for (h, village, _group), hid in zip(planned, ids):
        h.db_id = hid
        for pos, m in enumerate(h.members):
            number = _free_id(m, ctx.taken_ids)
            pinyin, initials = _keys(m.name)
            members.append({
                "household_id": hid, "county_id": village.county_id, "position": pos, "is_head": pos == 0,
                "name": m.name, "name_pinyin": pinyin, "name_initials": initials, "id_number": number,
                "id_hash": id_hash(number), "id_last4": number[-4:], "sex": m.sex, "birth_date": m.birth,
                "relation": m.relation, "ethnicity": m.ethnicity, "education": m.education,
                "labour_capacity": m.labour, "health": None, "occupation": m.occupation,
                "party_member": m.party_member, "migrant_location": m.migrant_location, "mobile": m.mobile,
                "mobile_last4": m.mobile[-4:] if m.mobile else None, "created_at": now,
            })
    _insert(Member, members)
    ctx.added["members"] += len(members)
    heads = dict(db.session.execute(sa.select(Member.household_id, Member.id).where(
        Member.household_id.in_(ids), Member.is_head)).all())
    head_ids = [heads[hid] for hid in ids]

    land_rows = [{"household_id": h.db_id, "created_at": now, **item} for h, _v, _g in planned for item in h.land]
    _insert(LandHolding, land_rows)
    ctx.added["land holdings"] += len(land_rows)
    offsets: dict[int, int] = {}
    if any(d["offset_land_index"] is not None for h, _v, _g in planned for d in h.debts):
        offsets = dict(db.session.execute(sa.select(LandHolding.household_id, LandHolding.id).where(
            LandHolding.household_id.in_(ids), LandHolding.tenure == "offset_out")).all())

    simple = ((Livestock, "livestock", "livestock"), (OtherAsset, "assets", "other assets"),
              (IncomeItem, "income", "income items"), (ExpenseItem, "expenses", "expense items"),
              (Insurance, "insurance", "insurances"))
    for model, attr, label in simple:
        rows = [{"household_id": h.db_id, "created_at": now, **item}
                for h, _v, _g in planned for item in getattr(h, attr)]
        _insert(model, rows)
        ctx.added[label] += len(rows)

    debts = []
    for h, _v, _g in planned:
        for item in h.debts:
            item = dict(item)
            index = item.pop("offset_land_index")
            item["offset_land_id"] = offsets.get(h.db_id) if index is not None else None
            debts.append({"household_id": h.db_id, "created_at": now, **item})
            if item["kind"] == "private":
                ctx.added["private loans"] += 1
                if "over_cap" in item["flags"]:
                    ctx.added["over the cap"] += 1
    _insert(Debt, debts)
    ctx.added["debts"] += len(debts)

    visits, visit_owner = [], []
    for (h, village, group), head_id in zip(planned, head_ids):
        for v in h.visits:
            started = _visit_start(ctx.today, v)
            ended = started + timedelta(minutes=v["minutes"])
            lat = lng = acc = dist = None
            if h.home and v["outcome"] == "done":
                lat, lng, acc, dist = h.home[0] + 0.0001, h.home[1] - 0.0001, 12.0, 14.3
            visits.append({
                "household_id": h.db_id, "county_id": village.county_id, "village_id": village.id,
                "group_id": group.id if group else None, "staff_id": h.officer_id, "companions": None,
                "purpose": v["purpose"], "outcome": v["outcome"], "started_at": started, "ended_at": ended,
                "device_started_at": started, "device_ended_at": ended, "clock_skew_flag": False,
                "gps_lat": lat, "gps_lng": lng, "gps_accuracy_m": acc, "distance_m": dist, "off_site": False,
                "notes": None if v["outcome"] == "done" else "家中无人，已电话联系未接通", "next_visit_on": None,
                "offline_created": False, "created_at": ended,
            })
            visit_owner.append((h, head_id, v["outcome"] == "done", ended))
    if any(v["staff_id"] is None for v in visits):
        # a village no officer covers today: its files stay without visits rather than invent an officer
        keep = [i for i, v in enumerate(visits) if v["staff_id"] is not None]
        visits = [visits[i] for i in keep]
        visit_owner = [visit_owner[i] for i in keep]
    _insert(Visit, visits)
    ctx.added["visits"] += len(visits)
    first_done: dict[int, int] = {}
    for household_id, visit_id in db.session.execute(
            sa.select(Visit.household_id, Visit.id).where(Visit.household_id.in_(ids), Visit.outcome == "done")
            .order_by(Visit.started_at, Visit.id)):
        first_done.setdefault(household_id, visit_id)

    done_visit: dict[int, tuple[int, int, datetime]] = {}
    for h, head_id, done, ended in visit_owner:
        if done and id(h) not in done_visit and h.db_id in first_done:
            done_visit[id(h)] = (first_done[h.db_id], head_id, ended)
    consents, files = [], []
    for h, village, _group in planned:
        found = done_visit.get(id(h))
        if found is not None:
            vid, head_id, ended = found
            for kind, method in h.consents:
                consents.append({"household_id": h.db_id, "member_id": head_id, "visit_id": vid, "kind": kind,
                                 "method": method, "photo_id": None,
                                 "refusal_note": REFUSAL_NOTE if method == "refused" else None,
                                 "signed_at": ended, "revoked_at": None, "recorded_by": h.officer_id})
        if h.file_status != "new" and h.officer_id is not None:
            first = _visit_start(ctx.today, h.visits[0])
            submitted = h.file_status in ("submitted", "accepted", "returned")
            reviewed = h.file_status in ("accepted", "returned")
            files.append({
                "household_id": h.db_id, "version_no": 1, "status": h.file_status, "created_by": h.officer_id,
                "created_at": first, "submitted_at": first + timedelta(days=2) if submitted else None,
                "submitted_by": h.officer_id if submitted else None,
                "reviewed_at": first + timedelta(days=5) if reviewed else None,
                "reviewed_by": ctx.manager_by_village.get(village.id) if reviewed else None,
                "review_comments": h.return_comments or {}, "snapshot": None, "version": 1,
            })
    _insert(Consent, consents)
    ctx.added["consents"] += len(consents)
    _insert(CreditFile, files)
    ctx.added["credit files"] += len(files)


def _demo_villages() -> list[Village]:
    county = db.session.scalar(sa.select(County).where(County.admin_code == org.COUNTY[0]))
    if county is None:
        return []
    return list(db.session.scalars(sa.select(Village).where(Village.county_id == county.id)
                                   .order_by(Village.stat_code)))


def planned_codes(villages: list[Village], total: int) -> list[tuple[Village, int, str]]:
    """(village, seq, code) of every household the demo should have, in village order."""
    counts = village_counts([v.stat_code for v in villages], total)
    return [(v, seq, household_code(v.stat_code, seq)) for v, n in zip(villages, counts) for seq in range(1, n + 1)]


def load_households(options=None) -> str:
    """Write the households layer's missing households (flushes; the caller commits). Returns a one-line summary."""
    total = options.households if options is not None and options.households is not None else int(
        current_app.config.get("DEMO_HOUSEHOLDS", DEFAULT_HOUSEHOLDS))
    villages = _demo_villages()
    if not villages:
        return "households: no demo county (load the org layer first)"
    wanted = planned_codes(villages, total)
    existing = set(db.session.scalars(sa.select(Household.code).where(
        Household.county_id == villages[0].county_id, Household.code.like("%-%"))))
    missing = [(v, seq, code) for v, seq, code in wanted if code not in existing]
    if not missing:
        return "households: nothing to add"

    today = clock.today()
    groups: dict[int, list[VillageGroup]] = {}
    for g in db.session.scalars(sa.select(VillageGroup).where(VillageGroup.village_id.in_([v.id for v in villages]))
                                .order_by(VillageGroup.id)):
        groups.setdefault(g.village_id, []).append(g)
    for gs in groups.values():
        gs.sort(key=lambda g: org.GROUP_NAMES.index(g.name) if g.name in org.GROUP_NAMES else 99)
    officer_by_group, officer_by_village, manager_by_village = _staff_maps([v.id for v in villages], today)
    taken = set(db.session.scalars(sa.select(Member.id_number).where(Member.id_number.is_not(None))))
    ctx = _Context(today=today, now=clock.utcnow_naive(), lpr_table=_lpr_rows(), officer_by_group=officer_by_group,
                   officer_by_village=officer_by_village, manager_by_village=manager_by_village, taken_ids=taken,
                   added=Counter())
    for start in range(0, len(missing), CHUNK):
        planned = []
        for village, seq, code in missing[start:start + CHUNK]:
            vgroups = groups.get(village.id) or [None]
            group = vgroups[(seq - 1) % len(vgroups)]
            centroid = (village.centroid_lat, village.centroid_lng) if village.centroid_lat is not None else None
            planned.append((plan_household(code, centroid, today, ctx.lpr_table), village, group))
        _write_chunk(planned, ctx)
    db.session.flush()
    added = ctx.added
    order = ("households", "members", "land holdings", "livestock", "other assets", "income items", "expense items",
             "insurances", "debts", "private loans", "over the cap", "visits", "consents", "credit files")
    return "households: added " + ", ".join(f"{added[k]} {k}" for k in order if added[k])
