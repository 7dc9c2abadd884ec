"""Roster import: the template, a row-by-row preview that writes nothing, a commit of the valid rows, re-import = no-op."""
from __future__ import annotations

import io
import re

import openpyxl
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldapp.core.audit import AuditEvent
from fieldapp.core.idempotency import IdempotencyKey
from fieldapp.core.idnumber import parse_id_number
from fieldapp.demo import DEMO_PASSWORD
from fieldapp.extensions import db
from fieldapp.demo.roster import wrong_check
from fieldapp.households import import_views, importer
from fieldapp.households.rules import search_keys
from fieldapp.households.models import Household, Member
from tests.conftest import HX, login
from tests.support.world import make_id

HEADER = [c.header for c in importer.COLUMNS]
NUMBER_STORED_ZH = "身份证号被存成了数字，请把该列设为文本后重新填写"


def xlsx(rows: list[list], header: list[str] = HEADER) -> bytes:
    """A workbook filled in from the template (text-formatted ID and mobile columns)."""
    wb = importer.template_workbook()
    ws = wb.worksheets[0]
    for c, value in enumerate(header, start=1):
        ws.cell(row=1, column=c, value=value)
    for r, values in enumerate(rows, start=2):
        for c, value in enumerate(values, start=1):
            ws.cell(row=r, column=c, value=None if value == "" else value)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def csv_bytes(rows: list[list], encoding: str, header: list[str] = HEADER) -> bytes:
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def upload(client, data: bytes, filename: str = "roster.xlsx", headers=None):
    return client.post("/households/import", data={"file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data", headers=headers or {})


def statuses(resp) -> dict[int, tuple[str, str]]:
    """Row number -> (status, problem codes) as the preview lists them."""
    html = resp.get_data(as_text=True)
    found = {}
    for m in re.finditer(r'<li data-row="(\d+)" data-status="(\w+)"(?: data-problems="([^"]*)")?', html):
        found[int(m.group(1))] = (m.group(2), m.group(3) or "")
    return found


def commit(client, resp, key: str | None = None):
    html = resp.get_data(as_text=True)
    action = re.search(r'<form id="import-commit" method="post" action="([^"]+)"', html)
    assert action, "no commit form on the preview"
    if key is None:
        key = re.search(r'name="idem_key" type="hidden" value="([^"]+)"', html).group(1)
    return client.post(action.group(1), data={"idem_key": key})


def token_of(resp) -> str:
    return re.search(r"/households/import/([A-Za-z0-9_-]+)/report\.csv", resp.get_data(as_text=True)).group(1)


def counts() -> dict[str, int]:
    return {m.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(m))
            for m in (Household, Member, AuditEvent)}


def person(village, group, head, name, relation, id_number, mobile="", ethnicity="汉族", education="初中",
           labour="有劳动能力", household_no=""):
    return [village, group, household_no, head, name, relation, id_number, mobile, ethnicity, education, labour]


# IDs the world does not hold (its members use sequence numbers 011-072).
ZHAO = make_id("532931", "19680312", 101)
QIAN = make_id("532931", "19700708", 102)
ZHAO_SON = make_id("532931", "19941102", 103)
SUN = make_id("532931", "19550505", 105)


def family_rows():
    return [person("金星村", "一组", "赵六", "赵六", "户主", ZHAO, "13987650001"),
            person("金星村", "一组", "赵六", "钱七", "配偶", QIAN),
            person("金星村", "一组", "赵六", "赵小六", "儿子", ZHAO_SON, "", education="高中"),
            person("龙门村", "1组", "孙八", "孙八", "户主", SUN, "139 8765 0005", education="小学", labour="部分")]


# ---------------------------------------------------------------- template and upload form

