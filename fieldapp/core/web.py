"""Full page or fragment from the same templates; error pages; security headers. The only reader of HX-* headers."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from flask import current_app, flash, make_response, redirect, render_template, request, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

STATIC = Path(__file__).resolve().parent.parent / "static"

ERROR_TITLES = {
    400: _l("Bad request"), 401: _l("Please log in"), 403: _l("Not allowed"), 404: _l("Not found"),
    405: _l("Method not allowed"), 409: _l("Changed by someone else"), 413: _l("File too large"),
    422: _l("Please check the form"), 429: _l("Too many attempts"), 500: _l("Something went wrong"),
    503: _l("Busy"),
}


def wants_htmx() -> bool:
    """Any htmx request, boosted or not."""
    return request.headers.get("HX-Request") == "true"


def wants_fragment() -> bool:
    """An htmx swap of part of a page; boosted navigations and history restores need the full page."""
    return (request.headers.get("HX-Request") == "true"
            and request.headers.get("HX-Boosted") != "true"
            and request.headers.get("HX-History-Restore-Request") != "true")


def render(page: str, fragment: str | None = None, status: int = 200, **context):
    """The full page, or only `fragment` for an htmx swap; caches key on HX-Request."""
    template = fragment if (fragment and wants_fragment()) else page
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response


def redirect_to(endpoint: str, message: str | None = None, category: str = "ok", **values):
    """Post/Redirect/Get with 303; a non-boosted htmx request gets HX-Redirect on a 200 instead."""
    if message:
        flash(message, category)
    target = url_for(endpoint, **values)
    if wants_fragment():
        response = make_response("", 200)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, 303)


def error_response(status: int, message: str | None = None):
    """An error page in the user's language, never a trace."""
    title = str(ERROR_TITLES.get(status, _l("Error")))
    template = "errors/_error.html" if wants_fragment() else "errors/error.html"
    return make_response(render_template(template, status=status, title=title, message=message), status)


def handle_http_error(exc: HTTPException):
    if exc.code is None or exc.code < 400:
        return exc
    messages = {
        400: _("The request could not be understood. Reload the page and try again."),
        403: _("Your role does not allow this action."),
        404: _("This page does not exist, or it is not in your area."),
        405: _("This address does not accept that kind of request."),
        409: _("Someone else changed this record while you were editing. Reload to see their change."),
        413: _("The upload is too large."),
        422: _("Some of what you entered needs checking."),
        429: _("Too many attempts. Please wait a minute and try again."),
    }
    message = messages.get(exc.code)
    if exc.code == 400 and "CSRF" in (exc.description or ""):
        message = _("The form expired. Reload the page and send it again; nothing was saved.")
    response = error_response(exc.code, message)
    if exc.code == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    if exc.code == 429:
        response.headers["Retry-After"] = "60"
    return response


def is_busy_database(exc: Exception) -> bool:
    """The database could not give this request its lock in time (SQLite's busy timeout, a PostgreSQL lock or
    serialisation conflict): nothing was written, and the same request sent again will do."""
    from sqlalchemy.exc import OperationalError
    if not isinstance(exc, OperationalError):
        return False
    text = str(getattr(exc, "orig", exc)).lower()
    if "database is locked" in text or "database table is locked" in text:
        return True
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return sqlstate in {"40001", "40P01", "55P03"}   # serialization_failure, deadlock_detected, lock_not_available


def handle_exception(exc: Exception):
    if isinstance(exc, HTTPException):
        return handle_http_error(exc)
    if is_busy_database(exc):
        current_app.logger.warning("database busy on %s %s: %s", request.method, request.path, exc)
        try:
            from ..extensions import db
            db.session.rollback()
        except Exception:  # noqa: BLE001 - the answer must still go out
            pass
        # Rendered as to a visitor: loading (or refreshing) the user would wait on the same lock.
        from flask import g

        from ..extensions import login_manager
        g._login_user = login_manager.anonymous_user()
        response = error_response(503, _("The server is busy and saved nothing. Try again in a moment."))
        response.headers["Retry-After"] = "5"
        return response
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    try:
        from ..extensions import db
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the error page must still render
        pass
    return error_response(500, _("The server hit an error. Nothing was lost: try again in a moment."))


