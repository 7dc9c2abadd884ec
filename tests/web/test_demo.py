"""`flask demo load`: the org layer is idempotent, covers every village once, and its logins work."""
from __future__ import annotations

import re
from collections import Counter, defaultdict

import pytest
import sqlalchemy as sa

from fieldapp.accounts import services as accounts
from fieldapp.accounts.models import ROLES, RoleGrant, User
from fieldapp.core import clock
from fieldapp.demo import DEMO_LOGIN_ROLES, DEMO_LOGINS, DEMO_PASSWORD
from fieldapp.demo.names import NameGenerator, is_polyphonic_surname
from fieldapp.demo.org import COUNTY
from fieldapp.extensions import db
from fieldapp.org.models import (Assignment, Branch, County, Grid, GridArea, Township, Village,
                                 VillageGroup)
from tests.conftest import login

TABLES = (County, Township, Village, VillageGroup, Branch, Grid, GridArea, User, RoleGrant, Assignment)


def run_demo(app, *args):
    result = app.test_cli_runner().invoke(args=["demo", "load", *args])
    db.session.remove()  # the command committed in this app context; read afresh
    return result


def counts() -> dict[str, int]:
    return {m.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(m)) for m in TABLES}


@pytest.fixture
def demo(app):
    result = run_demo(app)
    assert result.exit_code == 0, result.output
    return result


def current(stmt, today):
    return stmt.where(Assignment.starts_on <= today,
                      sa.or_(Assignment.ends_on.is_(None), Assignment.ends_on >= today))


def test_load_twice_adds_nothing_the_second_time(app, demo):
    assert "org: added" in demo.output
    first = counts()
    again = run_demo(app)
    assert again.exit_code == 0, again.output
    assert "org: nothing to add" in again.output
    assert counts() == first


def test_sizes_follow_the_recommended_demo_county(app, demo):
    county = db.session.scalar(sa.select(County).where(County.admin_code == COUNTY[0]))
    assert county.label_set == "standard"
    count = lambda m, *w: db.session.scalar(sa.select(sa.func.count()).select_from(m).where(*w))  # noqa: E731
    assert count(Township, Township.county_id == county.id) == 8
    assert count(Village, Village.county_id == county.id) == 88
    assert count(VillageGroup, VillageGroup.county_id == county.id) == 352
    kinds = Counter(db.session.scalars(sa.select(Branch.kind).where(Branch.county_id == county.id)))
    assert kinds == {"outlet": 8, "assisted_point": 6, "atm": 2}
    levels = Counter(db.session.scalars(sa.select(Grid.level).where(Grid.county_id == county.id)))
    assert levels == {1: 24, 2: 60}
    banner = db.session.scalar(sa.select(County).where(County.label_set == "banner"))
    assert banner.second_language == "mn" and banner.labels[2] == "嘎查"
    assert count(Village, Village.county_id == banner.id) == 3
    for v in db.session.scalars(sa.select(Village).where(Village.county_id == county.id)):
        assert 26.0 < v.centroid_lat < 27.0 and 99.4 < v.centroid_lng < 100.4
        assert len(v.stat_code) == 12 and v.stat_code.startswith(v.township.stat_code)
        assert [g.name for g in v.groups] == sorted(["一组", "二组", "三组", "四组"])


def test_top_up_after_partial_data(app, demo):
    full = counts()
    today = clock.today()
    # Lose some panel members (with their grants), a backup, a whole-village grid area, and a village's groups.
    for name in ("panel9", "panel10", "panel21"):
        db.session.delete(db.session.scalar(sa.select(User).where(User.username == name)))
    db.session.delete(db.session.scalars(sa.select(Assignment).where(Assignment.kind == "backup")).first())
    db.session.delete(db.session.scalars(sa.select(GridArea).where(GridArea.group_id.is_(None))).first())
    db.session.commit()
    assert counts() != full
    result = run_demo(app)
    assert result.exit_code == 0, result.output
    assert "users" in result.output and "grid areas" in result.output
    assert counts() == full
    owners = Counter(db.session.scalars(current(sa.select(Assignment.grid_id).where(Assignment.kind == "owner"),
                                                today)))
    assert set(owners.values()) == {1}


