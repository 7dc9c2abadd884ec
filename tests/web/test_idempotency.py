"""Create routes replay their first outcome for a repeated key, through the real staff-create route."""
from __future__ import annotations

import re
import threading

import pytest
import sqlalchemy as sa

from fieldapp.accounts.models import User
from fieldapp.core.idempotency import IdempotencyKey, new_key
from fieldapp.extensions import db
from tests.conftest import HX, login

pytestmark = pytest.mark.committing


def _form(key: str, **over) -> dict:
    data = {"username": "clerk7", "name": "新柜员", "mobile": "13900001111", "employee_no": "E100",
            "position": "柜员", "password": "temp-pass-987", "idem_key": key}
    data.update(over)
    return data


def _users(username: str) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.username == username))


def _keys() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(IdempotencyKey))


def test_repeat_replays_the_first_redirect_and_creates_once(client, world):
    login(client, world.hq)
    key = new_key()
    first = client.post("/staff/new", data=_form(key))
    assert first.status_code == 303, first.get_data(as_text=True)
    assert "Idempotent-Replayed" not in first.headers
    user = db.session.scalar(sa.select(User).where(User.username == "clerk7"))
    assert first.headers["Location"] == f"/staff/{user.id}"
    again = client.post("/staff/new", data=_form(key))
    assert again.status_code == 303
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    # an htmx retry of the same form is told where to go the htmx way
    hx = client.post("/staff/new", data=_form(key), headers=HX)
    assert hx.status_code == 200 and hx.headers["HX-Redirect"] == first.headers["Location"]
    assert hx.headers["Idempotent-Replayed"] == "true"
    assert _users("clerk7") == 1
    assert _keys() == 1
    # the replayed redirect lands on the one account
    assert client.get(first.headers["Location"]).status_code == 200


def test_the_rendered_form_carries_a_fresh_key_and_submits_once(client, world):
    """What the browser sends: every field the page renders, filled in, twice (a double tap)."""
    login(client, world.hq)
    page = client.get("/staff/new").get_data(as_text=True)
    names = set(re.findall(r'<input[^>]*\bname="([^"]+)"', page))
    key = re.search(r'<input[^>]*name="idem_key"[^>]*value="([^"]+)"', page) or \
        re.search(r'<input[^>]*value="([^"]+)"[^>]*name="idem_key"', page)
    assert key, "the create form renders no idem_key"
    other = client.get("/staff/new").get_data(as_text=True)
    assert key.group(1) not in other  # a fresh key per rendered form
    data = {name: value for name, value in _form(key.group(1)).items() if name in names}
    data.update({name: "" for name in names - set(data) - {"csrf_token"}})
    first = client.post("/staff/new", data=data)
    assert first.status_code == 303, first.get_data(as_text=True)[-2000:]
    again = client.post("/staff/new", data=data)
    assert again.status_code == 303 and again.headers["Idempotent-Replayed"] == "true"
    assert _users("clerk7") == 1


def test_the_key_is_bound_to_the_payload(client, world):
    login(client, world.hq)
    key = new_key()
    assert client.post("/staff/new", data=_form(key)).status_code == 303
    client.set_cookie("lang", "en")
    resp = client.post("/staff/new", data=_form(key, username="clerk8", name="另一个人"))
    assert resp.status_code == 422
    assert "already sent with different content" in resp.get_data(as_text=True)
    assert "Location" not in resp.headers
    assert _users("clerk8") == 0 and _users("clerk7") == 1
    # the password is part of the payload too
    assert client.post("/staff/new", data=_form(key, password="other-pass-987")).status_code == 422
    assert _keys() == 1


