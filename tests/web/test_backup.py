"""`flask backup` / `flask restore`: database and photos come back as they were (SQLite with WAL, or PostgreSQL)."""
from __future__ import annotations

import shutil
import sqlite3
import tarfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from fieldapp.accounts import services as accounts
from fieldapp.accounts.models import User
from fieldapp.extensions import db
from fieldapp.org.models import County
from tests.conftest import ENGINE, PASSWORD, login


@pytest.fixture
def runner(app):
    if ENGINE == "postgresql":  # a PostgreSQL install must be able to back up: fail, never skip
        assert shutil.which("pg_dump") and shutil.which("pg_restore"), "pg_dump/pg_restore are not installed"
    return app.test_cli_runner()


def invoke(runner, *args, **kwargs):
    result = runner.invoke(args=list(args), **kwargs)
    db.session.remove()
    return result


def county_names() -> set[str]:
    return set(db.session.scalars(sa.select(County.name)))


def test_backup_then_restore_brings_back_data_and_photos(app, runner, client, tmp_path):
    photo_dir = Path(app.config["PHOTO_DIR"])
    photo = photo_dir / "ab" / "abcdef0123.jpg"
    photo.parent.mkdir(parents=True)
    photo.write_bytes(b"\xff\xd8\xff original photo")
    db.session.add(County(admin_code="532901", name="原样县"))
    accounts.create_user(username="keeper", name="李保管", password=PASSWORD, roles=[("sysadmin", None, None)])
    db.session.commit()

    other = None
    if ENGINE == "sqlite":
        assert db.session.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        db_file = Path(db.engine.url.database)
        # The committed rows still sit in the write-ahead log: the backup must include them.
        assert Path(str(db_file) + "-wal").stat().st_size > 0
        # Another connection (think: a second server process) stays open across the restore.
        other = sqlite3.connect(db_file)
        assert other.execute("SELECT count(*) FROM counties").fetchone()[0] == 1

    archive = tmp_path / "out" / "backup.tar.gz"
    archive.parent.mkdir()
    result = invoke(runner, "backup", str(archive))
    assert result.exit_code == 0, result.output
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert "photos/ab/abcdef0123.jpg" in names
    assert ("fieldapp.sqlite3" if ENGINE == "sqlite" else "fieldapp.pgdump") in names
    assert not list(archive.parent.glob("*.part"))

    # Change everything after the backup.
    county = db.session.scalar(sa.select(County))
    county.name = "改过县"
    db.session.add(County(admin_code="532902", name="后加县"))
    db.session.delete(db.session.scalar(sa.select(User).where(User.username == "keeper")))
    db.session.commit()
    photo.write_bytes(b"overwritten")
    (photo_dir / "ab" / "later.jpg").write_bytes(b"added after the backup")
    assert county_names() == {"改过县", "后加县"}
    if other is not None:
        assert other.execute("SELECT count(*) FROM counties").fetchone()[0] == 2

    result = invoke(runner, "restore", str(archive), "--yes")
    assert result.exit_code == 0, result.output

    assert county_names() == {"原样县"}
    assert photo.read_bytes() == b"\xff\xd8\xff original photo"
    assert not (photo_dir / "ab" / "later.jpg").exists()
    assert not photo_dir.with_name(photo_dir.name + ".old").exists()
    if other is not None:
        # The connection that stayed open reads the restored database, not a stale or broken one.
        assert other.execute("SELECT name FROM counties").fetchall() == [("原样县",)]
        assert other.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        other.close()
        assert db.session.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"

    # The app works on the restored database: the restored account logs in and writes.
    login(client, "keeper")
    db.session.add(County(admin_code="532903", name="再写县"))
    db.session.commit()
    assert county_names() == {"原样县", "再写县"}


def test_restore_asks_first(app, runner, tmp_path):
    db.session.add(County(admin_code="532901", name="原样县"))
    db.session.commit()
    archive = tmp_path / "backup.tar.gz"
    assert invoke(runner, "backup", str(archive)).exit_code == 0
    db.session.add(County(admin_code="532902", name="后加县"))
    db.session.commit()
    result = invoke(runner, "restore", str(archive), input="n\n")
    assert result.exit_code != 0
    assert county_names() == {"原样县", "后加县"}


def test_restore_refuses_an_archive_without_a_database(app, runner, tmp_path):
    stray = tmp_path / "notes.txt"
    stray.write_text("not a backup")
    archive = tmp_path / "wrong.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(stray, arcname="notes.txt")
    db.session.add(County(admin_code="532901", name="原样县"))
    db.session.commit()
    result = invoke(runner, "restore", str(archive), "--yes")
    assert result.exit_code != 0 and "holds no" in result.output
    assert county_names() == {"原样县"}