def test_every_village_is_covered_by_exactly_one_active_grid(app, demo):
    active = set(db.session.scalars(sa.select(Grid.id).where(Grid.status == "active")))
    areas = defaultdict(list)
    for a in db.session.scalars(sa.select(GridArea)):
        if a.grid_id in active:
            areas[a.village_id].append(a)
    split_villages = 0
    for village in db.session.scalars(sa.select(Village)):
        mine = areas[village.id]
        whole = [a for a in mine if a.group_id is None]
        if whole:
            assert len(mine) == 1, f"{village.name} is covered whole and again"
        else:
            split_villages += 1
            by_group = Counter(a.group_id for a in mine)
            assert set(by_group) == {g.id for g in village.groups}, f"{village.name} has uncovered groups"
            assert set(by_group.values()) == {1}, f"{village.name} has a group in two grids"
    assert split_villages >= 4  # second-level grids cover single groups in some villages
    grids = list(db.session.scalars(sa.select(Grid)))
    assert all(g.areas for g in grids), "every grid covers something"
    for g in grids:
        if g.level == 2:
            assert g.parent is not None and g.parent.level == 1 and g.parent.branch_id == g.branch_id
            assert g.branch.kind == "outlet"


def test_grid_staffing(app, demo):
    today = clock.today()
    owners = Counter(db.session.scalars(current(sa.select(Assignment.grid_id).where(Assignment.kind == "owner"),
                                                today)))
    grid_ids = set(db.session.scalars(sa.select(Grid.id)))
    assert set(owners) == grid_ids and set(owners.values()) == {1}
    per_officer = Counter(db.session.scalars(current(
        sa.select(Assignment.user_id).where(Assignment.kind == "owner"), today)))
    assert set(per_officer.values()) <= {1, 2, 3}
    assert 28 <= len(per_officer) <= 36
    for user_id in per_officer:
        assert db.session.get(User, user_id).has_role("grid_officer")
    assert db.session.scalar(sa.select(sa.func.count()).where(Assignment.kind == "backup")) >= 8
    covers = list(db.session.scalars(sa.select(Assignment).where(Assignment.kind == "cover")))
    assert any(c.starts_on <= today < c.ends_on for c in covers)
    # A covering officer is not the grid's owner.
    for c in covers:
        owner = db.session.scalar(current(sa.select(Assignment.user_id).where(
            Assignment.grid_id == c.grid_id, Assignment.kind == "owner"), today))
        assert owner != c.user_id


def test_staff_of_every_role(app, demo):
    users = list(db.session.scalars(sa.select(User)))
    held = Counter(code for u in users for code in u.role_codes)
    assert set(held) == set(ROLES)
    assert held["grid_officer"] >= 30 and held["village_secretary"] >= 2 * 40
    assert held["panel_member"] >= 14 and held["mediator"] == 2 and held["auditor"] == 1
    outlets = set(db.session.scalars(sa.select(Branch.id).where(Branch.kind == "outlet")))
    managed = {g.scope_id for u in users for g in u.roles if g.role == "branch_manager"}
    assert managed == outlets
    positions = Counter(u.position for u in users)
    assert positions["村支书"] >= 40 and positions["驻村第一书记"] >= 40
    mobiles = [u.mobile for u in users]
    assert all(m and re.fullmatch(r"1[3-9]\d{9}", m) for m in mobiles)
    assert len(set(mobiles)) == len(mobiles)
    names = [u.name for u in users]
    assert all(re.fullmatch(r"[\u4e00-\u9fff·]{2,12}", n) for n in names)
    assert {n[0] for n in names} >= {"单", "曾", "解"} and any("·" in n for n in names)
    assert "额尔敦图雅" in names
    # Village roles sit in villages, bank staff carry employee numbers, village people do not.
    for u in users:
        if u.has_role("village_secretary", "panel_member"):
            assert u.employee_no is None
        elif not u.has_role("mediator"):
            assert u.employee_no


