"""Demo layer 1: the county, its townships, villages, groups, branches, grids and staff.

The layer is planned in memory first (pure and deterministic: a fixed seed, nothing read from the clock or the
database), then only the rows that are missing are written, keyed by stable codes: county admin_code, township
and village stat_code, (village, group name), branch and grid code, username, (user, role, scope) and
(grid, user, kind). A second run adds nothing; a run after a partial load tops up what is missing.

The shape (domain.md §6.2): 剑源县 (fictional, 532999) with 8 townships × 11 villages × 4 groups; per township one
outlet with 3 first-level grids (24) and 7 or 8 second-level grids (60). Every village, or each of its groups,
lies in exactly one active grid. Each township has 4 grid officers owning 2–3 grids each. A small banner county
宝格达旗 (旗/苏木/嘎查, Mongolian as second language) shows the other label set.
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa

from ..accounts.models import RoleGrant, User
from ..accounts.services import hash_password
from ..core import clock
from ..extensions import db
from ..org.models import Assignment, Branch, County, Grid, GridArea, Township, Village, VillageGroup
from . import DEMO_PASSWORD
from .names import NameGenerator

SEED = 532999
GROUP_NAMES = ("一组", "二组", "三组", "四组")
ORDINALS = "一二三四五六七八九十"

COUNTY = ("532999", "剑源县", "standard", None)
TOWNSHIPS = ("金源镇", "甸北镇", "沙坝镇", "马鞍镇", "羊岑乡", "弥河乡", "石宝镇", "象山乡")
VILLAGES = (  # 11 per township, in township order
    "石桥 龙泉 桃源 东岭 西湖 南庄 北甸 上登 下登 中和 新民 "
    "沙坪 大营 小营 马坪 龙门 金星 联合 团结 和平 光明 向阳 "
    "红旗 永丰 丰乐 庆丰 长乐 太平 安乐 河头 江尾 水寨 寺登 "
    "鳌凤 华龙 玉龙 青龙 白龙 黄龙 龙华 凤鸣 凤翔 三河 四联 "
    "五星 六合 七星 八达 九龙 十里 坪头 坝心 山脚 山后 箐口 "
    "箐头 羊岭 牛街 马登 象图 弥沙 甸头 甸尾 海东 海西 松林 "
    "柏林 杨柳 梨园 桃坪 李坪 核桃 兴文 文华 大兴 新华 双河 "
    "合江 清河 石门 梅园 大坪 荷花 田心 白石 茶山 竹园 银河").split()
VILLAGES_PER_TOWNSHIP = 11
L1_SPLIT = (4, 4, 3)                       # villages per first-level grid in a township
CHILDREN = ((2, 3, 2), (3, 2, 3))          # second-level grids under each first-level grid (even/odd township)
OFFICERS_PER_TOWNSHIP = 4
SECRETARY_VILLAGES = 44                    # villages (in order) with a 村支书 and a 驻村第一书记
PANEL_VILLAGES = 3                         # villages with a 7-member review panel
PANEL_SIZE = 7
CENTRE = (26.5, 99.9)                      # WGS-84, lat/lng

BANNER = ("152999", "宝格达旗", "banner", "mn")
BANNER_TOWNSHIP = ("152999101", "宝力格苏木")
BANNER_VILLAGES = ("额尔敦嘎查", "乌兰嘎查", "巴彦嘎查")

MOBILE_PREFIXES = ("135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159", "182", "183",
                   "187", "188", "130", "131", "132", "155", "156", "186", "133", "153", "180", "189", "177")


def mobile_for(index: int) -> str:
    """A valid, unique 11-digit mobile number for the index-th demo user (an affine bijection on 8 digits)."""
    tail = (73939133 * index + 13572468) % 10**8
    return MOBILE_PREFIXES[(index * 7) % len(MOBILE_PREFIXES)] + f"{tail:08d}"


# ---------------------------------------------------------------- the plan (pure)

@dataclass
class PlanVillage:
    stat_code: str
    name: str
    township_code: str
    county_code: str
    lat: float
    lng: float
    is_poor: bool


@dataclass
class PlanGrid:
    code: str
    name: str
    county_code: str
    branch_code: str
    parent_code: str | None
    level: int
    target: int
    areas: list[tuple[str, str | None]] = field(default_factory=list)  # (village stat_code, group name | None)


@dataclass
class PlanUser:
    username: str
    name: str
    mobile: str
    employee_no: str | None = None
    position: str | None = None
    roles: list[tuple[str, str | None, str | None]] = field(default_factory=list)  # (role, scope type, key)


@dataclass
class PlanAssignment:
    grid_code: str
    username: str
    kind: str
    start_days: int               # relative to today (negative: in the past)
    end_days: int | None = None
    note: str | None = None


@dataclass
class Plan:
    counties: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    townships: list[tuple[str, str, str]] = field(default_factory=list)  # (stat_code, name, county_code)
    villages: list[PlanVillage] = field(default_factory=list)
    # (code, name, kind, county code, parent branch code)
    branches: list[tuple[str, str, str, str, str | None]] = field(default_factory=list)
    grids: list[PlanGrid] = field(default_factory=list)
    users: list[PlanUser] = field(default_factory=list)
    assignments: list[PlanAssignment] = field(default_factory=list)


def _split_units(villages: list[str], children: int, want_split: bool) -> list[tuple[str, tuple[str, ...] | None]]:
    """Coverage units for the second-level grids: whole villages, split in halves by group where needed."""
    units: list[tuple[str, tuple[str, ...] | None]] = [(v, None) for v in villages]
    while len(units) < children or want_split:
        j = max(i for i, (_, groups) in enumerate(units) if groups is None)
        v = units[j][0]
        units[j:j + 1] = [(v, GROUP_NAMES[:2]), (v, GROUP_NAMES[2:])]
        want_split = False
    return units


def build_plan() -> Plan:
    """Everything the org layer holds, computed from the seed alone."""
    rng = random.Random(SEED)
    names = NameGenerator(SEED + 1, minority_rate=0.03, unique=True)
    # A few names chosen on purpose: polyphonic surnames (单 shàn, 解 xiè, 曾 zēng) and a name with "·".
    showcase = {"manager3": names.name(surname="单"), "officer5": names.name(surname="解"),
                "secretary2": names.name(surname="曾"), "mediator2": names.minority(kind="dotted")}
    plan = Plan()
    county_code = COUNTY[0]
    plan.counties.append(COUNTY)
    bank_no = iter(range(1, 10_000))

    def staff(username: str, roles, *, name: str | None = None, bank: bool = True, position: str | None = None,
              sex: str | None = None) -> PlanUser:
        name = name or showcase.get(username) or names.name(sex)
        user = PlanUser(username=username, name=name, mobile=mobile_for(len(plan.users)),
                        employee_no=f"JY{next(bank_no):04d}" if bank else None, position=position, roles=list(roles))
        plan.users.append(user)
        return user

    staff("admin", [("sysadmin", None, None)])
    staff("hq", [("hq_admin", "county", county_code), ("hq_admin", "county", BANNER[0])])

    officer_no = 0
    for t, township in enumerate(TOWNSHIPS):
        t_code = f"{county_code}{101 + t}"
        plan.townships.append((t_code, township, county_code))
        t_lat = CENTRE[0] + rng.uniform(-0.15, 0.15)
        t_lng = CENTRE[1] + rng.uniform(-0.15, 0.15)
        v_codes = []
        for k in range(VILLAGES_PER_TOWNSHIP):
            name = VILLAGES[t * VILLAGES_PER_TOWNSHIP + k] + "村"
            code = f"{t_code}{201 + k}"
            v_codes.append(code)
            plan.villages.append(PlanVillage(code, name, t_code, county_code,
                                             round(t_lat + rng.uniform(-0.04, 0.04), 6),
                                             round(t_lng + rng.uniform(-0.04, 0.04), 6),
                                             rng.random() < 0.2))
        outlet = f"JYB{t + 1:02d}"
        plan.branches.append((outlet, f"{township}支行", "outlet", county_code, None))

        # Grids: three first-level grids, each with its second-level grids right after it.
        township_grids: list[PlanGrid] = []
        start = 0
        for k, (size, children) in enumerate(zip(L1_SPLIT, CHILDREN[t % 2])):
            mine = v_codes[start:start + size]
            start += size
            l1 = PlanGrid(f"JYG{t + 1:02d}-{k + 1}", f"{township}第{ORDINALS[k]}网格", county_code, outlet, None, 1,
                          rng.randint(150, 250), [(mine[0], None)])
            township_grids.append(l1)
            subs = [PlanGrid(f"{l1.code}-{j + 1}", f"{l1.name}{ORDINALS[j]}片", county_code, outlet, l1.code, 2,
                             rng.randint(150, 250)) for j in range(children)]
            for i, (v, groups) in enumerate(_split_units(mine[1:], children, want_split=(k == 1))):
                sub = subs[i % children]
                sub.areas.extend([(v, None)] if groups is None else [(v, g) for g in groups])
            township_grids.extend(subs)
        plan.grids.extend(township_grids)

        # Officers: consecutive runs of grids (3, 3, 2, 2 or 3, 3, 3, 2), so each owns 2–3.
        officers = []
        sizes = [3, 3, 3, 2] if len(township_grids) == 11 else [3, 3, 2, 2]
        pos = 0
        for size in sizes:
            officer_no += 1
            user = staff(f"officer{officer_no}", [("grid_officer", None, None)])
            officers.append(user.username)
            for grid in township_grids[pos:pos + size]:
                plan.assignments.append(PlanAssignment(grid.code, user.username, "owner", -180))
            pos += size
        # Backups: each first-level grid but the last is backed up by the owner of the next one.
        l1s = [g for g in township_grids if g.level == 1]
        owner_of = {a.grid_code: a.username for a in plan.assignments if a.kind == "owner"}
        for this, nxt in zip(l1s, l1s[1:]):
            plan.assignments.append(PlanAssignment(this.code, owner_of[nxt.code], "backup", -180))
        if t == 1:  # one temporary cover running now, ending in a fortnight
            plan.assignments.append(PlanAssignment(l1s[1].code, officers[3], "cover", -3, 11, "休假代班"))

    # Assisted points and off-site ATMs hang under the outlets.
    for i in range(6):
        village = VILLAGES[i * VILLAGES_PER_TOWNSHIP + 4] + "村"
        plan.branches.append((f"JYA{i + 1:02d}", f"{village}助农服务点", "assisted_point", county_code, f"JYB{i + 1:02d}"))
    for i in range(2):
        plan.branches.append((f"JYM{i + 1:02d}", f"{TOWNSHIPS[i]}离行式ATM", "atm", county_code, f"JYB{i + 1:02d}"))

    for i in range(len(TOWNSHIPS)):
        staff(f"manager{i + 1}", [("branch_manager", "branch", f"JYB{i + 1:02d}")])

    # The banner county: one township (苏木), three villages (嘎查), one branch, one grid.
    plan.counties.append(BANNER)
    b_code, b_town = BANNER_TOWNSHIP
    plan.townships.append((b_code, b_town, BANNER[0]))
    banner_codes = []
    for k, name in enumerate(BANNER_VILLAGES):
        code = f"{b_code}{201 + k}"
        banner_codes.append(code)
        plan.villages.append(PlanVillage(code, name, b_code, BANNER[0], round(49.2 + 0.03 * k, 6),
                                         round(120.7 + 0.04 * k, 6), False))
    plan.branches.append(("BGB01", "宝力格信用社", "outlet", BANNER[0], None))
    plan.grids.append(PlanGrid("BGG01-1", "宝力格网格", BANNER[0], "BGB01", None, 1, 180,
                               [(c, None) for c in banner_codes]))
    mongolian = NameGenerator(SEED + 2, minority_rate=1.0, minority_kind="mongolian", unique=True)
    officer_no += 1
    staff(f"officer{officer_no}", [("grid_officer", None, None)], name="额尔敦图雅")
    plan.assignments.append(PlanAssignment("BGG01-1", f"officer{officer_no}", "owner", -180))
    staff("manager9", [("branch_manager", "branch", "BGB01")], name=mongolian.name("M"))

    # Village side: a 村支书 and a 驻村第一书记 for the first villages, a review panel for a few.
    main_villages = [v for v in plan.villages if v.county_code == county_code]
    for i, v in enumerate(main_villages[:SECRETARY_VILLAGES]):
        scope = [("village_secretary", "village", v.stat_code)]
        staff(f"secretary{i + 1}", scope, bank=False, position="村支书")
        staff(f"firstsec{i + 1}", scope, bank=False, position="驻村第一书记")
    panel_no = 0
    for v in main_villages[:PANEL_VILLAGES]:
        for seat in range(PANEL_SIZE):
            panel_no += 1
            staff(f"panel{panel_no}", [("panel_member", "village", v.stat_code)], bank=False,
                  position="村两委" if seat < 2 else None)

    staff("mediator1", [("mediator", "county", county_code)], bank=False)
    staff("mediator2", [("mediator", "county", county_code)], bank=False)
    staff("auditor1", [("auditor", "county", county_code), ("auditor", "county", BANNER[0])])
    return plan


_PLAN: Plan | None = None


def plan() -> Plan:
    global _PLAN
    if _PLAN is None:
        _PLAN = build_plan()
    return _PLAN


def demo_usernames() -> set[str]:
    return {u.username for u in plan().users}


# ---------------------------------------------------------------- writing what is missing

def _by(model, key_col, values) -> dict:
    values = list(values)
    if not values:
        return {}
    return {getattr(row, key_col): row
            for row in db.session.scalars(sa.select(model).where(getattr(model, key_col).in_(values)))}


def load_org(options=None) -> str:
    """Write the org layer's missing rows (flushes; the caller commits). Returns a one-line summary."""
    p = plan()
    added: Counter[str] = Counter()
    today = clock.today()

    counties = _by(County, "admin_code", [c[0] for c in p.counties])
    for code, name, label_set, lang in p.counties:
        if code not in counties:
            counties[code] = County(admin_code=code, name=name, label_set=label_set, second_language=lang)
            db.session.add(counties[code])
            added["counties"] += 1
    db.session.flush()

    townships = _by(Township, "stat_code", [t[0] for t in p.townships])
    for code, name, county_code in p.townships:
        if code not in townships:
            townships[code] = Township(county_id=counties[county_code].id, stat_code=code, name=name,
                                       service_station_name=f"{name}金融服务站")
            db.session.add(townships[code])
            added["townships"] += 1
    db.session.flush()

    villages = _by(Village, "stat_code", [v.stat_code for v in p.villages])
    for v in p.villages:
        if v.stat_code not in villages:
            villages[v.stat_code] = Village(
                county_id=counties[v.county_code].id, township_id=townships[v.township_code].id,
                stat_code=v.stat_code, name=v.name, is_poor_village=v.is_poor, centroid_lat=v.lat,
                centroid_lng=v.lng, service_unit_name=f"{v.name}金融服务部")
            db.session.add(villages[v.stat_code])
            added["villages"] += 1
    db.session.flush()

    village_ids = [v.id for v in villages.values()]
    groups = {(g.village_id, g.name): g for g in db.session.scalars(
        sa.select(VillageGroup).where(VillageGroup.village_id.in_(village_ids)))}
    for v in villages.values():
        for name in GROUP_NAMES:
            if (v.id, name) not in groups:
                groups[(v.id, name)] = VillageGroup(county_id=v.county_id, village_id=v.id, name=name)
                db.session.add(groups[(v.id, name)])
                added["village groups"] += 1
    db.session.flush()

    branches = _by(Branch, "code", [b[0] for b in p.branches])
    for parents_pass in (False, True):  # outlets first, so points and ATMs can point at them
        for code, name, kind, county_code, parent in p.branches:
            if code in branches or (parent is not None) != parents_pass:
                continue
            branches[code] = Branch(county_id=counties[county_code].id, code=code, name=name, kind=kind,
                                    parent_id=branches[parent].id if parent else None)
            db.session.add(branches[code])
            added["branches"] += 1
        db.session.flush()

    grids = _by(Grid, "code", [g.code for g in p.grids])
    for level in (1, 2):
        for g in p.grids:
            if g.level != level or g.code in grids:
                continue
            grids[g.code] = Grid(county_id=counties[g.county_code].id, branch_id=branches[g.branch_code].id,
                                 parent_id=grids[g.parent_code].id if g.parent_code else None, code=g.code,
                                 name=g.name, level=g.level, status="active", target_households=g.target,
                                 active_from=today - timedelta(days=180))
            db.session.add(grids[g.code])
            added["grids"] += 1
        db.session.flush()

    # Coverage: add a planned area only where nothing covers that village or group yet, so a top-up can
    # never make a village (or group) lie in two grids.
    whole, by_group, split = set(), set(), set()
    for village_id, group_id in db.session.execute(
            sa.select(GridArea.village_id, GridArea.group_id).where(GridArea.village_id.in_(village_ids))):
        if group_id is None:
            whole.add(village_id)
        else:
            by_group.add(group_id)
            split.add(village_id)
    for g in p.grids:
        for v_code, group_name in g.areas:
            village = villages[v_code]
            if village.id in whole:
                continue
            if group_name is None:
                if village.id in split:
                    continue
                whole.add(village.id)
                db.session.add(GridArea(grid_id=grids[g.code].id, village_id=village.id))
            else:
                group = groups[(village.id, group_name)]
                if group.id in by_group:
                    continue
                by_group.add(group.id)
                split.add(village.id)
                db.session.add(GridArea(grid_id=grids[g.code].id, village_id=village.id, group_id=group.id))
            added["grid areas"] += 1
    db.session.flush()

    users = _by(User, "username", [u.username for u in p.users])
    taken_mobiles = set(db.session.scalars(sa.select(User.mobile).where(User.mobile.is_not(None))))
    password_hash = None  # hashed once, shared by every demo account: loading stays fast at any argon2 cost
    scope_ids = {"county": {c: o.id for c, o in counties.items()}, "branch": {c: o.id for c, o in branches.items()},
                 "village": {c: o.id for c, o in villages.items()}}
    existing_grants = {(r.user_id, r.role, r.scope_type, r.scope_id) for r in db.session.scalars(
        sa.select(RoleGrant).where(RoleGrant.user_id.in_([u.id for u in users.values()])))} if users else set()
    for u in p.users:
        user = users.get(u.username)
        if user is None:
            if password_hash is None:
                password_hash = hash_password(DEMO_PASSWORD)
            user = User(username=u.username, name=u.name, password_hash=password_hash, employee_no=u.employee_no,
                        position=u.position, mobile=u.mobile if u.mobile not in taken_mobiles else None)
            taken_mobiles.add(u.mobile)
            users[u.username] = user
            db.session.add(user)
            added["users"] += 1
        for role, scope_type, key in u.roles:
            scope_id = scope_ids[scope_type][key] if scope_type else None
            if user.id is not None and (user.id, role, scope_type, scope_id) in existing_grants:
                continue
            user.roles.append(RoleGrant(role=role, scope_type=scope_type, scope_id=scope_id))
            added["role grants"] += 1
    db.session.flush()

    grid_ids = [g.id for g in grids.values()]
    assignments = list(db.session.scalars(sa.select(Assignment).where(Assignment.grid_id.in_(grid_ids))))
    keys = {(a.grid_id, a.user_id, a.kind) for a in assignments}
    owned_now = {a.grid_id for a in assignments if a.kind == "owner" and a.starts_on <= today
                 and (a.ends_on is None or a.ends_on >= today)}
    for a in p.assignments:
        grid, user = grids[a.grid_code], users[a.username]
        if (grid.id, user.id, a.kind) in keys or (a.kind == "owner" and grid.id in owned_now):
            continue
        db.session.add(Assignment(grid_id=grid.id, user_id=user.id, kind=a.kind,
                                  starts_on=today + timedelta(days=a.start_days),
                                  ends_on=None if a.end_days is None else today + timedelta(days=a.end_days),
                                  note=a.note))
        keys.add((grid.id, user.id, a.kind))
        if a.kind == "owner":
            owned_now.add(grid.id)
        added["assignments"] += 1
    db.session.flush()

    if not added:
        return "org: nothing to add"
    return "org: added " + ", ".join(f"{n} {what}" for what, n in added.items())
