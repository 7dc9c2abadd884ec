"""The audit log: every audited change lands in the same transaction, masked, with who did it; the log page."""
from __future__ import annotations

import json
from datetime import datetime

import pytest
import sqlalchemy as sa

from fieldapp.accounts.models import RoleGrant, User
from fieldapp.core import audit, clock
from fieldapp.core.audit import AuditEvent
from fieldapp.core.idempotency import new_key
from fieldapp.extensions import db
from fieldapp.org.models import Village, VillageGroup
from tests.conftest import HX, PASSWORD, login

IP = "127.0.0.5"


def _events(**where) -> list[AuditEvent]:
    stmt = sa.select(AuditEvent).order_by(AuditEvent.id)
    for key, value in where.items():
        stmt = stmt.where(getattr(AuditEvent, key) == value)
    return list(db.session.scalars(stmt))


def _all_changes_text() -> str:
    return json.dumps([e.changes for e in _events()], ensure_ascii=False)


def _edit_form(user: User, **over) -> dict:
    data = {"name": user.name, "mobile": user.mobile or "", "employee_no": user.employee_no or "",
            "position": user.position or "", "active": "y", "version": str(user.version)}
    data.update(over)
    return data


def test_a_staff_edit_is_logged_with_before_after_masked_and_the_actor(app, world):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = IP
    login(client, world.hq)
    officer = world.officer
    officer_id = officer.id
    old_name = officer.name
    resp = client.post(f"/staff/{officer_id}", data=_edit_form(officer, name="李网格员", mobile="13812341234"))
    assert resp.status_code == 303
    [event] = _events(action="update", entity_type="users", entity_id=str(officer_id))
    assert event.changes["before"] == {"name": old_name, "mobile": None}
    assert event.changes["after"] == {"name": "李网格员", "mobile": "138****1234"}
    assert event.actor_id == world.hq.id
    assert event.actor_name == "总行管理员"
    assert event.actor_roles == "hq_admin"
    assert event.ip == IP
    assert "13812341234" not in _all_changes_text()
    # the next edit shows the masked old number as "before"
    officer = db.session.get(User, officer_id)
    resp = client.post(f"/staff/{officer_id}", data=_edit_form(officer, mobile="13900005678"))
    assert resp.status_code == 303
    last = _events(action="update", entity_type="users", entity_id=str(officer_id))[-1]
    assert last.changes == {"before": {"mobile": "138****1234"}, "after": {"mobile": "139****5678"}}


def test_a_refused_edit_leaves_no_event(app, client, world):
    login(client, world.hq)
    officer = world.officer
    stale = _edit_form(officer, name="过期的改动", version=str(officer.version - 1))
    before = len(_events())
    assert client.post(f"/staff/{officer.id}", data=stale).status_code == 409
    invalid = _edit_form(officer, mobile="12345")
    assert client.post(f"/staff/{officer.id}", data=invalid).status_code == 422
    # a refused create (the idempotent decorator rolls back) leaves nothing either
    taken = {"username": world.officer.username, "name": "重名", "password": "temp-pass-987", "idem_key": new_key()}
    assert client.post("/staff/new", data=taken).status_code == 422
    assert len(_events()) == before


def test_orm_changes_outside_a_request_are_logged_in_the_same_transaction(app, world):
    village = Village(county_id=world.county.id, township_id=world.t1.id, stat_code="532931101099", name="新村")
    db.session.add(village)
    db.session.flush()
    # the event is written by the flush, inside the transaction...
    [created] = _events(action="create", entity_type="villages", entity_id=str(village.id))
    assert created.changes["after"]["name"] == "新村"
    assert created.changes["after"]["stat_code"] == "532931101099"
    assert created.actor_name == "system" and created.actor_id is None and created.ip is None
    # ...so a rollback takes it away with the change
    db.session.rollback()
    assert _events(entity_type="villages", entity_id=str(village.id)) == []
    assert db.session.scalar(sa.select(Village).where(Village.stat_code == "532931101099")) is None

    village = Village(county_id=world.county.id, township_id=world.t1.id, stat_code="532931101098", name="新村")
    db.session.add(village)
    db.session.commit()
    village_id = village.id
    village.name = "新新村"
    village.is_poor_village = True
    db.session.commit()
    [updated] = _events(action="update", entity_type="villages", entity_id=str(village_id))
    assert updated.changes == {"before": {"name": "新村", "is_poor_village": False},
                               "after": {"name": "新新村", "is_poor_village": True}}
    # a value set without being read first still shows what it was before
    db.session.expire_all()
    village = db.session.get(Village, village_id)
    db.session.expire(village)
    village.name = "老村"
    db.session.commit()
    last = _events(action="update", entity_type="villages", entity_id=str(village_id))[-1]
    assert last.changes == {"before": {"name": "新新村"}, "after": {"name": "老村"}}
    # a delete of an expired object keeps every stored value
    db.session.expire_all()
    db.session.delete(db.session.get(Village, village_id))
    db.session.commit()
    [deleted] = _events(action="delete", entity_type="villages", entity_id=str(village_id))
    assert deleted.changes["before"]["name"] == "老村"
    assert deleted.changes["before"]["stat_code"] == "532931101098"


