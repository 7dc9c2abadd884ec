"""Append-only audit log: a session listener records every change to audited models in the same transaction."""
from __future__ import annotations

import hashlib
import hmac
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app, g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..extensions import db
from . import clock
from .masking import mask_id_number, mask_phone

ACTIONS = ("create", "update", "delete", "transition", "view_sensitive", "print", "export", "login",
           "login_failed", "logout")
SKIP_COLUMNS = {"version", "updated_at"}


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    __table_args__ = (sa.Index("ix_audit_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[int | None] = mapped_column(index=True)
    actor_name: Mapped[str | None] = mapped_column(sa.String(50))
    actor_roles: Mapped[str | None] = mapped_column(sa.String(200))
    action: Mapped[str] = mapped_column(sa.String(20), index=True)
    entity_type: Mapped[str] = mapped_column(sa.String(40))
    entity_id: Mapped[str | None] = mapped_column(sa.String(40))
    changes: Mapped[dict | None] = mapped_column(sa.JSON)
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    user_agent: Mapped[str | None] = mapped_column(sa.String(200))


def _hash(value: str) -> str:
    key = current_app.config["SECRET_KEY"].encode() if current_app else b""
    return "h:" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:16]


def _plain(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    return value


def protect(model, key: str, value):
    """Store a sensitive value hashed or masked, never in clear."""
    if value is None:
        return None
    how = getattr(model, "__sensitive__", {}).get(key)
    if how is None:
        return _plain(value)
    if how == "drop":
        return "***"
    if how == "hash":
        return _hash(str(value))
    if how == "mask_id":
        return mask_id_number(str(value))
    return mask_phone(str(value))


def _actor() -> dict:
    info: dict = {"actor_id": None, "actor_name": None, "actor_roles": None, "ip": None, "user_agent": None}
    if has_request_context():
        user = g.get("audit_actor") or _current_user()
        if user is not None:
            info.update(actor_id=user.id, actor_name=user.name, actor_roles=",".join(user.role_codes))
        info["ip"] = request.remote_addr
        info["user_agent"] = (request.user_agent.string or "")[:200]
    else:
        info["actor_name"] = "system"
    return info


def _current_user():
    from flask_login import current_user
    try:
        if current_user and current_user.is_authenticated:
            return current_user._get_current_object()
    except Exception:  # noqa: BLE001 - no user loader outside a request is normal
        return None
    return None


def _identity(obj) -> str | None:
    ids = sa.inspect(obj).identity
    if not ids:
        return None
    return ":".join(str(i) for i in ids)


def _columns(obj):
    mapper = sa.inspect(obj).mapper
    return [attr for attr in mapper.column_attrs if attr.key not in SKIP_COLUMNS]


def _row(obj, action: str, changes: dict | None) -> dict:
    return {"at": clock.utcnow_naive(), "action": action, "entity_type": obj.__tablename__,
            "entity_id": _identity(obj), "changes": changes, **_actor()}


def _after_flush(session: Session, _flush_context) -> None:
    rows = []
    for obj in session.new:
        if getattr(obj, "__audited__", False):
            values = {a.key: protect(type(obj), a.key, getattr(obj, a.key)) for a in _columns(obj)}
            rows.append(_row(obj, "create", {"after": values}))
    for obj in session.dirty:
        if not getattr(obj, "__audited__", False) or not session.is_modified(obj, include_collections=False):
            continue
        state = sa.inspect(obj)
        before, after = {}, {}
        for attr in _columns(obj):
            hist = state.attrs[attr.key].history
            if hist.has_changes():
                old = hist.deleted[0] if hist.deleted else None
                new = hist.added[0] if hist.added else None
                if old != new:
                    before[attr.key] = protect(type(obj), attr.key, old)
                    after[attr.key] = protect(type(obj), attr.key, new)
        if after:
            action = "transition" if "status" in after else "update"
            rows.append(_row(obj, action, {"before": before, "after": after}))
    for obj in session.deleted:
        if getattr(obj, "__audited__", False):
            values = {a.key: protect(type(obj), a.key, getattr(obj, a.key)) for a in _columns(obj)}
            rows.append(_row(obj, "delete", {"before": values}))
    if rows:
        session.connection().execute(sa.insert(AuditEvent.__table__), rows)


def install() -> None:
    """Listen on every ORM session (idempotent)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)


def record(action: str, entity_type: str, entity_id=None, *, changes: dict | None = None,
           reason: str | None = None, actor=None) -> None:
    """An explicit event (view-sensitive, print, export, login): written with the request's transaction."""
    info = _actor()
    if actor is not None:
        info.update(actor_id=actor.id, actor_name=actor.name, actor_roles=",".join(actor.role_codes))
    db.session.add(AuditEvent(at=clock.utcnow_naive(), action=action, entity_type=entity_type,
                              entity_id=None if entity_id is None else str(entity_id), changes=changes,
                              reason=reason, **info))
