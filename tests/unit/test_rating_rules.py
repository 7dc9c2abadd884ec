"""Rating rules (fieldapp/ratings/rules.py): the scoring model, facts from a snapshot, the committee's arithmetic and
the rating lifecycle. Tables of cases and properties; no app and no database."""
from __future__ import annotations

import ast
import copy
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldapp.ratings import rules
from fieldapp.ratings.rules import (
    CHECKLIST,
    DEFAULT_MODEL,
    CharacterTally,
    Facts,
    TransitionRefused,
    approval_role_needed,
    committee_vetoes,
    composition_problems,
    debt_band,
    facts_from_snapshot,
    grade_for,
    income_band,
    line_for,
    next_status,
    quorum_met,
    quorum_needed,
    score,
    tally_ballots,
    validate_model,
)

D = Decimal
ON = date(2026, 3, 15)
YEAR = 2025
M = DEFAULT_MODEL


# ---------------------------------------------------------------- snapshot builders

def yuan(amount) -> int:
    """Yuan (int or decimal string) -> fen."""
    return int(D(str(amount)) * 100)


def born(age: int, *, birthday_passed: bool = True) -> str:
    """An iso birth date giving ``age`` completed years on ON: the birthday is today, or (not passed) tomorrow."""
    day = date(ON.year - age, ON.month, ON.day) if birthday_passed else date(ON.year - age - 1, ON.month, ON.day + 1)
    return day.isoformat()


def member(age=None, capacity="full", *, birthday_passed=True, birth_date=None, name="M"):
    birth = born(age, birthday_passed=birthday_passed) if age is not None else None
    return {"name": name, "birth_date": birth_date or birth,
            "labour_capacity": capacity, "is_head": False, "party_member": False}


def income(amount_yuan, source="document", year=YEAR, cost_yuan=0):
    return {"year": year, "income_source": "crops", "gross_fen": yuan(amount_yuan), "cost_fen": yuan(cost_yuan),
            "source": source}


def debt(amount_yuan, kind="bank", status="normal", flags=(), **extra):
    row = {"kind": kind, "principal_written_fen": yuan(amount_yuan), "principal_received_fen": yuan(amount_yuan),
           "balance_fen": yuan(amount_yuan), "status": status, "flags": list(flags), "annual_rate": "0.05"}
    row.update(extra)
    return row


def asset(amount_yuan, asset_type="house"):
    return {"asset_type": asset_type, "value_fen": yuan(amount_yuan), "description": None}


def head(species, count):
    return {"species": species, "head_count": count, "breeding_count": 0}


def policy(kind="agricultural", start=None, end=None):
    return {"insurance_type": kind, "period_from": start and start.isoformat(), "period_to": end and end.isoformat()}


def snap(members=(), assets=(), livestock=(), incomes=(), debts=(), insurance=(), negative=(), tags=None):
    household = {"code": "H23", "head_name": "王小明", "declared_none": []}
    if tags is not None:
        household["tags"] = list(tags)
    return {"household": household,
            "sections": {"members": list(members), "livestock": list(livestock), "assets": list(assets),
                         "income": list(incomes), "debts": list(debts), "insurance": list(insurance),
                         "negative": [{"category": c, "evidence": "court record"} for c in negative]}}


def facts(**kw) -> Facts:
    bonuses = kw.pop("bonuses", ())
    tags = kw.pop("tags", ())
    return facts_from_snapshot(snap(**kw), on=ON, tags=tags, bonuses=bonuses)


def points(result, code) -> Decimal:
    return result.indicator(code).points


def all_yes(voters: int) -> CharacterTally:
    return CharacterTally(yes={item: voters for item in CHECKLIST}, voters=voters)


# ---------------------------------------------------------------- purity and model