def test_a_cascade_delete_is_logged(client, world):
    """Withdrawing a role deletes the grant as an orphan of the user's list: it must be logged too."""
    login(client, world.hq)
    officer = world.officer
    grant = officer.roles[0]
    grant_id, role = grant.id, grant.role
    resp = client.post(f"/staff/{officer.id}/roles/{grant_id}/remove")
    assert resp.status_code == 303
    assert db.session.get(RoleGrant, grant_id) is None
    [event] = _events(action="delete", entity_type="role_grants", entity_id=str(grant_id))
    assert event.changes["before"]["role"] == role
    assert event.changes["before"]["user_id"] == officer.id
    assert event.actor_id == world.hq.id


def test_password_hashes_never_reach_the_log(client, world):
    login(client, world.hq)
    resp = client.post("/staff/new", data={"username": "clerk5", "name": "柜员五", "mobile": "13700001234",
                                           "password": "temp-pass-987", "idem_key": new_key()})
    assert resp.status_code == 303
    user = db.session.scalar(sa.select(User).where(User.username == "clerk5"))
    [created] = _events(action="create", entity_type="users", entity_id=str(user.id))
    assert created.changes["after"]["password_hash"] == "***"
    assert created.changes["after"]["mobile"] == "137****1234"
    assert created.changes["after"]["username"] == "clerk5"
    first_hash = user.password_hash
    assert client.post(f"/staff/{user.id}/reset-password", data={"password": "another-pass-654"}).status_code == 303
    db.session.expire_all()
    second_hash = db.session.get(User, user.id).password_hash
    assert second_hash != first_hash
    reset = _events(action="update", entity_type="users", entity_id=str(user.id))[-1]
    assert reset.changes["after"]["password_hash"] == "***"
    text = _all_changes_text()
    assert first_hash not in text and second_hash not in text and "$argon2" not in text
    assert "temp-pass-987" not in text and "13700001234" not in text


def test_login_failed_login_and_logout_are_logged(app, world):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = IP
    resp = client.post("/login", data={"login": world.officer.username, "password": "wrong-wrong"})
    assert resp.status_code == 422
    [failed] = _events(action="login_failed")
    assert failed.entity_id == str(world.officer.id)
    assert failed.actor_id is None and failed.ip == IP
    assert failed.changes["failures"] == 1
    assert world.officer.username not in json.dumps(failed.changes)  # the typed login is masked
    assert client.post("/login", data={"login": "nobody-here", "password": "x-x-x-x-x"}).status_code == 422
    assert _events(action="login_failed")[-1].entity_id is None

    login(client, world.officer)
    [ok] = _events(action="login")
    assert (ok.actor_id, ok.actor_name, ok.actor_roles, ok.ip) == (world.officer.id, "李网格", "grid_officer", IP)
    # the login's own changes (last login time) are the user's too
    stamp = _events(action="update", entity_type="users", entity_id=str(world.officer.id))[-1]
    assert "last_login_at" in stamp.changes["after"] and stamp.actor_id == world.officer.id

    assert client.post("/logout").status_code == 303
    [out] = _events(action="logout")
    assert out.actor_id == world.officer.id and out.entity_id == str(world.officer.id)


# ---------------------------------------------------------------- the audit page

def _at(app, moment: datetime, fn) -> None:
    clock.set_now(app, moment)
    try:
        fn()
        db.session.commit()
    finally:
        clock.reset(app)


