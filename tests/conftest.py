"""Fixtures: a real database built from the migrations (SQLite file by default, PostgreSQL with DATABASE_URL)."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings

# Speed is measured in bench/, never asserted: no per-example deadline on a loaded 2-core machine.
settings.register_profile("fieldapp", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("fieldapp")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("INSTANCE_PATH", str(ROOT / "instance" / "test"))

from fieldapp import create_app  # noqa: E402
from fieldapp.config import TestConfig  # noqa: E402
from fieldapp.extensions import db  # noqa: E402

from tests.support.world import build_world  # noqa: E402

PG_URL = os.environ.get("DATABASE_URL", "")
ENGINE = "postgresql" if PG_URL.startswith("postgres") else "sqlite"


def _pg(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _migrate(uri: str, tmp: Path) -> None:
    """Build the schema the way production does: alembic upgrade head."""
    from flask_migrate import upgrade
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=uri, SECRET_KEY="test", PHOTO_DIR=str(tmp / "photos"))
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        db.engine.dispose()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory, worker_id):
    """Once per test process: a migrated SQLite file to copy, or a migrated PostgreSQL database to truncate."""
    tmp = tmp_path_factory.mktemp("db")
    if ENGINE == "sqlite":
        path = tmp / "template.sqlite3"
        _migrate(f"sqlite:///{path}", tmp)
        return {"engine": "sqlite", "path": path}
    base = sa.make_url(_pg(PG_URL))
    name = f"fieldapp_test_{worker_id}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = base.set(database=name).render_as_string(hide_password=False)
    _migrate(url, tmp)
    return {"engine": "postgresql", "url": url}


@pytest.fixture
def database_uri(database_template, tmp_path):
    """A fresh database for one test."""
    if database_template["engine"] == "sqlite":
        path = tmp_path / "test.sqlite3"
        shutil.copyfile(database_template["path"], path)
        yield f"sqlite:///{path}"
        return
    url = database_template["url"]
    yield url
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        tables = [r[0] for r in conn.execute(sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename <> 'alembic_version'"))]
        if tables:
            conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    engine.dispose()


def make_app(database_uri: str, tmp_path: Path, **overrides):
    config = dict(SQLALCHEMY_DATABASE_URI=database_uri, SECRET_KEY="test-secret", PHOTO_DIR=str(tmp_path / "photos"),
                  WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False)
    if database_uri.startswith("postgresql"):
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_size": 25, "max_overflow": 10}
    config.update(overrides)
    app = create_app(TestConfig, **config)

    def fresh_g():
        # Tests keep one app context open around the client, so Flask would share `g` between requests;
        # in production every request starts with an empty `g` (cached login user, locale): do the same here.
        from flask import g
        for name in list(vars(g)):
            delattr(g, name)
    app.before_request_funcs.setdefault(None, []).insert(0, fresh_g)
    return app


@pytest.fixture
def app_config():
    """Override per test module: e.g. {"WTF_CSRF_ENABLED": True}."""
    return {}


@pytest.fixture
def app(database_uri, tmp_path, app_config):
    app = make_app(database_uri, tmp_path, **app_config)
    from fieldapp.extensions import limiter
    with app.app_context():
        limiter.reset()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def world(app):
    """A small county: 2 branches, grids with owner/backup/cover, villages split by group, a user per role."""
    w = build_world()
    db.session.commit()
    return w


PASSWORD = "test-pass-123"


def login(client, user_or_name, password: str = PASSWORD):
    """Log the test client in through the real login form."""
    name = user_or_name if isinstance(user_or_name, str) else user_or_name.username
    resp = client.post("/login", data={"login": name, "password": password})
    assert resp.status_code == 303, resp.data[:500]
    return resp


HX = {"HX-Request": "true"}
