"""`flask demo load`: the households layer (domain §6.2) is deterministic, idempotent, tops up; its data is valid."""
from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from datetime import date

import sqlalchemy as sa

from fieldapp.core import clock
from fieldapp.core.idnumber import parse_id_number
from fieldapp.demo import households as demo
from fieldapp.extensions import db
from fieldapp.households import rules
from fieldapp.households.models import (CreditFile, Debt, ExpenseItem, Household, IncomeItem, Insurance, LandHolding,
                                        Livestock, LprRate, Member, OtherAsset)
from fieldapp.org.models import County, Village
from fieldapp.visits.models import Consent, Visit

TABLES = (Household, Member, LandHolding, Livestock, OtherAsset, IncomeItem, ExpenseItem, Insurance, Debt, Visit,
          Consent, CreditFile, LprRate)


def run_demo(app, *args):
    result = app.test_cli_runner().invoke(args=["demo", "load", *args])
    db.session.remove()  # the command committed in this app context; read afresh
    assert result.exit_code == 0, result.output
    return result


def counts() -> dict[str, int]:
    return {m.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(m)) for m in TABLES}


def test_the_default_county_loads_quickly_once_and_its_data_is_valid(app):
    started = time.perf_counter()
    result = run_demo(app, "--households", "12000")
    elapsed = time.perf_counter() - started
    print(f"\ndemo load (org + 12,000 households): {elapsed:.1f} s\n{result.output}")
    assert "households: added 12000 households" in result.output
    first = counts()

    again = run_demo(app, "--households", "12000")
    assert "households: nothing to add" in again.output
    assert counts() == first

    # Sizes (§6.2): 88 villages of ≈ 136 households, ≈ 2.75 members each.
    county = db.session.scalar(sa.select(County).where(County.admin_code == "532999"))
    per_village = Counter(db.session.scalars(sa.select(Household.village_id).where(Household.county_id == county.id)))
    assert len(per_village) == 88 and sum(per_village.values()) == 12_000
    assert 95 <= min(per_village.values()) and max(per_village.values()) <= 200
    assert 31_000 <= first["members"] <= 35_000
    for table in ("land_holdings", "livestock", "other_assets", "income_items", "expense_items", "consents",
                  "visits", "credit_files"):
        assert first[table] > 5_000, table
    assert first["lpr_rates"] == len(rules.DEFAULT_LPR_TABLE)

    # Every member has a valid, unique ID whose sex digit and birth date agree with the member; search keys filled.
    today = clock.today()
    rows = db.session.execute(sa.select(Member.id_number, Member.id_hash, Member.sex, Member.birth_date, Member.name,
                                        Member.name_pinyin, Member.name_initials, Member.id_last4)).all()
    assert len({r.id_number for r in rows}) == len(rows) == len({r.id_hash for r in rows})
    for r in rows:
        info = parse_id_number(r.id_number, today)
        assert info.number == r.id_number and info.sex == r.sex and info.birth_date == r.birth_date
        assert info.region_code[:2] == "53" and r.id_last4 == r.id_number[-4:]
        assert r.name_pinyin and r.name_initials
    for r in random.Random(1).sample(rows, 300):
        assert (r.name_pinyin, r.name_initials) == rules.search_keys(r.name)
    from fieldapp.households.services import id_hash
    assert all(id_hash(r.id_number) == r.id_hash for r in rows[:200])
    heads = db.session.scalar(sa.select(sa.func.count()).select_from(Member).where(Member.is_head))
    assert heads == 12_000
    assert any("·" in r.name for r in rows) and any(r.name.startswith(("单", "解", "曾")) for r in rows)

    # File states: mostly accepted / submitted / draft, some returned and pending_revisit, some new.
    states = Counter(db.session.scalars(sa.select(Household.file_status)))
    assert set(states) == set(rules.FILE_STATUSES)
    assert states["accepted"] + states["submitted"] + states["draft"] > 0.7 * 12_000
    assert 0 < states["returned"] < states["draft"] and 0 < states["pending_revisit"] < states["draft"]
    pending = db.session.scalars(sa.select(Household).where(Household.file_status == "pending_revisit").limit(50))
    for h in pending:
        visits = db.session.scalars(sa.select(Visit).where(Visit.household_id == h.id)).all()
        assert len({v.started_at.date() for v in visits}) == 3 and {v.outcome for v in visits} <= {"not_home",
                                                                                                   "unreachable"}
        assert h.failed_attempts == 3
    never = db.session.scalar(sa.select(sa.func.count()).select_from(Visit).join(Household)
                              .where(Household.file_status == "new"))
    assert never == 0

    # Consents (collect + credit_query + notice) for most visited households.
    kinds = defaultdict(set)
    for household_id, kind, method in db.session.execute(sa.select(Consent.household_id, Consent.kind, Consent.method)):
        if method != "refused":
            kinds[household_id].add(kind)
    visited = states["draft"] + states["submitted"] + states["accepted"] + states["returned"]
    assert sum(1 for k in kinds.values() if {"collect", "credit_query", "notice"} <= k) > 0.8 * visited

    # ≈ 500 registered private loans: about 40 % over the lawful cap at their contract dates, ≈ 10 % 砍头息.
    private = db.session.scalars(sa.select(Debt).where(Debt.kind == "private")).all()
    assert 420 <= len(private) <= 580
    over = [d for d in private if "over_cap" in d.flags]
    assert 0.3 <= len(over) / len(private) <= 0.5
    head_interest = [d for d in private if "head_interest" in d.flags]
    assert 0.05 <= len(head_interest) / len(private) <= 0.16
    assert any(d.offset_land_id is not None and "below_market_offset" in d.flags for d in private)
    table = [(r.effective_on, r.one_year) for r in db.session.scalars(sa.select(LprRate))]
    for d in private:
        assessed = rules.assess_debt(kind="private", principal_written=d.principal_written_fen,
                                     principal_received=d.principal_received_fen, rate_value=d.rate_value,
                                     rate_unit=d.rate_unit, contract_date=d.contract_date,
                                     written_contract=d.written_contract, table=table, today=today,
                                     offset_rent_per_mu=None if d.offset_land_id is None else 0.6,
                                     reference_rent_per_mu=None if d.offset_land_id is None else 5)
        assert d.annual_rate == assessed.annual_rate and d.cap_rate == assessed.cap
        assert ("over_cap" in d.flags) == ("over_cap" in assessed.flags)
    assert any(d.contract_date < rules.LPR_REFORM_DATE for d in private)
    average = sum(d.principal_written_fen for d in private) / len(private) / 100
    assert 80_000 < average < 160_000


