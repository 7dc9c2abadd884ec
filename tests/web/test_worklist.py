"""The grid officer's worklist, a village's households, search (one SQL statement), and the village summary."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import event

from fieldapp.core import clock
from fieldapp.extensions import db
from fieldapp.visits.models import Visit
from tests.conftest import HX, login
from tests.support.world import add_household, make_id

BOOSTED = {**HX, "HX-Boosted": "true"}


def text(resp) -> str:
    return resp.get_data(as_text=True)


def group(village, name):
    return next(g for g in village.groups if g.name == name)


def visit(household, staff, outcome="done", days_ago=1):
    db.session.add(Visit(household_id=household.id, county_id=household.county_id, village_id=household.village_id,
                         group_id=household.group_id, staff_id=staff.id, purpose="first", outcome=outcome,
                         started_at=clock.utcnow_naive() - timedelta(days=days_ago)))


def assert_page_fragment_boosted(client, url, container):
    full, frag, boosted = client.get(url), client.get(url, headers=HX), client.get(url, headers=BOOSTED)
    for resp in (full, boosted):
        assert resp.status_code == 200 and "<html" in text(resp) and f'id="{container}"' in text(resp)
    assert frag.status_code == 200 and "<html" not in text(frag)
    assert re.match(rf'\s*(\{{#.*?#\}}\s*)?<div id="{container}"', text(frag)), text(frag)[:200]
    assert "HX-Request" in frag.headers["Vary"]
    return full, frag


# ---------------------------------------------------------------- worklist

def test_worklist_shows_my_villages_with_coverage(client, world):
    visit(world.h1, world.officer)                       # 完成
    visit(world.h2, world.officer, outcome="not_home")   # not a completed visit
    db.session.commit()
    login(client, world.officer)
    full, frag = assert_page_fragment_boosted(client, "/worklist", "worklist-villages")
    body = text(full)
    assert "金星村" in body and "龙门村" in body
    assert "桃源村" not in body and "乌兰嘎查" not in body
    # 金星村: 1 of 2 households visited with outcome 完成; 龙门村: the officer sees only 一组 (h3)
    client.set_cookie("lang", "en")
    body = text(client.get("/worklist"))
    assert "Visited 1 of 2 households (50%)" in body
    assert "Visited 0 of 1 households (0%)" in body
    assert 'id="household-q"' in body and 'hx-sync="this:replace"' in body


def test_returned_files_come_first_on_the_worklist(client, world):
    world.h2.file_status = "returned"
    db.session.commit()
    login(client, world.officer)
    body = text(client.get("/worklist"))
    assert body.index("单田芳") < body.index("金星村")


@pytest.mark.parametrize("role", ["village_secretary", "panel_member", "sysadmin", "mediator"])
def test_roles_without_credit_files_get_no_worklist(client, world, role):
    login(client, world.roles[role])
    assert client.get("/worklist").status_code == 403
    assert client.get("/households/search?q=zs").status_code == 403


# ---------------------------------------------------------------- a village's households

@pytest.fixture
def village_one(world):
    """金星村 with a returned file, two due visits, a future visit and moved-out household besides h1, h2."""
    today = clock.today()
    g1 = group(world.v1, "一组")
    g2 = group(world.v1, "二组")
    w = world
    w.due_old = add_household(w.v1, g2, "H-V1-010", [("周久", "head", make_id("532931", "19600101", 101))])
    w.due_old.next_visit_on = today - timedelta(days=5)
    w.due_today = add_household(w.v1, g1, "H-V1-011", [("吴今", "head", make_id("532931", "19600102", 103))])
    w.due_today.next_visit_on = today
    w.later = add_household(w.v1, g1, "H-V1-003", [("郑明", "head", make_id("532931", "19600103", 105))])
    w.later.next_visit_on = today + timedelta(days=3)
    w.returned = add_household(w.v1, g2, "H-V1-099", [("钱退", "head", make_id("532931", "19600104", 107))])
    w.returned.file_status = "returned"
    w.gone = add_household(w.v1, g1, "H-V1-004", [("冯走", "head", make_id("532931", "19600105", 109))])
    w.gone.status = "moved_out"
    w.h1.last_visit_outcome = "not_home"
    db.session.commit()
    return w


def test_village_lists_returned_then_due_then_the_rest(client, village_one):
    w = village_one
    login(client, w.officer)
    client.set_cookie("lang", "en")
    full, frag = assert_page_fragment_boosted(client, f"/worklist/villages/{w.v1.id}", "household-rows")
    body = text(frag)
    order = [body.index(name) for name in ("钱退", "周久", "吴今", "张三", "单田芳", "郑明")]
    assert order == sorted(order), body
    assert "冯走" not in body  # moved out: no longer on the worklist
    assert "Nobody at home" in body and "Not visited" in body
    assert "Visit due" in body


@pytest.mark.parametrize(("query", "present", "absent"), [
    pytest.param("state=returned", ["钱退"], ["张三", "周久"], id="state"),
    pytest.param("due=1", ["周久", "吴今"], ["郑明", "张三", "钱退"], id="due"),
    pytest.param("group={g2}", ["单田芳", "周久", "钱退"], ["张三", "吴今"], id="group"),
    pytest.param("state=bogus&group=999999&due=x", ["张三", "钱退"], [], id="junk-ignored"),
])
def test_village_filters(client, village_one, query, present, absent):
    w = village_one
    login(client, w.officer)
    url = f"/worklist/villages/{w.v1.id}?" + query.replace("{g2}", str(group(w.v1, "二组").id))
    resp = client.get(url, headers=HX)
    assert resp.status_code == 200
    for name in present:
        assert name in text(resp), name
    for name in absent:
        assert name not in text(resp), name


def test_village_shows_only_the_groups_i_cover(client, world):
    login(client, world.officer)  # covers 龙门村 一组 only
    body = text(client.get(f"/worklist/villages/{world.v2.id}"))
    assert "曾国强" in body and "解晓东" not in body
    assert client.get(f"/worklist/villages/{world.v3.id}").status_code == 404
    assert client.get(f"/worklist/villages/{world.vb.id}").status_code == 404


def test_village_pages_by_thirty(client, world):
    g1 = group(world.v1, "一组")
    for i in range(33):
        add_household(world.v1, g1, f"H-P-{i:03d}", [(f"测试{i:02d}", "head", make_id("532931", "19800101", 200 + i))])
    db.session.commit()
    login(client, world.officer)
    client.set_cookie("lang", "en")
    first = text(client.get(f"/worklist/villages/{world.v1.id}"))
    assert first.count('class="card-link"') == 30 and "Page 1 of 2" in first
    second = text(client.get(f"/worklist/villages/{world.v1.id}?page=2", headers=HX))
    assert second.count('class="card-link"') == 5
    assert "35 households" in second
    huge = client.get(f"/worklist/villages/{world.v1.id}?page=999999999999999999999999")
    assert huge.status_code == 200


# ---------------------------------------------------------------- search

def search(client, q, **kw):
    return client.get("/households/search", query_string={"q": q}, **kw)


def hits(resp) -> str:
    """The text of the result cards only (not the search box's hint)."""
    return "\n".join(re.findall(r'<a class="card-link".*?</a>', text(resp), re.S))


@pytest.mark.parametrize(("q", "found", "not_found"), [
    pytest.param("zs", ["张三"], ["单田芳"], id="initials-zs"),
    pytest.param("stf", ["单田芳"], ["张三"], id="initials-stf-surname-shan"),
    pytest.param("shan", ["单田芳"], ["张三"], id="pinyin-shan"),
    pytest.param("shantianf", ["单田芳"], [], id="pinyin-prefix"),
    pytest.param("Zhang San", ["张三"], [], id="pinyin-spaced-uppercase"),
    pytest.param("zgq", ["曾国强"], [], id="surname-zeng"),
    pytest.param("lsm", ["张三", "李四妹"], [], id="matches-a-member-not-the-head"),
    pytest.param("田芳", ["单田芳"], ["张三"], id="chinese-substring"),
    pytest.param("dan", [], ["单田芳"], id="not-the-ordinary-reading"),
    pytest.param("xxd", [], ["解晓东"], id="out-of-my-grid"),
    pytest.param("wang", [], ["王五"], id="other-grid"),
    pytest.param("%", [], ["张三", "单田芳"], id="like-wildcard-is-literal"),
    pytest.param("z_", [], ["张三"], id="underscore-is-literal"),
])
def test_search_by_name_pinyin_initials(client, world, q, found, not_found):
    login(client, world.officer)
    body = hits(search(client, q, headers=HX))
    for name in found:
        assert name in body, (q, name)
    for name in not_found:
        assert name not in body, (q, name)


def test_search_by_last_four_of_id_or_mobile(client, world):
    login(client, world.officer)
    head = world.h2.members[0]
    assert "单田芳" in hits(search(client, head.id_number[-4:]))
    spouse = world.h1.members[1]
    spouse.mobile, spouse.mobile_last4 = "13987654321", "4321"
    db.session.commit()
    assert "张三" in hits(search(client, "4321"))
    # lower-case x as the last character is the same as X
    xid = next(make_id("532931", "19881212", s) for s in range(1, 999) if make_id("532931", "19881212", s)[-1] == "X")
    add_household(world.v1, group(world.v1, "一组"), "H-X-1", [("钱克", "head", xid)])
    db.session.commit()
    assert "钱克" in hits(search(client, xid[-4:].lower()))


def test_search_is_scoped_for_every_role(client, world):
    login(client, world.officer2)
    assert "解晓东" in hits(search(client, "xxd")) and "王五" in hits(search(client, "ww"))
    assert "张三" not in hits(search(client, "zs"))
    client2 = client.application.test_client()
    login(client2, world.hq)
    assert "额尔敦图雅" not in hits(search(client2, "额尔"))
    assert "王五" in hits(search(client2, "王"))


def test_search_fragment_full_page_and_boosted(client, world):
    login(client, world.officer)
    full, frag = assert_page_fragment_boosted(client, "/households/search?q=stf", "search-results")
    assert "单田芳" in text(frag) and "单田芳" in text(full)
    assert f'/households/{world.h2.id}' in text(frag)
    # without JavaScript: the worklist's search box submits to the same URL as a plain GET
    assert 'action="/households/search"' in text(client.get("/worklist"))
    assert 'name="q" value="stf"' in text(full)


def test_an_empty_or_odd_query_finds_nothing_and_never_fails(client, world):
    login(client, world.officer)
    for q in ("", " ", "!!", "12", "12345", "\x00", "a" * 500, "张" * 200, "x'; drop table members; --"):
        resp = search(client, q, headers=HX)
        assert resp.status_code == 200, q
        assert "张三" not in hits(resp)


def _statements(client, url: str) -> tuple[list[str], object]:
    seen: list[str] = []

    def listener(_conn, _cursor, statement, _params, _context, _many):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        resp = client.get(url, headers=HX)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    return seen, resp


@pytest.mark.parametrize("q", ["zs", "zh", "shan", "田芳", "0011"])
def test_a_search_is_one_sql_statement(client, world, q):
    """All statements of a search request minus those of the same request without a query (login, session,
    area): exactly one more, and it is the one that reads members."""
    for i in range(40):  # enough rows that a per-row lazy load would show
        add_household(world.v1, group(world.v1, "一组"), f"H-S-{i:03d}",
                      [(f"张{'一二三四五六七八九十'[i % 10]}{i}", "head", make_id("532931", "19900101", 300 + i)),
                       (f"赵{i}", "child", make_id("532931", "20100101", 300 + i))])
    db.session.commit()
    login(client, world.officer)
    search(client, "")  # warm up anything cached per process
    baseline, _ = _statements(client, "/households/search?q=")
    seen, resp = _statements(client, f"/households/search?q={q}")
    assert resp.status_code == 200
    extra = len(seen) - len(baseline)
    touching_members = [s for s in seen if re.search(r"\bmembers\b", s)]
    assert extra == 1, seen[len(baseline) - 2:]
    assert len(touching_members) == 1 and len([s for s in baseline if re.search(r"\bmembers\b", s)]) == 0
    if q == "zh":
        assert text(resp).count('class="card-link"') == 30  # 41 matching households (82 members), capped at 30


# ---------------------------------------------------------------- the village secretary's summary

def test_secretary_sees_their_village_without_id_numbers(client, world):
    world.h1.phone = "13812345678"
    world.h1.last_visit_outcome = "done"
    db.session.commit()
    login(client, world.secretary)
    full, frag = assert_page_fragment_boosted(client, f"/villages/{world.v1.id}/households", "summary-rows")
    for resp in (full, frag):
        body = text(resp)
        assert "张三" in body and "单田芳" in body and "一组" in body
        assert "138****5678" in body and "13812345678" not in body
        for m in [*world.h1.members, *world.h2.members]:
            assert m.id_number not in body and m.id_number[:6] not in body and m.id_number[-4:] not in body
        assert not re.search(r"\d{6}\*+\d{3}[\dX]", body)
        assert not re.search(r"\d{15,18}", body)
    assert client.get(f"/villages/{world.v2.id}/households").status_code == 404
    assert client.get(f"/households/{world.h1.id}").status_code == 403
    assert client.get(f"/households/{world.h1.id}/members").status_code == 403


def test_panel_members_have_no_summary_yet(client, world):
    login(client, world.panel)
    assert client.get(f"/villages/{world.v1.id}/households").status_code == 403


def test_an_officer_sees_only_their_groups_in_the_summary(client, world):
    login(client, world.officer)
    body = text(client.get(f"/villages/{world.v2.id}/households"))
    assert "曾国强" in body and "解晓东" not in body
