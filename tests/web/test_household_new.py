"""A household met door to door that is not on the roster (走访新发现): the create form of a village's worklist."""
from __future__ import annotations

import re
import threading

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldapp.core.audit import AuditEvent
from fieldapp.core.idempotency import IdempotencyKey, new_key
from fieldapp.extensions import db
from fieldapp.households import services
from fieldapp.households.models import Household, Member
from tests.conftest import HX, login
from tests.support.matrix import ROLES
from tests.support.routes_households import GET_ROUTES
from tests.support.world import make_id

HEAD_ID = make_id("532931", "19880214", 17)


def text(resp) -> str:
    return resp.get_data(as_text=True)


def url(village) -> str:
    return f"/worklist/villages/{village.id}/households/new"


def group_of(village, name: str = "二组"):
    return next(g for g in village.groups if g.name == name)


def form(village, **over) -> dict:
    data = {"head_name": "杨发现", "id_number": HEAD_ID, "phone": "13912345678",
            "group_id": str(group_of(village).id), "address": "金星村二组18号", "idem_key": new_key()}
    data.update(over)
    return data


def households() -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(Household))


def members() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Member))


def created() -> list[Household]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Household).where(Household.head_name == "杨发现")))


@pytest.fixture
def world(world):
    """The shared world, with members' ID hashes made the way the app makes them (so duplicates are found)."""
    for m in db.session.scalars(sa.select(Member)):
        m.id_hash = services.id_hash(m.id_number)
    db.session.commit()
    return world


# ---------------------------------------------------------------- the form and the create


def test_the_form_full_page_and_fragment(client, world):
    login(client, world.officer)
    client.set_cookie("lang", "en")
    page = client.get(url(world.v1))
    assert page.status_code == 200
    body = text(page)
    assert "<html" in body and "New household" in body
    for name in ("head_name", "id_number", "phone", "group_id", "address", "idem_key"):
        assert f'name="{name}"' in body, name
    assert re.search(r'name="idem_key"[^>]*value="[0-9a-f]{32}"', body)
    assert "一组" in body and "二组" in body
    frag = client.get(url(world.v1), headers=HX)
    assert frag.status_code == 200 and "<html" not in text(frag) and 'id="new-household-form"' in text(frag)


def test_create_makes_the_household_its_head_and_audit_rows(client, world):
    login(client, world.officer)
    client.set_cookie("lang", "en")
    before = households()
    resp = client.post(url(world.v1), data=form(world.v1))
    assert resp.status_code == 303, text(resp)[-800:]
    [h] = created()
    assert resp.headers["Location"] == f"/households/{h.id}"
    assert households() == before + 1
    assert (h.village_id, h.county_id, h.group_id, h.file_status, h.status) == (
        world.v1.id, world.county.id, group_of(world.v1).id, "new", "active")
    assert h.code == f"{world.v1.stat_code}-0001"  # the roster import's numbering
    assert (h.address, h.phone) == ("金星村二组18号", "13912345678")
    [head] = h.members
    assert (head.name, head.is_head, head.relation, head.position) == ("杨发现", True, "head", 0)
    assert (head.id_number, head.id_hash, head.id_last4) == (HEAD_ID, services.id_hash(HEAD_ID), HEAD_ID[-4:])
    assert (head.sex, head.birth_date.isoformat()) == ("M", "1988-02-14")
    assert (head.mobile, head.mobile_last4, head.name_pinyin, head.name_initials) == (
        "13912345678", "5678", "yangfaxian", "yfx")
    events = {(e.entity_type, e.entity_id, e.action, e.actor_id) for e in db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "create"))}
    assert ("households", str(h.id), "create", world.officer.id) in events
    assert ("members", str(head.id), "create", world.officer.id) in events
    page = client.get(resp.headers["Location"])
    assert "New household created." in text(page) and "杨发现" in text(page)
    # the next one takes the next number; the optional fields may stay empty
    second = client.post(url(world.v1), data=form(world.v1, head_name="阿依古丽·买买提", id_number="", phone="",
                                                  address=""))
    assert second.status_code == 303, text(second)[-800:]
    h2 = db.session.scalar(sa.select(Household).where(Household.head_name == "阿依古丽·买买提"))
    assert h2.code == f"{world.v1.stat_code}-0002" and h2.address == "金星村二组" and h2.phone is None
    assert [(m.name, m.id_number, m.mobile) for m in h2.members] == [("阿依古丽·买买提", None, None)]