def test_template_has_the_columns_and_text_formatted_id_and_mobile(client, world):
    login(client, world.officer)
    page = client.get("/households/import")
    assert page.status_code == 200 and 'id="import-form"' in page.get_data(as_text=True)
    resp = client.get("/households/import/template.xlsx")
    assert resp.status_code == 200 and resp.mimetype == import_views.XLSX_MIME
    wb = openpyxl.load_workbook(io.BytesIO(resp.data))
    ws = wb.worksheets[0]
    assert [c.value for c in ws[1]] == HEADER
    for key in ("id_number", "mobile"):
        letter = openpyxl.utils.get_column_letter(importer.COLUMN_KEYS.index(key) + 1)
        assert ws.column_dimensions[letter].number_format == "@"
        assert ws[f"{letter}2"].number_format == "@"


def test_upload_form_fragment_and_missing_file_is_422(client, world):
    login(client, world.manager)
    assert client.get("/households/import", headers=HX).get_data(as_text=True).lstrip().startswith("<form")
    resp = client.post("/households/import", data={})
    assert resp.status_code == 422 and 'aria-invalid="true"' in resp.get_data(as_text=True)


@pytest.mark.parametrize("data, fragment", [
    pytest.param(b"", "文件是空的", id="empty"),
    pytest.param(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "另存为 .xlsx", id="old-xls"),
    pytest.param("姓名,电话\n张三,1\n".encode(), "表头缺少这些列", id="missing-columns"),
    pytest.param(b"PK\x03\x04garbage", "无法读取文件", id="broken-zip"),
    pytest.param(b"\x80\xff" * 50, "编码", id="bad-encoding"),
])
def test_a_file_that_cannot_be_imported_says_why_with_422(client, world, data, fragment):
    login(client, world.officer)
    before = counts()
    resp = upload(client, data, "x.csv")
    assert resp.status_code == 422
    assert fragment in resp.get_data(as_text=True)
    assert counts() == before


# ---------------------------------------------------------------- preview and commit

def test_preview_writes_nothing_then_commit_writes_the_valid_rows(client, world):
    login(client, world.officer)
    before = counts()
    resp = upload(client, xlsx(family_rows()))
    assert resp.status_code == 200, resp.get_data(as_text=True)[:2000]
    assert statuses(resp) == {2: ("ok", ""), 3: ("ok", ""), 4: ("ok", ""), 5: ("ok", "")}
    assert counts() == before, "a preview writes nothing"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(IdempotencyKey)) == 0

    done = commit(client, resp)
    assert done.status_code == 303 and done.headers["Location"].endswith("/households/import")
    after = counts()
    assert after["households"] == before["households"] + 2
    assert after["members"] == before["members"] + 4
    assert after["audit_events"] > before["audit_events"], "creates are audited by the session listener"

    zhao = db.session.scalar(sa.select(Household).where(Household.head_name == "赵六"))
    assert zhao.village_id == world.v1.id and zhao.file_status == "new"
    assert zhao.code.startswith(world.v1.stat_code + "-")
    assert zhao.group_id == next(g.id for g in world.v1.groups if g.name == "一组")
    members = {m.name: m for m in zhao.members}
    assert [m.name for m in sorted(zhao.members, key=lambda m: m.position)] == ["赵六", "钱七", "赵小六"]
    head = members["赵六"]
    assert head.is_head and head.relation == "head" and head.id_number == ZHAO
    assert (head.name_pinyin, head.name_initials) == ("zhaoliu", "zl")
    assert head.sex == "M" and head.birth_date.isoformat() == "1968-03-12" and head.id_last4 == ZHAO[-4:]
    from fieldapp.households.services import id_hash
    assert head.id_hash == id_hash(ZHAO)
    assert head.mobile == "13987650001" and head.mobile_last4 == "0001" and zhao.phone == "13987650001"
    assert members["钱七"].relation == "spouse" and members["钱七"].sex == "F"
    assert members["赵小六"].relation == "child" and members["赵小六"].education == "senior"
    sun = db.session.scalar(sa.select(Household).where(Household.head_name == "孙八"))
    assert sun.village_id == world.v2.id
    assert sun.members[0].mobile == "13987650005" and sun.members[0].labour_capacity == "partial"

    flash = client.get("/households/import").get_data(as_text=True)
    assert "2" in flash and "4" in flash


