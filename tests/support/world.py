"""A small, fully specified county for web tests: who covers what is known exactly."""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from fieldapp.accounts import services as accounts
from fieldapp.core import clock
from fieldapp.core.idnumber import check_char
from fieldapp.extensions import db
from fieldapp.households.models import Household, Member
from fieldapp.households.rules import search_keys
from fieldapp.households.services import id_hash
from fieldapp.org.models import Assignment, Branch, County, Grid, GridArea, Township, Village, VillageGroup

PASSWORD = "test-pass-123"


def make_id(region: str, birth: str, seq: int) -> str:
    """A valid 18-digit resident ID (GB 11643) for test data."""
    first17 = f"{region}{birth}{seq:03d}"
    return first17 + check_char(first17)


def add_household(village, group, code: str, members: list[tuple[str, str, str]]) -> Household:
    """A household whose first member is the head; members are (name, relation, id_number)."""
    h = Household(county_id=village.county_id, village_id=village.id, group_id=group.id if group else None,
                  code=code, head_name=members[0][0], address=f"{village.name}{group.name if group else ''}")
    db.session.add(h)
    db.session.flush()
    for pos, (name, relation, id_number) in enumerate(members):
        pinyin, initials = search_keys(name)
        db.session.add(Member(household_id=h.id, county_id=village.county_id, position=pos, is_head=pos == 0,
                              name=name, name_pinyin=pinyin, name_initials=initials, id_number=id_number,
                              id_hash=id_hash(id_number), id_last4=id_number[-4:], relation=relation,
                              sex="M" if int(id_number[16]) % 2 else "F"))
    db.session.flush()
    return h


def _village(county, township, code: str, name: str) -> Village:
    v = Village(county_id=county.id, township_id=township.id, stat_code=code, name=name)
    db.session.add(v)
    db.session.flush()
    for g in ("一组", "二组"):
        db.session.add(VillageGroup(county_id=county.id, village_id=v.id, name=g))
    db.session.flush()
    return v


