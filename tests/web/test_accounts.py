"""Login, lockout, rate limit, passwords, sessions and staff edits through the real routes."""
from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldapp.accounts import rules
from fieldapp.accounts.models import User
from fieldapp.core import clock
from fieldapp.extensions import db, limiter
from tests.conftest import HX, PASSWORD, login


def zh(client):
    client.set_cookie("lang", "zh_CN")
    return client


def test_login_by_username_or_mobile(client, world):
    world.officer.mobile = "13812345678"
    db.session.commit()
    assert client.post("/login", data={"login": "13812345678", "password": PASSWORD}).status_code == 303
    assert client.get("/villages").status_code == 200


def test_wrong_password_says_so_in_chinese_and_keeps_the_login(client, world):
    zh(client)
    resp = client.post("/login", data={"login": "officer1", "password": "nope-nope"})
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert "用户名或密码错误" in body
    assert 'value="officer1"' in body
    assert client.get("/villages").status_code == 302


def test_unknown_user_gets_the_same_message(client, world):
    zh(client)
    body = client.post("/login", data={"login": "nobody", "password": "nope-nope"}).get_data(as_text=True)
    assert "用户名或密码错误" in body


def test_lockout_after_five_failures_grows_and_expires(app, client, world):
    zh(client)
    for _ in range(4):
        assert "用户名或密码错误" in client.post("/login", data={"login": "officer1", "password": "bad-bad-bad"}).get_data(as_text=True)
    body = client.post("/login", data={"login": "officer1", "password": "bad-bad-bad"}).get_data(as_text=True)
    assert "秒后再试" in body
    # even the right password is refused while locked
    body = client.post("/login", data={"login": "officer1", "password": PASSWORD}).get_data(as_text=True)
    assert "秒后再试" in body
    seconds = int(re.search(r"(\d+) 秒后再试", body).group(1))
    assert 25 <= seconds <= 31
    # another IP is not locked out by this one
    other = app.test_client()
    assert other.post("/login", data={"login": "officer1", "password": PASSWORD},
                      environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 303
    # after the wait the right password works and clears the counter
    clock.set_now(app, clock.now().replace(tzinfo=None) + __import__("datetime").timedelta(seconds=seconds + 1))
    assert client.post("/login", data={"login": "officer1", "password": PASSWORD}).status_code == 303


@pytest.mark.parametrize(("failures", "expected"), [
    pytest.param(0, 0, id="none"), pytest.param(4, 0, id="below-threshold"),
    pytest.param(5, 30, id="threshold"), pytest.param(6, 60, id="doubles"),
    pytest.param(8, 240, id="grows"), pytest.param(30, 3600, id="capped"),
])
def test_lockout_seconds(failures, expected):
    assert rules.lockout_seconds(failures, 5, 30) == expected


@pytest.mark.parametrize(("password", "problem"), [
    pytest.param("short", "too_short", id="short"),
    pytest.param("11111111", "too_simple", id="repeated-digits"),
    pytest.param("officer1-secret", "contains_login", id="contains-username"),
    pytest.param("梯田 油菜 2026", None, id="ok"),
])
def test_password_problem(password, problem):
    assert rules.password_problem(password, "officer1", "13812345678") == problem


@pytest.fixture
def limited_app_config():
    return {}


class TestRateLimit:
    @pytest.fixture
    def app_config(self):
        return {"RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "3 per minute"}

    def test_login_posts_are_rate_limited_per_ip_with_a_clear_page(self, client, world):
        zh(client)
        for _ in range(3):
            client.post("/login", data={"login": "x", "password": "y"})
        resp = client.post("/login", data={"login": "x", "password": "y"})
        assert resp.status_code == 429
        assert "尝试次数过多" in resp.get_data(as_text=True)
        assert resp.headers["Retry-After"]
        assert client.get("/login").status_code == 200  # reading the page is not limited
        limiter.reset()
        assert client.post("/login", data={"login": "x", "password": "y"}).status_code == 422


def test_logout_ends_the_session(client, world):
    login(client, world.officer)
    assert client.post("/logout").status_code == 303
    assert client.get("/villages").status_code == 302


def test_change_password_signs_out_other_devices(app, world):
    phone, laptop = app.test_client(), app.test_client()
    login(phone, world.officer)
    login(laptop, world.officer)
    resp = phone.post("/account/password", data={"current": PASSWORD, "new": "油菜花开-2026", "confirm": "油菜花开-2026"})
    assert resp.status_code == 303
    assert phone.get("/villages").status_code == 200
    assert laptop.get("/villages").status_code == 302
    assert app.test_client().post("/login", data={"login": "officer1", "password": "油菜花开-2026"}).status_code == 303


def test_change_password_errors_are_422_fragment(client, world):
    login(client, world.officer)
    zh(client)
    resp = client.post("/account/password", data={"current": "wrong-one", "new": "a", "confirm": "b"}, headers=HX)
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert 'id="password-form"' in body and "<html" not in body


def test_admin_reset_forces_a_change_before_anything_else(app, client, world):
    admin = app.test_client()
    login(admin, world.hq)
    assert admin.post(f"/staff/{world.officer.id}/reset-password", data={"password": "temp-pass-99"}).status_code == 303
    login(client, "officer1", "temp-pass-99")
    assert client.get("/villages").headers["Location"].endswith("/account/password")
    resp = client.post("/account/password", data={"current": "temp-pass-99", "new": "new-pass-2026x", "confirm": "new-pass-2026x"})
    assert resp.status_code == 303
    assert client.get("/villages").status_code == 200


def test_sign_out_everywhere(app, world):
    a, b = app.test_client(), app.test_client()
    login(a, world.officer)
    login(b, world.officer)
    assert a.post("/account/sign-out-everywhere").status_code == 303
    assert a.get("/villages").status_code == 302
    assert b.get("/villages").status_code == 302


def test_disabled_account_cannot_log_in_and_is_signed_out(app, client, world):
    login(client, world.officer)
    admin = app.test_client()
    login(admin, world.hq)
    page = admin.get(f"/staff/{world.officer.id}").get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page).group(1)
    resp = admin.post(f"/staff/{world.officer.id}", data={"name": "李网格", "version": version})
    assert resp.status_code == 303
    assert client.get("/villages").status_code == 302
    assert app.test_client().post("/login", data={"login": "officer1", "password": PASSWORD}).status_code == 422


def test_stale_staff_edit_gets_409_with_the_other_change_and_keeps_my_input(app, world):
    alice, bob = app.test_client(), app.test_client()
    login(alice, world.hq)
    login(bob, world.sysadmin)
    zh(alice)
    page = alice.get(f"/staff/{world.officer.id}").get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page).group(1)
    assert bob.post(f"/staff/{world.officer.id}", data={"name": "李网格", "mobile": "13900001111", "active": "y",
                                                       "version": version}).status_code == 303
    resp = alice.post(f"/staff/{world.officer.id}", data={"name": "李新名", "position": "客户经理", "active": "y",
                                                         "version": version})
    assert resp.status_code == 409
    body = resp.get_data(as_text=True)
    assert "139****1111" in body or "13900001111" in body  # the other person's value is shown
    assert 'value="李新名"' in body  # my input is kept
    db.session.expire_all()
    assert db.session.get(User, world.officer.id).name == "李网格"  # nothing overwritten


