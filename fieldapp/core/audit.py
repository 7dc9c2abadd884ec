"""Append-only audit log: ORM listeners record every change to audited models in the same transaction.

A model opts in with `__audited__ = True` and names sensitive columns in `__sensitive__` ({column: "mask" |
"mask_id" | "hash" | "drop"}): they are stored masked, keyed-hashed or as "***", never in clear. Only changes made
through the unit of work are seen (add, attribute set, delete, cascades); a bulk `session.execute(update(...))`
or `insert(...)` with a list of rows bypasses the log, so audited models are never changed that way.
"""
from __future__ import annotations

import hashlib
import hmac
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app, g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Mapper, Session, mapped_column

from ..extensions import db
from . import clock
from .masking import mask_id_number, mask_name, mask_phone

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
    """A JSON-safe copy of a column value (the event must never fail the change it records)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


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
    if how == "mask_name":
        return mask_name(str(value))
    return mask_phone(str(value))


def _text(value, size: int) -> str | None:
    """A string column's value: PostgreSQL refuses NUL characters, and an event must never fail its change."""
    if value is None:
        return None
    return str(value).replace("\x00", "")[:size] or None


def _actor() -> dict:
    """Who is acting: the logged-in user (or g.audit_actor) with roles, IP and browser; "system" outside requests."""
    info: dict = {"actor_id": None, "actor_name": None, "actor_roles": None, "ip": None, "user_agent": None}
    if has_request_context():
        user = g.get("audit_actor") or _current_user()
        if user is not None:
            info.update(_who(user))
        info["ip"] = _text(request.remote_addr, 45)
        info["user_agent"] = _text(request.user_agent.string, 200)
    else:
        info["actor_name"] = "system"
    return info


def _who(user) -> dict:
    return {"actor_id": user.id, "actor_name": _text(user.name, 50),
            "actor_roles": _text(",".join(user.role_codes), 200)}


def _current_user():
    from flask_login import current_user
    try:
        if current_user and current_user.is_authenticated:
            return current_user._get_current_object()
    except Exception:  # noqa: BLE001 - no user loader outside a request is normal
        return None
    return None


# ---------------------------------------------------------------- the session listener
#
# Mapper events see every row the flush writes, including rows deleted by a cascade or as orphans (removing a
# role grant from a user's list), which Session.new/dirty/deleted do not show. They only collect; after_flush
# writes the events with one INSERT on the flush's own connection, so they commit or roll back with the change.

PENDING = "audit_pending"
ACTOR = "audit_actor"


def _audited(target) -> bool:
    return bool(getattr(target, "__audited__", False))


def _columns(mapper):
    return [attr for attr in mapper.column_attrs if attr.key not in SKIP_COLUMNS]


def _identity(mapper, state) -> str | None:
    ids = state.identity
    if not ids:  # just inserted: the key is on the object but not yet in the identity map
        ids = tuple(state.dict.get(mapper.get_property_by_column(col).key) for col in mapper.primary_key)
    if not ids or all(i is None for i in ids):
        return None
    return _text(":".join(str(i) for i in ids), 40)


def _db_row(mapper, connection, state, keys) -> dict:
    """The stored values of `keys` (before this flush changes them), read on the flush's connection."""
    ident = state.identity
    if not keys or not ident:
        return {}
    props = [mapper.attrs[k] for k in keys]
    stmt = sa.select(*[p.columns[0] for p in props]).where(
        *[col == value for col, value in zip(mapper.primary_key, ident)])
    row = connection.execute(stmt).first()
    return {} if row is None else {p.key: value for p, value in zip(props, row)}


def _pending(target, mapper, state, action: str, changes: dict) -> None:
    session = sa.orm.object_session(target)
    if session is None:
        return
    session.info.setdefault(PENDING, []).append(
        {"action": action, "entity_type": getattr(target, "__tablename__", mapper.local_table.name),
         "entity_id": _identity(mapper, state), "changes": changes})