def test_reimporting_the_same_file_changes_nothing(client, world):
    login(client, world.officer)
    data = xlsx(family_rows())
    assert commit(client, upload(client, data)).status_code == 303
    first = counts()
    again = upload(client, data)
    assert {s for s, _ in statuses(again).values()} == {"exists"}
    assert 'id="import-commit"' not in again.get_data(as_text=True)
    # Even a forced commit of the second upload writes nothing.
    forced = client.post(f"/households/import/{token_of(again)}/commit", data={"idem_key": "again-0123456789"})
    assert forced.status_code == 303
    now = counts()
    assert (now["households"], now["members"]) == (first["households"], first["members"])


def test_new_members_join_a_registered_household(client, world):
    login(client, world.officer)
    commit(client, upload(client, xlsx(family_rows()[:2])))
    grandson = make_id("532931", "20150101", 107)
    resp = upload(client, xlsx(family_rows()[:2] + [person("金星村", "一组", "赵六", "赵宝宝", "孙子", grandson)]))
    assert statuses(resp) == {2: ("exists", ""), 3: ("exists", ""), 4: ("ok", "")}
    before = counts()
    commit(client, resp)
    assert counts()["households"] == before["households"]
    household = db.session.scalar(sa.select(Household).where(Household.head_name == "赵六"))
    assert [m.name for m in sorted(household.members, key=lambda m: m.position)] == ["赵六", "钱七", "赵宝宝"]


def test_commit_is_idempotent_a_double_post_writes_once(client, world):
    login(client, world.officer)
    resp = upload(client, xlsx(family_rows()))
    before = counts()
    first = commit(client, resp, key="double-tap-key-0001")
    second = commit(client, resp, key="double-tap-key-0001")
    assert first.status_code == second.status_code == 303
    assert second.headers.get("Idempotent-Replayed") == "true"
    after = counts()
    assert (after["households"], after["members"]) == (before["households"] + 2, before["members"] + 4)


def test_someone_elses_upload_cannot_be_committed(client, world, app):
    login(client, world.officer)
    token = token_of(upload(client, xlsx(family_rows())))
    other = app.test_client()
    login(other, world.manager)
    assert other.post(f"/households/import/{token}/commit", data={"idem_key": "other-key-000001"}).status_code == 404
    assert other.get(f"/households/import/{token}/report.csv").status_code == 404
    assert client.post("/households/import/not-a-token/commit", data={"idem_key": "k-0000000001"}).status_code == 404


def test_report_csv_lists_every_row(client, world):
    login(client, world.officer)
    rows = family_rows() + [person("金星村", "一组", "赵六", "李九", "女儿", wrong_check(make_id("532931", "19990101", 109)))]
    resp = upload(client, xlsx(rows))
    report = client.get(f"/households/import/{token_of(resp)}/report.csv")
    assert report.status_code == 200 and report.mimetype == "text/csv"
    text = report.data.decode("utf-8-sig")
    lines = text.strip().splitlines()
    assert len(lines) == 1 + len(rows)
    assert "校验位" in lines[-1] and ZHAO not in text and ZHAO[:6] + "********" + ZHAO[-4:] in text


# ---------------------------------------------------------------- what is refused, row by row

def test_an_id_stored_as_a_number_is_rejected_on_every_such_row(client, world):
    login(client, world.officer)
    rows = [person("金星村", "一组", name, name, "户主", int(make_id("532931", "19700101", 120 + 2 * i)))
            for i, name in enumerate(("周一", "周二", "周三"), start=1)]
    rows[2][6] = float(rows[2][6])
    rows.append(person("金星村", "二组", "吴十", "吴十", "户主", make_id("532931", "19710101", 131)))
    resp = upload(client, xlsx(rows))
    got = statuses(resp)
    assert got == {2: ("error", "id_number_stored"), 3: ("error", "id_number_stored"),
                   4: ("error", "id_number_stored"), 5: ("ok", "")}
    assert resp.get_data(as_text=True).count(NUMBER_STORED_ZH) == 3


