"""`flask demo roster PATH`: a sample roster (.xlsx) to try the import with, including known bad rows.

About 30 rows of new households in the villages the demo's officer1 covers, filled in from the import template
(text-formatted ID and mobile columns), with exactly these faults, one row each:
an ID number stored as a number, a wrong check digit, a village that does not exist, an ID number repeated inside
the file, the ID number of a member the demo county already has, and a mobile number one digit short
(`build_roster(...).bad` maps each sheet row to its problem code). Everything else imports cleanly, and importing
the file a second time adds nothing.

The ID numbers of the good rows use sequence numbers 900-999, which the households layer never gives out, so they
cannot collide with demo members.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from ..core.idnumber import check_char
from . import org

ROSTER_USER = "officer1"       # the demo login whose villages the roster fills
REGION = org.COUNTY[0]
FIRST_DATA_ROW = 2             # the header is row 1

def make_id(birth: str, seq: int, region: str = REGION) -> str:
    first17 = f"{region}{birth}{seq:03d}"
    return first17 + check_char(first17)


def wrong_check(number: str) -> str:
    """The same number with a check character that is not the right one."""
    right = number[-1]
    return number[:-1] + ("1" if right != "1" else "2")


@dataclass(frozen=True)
class SampleRoster:
    rows: list[list]          # data rows in importer.COLUMNS order; a number-stored ID is an int
    bad: dict[int, str]       # sheet row number -> expected problem code
    villages: tuple[str, ...]  # the villages (names) the good rows use

    @property
    def good_rows(self) -> int:
        return len(self.rows) - len(self.bad)


def officer_villages(username: str = ROSTER_USER) -> list[str]:
    """Names of the villages the demo officer covers (grids owned and their child grids), from the org plan."""
    p = org.plan()
    owned = {a.grid_code for a in p.assignments if a.username == username and a.kind == "owner"}
    codes = owned | {g.code for g in p.grids if g.parent_code in owned}
    names = {v.stat_code: v.name for v in p.villages}
    result: list[str] = []
    for g in p.grids:
        if g.code in codes:
            for stat_code, group in g.areas:
                if group is None and names[stat_code] not in result:
                    result.append(names[stat_code])
    return result


def planned_demo_id() -> str:
    """The head of the demo county's first household, as the households layer plans it (before any probing)."""
    import random

    from .households import SEED, household_code, plan_members
    first = org.plan().villages[0].stat_code
    return plan_members(random.Random(f"{SEED}:{household_code(first, 1)}"))[0].id_number