@pytest.mark.parametrize("username,label", DEMO_LOGINS)
def test_each_demo_login_works(app, demo, username, label):
    client = app.test_client()
    login(client, username, DEMO_PASSWORD)
    user = db.session.scalar(sa.select(User).where(User.username == username))
    assert user.has_role(DEMO_LOGIN_ROLES[username])
    assert client.get("/", follow_redirects=True).status_code == 200


def test_demo_logins_cover_every_role():
    assert set(DEMO_LOGIN_ROLES.values()) == set(ROLES)
    assert [entry.username for entry in DEMO_LOGINS] == list(DEMO_LOGIN_ROLES)
    for username, label in DEMO_LOGINS:  # `make run` unpacks them as pairs
        assert username.isascii() and label


def test_officer1_sees_only_their_villages(app, demo):
    today = clock.today()
    officer = db.session.scalar(sa.select(User).where(User.username == "officer1"))
    grids = set(db.session.scalars(current(sa.select(Assignment.grid_id).where(Assignment.user_id == officer.id),
                                           today)))
    grids |= set(db.session.scalars(sa.select(Grid.id).where(Grid.parent_id.in_(grids))))
    expected = set(db.session.scalars(sa.select(GridArea.village_id).where(GridArea.grid_id.in_(grids))))
    assert len(expected) == 4
    label = dict(DEMO_LOGINS)["officer1"]
    township = {db.session.get(Village, v).township.name for v in expected}
    assert township == {"金源镇"} and "金源镇" in label

    client = app.test_client()
    login(client, "officer1", DEMO_PASSWORD)
    resp = client.get("/villages")
    assert resp.status_code == 200
    shown = {int(i) for i in re.findall(r'href="/villages/(\d+)"', resp.get_data(as_text=True))}
    assert shown == expected


def test_demo_login_labels_match_the_data(app, demo):
    labels = dict(DEMO_LOGINS)
    secretary = db.session.scalar(sa.select(User).where(User.username == "secretary1"))
    village = db.session.get(Village, secretary.roles[0].scope_id)
    assert village.name in labels["secretary1"]
    panel = db.session.scalar(sa.select(User).where(User.username == "panel1"))
    assert db.session.get(Village, panel.roles[0].scope_id).name in labels["panel1"]
    manager = db.session.scalar(sa.select(User).where(User.username == "manager1"))
    branch = db.session.get(Branch, manager.roles[0].scope_id)
    assert branch.name.removesuffix("支行") in labels["manager1"]


def test_refuses_a_database_with_real_accounts(app):
    accounts.create_user(username="zhang.wei", name="张伟", password="a-real-password",
                         roles=[("sysadmin", None, None)])
    db.session.commit()
    result = run_demo(app)
    assert result.exit_code != 0
    assert "zhang.wei" in result.output and "--force" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(County)) == 0
    forced = run_demo(app, "--force")
    assert forced.exit_code == 0, forced.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Village)) == 91


def test_households_option_is_accepted(app):
    result = run_demo(app, "--households", "50")
    assert result.exit_code == 0, result.output


def test_name_generator_is_deterministic_and_varied():
    a = NameGenerator(7, minority_rate=0.1, unique=True)
    b = NameGenerator(7, minority_rate=0.1, unique=True)
    first = [a.name() for _ in range(500)]
    assert first == [b.name() for _ in range(500)]
    assert len(set(first)) == 500
    assert any("·" in n for n in first) and any(len(n) >= 5 and "·" not in n for n in first)
    assert all(2 <= len(n) for n in first)
    family = NameGenerator(3)
    assert all(family.name(sex="F", surname="单").startswith("单") for _ in range(20))
    assert is_polyphonic_surname("单雄信") and is_polyphonic_surname("解缙") and not is_polyphonic_surname("王伟")
