"""`flask demo load`: the demo county, added in idempotent layers.

A layer is a (name, function) pair. The function takes the DemoOptions, writes only what is missing (keyed by
stable codes, so a second run adds nothing and a run after a partial load tops up), flushes, and returns a
one-line summary. Each layer is committed on its own, in order; later layers (households, visits, ratings,
loans …) append themselves to LAYERS.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from ..extensions import db
from . import DEMO_LOGINS, DEMO_PASSWORD, DemoRefused

demo_cli = AppGroup("demo", help="The demo county.")


@dataclass(frozen=True)
class DemoOptions:
    households: int | None = None   # for the households layer (a later issue); None means its default
    force: bool = False


def _load_org(options: DemoOptions) -> str:
    from .org import load_org
    return load_org(options)


LAYERS: list[tuple[str, Callable[[DemoOptions], str]]] = [
    ("org", _load_org),
]


def refuse_foreign_accounts(force: bool = False) -> None:
    """Refuse a database that has accounts other than the demo's, unless forced."""
    from ..accounts.models import User
    from .org import demo_usernames
    allowed = demo_usernames()
    foreign = sorted(n for n in db.session.scalars(sa.select(User.username)) if n not in allowed)
    if foreign and not force:
        sample = ", ".join(foreign[:3]) + (" …" if len(foreign) > 3 else "")
        raise DemoRefused(
            f"this database has {len(foreign)} account(s) that are not demo accounts ({sample}); "
            "the demo county belongs in its own database. Use --force to load it here anyway.")


def load_all(options: DemoOptions | None = None, echo: Callable[[str], None] = lambda _msg: None) -> list[str]:
    """Run every layer in order, committing after each; returns their summaries."""
    options = options or DemoOptions()
    refuse_foreign_accounts(options.force)
    summaries = []
    for name, layer in LAYERS:
        started = time.perf_counter()
        try:
            summary = layer(options)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        line = f"{summary} ({time.perf_counter() - started:.1f} s)"
        summaries.append(line)
        echo(line)
    return summaries


@demo_cli.command("load")
@click.option("--households", type=click.IntRange(min=0), default=None,
              help="Households to generate (used by the households layer once it exists).")
@click.option("--force", is_flag=True, help="Load even though the database has accounts that are not demo accounts.")
def load_command(households: int | None, force: bool) -> None:
    """Load or top up the demo county (safe to run again: only what is missing is added)."""
    if households is not None and "households" not in dict(LAYERS):
        click.echo("note: --households has no effect yet (there is no households layer)")
    try:
        load_all(DemoOptions(households=households, force=force), echo=click.echo)
    except DemoRefused as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"demo logins (password {DEMO_PASSWORD}): " + ", ".join(login.username for login in DEMO_LOGINS))


def _load_households(options: DemoOptions) -> str:
    from .households import load_households
    return load_households(options)


def _load_ratings(options: DemoOptions) -> str:
    from .ratings import load_ratings
    return load_ratings(options)


def _load_notices(options: DemoOptions) -> str:
    from .notices import load_notices
    return load_notices(options)


def _load_certificates(options: DemoOptions) -> str:
    from .certificates import load_certificates
    return load_certificates(options)


LAYERS.append(("households", _load_households))
LAYERS.append(("ratings", _load_ratings))
LAYERS.append(("notices", _load_notices))
LAYERS.append(("certificates", _load_certificates))

from .roster import roster_command  # noqa: E402

demo_cli.add_command(roster_command)
