"""`flask backup` and `flask restore`: the database (SQLite file or pg_dump) plus the photo folder."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import click
from flask import current_app

from ..extensions import db


def _pg_env(url: str) -> tuple[dict, str]:
    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://"))
    env = dict(os.environ)
    if parts.password:
        env["PGPASSWORD"] = parts.password
    args = f"--host={parts.hostname or 'localhost'} --port={parts.port or 5432} --username={parts.username or 'postgres'}"
    return env, args + f" --dbname={parts.path.lstrip('/')}"


@click.command("backup")
@click.argument("target", required=False)
def backup_command(target: str | None) -> None:
    """Write a .tar.gz with a consistent copy of the database and every photo."""
    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target_path = Path(target or f"fieldapp-backup-{stamp}.tar.gz").resolve()
    photo_dir = Path(current_app.config["PHOTO_DIR"])
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        if url.startswith("sqlite"):
            source = sqlite3.connect(db.engine.url.database)
            dest = sqlite3.connect(tmp_path / "fieldapp.sqlite3")
            source.backup(dest)  # online, consistent even while the app writes
            dest.close()
            source.close()
            db_name = "fieldapp.sqlite3"
        else:
            env, args = _pg_env(url)
            db_name = "fieldapp.pgdump"
            subprocess.run(f"pg_dump --format=custom --no-owner {args} --file={tmp_path / db_name}",
                           shell=True, check=True, env=env)
        with tarfile.open(target_path, "w:gz") as tar:
            tar.add(tmp_path / db_name, arcname=db_name)
            if photo_dir.is_dir():
                tar.add(photo_dir, arcname="photos")
    click.echo(f"backup written to {target_path}")


@click.command("restore")
@click.argument("source")
@click.option("--yes", is_flag=True, help="Replace the current data without asking.")
def restore_command(source: str, yes: bool) -> None:
    """Replace the database and photos with those in a backup made by `flask backup`."""
    if not yes:
        click.confirm("This replaces all current data. Continue?", abort=True)
    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    photo_dir = Path(current_app.config["PHOTO_DIR"])
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        with tarfile.open(source, "r:gz") as tar:
            tar.extractall(tmp_path, filter="data")
        db.session.remove()
        db.engine.dispose()
        if url.startswith("sqlite"):
            if not (tmp_path / "fieldapp.sqlite3").exists():
                raise click.ClickException("this backup holds no SQLite database")
            dest = Path(db.engine.url.database)
            for suffix in ("-wal", "-shm"):
                Path(str(dest) + suffix).unlink(missing_ok=True)
            shutil.copyfile(tmp_path / "fieldapp.sqlite3", dest)
        else:
            if not (tmp_path / "fieldapp.pgdump").exists():
                raise click.ClickException("this backup holds no PostgreSQL dump")
            env, args = _pg_env(url)
            subprocess.run(f"pg_restore --clean --if-exists --no-owner {args} {tmp_path / 'fieldapp.pgdump'}",
                           shell=True, check=True, env=env)
        if (tmp_path / "photos").is_dir():
            if photo_dir.exists():
                shutil.rmtree(photo_dir)
            shutil.copytree(tmp_path / "photos", photo_dir)
    click.echo(f"restored from {source}")
