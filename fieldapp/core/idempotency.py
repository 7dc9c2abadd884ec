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
import hmac
import json
import secrets
import time
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app, make_response, request, session
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from . import clock

FIELD = "idem_key"
HEADER = "Idempotency-Key"
IGNORED_FIELDS = {FIELD, "csrf_token"}
WAIT_SECONDS = 15  # how long a copy waits for the first one's outcome


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


def owner() -> str:
    """Who a key belongs to: the user, or this browser's anonymous session (created here, so a public form rendered
    before the first submit already fixes the owner a double tap will share)."""
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    if "anon_id" not in session:
        session["anon_id"] = secrets.token_hex(8)
    return f"anon:{session['anon_id']}"


def payload_hash() -> str:
    """Keyed hash of the submitted fields and files, ignoring the key and the CSRF token.

    Keyed with SECRET_KEY: a create form may carry a password, and a plain digest stored for days would let
    anyone who reads the table test guesses against it.
    """
    digest = hmac.new(current_app.config["SECRET_KEY"].encode(), digestmod=hashlib.sha256)
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
    """The submitted key; None when absent, "" when malformed."""
    key = request.form.get(FIELD) or request.headers.get(HEADER)
    if not key:
        return None
    key = key.strip()
    if not (8 <= len(key) <= 64) or not all(c.isascii() and (c.isalnum() or c in "-_") for c in key):
        return ""
    return key


def _redirect_target(resp) -> str | None:
    """Where a successful create sends the browser: Location, or HX-Redirect for an htmx form."""
    if 300 <= resp.status_code < 400 and resp.headers.get("Location"):
        return resp.headers["Location"]
    return resp.headers.get("HX-Redirect")


def _replay(row: IdempotencyKey):
    """The first outcome again, in the form this request understands (a 303, or HX-Redirect for htmx)."""
    from .web import wants_fragment
    if row.location:
        if wants_fragment():
            resp = make_response("", 200)
            resp.headers["HX-Redirect"] = row.location
        else:
            status = row.status_code if 300 <= (row.status_code or 0) < 400 else 303
            resp = make_response(row.body or "", status)
            resp.headers["Location"] = row.location
            if row.content_type:
                resp.headers["Content-Type"] = row.content_type
    else:
        resp = make_response(row.body or "", row.status_code or 200)
        if row.content_type:
            resp.headers["Content-Type"] = row.content_type
    resp.headers["Idempotent-Replayed"] = "true"
    return resp


def _error(status: int, message: str):
    from .web import error_response
    return error_response(status, message)


def _mismatch():
    return _error(422, _("This form was already sent with different content. Reload the page and try again."))


def _foreign():
    # Another user's (or another form's) key: say nothing about what it created.
    return _error(422, _("This form cannot be sent again. Reload the page and try again."))


def _outcome(row: IdempotencyKey, owner: str, endpoint: str, digest: str):
    """What an existing key row means for this request: a response, or None while its request is still running."""
    if row.owner != owner or row.endpoint != endpoint:
        return _foreign()
    if not hmac.compare_digest(row.payload_hash, digest):
        return _mismatch()
    if row.status_code is not None:
        return _replay(row)
    return None


def _wait_for(key: str, owner: str, endpoint: str, digest: str):
    """Another request holds the key: wait for its outcome and replay it (None: it gave the key back)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        db.session.rollback()
        row = db.session.get(IdempotencyKey, key, populate_existing=True)
        if row is None:
            return None  # the other attempt rolled back: we may try ourselves
        outcome = _outcome(row, owner, endpoint, digest)
        if outcome is not None:
            return outcome
        db.session.rollback()  # hold no lock while waiting (on SQLite this transaction holds the write lock)
        if time.monotonic() > deadline:
            return _error(409, _("This form is still being processed. Wait a moment, then reload the page."))
        time.sleep(0.05)


def idempotent(view):
    """Decorator for create routes (POST): same key -> same response, recorded once.

    The view must not commit: the key row and what the view creates commit together here. A response of 400 or
    more rolls everything back and leaves the key unused, so the corrected form can be sent with it.
    """
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if request.method != "POST":
            return view(*args, **kwargs)
        key = _key_from_request()
        if not key:
            return _error(400, _("This form is missing its one-time key. Reload the page and send it again."))
        who, endpoint, digest = owner(), request.endpoint, payload_hash()
        for _attempt in range(3):
            existing = db.session.get(IdempotencyKey, key, populate_existing=True)
            if existing is not None:
                outcome = _outcome(existing, who, endpoint, digest)
                if outcome is None:
                    # Its request committed the key before finishing (a view that commits): wait for it.
                    outcome = _wait_for(key, who, endpoint, digest)
                if outcome is not None:
                    return outcome
                continue
            row = IdempotencyKey(key=key, owner=who, endpoint=endpoint, payload_hash=digest,
                                 created_at=clock.utcnow_naive())
            db.session.add(row)
            try:
                # The unique key serialises concurrent copies: on PostgreSQL this INSERT waits for the first
                # copy's transaction and fails once it commits; on SQLite writers already queue (BEGIN IMMEDIATE).
                db.session.flush()
            except IntegrityError:
                db.session.rollback()
                outcome = _wait_for(key, who, endpoint, digest)
                if outcome is not None:
                    return outcome
                continue
            try:
                resp = make_response(view(*args, **kwargs))
            except BaseException:
                db.session.rollback()  # nothing was created: the key stays free
                raise
            if resp.status_code >= 400:
                # Nothing was created (validation error, conflict): forget the key so the corrected form can use it.
                db.session.rollback()
                return resp
            if row not in db.session:
                db.session.add(row)  # the view rolled back and started again
            target = _redirect_target(resp)
            row.status_code = resp.status_code if target is None or 300 <= resp.status_code < 400 else 303
            row.location = target[:500] if target else None
            row.content_type = resp.headers.get("Content-Type")
            if not resp.direct_passthrough and not resp.is_streamed:
                row.body = resp.get_data(as_text=True)
            db.session.commit()
            return resp
        db.session.rollback()
        return _error(409, _("This form is still being processed. Wait a moment, then reload the page."))
    wrapper._idempotent = True
    return wrapper


def purge(before: datetime | None = None) -> int:
    """Delete keys older than the retention window (run by `flask jobs tick`)."""
    days = current_app.config.get("IDEMPOTENCY_KEY_TTL_DAYS", 7)
    before = before or clock.utcnow_naive() - timedelta(days=days)
    result = db.session.execute(sa.delete(IdempotencyKey).where(IdempotencyKey.created_at < before))
    return result.rowcount or 0