def _on_insert(mapper, _connection, target) -> None:
    if not _audited(target):
        return
    state = sa.inspect(target)
    cls = type(target)
    values = {}
    for attr in _columns(mapper):
        if attr.key in state.dict:
            values[attr.key] = protect(cls, attr.key, state.dict[attr.key])
        elif all(col.server_default is None for col in attr.columns):
            values[attr.key] = None  # never set: inserted as NULL
    _pending(target, mapper, state, "create", {"after": values})


def _on_update(mapper, connection, target) -> None:
    if not _audited(target):
        return
    state = sa.inspect(target)
    old, new, unknown = {}, {}, []
    for attr in _columns(mapper):
        hist = state.attrs[attr.key].history
        if not hist.added:
            continue
        new[attr.key] = hist.added[0]
        if hist.deleted:
            old[attr.key] = hist.deleted[0]
        else:
            unknown.append(attr.key)  # set without being loaded first: the row still holds the old value
    old.update(_db_row(mapper, connection, state, unknown))
    cls = type(target)
    before, after = {}, {}
    for key, value in new.items():
        if old.get(key) == value:
            continue
        before[key] = protect(cls, key, old.get(key))
        after[key] = protect(cls, key, value)
    if after:
        action = "transition" if "status" in after else "update"
        _pending(target, mapper, state, action, {"before": before, "after": after})


def _on_delete(mapper, connection, target) -> None:
    if not _audited(target):
        return
    state = sa.inspect(target)
    columns = _columns(mapper)
    values = {a.key: state.dict[a.key] for a in columns if a.key in state.dict}
    values.update(_db_row(mapper, connection, state, [a.key for a in columns if a.key not in values]))
    cls = type(target)
    _pending(target, mapper, state, "delete", {"before": {k: protect(cls, k, v) for k, v in values.items()}})


def _before_flush(session: Session, _flush_context, _instances) -> None:
    session.info[PENDING] = []
    session.info.pop(ACTOR, None)
    if any(_audited(o) for o in (*session.new, *session.dirty, *session.deleted)):
        session.info[ACTOR] = _actor()  # before the flush proper: this may load the current user


def _after_flush(session: Session, _flush_context) -> None:
    pending = session.info.pop(PENDING, None)
    actor = session.info.pop(ACTOR, None)
    if not pending:
        return
    if actor is None:
        actor = _actor()
    at = clock.utcnow_naive()
    session.connection().execute(sa.insert(AuditEvent.__table__), [{"at": at, **row, **actor} for row in pending])


def _after_soft_rollback(session: Session, _previous_transaction) -> None:
    session.info.pop(PENDING, None)
    session.info.pop(ACTOR, None)


LISTENERS = (
    (Mapper, "after_insert", _on_insert),
    (Mapper, "before_update", _on_update),
    (Mapper, "before_delete", _on_delete),
    (Session, "before_flush", _before_flush),
    (Session, "after_flush", _after_flush),
    (Session, "after_soft_rollback", _after_soft_rollback),
)


def install() -> None:
    """Listen on every ORM mapper and session (idempotent)."""
    for target, name, fn in LISTENERS:
        if not event.contains(target, name, fn):
            event.listen(target, name, fn)


def record(action: str, entity_type: str, entity_id=None, *, changes: dict | None = None,
           reason: str | None = None, actor=None) -> None:
    """An explicit event (view-sensitive, print, export, login): written with the request's transaction.

    `actor` names who acts when nobody is logged in yet (a login): the request's other changes (last login
    time, a password rehash) are then attributed to them too.
    """
    info = _actor()
    if actor is not None:
        info.update(_who(actor))
        if has_request_context() and _current_user() is None:
            g.audit_actor = actor
    db.session.add(AuditEvent(at=clock.utcnow_naive(), action=action, entity_type=entity_type,
                              entity_id=_text(entity_id, 40), changes=None if changes is None else _plain(changes),
                              reason=_text(reason, 500), **info))
