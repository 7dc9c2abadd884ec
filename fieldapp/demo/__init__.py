"""The demo county: fictional, deterministic, loaded in idempotent layers by `flask demo load`."""
from __future__ import annotations

from typing import NamedTuple

# Every demo account shares this password (printed by `make run`); never used outside the demo.
DEMO_PASSWORD = "demo1234"


class DemoLogin(NamedTuple):
    """One login printed by `make run` (unpacks as `username, label`)."""

    username: str
    label: str


# One login per role, in the order `make run` prints them.
DEMO_LOGINS: list[DemoLogin] = [
    DemoLogin("admin", "system administrator: users and organisation"),
    DemoLogin("hq", "head-office admin: the whole county"),
    DemoLogin("manager1", "branch manager: 金源镇 branch"),
    DemoLogin("officer1", "grid officer: 4 villages in 金源镇"),
    DemoLogin("secretary1", "village secretary: 石桥村"),
    DemoLogin("panel1", "review-panel member: 石桥村"),
    DemoLogin("mediator1", "mediator: assigned dispute cases"),
    DemoLogin("auditor1", "auditor: read-only, everything"),
]

# The role each DEMO_LOGINS entry demonstrates.
DEMO_LOGIN_ROLES: dict[str, str] = {
    "admin": "sysadmin", "hq": "hq_admin", "manager1": "branch_manager", "officer1": "grid_officer",
    "secretary1": "village_secretary", "panel1": "panel_member", "mediator1": "mediator", "auditor1": "auditor",
}


class DemoRefused(Exception):
    """The database holds accounts that are not demo accounts: loading the demo there needs --force."""
