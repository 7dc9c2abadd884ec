"""Household credit-file rules (fieldapp/households/rules.py): tables of cases, no app and no database."""
from __future__ import annotations

import ast
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldapp.households import rules
from fieldapp.households.rules import (
    LawfulCap,
    LprMissing,
    annualise,
    assess_debt,
    blocks_rating,
    completeness,
    debt_flags,
    effective_principal,
    lawful_cap,
    lawful_cap_detail,
    lpr_on,
    lpr_row_on,
    section_state,
    submission_problems,
)

D = Decimal
TODAY = date(2026, 3, 15)

# One-year LPR (percent) from the public record (domain §4.5), built here rather than taken from the module, so the
# tests also check DEFAULT_LPR_TABLE against it.
LPR = [
    (date(2019, 8, 20), D("4.25")),
    (date(2019, 9, 20), D("4.20")),
    (date(2019, 11, 20), D("4.15")),
    (date(2020, 2, 20), D("4.05")),
    (date(2020, 4, 20), D("3.85")),
    (date(2021, 12, 20), D("3.80")),
    (date(2022, 1, 20), D("3.70")),
    (date(2022, 8, 22), D("3.65")),
    (date(2023, 6, 20), D("3.55")),
    (date(2023, 8, 21), D("3.45")),
    (date(2024, 2, 20), D("3.45")),
    (date(2024, 7, 22), D("3.35")),
    (date(2024, 10, 21), D("3.10")),
    (date(2025, 5, 20), D("3.00")),
]


# ---------------------------------------------------------------- purity