def test_a_csv_with_the_id_in_scientific_notation_is_rejected(client, world):
    login(client, world.officer)
    rows = [person("金星村", "一组", "周一", "周一", "户主", "5.32931E+17"),
            person("金星村", "一组", "郑二", "郑二", "户主", "532931197001011234.0")]
    resp = upload(client, csv_bytes(rows, "gbk"), "roster.csv")
    assert statuses(resp) == {2: ("error", "id_number_stored"), 3: ("error", "id_number_stored")}
    assert NUMBER_STORED_ZH in resp.get_data(as_text=True)


def test_english_messages_for_english_users(client, world):
    login(client, world.officer)
    client.set_cookie("lang", "en")
    resp = upload(client, xlsx([person("金星村", "一组", "周一", "周一", "户主", 532931197001011234)]))
    assert "The ID number was stored as a number" in resp.get_data(as_text=True)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "gbk", "gb18030"])
def test_csv_in_utf8_with_or_without_bom_and_in_gbk(client, world, encoding):
    login(client, world.officer)
    data = csv_bytes(family_rows(), encoding)
    if encoding == "utf-8-sig":
        assert data.startswith(b"\xef\xbb\xbf")
    resp = upload(client, data, "花名册.csv")
    assert statuses(resp) == {2: ("ok", ""), 3: ("ok", ""), 4: ("ok", ""), 5: ("ok", "")}
    assert commit(client, resp).status_code == 303
    names = set(db.session.scalars(sa.select(Member.name).where(Member.id_number.in_([ZHAO, QIAN, ZHAO_SON, SUN]))))
    assert names == {"赵六", "钱七", "赵小六", "孙八"}


def test_rows_outside_the_officers_area_are_rejected_and_not_written(client, world):
    login(client, world.officer)
    rows = [person("桃源村", "一组", "甲乙", "甲乙", "户主", make_id("532931", "19700101", 141)),   # officer2's village
            person("龙门村", "二组", "丙丁", "丙丁", "户主", make_id("532931", "19700101", 143)),   # the other group
            person("龙门村", "", "戊己", "戊己", "户主", make_id("532931", "19700101", 145)),       # group needed
            person("乌兰嘎查", "一组", "庚辛", "庚辛", "户主", make_id("150782", "19700101", 147)),  # another county
            person("金星村", "九组", "壬癸", "壬癸", "户主", make_id("532931", "19700101", 149)),     # no such group
            person("金星村", "一组", "钱多", "钱多", "户主", make_id("532931", "19700101", 151))]
    resp = upload(client, xlsx(rows))
    assert statuses(resp) == {2: ("error", "out_of_area"), 3: ("error", "out_of_area"),
                              4: ("error", "group_required"), 5: ("error", "village_unknown"),
                              6: ("error", "group_unknown"), 7: ("ok", "")}
    before = counts()
    commit(client, resp)
    assert counts()["members"] == before["members"] + 1
    written = set(db.session.scalars(sa.select(Member.name)))
    assert not written & {"甲乙", "丙丁", "戊己", "庚辛", "壬癸"} and "钱多" in written
    # The officer of that village may import the same rows.
    other = client.application.test_client()
    login(other, world.officer2)
    assert statuses(upload(other, xlsx(rows[:1]))) == {2: ("ok", "")}


def test_duplicates_inside_the_file_and_against_registered_members(client, world):
    login(client, world.officer)
    commit(client, upload(client, xlsx(family_rows())))
    rows = [person("金星村", "二组", "冯一", "冯一", "户主", make_id("532931", "19600101", 161)),
            person("金星村", "二组", "冯一", "冯二", "儿子", make_id("532931", "19900101", 163)),
            person("金星村", "二组", "冯一", "冯三", "女儿", make_id("532931", "19900101", 163)),  # same as row 3
            person("金星村", "二组", "冯一", "钱七", "其他", QIAN),                                  # registered
            person("金星村", "二组", "冯一", "冯四", "配偶", make_id("532931", "19620101", 164), "1380013800")]
    resp = upload(client, xlsx(rows))
    assert statuses(resp) == {2: ("ok", ""), 3: ("ok", ""), 4: ("error", "duplicate_in_file"),
                              5: ("error", "registered_elsewhere"), 6: ("error", "mobile:format")}
    html = resp.get_data(as_text=True)
    assert "与第 3 行重复" in html and "金星村" in html and "赵*" in html  # where it exists, masked