def test_the_new_household_shows_on_the_village_worklist_and_in_search(client, world):
    login(client, world.officer)
    client.set_cookie("lang", "en")
    worklist = text(client.get(f"/worklist/villages/{world.v1.id}"))
    assert f'href="{url(world.v1)}"' in worklist and "New household" in worklist
    assert client.post(url(world.v1), data=form(world.v1)).status_code == 303
    [h] = created()
    assert f'/households/{h.id}"' in text(client.get(f"/worklist/villages/{world.v1.id}"))
    assert "杨发现" in text(client.get("/households/search?q=yfx"))


def test_an_htmx_create_redirects_with_hx_redirect(client, world):
    login(client, world.officer)
    resp = client.post(url(world.v1), data=form(world.v1), headers=HX)
    assert resp.status_code == 200
    [h] = created()
    assert resp.headers["HX-Redirect"] == f"/households/{h.id}"


def test_an_officer_of_a_single_group_creates_only_in_that_group(client, world):
    """officer1 sees 龙门村 (v2) through G01-1, which covers its 一组 only."""
    login(client, world.officer)
    client.set_cookie("lang", "en")
    page = text(client.get(url(world.v2)))
    assert "一组" in page and "二组" not in page
    assert re.search(r'<option selected value="%d">' % group_of(world.v2, "一组").id, page)
    for data in (form(world.v2), form(world.v2, group_id="")):  # 二组 is another grid's; none is not allowed
        resp = client.post(url(world.v2), data=data)
        assert resp.status_code == 422 and created() == []
    resp = client.post(url(world.v2), data=form(world.v2, group_id=str(group_of(world.v2, "一组").id)))
    assert resp.status_code == 303
    [h] = created()
    assert h.group_id == group_of(world.v2, "一组").id
    assert client.get(f"/households/{h.id}").status_code == 200


def test_a_village_without_groups_needs_none(client, world):
    from fieldapp.org.models import VillageGroup
    db.session.execute(sa.delete(VillageGroup).where(VillageGroup.village_id == world.v4.id))
    db.session.commit()
    login(client, world.hq)
    page = text(client.get(url(world.v4)))
    assert 'name="group_id"' not in page
    resp = client.post(url(world.v4), data=form(world.v1, group_id="", address=""))
    assert resp.status_code == 303, text(resp)[-800:]
    [h] = created()
    assert (h.village_id, h.group_id, h.address) == (world.v4.id, None, "天马村")


# ---------------------------------------------------------------- refused input: 422, kept, nothing written

def wrong_check_digit(number: str) -> str:
    return number[:17] + ("0" if number[17] != "0" else "1")


@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
@pytest.mark.parametrize(("over", "field", "message"), [
    pytest.param({"id_number": wrong_check_digit(HEAD_ID)}, "id_number", "check character is wrong", id="bad-id"),
    pytest.param({"id_number": "12345"}, "id_number", "ID number", id="short-id"),
    pytest.param({"head_name": "名" * 51}, "head_name", "At most 50 characters.", id="long-name"),
    pytest.param({"head_name": "   "}, "head_name", "Enter the name.", id="blank-name"),
    pytest.param({"head_name": "杨3"}, "head_name", "Use letters only", id="digit-in-name"),
    pytest.param({"phone": "1391234567"}, "phone", "", id="bad-phone"),
    pytest.param({"group_id": ""}, "group_id", "Choose the village group.", id="no-group"),
    pytest.param({"group_id": "abc"}, "group_id", "Choose one of this village", id="junk-group"),
    pytest.param({"address": "地" * 201}, "address", "At most 200 characters.", id="long-address"),
])
def test_refused_input_is_422_keeps_the_values_and_writes_nothing(client, world, over, field, message, headers):
    login(client, world.officer)
    client.set_cookie("lang", "en")
    before = (households(), members())
    data = form(world.v1, **over)
    resp = client.post(url(world.v1), data=data, headers=headers)
    assert resp.status_code == 422, text(resp)[-800:]
    body = text(resp)
    assert message in body
    assert re.search(rf'<div class="field has-error">\s*<label for="{field}"', body), body[-2000:]
    assert ("<html" in body) is (not headers)
    for name in ("head_name", "id_number", "phone", "address"):
        if data[name].strip():
            assert f'value="{data[name].strip()}"' in body, name
    assert f'value="{data["idem_key"]}"' in body  # the same key: the corrected form may use it
    assert (households(), members()) == before
    # the corrected form goes through with the same key
    fixed = form(world.v1, idem_key=data["idem_key"])
    assert client.post(url(world.v1), data=fixed).status_code == 303
    assert len(created()) == 1