@pytest.mark.parametrize("module", [
    pytest.param("fieldapp/households/rules.py", id="households"),
    pytest.param("fieldapp/visits/rules.py", id="visits"),
])
def test_rules_import_no_flask_and_no_database(module):
    tree = ast.parse((Path(__file__).resolve().parents[2] / module).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
    banned = {"flask", "flask_babel", "flask_wtf", "sqlalchemy", "..extensions", ".models", "..core.clock"}
    assert not {name for name in imported if name.split(".")[0] in banned or name in banned}, imported


def test_constants_mirror_the_models():
    from fieldapp.households import models
    from fieldapp.visits import models as visit_models
    from fieldapp.visits import rules as visit_rules

    assert rules.SECTION_ORDER == models.SECTIONS
    assert rules.NONE_ALLOWED == frozenset(models.NONE_ALLOWED)
    assert rules.FILE_STATUSES == models.FILE_STATUSES
    assert visit_rules.OUTCOMES == visit_models.OUTCOMES
    assert set(rules.REQUIRED_CONSENTS) <= set(visit_models.CONSENT_KINDS)


# ---------------------------------------------------------------- search keys (kept from before)

@pytest.mark.parametrize(("name", "keys"), [
    pytest.param("张三", ("zhangsan", "zs"), id="zhangsan"),
    pytest.param("单田芳", ("shantianfang", "stf"), id="surname-shan"),
    pytest.param("曾国强", ("zengguoqiang", "zgq"), id="surname-zeng"),
    pytest.param("解晓东", ("xiexiaodong", "xxd"), id="surname-xie"),
    pytest.param("买买提·艾力", ("maimaitiaili", "mmtal"), id="middle-dot"),
    pytest.param("", ("", ""), id="empty"),
])
def test_search_keys(name, keys):
    assert rules.search_keys(name) == keys


# ---------------------------------------------------------------- annualise

@pytest.mark.parametrize(("value", "unit", "expected"), [
    pytest.param(D("2"), "fen_month", D("0.240000"), id="yuexi-2-fen"),
    pytest.param(D("3"), "fen_month", D("0.360000"), id="yuexi-3-fen"),
    pytest.param(D("9.3"), "permille_month", D("0.111600"), id="yuexi-9.3-permille"),
    pytest.param(D("8"), "li_month", D("0.096000"), id="yuexi-8-li"),
    pytest.param(D("9.3"), "li_month", D("0.111600"), id="li-equals-permille"),
    pytest.param(D("2"), "pct_month", D("0.240000"), id="pct-month"),
    pytest.param(D("14.6"), "pct_year", D("0.146000"), id="pct-year"),
    pytest.param(D("4.35"), "pct_year", D("0.043500"), id="benchmark"),
    pytest.param(D("0"), "pct_year", D("0.000000"), id="zero"),
    pytest.param(2, "fen_month", D("0.240000"), id="int-value"),
    pytest.param("1.5", "fen_month", D("0.180000"), id="str-value"),
    pytest.param(D("0.0000004"), "pct_year", D("0.000000"), id="rounds-down-below-half"),
    pytest.param(D("0.00005"), "pct_year", D("0.000001"), id="rounds-half-up"),
    pytest.param(D("1.23456789"), "pct_month", D("0.148148"), id="six-places"),
])
def test_annualise(value, unit, expected):
    result = annualise(value, unit)
    assert result == expected
    assert result.as_tuple().exponent == -6


@pytest.mark.parametrize(("value", "unit", "error"), [
    pytest.param(D("2"), "fen_year", ValueError, id="unknown-unit"),
    pytest.param(D("2"), "", ValueError, id="empty-unit"),
    pytest.param(D("-1"), "pct_year", ValueError, id="negative"),
    pytest.param("abc", "pct_year", ValueError, id="junk"),
    pytest.param(D("NaN"), "pct_year", ValueError, id="nan"),
    pytest.param(D("Infinity"), "pct_year", ValueError, id="infinity"),
    pytest.param(2.0, "pct_year", TypeError, id="float"),
    pytest.param(True, "pct_year", TypeError, id="bool"),
    pytest.param(None, "pct_year", TypeError, id="none"),
])
def test_annualise_rejects(value, unit, error):
    with pytest.raises(error):
        annualise(value, unit)


def test_every_unit_has_a_label():
    assert set(rules.RATE_UNIT_LABELS) == set(rules.RATE_UNITS)
    for unit in rules.RATE_UNITS:
        assert annualise(D("1"), unit) > 0


@given(a=st.decimals(min_value=0, max_value=1000, places=4), b=st.decimals(min_value=0, max_value=1000, places=4),
       unit=st.sampled_from(rules.RATE_UNITS))
def test_annualise_is_monotonic_in_value(a, b, unit):
    low, high = sorted((a, b))
    assert annualise(low, unit) <= annualise(high, unit)


# ---------------------------------------------------------------- LPR table

def test_default_table_matches_the_public_record():
    # the module also lists 2022-05-20, when only the five-year rate moved
    assert [(day, one) for day, one, _five in rules.DEFAULT_LPR_TABLE if day != date(2022, 5, 20)] == LPR
    days = [row[0] for row in rules.DEFAULT_LPR_TABLE]
    assert days == sorted(days) and len(set(days)) == len(days)
    # 2022-05-20 changed only the five-year rate
    assert lpr_on(date(2022, 5, 20), rules.DEFAULT_LPR_TABLE) == D("3.70")


@pytest.mark.parametrize(("day", "expected"), [
    pytest.param(date(2019, 8, 19), None, id="before-table"),
    pytest.param(date(2019, 8, 20), D("4.25"), id="first-day"),
    pytest.param(date(2020, 8, 20), D("3.85"), id="reform-day"),
    pytest.param(date(2022, 8, 21), D("3.70"), id="day-before-change"),
    pytest.param(date(2022, 8, 22), D("3.65"), id="change-day-itself"),
    pytest.param(date(2023, 3, 1), D("3.65"), id="sc12-contract"),
    pytest.param(date(2023, 6, 19), D("3.65"), id="eve-of-2023-06"),
    pytest.param(date(2023, 6, 20), D("3.55"), id="2023-06-change"),
    pytest.param(date(2024, 2, 20), D("3.45"), id="five-year-only-change"),
    pytest.param(date(2025, 5, 19), D("3.10"), id="eve-of-2025-05"),
    pytest.param(date(2025, 5, 20), D("3.00"), id="2025-05-change"),
    pytest.param(date(2030, 1, 1), D("3.00"), id="after-last-row"),
])
def test_lpr_on(day, expected):
    assert lpr_on(day, LPR) == expected
    assert lpr_on(day, list(reversed(LPR))) == expected  # row order does not matter
    assert lpr_on(day, rules.DEFAULT_LPR_TABLE) == expected


def test_lpr_row_on_reports_the_effective_date():
    assert lpr_row_on(date(2023, 3, 1), LPR) == (date(2022, 8, 22), D("3.65"))
    assert lpr_row_on(date(2019, 1, 1), LPR) is None
    assert lpr_on(date(2023, 3, 1), []) is None


# ---------------------------------------------------------------- lawful cap (PL-2)

@pytest.mark.parametrize(("contract", "today", "cap"), [
    pytest.param(date(2023, 3, 1), TODAY, D("0.146000"), id="sc12-2023-03"),
    pytest.param(date(2020, 8, 20), TODAY, D("0.154000"), id="reform-day-uses-lpr"),
    pytest.param(date(2020, 8, 19), TODAY, D("0.240000"), id="day-before-reform-old-rule"),
    pytest.param(date(2018, 5, 1), TODAY, D("0.240000"), id="before-lpr-table"),
    pytest.param(date(2022, 8, 21), TODAY, D("0.148000"), id="eve-of-lpr-change"),
    pytest.param(date(2022, 8, 22), TODAY, D("0.146000"), id="lpr-change-day"),
    pytest.param(date(2023, 8, 21), TODAY, D("0.138000"), id="2023-08"),
    pytest.param(date(2024, 10, 21), TODAY, D("0.124000"), id="2024-10"),
    pytest.param(date(2025, 5, 20), TODAY, D("0.120000"), id="2025-05"),
])
def test_lawful_cap(contract, today, cap):
    result = lawful_cap(contract, LPR, today)
    assert result == cap
    assert result.as_tuple().exponent == -6


def test_lawful_cap_detail_after_reform():
    detail = lawful_cap_detail(date(2023, 3, 1), LPR, TODAY)
    assert detail == LawfulCap(regime="lpr", contract_date=date(2023, 3, 1), cap=D("0.146000"), lpr_pct=D("3.65"),
                               lpr_effective_on=date(2022, 8, 22), lpr_basis_date=date(2023, 3, 1),
                               after_reform_cap=D("0.146000"), before_reform_cap=None, before_reform_void_above=None)


def test_lawful_cap_detail_before_reform_splits_the_periods():
    detail = lawful_cap_detail(date(2019, 3, 1), LPR, TODAY)
    assert detail.regime == "transitional"
    assert detail.cap == detail.before_reform_cap == D("0.240000")
    assert detail.before_reform_void_above == D("0.360000")
    # interest from 2020-08-20 on: 4 × the LPR at filing, "today" standing in for the filing date
    assert (detail.lpr_basis_date, detail.lpr_pct, detail.lpr_effective_on) == (TODAY, D("3.00"), date(2025, 5, 20))
    assert detail.after_reform_cap == D("0.120000")


def test_lawful_cap_detail_before_reform_without_lpr_for_today():
    detail = lawful_cap_detail(date(2019, 3, 1), [], TODAY)
    assert detail.cap == D("0.240000")
    assert detail.after_reform_cap is None and detail.lpr_pct is None


def test_lawful_cap_without_lpr_row_raises():
    with pytest.raises(LprMissing) as caught:
        lawful_cap(date(2023, 3, 1), [(date(2024, 1, 1), D("3.45"))], TODAY)
    assert caught.value.day == date(2023, 3, 1)


def test_lawful_cap_refuses_a_negative_lpr():
    with pytest.raises(ValueError):
        lawful_cap(date(2023, 3, 1), [(date(2020, 1, 1), D("-1"))], TODAY)


@given(contract=st.dates(min_value=date(2000, 1, 1), max_value=date(2035, 12, 31)),
       today=st.dates(min_value=date(2000, 1, 1), max_value=date(2035, 12, 31)),
       rows=st.lists(st.tuples(st.dates(min_value=date(1990, 1, 1), max_value=date(2035, 12, 31)),
                               st.decimals(min_value=0, max_value=20, places=2)), max_size=8))
def test_cap_is_never_negative(contract, today, rows):
    try:
        detail = lawful_cap_detail(contract, rows, today)
    except LprMissing:
        assert contract >= rules.LPR_REFORM_DATE and lpr_on(contract, rows) is None
        return
    assert detail.cap >= 0
    assert detail.after_reform_cap is None or detail.after_reform_cap >= 0


# ---------------------------------------------------------------- principal and flags (PL-3, PL-4)

@pytest.mark.parametrize(("written", "received", "expected"), [
    pytest.param(10_000_000, 9_000_000, 9_000_000, id="head-interest-fen"),
    pytest.param(D("100000.00"), D("90000.00"), D("90000.00"), id="head-interest-yuan"),
    pytest.param(10_000_000, 10_000_000, 10_000_000, id="equal"),
    pytest.param(10_000_000, None, 10_000_000, id="not-asked"),
    pytest.param(10_000_000, 11_000_000, 10_000_000, id="received-above-written-is-a-typo"),
    pytest.param(10_000_000, 0, 0, id="nothing-received"),
])
def test_effective_principal(written, received, expected):
    assert effective_principal(written, received) == expected


PRIVATE = dict(kind="private", principal_written=10_000_000, principal_received=10_000_000,
               annual_rate=D("0.100000"), cap=D("0.146000"), written_contract=True)


@pytest.mark.parametrize(("changes", "flags"), [
    pytest.param({}, [], id="clean-private"),
    pytest.param({"annual_rate": D("0.240000")}, ["over_cap"], id="over-cap"),
    pytest.param({"annual_rate": D("0.146000")}, [], id="exactly-cap"),
    pytest.param({"annual_rate": D("0.146001")}, ["over_cap"], id="just-over-cap"),
    pytest.param({"annual_rate": None}, [], id="rate-unknown"),
    pytest.param({"cap": None, "annual_rate": D("0.5")}, [], id="cap-unknown"),
    pytest.param({"principal_received": 9_000_000}, ["head_interest"], id="head-interest"),
    pytest.param({"principal_received": None}, [], id="received-unknown"),
    pytest.param({"principal_received": 11_000_000}, [], id="received-above-written"),
    pytest.param({"written_contract": False}, ["no_contract"], id="no-contract"),
    pytest.param({"kind": "bank", "written_contract": False, "annual_rate": D("0.30")}, [], id="bank-not-capped"),
    pytest.param({"kind": "bank", "principal_received": 9_000_000}, ["head_interest"], id="bank-head-interest"),
    pytest.param({"kind": "mutual", "annual_rate": D("0.30"), "written_contract": False}, ["over_cap"],
                 id="mutual-capped-no-contract-not-required"),
    pytest.param({"kind": "credit_sale", "annual_rate": D("0.30")}, ["over_cap"], id="credit-sale-capped"),
    pytest.param({"kind": "guarantee", "annual_rate": D("0.30")}, [], id="guarantee-not-capped"),
    pytest.param({"offset_rent_per_mu": D("0.60"), "reference_rent_per_mu": D("4.50")}, ["below_market_offset"],
                 id="sc13-grassland"),
    pytest.param({"offset_rent_per_mu": D("2.25"), "reference_rent_per_mu": D("4.50")}, [], id="exactly-half"),
    pytest.param({"offset_rent_per_mu": D("2.24"), "reference_rent_per_mu": D("4.50")}, ["below_market_offset"],
                 id="just-below-half"),
    pytest.param({"offset_rent_per_mu": 60, "reference_rent_per_mu": 450}, ["below_market_offset"], id="fen-rents"),
    pytest.param({"offset_rent_per_mu": D("0.60"), "reference_rent_per_mu": None}, [], id="no-reference"),
    pytest.param({"offset_rent_per_mu": D("0"), "reference_rent_per_mu": D("0")}, [], id="zero-reference"),
    pytest.param({"annual_rate": D("0.36"), "principal_received": 8_000_000, "written_contract": False,
                  "offset_rent_per_mu": D("1"), "reference_rent_per_mu": D("5")},
                 ["over_cap", "head_interest", "no_contract", "below_market_offset"], id="all-flags-in-order"),
])
def test_debt_flags(changes, flags):
    assert debt_flags(**{**PRIVATE, **changes}) == flags
    assert set(flags) <= set(rules.DEBT_FLAG_MESSAGES)


def test_sc12_private_loan():
    """SC-12: 100,000 written / 90,000 received at 月息2分 dated 2023-03-01."""
    annual = annualise(D("2"), "fen_month")
    cap = lawful_cap(date(2023, 3, 1), LPR, TODAY)
    assert (annual, cap) == (D("0.240000"), D("0.146000"))
    flags = debt_flags("private", 10_000_000, 9_000_000, annual, cap, True)
    assert flags == ["over_cap", "head_interest"]
    assert effective_principal(10_000_000, 9_000_000) == 9_000_000


def test_sc12_through_assess_debt():
    result = assess_debt(kind="private", principal_written=10_000_000, principal_received=9_000_000,
                         rate_value=D("2"), rate_unit="fen_month", contract_date=date(2023, 3, 1),
                         written_contract=True, table=LPR, today=TODAY)
    assert (result.annual_rate, result.cap, result.principal) == (D("0.240000"), D("0.146000"), 9_000_000)
    assert result.flags == ["over_cap", "head_interest"] and not result.lpr_missing
    assert result.cap_detail.lpr_effective_on == date(2022, 8, 22)


@pytest.mark.parametrize(("changes", "annual", "cap", "flags", "missing"), [
    pytest.param({"rate_value": None}, None, D("0.146000"), ["head_interest"], False, id="no-rate"),
    pytest.param({"rate_unit": None}, None, D("0.146000"), ["head_interest"], False, id="no-unit"),
    pytest.param({"contract_date": None}, D("0.240000"), None, ["head_interest"], False, id="no-contract-date"),
    pytest.param({"table": []}, D("0.240000"), None, ["head_interest"], True, id="no-lpr-row"),
    pytest.param({"kind": "bank"}, D("0.240000"), None, ["head_interest"], False, id="bank-no-cap"),
    pytest.param({"contract_date": date(2019, 1, 1)}, D("0.240000"), D("0.240000"), ["head_interest"], False,
                 id="pre-reform-24-not-over"),
])
def test_assess_debt_tolerates_unknowns(changes, annual, cap, flags, missing):
    args = dict(kind="private", principal_written=10_000_000, principal_received=9_000_000, rate_value=D("2"),
                rate_unit="fen_month", contract_date=date(2023, 3, 1), written_contract=True, table=LPR, today=TODAY)
    result = assess_debt(**{**args, **changes})
    assert (result.annual_rate, result.cap, result.flags, result.lpr_missing) == (annual, cap, flags, missing)


@given(written=st.integers(min_value=0, max_value=10**14), data=st.data())
def test_head_interest_iff_received_below_written(written, data):
    received = data.draw(st.integers(min_value=0, max_value=written))
    flagged = "head_interest" in debt_flags("private", written, received, None, None, True)
    assert flagged == (received != written)
    assert effective_principal(written, received) == received


# ---------------------------------------------------------------- completeness and submission (V-1)

@pytest.mark.parametrize(("rows", "declared_none", "state"), [
    pytest.param(0, False, "empty", id="empty"),
    pytest.param(0, True, "none", id="declared-none"),
    pytest.param(1, False, "filled", id="one-row"),
    pytest.param(60, False, "filled", id="many-rows"),
    pytest.param(2, True, "filled", id="rows-win-over-stale-none"),
])
def test_section_state(rows, declared_none, state):
    assert section_state(rows, declared_none) == state


ALL_DONE = {s: "filled" for s in rules.SECTION_ORDER}
ALL_NONE = {"members": "filled", **{s: "none" for s in rules.SECTION_ORDER if s != "members"}}


@pytest.mark.parametrize(("states", "percent"), [
    pytest.param({}, 0, id="nothing"),
    pytest.param(ALL_DONE, 100, id="all-filled"),
    pytest.param(ALL_NONE, 100, id="members-and-all-none"),
    pytest.param({"members": "filled"}, 11, id="one-of-nine-rounds-down"),
    pytest.param({**ALL_DONE, "debts": "empty"}, 88, id="eight-of-nine-never-100"),
    pytest.param({**ALL_DONE, "members": "none"}, 88, id="members-cannot-be-none"),
    pytest.param({**ALL_DONE, "photos": "filled"}, 100, id="unknown-section-ignored"),
    pytest.param({s: "bogus" for s in rules.SECTION_ORDER}, 0, id="unknown-state-is-empty"),
])
def test_completeness(states, percent):
    assert completeness(states) == percent


OK = dict(head_id_valid=True, has_done_visit=True, consents={"collect", "credit_query"}, consent_refused=False,
          states=ALL_DONE)


@pytest.mark.parametrize(("changes", "problems"), [
    pytest.param({}, [], id="ready"),
    pytest.param({"states": ALL_NONE}, [], id="ready-with-none-sections"),
    pytest.param({"head_id_valid": False}, ["head_id"], id="head-id"),
    pytest.param({"has_done_visit": False}, ["no_completed_visit"], id="no-done-visit"),
    pytest.param({"consents": {"collect"}}, ["consent_credit_query"], id="no-credit-query-consent"),
    pytest.param({"consents": set()}, ["consent_collect", "consent_credit_query"], id="no-consents"),
    pytest.param({"consents": {"notice", "contact"}}, ["consent_collect", "consent_credit_query"],
                 id="other-consents-dont-count"),
    pytest.param({"consents": set(), "consent_refused": True}, [], id="refusal-counts"),
    pytest.param({"states": {**ALL_DONE, "land": "empty"}}, ["section:land"], id="land-empty"),
    pytest.param({"states": {**ALL_DONE, "members": "none"}}, ["section:members"], id="members-none"),
    pytest.param({"head_id_valid": False, "has_done_visit": False, "consents": set(), "states": {}},
                 ["head_id", "no_completed_visit", "consent_collect", "consent_credit_query"]
                 + [f"section:{s}" for s in rules.SECTION_ORDER], id="everything-missing-in-order"),
])
def test_submission_problems(changes, problems):
    found = submission_problems(**{**OK, **changes})
    assert found == problems
    assert all(code in rules.PROBLEM_MESSAGES for code in found)


def test_every_problem_code_has_a_message():
    codes = {"head_id", "no_completed_visit"} | {f"consent_{k}" for k in rules.REQUIRED_CONSENTS} \
        | {f"section:{s}" for s in rules.SECTION_ORDER}
    assert set(rules.PROBLEM_MESSAGES) == codes
    assert set(rules.SECTION_LABELS) == set(rules.SECTION_ORDER)
    assert rules.problem_message("head_id") == rules.PROBLEM_MESSAGES["head_id"]
    assert rules.problem_message("nope") == "nope"


@pytest.mark.parametrize(("consents", "refused", "blocked"), [
    pytest.param({"collect", "credit_query"}, False, False, id="both-signed"),
    pytest.param({"collect", "credit_query", "notice"}, False, False, id="more-signed"),
    pytest.param({"collect"}, False, True, id="credit-query-missing"),
    pytest.param(set(), True, True, id="refused"),
    pytest.param({"collect"}, True, True, id="partly-refused"),
    pytest.param({"collect", "credit_query"}, True, True, id="refusal-note-blocks-anyway"),
])
def test_blocks_rating(consents, refused, blocked):
    assert blocks_rating(consents, refused) is blocked


def test_refusal_passes_submission_but_blocks_rating():
    assert submission_problems(True, True, set(), True, ALL_DONE) == []
    assert blocks_rating(set(), True)


def test_one_day_either_side_of_the_reform():
    eve = rules.LPR_REFORM_DATE - timedelta(days=1)
    assert lawful_cap_detail(eve, LPR, TODAY).regime == "transitional"
    assert lawful_cap_detail(rules.LPR_REFORM_DATE, LPR, TODAY).regime == "lpr"
