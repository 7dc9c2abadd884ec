"""The injectable clock: offset, set/reset, the Shanghai calendar, and the test-only route that moves it."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from fieldapp.core import clock
from tests.conftest import login, make_app

SHANGHAI = timezone(timedelta(hours=8))


def _close(a: datetime, b: datetime, seconds: float = 5) -> bool:
    return abs((a - b).total_seconds()) < seconds


def test_now_is_aware_utc_and_honours_the_configured_offset(app):
    real = datetime.now(timezone.utc)
    assert clock.now().tzinfo is not None and clock.now().utcoffset() == timedelta(0)
    assert _close(clock.now(), real)
    assert clock.utcnow_naive().tzinfo is None
    assert _close(clock.utcnow_naive(), real.replace(tzinfo=None))
    app.config["CLOCK_OFFSET_SECONDS"] = 3 * 3600
    assert _close(clock.now(), real + timedelta(hours=3))
    assert _close(clock.utcnow_naive(), (real + timedelta(hours=3)).replace(tzinfo=None))
    app.config["CLOCK_OFFSET_SECONDS"] = "-86400"  # as it would come from an environment variable
    assert _close(clock.now(), real - timedelta(days=1))
    clock.reset(app)
    assert _close(clock.now(), real)


def test_set_now_and_reset(app):
    clock.set_now(app, datetime(2030, 6, 1, 8, 30, tzinfo=timezone.utc))
    assert _close(clock.now(), datetime(2030, 6, 1, 8, 30, tzinfo=timezone.utc))
    # time keeps running from the moment set
    assert clock.now() >= datetime(2030, 6, 1, 8, 30, tzinfo=timezone.utc)
    # a naive moment is UTC; an aware one may be in any zone
    clock.set_now(app, datetime(2030, 6, 1, 8, 30))
    assert _close(clock.now(), datetime(2030, 6, 1, 8, 30, tzinfo=timezone.utc))
    clock.set_now(app, datetime(2030, 6, 1, 16, 30, tzinfo=SHANGHAI))
    assert _close(clock.now(), datetime(2030, 6, 1, 8, 30, tzinfo=timezone.utc))
    assert _close(clock.utcnow_naive(), datetime(2030, 6, 1, 8, 30))
    clock.reset(app)
    assert _close(clock.now(), datetime.now(timezone.utc))


def test_today_is_the_shanghai_date(app):
    clock.set_now(app, datetime(2026, 1, 1, 15, 59, tzinfo=timezone.utc))  # 23:59 in Shanghai
    assert clock.today() == date(2026, 1, 1)
    clock.set_now(app, datetime(2026, 1, 1, 17, 0, tzinfo=timezone.utc))  # 01:00 on Jan 2 in Shanghai
    assert clock.today() == date(2026, 1, 2)
    assert clock.now().date() == date(2026, 1, 1)  # still Jan 1 in UTC
    clock.set_now(app, datetime(2026, 12, 31, 16, 0, tzinfo=timezone.utc))
    assert clock.today() == date(2027, 1, 1)
    clock.reset(app)


def test_to_local_reads_stored_utc_in_shanghai():
    assert clock.to_local(None) is None
    local = clock.to_local(datetime(2026, 1, 1, 17, 0))
    assert (local.year, local.month, local.day, local.hour) == (2026, 1, 2, 1)
    assert local.utcoffset() == timedelta(hours=8)
    aware = clock.to_local(datetime(2026, 1, 1, 9, 0, tzinfo=SHANGHAI))
    assert aware.hour == 9


def test_outside_an_app_the_clock_is_real_time():
    assert _close(clock.now(), datetime.now(timezone.utc))


def test_the_test_route_moves_the_clock_for_later_requests(app, client, world):
    """The covering officer's cover ended yesterday; five days ago it was running, and they saw 桃源村."""
    login(client, world.covered)
    assert "桃源村" not in client.get("/villages").get_data(as_text=True)
    five_days_ago = clock.now() - timedelta(days=5)
    resp = client.post("/_test/clock", data={"now": five_days_ago.isoformat()})
    assert resp.status_code == 200
    assert _close(datetime.fromisoformat(resp.get_json()["now"]), five_days_ago)
    assert _close(clock.now(), five_days_ago)
    assert "桃源村" in client.get("/villages").get_data(as_text=True)
    # an empty value goes back to real time
    resp = client.post("/_test/clock", data={"now": ""})
    assert resp.status_code == 200
    assert _close(clock.now(), datetime.now(timezone.utc))
    assert "桃源村" not in client.get("/villages").get_data(as_text=True)
    # nonsense is refused and leaves the clock alone
    assert client.post("/_test/clock", data={"now": "next tuesday"}).status_code == 400
    assert _close(clock.now(), datetime.now(timezone.utc))
    # anonymous callers may use it too (browser tests set the clock before logging in)
    other = app.test_client()
    assert other.post("/_test/clock", data={"now": "2026-01-01T17:00:00+00:00"}).status_code == 200
    assert clock.today() == date(2026, 1, 2)
    clock.reset(app)


def test_the_test_route_does_not_exist_without_test_hooks(database_uri, tmp_path):
    prod_like = make_app(database_uri, tmp_path, ENABLE_TEST_HOOKS=False)
    with prod_like.app_context():
        client = prod_like.test_client()
        assert client.post("/_test/clock", data={"now": "2030-01-01T00:00:00+00:00"}).status_code == 404
        assert client.get("/_test/clock").status_code == 404
        assert "testhooks.set_clock" not in prod_like.view_functions
        assert _close(clock.now(), datetime.now(timezone.utc))
        from fieldapp.extensions import db
        db.session.remove()
        db.engine.dispose()
