"""Home, health and job progress: pages every capability shares."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, redirect, url_for
from flask_login import current_user

from ..extensions import db
from . import access
from .jobs import Job
from .web import render
from flask import Blueprint

bp = Blueprint("core", __name__)


@bp.get("/")
@access.any_user
def home():
    """Each role's starting page: villages for field roles, administration for admins."""
    roles = set(current_user.role_codes)
    if roles & {"grid_officer", "branch_manager"}:
        return redirect(url_for("households.worklist"))
    if roles & access.DATA_ROLES:
        return redirect(url_for("org.villages"))
    return render("core/home.html", None, roles=roles)


@bp.get("/healthz")
@access.public
def healthz():
    """Load balancers and `make run` poll this: the database answers."""
    db.session.execute(sa.text("SELECT 1"))
    return {"status": "ok"}


@bp.get("/jobs/<int:job_id>")
@access.any_user
def job(job_id: int):
    """A batch job's progress; the fragment polls itself until the job finishes."""
    job = db.session.get(Job, job_id)
    if job is None or (job.created_by != current_user.id and not current_user.has_role("hq_admin", "auditor")):
        abort(404)
    return render("core/job.html", "core/_job.html", job=job)


@bp.get("/audit")
@access.policy(read={"hq_admin", "auditor"})
def audit_log():
    """The audit log, filterable by action, record type, actor and date."""
    from datetime import datetime, timedelta

    from flask import request

    from .audit import ACTIONS, AuditEvent
    stmt = sa.select(AuditEvent).order_by(AuditEvent.id.desc())
    filters = {k: (request.args.get(k) or "").strip() for k in ("action", "entity", "actor", "since", "until")}
    if filters["action"] in ACTIONS:
        stmt = stmt.where(AuditEvent.action == filters["action"])
    if filters["entity"]:
        stmt = stmt.where(AuditEvent.entity_type == filters["entity"][:40])
    if filters["actor"]:
        actor = filters["actor"][:50].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(AuditEvent.actor_name.like(f"%{actor}%", escape="\\"))
    for key, op in (("since", "ge"), ("until", "lt")):
        if filters[key]:
            try:
                day = datetime.fromisoformat(filters[key])
            except ValueError:
                filters[key] = ""
                continue
            # dates are entered in local time (UTC+8); events are stored in UTC
            moment = day - timedelta(hours=8) + (timedelta(days=1) if op == "lt" else timedelta(0))
            stmt = stmt.where(AuditEvent.at >= moment if op == "ge" else AuditEvent.at < moment)
    page = max(request.args.get("page", 1, type=int), 1)
    events = db.paginate(stmt, page=page, per_page=50, error_out=False, count=False)
    entity_types = db.session.scalars(sa.select(AuditEvent.entity_type).distinct().order_by(AuditEvent.entity_type)).all()
    return render("core/audit.html", "core/_audit_rows.html", events=events, filters=filters, actions=ACTIONS,
                  entity_types=entity_types)