JUNK = st.one_of(st.text(st.characters(blacklist_categories=("Cs",)), max_size=60),
                 st.sampled_from(["", "0", "-1", "1", "99999999999", "x", "X", "11010519491231002X",
                                  "110105491231002", "110105194912310021", "13812345678", "+8613812345678", "\x00",
                                  "名" * 51, "地" * 201, "·", "买买提·艾力"]))
FIELDS = ["head_name", "id_number", "phone", "group_id", "address"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=st.fixed_dictionaries({}, optional={f: JUNK for f in FIELDS}), htmx=st.booleans())
def test_junk_never_500_and_refusals_write_nothing(app, world, data, htmx):
    client = app.test_client()
    login(client, world.officer)
    before = (households(), members())
    resp = client.post(url(world.v1), data={**data, "idem_key": new_key()}, headers=HX if htmx else {})
    assert resp.status_code in (200, 303, 422), (data, resp.status_code, text(resp)[-500:])
    after = (households(), members())
    assert after == (before if resp.status_code == 422 else (before[0] + 1, before[1] + 1)), data
    db.session.execute(sa.delete(Household).where(Household.code.startswith(world.v1.stat_code)))
    db.session.commit()


def test_a_group_of_another_village_or_grid_is_refused(client, world):
    login(client, world.officer)
    client.set_cookie("lang", "en")
    for group in (group_of(world.v3, "一组"), group_of(world.v2, "二组"), group_of(world.vb, "一组")):
        resp = client.post(url(world.v1), data=form(world.v1, group_id=str(group.id)))
        assert resp.status_code == 422 and "Choose one of this village" in text(resp)
    assert created() == []


def test_a_duplicate_id_number_says_where_masked(client, world):
    login(client, world.officer)
    client.set_cookie("lang", "en")
    before = households()
    for other, village, head in ((world.h1, "金星村", "张*"), (world.hb, "乌兰嘎查", "额***雅")):
        resp = client.post(url(world.v1), data=form(world.v1, id_number=other.members[0].id_number))
        assert resp.status_code == 422
        body = text(resp)
        assert "already registered" in body and village in body and head in body
        assert re.search(r'<div class="field has-error">\s*<label for="id_number"', body)
    assert "额尔敦图雅" not in body
    assert households() == before


def test_the_same_id_number_twice_in_a_row_is_refused_the_second_time(client, world):
    login(client, world.officer)
    assert client.post(url(world.v1), data=form(world.v1)).status_code == 303
    resp = client.post(url(world.v1), data=form(world.v1, head_name="杨另一个"))
    assert resp.status_code == 422 and len(created()) == 1


# ---------------------------------------------------------------- once per key

def test_a_repeated_key_replays_the_redirect_and_creates_once(client, world):
    login(client, world.officer)
    data = form(world.v1)
    first = client.post(url(world.v1), data=data)
    again = client.post(url(world.v1), data=data)
    header = client.post(url(world.v1), data={k: v for k, v in data.items() if k != "idem_key"},
                         headers={"Idempotency-Key": data["idem_key"]})
    assert first.status_code == again.status_code == header.status_code == 303
    assert first.headers["Location"] == again.headers["Location"] == header.headers["Location"]
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == header.headers["Idempotent-Replayed"] == "true"
    assert len(created()) == 1
    # a changed form with the same key is refused, not replayed
    assert client.post(url(world.v1), data={**data, "address": "别处"}).status_code == 422
    assert len(created()) == 1


def test_a_form_without_its_key_is_refused(client, world):
    login(client, world.officer)
    data = form(world.v1)
    del data["idem_key"]
    assert client.post(url(world.v1), data=data).status_code == 400
    assert created() == []


COPIES = 8