@lru_cache(maxsize=256)
def _file_hash(filename: str) -> str:
    path = STATIC / filename
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.is_file() else "0"


def static_url(filename: str) -> str:
    """A content-hashed static URL: cached for a year, changed whenever the file changes."""
    return url_for("static", filename=filename, v=_file_hash(filename))


# Static text files are compressed once per process at the strongest settings (brotli 11, gzip 9) and kept, our own
# scripts minified first (rjsmin): they never change while the app runs, and a phone's first visit on 3G pays for
# every byte of htmx and the offline outbox. Pages stay with Flask-Compress's fast per-request levels.
STATIC_COMPRESSED_TYPES = {"text/css", "application/javascript", "text/javascript", "image/svg+xml",
                           "application/json"}


@lru_cache(maxsize=64)
def _static_compressed(filename: str, mtime_ns: int, algorithm: str) -> bytes:
    import gzip

    import brotli
    data = (STATIC / filename).read_bytes()
    if filename.endswith(".js") and not filename.endswith(".min.js"):
        import rjsmin   # our scripts are written to be read: comments and indentation stay in the source
        data = rjsmin.jsmin(data)
    if algorithm == "br":
        return brotli.compress(data, quality=11)
    return gzip.compress(data, compresslevel=9, mtime=0)


def compress_static(response):
    """Send a static text file precompressed (see _static_compressed), with a validator per encoding."""
    if (request.endpoint != "static" or response.status_code != 200 or "Content-Encoding" in response.headers
            or response.mimetype not in STATIC_COMPRESSED_TYPES):
        return response
    algorithm = request.accept_encodings.best_match(("br", "gzip"))
    filename = (request.view_args or {}).get("filename", "")
    path = (STATIC / filename).resolve()
    if algorithm is None or not path.is_file() or STATIC.resolve() not in path.parents:
        return response
    body = _static_compressed(path.relative_to(STATIC.resolve()).as_posix(), path.stat().st_mtime_ns, algorithm)
    etag, _weak = response.get_etag()
    response.direct_passthrough = False
    response.set_data(body)
    response.headers["Content-Encoding"] = algorithm
    response.vary.add("Accept-Encoding")
    if etag:
        response.set_etag(f"{etag}:{algorithm}")
    return response.make_conditional(request)


CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
       "frame-ancestors 'none'; manifest-src 'self'; worker-src 'self'")


# CSS and JavaScript files are fetched on every cold page: headers that only mean something on a document (CSP,
# framing, referrer, permissions, opener), a download name and a second expiry header are left off them (about
# 600 bytes a file).
SUBRESOURCE_TYPES = {"text/css", "application/javascript", "text/javascript"}


def security_headers(response):
    """Strict CSP (no inline script or style) and the usual hardening headers."""
    headers = response.headers
    if request.endpoint == "static" and response.mimetype in SUBRESOURCE_TYPES:
        headers.setdefault("X-Content-Type-Options", "nosniff")
        for name in ("Content-Disposition", "Expires"):
            headers.pop(name, None)
        if request.args.get("v"):
            response.cache_control.max_age = 31536000
            response.cache_control.public = True
            response.cache_control.immutable = True
            headers.pop("Last-Modified", None)   # hashed and immutable: the ETag is validator enough
        return response
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "geolocation=(self), camera=(self), microphone=()")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if request.endpoint == "static":
        if request.args.get("v"):
            response.cache_control.max_age = 31536000
            response.cache_control.public = True
            response.cache_control.immutable = True
    elif response.mimetype == "text/html":
        response.cache_control.no_store = True
        response.cache_control.private = True
    return response


class SessionInterface(SecureCookieSessionInterface):
    """The signed-cookie session, except that static files are not marked `Vary: Cookie`: they never depend on
    the session (Flask-Login looks at it after every request, which would otherwise split shared caches)."""

    def save_session(self, app, session, response):
        if request.endpoint == "static" and not session.modified:
            session.accessed = False
        return super().save_session(app, session, response)