def test_rules_import_no_flask_and_no_database():
    tree = ast.parse((Path(__file__).resolve().parents[2] / "fieldapp/ratings/rules.py").read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
    banned = {"flask", "flask_babel", "flask_wtf", "sqlalchemy", "..extensions", ".models", "..core.clock"}
    assert not {name for name in imported if name.split(".")[0] in banned or name in banned}, imported


def test_default_model_is_json_and_valid():
    assert json.loads(json.dumps(M)) == M
    assert validate_model(M) == []
    assert sum(spec["weight"] for spec in M["indicators"].values()) == 100


def test_labels_cover_every_code():
    assert set(rules.GRADE_LABELS) == set(rules.GRADES)
    assert set(rules.INDICATOR_LABELS) == set(rules.INDICATORS) == set(M["indicators"])
    assert set(rules.BONUS_LABELS) == set(M["bonuses"])
    assert set(rules.DEDUCTION_LABELS) == set(M["deductions"])
    assert set(rules.VETO_LABELS) == set(rules.FILE_VETOES) | set(rules.COMMITTEE_VETOES)
    assert set(rules.STATUS_LABELS) == set(rules.STATUSES)
    assert list(rules.CHECKLIST_LABELS) == list(CHECKLIST) and len(CHECKLIST) == 12
    assert rules.COMMITTEE_VETOES == ("vice", "idleness", "usurer")
    assert rules.FILE_VETOES == ("arrears", "dishonest_debtor")


# ---------------------------------------------------------------- family & labour (15)

@pytest.mark.parametrize(("members", "count"), [
    pytest.param([member(17)], 0, id="age-17"),
    pytest.param([member(18)], 1, id="age-18-birthday-today"),
    pytest.param([member(17, birthday_passed=False)], 0, id="age-17-turns-18-tomorrow"),
    pytest.param([member(60)], 1, id="age-60"),
    pytest.param([member(60, birthday_passed=False)], 1, id="age-60-turns-61-tomorrow"),
    pytest.param([member(61)], 0, id="age-61"),
    pytest.param([member(30, "partial")], 1, id="partial-counts"),
    pytest.param([member(30, "none")], 0, id="none-not-counted"),
    pytest.param([member(30, None)], 0, id="capacity-unknown"),
    pytest.param([member(None)], 0, id="no-birth-date"),
    pytest.param([member(30), member(40, "partial"), member(50)], 3, id="three"),
])
def test_labour_count(members, count):
    assert facts(members=members).labour_count == count


@pytest.mark.parametrize(("count", "expected"), [(0, 0), (1, 8), (2, 15), (3, 15)])
def test_family_band(count, expected):
    result = score(facts(members=[member(30)] * count))
    assert points(result, "family") == expected
    assert result.indicator("family").max_points == 15


# ---------------------------------------------------------------- assets (20)

@pytest.mark.parametrize(("rows", "expected"), [
    pytest.param([], 5, id="nothing"),
    pytest.param([asset("49999.99")], 5, id="49999.99"),
    pytest.param([asset(50000)], 10, id="50000"),
    pytest.param([asset("199999.99")], 10, id="199999.99"),
    pytest.param([asset(200000)], 15, id="200000"),
    pytest.param([asset("499999.99")], 15, id="499999.99"),
    pytest.param([asset(500000)], 20, id="500000"),
    pytest.param([asset(30000, "machinery"), asset(20000, "vehicle")], 10, id="machinery+vehicle"),
    pytest.param([asset(900000, "deposit"), asset(900000, "greenhouse")], 5, id="uncounted-types"),
])
def test_assets_band(rows, expected):
    assert points(score(facts(assets=rows)), "assets") == expected


@pytest.mark.parametrize(("livestock", "value_yuan"), [
    pytest.param([head("cattle", 6), head("sheep", 2)], 6 * 8000 + 2 * 800, id="cattle+sheep"),
    pytest.param([head("pig", 10), head("poultry", 100)], 10 * 1500 + 100 * 50, id="pig+poultry"),
    pytest.param([head("yak", 3), head("other", 1)], 4 * 500, id="unknown-species-is-other"),
    pytest.param([head("cattle", None)], 0, id="no-count"),
])
def test_livestock_value(livestock, value_yuan):
    f = facts(livestock=livestock, assets=[asset(10000)])
    assert f.asset_value_fen == yuan(value_yuan + 10000)
    assert sum(fen for _, _, fen in f.livestock_breakdown) == yuan(value_yuan)


def test_livestock_reaches_a_band():
    assert points(score(facts(livestock=[head("cattle", 6), head("sheep", 2)])), "assets") == 5  # 49,600
    assert points(score(facts(livestock=[head("cattle", 6), head("sheep", 3)])), "assets") == 10  # 50,400


# ---------------------------------------------------------------- income (25)

@pytest.mark.parametrize(("rows", "expected"), [
    pytest.param([], 5, id="none"),
    pytest.param([income(10000, cost_yuan=30000)], 5, id="loss"),
    pytest.param([income("19999.99")], 5, id="19999.99"),
    pytest.param([income(20000)], 12, id="20000"),
    pytest.param([income("49999.99")], 12, id="49999.99"),
    pytest.param([income(50000)], 18, id="50000"),
    pytest.param([income("99999.99")], 18, id="99999.99"),
    pytest.param([income(100000)], 25, id="100000"),
    pytest.param([income(130000, cost_yuan=30000)], 25, id="net-after-cost"),
    pytest.param([income(130000, cost_yuan="30000.01")], 18, id="net-just-below"),
    pytest.param([income(100000, "village")], 25, id="village-confirmed-in-full"),
    pytest.param([income(100000, "declared")], 18, id="declared-at-70pct"),
    pytest.param([income("28571.43", "declared")], 12, id="declared-70pct-reaches-20000"),
    pytest.param([income("28571.42", "declared")], 5, id="declared-70pct-just-below"),
    pytest.param([income(200000, year=YEAR - 1), income(30000)], 12, id="latest-year-only"),
])
def test_income_band(rows, expected):
    assert points(score(facts(incomes=rows)), "income") == expected


def test_income_facts():
    f = facts(incomes=[income(60000, cost_yuan=10000), income(40000, "declared"), income(999999, year=2020)])
    assert (f.income_year, f.verified_income_fen, f.declared_income_fen) == (YEAR, yuan(50000), yuan(40000))
    assert f.net_income_fen == yuan(50000) + yuan(40000) * 7 // 10


# ---------------------------------------------------------------- liabilities (15)

@pytest.mark.parametrize(("debts", "income_yuan", "expected"), [
    pytest.param([], 100000, 15, id="no-debt"),
    pytest.param([], 0, 15, id="no-debt-no-income"),
    pytest.param([debt("0.01")], 100000, 12, id="one-fen"),
    pytest.param([debt(50000)], 100000, 12, id="ratio-0.5"),
    pytest.param([debt("50000.01")], 100000, 8, id="ratio-above-0.5"),
    pytest.param([debt(100000)], 100000, 8, id="ratio-1"),
    pytest.param([debt("100000.01")], 100000, 4, id="ratio-above-1"),
    pytest.param([debt(200000)], 100000, 4, id="ratio-2"),
    pytest.param([debt("200000.01")], 100000, 0, id="ratio-above-2"),
    pytest.param([debt(1000)], 0, 0, id="debt-no-income"),
    pytest.param([debt(900000, "guarantee")], 100000, 15, id="guarantee-is-contingent"),
    pytest.param([debt(900000, status="settled")], 100000, 15, id="settled"),
    pytest.param([debt(30000, "private"), debt(30000, "mutual")], 100000, 8, id="kinds-add-up"),
    pytest.param([debt(60000, "credit_sale")], 100000, 8, id="credit-sale-counts"),
])
def test_liabilities_band(debts, income_yuan, expected):
    rows = [income(income_yuan)] if income_yuan else []
    assert points(score(facts(debts=debts, incomes=rows)), "liabilities") == expected


@pytest.mark.parametrize(("balance", "received", "written", "outstanding"), [
    pytest.param(yuan(100), yuan(500), yuan(900), yuan(100), id="balance"),
    pytest.param(None, yuan(500), yuan(900), yuan(500), id="received"),
    pytest.param(None, None, yuan(900), yuan(900), id="written"),
    pytest.param(0, yuan(500), yuan(900), 0, id="balance-zero"),
])
def test_outstanding_falls_back_to_principal(balance, received, written, outstanding):
    row = {"kind": "private", "balance_fen": balance, "principal_received_fen": received,
           "principal_written_fen": written, "status": "normal", "flags": []}
    assert facts(debts=[row]).debt_fen == outstanding


# ---------------------------------------------------------------- credit history (15)

@pytest.mark.parametrize(("debts", "expected", "overdue"), [
    pytest.param([], 10, 0, id="never-borrowed"),
    pytest.param([debt(5000, "guarantee")], 10, 0, id="guarantee-is-not-borrowing"),
    pytest.param([debt(5000, "credit_sale")], 10, 0, id="credit-sale-is-not-borrowing"),
    pytest.param([debt(5000, status="settled")], 15, 0, id="settled-bank-loan"),
    pytest.param([debt(5000, "private")], 15, 0, id="private"),
    pytest.param([debt(5000, "mutual")], 15, 0, id="mutual"),
    pytest.param([debt(5000, status="overdue")], 15, 1, id="overdue-still-clean-deducted"),
])
def test_history(debts, expected, overdue):
    result = score(facts(debts=debts, incomes=[income(100000)]))
    assert points(result, "history") == expected
    assert dict(result.deduction_items).get("overdue_episode", 0) == 5 * overdue


# ---------------------------------------------------------------- character (10)

@pytest.mark.parametrize(("yes", "voters", "expected"), [
    pytest.param(72, 6, D("10.0"), id="all-yes"),
    pytest.param(36, 6, D("5.0"), id="half"),
    pytest.param(0, 6, D("0.0"), id="none"),
    pytest.param(1, 1, D("0.8"), id="1-of-12"),
    pytest.param(3, 2, D("1.3"), id="1.25-half-up"),
    pytest.param(3, 4, D("0.6"), id="0.625"),
    pytest.param(71, 6, D("9.9"), id="71-of-72"),
])
def test_character_points(yes, voters, expected):
    counts = {item: 0 for item in CHECKLIST}
    for i in range(yes):
        counts[CHECKLIST[i % 12]] += 1
    tally = CharacterTally(yes=counts, voters=voters)
    result = score(Facts(), character=tally)
    assert points(result, "character") == expected
    assert not result.indicator("character").pending and not result.pending


@pytest.mark.parametrize("tally", [None, CharacterTally(yes={}, voters=0)], ids=["before-meeting", "no-voters"])
def test_character_pending(tally):
    result = score(Facts(), character=tally)
    assert points(result, "character") == 0
    assert result.indicator("character").pending and result.pending


def test_tally_ballots():
    ballots = [{item: "yes" for item in CHECKLIST}, {"law_abiding": "no", "no_vice": "abstain"}, {"no_vice": "yes"}]
    tally = tally_ballots(ballots)
    assert tally.voters == 3 and tally.denominator == 36
    assert tally.yes["law_abiding"] == 1 and tally.yes["no_vice"] == 2 and tally.total_yes == 13
    assert tally.points() == D("3.6")  # 10 x 13 / 36 = 3.61
    assert tally_ballots([]).pending


@pytest.mark.parametrize("bad", [
    pytest.param(lambda: tally_ballots([{"bogus": "yes"}]), id="unknown-item"),
    pytest.param(lambda: tally_ballots([{"no_vice": "maybe"}]), id="unknown-vote"),
    pytest.param(lambda: CharacterTally(yes={"no_vice": 3}, voters=2), id="more-yes-than-voters"),
    pytest.param(lambda: committee_vetoes({"arrears": 5}, 6), id="file-veto-is-not-a-committee-vote"),
    pytest.param(lambda: committee_vetoes({"vice": 7}, 6), id="more-votes-than-voters"),
    pytest.param(lambda: score(Facts(), committee_vetoes=("arrears",)), id="score-rejects-file-code"),
])
def test_bad_meeting_input_raises(bad):
    with pytest.raises(ValueError):
        bad()


# ---------------------------------------------------------------- bonuses (RT-3)

@pytest.mark.parametrize(("bonuses", "insurance", "items", "total"), [
    pytest.param((), [], (), 0, id="none"),
    pytest.param(("party_helper",), [], (("party_helper", 3),), 3, id="party-helper"),
    pytest.param(("party_helper", "party_helper"), [], (("party_helper", 3),), 3, id="party-helper-once"),
    pytest.param(("award",), [], (("award", 2),), 2, id="award"),
    pytest.param(("award", "award", "award"), [], (("award", 6),), 6, id="three-awards"),
    pytest.param(("red_credit_demo",), [], (("red_credit_demo", 5),), 5, id="red-credit"),
    pytest.param((), [policy()], (("insured", 2),), 2, id="insured-from-file"),
    pytest.param(("insured",), [policy(), policy("accident")], (("insured", 2),), 2, id="insured-once"),
    pytest.param(("insured",), [], (), 0, id="insured-needs-a-policy"),
    pytest.param(("party_helper", "red_credit_demo"), [policy()],
                 (("party_helper", 3), ("red_credit_demo", 5), ("insured", 2)), 10, id="exactly-cap"),
    pytest.param(("party_helper", "award", "award", "red_credit_demo"), [policy()],
                 (("party_helper", 3), ("award", 4), ("red_credit_demo", 5), ("insured", 2)), 10, id="capped-14"),
    pytest.param(("bogus",), [], (), 0, id="unknown-code-ignored"),
])
def test_bonuses(bonuses, insurance, items, total):
    result = score(facts(bonuses=bonuses, insurance=insurance))
    assert result.bonus_items == items
    assert result.bonus == total == min(sum(p for _, p in items), M["bonus_cap"])


@pytest.mark.parametrize(("row", "current"), [
    pytest.param(policy(), True, id="open-ended"),
    pytest.param(policy(start=ON - timedelta(days=365), end=ON), True, id="ends-today"),
    pytest.param(policy(end=ON - timedelta(days=1)), False, id="ended-yesterday"),
    pytest.param(policy(start=ON), True, id="starts-today"),
    pytest.param(policy(start=ON + timedelta(days=1)), False, id="starts-tomorrow"),
    pytest.param(policy("accident"), True, id="accident"),
    pytest.param(policy("loan_guarantee"), False, id="loan-guarantee-insurance"),
])
def test_insurance_current(row, current):
    assert facts(insurance=[row]).insured is current


# ---------------------------------------------------------------- deductions (RT-4)

@pytest.mark.parametrize(("kw", "items"), [
    pytest.param(dict(debts=[debt(1000)], incomes=[income(100000)]), (), id="none"),
    pytest.param(dict(debts=[debt(1000, status="overdue")], incomes=[income(100000)]),
                 (("overdue_episode", 5),), id="one-overdue"),
    pytest.param(dict(debts=[debt(1000, status="overdue"), debt(1000, "private", status="overdue")],
                      incomes=[income(100000)]), (("overdue_episode", 10),), id="two-overdue"),
    pytest.param(dict(debts=[debt(1000, "private", flags=["over_cap"])], incomes=[income(100000)]),
                 (("over_cap_private_loan", 10),), id="over-cap"),
    pytest.param(dict(debts=[debt(1000, "private", flags=["over_cap"]), debt(1000, "private", flags=["over_cap"])],
                      incomes=[income(100000)]), (("over_cap_private_loan", 10),), id="over-cap-once"),
    pytest.param(dict(debts=[debt(1000, "private", status="settled", flags=["over_cap"])], incomes=[income(100000)]),
                 (), id="over-cap-settled"),
    pytest.param(dict(debts=[debt(100000)], incomes=[income(100000)]), (), id="debt-equals-income"),
    pytest.param(dict(debts=[debt("100000.01")], incomes=[income(100000)]),
                 (("debt_over_income", 10),), id="debt-over-income"),
    pytest.param(dict(debts=[debt(1)], incomes=[]), (("debt_over_income", 10),), id="debt-no-income"),
    pytest.param(dict(incomes=[income(50000), income(50000, "declared")]), (), id="declared-half"),
    pytest.param(dict(incomes=[income(50000), income("50000.01", "declared")]),
                 (("unverified_income", 5),), id="declared-over-half"),
    pytest.param(dict(incomes=[income(10000, "declared")]), (("unverified_income", 5),), id="all-declared"),
    pytest.param(dict(incomes=[income(1000, "declared", cost_yuan=2000)]), (), id="declared-loss"),
    pytest.param(dict(debts=[debt(300000, "private", status="overdue", flags=["over_cap"])],
                      incomes=[income(100000, "declared")]),
                 (("overdue_episode", 5), ("over_cap_private_loan", 10), ("debt_over_income", 10),
                  ("unverified_income", 5)), id="all-four"),
])
def test_deductions(kw, items):
    result = score(facts(**kw))
    assert result.deduction_items == items
    assert result.deduction == sum(p for _, p in items)


def test_final_is_clamped_at_zero():
    f = facts(debts=[debt(1, status="overdue")] * 30)
    result = score(f)
    assert result.base + result.bonus - result.deduction < 0
    assert result.final_score == 0 and result.grade == "not_rated"


def test_final_is_capped_at_100():
    f = facts(members=[member(30)] * 2, assets=[asset(500000)], incomes=[income(200000)], debts=[debt(0)],
              bonuses=("party_helper", "red_credit_demo"), insurance=[policy()])
    result = score(f, character=all_yes(6))
    assert result.base == 100 and result.bonus == 10 and result.final_score == 100
    assert result.grade == "excellent" and result.rate_tier == "preferential"


# ---------------------------------------------------------------- vetoes (RT-5)

@pytest.mark.parametrize(("negative", "votes", "voters", "vetoes"), [
    pytest.param((), {}, 6, (), id="none"),
    pytest.param(("arrears",), {}, 6, ("arrears",), id="file-arrears"),
    pytest.param(("dishonest_debtor",), {}, 6, ("dishonest_debtor",), id="file-dishonest"),
    pytest.param(("vice",), {}, 6, (), id="file-vice-only-flags"),
    pytest.param(("idleness",), {"idleness": 3}, 6, (), id="3-of-6-not-majority"),
    pytest.param(("idleness",), {"idleness": 4}, 6, ("idleness",), id="4-of-6-majority"),
    pytest.param((), {"vice": 3}, 5, ("vice",), id="3-of-5"),
    pytest.param((), {"usurer": 2}, 5, (), id="2-of-5"),
    pytest.param((), {"usurer": 1}, 1, ("usurer",), id="1-of-1"),
    pytest.param(("arrears",), {"vice": 6, "usurer": 6}, 6, ("arrears", "vice", "usurer"), id="several"),
])
def test_vetoes(negative, votes, voters, vetoes):
    f = facts(negative=negative, members=[member(30)] * 2, assets=[asset(500000)], incomes=[income(200000)],
              debts=[debt(1000)])
    result = score(f, character=all_yes(voters), committee_vetoes=committee_vetoes(votes, voters))
    assert result.vetoes == vetoes
    if vetoes:
        assert result.grade == "not_rated" and result.suggested_line_fen == 0 and result.vetoed
        assert result.final_score >= 90  # the score is kept; the veto decides
    else:
        assert result.grade == "excellent" and result.suggested_line_fen == yuan(200000)
    assert f.committee_flags == tuple(c for c in ("vice", "idleness") if c in negative)


# ---------------------------------------------------------------- grades (RT-6), line (RT-7), tier, authority

@pytest.mark.parametrize(("value", "grade"), [
    ("0", "not_rated"), ("59.9", "not_rated"), ("60", "fair"), ("79.9", "fair"), ("80", "good"), ("89.9", "good"),
    ("90", "excellent"), ("100", "excellent"),
])
def test_grade_edges(value, grade):
    assert grade_for(D(value)) == grade
    assert grade_for(D(value), vetoed=True) == "not_rated"


def test_grade_edge_through_score():
    # 15 + 20 + 25 + 12 (small debt) + 15 + 9.9 (71 of 72 yes) = 96.9; + 3 party helper - 10 over cap = 89.9: good
    counts = {item: 6 for item in CHECKLIST}
    counts["no_vice"] = 5
    f = facts(members=[member(30)] * 2, assets=[asset(500000)], incomes=[income(200000)],
              debts=[debt(1000, "private", flags=["over_cap"])], bonuses=("party_helper",))
    result = score(f, character=CharacterTally(yes=counts, voters=6))
    assert result.final_score == D("89.9") and result.grade == "good"


@pytest.mark.parametrize(("grade", "income_yuan", "debt_yuan", "product", "line_yuan"), [
    pytest.param("good", 200000, 0, "standard", 100000, id="grade-cap-binds"),
    pytest.param("excellent", 200000, 0, "standard", 200000, id="excellent-cap"),
    pytest.param("excellent", 200000, 0, "poverty", 50000, id="product-cap-binds"),
    pytest.param("good", 40000, 30000, "standard", 50000, id="income-formula-binds"),
    pytest.param("good", "20000.50", "12345.67", "standard", 27000, id="floored-to-1000"),
    pytest.param("fair", 10000, 30000, "standard", 0, id="negative-is-zero"),
    pytest.param("fair", 0, 0, "standard", 0, id="no-income"),
    pytest.param("not_rated", 200000, 0, "standard", 0, id="not-rated"),
])
def test_line(grade, income_yuan, debt_yuan, product, line_yuan):
    line, parts = line_for(grade, yuan(income_yuan), yuan(debt_yuan), product)
    assert line == yuan(line_yuan)
    assert parts.product == product
    assert parts.income_formula_fen == M["income_multiple"] * yuan(income_yuan) - yuan(debt_yuan)
    assert parts.product_cap_fen == yuan(M["product_caps"][product])
    assert parts.grade_cap_fen == (yuan(M["grade_caps"][grade]) if grade != "not_rated" else 0)


@pytest.mark.parametrize(("tags", "product"), [
    ((), "standard"), (("party",), "standard"), (("poverty_registered",), "poverty"),
    (("poverty_monitored", "party"), "poverty"), (("lifted_poor",), "poverty"),
])
def test_product_from_tags(tags, product):
    f = facts(tags=tags, members=[member(30)] * 2, assets=[asset(500000)], incomes=[income(200000)], debts=[debt(1)])
    result = score(f, character=all_yes(5))
    assert result.line_parts.product == product
    assert result.suggested_line_fen == yuan(M["product_caps"][product])


def test_tags_from_the_snapshot_are_merged():
    f = facts_from_snapshot(snap(tags=["poverty_monitored"]), on=ON, tags=["party"])
    assert f.tags == ("party", "poverty_monitored")


@pytest.mark.parametrize(("grade", "tier"), [
    ("excellent", "preferential"), ("good", "standard"), ("fair", "standard"), ("not_rated", "standard")])
def test_rate_tier(grade, tier):
    assert rules.rate_tier_for(grade) == tier


@pytest.mark.parametrize(("line_fen", "role"), [
    (0, "branch_manager"), (yuan(200000), "branch_manager"), (yuan(200000) + 1, "hq_admin")])
def test_approval_authority(line_fen, role):
    assert approval_role_needed(line_fen) == role


@pytest.mark.parametrize(("start", "end"), [
    (date(2026, 3, 15), date(2027, 3, 15)), (date(2024, 2, 29), date(2025, 2, 28)),
    (date(2025, 12, 31), date(2026, 12, 31))])
def test_valid_to(start, end):
    assert rules.valid_to(start) == end
    assert rules.valid_to(start, {"validity_months": 1}) == rules.valid_until(start, {"validity_months": 1})


# ---------------------------------------------------------------- meeting: quorum, composition, bands

@pytest.mark.parametrize(("members", "needed"), [(7, 5), (6, 4), (5, 4), (3, 2), (1, 1), (9, 6), (0, 0)])
def test_quorum_needed(members, needed):
    assert quorum_needed(members) == needed


@pytest.mark.parametrize(("members", "present", "met"), [
    (7, 6, True), (7, 5, True), (7, 4, False), (5, 4, True), (5, 3, False), (6, 4, True), (0, 0, False),
    (5, 6, False)])
def test_quorum_met(members, present, met):
    assert quorum_met(members, present) is met


SC01_COMMITTEE = [("committee", True), ("committee", False), ("party_centre", True), ("party_centre", True),
                  ("elder", True), ("elder", False), ("stationed", True)]


@pytest.mark.parametrize(("members", "problems"), [
    pytest.param(SC01_COMMITTEE, [], id="sc01-committee-of-7"),
    pytest.param([("committee", False), ("party_centre", False), ("representative", False)] * 2, [], id="six"),
    pytest.param(SC01_COMMITTEE[:4], ["too_few", "no_representative"], id="four"),
    pytest.param([("party_centre", False), ("representative", False)] * 3, ["no_committee"], id="no-committee"),
    pytest.param([("committee", False), ("representative", False), ("elder", False)] * 2, ["no_party_member"],
                 id="no-party-member"),
    pytest.param([("committee", True), ("representative", False), ("elder", False)] * 2, [],
                 id="party-flag-counts"),
    pytest.param([("committee", True), ("stationed", False)] * 3, ["no_representative"], id="no-representative"),
    pytest.param([], ["too_few", "no_committee", "no_party_member", "no_representative"], id="empty"),
])
def test_composition(members, problems):
    assert composition_problems(members) == problems
    assert all(code in rules.COMPOSITION_MESSAGES for code in problems)


def test_composition_rejects_unknown_role():
    with pytest.raises(ValueError):
        composition_problems([("grid_manager", False)])


@pytest.mark.parametrize(("fen", "band"), [
    (-100, "under_20k"), (0, "under_20k"), (yuan("19999.99"), "under_20k"), (yuan(20000), "20k_50k"),
    (yuan("49999.99"), "20k_50k"), (yuan(50000), "50k_100k"), (yuan("99999.99"), "50k_100k"),
    (yuan(100000), "100k_up")])
def test_income_band_label(fen, band):
    assert income_band(fen) == band and band in rules.INCOME_BAND_LABELS


@pytest.mark.parametrize(("fen", "band"), [
    (0, "none"), (1, "under_50k"), (yuan("49999.99"), "under_50k"), (yuan(50000), "50k_200k"),
    (yuan("199999.99"), "50k_200k"), (yuan(200000), "200k_up")])
def test_debt_band_label(fen, band):
    assert debt_band(fen) == band and band in rules.DEBT_BAND_LABELS


# ---------------------------------------------------------------- lifecycle

@pytest.mark.parametrize(("current", "event", "after"), [
    ("proposed", "review", "reviewed"), ("reviewed", "approve", "approved"), ("approved", "notice", "on_notice"),
    ("approved", "return_for_review", "reviewed"), ("on_notice", "object_upheld", "re_notice"),
    ("on_notice", "finalise", "final"), ("re_notice", "finalise", "final"), ("on_notice", "withdraw", "withdrawn"),
    ("final", "expire", "expired"),
    *[(s, "veto", "not_rated") for s in ("proposed", "reviewed", "approved", "on_notice", "re_notice", "final")],
    *[(s, "supersede", "superseded")
      for s in ("proposed", "reviewed", "approved", "on_notice", "re_notice", "final", "not_rated")],
])
def test_transitions(current, event, after):
    assert next_status(current, event) == after
    assert event in rules.allowed_events(current)


@pytest.mark.parametrize(("current", "event"), [
    ("proposed", "approve"), ("proposed", "notice"), ("reviewed", "notice"), ("approved", "finalise"),
    ("re_notice", "object_upheld"), ("re_notice", "withdraw"), ("final", "finalise"), ("expired", "veto"),
    ("withdrawn", "supersede"), ("superseded", "supersede"), ("not_rated", "veto"), ("on_notice", "expire"),
    ("final", "bogus")])
def test_refused_transitions(current, event):
    with pytest.raises(TransitionRefused) as info:
        next_status(current, event)
    assert (info.value.current, info.value.event) == (current, event)
    assert isinstance(info.value, ValueError)


def test_every_status_and_event_is_known():
    for (current, event), after in rules.TRANSITIONS.items():
        assert current in rules.STATUSES and after in rules.STATUSES and event in rules.EVENTS


# ---------------------------------------------------------------- SC-01 H23 replayed from facts

H23_VOTERS = 6  # 6 of 7 present; the recusal (M3) is for H17, not H23


def h23(extra_debts=()):
    return facts(
        members=[member(46, name="王小明"), member(61, name="父亲"), member(12, "none", name="儿子")],
        assets=[asset(150000)], livestock=[head("cattle", 10)],
        incomes=[income(200000, cost_yuan=50000)],
        debts=[debt(80000), *extra_debts],
        bonuses=("party_helper",),
    )


def liabilities_points(debt_fen: int, income_fen: int) -> Decimal:
    """The liabilities band looked up from the model by the test (not by the module)."""
    spec = M["indicators"]["liabilities"]
    for ratio, band_points in spec["bands"]:
        if debt_fen <= D(ratio) * income_fen:
            return D(band_points)
    return D(spec["else"])


def test_sc01_h23_objection_upheld():
    before_facts = h23()
    before = score(before_facts, character=all_yes(H23_VOTERS))
    hidden = debt(60000, "private", flags=["over_cap"], annual_rate="0.240000", rate_value="2", rate_unit="fen_month")
    after_facts = h23([hidden])
    after = score(after_facts, character=all_yes(H23_VOTERS))

    # the drop computed from the model's numbers
    income_fen = after_facts.net_income_fen
    band_change = (liabilities_points(before_facts.debt_fen, income_fen)
                   - liabilities_points(after_facts.debt_fen, income_fen))
    over_income = M["deductions"]["debt_over_income"] if after_facts.debt_fen > income_fen else 0
    expected_drop = M["deductions"]["over_cap_private_loan"] + band_change + over_income
    assert before.final_score - after.final_score == expected_drop
    assert after.grade == grade_for(before.final_score - expected_drop)
    expected_line = min(yuan(M["grade_caps"][after.grade]), yuan(M["product_caps"]["standard"]),
                        M["income_multiple"] * income_fen - after_facts.debt_fen)
    expected_line -= expected_line % yuan(M["line_step"])
    assert after.suggested_line_fen == expected_line

    # the scenario as the domain tells it
    assert before.final_score == 84 and rules.GRADE_LABELS[before.grade] == "Good"
    assert before.suggested_line_fen == yuan(100000)
    assert after.final_score == 74 and rules.GRADE_LABELS[after.grade] == "Fair"
    assert after.suggested_line_fen == yuan(50000)
    assert after.deduction_items == (("over_cap_private_loan", 10),)
    assert before.bonus_items == (("party_helper", 3),) and not before.pending
    assert approval_role_needed(before.suggested_line_fen) == "branch_manager"


def test_result_as_dict_is_json():
    result = score(h23(), character=all_yes(H23_VOTERS))
    data = json.loads(json.dumps(result.as_dict()))
    assert data["final_score"] == "84.0" and data["grade"] == "good"
    assert [item["code"] for item in data["indicators"]] == list(rules.INDICATORS)
    assert data["line_parts"]["grade_cap_fen"] == yuan(100000)
    assert json.loads(json.dumps(h23().as_dict()))["labour_count"] == 1


# ---------------------------------------------------------------- properties

money = st.integers(min_value=0, max_value=yuan(400000))
debt_rows = st.lists(st.builds(
    lambda kind, fen, status, over: {"kind": kind, "balance_fen": fen, "principal_written_fen": fen,
                                     "status": status, "flags": ["over_cap"] if over else []},
    st.sampled_from(["bank", "private", "mutual", "credit_sale", "guarantee", "institution"]), money,
    st.sampled_from(["normal", "overdue", "dispute", "settled"]), st.booleans()), max_size=4)


@st.composite
def households(draw):
    verified = draw(st.integers(min_value=-yuan(20000), max_value=yuan(300000)))
    declared = draw(st.integers(min_value=0, max_value=yuan(200000)))
    incomes = [{"year": YEAR, "gross_fen": max(verified, 0), "cost_fen": max(-verified, 0), "source": "document"},
               {"year": YEAR, "gross_fen": declared, "cost_fen": 0, "source": "declared"}]
    return {
        "members": [member(draw(st.integers(min_value=10, max_value=80)),
                           draw(st.sampled_from(["full", "partial", "none"]))) for _ in range(draw(st.integers(0, 4)))],
        "assets": [{"asset_type": "house", "value_fen": draw(money)}],
        "incomes": incomes,
        "debts": draw(debt_rows),
        "insurance": [policy()] if draw(st.booleans()) else [],
        "bonuses": tuple(draw(st.lists(st.sampled_from(list(M["bonuses"])), max_size=5))),
        "tags": tuple(draw(st.lists(st.sampled_from(["poverty_registered", "party"]), max_size=2))),
    }


voters_st = st.integers(min_value=0, max_value=9)


def tally_for(voters: int, share: int) -> CharacterTally:
    return CharacterTally(yes={item: min(voters, share) for item in CHECKLIST}, voters=voters)


@settings(max_examples=150, deadline=None)
@given(households(), st.integers(min_value=1, max_value=yuan(200000)), voters_st, st.integers(0, 9))
def test_more_verified_income_never_lowers_score_or_line(kw, extra, voters, share):
    tally = tally_for(voters, share)
    before = score(facts(**copy.deepcopy(kw)), character=tally)
    kw["incomes"].append(income(D(extra) / 100))
    after = score(facts(**kw), character=tally)
    assert after.final_score >= before.final_score
    assert after.suggested_line_fen >= before.suggested_line_fen


@settings(max_examples=150, deadline=None)
@given(households(), st.integers(min_value=1, max_value=yuan(200000)), st.data(), voters_st, st.integers(0, 9))
def test_larger_balance_never_raises_score_or_line(kw, extra, data, voters, share):
    if not kw["debts"]:
        kw["debts"] = [debt(1000)]
    tally = tally_for(voters, share)
    before = score(facts(**copy.deepcopy(kw)), character=tally)
    row = kw["debts"][data.draw(st.integers(0, len(kw["debts"]) - 1))]
    row["balance_fen"] += extra
    after = score(facts(**kw), character=tally)
    assert after.final_score <= before.final_score
    assert after.suggested_line_fen <= before.suggested_line_fen


@settings(max_examples=150, deadline=None)
@given(households(), st.sampled_from(rules.FILE_VETOES + rules.COMMITTEE_VETOES), voters_st, st.integers(0, 9))
def test_any_veto_means_not_rated_and_no_line(kw, code, voters, share):
    if code in rules.FILE_VETOES:
        result = score(facts(negative=[code], **kw), character=tally_for(voters, share))
    else:
        result = score(facts(**kw), character=tally_for(voters, share), committee_vetoes=(code,))
    assert result.vetoes and result.grade == "not_rated" and result.suggested_line_fen == 0


@settings(max_examples=200, deadline=None)
@given(households(), voters_st, st.integers(0, 9))
def test_line_and_score_bounds(kw, voters, share):
    f = facts(**kw)
    result = score(f, character=tally_for(voters, share))
    assert 0 <= result.final_score <= 100
    assert result.final_score == result.final_score.quantize(D("0.1"))
    line = result.suggested_line_fen
    assert 0 <= line <= max(0, M["income_multiple"] * f.net_income_fen - f.debt_fen)
    assert line <= result.line_parts.grade_cap_fen and line <= result.line_parts.product_cap_fen
    assert line % yuan(M["line_step"]) == 0
    assert result.grade == grade_for(result.final_score, vetoed=bool(result.vetoes))
    assert result.bonus <= M["bonus_cap"]
    assert result.base == sum(item.points for item in result.indicators)
    for item in result.indicators:
        assert 0 <= item.points <= item.max_points


# ---------------------------------------------------------------- validate_model

def broken(path, value):
    model = copy.deepcopy(M)
    target = model
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return model


@pytest.mark.parametrize(("model", "fragment"), [
    pytest.param(broken(("indicators", "character", "weight"), 11), "add up to 100", id="weights"),
    pytest.param(broken(("indicators", "income", "bands"), [[0, 5], [20000, 12], [50000, 18], [100000, 26]]),
                 "more than its weight", id="points-above-weight"),
    pytest.param(broken(("indicators", "history", "clean"), 16), "more than its weight", id="history-above-weight"),
    pytest.param(broken(("indicators", "assets", "bands"), [[0, 5], [50000, 10], [50000, 15], [500000, 20]]),
                 "strictly ascending", id="thresholds-equal"),
    pytest.param(broken(("indicators", "liabilities", "bands"), [["0", 15], ["1", 12], ["0.5", 8], ["2", 4]]),
                 "strictly ascending", id="ratios-unordered"),
    pytest.param(broken(("indicators", "family", "bands"), [[0, 0], [1, 15], [2, 8]]), "must not go down",
                 id="family-points-down"),
    pytest.param(broken(("indicators", "liabilities", "bands"), [["0", 12], ["0.5", 15], ["1", 8], ["2", 4]]),
                 "must not go up", id="liabilities-points-up"),
    pytest.param(broken(("indicators", "liabilities", "else"), 5), "must not go up", id="liabilities-else-up"),
    pytest.param(broken(("grades",), [["excellent", 90], ["good", 90], ["fair", 60]]), "strictly descending",
                 id="grades-equal"),
    pytest.param(broken(("grades",), [["excellent", 101], ["good", 80], ["fair", 60]]), "between 0 and 100",
                 id="grade-above-100"),
    pytest.param(broken(("grades",), [["excellent", 90], ["good", 80], ["fair", -1]]), "between 0 and 100",
                 id="grade-below-0"),
    pytest.param(broken(("grade_caps", "good"), 0), "grade_caps.good must be more than 0", id="grade-cap-zero"),
    pytest.param(broken(("product_caps", "poverty"), -1), "product_caps.poverty must be more than 0",
                 id="product-cap-negative"),
    pytest.param(broken(("line_step",), 0), "line_step must be more than 0", id="line-step"),
    pytest.param(broken(("declared_income_factor",), "1.2"), "between 0 and 1", id="factor-above-1"),
    pytest.param(broken(("unverified_share",), "-0.1"), "between 0 and 1", id="share-negative"),
    pytest.param(broken(("grade_caps",), KeyError), "missing grade_caps", id="missing-key"),
    pytest.param(broken(("indicators", "assets"), KeyError), "missing indicators.assets.weight",
                 id="missing-indicator"),
    pytest.param(broken(("indicators", "income", "bands"), KeyError), "missing indicators.income.bands",
                 id="missing-bands"),
    pytest.param(broken(("grade_caps", "fair"), KeyError), "missing grade_caps.fair", id="missing-grade-cap"),
    pytest.param(broken(("bonus_cap",), "ten"), "bonus_cap must be a number", id="not-a-number"),
    pytest.param(broken(("deductions", "over_cap_private_loan"), -10), "must not be negative",
                 id="negative-deduction"),
])
def test_validate_model_reports(model, fragment):
    problems = validate_model(model)
    assert any(fragment in message for message in problems), problems


def test_validate_model_survives_junk():
    assert validate_model({})
    assert validate_model({"indicators": "nope"})
    assert validate_model(None)
