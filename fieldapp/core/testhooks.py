"""Routes that exist only under the test configuration: move the live server's clock."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, current_app, request

from . import access, clock
from ..extensions import csrf

bp = Blueprint("testhooks", __name__, url_prefix="/_test")


@bp.post("/clock")
@csrf.exempt
@access.public
def set_clock():
    """Set (ISO datetime in `now`) or reset (empty) this process's clock."""
    if not current_app.config.get("ENABLE_TEST_HOOKS"):
        abort(404)
    value = (request.form.get("now") or "").strip()
    if not value:
        clock.reset(current_app)
    else:
        try:
            clock.set_now(current_app, datetime.fromisoformat(value))
        except ValueError:
            abort(400)
    return {"now": clock.now().isoformat()}