def test_top_up_after_a_partial_load_and_a_larger_size(app):
    run_demo(app, "--households", "400")
    full = counts()
    ids = dict(db.session.execute(sa.select(Member.id_hash, Member.id_number)).all())
    gone = db.session.scalars(sa.select(Household.id).order_by(Household.id).limit(400).offset(100)).all()[::37]
    db.session.execute(sa.delete(Household).where(Household.id.in_(gone)))  # cascades to everything they own
    db.session.commit()
    assert counts()["households"] == full["households"] - len(gone)
    assert counts() != full

    topped = run_demo(app, "--households", "400")
    assert f"households: added {len(gone)} households" in topped.output
    assert counts() == full
    assert dict(db.session.execute(sa.select(Member.id_hash, Member.id_number)).all()) == ids

    codes = set(db.session.scalars(sa.select(Household.code)))
    bigger = run_demo(app, "--households", "500")
    assert "households: added 100 households" in bigger.output
    assert codes < set(db.session.scalars(sa.select(Household.code)))
    assert "households: nothing to add" in run_demo(app, "--households", "500").output


def test_a_household_code_always_gives_the_same_family():
    table = [(d, one) for d, one, _five in rules.DEFAULT_LPR_TABLE]
    one = demo.plan_household("532999101201-0007", (26.5, 99.9), date(2026, 1, 1), table)
    two = demo.plan_household("532999101201-0007", (26.5, 99.9), date(2026, 1, 1), table)
    assert one == two
    other = demo.plan_household("532999101201-0008", (26.5, 99.9), date(2026, 1, 1), table)
    assert [m.id_number for m in one.members] != [m.id_number for m in other.members]
    counts_ = demo.village_counts([f"v{i}" for i in range(88)], 12_000)
    assert sum(counts_) == 12_000 and counts_ == demo.village_counts([f"v{i}" for i in range(88)], 12_000)
    assert demo.village_counts([], 10) == [] and sum(demo.village_counts(["a", "b"], 0)) == 0


