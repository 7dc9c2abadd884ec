"""`flask users …`: accounts for a real install."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from ..extensions import db
from . import services

users_cli = AppGroup("users", help="Staff accounts.")


@users_cli.command("create-admin")
@click.option("--username", prompt=True)
@click.option("--name", prompt="Full name")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def create_admin(username: str, name: str, password: str) -> None:
    """Create the first system administrator (users and organisation only)."""
    if services.find_login(username):
        raise click.ClickException(f"user {username!r} already exists")
    if len(password) < 8:
        raise click.ClickException("the password needs at least 8 characters")
    services.create_user(username=username, name=name, password=password, roles=[("sysadmin", None, None)])
    db.session.commit()
    click.echo(f"created system administrator {username}")