def build_roster(existing_id: str) -> SampleRoster:
    """The sample rows; `existing_id` is an ID number a demo member already holds (the "registered" fault)."""
    v = officer_villages()
    v1, v2, v3, v4 = (v + v[:1] * 4)[:4]
    rows: list[list] = []
    bad: dict[int, str] = {}

    def add(village, group, hh_no, head, name, relation, id_number, mobile="", ethnicity="汉族", education="",
            labour="", fault: str | None = None):
        rows.append([village, group, hh_no, head, name, relation, id_number, mobile, ethnicity, education, labour])
        if fault:
            bad[FIRST_DATA_ROW + len(rows) - 1] = fault

    yang = make_id("19680312", 901)
    zhiqiang = make_id("19941102", 903)
    add(v1, "一组", "", "杨建华", "杨建华", "户主", yang, "13987650001", "白族", "初中", "有劳动能力")
    add(v1, "一组", "", "杨建华", "段丽", "配偶", make_id("19700708", 902), "", "白族", "小学", "有劳动能力")
    add(v1, "一组", "", "杨建华", "杨志强", "儿子", zhiqiang, "13987650003", "白族", "高中", "有劳动能力")
    add(v1, "一组", "", "杨建华", "杨娟", "女儿", int(make_id("19970520", 904)), "", "白族", "大专", "有劳动能力",
        fault="id_number_stored")
    add(v1, "二组", "", "单国庆", "单国庆", "户主", make_id("19591001", 905), "13987650005", "汉族", "小学", "部分")
    add(v1, "二组", "", "单国庆", "曾秀英", "配偶", wrong_check(make_id("19620214", 906)), "", "汉族", "文盲", "部分",
        fault="id:check_digit")
    add(v1, "二组", "", "单国庆", "单田", "子", make_id("19850630", 907), "13987650007", "汉族", "初中", "有劳动能力")
    add(v2, "一组", "", "解文", "解文", "户主", make_id("19750909", 909), "13987650009", "汉族", "高中", "有劳动能力")
    add(v2, "一组", "", "解文", "李梅", "配偶", make_id("19780417", 908), "1398765001", "汉族", "初中", "有劳动能力",
        fault="mobile:format")
    add(v2, "一组", "", "解文", "解小明", "儿子", make_id("20060101", 911), "", "汉族", "初中", "")
    add("白云山村", "一组", "", "王大山", "王大山", "户主", make_id("19660606", 913), "13987650013", "汉族", "小学",
        "有劳动能力", fault="village_unknown")
    add(v3, "三组", "", "额尔敦图雅", "额尔敦图雅", "户主", make_id("19801212", 910), "13987650010", "蒙古族", "大专",
        "有劳动能力")
    add(v3, "三组", "", "额尔敦图雅", "巴特尔", "配偶", make_id("19790303", 915), "", "蒙古族", "高中", "有劳动能力")
    add(v3, "三组", "", "额尔敦图雅", "阿依古丽·买买提", "其他", make_id("19990808", 912), "13987650012", "维吾尔族",
        "本科", "有劳动能力")
    add(v1, "三组", "", "赵永福", "赵永福", "户主", make_id("19550505", 917), "", "汉族", "小学", "部分")
    add(v1, "三组", "", "赵永福", "钱桂英", "配偶", make_id("19570722", 914), "", "汉族", "文盲", "无")
    add(v1, "三组", "", "赵永福", "赵德胜", "孙子", existing_id, "", "汉族", "初中", "",
        fault="registered_elsewhere")
    add(v1, "三组", "", "赵永福", "赵小兰", "孙女", zhiqiang, "", "汉族", "小学", "", fault="duplicate_in_file")
    # Two households in one village whose heads share a name: the 户号 column tells them apart.
    add(v4, "二组", "A12", "李国华", "李国华", "户主", make_id("19720101", 919), "13987650019", "汉族", "初中", "有劳动能力")
    add(v4, "二组", "A12", "李国华", "周燕", "配偶", make_id("19740219", 916), "13987650016", "汉族", "初中", "有劳动能力")
    add(v4, "二组", "A13", "李国华", "李国华", "户主", make_id("19810815", 921), "13987650021", "汉族", "高中", "有劳动能力")
    add(v4, "二组", "A13", "李国华", "李浩", "儿子", make_id("20100320", 923), "", "汉族", "小学", "")
    add(v4, "四组", "", "段金花", "段金花", "户主", make_id("19480211", 918), "", "白族", "文盲", "无")
    add(v2, "二组", "", "何正明", "何正明", "户主", make_id("19880118", 925), "139 8765 0025", "白族", "中专", "有劳动能力")
    add(v2, "二组", "", "何正明", "杨丽萍", "妻子", make_id("19900521", 920), "+86 13987650020", "白族", "高中",
        "有劳动能力")
    add(v2, "二组", "", "何正明", "何思雨", "女儿", make_id("20150605", 922), "", "白族", "学龄前", "")
    add(v2, "二组", "", "何正明", "何永", "父亲", make_id("19600412", 927), "", "白族", "小学", "部分")
    add(v3, "一组", "", "苏和巴特尔", "苏和巴特尔", "户主", make_id("19700707", 929), "13987650029", "蒙古族", "初中",
        "有劳动能力")
    add(v3, "一组", "", "苏和巴特尔", "其其格", "配偶", make_id("19721130", 924), "", "蒙古族", "初中", "有劳动能力")
    add(v1, "四组", "", "仇建国", "仇建国", "户主", make_id("19630909", 931), "13987650031", "汉族", "初中", "有劳动能力")
    return SampleRoster(rows=rows, bad=bad, villages=tuple(dict.fromkeys([v1, v2, v3, v4])))


def write_roster(roster: SampleRoster, path) -> Path:
    """Fill the import template with the sample rows and save it."""
    from ..households.importer import template_workbook
    wb = template_workbook()
    ws = wb.worksheets[0]
    for r, values in enumerate(roster.rows, start=FIRST_DATA_ROW):
        for c, value in enumerate(values, start=1):
            cell = ws.cell(row=r, column=c, value=value if value != "" else None)
            if isinstance(value, int):
                cell.number_format = "0"  # the fault on purpose: an ID typed into a numeric cell
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def demo_member_id() -> str:
    """An ID number a demo member holds now (the first household's head), or the planned one before loading."""
    from ..extensions import db
    from ..households.models import Household, Member
    first = org.plan().villages[0].stat_code
    number = db.session.scalar(
        sa.select(Member.id_number).join(Household, Household.id == Member.household_id)
        .where(Household.code.startswith(f"{first}-"), Member.is_head, Member.id_number.is_not(None))
        .order_by(Household.code).limit(1))
    return number or planned_demo_id()


@click.command("roster")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@with_appcontext
def roster_command(path: str) -> None:
    """Write a sample roster (.xlsx) with duplicates and bad rows, for officer1's villages."""
    roster = build_roster(demo_member_id())
    written = write_roster(roster, path)
    click.echo(f"wrote {written}: {len(roster.rows)} rows, {len(roster.bad)} with known faults "
               f"(import as {ROSTER_USER}):")
    for row_no, code in sorted(roster.bad.items()):
        click.echo(f"  row {row_no}: {code}")