@pytest.fixture
def history(app, world):
    """Distinct events on distinct days (UTC)."""
    def jan1():  # 2026-01-01 12:00 UTC = 20:00 in Shanghai, still Jan 1
        audit.record("export", "villages", world.v1.id, actor=world.manager, reason="first-export")

    def jan1_late():  # 2026-01-01 17:00 UTC = Jan 2, 01:00 in Shanghai
        audit.record("print", "villages", world.v2.id, actor=world.officer, reason="late-print")

    def jan5():
        db.session.get(Village, world.v3.id).name = "桃源新村"  # listed as "update · villages <id>"

    _at(app, datetime(2026, 1, 1, 12, 0), jan1)
    _at(app, datetime(2026, 1, 1, 17, 0), jan1_late)
    _at(app, datetime(2026, 1, 5, 3, 0), jan5)
    return world


def _rows(client, **params):
    resp = client.get("/audit", query_string=params, headers=HX)
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert body.lstrip().startswith("{#") or 'id="audit-rows"' in body
    assert "<html" not in body
    return body


@pytest.mark.parametrize("role", ["hq_admin", "auditor"])
def test_the_audit_page_filters_as_fragment_and_full_page(client, history, role):
    renamed = f"villages {history.v3.id}</p>"
    login(client, history.roles[role])
    full = client.get("/audit")
    assert full.status_code == 200
    page = full.get_data(as_text=True)
    assert "<html" in page and 'id="audit-rows"' in page and 'name="action"' in page
    assert "first-export" in page and "late-print" in page

    body = _rows(client, action="export")
    assert "first-export" in body and "late-print" not in body and renamed not in body
    body = _rows(client, entity="villages", action="update")
    assert renamed in body and "first-export" not in body
    body = _rows(client, actor="李网格")
    assert "late-print" in body and "first-export" not in body
    # dates are Shanghai days: 17:00 UTC on Jan 1 is already Jan 2
    body = _rows(client, since="2026-01-01", until="2026-01-01")
    assert "first-export" in body and "late-print" not in body and renamed not in body
    body = _rows(client, since="2026-01-02", until="2026-01-04")
    assert "late-print" in body and "first-export" not in body and renamed not in body
    body = _rows(client, since="2026-01-05")
    assert renamed in body and "late-print" not in body
    # a nonsense filter is ignored, not an error
    assert "first-export" in _rows(client, since="not-a-date", action="nonsense")
    # the full page keeps the filters
    page = client.get("/audit", query_string={"action": "export"}).get_data(as_text=True)
    assert "<html" in page and "first-export" in page and "late-print" not in page


def test_only_hq_admins_and_auditors_see_the_log(client, world):
    assert client.get("/audit").status_code == 302  # to the login page
    for role in ("grid_officer", "branch_manager", "sysadmin", "village_secretary", "mediator"):
        c = client.application.test_client()
        login(c, world.roles[role])
        assert c.get("/audit").status_code == 403, role
        assert c.get("/audit", headers=HX).status_code == 403, role


def test_the_group_of_a_new_village_is_logged_with_its_id(world):
    group = VillageGroup(county_id=world.county.id, village_id=world.v1.id, name="三组")
    db.session.add(group)
    db.session.commit()
    [event] = _events(action="create", entity_type="village_groups", entity_id=str(group.id))
    assert event.changes["after"] == {"id": group.id, "county_id": world.county.id, "village_id": world.v1.id,
                                      "name": "三组"}


def test_a_password_typed_into_the_login_box_is_not_logged(client, world):
    """A common slip: the password goes into the username box. The failed-login event keeps 3 characters."""
    assert client.post("/login", data={"login": PASSWORD, "password": PASSWORD}).status_code == 422
    [event] = _events(action="login_failed")
    assert event.changes["login"] == PASSWORD[:3] + "***"
    assert PASSWORD not in _all_changes_text()


def test_odd_request_details_never_break_the_change_they_record(app, world):
    """PostgreSQL refuses NUL characters in text: a hostile browser string must not turn a login into a 500."""
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = "evil\x00agent/" + "x" * 500
    resp = client.post("/login", data={"login": world.officer.username, "password": PASSWORD})
    assert resp.status_code == 303
    [event] = _events(action="login")
    assert event.user_agent.startswith("evilagent/") and len(event.user_agent) == 200