@pytest.mark.committing
def test_concurrent_copies_create_one_household(app, world):
    """Threads, each its own client logged in as the same officer, post the same form at once."""
    clients = []
    for _ in range(COPIES):
        c = app.test_client()
        login(c, world.officer.username)
        clients.append(c)
    target = url(world.v1)
    data = form(world.v1)
    db.session.rollback()  # hold no write lock while the threads write
    barrier = threading.Barrier(COPIES)
    results: list = [None] * COPIES

    def post(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            resp = clients[i].post(target, data=data)
            results[i] = (resp.status_code, resp.headers.get("Location"), resp.headers.get("Idempotent-Replayed"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            results[i] = exc

    threads = [threading.Thread(target=post, args=(i,), daemon=True) for i in range(COPIES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    assert not any(t.is_alive() for t in threads), "a copy is still waiting: deadlock?"
    assert not [r for r in results if not isinstance(r, tuple)], results
    assert {r[0] for r in results} == {303}, results
    assert len({r[1] for r in results}) == 1, results
    assert len([r for r in results if r[2] == "true"]) == COPIES - 1, results
    db.session.rollback()
    [h] = created()
    assert results[0][1] == f"/households/{h.id}"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(IdempotencyKey)) == 1


@pytest.mark.committing
def test_concurrent_different_households_get_different_codes(app, world):
    """Different keys at once in one village: every one is created, each with its own roster number (ten at once:
    on PostgreSQL they used to collide on the same next number until some gave up)."""
    n = 10
    clients = []
    for _ in range(n):
        c = app.test_client()
        login(c, world.officer.username)
        clients.append(c)
    target = url(world.v1)
    forms = [form(world.v1, head_name="杨发现", id_number=make_id("532931", "19900101", 100 + i), phone="")
             for i in range(n)]
    db.session.rollback()
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def post(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = clients[i].post(target, data=forms[i]).status_code
        except BaseException as exc:  # noqa: BLE001 - reported below
            results[i] = exc

    threads = [threading.Thread(target=post, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    assert results == [303] * n, results
    db.session.rollback()
    codes = sorted(h.code for h in created())
    assert codes == [f"{world.v1.stat_code}-{i:04d}" for i in range(1, n + 1)]


# ---------------------------------------------------------------- who may

@pytest.mark.parametrize("role", ROLES)
def test_the_form_page_for_every_role(app, world, role):
    """The GET row of the role x route matrix (the matrix keys rows by endpoint; its POST row is in ROUTES)."""
    route = GET_ROUTES["households.new"]
    client = app.test_client()
    if role != "anonymous":
        login(client, world.roles[role])
    inside, outside = route.ids(world, role)
    for is_inside, village_id in ((True, inside), (False, outside)):
        resp = client.get(route.url.replace("{id}", str(village_id)))
        if role == "anonymous":
            want = 302
        elif role not in route.allowed:
            want = 403
        else:
            want = 200 if is_inside else 404
        assert resp.status_code == want, (role, is_inside)


def test_an_officer_of_another_grid_gets_404(client, world):
    login(client, world.officer2)  # G02: 桃源村 and 龙门村 二组, not 金星村
    assert client.get(url(world.v1)).status_code == 404
    assert client.post(url(world.v1), data=form(world.v1)).status_code == 404
    assert created() == []


@pytest.mark.parametrize("user", ["auditor", "secretary"])
def test_read_only_and_village_roles_are_refused(client, world, user):
    login(client, getattr(world, user))
    assert client.get(url(world.v1)).status_code == 403
    assert client.post(url(world.v1), data=form(world.v1)).status_code == 403
    assert created() == []


def test_no_new_household_button_for_an_auditor(client, world):
    login(client, world.auditor)
    page = client.get(f"/worklist/villages/{world.v1.id}")
    assert page.status_code == 200 and "/households/new" not in text(page)


class TestCsrf:
    @pytest.fixture
    def app_config(self):
        return {"WTF_CSRF_ENABLED": True}

    def test_the_form_carries_a_csrf_token_and_needs_it(self, client, world):
        page = client.get("/login")
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', text(page)).group(1)
        assert client.post("/login", data={"login": world.officer.username, "password": "test-pass-123",
                                           "csrf_token": token}).status_code == 303
        body = text(client.get(url(world.v1)))
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', body).group(1)
        refused = client.post(url(world.v1), data=form(world.v1))
        assert refused.status_code in (400, 422) and created() == []
        assert client.post(url(world.v1), data={**form(world.v1), "csrf_token": token}).status_code == 303
        assert len(created()) == 1
