"""`flask demo load`: the demo county, added in idempotent layers."""
from __future__ import annotations

import click
from flask.cli import AppGroup

demo_cli = AppGroup("demo", help="The demo county.")


@demo_cli.command("load")
def load_command() -> None:
    """Load or top up the demo county."""
    from .org import load_org
    click.echo(load_org())