def test_household_rules_head_rows_and_names(client, world):
    login(client, world.officer)
    rows = [person("金星村", "一组", "褚一", "褚二", "儿子", make_id("532931", "19900101", 171)),     # no head row
            person("金星村", "一组", "卫一", "卫一", "户主", wrong_check(make_id("532931", "19600101", 173))),
            person("金星村", "一组", "卫一", "卫二", "儿子", make_id("532931", "19900101", 175)),     # head invalid
            person("金星村", "一组", "蒋一", "蒋二", "户主", make_id("532931", "19600101", 177)),     # name mismatch
            person("金星村", "一组", "沈一", "沈一", "户主", make_id("532931", "19600101", 179)),
            person("金星村", "一组", "沈一", "沈一", "户主", make_id("532931", "19600101", 181)),     # second head
            person("金星村", "一组", "沈一", "韩1", "其他", make_id("532931", "19600101", 183)),      # digits
            person("金星村", "一组", "沈一", "杨一", "老板", make_id("532931", "19600101", 185)),     # relation
            person("金星村", "一组", "额尔敦图雅", "额尔敦图雅", "户主", make_id("532931", "19600101", 186),
                   ethnicity="蒙古", education="大专"),
            person("金星村", "一组", "额尔敦图雅", "阿依古丽·买买提", "其他", make_id("532931", "19990101", 188))]
    got = statuses(resp := upload(client, xlsx(rows)))
    assert got == {2: ("error", "no_head_row"), 3: ("error", "id:check_digit"), 4: ("error", "head_row_invalid"),
                   5: ("error", "head_name_mismatch"), 6: ("ok", ""), 7: ("error", "second_head"),
                   8: ("error", "name_invalid"), 9: ("error", "relation_unknown"), 10: ("ok", ""), 11: ("ok", "")}
    commit(client, resp)
    member = db.session.scalar(sa.select(Member).where(Member.id_number == make_id("532931", "19600101", 186)))
    assert member.ethnicity == "蒙古族" and member.education == "college"
    dotted = db.session.scalar(sa.select(Member).where(Member.name == "阿依古丽·买买提"))
    assert (dotted.name_pinyin, dotted.name_initials) == search_keys("阿依古丽·买买提")


def test_a_title_row_above_the_header_is_skipped(client, world):
    login(client, world.officer)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["金星村农户花名册（2026年）"])
    ws.append(["填表人：张书记"])
    ws.append(["序号"] + HEADER)
    for i, row in enumerate(family_rows()[:2], start=1):
        ws.append([i] + row)
    out = io.BytesIO()
    wb.save(out)
    assert statuses(upload(client, out.getvalue())) == {4: ("ok", ""), 5: ("ok", "")}


def test_household_number_separates_heads_with_the_same_name(client, world):
    login(client, world.officer)
    rows = [person("金星村", "二组", "李国华", "李国华", "户主", make_id("532931", "19720101", 191), household_no="A12"),
            person("金星村", "二组", "李国华", "周燕", "配偶", make_id("532931", "19740219", 192), household_no="A12"),
            person("金星村", "二组", "李国华", "李国华", "户主", make_id("532931", "19810815", 193), household_no="A13")]
    resp = upload(client, xlsx(rows))
    assert {s for s, _ in statuses(resp).values()} == {"ok"}
    before = counts()
    commit(client, resp)
    assert counts()["households"] == before["households"] + 2


