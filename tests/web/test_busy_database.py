"""A write that cannot get the database lock it needs within DB_LOCK_TIMEOUT_MS answers 503 "busy, saved nothing"
in the user's language (never a 500), and the same form sent again records once. SQLite: another connection holds
the database's write lock; PostgreSQL: another transaction holds the village row a new household's code needs."""
from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from tests.conftest import login
from tests.web.test_household_new import created, form, url
from tests.web.test_household_new import world  # noqa: F401 - the fixture with ID hashes

from fieldapp.extensions import db


@pytest.fixture
def app_config():
    return {"DB_LOCK_TIMEOUT_MS": 200}


class Holder:
    """Another writer holding the lock the create needs, until released."""

    def __init__(self, database_uri: str, village_id: int):
        if database_uri.startswith("sqlite"):
            self.conn = sqlite3.connect(database_uri.removeprefix("sqlite:///"), isolation_level=None)
            self.conn.execute("BEGIN IMMEDIATE")   # an import or a backup holding the write lock
            self.release = lambda: (self.conn.execute("ROLLBACK"), self.conn.close())
        else:
            engine = sa.create_engine(database_uri)
            conn = engine.connect()
            conn.execute(sa.text("SELECT id FROM villages WHERE id = :id FOR UPDATE"), {"id": village_id})
            self.release = lambda: (conn.rollback(), conn.close(), engine.dispose())


@pytest.mark.committing
def test_a_held_lock_answers_busy_and_the_retry_records_once(app, client, world, database_uri):  # noqa: F811
    login(client, world.officer)
    client.set_cookie("lang", "zh_CN")
    data, target, village_id = form(world.v1), url(world.v1), world.v1.id
    db.session.rollback()   # the test's own connection holds nothing
    holder = Holder(database_uri, village_id)
    try:
        busy = client.post(target, data=data)
    finally:
        holder.release()
    assert busy.status_code == 503, busy.status_code
    assert busy.headers["Retry-After"] == "5"
    assert "服务器繁忙,未保存任何内容" in busy.get_data(as_text=True)
    assert created() == []

    first = client.post(target, data=data)
    again = client.post(target, data=data)
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"]
    assert len(created()) == 1