def test_new_staff_validation_and_duplicate(client, world):
    login(client, world.hq)
    zh(client)
    resp = client.post("/staff/new", data={"username": "officer1", "name": "重复", "password": "long-enough-1",
                                           "idem_key": "dup-key-00000001"})
    assert resp.status_code == 422
    resp = client.post("/staff/new", data={"username": "a b", "name": "", "mobile": "12345", "password": "x",
                                           "idem_key": "bad-key-00000001"})
    assert resp.status_code == 422


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(login_=st.text(max_size=80), password=st.text(max_size=300), next_=st.text(max_size=200))
def test_malformed_login_input_never_500(client, world, login_, password, next_):
    resp = client.post("/login", data={"login": login_, "password": password, "next": next_})
    assert resp.status_code in (303, 422), resp.status_code
    if resp.status_code == 303:
        assert resp.headers["Location"].startswith("/") and not resp.headers["Location"].startswith("//")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=st.dictionaries(st.sampled_from(["username", "name", "mobile", "employee_no", "position", "password",
                                               "active", "version", "idem_key"]),
                              st.text(max_size=120), max_size=9))
def test_malformed_staff_forms_never_500(app, world, fields):
    client = app.test_client()
    login(client, world.hq)
    for url in ("/staff/new", f"/staff/{world.officer.id}"):
        resp = client.post(url, data=fields)
        assert resp.status_code < 500, (url, fields, resp.status_code)
        assert resp.status_code in (303, 400, 409, 422)