# ---------------------------------------------------------------- malformed input never gives a 500

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(data=st.binary(max_size=3000))
def test_random_bytes_as_an_upload_never_give_a_500(client, world, data):
    login(client, world.officer)
    before = counts()
    resp = upload(client, data, "random.xlsx")
    assert resp.status_code in (200, 422)
    assert counts() == before


@SETTINGS
@given(data=st.binary(max_size=2000))
def test_random_bytes_inside_a_zip_never_give_a_500(client, world, data):
    login(client, world.officer)
    resp = upload(client, b"PK\x03\x04" + data, "random.xlsx")
    assert resp.status_code == 422


cell = st.one_of(st.text(max_size=25), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.none(),
                 st.sampled_from(["金星村", "龙门村", "一组", "户主", "配偶", ZHAO, QIAN, "13987650001", "1.2E+17"]))


@SETTINGS
@given(rows=st.lists(st.lists(cell, min_size=0, max_size=13), min_size=1, max_size=8))
def test_random_cells_never_give_a_500_or_a_partial_write(client, world, rows):
    login(client, world.officer)
    try:
        data = xlsx(rows)
    except Exception:  # noqa: BLE001 - openpyxl refuses control characters in cells: not our input to test
        return
    resp = upload(client, data)
    assert resp.status_code in (200, 422)
    if resp.status_code == 200 and 'id="import-commit"' in resp.get_data(as_text=True):
        before = counts()
        done = commit(client, resp)
        assert done.status_code == 303
        ok_rows = sum(1 for s, _ in statuses(resp).values() if s == "ok")
        assert counts()["members"] - before["members"] == ok_rows


def test_every_member_id_written_is_valid(client, world):
    login(client, world.officer)
    commit(client, upload(client, xlsx(family_rows())))
    from fieldapp.core import clock
    for number in db.session.scalars(sa.select(Member.id_number).where(Member.id_number.is_not(None))):
        parse_id_number(number, clock.today())


# ---------------------------------------------------------------- the sample roster of the demo county

@pytest.fixture
def small_demo(app):
    result = app.test_cli_runner().invoke(args=["demo", "load", "--households", "300"])
    assert result.exit_code == 0, result.output
    db.session.remove()


def test_the_sample_roster_reports_exactly_its_bad_rows(app, small_demo, tmp_path):
    from fieldapp.demo.roster import build_roster, demo_member_id
    result = app.test_cli_runner().invoke(args=["demo", "roster", str(tmp_path / "roster.xlsx")])
    assert result.exit_code == 0, result.output
    roster = build_roster(demo_member_id())
    for row_no, code in roster.bad.items():
        assert f"row {row_no}: {code}" in result.output
    client = app.test_client()
    login(client, "officer1", DEMO_PASSWORD)
    before = counts()
    resp = upload(client, (tmp_path / "roster.xlsx").read_bytes())
    assert resp.status_code == 200
    got = statuses(resp)
    assert len(got) == len(roster.rows) >= 28
    assert {row: codes for row, (status, codes) in got.items() if status == "error"} == roster.bad
    assert {status for row, (status, _) in got.items() if row not in roster.bad} == {"ok"}
    assert counts() == before

    assert commit(client, resp).status_code == 303
    after = counts()
    assert after["members"] - before["members"] == roster.good_rows
    heads = sum(1 for row in roster.rows if row[5] == "户主") - sum(
        1 for r, code in roster.bad.items() if roster.rows[r - 2][5] == "户主")
    assert after["households"] - before["households"] == heads

    again = upload(client, (tmp_path / "roster.xlsx").read_bytes())
    assert {row: codes for row, (status, codes) in statuses(again).items() if status == "error"} == roster.bad
    assert {status for row, (status, _) in statuses(again).items() if row not in roster.bad} == {"exists"}
    forced = client.post(f"/households/import/{token_of(again)}/commit", data={"idem_key": "roster-again-01"})
    assert forced.status_code == 303
    final = counts()
    assert (final["households"], final["members"]) == (after["households"], after["members"])
