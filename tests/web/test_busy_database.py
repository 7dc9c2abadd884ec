"""A request that cannot get SQLite's write lock within the busy timeout answers 503 "busy, saved nothing" in the
user's language (never a 500), and the same form sent again records once."""
from __future__ import annotations

import sqlite3

import pytest

from tests.conftest import login
from tests.web.test_household_new import created, form, url
from tests.web.test_household_new import world  # noqa: F401 - the fixture with ID hashes

from fieldapp.extensions import db


@pytest.fixture
def app_config():
    return {"SQLITE_BUSY_TIMEOUT_MS": 200}


@pytest.mark.committing
def test_a_locked_database_answers_busy_and_the_retry_records_once(app, client, world, database_uri):  # noqa: F811
    if not database_uri.startswith("sqlite"):
        pytest.skip("SQLite's database write lock (PostgreSQL writers wait on row locks instead)")
    login(client, world.officer)
    client.set_cookie("lang", "zh_CN")
    data, target = form(world.v1), url(world.v1)
    db.session.rollback()   # the test's own connection holds nothing
    holder = sqlite3.connect(database_uri.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")   # another writer (an import, a backup) holds the lock
    try:
        busy = client.post(target, data=data)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert busy.status_code == 503, busy.status_code
    assert busy.headers["Retry-After"] == "5"
    assert "服务器繁忙,未保存任何内容" in busy.get_data(as_text=True)
    assert created() == []

    first = client.post(target, data=data)
    again = client.post(target, data=data)
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"]
    assert len(created()) == 1