def test_households_belong_to_their_villages_groups_and_officers(app):
    run_demo(app, "--households", "200")
    # Stored codes are the ones the section forms and the member form offer.
    from fieldapp.households import forms, section_forms as sf
    used = lambda col: set(db.session.scalars(sa.select(col).distinct())) - {None}  # noqa: E731
    assert used(LandHolding.land_type) <= set(sf.LAND_TYPES) and used(LandHolding.tenure) <= set(sf.TENURES)
    assert used(Livestock.species) <= set(sf.SPECIES) and used(OtherAsset.asset_type) <= set(sf.ASSET_TYPES)
    assert used(IncomeItem.income_source) <= set(sf.INCOME_SOURCES)
    assert used(ExpenseItem.category) <= set(sf.EXPENSE_CATEGORIES)
    assert used(Insurance.insurance_type) <= set(sf.INSURANCE_TYPES)
    assert used(Debt.kind) <= set(sf.DEBT_KINDS) and used(Debt.lender_type) <= set(sf.LENDER_TYPES)
    assert used(Debt.status) <= set(sf.DEBT_STATUSES) and used(Debt.rate_unit) <= set(sf.RATE_UNITS)
    for source_col in (LandHolding.source, Livestock.source, IncomeItem.source, Debt.source):
        assert used(source_col) <= set(sf.SOURCES)
    assert used(Member.relation) <= set(forms.RELATIONS) and used(Member.education) <= set(forms.EDUCATION)
    assert used(Member.labour_capacity) <= set(forms.LABOUR)
    villages = {v.id: v for v in db.session.scalars(sa.select(Village))}
    for h in db.session.scalars(sa.select(Household)):
        village = villages[h.village_id]
        assert h.code.startswith(village.stat_code + "-") and h.county_id == village.county_id
        assert h.group_id in {g.id for g in village.groups}
        assert h.head_name == next(m.name for m in h.members if m.is_head)
    # each visit was made by the officer who owns the household's grid
    from fieldapp.accounts.models import User
    staff = set(db.session.scalars(sa.select(Visit.staff_id).distinct()))
    assert staff and all(db.session.get(User, s).has_role("grid_officer") for s in staff)


def test_initials_search_over_the_demo_county_is_one_query(app):
    """Issue 4: searching 12,000 households by pinyin initials costs one SQL statement beyond the page's own."""
    import re

    from sqlalchemy import event

    from fieldapp.demo import DEMO_PASSWORD
    from fieldapp.households.models import Household as H
    from tests.conftest import HX, login

    run_demo(app, "--households", "12000")
    client = app.test_client()
    login(client, "officer1", DEMO_PASSWORD)
    page = client.get("/worklist").get_data(as_text=True)
    village_id = int(re.search(r'href="/worklist/villages/(\d+)"', page).group(1))
    head = db.session.scalar(sa.select(Member).join(H, H.id == Member.household_id)
                             .where(H.village_id == village_id, Member.is_head).order_by(Member.id))
    assert head.name_initials

    def statements(url):
        seen = []

        def listener(_conn, _cursor, statement, *_args):
            seen.append(statement)
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            resp = client.get(url, headers=HX)
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return seen, resp

    statements("/households/search?q=")
    baseline, _ = statements("/households/search?q=")
    seen, resp = statements(f"/households/search?q={head.name_initials}")
    assert resp.status_code == 200 and head.name in resp.get_data(as_text=True)
    assert len(seen) - len(baseline) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(H)) >= 12_000