def build_world() -> SimpleNamespace:
    """County A (4 villages, 2 branches, 3 grids) and county B (1 village), one user per role."""
    w = SimpleNamespace()
    today = clock.today()
    w.county = County(admin_code="532931", name="剑川县", label_set="standard")
    w.county_b = County(admin_code="150782", name="牙克石旗", label_set="banner", second_language="mn")
    db.session.add_all([w.county, w.county_b])
    db.session.flush()
    w.t1 = Township(county_id=w.county.id, stat_code="532931101", name="金华镇")
    w.t2 = Township(county_id=w.county.id, stat_code="532931102", name="甸南镇")
    w.tb = Township(county_id=w.county_b.id, stat_code="150782101", name="巴彦苏木")
    db.session.add_all([w.t1, w.t2, w.tb])
    db.session.flush()
    w.v1 = _village(w.county, w.t1, "532931101001", "金星村")
    w.v2 = _village(w.county, w.t1, "532931101002", "龙门村")
    w.v3 = _village(w.county, w.t2, "532931102001", "桃源村")
    w.v4 = _village(w.county, w.t2, "532931102002", "天马村")
    w.vb = _village(w.county_b, w.tb, "150782101001", "乌兰嘎查")
    w.b1 = Branch(county_id=w.county.id, code="B01", name="金华支行")
    w.b2 = Branch(county_id=w.county.id, code="B02", name="甸南支行")
    w.bb = Branch(county_id=w.county_b.id, code="BB1", name="巴彦信用社")
    db.session.add_all([w.b1, w.b2, w.bb])
    db.session.flush()
    w.g1 = Grid(county_id=w.county.id, branch_id=w.b1.id, code="G01", name="金华一网格", level=1)
    db.session.add(w.g1)
    db.session.flush()
    w.g1a = Grid(county_id=w.county.id, branch_id=w.b1.id, parent_id=w.g1.id, code="G01-1", name="龙门一组", level=2)
    w.g2 = Grid(county_id=w.county.id, branch_id=w.b2.id, code="G02", name="甸南网格", level=1)
    w.gb = Grid(county_id=w.county_b.id, branch_id=w.bb.id, code="GB1", name="巴彦网格", level=1)
    db.session.add_all([w.g1a, w.g2, w.gb])
    db.session.flush()
    v2_groups = {g.name: g for g in w.v2.groups}
    db.session.add_all([
        GridArea(grid_id=w.g1.id, village_id=w.v1.id),
        GridArea(grid_id=w.g1a.id, village_id=w.v2.id, group_id=v2_groups["一组"].id),
        GridArea(grid_id=w.g2.id, village_id=w.v3.id),
        GridArea(grid_id=w.g2.id, village_id=w.v2.id, group_id=v2_groups["二组"].id),
        GridArea(grid_id=w.gb.id, village_id=w.vb.id),
    ])

    def user(username, name, *roles):
        return accounts.create_user(username=username, name=name, password=PASSWORD, roles=list(roles))

    w.sysadmin = user("sysadmin", "系统管理员", ("sysadmin", None, None))
    w.hq = user("hq", "总行管理员", ("hq_admin", "county", w.county.id))
    w.manager = user("manager1", "金华支行长", ("branch_manager", "branch", w.b1.id))
    w.officer = user("officer1", "李网格", ("grid_officer", None, None))
    w.officer2 = user("officer2", "王网格", ("grid_officer", None, None))
    w.covered = user("officer3", "赵代班", ("grid_officer", None, None))
    w.secretary = user("secretary1", "张书记", ("village_secretary", "village", w.v1.id))
    w.panel = user("panel1", "杨评议", ("panel_member", "village", w.v1.id))
    w.mediator = user("mediator1", "陈调解", ("mediator", "county", w.county.id))
    w.auditor = user("auditor1", "周稽核", ("auditor", "county", w.county.id))
    w.hq_b = user("hqb", "外县管理员", ("hq_admin", "county", w.county_b.id))
    db.session.add_all([
        Assignment(grid_id=w.g1.id, user_id=w.officer.id, kind="owner", starts_on=today - timedelta(days=30)),
        Assignment(grid_id=w.g2.id, user_id=w.officer2.id, kind="owner", starts_on=today - timedelta(days=30)),
        # a temporary cover that ended yesterday: no longer sees G02
        Assignment(grid_id=w.g2.id, user_id=w.covered.id, kind="cover", starts_on=today - timedelta(days=10),
                   ends_on=today - timedelta(days=1)),
    ])
    db.session.flush()
    g = {v.id: {grp.name: grp for grp in v.groups} for v in (w.v1, w.v2, w.v3, w.vb)}
    w.h1 = add_household(w.v1, g[w.v1.id]["一组"], "H-V1-001", [("张三", "head", make_id("532931", "19700101", 11)),
                                                               ("李四妹", "spouse", make_id("532931", "19720315", 22))])
    w.h2 = add_household(w.v1, g[w.v1.id]["二组"], "H-V1-002", [("单田芳", "head", make_id("532931", "19650505", 31))])
    w.h3 = add_household(w.v2, g[w.v2.id]["一组"], "H-V2-001", [("曾国强", "head", make_id("532931", "19800808", 41))])
    w.h4 = add_household(w.v2, g[w.v2.id]["二组"], "H-V2-002", [("解晓东", "head", make_id("532931", "19901010", 51))])
    w.h5 = add_household(w.v3, g[w.v3.id]["一组"], "H-V3-001", [("王五", "head", make_id("532931", "19751111", 61))])
    w.hb = add_household(w.vb, g[w.vb.id]["一组"], "H-VB-001", [("额尔敦图雅", "head", make_id("150782", "19851212", 72))])
    w.roles = {
        "sysadmin": w.sysadmin, "hq_admin": w.hq, "branch_manager": w.manager, "grid_officer": w.officer,
        "village_secretary": w.secretary, "panel_member": w.panel, "mediator": w.mediator, "auditor": w.auditor,
    }
    return w
