"""`flask backup` and `flask restore`: the database (SQLite file or pg_dump) plus the photo folder.

SQLite is copied and restored through SQLite's online-backup API, so the write-ahead log is honoured and
other connections see either the old or the new database, never a half-copied file. PostgreSQL goes through
pg_dump (custom format) and pg_restore in a single transaction. Stop the app servers before a restore.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from datetime import datetime
from pathlib import Path

import click
from flask import current_app

from ..extensions import db

SQLITE_NAME = "fieldapp.sqlite3"
PG_NAME = "fieldapp.pgdump"
PHOTOS = "photos"


def _pg_args() -> tuple[dict, list[str]]:
    """Connection options for pg_dump/pg_restore from the app's URL (password via the environment)."""
    url = db.engine.url
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    # A restore waiting on a lock held by a running server fails after a minute instead of hanging.
    env["PGOPTIONS"] = (env.get("PGOPTIONS", "") + " -c lock_timeout=60000").strip()
    args = [f"--host={url.host or 'localhost'}", f"--port={url.port or 5432}",
            f"--username={url.username or 'postgres'}", f"--dbname={url.database}"]
    return env, args


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise click.ClickException(f"{name} is not installed (Debian package: postgresql-client)")
    return path


def _run(cmd: list[str], env: dict) -> None:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise click.ClickException(f"{Path(cmd[0]).name} failed: {proc.stderr.strip()[-2000:]}")


@click.command("backup")
@click.argument("target", required=False)
def backup_command(target: str | None) -> None:
    """Write a .tar.gz with a consistent copy of the database and every photo."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target_path = Path(target or f"fieldapp-backup-{stamp}.tar.gz").resolve()
    photo_dir = Path(current_app.config["PHOTO_DIR"])
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        if db.engine.dialect.name == "sqlite":
            db_name = SQLITE_NAME
            source = sqlite3.connect(db.engine.url.database)
            dest = sqlite3.connect(tmp_path / db_name)
            try:
                source.execute("PRAGMA busy_timeout=15000")
                source.backup(dest)  # online, consistent even while the app writes; includes the WAL
            finally:
                dest.close()
                source.close()
        else:
            db_name = PG_NAME
            env, args = _pg_args()
            _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", *args,
                  f"--file={tmp_path / db_name}"], env)
        partial = target_path.with_name(target_path.name + ".part")
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(tmp_path / db_name, arcname=db_name)
            if photo_dir.is_dir():
                tar.add(photo_dir, arcname=PHOTOS)
            else:  # an empty folder still says "no photos" on restore
                (tmp_path / PHOTOS).mkdir()
                tar.add(tmp_path / PHOTOS, arcname=PHOTOS)
        partial.replace(target_path)  # never leave a truncated archive under the final name
    click.echo(f"backup written to {target_path}")


def _restore_sqlite(backup_file: Path) -> None:
    """Copy the backup into the live database file through the backup API (WAL-safe, atomic for readers)."""
    source = sqlite3.connect(backup_file)
    dest = sqlite3.connect(db.engine.url.database)
    try:
        check = source.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise click.ClickException(f"the backup's database is damaged: {check}")
        dest.execute("PRAGMA busy_timeout=15000")
        source.backup(dest)
        dest.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        dest.close()
        source.close()


def _restore_photos(extracted: Path, photo_dir: Path) -> None:
    """Swap the photo folder for the backup's: copy beside it, then rename, so a failure leaves the old one."""
    photo_dir.parent.mkdir(parents=True, exist_ok=True)
    incoming = photo_dir.with_name(photo_dir.name + ".restoring")
    outgoing = photo_dir.with_name(photo_dir.name + ".old")
    for leftover in (incoming, outgoing):
        if leftover.exists():
            shutil.rmtree(leftover)
    shutil.copytree(extracted, incoming)
    if photo_dir.exists():
        photo_dir.rename(outgoing)
    incoming.rename(photo_dir)
    if outgoing.exists():
        shutil.rmtree(outgoing)


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Replace the current data without asking.")
def restore_command(source: str, yes: bool) -> None:
    """Replace the database and photos with those in a backup made by `flask backup`."""
    if not yes:
        click.confirm("This replaces all current data. Continue?", abort=True)
    photo_dir = Path(current_app.config["PHOTO_DIR"])
    sqlite = db.engine.dialect.name == "sqlite"
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        with tarfile.open(source, "r:gz") as tar:
            tar.extractall(tmp_path, filter="data")
        wanted = SQLITE_NAME if sqlite else PG_NAME
        if not (tmp_path / wanted).exists():
            raise click.ClickException(
                f"this backup holds no {'SQLite database' if sqlite else 'PostgreSQL dump'} ({wanted})")
        # Give back this process's connections first, so none holds a lock or an old snapshot.
        db.session.remove()
        db.engine.dispose()
        if sqlite:
            _restore_sqlite(tmp_path / wanted)
        else:
            env, args = _pg_args()
            _run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
                  "--single-transaction", *args, str(tmp_path / wanted)], env)
        db.engine.dispose()
        if (tmp_path / PHOTOS).is_dir():
            _restore_photos(tmp_path / PHOTOS, photo_dir)
    click.echo(f"restored from {source}; run `flask db upgrade` if this backup is from an older version")