def test_another_users_key_gets_nothing(app, client, world):
    login(client, world.hq)
    key = new_key()
    first = client.post("/staff/new", data=_form(key))
    assert first.status_code == 303
    other = app.test_client()
    login(other, world.sysadmin)
    for data in (_form(key), _form(key, username="clerk9")):
        resp = other.post("/staff/new", data=data)
        assert resp.status_code == 422
        assert "Location" not in resp.headers and "Idempotent-Replayed" not in resp.headers
        body = resp.get_data(as_text=True)
        assert first.headers["Location"] not in body and "clerk7" not in body
    assert _users("clerk7") == 1 and _users("clerk9") == 0
    # the same user posting the same key to another create form gets nothing either
    clerk = db.session.scalar(sa.select(User).where(User.username == "clerk7"))
    resp = client.post(f"/staff/{clerk.id}/roles", data={"role": "auditor", "scope": f"county:{world.county.id}",
                                                          "idem_key": key})
    assert resp.status_code == 422
    assert clerk.roles == []


def test_a_missing_or_malformed_key_is_refused_with_a_clear_message(client, world):
    login(client, world.hq)
    client.set_cookie("lang", "en")
    data = _form("")
    del data["idem_key"]
    resp = client.post("/staff/new", data=data)
    assert resp.status_code == 400
    assert "missing its one-time key" in resp.get_data(as_text=True)
    for bad in ("short", "has spaces in it", "x" * 65, "<script>alert(1)</script>", "一次性的表单密钥"):
        assert client.post("/staff/new", data=_form(bad)).status_code == 400
    assert _users("clerk7") == 0 and _keys() == 0
    # the key may also come as a header (the offline outbox)
    resp = client.post("/staff/new", data=data, headers={"Idempotency-Key": new_key()})
    assert resp.status_code == 303 and _users("clerk7") == 1


def test_a_validation_error_does_not_burn_the_key(client, world):
    login(client, world.hq)
    key = new_key()
    resp = client.post("/staff/new", data=_form(key, mobile="123"))
    assert resp.status_code == 422
    assert _users("clerk7") == 0 and _keys() == 0
    # the corrected form, same key: created once, then replayed
    first = client.post("/staff/new", data=_form(key))
    assert first.status_code == 303 and "Idempotent-Replayed" not in first.headers
    again = client.post("/staff/new", data=_form(key))
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert _users("clerk7") == 1


def test_a_business_refusal_does_not_burn_the_key_either(client, world):
    login(client, world.hq)
    key = new_key()
    taken = client.post("/staff/new", data=_form(key, username=world.officer.username))
    assert taken.status_code == 422
    assert client.post("/staff/new", data=_form(key)).status_code == 303
    assert _users("clerk7") == 1


COPIES = 20


def test_twenty_concurrent_copies_create_one_row(app, world):
    """20 threads, each its own client logged in as the same user, post the same form at once."""
    username = world.hq.username
    clients = []
    for _ in range(COPIES):
        c = app.test_client()
        login(c, username)
        clients.append(c)
    # This thread's session shares the app context with the logins above: end its transaction (on SQLite it
    # holds the write lock) so the threads, each with its own app context and session, can write.
    db.session.rollback()
    data = _form(new_key(), username="rush1")
    barrier = threading.Barrier(COPIES)
    results: list = [None] * COPIES

    def post(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            resp = clients[i].post("/staff/new", data=data)
            results[i] = (resp.status_code, resp.headers.get("Location"), resp.headers.get("Idempotent-Replayed"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            results[i] = exc

    threads = [threading.Thread(target=post, args=(i,), daemon=True) for i in range(COPIES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    assert not any(t.is_alive() for t in threads), "a copy is still waiting: deadlock?"
    errors = [r for r in results if not isinstance(r, tuple)]
    assert not errors, errors
    statuses = {r[0] for r in results}
    locations = {r[1] for r in results}
    assert statuses == {303}, results
    assert len(locations) == 1 and None not in locations, results
    replayed = [r for r in results if r[2] == "true"]
    assert len(replayed) == COPIES - 1, results
    db.session.rollback()
    assert _users("rush1") == 1
    assert _keys() == 1
    user = db.session.scalar(sa.select(User).where(User.username == "rush1"))
    assert locations == {f"/staff/{user.id}"}
