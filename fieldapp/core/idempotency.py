"""Create routes replay their first outcome for a repeated key: a double tap or a retry records once.

The key arrives as the hidden form field `idem_key` (generated when the form is rendered) or the
`Idempotency-Key` header (the offline outbox). It is bound to the user (or anonymous session), the endpoint
and a hash of the payload. The key row is inserted in the same transaction as the record it creates, under a
unique constraint, so concurrent copies serialise on the database: one commits, the others find its row and
replay its response.
"""
from __future__ import annotations

import functools
import hashlib
import json
import secrets
import time
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import abort, current_app, make_response, request, session
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from . import clock

FIELD = "idem_key"
HEADER = "Idempotency-Key"
IGNORED_FIELDS = {FIELD, "csrf_token"}


class IdempotencyKey(db.Model):
    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(sa.String(64))
    endpoint: Mapped[str] = mapped_column(sa.String(100))
    payload_hash: Mapped[str] = mapped_column(sa.String(64))
    status_code: Mapped[int | None]
    location: Mapped[str | None] = mapped_column(sa.String(500))
    body: Mapped[str | None] = mapped_column(sa.Text)
    content_type: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(index=True)


def new_key() -> str:
    """A fresh key for a form being rendered."""
    return uuid.uuid4().hex


def _owner() -> str:
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    if "anon_id" not in session:
        session["anon_id"] = secrets.token_hex(8)
    return f"anon:{session['anon_id']}"


def payload_hash() -> str:
    """Hash of the submitted fields and files, ignoring the key and the CSRF token."""
    digest = hashlib.sha256()
    items = sorted((k, v) for k, vs in request.form.lists() if k not in IGNORED_FIELDS for v in vs)
    digest.update(json.dumps(items, ensure_ascii=False).encode())
    for name, storage in sorted(request.files.items(multi=True), key=lambda kv: kv[0]):
        pos = storage.stream.tell()
        digest.update(name.encode())
        digest.update(hashlib.sha256(storage.stream.read()).digest())
        storage.stream.seek(pos)
    if request.is_json:
        digest.update(request.get_data())
    return digest.hexdigest()


def _key_from_request() -> str | None:
    key = request.form.get(FIELD) or request.headers.get(HEADER)
    if not key:
        return None
    key = key.strip()
    if not (8 <= len(key) <= 64) or not all(c.isalnum() or c in "-_" for c in key):
        return ""
    return key


def _replay(row: IdempotencyKey):
    resp = make_response(row.body or "", row.status_code or 200)
    if row.location:
        resp.headers["Location"] = row.location
    if row.content_type:
        resp.headers["Content-Type"] = row.content_type
    resp.headers["Idempotent-Replayed"] = "true"
    return resp


def _mismatch():
    from .web import error_response
    return error_response(422, _("This form was already sent with different content. Reload the page and try again."))


def _wait_for(key: str, owner: str, endpoint: str, digest: str):
    """Another request holds the key: wait for its outcome and replay it."""
    deadline = time.monotonic() + 15
    while True:
        db.session.rollback()
        row = db.session.get(IdempotencyKey, key)
        if row is None:
            return None  # the other attempt rolled back: we may try ourselves
        if row.owner != owner or row.endpoint != endpoint:
            abort(422)
        if row.payload_hash != digest:
            return _mismatch()
        if row.status_code is not None:
            return _replay(row)
        if time.monotonic() > deadline:
            abort(409)
        time.sleep(0.05)


def idempotent(view):
    """Decorator for create routes (POST): same key -> same response, recorded once."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if request.method != "POST":
            return view(*args, **kwargs)
        key = _key_from_request()
        if key is None or key == "":
            from .web import error_response
            return error_response(400, _("This form is missing its one-time key. Reload the page and send it again."))
        owner, endpoint, digest = _owner(), request.endpoint, payload_hash()
        for _attempt in range(3):
            existing = db.session.get(IdempotencyKey, key)
            if existing is not None:
                if existing.owner != owner or existing.endpoint != endpoint:
                    abort(422)
                if existing.payload_hash != digest:
                    return _mismatch()
                if existing.status_code is not None:
                    return _replay(existing)
            row = IdempotencyKey(key=key, owner=owner, endpoint=endpoint, payload_hash=digest,
                                 created_at=clock.utcnow_naive())
            db.session.add(row)
            try:
                db.session.flush()
            except IntegrityError:
                db.session.rollback()
                replay = _wait_for(key, owner, endpoint, digest)
                if replay is not None:
                    return replay
                continue
            resp = make_response(view(*args, **kwargs))
            if resp.status_code >= 400:
                # Nothing was created (validation error): forget the key so the corrected form can use it.
                db.session.rollback()
                return resp
            row.status_code = resp.status_code
            row.location = resp.headers.get("Location")
            row.content_type = resp.headers.get("Content-Type")
            if not resp.direct_passthrough and not resp.is_streamed:
                row.body = resp.get_data(as_text=True)
            db.session.commit()
            return resp
        abort(409)
    wrapper._idempotent = True
    return wrapper


def purge(before: datetime | None = None) -> int:
    """Delete keys older than the retention window (run by `flask jobs tick`)."""
    days = current_app.config.get("IDEMPOTENCY_KEY_TTL_DAYS", 7)
    before = before or clock.utcnow_naive() - timedelta(days=days)
    result = db.session.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.created_at < before))
    return result.rowcount or 0
