"""Browser fixtures: the app served for real (CSRF on) on a file database, and one Chromium per test process.

The live server is module-scoped: each test module (on each xdist worker) gets its own copy of the migrated
template database, the `world` committed into it, and its own port. One Chromium runs per worker session; every
test gets fresh contexts ("Galaxy S8", zh-CN) from the `new_context` factory, closed when the test ends.
"""
from __future__ import annotations

import shutil
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS, snapshot_world
from tests.conftest import PASSWORD, _migrate, make_app

from fieldapp.extensions import db


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):  # the access log would bury a failing test's report
        pass


class LiveServer:
    """The app on 127.0.0.1:<free port>, plus the world's ids and a cache of logged-in browser states."""

    def __init__(self, app, world: SimpleNamespace):
        self.app = app
        self.world = world
        self._server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="live-server", daemon=True)
        self._states: dict[str, dict] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
        with self.app.app_context():
            db.engine.dispose()

    def storage_state(self, browser, device: dict, username: str) -> dict:
        """Cookies of a session logged in as `username` through the real login form (once per module)."""
        with self._lock:
            if username not in self._states:
                ctx = browser.new_context(**device, base_url=self.url)
                try:
                    page = ctx.new_page()
                    page.goto("/login")
                    page.fill("#login", username)
                    page.fill("#password", PASSWORD)
                    with page.expect_navigation():
                        page.click("#login-form button[type=submit]")
                    assert "/login" not in page.url, f"login as {username} failed: {page.url}"
                    self._states[username] = ctx.storage_state()
                finally:
                    ctx.close()
            return self._states[username]


def add_file_records(w) -> None:
    """What the household pages show, for h1 (in officer1's grid): a visit, a photo, a debt; and one LPR row.

    Made through the app's own services where there is one (record_visit, the real photo pipeline into this
    app's PHOTO_DIR), so the pages render what a real officer would have entered.
    """
    import io
    from datetime import date
    from decimal import Decimal

    from PIL import Image

    from fieldapp.core import clock
    from fieldapp.households import rules
    from fieldapp.households.models import Debt, LprRate
    from fieldapp.households.sections import lpr_table
    from fieldapp.visits import services as visits

    w.lpr1 = LprRate(effective_on=date(2024, 10, 21), one_year=Decimal("3.10"), five_year=Decimal("3.60"))
    db.session.add(w.lpr1)
    db.session.flush()
    w.visit1 = visits.record_visit(w.h1, w.officer, visits.VisitInput(
        purpose="first", outcome="done", notes="户主在家，看了房屋和圈舍。", gps_lat=26.536, gps_lng=99.901,
        gps_accuracy_m=12.0))
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), (120, 160, 90)).save(buf, "JPEG")
    w.photo1 = visits.save_photo(w.h1, w.officer, buf.getvalue(), "house", visit=w.visit1)
    debt = Debt(household_id=w.h1.id, kind="private", lender_type="relative", creditor_name="王大伯",
                principal_written_fen=5_000_000, principal_received_fen=5_000_000, balance_fen=3_000_000,
                contract_date=date(2024, 3, 1), rate_value=Decimal("1.5"), rate_unit="pct_month",
                written_contract=True, status="normal")
    result = rules.assess_debt(kind=debt.kind, principal_written=debt.principal_written_fen,
                               principal_received=debt.principal_received_fen, rate_value=debt.rate_value,
                               rate_unit=debt.rate_unit, contract_date=debt.contract_date,
                               written_contract=debt.written_contract, table=lpr_table(), today=clock.today())
    debt.annual_rate, debt.cap_rate = result.annual_rate, result.cap
    debt.flags = [f for f in rules.DEBT_FLAGS if f in result.flags]
    w.debt1 = debt
    db.session.add(debt)
    db.session.flush()


@pytest.fixture(scope="module")
def live_server(database_template, tmp_path_factory):
    """The app (real CSRF) served in a background thread on a private copy of the template database."""
    tmp = tmp_path_factory.mktemp("live")
    path = tmp / "live.sqlite3"
    if database_template["engine"] == "sqlite":
        shutil.copyfile(database_template["path"], path)
    else:
        # The per-worker PostgreSQL database is truncated after every function-scoped test, so a module-long
        # server cannot live in it: the browser layer tests the pages, and runs on its own migrated SQLite file.
        _migrate(f"sqlite:///{path}", tmp)
    uri = f"sqlite:///{path}"
    app = make_app(uri, Path(tmp), WTF_CSRF_ENABLED=True)
    with app.app_context():
        from fieldapp.core.jobs import Job
        from tests.support.world import build_world
        w = build_world()
        db.session.flush()
        add_file_records(w)
        job = Job(kind="browser-sweep", params={}, status="done", total=3, done_count=3,
                  created_by=w.sysadmin.id)
        db.session.add(job)
        db.session.commit()
        world = snapshot_world(w, job=job)
        db.session.remove()
    server = LiveServer(app, world)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def playwright_instance():
    from playwright.sync_api import sync_playwright
    pw = sync_playwright().start()
    yield pw
    pw.stop()


@pytest.fixture(scope="session")
def device(playwright_instance) -> dict:
    """Context options: a Galaxy S8 (360x740, touch, mobile UA) set to Chinese."""
    return {**playwright_instance.devices["Galaxy S8"], "locale": "zh-CN"}


@pytest.fixture(scope="session")
def browser(playwright_instance):
    """One headless Debian Chromium per test process (Playwright's own browser download is not used)."""
    b = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield b
    b.close()


@pytest.fixture
def new_context(browser, device, live_server):
    """Factory: new_context(user=None, bypass_csp=False) -> a Galaxy S8 zh-CN context, logged in as `user`."""
    made = []

    def make(user=None, *, bypass_csp: bool = False):
        opts = {**device, "base_url": live_server.url, "bypass_csp": bypass_csp}
        if user is not None:
            name = user if isinstance(user, str) else user.username
            opts["storage_state"] = live_server.storage_state(browser, device, name)
        ctx = browser.new_context(**opts)
        ctx.set_default_timeout(10_000)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


@pytest.fixture
def watched_context(new_context):
    """The new_context factory, watched: any script error or CSP violation on a page the test opens fails the test."""
    from tests.browser.helpers import watch_contexts
    make, problems = watch_contexts(new_context)
    yield make
    assert not problems, "\n".join(problems)


@pytest.fixture
def world_ids(live_server):
    """The committed world as plain values (ids, usernames, names)."""
    return live_server.world
